// Bindings for the time-series SSL losses (csrc/loss/ts2vec.*), registered into the `losses`
// submodule.
#include "loss/tloss.hpp"
#include "loss/ts2vec.hpp"
#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

py::tuple ts2vec_loss(const py::array& z1, const py::array& z2, double alpha, index_t temporal_unit) {
  return dispatch_float(z1, "z1", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* p1 = in<T>(z1, "z1", 3);
    const T* p2 = in<T>(z2, "z2", 3);
    const index_t b = dim(z1, 0), t = dim(z1, 1), c = dim(z1, 2);
    check_shape(z2, {b, t, c}, "z2");
    auto d1 = empty<T>({b, t, c});
    auto d2 = empty<T>({b, t, c});
    T *o1 = d1.mutable_data(), *o2 = d2.mutable_data();
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::ts2vec_hierarchical<T>(p1, p2, b, t, c, alpha, temporal_unit, o1, o2);
    }
    return py::make_tuple(loss, std::move(d1), std::move(d2));
  });
}

py::tuple tloss(const py::array& z, const py::array& p, const py::array& n) {
  return dispatch_float(z, "z", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pz = in<T>(z, "z", 2);
    const T* pp = in<T>(p, "positive", 2);
    const T* pn = in<T>(n, "negatives", 3);
    const index_t b = dim(z, 0), d = dim(z, 1), k = dim(n, 0);
    check_shape(p, {b, d}, "positive");
    check_shape(n, {k, b, d}, "negatives");
    auto dz = empty<T>({b, d});
    auto dp = empty<T>({b, d});
    auto dn = empty<T>({k, b, d});
    T *oz = dz.mutable_data(), *op = dp.mutable_data(), *on = dn.mutable_data();
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::tloss_triplet<T>(pz, pp, pn, b, k, d, oz, op, on);
    }
    return py::make_tuple(loss, std::move(dz), std::move(dp), std::move(dn));
  });
}

}  // namespace

void register_timeseries(py::module_& m) {
  m.def("ts2vec_hierarchical", &ts2vec_loss, py::arg("z1"), py::arg("z2"), py::arg("alpha") = 0.5,
        py::arg("temporal_unit") = 0,
        "loss, dz1, dz2 = TS2Vec hierarchical contrastive loss of z1, z2 (B, T, C) (Yue et al., AAAI 2022).");
  m.def("tloss_triplet", &tloss, py::arg("z"), py::arg("positive"), py::arg("negatives"),
        "loss, dz, dpositive, dnegatives = T-Loss triplet loss of anchors z (B, D), positives (B, D) and "
        "negatives (K, B, D) (Franceschi et al., NeurIPS 2019).");
}

}  // namespace pyssl::bind
