// Layer kernels: dense, activations, norms, dropout, softmax, and the supervised losses
// (cross-entropy, MSE) used by heads and probes.
// Pattern: validate + allocate with the GIL held, release it around the kernel, return.
#include <cstdint>
#include <tuple>
#include <vector>

#include "loss/cross_entropy.hpp"
#include "loss/mse.hpp"
#include "nn/activation.hpp"
#include "nn/dense.hpp"
#include "nn/dropout.hpp"
#include "nn/norm.hpp"
#include "nn/softmax.hpp"
#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

py::array dense_forward(const py::array& x, const py::array& w, const py::object& b) {
  return dispatch_float(x, "x", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 2);
    const T* pw = in<T>(w, "weight", 2);
    const index_t n = dim(x, 0), i = dim(x, 1), o = dim(w, 1);
    if (dim(w, 0) != i) fail("dense: x has ", i, " features but weight is ", describe(w), " (in, out)");
    const T* pb = nullptr;
    if (present(b)) {
      py::array ba = b.cast<py::array>();
      pb = in<T>(ba, "bias", 1);
      check_shape(ba, {o}, "bias");
    }
    auto y = empty<T>({n, o});
    T* py_ = y.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::dense_forward<T>(px, pw, pb, py_, n, i, o);
    }
    return std::move(y);
  });
}

// Returns dx (or None when need_dx is false); accumulates into dw / db.
py::object dense_backward(const py::array& x, const py::array& w, const py::array& dy, py::array& dw,
                          const py::object& db, bool accumulate, bool need_dx) {
  return dispatch_float(x, "x", [&](auto tag) -> py::object {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 2);
    const T* pw = in<T>(w, "weight", 2);
    const index_t n = dim(x, 0), i = dim(x, 1), o = dim(w, 1);
    check_shape(w, {i, o}, "weight");
    const T* pdy = in<T>(dy, "grad_output", 2);
    check_shape(dy, {n, o}, "grad_output");
    T* pdw = inout<T>(dw, "weight_grad", 2);
    check_shape(dw, {i, o}, "weight_grad");
    T* pdb = nullptr;
    py::array dba;
    if (present(db)) {
      dba = db.cast<py::array>();
      pdb = inout<T>(dba, "bias_grad", 1);
      check_shape(dba, {o}, "bias_grad");
    }
    py::array_t<T> dx;
    T* pdx = nullptr;
    if (need_dx) {
      dx = empty<T>({n, i});
      pdx = dx.mutable_data();
    }
    {
      py::gil_scoped_release nogil;
      nn::dense_backward<T>(px, pw, pdy, pdx, pdw, pdb, n, i, o, accumulate);
    }
    if (!need_dx) return py::none();
    return std::move(dx);
  });
}

py::array activation_forward(int act, const py::array& x) {
  return dispatch_float(x, "x", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    std::vector<index_t> shape(x.shape(), x.shape() + x.ndim());
    auto y = empty<T>(shape);
    T* py_ = y.mutable_data();
    const index_t n = index_t(x.size());
    {
      py::gil_scoped_release nogil;
      nn::activation_forward<T>(nn::Activation(act), px, py_, n);
    }
    return std::move(y);
  });
}

py::array activation_backward(int act, const py::array& x, const py::array& y, const py::array& dy) {
  return dispatch_float(x, "x", [&](auto tag) -> py::array {
    using T = decltype(tag);
    std::vector<index_t> shape(x.shape(), x.shape() + x.ndim());
    const T* px = in<T>(x, "x");
    const T* pyv = in<T>(y, "y");
    check_shape(y, shape, "y");
    const T* pdy = in<T>(dy, "grad_output");
    check_shape(dy, shape, "grad_output");
    auto dx = empty<T>(shape);
    T* pdx = dx.mutable_data();
    const index_t n = index_t(x.size());
    {
      py::gil_scoped_release nogil;
      nn::activation_backward<T>(nn::Activation(act), px, pyv, pdy, pdx, n);
    }
    return std::move(dx);
  });
}


