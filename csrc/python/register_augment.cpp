// Bindings for csrc/augment/ kernels.
#include "python/convert.hpp"

namespace pyssl::bind {

void register_augment(py::module_& m) { (void)m; }

}  // namespace pyssl::bind
