// Bindings for csrc/loss/ kernels: validate shapes and scalars, allocate outputs and scratch
// with the GIL held, release it around the kernel, return (loss, grads...).
#include <cmath>
#include <memory>
#include <string>

#include "loss/barlow_twins.hpp"
#include "loss/contrastive.hpp"
#include "loss/dino.hpp"
#include "loss/masked.hpp"
#include "loss/negative_cosine.hpp"
#include "loss/swav.hpp"
#include "loss/vicreg.hpp"
#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

// Uninitialised scratch owned by the binding (no zero-fill pass), from the buffer cache
// (csrc/memory/buffer_cache.hpp): a loss called every step with the same shapes reuses memory
// that is already mapped instead of faulting in fresh pages for its similarity matrix.
template <class T>
struct Scratch {
  T* ptr;
  explicit Scratch(index_t n) : ptr(static_cast<T*>(memory::acquire(std::size_t(n > 0 ? n : 1) * sizeof(T)))) {}
  ~Scratch() { memory::release(ptr); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return ptr; }
};

void check_positive(double v, const char* name) {
  if (!(v > 0.0) || !std::isfinite(v)) fail(name, " must be a finite number > 0, got ", v);
}

void check_rows(const py::array& a, index_t min_rows, const char* name, const char* why) {
  if (dim(a, 0) < min_rows) fail(name, " needs at least ", min_rows, " rows (", why, "), got ", describe(a));
}

void check_nonempty_cols(const py::array& a, const char* name) {
  if (a.ndim() >= 1 && dim(a, a.ndim() - 1) < 1) fail(name, " must have at least one feature, got ", describe(a));
}

// Two (N, D) views of one batch (z1/z2, scores1/scores2): validated together, with a gradient
// array allocated for each.
template <class T>
struct ViewPair {
  const T* a;
  const T* b;
  index_t n, d;
  py::array_t<T> ga, gb;
  T* oa;
  T* ob;
};

template <class T>
ViewPair<T> view_pair(const py::array& a, const char* na, const py::array& b, const char* nb, index_t min_rows,
                      const char* why) {
  ViewPair<T> v;
  v.a = in<T>(a, na, 2);
  v.n = dim(a, 0);
  v.d = dim(a, 1);
  v.b = in<T>(b, nb, 2);
  check_shape(b, {v.n, v.d}, (std::string(nb) + " (must match " + na + ")").c_str());
  check_rows(a, min_rows, na, why);
  check_nonempty_cols(a, na);
  v.ga = empty<T>({v.n, v.d});
  v.gb = empty<T>({v.n, v.d});
  v.oa = v.ga.mutable_data();
  v.ob = v.gb.mutable_data();
  return v;
}

py::tuple nt_xent(const py::array& z1, const py::array& z2, double temperature) {
  return dispatch_float(z1, "z1", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    auto v = view_pair<T>(z1, "z1", z2, "z2", 2, "NT-Xent needs negatives");
    const T *p1 = v.a, *p2 = v.b;
    const index_t n = v.n, d = v.d;
    check_positive(temperature, "temperature");
    T *o1 = v.oa, *o2 = v.ob;
    const index_t r = 2 * n;
    Scratch<T> zhat(r * d), norm(r), sim(r * r), partial(r), weight(r), dzhat(r * d);
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::nt_xent<T>(p1, p2, n, d, T(temperature), o1, o2,
                              {zhat.get(), norm.get(), sim.get(), partial.get(), weight.get(), dzhat.get()});
    }
    return py::make_tuple(loss, std::move(v.ga), std::move(v.gb));
  });
}

py::tuple sup_con(const py::array& z, const py::array& labels, double temperature) {
  return dispatch_float(z, "z", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pz = in<T>(z, "z", 2);
    const index_t n = dim(z, 0), d = dim(z, 1);
    check_rows(z, 2, "z", "SupCon needs pairs");
    check_nonempty_cols(z, "z");
    const std::int64_t* pl = in<std::int64_t>(labels, "labels", 1);
    check_shape(labels, {n}, "labels");
    check_positive(temperature, "temperature");
    auto dz = empty<T>({n, d});
    T* o = dz.mutable_data();
    Scratch<T> zhat(n * d), norm(n), sim(n * n), partial(n), weight(n), dzhat(n * d);
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::sup_con<T>(pz, pl, n, d, T(temperature), o,
                              {zhat.get(), norm.get(), sim.get(), partial.get(), weight.get(), dzhat.get()});
    }
    return py::make_tuple(loss, std::move(dz));
  });
}