// --- helpers (validation only) -----------------------------------------------------------------

std::vector<index_t> shape_of(const py::array& a) { return std::vector<index_t>(a.shape(), a.shape() + a.ndim()); }

void check_nonempty(const py::array& a, const char* name) {
  if (a.size() == 0) fail(name, " must not be empty, got ", describe(a));
}

// x viewed as (rows, last dim); needs ndim >= 1 and no zero-size dimension.
template <class T>
const T* rows_in(const py::array& a, const char* name, index_t& rows, index_t& cols) {
  const T* p = in<T>(a, name);
  if (a.ndim() < 1) fail(name, " must have at least 1 dimension, got ", describe(a));
  check_nonempty(a, name);
  cols = dim(a, int(a.ndim() - 1));
  rows = index_t(a.size()) / cols;
  return p;
}

// Optional read-only (D,) vector.
template <class T>
const T* opt_vec(const py::object& o, const char* name, index_t d, py::array& keep) {
  if (!present(o)) return nullptr;
  keep = o.cast<py::array>();
  const T* p = in<T>(keep, name, 1);
  check_shape(keep, {d}, name);
  return p;
}

// Optional in-place (D,) vector.
template <class T>
T* opt_vec_out(const py::object& o, const char* name, index_t d, py::array& keep) {
  if (!present(o)) return nullptr;
  keep = o.cast<py::array>();
  T* p = inout<T>(keep, name, 1);
  check_shape(keep, {d}, name);
  return p;
}

void check_pair(const py::object& a, const char* na, const py::object& b, const char* nb) {
  if (present(a) != present(b)) fail(na, " and ", nb, " must be given together (affine) or both be None");
}

// --- LayerNorm ---------------------------------------------------------------------------------

py::tuple layer_norm_forward(const py::array& x, const py::object& weight, const py::object& bias, double eps) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    index_t n, d;
    const T* px = rows_in<T>(x, "x", n, d);
    if (!(eps > 0)) fail("layer_norm: eps must be > 0, got ", eps);
    check_pair(weight, "weight", bias, "bias");
    py::array wk, bk;
    const T* pw = opt_vec<T>(weight, "weight", d, wk);
    const T* pb = opt_vec<T>(bias, "bias", d, bk);
    auto y = empty<T>(shape_of(x));
    auto mean = empty<T>({n});
    auto rstd = empty<T>({n});
    T *py_ = y.mutable_data(), *pm = mean.mutable_data(), *pr = rstd.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::layer_norm_forward<T>(px, pw, pb, py_, pm, pr, n, d, eps);
    }
    return py::make_tuple(std::move(y), std::move(mean), std::move(rstd));
  });
}

py::object layer_norm_backward(const py::array& x, const py::array& mean, const py::array& rstd,
                               const py::array& dy, const py::object& weight, const py::object& weight_grad,
                               const py::object& bias_grad, bool accumulate, bool need_dx) {
  return dispatch_float(x, "x", [&](auto tag) -> py::object {
    using T = decltype(tag);
    index_t n, d;
    const T* px = rows_in<T>(x, "x", n, d);
    const T* pm = in<T>(mean, "mean", 1);
    check_shape(mean, {n}, "mean");
    const T* pr = in<T>(rstd, "rstd", 1);
    check_shape(rstd, {n}, "rstd");
    const T* pdy = in<T>(dy, "grad_output");
    check_shape(dy, shape_of(x), "grad_output");
    py::array wk, gwk, gbk;
    const T* pw = opt_vec<T>(weight, "weight", d, wk);
    T* pgw = opt_vec_out<T>(weight_grad, "weight_grad", d, gwk);
    T* pgb = opt_vec_out<T>(bias_grad, "bias_grad", d, gbk);
    if (pgw != nullptr && pw == nullptr) fail("layer_norm_backward: weight_grad given without weight");
    py::array_t<T> dx;
    T* pdx = nullptr;
    if (need_dx) {
      dx = empty<T>(shape_of(x));
      pdx = dx.mutable_data();
    }
    {
      py::gil_scoped_release nogil;
      nn::layer_norm_backward<T>(px, pm, pr, pw, pdy, pdx, pgw, pgb, n, d, accumulate);
    }
    if (!need_dx) return py::none();
    return std::move(dx);
  });
}

