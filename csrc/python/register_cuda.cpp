// Bindings for the optional CUDA backend (csrc/cuda/). Built without CUDA, the submodule only
// reports that the backend is absent.
#include "python/convert.hpp"

namespace pyssl::bind {

void register_cuda(py::module_& m) {
#ifdef PYSSL_WITH_CUDA
  m.attr("compiled") = true;
#else
  m.attr("compiled") = false;
#endif
}

}  // namespace pyssl::bind
