// Thin, typed access to the linked BLAS (scipy-openblas32: symbols carry a `scipy_` prefix).
#pragma once
#include <cstdint>

namespace pyssl::blas {

enum class Trans { No, Yes };

// C = alpha * op(A) @ op(B) + beta * C, row-major. op(A) is (m, k), op(B) is (k, n), C is (m, n).
// lda/ldb/ldc are row strides in elements. Dimensions must fit in a 32-bit int (LP64 BLAS).
template <class T>
void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

// The arguments of one gemm call.
template <class T>
struct GemmCall {
  Trans ta, tb;
  std::int64_t m, n, k;
  T alpha;
  const T* a;
  std::int64_t lda;
  const T* b;
  std::int64_t ldb;
  T beta;
  T* c;
  std::int64_t ldc;
};
template <class T>
void gemm(const GemmCall<T>& g);

// Two independent products (no output overlaps the other's operands), computed side by side on
// pyssl's team: a backward pass's dX = dY Wᵀ and dW = Xᵀ dY. Each is cut into half the slices it
// would get alone (by shape and core count only, so the result is the same on any thread count).
template <class T>
void gemm_pair(const GemmCall<T>& p, const GemmCall<T>& q);

void set_threads(int n);
int get_threads();
const char* config();
const char* corename();

}  // namespace pyssl::blas

// Mixed-precision GEMM (oneDNN matmul, when pyssl is built with it):
//   C = op(A) @ op(B)            (accumulate = false)
//   C = C + op(A) @ op(B)        (accumulate = true)
// A and B in bfloat16 (pyssl::bf16_t storage), products summed in float32, C float32. Row-major,
// strides as in gemm. oneDNN runs it on the AVX512-BF16 or AMX-BF16 units when the CPU has them
// (oneDNN's AVX-512 emulation on AVX-512 CPUs without them). Where oneDNN has no bf16 matmul for
// the CPU (x86 without AVX-512: AMD Zen 1-3, Intel before Skylake-SP), A and B are widened to
// float32 (exact) and multiplied by the float32 gemm above: the same products, float32 sums in
// another order, no speed-up. Primitives are cached per shape and layout; a product repeats bit for
// bit at a fixed thread count.
#include <cstdint>
namespace pyssl::blas {
bool has_bf16_gemm();
// True when oneDNN runs bf16 products on this CPU (false: the float32 emulation, or no oneDNN).
bool bf16_native();
// The oneDNN implementation chosen for the most recently created primitive (e.g.
// "brg:avx512_core_bf16", "brg:avx512_core_amx"), or "" before the first call / without oneDNN.
const char* bf16_gemm_impl();
void gemm_bf16(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, const std::uint16_t* a,
               std::int64_t lda, const std::uint16_t* b, std::int64_t ldb, bool accumulate, float* c,
               std::int64_t ldc);
}  // namespace pyssl::blas
