// Bindings for row L2 normalisation (csrc/loss/rows.hpp: the kernels the SSL losses use), exposed
// to the layer API as pyssl.nn.L2Normalize / pyssl.nn.l2_normalize.
#include "loss/rows.hpp"
#include "python/bind_toolkit.hpp"

namespace pyssl::bind {

namespace {

// Returns (zhat, norm): zhat_i = z_i / max(|z_i|, 1e-12), norm_i = |z_i|.
template <class T>
py::tuple l2_normalize_forward(const py::array& z_) {
  auto z = arg_nd<T>(z_, "z", 2);
  const index_t n = z.dim(0), d = z.dim(1);
  auto zhat = out<T>({n, d}), norm = out<T>({n});
  nogil([&] { loss::normalize_rows<T>(z, zhat, norm, n, d); });
  return py::make_tuple(zhat.array(), norm.array());
}

template <class T>
py::array l2_normalize_backward(const py::array& zhat_, const py::array& norm_, const py::array& g_) {
  auto zhat = arg_nd<T>(zhat_, "zhat", 2);
  const index_t n = zhat.dim(0), d = zhat.dim(1);
  auto norm = arg<T>(norm_, "norm", {n});
  auto g = arg<T>(g_, "grad_output", {n, d});
  auto dz = out<T>({n, d});
  nogil([&] { loss::normalize_rows_backward<T>(zhat, norm, g, dz, n, d); });
  return dz.array();
}

}  // namespace

void register_normalize(py::module_& m) {
  m.def("l2_normalize_forward", by_dtype(PYSSL_FLOATS(l2_normalize_forward), "z"), py::arg("z"),
        "(zhat, norm) with zhat_i = z_i / max(|z_i|, 1e-12); z (N, D).");
  m.def("l2_normalize_backward", by_dtype(PYSSL_FLOATS(l2_normalize_backward), "zhat"), py::arg("zhat"), py::arg("norm"), py::arg("grad_output"),
        "dz_i = (g_i − zhat_i <zhat_i, g_i>) / |z_i|.");
}

}  // namespace pyssl::bind