// One shard of SupCon's anchors over R normalised rows (data-parallel training).
py::tuple sup_con_shard(const py::array& zhat, const py::array& labels, const py::array& anchors,
                        double temperature) {
  return dispatch_float(zhat, "zhat", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pz = in<T>(zhat, "zhat", 2);
    const index_t r = dim(zhat, 0), d = dim(zhat, 1);
    check_rows(zhat, 2, "zhat", "SupCon needs pairs");
    check_nonempty_cols(zhat, "zhat");
    const std::int64_t* pl = in<std::int64_t>(labels, "labels", 1);
    check_shape(labels, {r}, "labels");
    const std::int64_t* pa = in<std::int64_t>(anchors, "anchors", 1);
    const index_t r_loc = dim(anchors, 0);
    check_positive(temperature, "temperature");
    auto dz = empty<T>({r, d});
    T* o = dz.mutable_data();
    Scratch<T> a(r_loc * d), sim(r_loc * r), partial(r_loc), weight(r_loc);
    double loss_sum = 0, count = 0;
    {
      py::gil_scoped_release nogil;
      loss::sup_con_shard<T>(pz, pl, r, d, pa, r_loc, T(temperature), o, &loss_sum, &count,
                             {a.get(), sim.get(), partial.get(), weight.get()});
    }
    return py::make_tuple(loss_sum, count, std::move(dz));
  });
}

py::tuple info_nce(const py::array& q, const py::array& k, const py::array& queue, double temperature) {
  return dispatch_float(q, "q", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pq = in<T>(q, "q", 2);
    const index_t n = dim(q, 0), d = dim(q, 1);
    check_nonempty_cols(q, "q");
    const T* pk = in<T>(k, "k", 2);
    check_shape(k, {n, d}, "k (must match q)");
    const T* pb = in<T>(queue, "queue", 2);
    const index_t m = dim(queue, 0);
    if (dim(queue, 1) != d) fail("queue must have ", d, " features like q, got ", describe(queue));
    if (m < 1) fail("queue must hold at least one negative, got ", describe(queue));
    check_positive(temperature, "temperature");
    auto dq = empty<T>({n, d}), dk = empty<T>({n, d});
    T *oq = dq.mutable_data(), *ok = dk.mutable_data();
    Scratch<T> qkhat(2 * n * d), qknorm(2 * n), binv(m), logits(n * (m + 1)), partial(n);
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::info_nce<T>(pq, pk, pb, n, m, d, T(temperature), oq, ok,
                               {qkhat.get(), qknorm.get(), binv.get(), logits.get(), partial.get()});
    }
    return py::make_tuple(loss, std::move(dq), std::move(dk));
  });
}

py::tuple negative_cosine(const py::array& p, const py::array& z, double shift, double scale) {
  return dispatch_float(p, "p", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pp = in<T>(p, "p", 2);
    const index_t n = dim(p, 0), d = dim(p, 1);
    check_rows(p, 1, "p", "the mean needs a sample");
    check_nonempty_cols(p, "p");
    const T* pz = in<T>(z, "z", 2);
    check_shape(z, {n, d}, "z (must match p)");
    auto dp = empty<T>({n, d});
    T* o = dp.mutable_data();
    Scratch<T> partial(n);
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::negative_cosine<T>(pp, pz, n, d, T(shift), T(scale), o, partial.get());
    }
    return py::make_tuple(loss, std::move(dp));
  });
}

py::tuple barlow_twins(const py::array& z1, const py::array& z2, double lambd, double scale, double eps) {
  return dispatch_float(z1, "z1", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    auto v = view_pair<T>(z1, "z1", z2, "z2", 2, "batch statistics need two samples");
    const T *p1 = v.a, *p2 = v.b;
    const index_t n = v.n, d = v.d;
    if (!(lambd >= 0.0) || !std::isfinite(lambd)) fail("lambd must be a finite number >= 0, got ", lambd);
    check_positive(eps, "eps");
    T *o1 = v.oa, *o2 = v.ob;
    Scratch<T> zt1(n * d), zt2(n * d), mean(d), is1(d), is2(d), corr(d * d), partial(d);
    Scratch<double> ssd(d);
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::barlow_twins<T>(p1, p2, n, d, T(lambd), T(scale), T(eps), o1, o2,
                                   {zt1.get(), zt2.get(), mean.get(), is1.get(), is2.get(), ssd.get(), corr.get(),
                                    partial.get()});
    }
    return py::make_tuple(loss, std::move(v.ga), std::move(v.gb));
  });
}