// --- BatchNorm1d -------------------------------------------------------------------------------

// Optional (D,) float64 vector (synchronised batch statistics).
const double* opt_stats(const py::object& o, const char* name, index_t d, py::array& keep) {
  return opt_vec<double>(o, name, d, keep);
}

py::tuple batch_norm_forward(const py::array& x, const py::object& weight, const py::object& bias,
                             const py::object& running_mean, const py::object& running_var, bool training,
                             double momentum, double eps, const py::object& given_mean,
                             const py::object& given_var, double given_count) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 2);
    check_nonempty(x, "x");
    const index_t n = dim(x, 0), d = dim(x, 1);
    if (training && n < 2)
      fail("batch_norm: training mode needs at least 2 rows to estimate the batch variance, got x with ",
           describe(x), " (use eval mode, or a larger batch)");
    if (!(eps > 0)) fail("batch_norm: eps must be > 0, got ", eps);
    if (!(momentum >= 0 && momentum <= 1)) fail("batch_norm: momentum must be in [0, 1], got ", momentum);
    check_pair(weight, "weight", bias, "bias");
    check_pair(running_mean, "running_mean", running_var, "running_var");
    if (!training && !present(running_mean)) fail("batch_norm: eval mode needs running_mean and running_var");
    py::array wk, bk, rmk, rvk;
    const T* pw = opt_vec<T>(weight, "weight", d, wk);
    const T* pb = opt_vec<T>(bias, "bias", d, bk);
    // Running statistics are written only in training mode; eval mode reads them (read-only ok).
    T* prm = training ? opt_vec_out<T>(running_mean, "running_mean", d, rmk)
                      : const_cast<T*>(opt_vec<T>(running_mean, "running_mean", d, rmk));
    T* prv = training ? opt_vec_out<T>(running_var, "running_var", d, rvk)
                      : const_cast<T*>(opt_vec<T>(running_var, "running_var", d, rvk));
    check_pair(given_mean, "given_mean", given_var, "given_var");
    py::array gmk, gvk;
    const double* pgm = opt_stats(given_mean, "given_mean", d, gmk);
    const double* pgv = opt_stats(given_var, "given_var", d, gvk);
    if (pgm != nullptr && !training) fail("batch_norm: given statistics are used in training mode only");
    if (pgm != nullptr && !(given_count >= 2))
      fail("batch_norm: given_count must be the global number of rows (>= 2), got ", given_count);
    auto y = empty<T>({n, d});
    auto mean = empty<T>({d});
    auto rstd = empty<T>({d});
    T *py_ = y.mutable_data(), *pm = mean.mutable_data(), *pr = rstd.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::batch_norm_forward<T>(px, pw, pb, prm, prv, py_, pm, pr, n, d, training, momentum, eps, pgm, pgv,
                                given_count);
    }
    return py::make_tuple(std::move(y), std::move(mean), std::move(rstd));
  });
}

