// Bindings for csrc/loss/ kernels (toolkit: python/bind_toolkit.hpp): validate shapes and
// scalars, allocate outputs and the kernel's own workspace, release the GIL, return (loss, grads).
#include <string>

#include "loss/barlow_twins.hpp"
#include "loss/contrastive.hpp"
#include "loss/dino.hpp"
#include "loss/masked.hpp"
#include "loss/negative_cosine.hpp"
#include "loss/swav.hpp"
#include "loss/vicreg.hpp"
#include "python/bind_toolkit.hpp"

namespace pyssl::bind {

namespace {

using i64 = std::int64_t;

// (N, D) batch with at least min_rows rows (`why` says what needs them) and one feature.
template <class T>
Array<const T> batch(const py::array& a, const char* name, index_t min_rows, const char* why) {
  auto v = arg_nd<T>(a, name, 2);
  if (v.dim(0) < min_rows) fail(name, " needs at least ", min_rows, " rows (", why, "), got ", describe(a));
  if (v.dim(1) < 1) fail(name, " must have at least one feature, got ", describe(a));
  return v;
}

// Two (N, D) views of one batch (z1/z2, scores1/scores2), validated together, with a gradient
// output for each.
template <class T>
struct ViewPair {
  Array<const T> a, b;
  index_t n, d;
  Out<T> ga, gb;
};

template <class T>
ViewPair<T> view_pair(const py::array& a, const char* na, const py::array& b, const char* nb, index_t min_rows,
                      const char* why) {
  ViewPair<T> v;
  v.a = batch<T>(a, na, min_rows, why);
  v.b = arg<T>(b, nb, v.a.shape(), (std::string(nb) + " (must match " + na + ")").c_str());
  v.n = v.a.dim(0);
  v.d = v.a.dim(1);
  v.ga = out<T>({v.n, v.d});
  v.gb = out<T>({v.n, v.d});
  return v;
}

template <class T>
py::tuple nt_xent(const py::array& z1_, const py::array& z2_, double temperature) {
  auto v = view_pair<T>(z1_, "z1", z2_, "z2", 2, "NT-Xent needs negatives");
  positive(temperature, "temperature");
  Workspace ws(loss::nt_xent_workspace<T>(v.n, v.d));
  const double l = nogil([&] { return loss::nt_xent<T>(v.a, v.b, v.n, v.d, T(temperature), v.ga, v.gb, ws); });
  return py::make_tuple(l, v.ga.array(), v.gb.array());
}

template <class T>
py::tuple sup_con(const py::array& z_, const py::array& labels_, double temperature) {
  auto z = batch<T>(z_, "z", 2, "SupCon needs pairs");
  const index_t n = z.dim(0), d = z.dim(1);
  auto labels = arg<i64>(labels_, "labels", {n});
  positive(temperature, "temperature");
  auto dz = out<T>({n, d});
  Workspace ws(loss::sup_con_workspace<T>(n, d));
  const double l = nogil([&] { return loss::sup_con<T>(z, labels, n, d, T(temperature), dz, ws); });
  return py::make_tuple(l, dz.array());
}

// One shard of SupCon's anchors over R normalised rows (data-parallel training).
template <class T>
py::tuple sup_con_shard(const py::array& zhat_, const py::array& labels_, const py::array& anchors_,
                        double temperature) {
  auto zhat = batch<T>(zhat_, "zhat", 2, "SupCon needs pairs");
  const index_t r = zhat.dim(0), d = zhat.dim(1);
  auto labels = arg<i64>(labels_, "labels", {r});
  auto anchors = arg_nd<i64>(anchors_, "anchors", 1);
  const index_t r_loc = anchors.dim(0);
  positive(temperature, "temperature");
  auto dz = out<T>({r, d});
  Workspace ws(loss::sup_con_shard_workspace<T>(r, d, r_loc));
  double sum = 0, count = 0;
  nogil([&] { loss::sup_con_shard<T>(zhat, labels, r, d, anchors, r_loc, T(temperature), dz, &sum, &count, ws); });
  return py::make_tuple(sum, count, dz.array());
}

template <class T>
py::tuple info_nce(const py::array& q_, const py::array& k_, const py::array& queue_, double temperature) {
  auto q = batch<T>(q_, "q", 0, "");
  auto k = arg<T>(k_, "k", q.shape(), "k (must match q)");
  auto queue = arg_nd<T>(queue_, "queue", 2);
  const index_t n = q.dim(0), d = q.dim(1), m = queue.dim(0);
  if (queue.dim(1) != d) fail("queue must have ", d, " features like q, got ", describe(queue_));
  if (m < 1) fail("queue must hold at least one negative, got ", describe(queue_));
  positive(temperature, "temperature");
  auto dq = out<T>({n, d}), dk = out<T>({n, d});
  Workspace ws(loss::info_nce_workspace<T>(n, m, d));
  const double l = nogil([&] { return loss::info_nce<T>(q, k, queue, n, m, d, T(temperature), dq, dk, ws); });
  return py::make_tuple(l, dq.array(), dk.array());
}

template <class T>
py::tuple negative_cosine(const py::array& p_, const py::array& z_, double shift, double scale) {
  auto p = batch<T>(p_, "p", 1, "the mean needs a sample");
  auto z = arg<T>(z_, "z", p.shape(), "z (must match p)");
  const index_t n = p.dim(0), d = p.dim(1);
  auto dp = out<T>({n, d});
  Workspace ws(loss::negative_cosine_workspace<T>(n));
  const double l = nogil([&] { return loss::negative_cosine<T>(p, z, n, d, T(shift), T(scale), dp, ws); });
  return py::make_tuple(l, dp.array());
}

template <class T>
py::tuple barlow_twins(const py::array& z1_, const py::array& z2_, double lambd, double scale, double eps) {
  auto v = view_pair<T>(z1_, "z1", z2_, "z2", 2, "batch statistics need two samples");
  nonnegative(lambd, "lambd");
  finite(scale, "scale");
  positive(eps, "eps");
  Workspace ws(loss::barlow_twins_workspace<T>(v.n, v.d));
  const double l = nogil(
      [&] { return loss::barlow_twins<T>(v.a, v.b, v.n, v.d, T(lambd), T(scale), T(eps), v.ga, v.gb, ws); });
  return py::make_tuple(l, v.ga.array(), v.gb.array());
}

template <class T>
py::tuple vicreg(const py::array& z1_, const py::array& z2_, double sim_w, double var_w, double cov_w, double eps) {
  auto v = view_pair<T>(z1_, "z1", z2_, "z2", 2, "the unbiased variance needs two samples");
  positive(eps, "eps");
  Workspace ws(loss::vicreg_workspace<T>(v.n, v.d));
  double terms[3];
  const double l = nogil([&] {
    return loss::vicreg<T>(v.a, v.b, v.n, v.d, T(sim_w), T(var_w), T(cov_w), T(eps), v.ga, v.gb, ws, terms);
  });
  return py::make_tuple(l, v.ga.array(), v.gb.array(), py::make_tuple(terms[0], terms[1], terms[2]));
}

void check_sinkhorn_args(double epsilon, int iterations) {
  positive(epsilon, "epsilon");
  if (iterations < 1) fail("iterations must be >= 1, got ", iterations);
}

template <class T>
py::array sinkhorn(const py::array& scores_, double epsilon, int iterations) {
  auto s = batch<T>(scores_, "scores", 1, "one sample at least");
  check_sinkhorn_args(epsilon, iterations);
  const index_t n = s.dim(0), k = s.dim(1);
  auto q = out<T>({n, k});
  Workspace ws(loss::sinkhorn_workspace<T>(n, k));
  nogil([&] { loss::sinkhorn<T>(s, n, k, T(epsilon), iterations, q, ws); });
  return q.array();
}

template <class T>
py::tuple swav(const py::array& s1_, const py::array& s2_, double temperature, double epsilon, int iterations) {
  auto v = view_pair<T>(s1_, "scores1", s2_, "scores2", 1, "one sample at least");
  if (v.d < 2) fail("scores1 needs at least 2 prototypes, got ", describe(s1_));
  positive(temperature, "temperature");
  check_sinkhorn_args(epsilon, iterations);
  Workspace ws(loss::swav_workspace<T>(v.n, v.d));
  const double l = nogil([&] {
    return loss::swav<T>(v.a, v.b, v.n, v.d, T(temperature), T(epsilon), iterations, v.ga, v.gb, ws);
  });
  return py::make_tuple(l, v.ga.array(), v.gb.array());
}

template <class T>
py::tuple dino(const py::array& student_, const py::array& teacher_, const py::array& center_, double student_temp,
               double teacher_temp) {
  auto student = arg_nd<T>(student_, "student", 3);
  const index_t vs = student.dim(0), n = student.dim(1), k = student.dim(2);
  auto teacher = arg_nd<T>(teacher_, "teacher", 3);
  const index_t vt = teacher.dim(0);
  if (teacher.dim(1) != n || teacher.dim(2) != k)
    fail("teacher must have shape (Vt, ", n, ", ", k, ") like student ", describe(student_), ", got ",
         describe(teacher_));
  if (vs < 2) fail("student needs at least 2 views (pairs of the same view are skipped), got ", describe(student_));
  if (vt < 1 || vt > vs) fail("teacher must have between 1 and Vs = ", vs, " views, got ", describe(teacher_));
  if (n < 1 || k < 1) fail("student must not be empty, got ", describe(student_));
  auto center = arg<T>(center_, "center", {k});
  positive(student_temp, "student_temp");
  positive(teacher_temp, "teacher_temp");
  auto ds = out<T>({vs, n, k});
  Workspace ws(loss::dino_workspace<T>(vs, vt, n, k));
  const double l = nogil([&] {
    return loss::dino<T>(student, teacher, center, vs, vt, n, k, T(student_temp), T(teacher_temp), ds, ws);
  });
  return py::make_tuple(l, ds.array());
}

template <class T>
void dino_update_center(py::array& center_, const py::array& teacher_, double momentum) {
  auto center = inplace_nd<T>(center_, "center", 1);
  const index_t k = center.dim(0);
  auto teacher = arg_nd<T>(teacher_, "teacher", 3);
  if (teacher.dim(2) != k) fail("teacher must have ", k, " outputs like center, got ", describe(teacher_));
  in_unit(momentum, "momentum");
  const index_t rows = teacher.dim(0) * teacher.dim(1);
  if (rows < 1) fail("teacher must not be empty, got ", describe(teacher_));
  nogil([&] { loss::dino_update_center<T>(center, teacher, rows, k, T(momentum)); });
}

// Any rank >= 1, not empty; rows of the last axis.
template <class T>
Array<const T> elements(const py::array& a, const char* name) {
  auto v = arg_nd<T>(a, name);
  if (a.ndim() < 1 || a.size() == 0) fail(name, " must not be empty, got ", describe(a));
  return v;
}

template <class T>
py::tuple masked_mse(const py::array& pred_, const py::array& target_, const py::array& mask_) {
  auto pred = elements<T>(pred_, "pred");
  const Shape shape = pred.shape();
  auto target = arg<T>(target_, "target", shape, "target (must match pred)");
  auto mask = arg_nd<T>(mask_, "mask");
  index_t mcols = pred.last();
  if (mask.ndim() == pred.ndim() - 1) {
    check_shape(mask_, Shape(shape.begin(), shape.end() - 1),
                "mask (per-row mask: pred's shape without the last axis)");
    mcols = 1;
  } else {
    check_shape(mask_, shape, "mask (must match pred, or pred's shape without the last axis)");
  }
  const index_t rows = pred.rows(), cols = pred.last();
  auto dp = out<T>(shape);
  Workspace ws(loss::masked_mse_workspace<T>(rows));
  const double l = nogil([&] { return loss::masked_mse<T>(pred, target, mask, rows, cols, mcols, dp, ws); });
  return py::make_tuple(l, dp.array());
}

template <class T>
py::tuple mask_bce(const py::array& logits_, const py::array& mask_) {
  auto logits = elements<T>(logits_, "logits");
  auto mask = arg<T>(mask_, "mask", logits.shape(), "mask (must match logits)");
  const index_t rows = logits.rows(), cols = logits.last();
  auto dx = out<T>(logits.shape());
  Workspace ws(loss::mask_bce_workspace<T>(rows));
  const double l = nogil([&] { return loss::mask_bce<T>(logits, mask, rows, cols, dx, ws); });
  return py::make_tuple(l, dx.array());
}

}  // namespace

void register_losses(py::module_& m) {
  m.def("nt_xent", by_dtype(PYSSL_FLOATS(nt_xent), "z1"), py::arg("z1"), py::arg("z2"), py::arg("temperature"));
  m.def("sup_con", by_dtype(PYSSL_FLOATS(sup_con), "z"), py::arg("z"), py::arg("labels"), py::arg("temperature"));
  m.def("sup_con_shard", by_dtype(PYSSL_FLOATS(sup_con_shard), "zhat"), py::arg("zhat"), py::arg("labels"),
        py::arg("anchors"), py::arg("temperature"),
        "SupCon over the anchors `anchors` of normalised rows zhat (R, d) with labels (R,): returns "
        "(sum of the anchors' losses, number of anchors with a positive, unscaled dzhat part (R, d)).");
  m.def("info_nce", by_dtype(PYSSL_FLOATS(info_nce), "q"), py::arg("q"), py::arg("k"), py::arg("queue"),
        py::arg("temperature"));
  m.def("negative_cosine", by_dtype(PYSSL_FLOATS(negative_cosine), "p"), py::arg("p"), py::arg("z"),
        py::arg("shift"), py::arg("scale"));
  m.def("barlow_twins", by_dtype(PYSSL_FLOATS(barlow_twins), "z1"), py::arg("z1"), py::arg("z2"), py::arg("lambd"),
        py::arg("scale"), py::arg("eps"));
  m.def("vicreg", by_dtype(PYSSL_FLOATS(vicreg), "z1"), py::arg("z1"), py::arg("z2"), py::arg("sim_weight"),
        py::arg("var_weight"), py::arg("cov_weight"), py::arg("eps"),
        "Returns (loss, dz1, dz2, (invariance, variance, covariance)).");
  m.def("sinkhorn", by_dtype(PYSSL_FLOATS(sinkhorn), "scores"), py::arg("scores"), py::arg("epsilon"),
        py::arg("iterations"));
  m.def("swav", by_dtype(PYSSL_FLOATS(swav), "scores1"), py::arg("scores1"), py::arg("scores2"),
        py::arg("temperature"), py::arg("epsilon"), py::arg("iterations"));
  m.def("dino", by_dtype(PYSSL_FLOATS(dino), "student"), py::arg("student"), py::arg("teacher"), py::arg("center"),
        py::arg("student_temp"), py::arg("teacher_temp"));
  m.def("dino_update_center", by_dtype(PYSSL_FLOATS(dino_update_center), "center"), py::arg("center").noconvert(),
        py::arg("teacher"), py::arg("momentum"),
        "center <- momentum * center + (1 - momentum) * mean(teacher rows), in place.");
  m.def("masked_mse", by_dtype(PYSSL_FLOATS(masked_mse), "pred"), py::arg("pred"), py::arg("target"),
        py::arg("mask"));
  m.def("mask_bce", by_dtype(PYSSL_FLOATS(mask_bce), "logits"), py::arg("logits"), py::arg("mask"));
}

}  // namespace pyssl::bind