py::tuple vicreg(const py::array& z1, const py::array& z2, double sim_w, double var_w, double cov_w, double eps) {
  return dispatch_float(z1, "z1", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    auto v = view_pair<T>(z1, "z1", z2, "z2", 2, "the unbiased variance needs two samples");
    const T *p1 = v.a, *p2 = v.b;
    const index_t n = v.n, d = v.d;
    check_positive(eps, "eps");
    T *o1 = v.oa, *o2 = v.ob;
    Scratch<T> x1(n * d), x2(n * d), mean(d), c1(d), c2(d), cov(d * d), partial(n > d ? n : d);
    Scratch<double> ssd(d);
    double loss, terms[3];
    {
      py::gil_scoped_release nogil;
      loss = loss::vicreg<T>(p1, p2, n, d, T(sim_w), T(var_w), T(cov_w), T(eps), o1, o2,
                             {x1.get(), x2.get(), mean.get(), c1.get(), c2.get(), ssd.get(), cov.get(), partial.get()},
                             terms);
    }
    return py::make_tuple(loss, std::move(v.ga), std::move(v.gb), py::make_tuple(terms[0], terms[1], terms[2]));
  });
}

void check_sinkhorn_args(double epsilon, int iterations) {
  check_positive(epsilon, "epsilon");
  if (iterations < 1) fail("iterations must be >= 1, got ", iterations);
}

py::array sinkhorn(const py::array& scores, double epsilon, int iterations) {
  return dispatch_float(scores, "scores", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* ps = in<T>(scores, "scores", 2);
    const index_t n = dim(scores, 0), k = dim(scores, 1);
    check_rows(scores, 1, "scores", "one sample at least");
    check_nonempty_cols(scores, "scores");
    check_sinkhorn_args(epsilon, iterations);
    auto q = empty<T>({n, k});
    T* o = q.mutable_data();
    Scratch<double> u(k), v(n);
    {
      py::gil_scoped_release nogil;
      loss::sinkhorn<T>(ps, n, k, T(epsilon), iterations, o, {u.get(), v.get()});
    }
    return std::move(q);
  });
}

py::tuple swav(const py::array& s1, const py::array& s2, double temperature, double epsilon, int iterations) {
  return dispatch_float(s1, "scores1", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    auto views = view_pair<T>(s1, "scores1", s2, "scores2", 1, "one sample at least");
    const T *p1 = views.a, *p2 = views.b;
    const index_t n = views.n, k = views.d;
    if (k < 2) fail("scores1 needs at least 2 prototypes, got ", describe(s1));
    check_positive(temperature, "temperature");
    check_sinkhorn_args(epsilon, iterations);
    T *o1 = views.oa, *o2 = views.ob;
    Scratch<T> q1(n * k), q2(n * k), partial(2 * n);
    Scratch<double> u(k), v(n);
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::swav<T>(p1, p2, n, k, T(temperature), T(epsilon), iterations, o1, o2,
                           {q1.get(), q2.get(), partial.get(), {u.get(), v.get()}});
    }
    return py::make_tuple(loss, std::move(views.ga), std::move(views.gb));
  });
}

py::tuple dino(const py::array& student, const py::array& teacher, const py::array& center, double student_temp,
               double teacher_temp) {
  return dispatch_float(student, "student", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* ps = in<T>(student, "student", 3);
    const index_t vs = dim(student, 0), n = dim(student, 1), k = dim(student, 2);
    const T* pt = in<T>(teacher, "teacher", 3);
    const index_t vt = dim(teacher, 0);
    if (dim(teacher, 1) != n || dim(teacher, 2) != k)
      fail("teacher must have shape (Vt, ", n, ", ", k, ") like student ", describe(student), ", got ",
           describe(teacher));
    if (vs < 2) fail("student needs at least 2 views (pairs of the same view are skipped), got ", describe(student));
    if (vt < 1 || vt > vs)
      fail("teacher must have between 1 and Vs = ", vs, " views, got ", describe(teacher));
    if (n < 1 || k < 1) fail("student must not be empty, got ", describe(student));
    const T* pc = in<T>(center, "center", 1);
    check_shape(center, {k}, "center");
    check_positive(student_temp, "student_temp");
    check_positive(teacher_temp, "teacher_temp");
    auto ds = empty<T>({vs, n, k});
    T* o = ds.mutable_data();
    Scratch<T> tq(vt * n * k), qtot(n * k), partial(vs * n);
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::dino<T>(ps, pt, pc, vs, vt, n, k, T(student_temp), T(teacher_temp), o,
                           {tq.get(), qtot.get(), partial.get()});
    }
    return py::make_tuple(loss, std::move(ds));
  });
}

void dino_update_center(py::array& center, const py::array& teacher, double momentum) {
  dispatch_float(center, "center", [&](auto tag) {
    using T = decltype(tag);
    T* pc = inout<T>(center, "center", 1);
    const index_t k = dim(center, 0);
    const T* pt = in<T>(teacher, "teacher", 3);
    if (dim(teacher, 2) != k) fail("teacher must have ", k, " outputs like center, got ", describe(teacher));
    if (!(momentum >= 0.0 && momentum <= 1.0)) fail("momentum must be in [0, 1], got ", momentum);
    const index_t rows = dim(teacher, 0) * dim(teacher, 1);
    if (rows < 1) fail("teacher must not be empty, got ", describe(teacher));
    py::gil_scoped_release nogil;
    loss::dino_update_center<T>(pc, pt, rows, k, T(momentum));
  });
}