py::object batch_norm_backward(const py::array& x, const py::array& mean, const py::array& rstd,
                               const py::array& dy, const py::object& weight, const py::object& weight_grad,
                               const py::object& bias_grad, bool training, bool accumulate, bool need_dx,
                               const py::object& given_sums, double given_count) {
  return dispatch_float(x, "x", [&](auto tag) -> py::object {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 2);
    check_nonempty(x, "x");
    const index_t n = dim(x, 0), d = dim(x, 1);
    const T* pm = in<T>(mean, "mean", 1);
    check_shape(mean, {d}, "mean");
    const T* pr = in<T>(rstd, "rstd", 1);
    check_shape(rstd, {d}, "rstd");
    const T* pdy = in<T>(dy, "grad_output", 2);
    check_shape(dy, {n, d}, "grad_output");
    py::array wk, gwk, gbk;
    const T* pw = opt_vec<T>(weight, "weight", d, wk);
    T* pgw = opt_vec_out<T>(weight_grad, "weight_grad", d, gwk);
    T* pgb = opt_vec_out<T>(bias_grad, "bias_grad", d, gbk);
    if (pgw != nullptr && pw == nullptr) fail("batch_norm_backward: weight_grad given without weight");
    py::array gsk;
    const double* pgs = opt_stats(given_sums, "given_sums", 2 * d, gsk);
    if (pgs != nullptr && !(given_count >= 1))
      fail("batch_norm_backward: given_count must be the global number of rows (>= 1), got ", given_count);
    py::array_t<T> dx;
    T* pdx = nullptr;
    if (need_dx) {
      dx = empty<T>({n, d});
      pdx = dx.mutable_data();
    }
    {
      py::gil_scoped_release nogil;
      nn::batch_norm_backward<T>(px, pm, pr, pw, pdy, pdx, pgw, pgb, n, d, training, accumulate, pgs,
                                 given_count);
    }
    if (!need_dx) return py::none();
    return std::move(dx);
  });
}

py::tuple batch_norm_moments(const py::array& x) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 2);
    check_nonempty(x, "x");
    const index_t n = dim(x, 0), d = dim(x, 1);
    auto mean = empty<double>({d});
    auto m2 = empty<double>({d});
    double *pm = mean.mutable_data(), *pq = m2.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::batch_norm_moments<T>(px, pm, pq, n, d);
    }
    return py::make_tuple(std::move(mean), std::move(m2));
  });
}

// --- Softmax -----------------------------------------------------------------------------------

py::array softmax_forward(const py::array& x, bool log) {
  return dispatch_float(x, "x", [&](auto tag) -> py::array {
    using T = decltype(tag);
    index_t n, k;
    const T* px = rows_in<T>(x, "x", n, k);
    auto y = empty<T>(shape_of(x));
    T* py_ = y.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::softmax_forward<T>(px, py_, n, k, log);
    }
    return std::move(y);
  });
}

py::array softmax_backward(const py::array& y, const py::array& dy, bool log) {
  return dispatch_float(y, "y", [&](auto tag) -> py::array {
    using T = decltype(tag);
    index_t n, k;
    const T* pyv = rows_in<T>(y, "y", n, k);
    const T* pdy = in<T>(dy, "grad_output");
    check_shape(dy, shape_of(y), "grad_output");
    auto dx = empty<T>(shape_of(y));
    T* pdx = dx.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::softmax_backward<T>(pyv, pdy, pdx, n, k, log);
    }
    return std::move(dx);
  });
}

// --- Dropout -----------------------------------------------------------------------------------

void check_p(double p) {
  if (!(p >= 0.0 && p < 1.0)) fail("dropout: p must be in [0, 1), got ", p);
}

py::tuple dropout_forward(const py::array& x, double p, std::uint64_t seed, std::uint64_t step) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    check_nonempty(x, "x");
    check_p(p);
    auto y = empty<T>(shape_of(x));
    std::vector<py::ssize_t> s(x.shape(), x.shape() + x.ndim());
    py::array_t<std::uint8_t> mask(s);
    T* py_ = y.mutable_data();
    std::uint8_t* pmask = mask.mutable_data();
    const index_t n = index_t(x.size());
    {
      py::gil_scoped_release nogil;
      nn::dropout_forward<T>(px, py_, pmask, n, p, seed, step);
    }
    return py::make_tuple(std::move(y), std::move(mask));
  });
}

