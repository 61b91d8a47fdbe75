// Bindings for row L2 normalisation (csrc/loss/rows.hpp: the kernels the SSL losses use), exposed
// to the layer API as pyssl.nn.L2Normalize / pyssl.nn.l2_normalize.
#include "loss/rows.hpp"
#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

// Returns (zhat, norm): zhat_i = z_i / max(|z_i|, 1e-12), norm_i = |z_i|.
py::tuple l2_normalize_forward(const py::array& z) {
  return dispatch_float(z, "z", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pz = in<T>(z, "z", 2);
    const index_t n = dim(z, 0), d = dim(z, 1);
    auto zhat = empty<T>({n, d});
    auto norm = empty<T>({n});
    T *ph = zhat.mutable_data(), *pn = norm.mutable_data();
    {
      py::gil_scoped_release nogil;
      loss::normalize_rows<T>(pz, ph, pn, n, d);
    }
    return py::make_tuple(std::move(zhat), std::move(norm));
  });
}

py::array l2_normalize_backward(const py::array& zhat, const py::array& norm, const py::array& g) {
  return dispatch_float(zhat, "zhat", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* ph = in<T>(zhat, "zhat", 2);
    const index_t n = dim(zhat, 0), d = dim(zhat, 1);
    const T* pn = in<T>(norm, "norm", 1);
    check_shape(norm, {n}, "norm");
    const T* pg = in<T>(g, "grad_output", 2);
    check_shape(g, {n, d}, "grad_output");
    auto dz = empty<T>({n, d});
    T* pd = dz.mutable_data();
    {
      py::gil_scoped_release nogil;
      loss::normalize_rows_backward<T>(ph, pn, pg, pd, n, d);
    }
    return std::move(dz);
  });
}

}  // namespace

void register_normalize(py::module_& m) {
  m.def("l2_normalize_forward", &l2_normalize_forward, py::arg("z"),
        "(zhat, norm) with zhat_i = z_i / max(|z_i|, 1e-12); z (N, D).");
  m.def("l2_normalize_backward", &l2_normalize_backward, py::arg("zhat"), py::arg("norm"), py::arg("grad_output"),
        "dz_i = (g_i − zhat_i <zhat_i, g_i>) / |z_i|.");
}

}  // namespace pyssl::bind