// (rows, cols) view of an array of any rank >= 1 (last axis = cols).
void rows_cols(const py::array& a, index_t& rows, index_t& cols) {
  cols = a.ndim() >= 1 ? dim(a, a.ndim() - 1) : 1;
  rows = cols > 0 ? index_t(a.size()) / cols : 0;
}

py::tuple masked_mse(const py::array& pred, const py::array& target, const py::array& mask) {
  return dispatch_float(pred, "pred", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pp = in<T>(pred, "pred");
    if (pred.ndim() < 1 || pred.size() == 0) fail("pred must not be empty, got ", describe(pred));
    std::vector<index_t> shape(pred.shape(), pred.shape() + pred.ndim());
    const T* pt = in<T>(target, "target");
    check_shape(target, shape, "target (must match pred)");
    const T* pm = in<T>(mask, "mask");
    index_t rows, cols;
    rows_cols(pred, rows, cols);
    index_t mcols = cols;
    if (mask.ndim() == pred.ndim() - 1) {
      std::vector<index_t> ms(shape.begin(), shape.end() - 1);
      check_shape(mask, ms, "mask (per-row mask: pred's shape without the last axis)");
      mcols = 1;
    } else {
      check_shape(mask, shape, "mask (must match pred, or pred's shape without the last axis)");
    }
    auto dp = empty<T>(shape);
    T* o = dp.mutable_data();
    Scratch<T> partial(2 * rows);
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::masked_mse<T>(pp, pt, pm, rows, cols, mcols, o, partial.get());
    }
    return py::make_tuple(loss, std::move(dp));
  });
}

py::tuple mask_bce(const py::array& logits, const py::array& mask) {
  return dispatch_float(logits, "logits", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(logits, "logits");
    if (logits.ndim() < 1 || logits.size() == 0) fail("logits must not be empty, got ", describe(logits));
    std::vector<index_t> shape(logits.shape(), logits.shape() + logits.ndim());
    const T* pm = in<T>(mask, "mask");
    check_shape(mask, shape, "mask (must match logits)");
    index_t rows, cols;
    rows_cols(logits, rows, cols);
    auto dx = empty<T>(shape);
    T* o = dx.mutable_data();
    Scratch<T> partial(rows);
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::mask_bce<T>(px, pm, rows, cols, o, partial.get());
    }
    return py::make_tuple(loss, std::move(dx));
  });
}

}  // namespace

void register_losses(py::module_& m) {
  m.def("nt_xent", &nt_xent, py::arg("z1"), py::arg("z2"), py::arg("temperature"));
  m.def("sup_con", &sup_con, py::arg("z"), py::arg("labels"), py::arg("temperature"));
  m.def("sup_con_shard", &sup_con_shard, py::arg("zhat"), py::arg("labels"), py::arg("anchors"),
        py::arg("temperature"),
        "SupCon over the anchors `anchors` of normalised rows zhat (R, d) with labels (R,): returns "
        "(sum of the anchors' losses, number of anchors with a positive, unscaled dzhat part (R, d)).");
  m.def("info_nce", &info_nce, py::arg("q"), py::arg("k"), py::arg("queue"), py::arg("temperature"));
  m.def("negative_cosine", &negative_cosine, py::arg("p"), py::arg("z"), py::arg("shift"), py::arg("scale"));
  m.def("barlow_twins", &barlow_twins, py::arg("z1"), py::arg("z2"), py::arg("lambd"), py::arg("scale"),
        py::arg("eps"));
  m.def("vicreg", &vicreg, py::arg("z1"), py::arg("z2"), py::arg("sim_weight"), py::arg("var_weight"),
        py::arg("cov_weight"), py::arg("eps"), "Returns (loss, dz1, dz2, (invariance, variance, covariance)).");
  m.def("sinkhorn", &sinkhorn, py::arg("scores"), py::arg("epsilon"), py::arg("iterations"));
  m.def("swav", &swav, py::arg("scores1"), py::arg("scores2"), py::arg("temperature"), py::arg("epsilon"),
        py::arg("iterations"));
  m.def("dino", &dino, py::arg("student"), py::arg("teacher"), py::arg("center"), py::arg("student_temp"),
        py::arg("teacher_temp"));
  m.def("dino_update_center", &dino_update_center, py::arg("center").noconvert(), py::arg("teacher"),
        py::arg("momentum"), "center <- momentum * center + (1 - momentum) * mean(teacher rows), in place.");
  m.def("masked_mse", &masked_mse, py::arg("pred"), py::arg("target"), py::arg("mask"));
  m.def("mask_bce", &mask_bce, py::arg("logits"), py::arg("mask"));
}

}  // namespace pyssl::bind