py::array dropout_backward(const py::array& dy, const py::array& mask, double p) {
  return dispatch_float(dy, "grad_output", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* pdy = in<T>(dy, "grad_output");
    check_nonempty(dy, "grad_output");
    check_p(p);
    if (!has_dtype<std::uint8_t>(mask))
      throw py::type_error("mask must have dtype uint8, got " + describe(mask));
    check_contiguous(mask, "mask");
    check_shape(mask, shape_of(dy), "mask");
    const std::uint8_t* pmask = static_cast<const std::uint8_t*>(mask.data());
    auto dx = empty<T>(shape_of(dy));
    T* pdx = dx.mutable_data();
    const index_t n = index_t(dy.size());
    {
      py::gil_scoped_release nogil;
      nn::dropout_backward<T>(pdy, pmask, pdx, n, p);
    }
    return std::move(dx);
  });
}

// --- supervised losses -------------------------------------------------------------------------

py::tuple cross_entropy(const py::array& logits, const py::array& labels, double label_smoothing, bool need_grad) {
  return dispatch_float(logits, "logits", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(logits, "logits", 2);
    check_nonempty(logits, "logits");
    const index_t n = dim(logits, 0), k = dim(logits, 1);
    if (!has_dtype<std::int64_t>(labels))
      throw py::type_error("labels must have dtype int64, got " + describe(labels));
    check_contiguous(labels, "labels");
    check_shape(labels, {n}, "labels");
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
      fail("cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
    const std::int64_t* pl = static_cast<const std::int64_t*>(labels.data());
    py::array_t<T> g;
    T* pg = nullptr;
    if (need_grad) {
      g = empty<T>({n, k});
      pg = g.mutable_data();
    }
    std::vector<double> row_loss(static_cast<size_t>(n));
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::cross_entropy<T>(px, pl, pg, row_loss.data(), n, k, label_smoothing);
    }
    if (!need_grad) return py::make_tuple(loss, py::none());
    return py::make_tuple(loss, std::move(g));
  });
}

py::tuple mse(const py::array& pred, const py::array& target, bool need_grad) {
  return dispatch_float(pred, "pred", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pp = in<T>(pred, "pred");
    check_nonempty(pred, "pred");
    const T* pt = in<T>(target, "target");
    check_shape(target, shape_of(pred), "target");
    const index_t m = index_t(pred.size());
    py::array_t<T> g;
    T* pg = nullptr;
    if (need_grad) {
      g = empty<T>(shape_of(pred));
      pg = g.mutable_data();
    }
    std::vector<double> partial(static_cast<size_t>(loss::mse_workspace(m)));
    double loss;
    {
      py::gil_scoped_release nogil;
      loss = loss::mse<T>(pp, pt, pg, partial.data(), m);
    }
    if (!need_grad) return py::make_tuple(loss, py::none());
    return py::make_tuple(loss, std::move(g));
  });
}

}  // namespace

