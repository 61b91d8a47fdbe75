// Bindings for the time-series SSL losses (csrc/loss/ts2vec.*, tloss.*, tstcc.*; toolkit:
// python/bind_toolkit.hpp), registered into the `losses` submodule: validate shapes and scalars,
// allocate outputs and the kernel's own workspace, release the GIL, return (loss, grads).
#include <string>

#include "loss/tloss.hpp"
#include "loss/ts2vec.hpp"
#include "loss/tstcc.hpp"
#include "python/bind_toolkit.hpp"

namespace pyssl::bind {

namespace {

template <class T>
py::tuple ts2vec_loss(const py::array& z1_, const py::array& z2_, double alpha, index_t temporal_unit) {
  auto z1 = arg_nd<T>(z1_, "z1", 3);
  const index_t b = z1.dim(0), t = z1.dim(1), c = z1.dim(2);
  if (b < 1 || t < 1 || c < 1) fail("z1 must be a non-empty (B, T, C) array, got ", describe(z1_));
  auto z2 = arg<T>(z2_, "z2", z1.shape(), "z2 (must match z1)");
  in_unit(alpha, "alpha");
  if (temporal_unit < 0) fail("temporal_unit must be >= 0, got ", temporal_unit);
  auto d1 = out<T>({b, t, c});
  auto d2 = out<T>({b, t, c});
  Workspace ws(loss::ts2vec_hierarchical_workspace<T>(b, t, c));
  const double l = nogil([&] {
    return loss::ts2vec_hierarchical<T>(z1, z2, b, t, c, alpha, temporal_unit, d1, d2, ws);
  });
  return py::make_tuple(l, d1.array(), d2.array());
}

template <class T>
py::tuple tloss(const py::array& z_, const py::array& p_, const py::array& n_) {
  auto z = arg_nd<T>(z_, "z", 2);
  const index_t b = z.dim(0), d = z.dim(1);
  if (b < 1 || d < 1) fail("z must be a non-empty (B, D) array, got ", describe(z_));
  auto p = arg<T>(p_, "positive", z.shape(), "positive (must match z)");
  auto n = arg_nd<T>(n_, "negatives", 3);
  const index_t k = n.dim(0);
  if (k < 1) fail("negatives must hold at least one negative per anchor (K >= 1), got ", describe(n_));
  n = arg<T>(n_, "negatives", {k, b, d}, "negatives (K, B, D) with z's (B, D)");
  auto dz = out<T>({b, d});
  auto dp = out<T>({b, d});
  auto dn = out<T>({k, b, d});
  Workspace ws(loss::tloss_triplet_workspace<T>(b));
  const double l = nogil([&] { return loss::tloss_triplet<T>(z, p, n, b, k, d, dz, dp, dn, ws); });
  return py::make_tuple(l, dz.array(), dp.array(), dn.array());
}

template <class T>
py::tuple tstcc(const py::array& z_, const py::array& p_) {
  auto z = arg_nd<T>(z_, "z", 3);
  const index_t k = z.dim(0), b = z.dim(1), d = z.dim(2);
  if (k < 1 || b < 1 || d < 1) fail("z must be a non-empty (K, B, D) array, got ", describe(z_));
  auto p = arg<T>(p_, "predictions", z.shape(), "predictions (must match z)");
  auto dz = out<T>({k, b, d});
  auto dp = out<T>({k, b, d});
  Workspace ws(loss::tstcc_temporal_workspace<T>(k, b));
  const double l = nogil([&] { return loss::tstcc_temporal<T>(z, p, k, b, d, dz, dp, ws); });
  return py::make_tuple(l, dz.array(), dp.array());
}

}  // namespace

void register_timeseries(py::module_& m) {
  m.def("ts2vec_hierarchical", by_dtype(PYSSL_FLOATS(ts2vec_loss), "z1"), py::arg("z1"), py::arg("z2"),
        py::arg("alpha") = 0.5, py::arg("temporal_unit") = 0,
        "loss, dz1, dz2 = TS2Vec hierarchical contrastive loss of z1, z2 (B, T, C) (Yue et al., AAAI 2022).");
  m.def("tloss_triplet", by_dtype(PYSSL_FLOATS(tloss), "z"), py::arg("z"), py::arg("positive"),
        py::arg("negatives"),
        "loss, dz, dpositive, dnegatives = T-Loss triplet loss of anchors z (B, D), positives (B, D) and "
        "negatives (K, B, D) (Franceschi et al., NeurIPS 2019).");
  m.def("tstcc_temporal", by_dtype(PYSSL_FLOATS(tstcc), "z"), py::arg("z"), py::arg("predictions"),
        "loss, dz, dpredictions = TS-TCC temporal contrasting loss of future latents z (K, B, D) and their "
        "predictions (K, B, D) (Eldele et al., IJCAI 2021).");
}

}  // namespace pyssl::bind
