// Bindings for csrc/loss/ kernels.
#include "python/convert.hpp"

namespace pyssl::bind {

void register_losses(py::module_& m) { (void)m; }

}  // namespace pyssl::bind