void register_nn(py::module_& m) {
  m.def("dense_forward", &dense_forward, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
        "y = x @ weight + bias; x (N, I), weight (I, O), bias (O,) or None.");
  m.def("dense_backward", &dense_backward, py::arg("x"), py::arg("weight"), py::arg("grad_output"),
        py::arg("weight_grad"), py::arg("bias_grad") = py::none(), py::arg("accumulate") = true,
        py::arg("need_dx") = true,
        "Accumulate dW = xᵀ dy and db = Σ dy in place; return dx = dy weightᵀ (or None).");
  py::enum_<nn::Activation>(m, "Activation")
      .value("relu", nn::Activation::ReLU)
      .value("gelu", nn::Activation::GELU)
      .value("tanh", nn::Activation::Tanh)
      .value("sigmoid", nn::Activation::Sigmoid);
  m.def("activation_forward", &activation_forward, py::arg("act"), py::arg("x"));
  m.def("activation_backward", &activation_backward, py::arg("act"), py::arg("x"), py::arg("y"),
        py::arg("grad_output"));
  m.def("layer_norm_forward", &layer_norm_forward, py::arg("x"), py::arg("weight") = py::none(),
        py::arg("bias") = py::none(), py::arg("eps") = 1e-5,
        "LayerNorm over the last dim of x (..., D); returns (y, mean, rstd), mean/rstd flat per row.");
  m.def("layer_norm_backward", &layer_norm_backward, py::arg("x"), py::arg("mean"), py::arg("rstd"),
        py::arg("grad_output"), py::arg("weight") = py::none(), py::arg("weight_grad") = py::none(),
        py::arg("bias_grad") = py::none(), py::arg("accumulate") = true, py::arg("need_dx") = true,
        "Return dx (or None); accumulate dweight = Σ dy x̂ and dbias = Σ dy in place.");
  m.def("batch_norm_forward", &batch_norm_forward, py::arg("x"), py::arg("weight") = py::none(),
        py::arg("bias") = py::none(), py::arg("running_mean") = py::none(), py::arg("running_var") = py::none(),
        py::arg("training") = true, py::arg("momentum") = 0.1, py::arg("eps") = 1e-5,
        py::arg("given_mean") = py::none(), py::arg("given_var") = py::none(), py::arg("given_count") = 0.0,
        "BatchNorm1d on x (N, D); returns (y, mean, rstd) per feature. Training mode updates the "
        "running stats in place (unbiased variance, momentum m: r = (1-m) r + m batch). given_mean / "
        "given_var (float64, biased) over given_count rows replace the batch statistics (synchronised "
        "BatchNorm).");
  m.def("batch_norm_moments", &batch_norm_moments, py::arg("x"),
        "Per-feature (mean, M2 = sum of squared deviations) of x (N, D), float64, fixed order.");
  m.def("batch_norm_backward", &batch_norm_backward, py::arg("x"), py::arg("mean"), py::arg("rstd"),
        py::arg("grad_output"), py::arg("weight") = py::none(), py::arg("weight_grad") = py::none(),
        py::arg("bias_grad") = py::none(), py::arg("training") = true, py::arg("accumulate") = true,
        py::arg("need_dx") = true, py::arg("given_sums") = py::none(), py::arg("given_count") = 0.0,
        "Return dx (or None; training mode differentiates the batch statistics); accumulate "
        "dweight, dbias in place. given_sums (float64 (2D,): sum dy, then sum dy*xhat over given_count "
        "rows) replace the batch sums in dx (synchronised BatchNorm).");
  m.def("softmax_forward", &softmax_forward, py::arg("x"), py::arg("log") = false,
        "Softmax (or log-softmax with log=True) over the last dim, max-shifted.");
  m.def("softmax_backward", &softmax_backward, py::arg("y"), py::arg("grad_output"), py::arg("log") = false,
        "dx from the forward output y.");
  m.def("dropout_forward", &dropout_forward, py::arg("x"), py::arg("p"), py::arg("seed"), py::arg("step"),
        "Inverted dropout: returns (y, mask uint8); element i uses word i of Philox stream (seed, step).");
  m.def("dropout_backward", &dropout_backward, py::arg("grad_output"), py::arg("mask"), py::arg("p"),
        "dx = grad_output * mask / (1 - p).");
  m.def("cross_entropy", &cross_entropy, py::arg("logits"), py::arg("labels"), py::arg("label_smoothing") = 0.0,
        py::arg("need_grad") = true,
        "Fused log-softmax + cross-entropy (mean over N) + gradient: returns (loss, dlogits or None).");
  m.def("mse", &mse, py::arg("pred"), py::arg("target"), py::arg("need_grad") = true,
        "Mean squared error over all elements and its gradient: returns (loss, dpred or None).");
}

}  // namespace pyssl::bind
