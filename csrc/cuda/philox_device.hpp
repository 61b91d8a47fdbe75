// Device access to pyssl's one Philox4x32-10 implementation: csrc/random/philox.hpp is
// __host__ __device__ under nvcc, so device masks use exactly the CPU's (seed, stream, index)
// semantics. tests/test_cuda_runtime.py and the GPU parity tests check this.
#pragma once
#include "random/philox.hpp"

namespace pyssl::cuda::rng {
using pyssl::rng::Block;
using pyssl::rng::philox;
using pyssl::rng::Stream;
using pyssl::rng::to_unit_float;
}  // namespace pyssl::cuda::rng
