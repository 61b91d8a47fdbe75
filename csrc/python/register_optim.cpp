// Bindings for csrc/optim/ kernels.
#include "python/convert.hpp"

namespace pyssl::bind {

void register_optim(py::module_& m) { (void)m; }

}  // namespace pyssl::bind
