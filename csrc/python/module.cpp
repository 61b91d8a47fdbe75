// pyssl._core: table of contents. Each area registers its functions from its own file.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace pyssl::bind {
void register_runtime(py::module_& m);
void register_nn(py::module_& m);
void register_conv(py::module_& m);
void register_normalize(py::module_& m);
void register_optim(py::module_& m);
void register_losses(py::module_& m);
void register_augment(py::module_& m);
void register_cuda(py::module_& m);
void register_embedding(py::module_& m);
void register_table_augment(py::module_& m);
void register_precision(py::module_& m);
void register_resnet(py::module_& m);
void register_conv_engine(py::module_& m);
void register_attention(py::module_& m);
void register_timeseries(py::module_& m);
}  // namespace pyssl::bind

PYBIND11_MODULE(_core, m) {
  m.doc() = "pyssl C++ kernels (float32 / float64, GIL released). Use the pyssl package, not this module.";
  m.attr("__version__") = PYSSL_VERSION;
  pyssl::bind::register_runtime(m);
  auto nn = m.def_submodule("nn", "layer kernels");
  pyssl::bind::register_nn(nn);
  pyssl::bind::register_conv(nn);
  pyssl::bind::register_normalize(nn);
  pyssl::bind::register_embedding(nn);
  pyssl::bind::register_precision(nn);
  pyssl::bind::register_resnet(nn);
  pyssl::bind::register_conv_engine(nn);
  pyssl::bind::register_attention(nn);
  auto optim = m.def_submodule("optim", "fused optimizer updates");
  pyssl::bind::register_optim(optim);
  auto losses = m.def_submodule("losses", "fused SSL loss forward + backward");
  pyssl::bind::register_losses(losses);
  pyssl::bind::register_timeseries(losses);
  auto augment = m.def_submodule("augment", "pretext augmentations");
  pyssl::bind::register_augment(augment);
  pyssl::bind::register_table_augment(augment);
  auto cuda = m.def_submodule("cuda", "CUDA backend (empty functions raise when built without CUDA)");
  pyssl::bind::register_cuda(cuda);
}
