// Layer kernels: dense, activations, norms, dropout, softmax, and the supervised losses
// (cross-entropy, MSE) used by heads and probes. Toolkit: python/bind_toolkit.hpp.
#include <cstdint>
#include <vector>

#include "loss/cross_entropy.hpp"
#include "loss/mse.hpp"
#include "nn/activation.hpp"
#include "nn/dense.hpp"
#include "nn/dropout.hpp"
#include "nn/norm.hpp"
#include "nn/softmax.hpp"
#include "python/bind_toolkit.hpp"

namespace pyssl::bind {

namespace {

// --- helpers (validation only) -----------------------------------------------------------------

void check_nonempty(const py::array& a, const char* name) {
  if (a.size() == 0) fail(name, " must not be empty, got ", describe(a));
}

// Any rank >= 1 with no zero-size dimension, seen as (rows, last dim).
template <class T>
Array<const T> rows_arg(const py::array& a, const char* name) {
  auto v = arg_nd<T>(a, name);
  if (a.ndim() < 1) fail(name, " must have at least 1 dimension, got ", describe(a));
  check_nonempty(a, name);
  return v;
}

// A non-empty (N, D) input.
template <class T>
Array<const T> matrix(const py::array& a, const char* name) {
  auto v = arg_nd<T>(a, name, 2);
  check_nonempty(a, name);
  return v;
}

void check_pair(const py::object& a, const char* na, const py::object& b, const char* nb) {
  if (present(a) != present(b)) fail(na, " and ", nb, " must be given together (affine) or both be None");
}

// --- dense, activations ------------------------------------------------------------------------

template <class T>
py::array dense_forward(const py::array& x_, const py::array& w_, const py::object& b_) {
  auto x = arg_nd<T>(x_, "x", 2);
  auto w = arg_nd<T>(w_, "weight", 2);
  const index_t n = x.dim(0), i = x.dim(1), o = w.dim(1);
  if (w.dim(0) != i) fail("dense: x has ", i, " features but weight is ", describe(w_), " (in, out)");
  auto b = opt_arg<T>(b_, "bias", {o});
  auto y = out<T>({n, o});
  nogil([&] { nn::dense_forward<T>(x, w, b, y, n, i, o); });
  return y.array();
}

// Returns dx (or None when need_dx is false); accumulates into dw / db.
template <class T>
py::object dense_backward(const py::array& x_, const py::array& w_, const py::array& dy_, py::array& dw_,
                          const py::object& db_, bool accumulate, bool need_dx) {
  auto x = arg_nd<T>(x_, "x", 2);
  auto w = arg_nd<T>(w_, "weight", 2);
  const index_t n = x.dim(0), i = x.dim(1), o = w.dim(1);
  check_shape(w_, {i, o}, "weight");
  auto dy = arg<T>(dy_, "grad_output", {n, o});
  auto dw = inplace<T>(dw_, "weight_grad", {i, o});
  auto db = opt_inplace<T>(db_, "bias_grad", {o});
  auto dx = out_if<T>(need_dx, {n, i});
  nogil([&] { nn::dense_backward<T>(x, w, dy, dx, dw, db, n, i, o, accumulate); });
  return dx.or_none();
}

template <class T>
py::array activation_forward(int act, const py::array& x_) {
  auto x = arg_nd<T>(x_, "x");
  auto y = out<T>(x.shape());
  nogil([&] { nn::activation_forward<T>(nn::Activation(act), x, y, x.size()); });
  return y.array();
}

template <class T>
py::array activation_backward(int act, const py::array& x_, const py::array& y_, const py::array& dy_) {
  auto x = arg_nd<T>(x_, "x");
  auto y = arg<T>(y_, "y", x.shape());
  auto dy = arg<T>(dy_, "grad_output", x.shape());
  auto dx = out<T>(x.shape());
  nogil([&] { nn::activation_backward<T>(nn::Activation(act), x, y, dy, dx, x.size()); });
  return dx.array();
}

// --- LayerNorm ---------------------------------------------------------------------------------

template <class T>
py::tuple layer_norm_forward(const py::array& x_, const py::object& weight, const py::object& bias, double eps) {
  auto x = rows_arg<T>(x_, "x");
  const index_t n = x.rows(), d = x.last();
  if (!(eps > 0)) fail("layer_norm: eps must be > 0, got ", eps);
  check_pair(weight, "weight", bias, "bias");
  auto w = opt_arg<T>(weight, "weight", {d});
  auto b = opt_arg<T>(bias, "bias", {d});
  auto y = out<T>(x.shape());
  auto mean = out<T>({n}), rstd = out<T>({n});
  nogil([&] { nn::layer_norm_forward<T>(x, w, b, y, mean, rstd, n, d, eps); });
  return py::make_tuple(y.array(), mean.array(), rstd.array());
}

template <class T>
py::object layer_norm_backward(const py::array& x_, const py::array& mean_, const py::array& rstd_,
                               const py::array& dy_, const py::object& weight, const py::object& weight_grad,
                               const py::object& bias_grad, bool accumulate, bool need_dx) {
  auto x = rows_arg<T>(x_, "x");
  const index_t n = x.rows(), d = x.last();
  auto mean = arg<T>(mean_, "mean", {n});
  auto rstd = arg<T>(rstd_, "rstd", {n});
  auto dy = arg<T>(dy_, "grad_output", x.shape());
  auto w = opt_arg<T>(weight, "weight", {d});
  auto gw = opt_inplace<T>(weight_grad, "weight_grad", {d});
  auto gb = opt_inplace<T>(bias_grad, "bias_grad", {d});
  if (gw.given && !w.given) fail("layer_norm_backward: weight_grad given without weight");
  auto dx = out_if<T>(need_dx, x.shape());
  nogil([&] { nn::layer_norm_backward<T>(x, mean, rstd, w, dy, dx, gw, gb, n, d, accumulate); });
  return dx.or_none();
}

// --- BatchNorm1d -------------------------------------------------------------------------------

template <class T>
py::tuple batch_norm_forward(const py::array& x_, const py::object& weight, const py::object& bias,
                             const py::object& running_mean, const py::object& running_var, bool relu, bool training,
                             double momentum, double eps, const py::object& given_mean,
                             const py::object& given_var, double given_count) {
  auto x = matrix<T>(x_, "x");
  const index_t n = x.dim(0), d = x.dim(1);
  if (training && n < 2)
    fail("batch_norm: training mode needs at least 2 rows to estimate the batch variance, got x with ",
         describe(x_), " (use eval mode, or a larger batch)");
  if (!(eps > 0)) fail("batch_norm: eps must be > 0, got ", eps);
  if (!(momentum >= 0 && momentum <= 1)) fail("batch_norm: momentum must be in [0, 1], got ", momentum);
  check_pair(weight, "weight", bias, "bias");
  check_pair(running_mean, "running_mean", running_var, "running_var");
  if (!training && !present(running_mean)) fail("batch_norm: eval mode needs running_mean and running_var");
  auto w = opt_arg<T>(weight, "weight", {d});
  auto b = opt_arg<T>(bias, "bias", {d});
  // Running statistics are written only in training mode; eval mode reads them (read-only ok).
  auto running = [&](const py::object& o, const char* name) {
    return training ? opt_inplace<T>(o, name, {d}).data : const_cast<T*>(opt_arg<T>(o, name, {d}).data);
  };
  T* rm = running(running_mean, "running_mean");
  T* rv = running(running_var, "running_var");
  check_pair(given_mean, "given_mean", given_var, "given_var");
  auto gm = opt_arg<double>(given_mean, "given_mean", {d});
  auto gv = opt_arg<double>(given_var, "given_var", {d});
  if (gm.given && !training) fail("batch_norm: given statistics are used in training mode only");
  if (gm.given && !(given_count >= 2))
    fail("batch_norm: given_count must be the global number of rows (>= 2), got ", given_count);
  auto y = out<T>({n, d});
  auto mean = out<T>({d}), rstd = out<T>({d});
  nogil([&] {
    nn::batch_norm_forward<T>(x, w, b, relu, rm, rv, y, mean, rstd, n, d, training, momentum, eps, gm, gv, given_count);
  });
  return py::make_tuple(y.array(), mean.array(), rstd.array());
}

template <class T>
py::object batch_norm_backward(const py::array& x_, const py::array& mean_, const py::array& rstd_,
                               const py::array& dy_, const py::object& weight, const py::object& weight_grad,
                               const py::object& bias_grad, bool training, bool accumulate, bool need_dx,
                               const py::object& given_sums, double given_count, const py::object& y_, bool relu) {
  auto x = matrix<T>(x_, "x");
  const index_t n = x.dim(0), d = x.dim(1);
  auto mean = arg<T>(mean_, "mean", {d});
  auto rstd = arg<T>(rstd_, "rstd", {d});
  auto dy = arg<T>(dy_, "grad_output", {n, d});
  auto w = opt_arg<T>(weight, "weight", {d});
  auto gw = opt_inplace<T>(weight_grad, "weight_grad", {d});
  auto gb = opt_inplace<T>(bias_grad, "bias_grad", {d});
  if (gw.given && !w.given) fail("batch_norm_backward: weight_grad given without weight");
  if (relu && !present(y_)) fail("batch_norm_backward: relu=True needs the forward output y");
  auto y = relu ? opt_arg<T>(y_, "y", {n, d}) : Array<const T>{};
  auto gs = opt_arg<double>(given_sums, "given_sums", {2 * d});
  if (gs.given && !(given_count >= 1))
    fail("batch_norm_backward: given_count must be the global number of rows (>= 1), got ", given_count);
  auto dx = out_if<T>(need_dx, {n, d});
  nogil([&] {
    nn::batch_norm_backward<T>(x, mean, rstd, w, y, relu, dy, dx, gw, gb, n, d, training, accumulate, gs,
                               given_count);
  });
  return dx.or_none();
}

template <class T>
py::tuple batch_norm_moments(const py::array& x_) {
  auto x = matrix<T>(x_, "x");
  const index_t n = x.dim(0), d = x.dim(1);
  auto mean = out<double>({d}), m2 = out<double>({d});
  nogil([&] { nn::batch_norm_moments<T>(x, mean, m2, n, d); });
  return py::make_tuple(mean.array(), m2.array());
}

// --- Softmax -----------------------------------------------------------------------------------

template <class T>
py::array softmax_forward(const py::array& x_, bool log) {
  auto x = rows_arg<T>(x_, "x");
  auto y = out<T>(x.shape());
  nogil([&] { nn::softmax_forward<T>(x, y, x.rows(), x.last(), log); });
  return y.array();
}

template <class T>
py::array softmax_backward(const py::array& y_, const py::array& dy_, bool log) {
  auto y = rows_arg<T>(y_, "y");
  auto dy = arg<T>(dy_, "grad_output", y.shape());
  auto dx = out<T>(y.shape());
  nogil([&] { nn::softmax_backward<T>(y, dy, dx, y.rows(), y.last(), log); });
  return dx.array();
}

// --- Dropout -----------------------------------------------------------------------------------

void check_p(double p) {
  if (!(p >= 0.0 && p < 1.0)) fail("dropout: p must be in [0, 1), got ", p);
}

template <class T>
py::tuple dropout_forward(const py::array& x_, double p, std::uint64_t seed, std::uint64_t step) {
  auto x = arg_nd<T>(x_, "x");
  check_nonempty(x_, "x");
  check_p(p);
  auto y = out<T>(x.shape());
  auto mask = out<std::uint8_t>(x.shape());
  nogil([&] { nn::dropout_forward<T>(x, y, mask, x.size(), p, seed, step); });
  return py::make_tuple(y.array(), mask.array());
}

template <class T>
py::array dropout_backward(const py::array& dy_, const py::array& mask_, double p) {
  auto dy = arg_nd<T>(dy_, "grad_output");
  check_nonempty(dy_, "grad_output");
  check_p(p);
  auto mask = arg<std::uint8_t>(mask_, "mask", dy.shape());
  auto dx = out<T>(dy.shape());
  nogil([&] { nn::dropout_backward<T>(dy, mask, dx, dy.size(), p); });
  return dx.array();
}

// --- supervised losses -------------------------------------------------------------------------

template <class T>
py::tuple cross_entropy(const py::array& logits_, const py::array& labels_, double label_smoothing, bool need_grad) {
  auto logits = matrix<T>(logits_, "logits");
  const index_t n = logits.dim(0), k = logits.dim(1);
  auto labels = arg<std::int64_t>(labels_, "labels", {n});
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
    fail("cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  auto g = out_if<T>(need_grad, {n, k});
  Workspace ws(loss::cross_entropy_workspace(n));
  const double l = nogil([&] { return loss::cross_entropy<T>(logits, labels, g, ws, n, k, label_smoothing); });
  return py::make_tuple(l, g.or_none());
}

template <class T>
py::tuple mse(const py::array& pred_, const py::array& target_, bool need_grad) {
  auto pred = arg_nd<T>(pred_, "pred");
  check_nonempty(pred_, "pred");
  auto target = arg<T>(target_, "target", pred.shape());
  const index_t m = pred.size();
  auto g = out_if<T>(need_grad, pred.shape());
  Workspace ws(loss::mse_workspace(m));
  const double l = nogil([&] { return loss::mse<T>(pred, target, g, ws, m); });
  return py::make_tuple(l, g.or_none());
}

}  // namespace

void register_nn(py::module_& m) {
  m.def("dense_forward", by_dtype(PYSSL_FLOATS(dense_forward), "x"), py::arg("x"), py::arg("weight"),
        py::arg("bias") = py::none(), "y = x @ weight + bias; x (N, I), weight (I, O), bias (O,) or None.");
  m.def("dense_backward", by_dtype(PYSSL_FLOATS(dense_backward), "x"), py::arg("x"), py::arg("weight"),
        py::arg("grad_output"), py::arg("weight_grad"), py::arg("bias_grad") = py::none(),
        py::arg("accumulate") = true, py::arg("need_dx") = true,
        "Accumulate dW = xᵀ dy and db = Σ dy in place; return dx = dy weightᵀ (or None).");
  py::enum_<nn::Activation>(m, "Activation")
      .value("relu", nn::Activation::ReLU)
      .value("gelu", nn::Activation::GELU)
      .value("tanh", nn::Activation::Tanh)
      .value("sigmoid", nn::Activation::Sigmoid);
  m.def("activation_forward", by_dtype<1>(PYSSL_FLOATS(activation_forward), "x"), py::arg("act"), py::arg("x"));
  m.def("activation_backward", by_dtype<1>(PYSSL_FLOATS(activation_backward), "x"), py::arg("act"), py::arg("x"),
        py::arg("y"), py::arg("grad_output"));
  m.def("layer_norm_forward", by_dtype(PYSSL_FLOATS(layer_norm_forward), "x"), py::arg("x"),
        py::arg("weight") = py::none(), py::arg("bias") = py::none(), py::arg("eps") = 1e-5,
        "LayerNorm over the last dim of x (..., D); returns (y, mean, rstd), mean/rstd flat per row.");
  m.def("layer_norm_backward", by_dtype(PYSSL_FLOATS(layer_norm_backward), "x"), py::arg("x"), py::arg("mean"),
        py::arg("rstd"), py::arg("grad_output"), py::arg("weight") = py::none(), py::arg("weight_grad") = py::none(),
        py::arg("bias_grad") = py::none(), py::arg("accumulate") = true, py::arg("need_dx") = true,
        "Return dx (or None); accumulate dweight = Σ dy x̂ and dbias = Σ dy in place.");
  m.def("batch_norm_forward", by_dtype(PYSSL_FLOATS(batch_norm_forward), "x"), py::arg("x"),
        py::arg("weight") = py::none(), py::arg("bias") = py::none(), py::arg("running_mean") = py::none(),
        py::arg("running_var") = py::none(), py::arg("relu") = false, py::arg("training") = true,
        py::arg("momentum") = 0.1, py::arg("eps") = 1e-5, py::arg("given_mean") = py::none(),
        py::arg("given_var") = py::none(), py::arg("given_count") = 0.0,
        "BatchNorm1d on x (N, D), then ReLU when relu=True; returns (y, mean, rstd) per feature. Training mode updates the "
        "running stats in place (unbiased variance, momentum m: r = (1-m) r + m batch). given_mean / "
        "given_var (float64, biased) over given_count rows replace the batch statistics (synchronised "
        "BatchNorm).");
  m.def("batch_norm_moments", by_dtype(PYSSL_FLOATS(batch_norm_moments), "x"), py::arg("x"),
        "Per-feature (mean, M2 = sum of squared deviations) of x (N, D), float64, fixed order.");
  m.def("batch_norm_backward", by_dtype(PYSSL_FLOATS(batch_norm_backward), "x"), py::arg("x"), py::arg("mean"),
        py::arg("rstd"), py::arg("grad_output"), py::arg("weight") = py::none(), py::arg("weight_grad") = py::none(),
        py::arg("bias_grad") = py::none(), py::arg("training") = true, py::arg("accumulate") = true,
        py::arg("need_dx") = true, py::arg("given_sums") = py::none(), py::arg("given_count") = 0.0,
        py::arg("y") = py::none(), py::arg("relu") = false,
        "Return dx (or None; training mode differentiates the batch statistics; relu=True reads the "
        "gradient through the mask y > 0 of the forward output y); accumulate "
        "dweight, dbias in place. given_sums (float64 (2D,): sum dy, then sum dy*xhat over given_count "
        "rows) replace the batch sums in dx (synchronised BatchNorm).");
  m.def("softmax_forward", by_dtype(PYSSL_FLOATS(softmax_forward), "x"), py::arg("x"), py::arg("log") = false,
        "Softmax (or log-softmax with log=True) over the last dim, max-shifted.");
  m.def("softmax_backward", by_dtype(PYSSL_FLOATS(softmax_backward), "y"), py::arg("y"), py::arg("grad_output"),
        py::arg("log") = false, "dx from the forward output y.");
  m.def("dropout_forward", by_dtype(PYSSL_FLOATS(dropout_forward), "x"), py::arg("x"), py::arg("p"),
        py::arg("seed"), py::arg("step"),
        "Inverted dropout: returns (y, mask uint8); element i uses word i of Philox stream (seed, step).");
  m.def("dropout_backward", by_dtype(PYSSL_FLOATS(dropout_backward), "grad_output"), py::arg("grad_output"),
        py::arg("mask"), py::arg("p"), "dx = grad_output * mask / (1 - p).");
  m.def("cross_entropy", by_dtype(PYSSL_FLOATS(cross_entropy), "logits"), py::arg("logits"), py::arg("labels"),
        py::arg("label_smoothing") = 0.0, py::arg("need_grad") = true,
        "Fused log-softmax + cross-entropy (mean over N) + gradient: returns (loss, dlogits or None).");
  m.def("mse", by_dtype(PYSSL_FLOATS(mse), "pred"), py::arg("pred"), py::arg("target"),
        py::arg("need_grad") = true,
        "Mean squared error over all elements and its gradient: returns (loss, dpred or None).");
}

}  // namespace pyssl::bind
