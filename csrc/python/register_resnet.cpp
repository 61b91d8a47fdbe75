// Bindings for the ResNet layer kernels: channel batch normalisation fused with residual add and
// ReLU (csrc/nn/batchnorm2d.*), max pooling (csrc/nn/maxpool.*) and the im2col / input-gradient
// halves of a convolution (csrc/nn/im2col.*), registered into `nn`. Toolkit: python/bind_toolkit.hpp.
#include <cstdint>
#include <utility>
#include <vector>

#include <pybind11/stl.h>

#include "nn/batchnorm2d.hpp"
#include "nn/im2col.hpp"
#include "nn/maxpool.hpp"
#include "python/bind_toolkit.hpp"

namespace pyssl::bind {

namespace {

using Pair = std::pair<index_t, index_t>;

// x (N, C, S...) with ndim 3 or 4, non-empty, viewed as (N, C, S).
template <class T>
Array<const T> channels_arg(const py::array& a, const char* name, nn::ChannelShape& sh) {
  auto x = arg_nd<T>(a, name);
  if (x.ndim() != 3 && x.ndim() != 4) fail(name, " must be (N, C, T) or (N, C, H, W), got ", describe(a));
  if (x.size() == 0) fail(name, " must not be empty, got ", describe(a));
  sh = {x.dim(0), x.dim(1), x.size() / (x.dim(0) * x.dim(1))};
  return x;
}

void both_or_neither(const py::object& a, const char* na, const py::object& b, const char* nb) {
  if (present(a) != present(b)) fail(na, " and ", nb, " must be given together or both be None");
}

// --- BatchNorm2d / channel BatchNorm1d ---------------------------------------------------------

template <class T>
py::tuple bn_channels_forward(const py::array& x_, const py::object& weight, const py::object& bias,
                              const py::object& running_mean, const py::object& running_var,
                              const py::object& residual, bool relu, bool training, double momentum, double eps,
                              const py::object& given_mean, const py::object& given_var, double given_count) {
  nn::ChannelShape sh{};
  auto x = channels_arg<T>(x_, "x", sh);
  if (training && sh.n * sh.s < 2)
    fail("batch_norm: training mode needs at least 2 values per channel (N·spatial >= 2), got x with ",
         describe(x_), " (use eval mode, or a larger batch)");
  if (!(eps > 0)) fail("batch_norm: eps must be > 0, got ", eps);
  if (!(momentum >= 0 && momentum <= 1)) fail("batch_norm: momentum must be in [0, 1], got ", momentum);
  both_or_neither(weight, "weight", bias, "bias");
  both_or_neither(running_mean, "running_mean", running_var, "running_var");
  if (!training && !present(running_mean)) fail("batch_norm: eval mode needs running_mean and running_var");
  auto w = opt_arg<T>(weight, "weight", {sh.c});
  auto b = opt_arg<T>(bias, "bias", {sh.c});
  // Running statistics are written only in training mode; eval mode reads them (read-only ok).
  auto running = [&](const py::object& o, const char* name) {
    return training ? opt_inplace<T>(o, name, {sh.c}).data : const_cast<T*>(opt_arg<T>(o, name, {sh.c}).data);
  };
  T* rm = running(running_mean, "running_mean");
  T* rv = running(running_var, "running_var");
  auto res = opt_arg<T>(residual, "residual", x.shape());
  both_or_neither(given_mean, "given_mean", given_var, "given_var");
  auto gm = opt_arg<double>(given_mean, "given_mean", {sh.c});
  auto gv = opt_arg<double>(given_var, "given_var", {sh.c});
  if (gm.given && !training) fail("batch_norm: given statistics are used in training mode only");
  if (gm.given && !(given_count >= 2))
    fail("batch_norm: given_count must be the global number of values per channel (>= 2), got ", given_count);
  auto y = out<T>(x.shape());
  auto mean = out<T>({sh.c}), rstd = out<T>({sh.c});
  nogil([&] {
    nn::batch_norm_channels_forward<T>(sh, x, w, b, res, relu, rm, rv, y, mean, rstd, training, momentum, eps, gm, gv,
                                       given_count);
  });
  return py::make_tuple(y.array(), mean.array(), rstd.array());
}

template <class T>
py::tuple bn_channels_moments(const py::array& x_) {
  nn::ChannelShape sh{};
  auto x = channels_arg<T>(x_, "x", sh);
  auto mean = out<double>({sh.c}), m2 = out<double>({sh.c});
  nogil([&] { nn::batch_norm_channels_moments<T>(sh, x, mean, m2); });
  return py::make_tuple(mean.array(), m2.array());
}

template <class T>
py::tuple bn_channels_backward(const py::array& x_, const py::array& mean_, const py::array& rstd_,
                               const py::array& dy_, const py::object& weight, const py::object& y_, bool relu,
                               const py::object& weight_grad, const py::object& bias_grad, bool training,
                               bool accumulate, bool need_dx, bool need_dres, const py::object& given_sums,
                               double given_count) {
  nn::ChannelShape sh{};
  auto x = channels_arg<T>(x_, "x", sh);
  auto mean = arg<T>(mean_, "mean", {sh.c});
  auto rstd = arg<T>(rstd_, "rstd", {sh.c});
  auto dy = arg<T>(dy_, "grad_output", x.shape());
  auto w = opt_arg<T>(weight, "weight", {sh.c});
  auto gw = opt_inplace<T>(weight_grad, "weight_grad", {sh.c});
  auto gb = opt_inplace<T>(bias_grad, "bias_grad", {sh.c});
  if (gw.given && !w.given) fail("batch_norm_backward: weight_grad given without weight");
  if (relu && !present(y_)) fail("batch_norm_backward: relu=True needs the forward output y");
  auto y = relu ? opt_arg<T>(y_, "y", x.shape()) : Array<const T>{};
  auto gs = opt_arg<double>(given_sums, "given_sums", {2 * sh.c});
  if (gs.given && !(given_count >= 1))
    fail("batch_norm_backward: given_count must be the global number of values per channel (>= 1), got ",
         given_count);
  auto dx = out_if<T>(need_dx, x.shape());
  auto dres = out_if<T>(need_dres, x.shape());
  nogil([&] {
    nn::batch_norm_channels_backward<T>(sh, x, mean, rstd, w, y, relu, dy, dx, dres, gw, gb, training, accumulate, gs,
                                        given_count);
  });
  return py::make_tuple(dx.or_none(), dres.or_none());
}

// --- max pooling -------------------------------------------------------------------------------

nn::PoolShape pool_shape(const std::vector<index_t>& x, Pair k, Pair st, Pair pad) {
  if (x.size() != 4) fail("max_pool: x must be 4-D (N, C, H, W)");
  nn::PoolShape s{x[0], x[1], x[2], x[3], k.first, k.second, st.first, st.second, pad.first, pad.second};
  s.validate();
  return s;
}

template <class T>
py::tuple max_pool2d_forward(const py::array& x_, Pair kernel, Pair stride, Pair padding) {
  auto x = arg_nd<T>(x_, "x", 4);
  const auto s = pool_shape(x.shape(), kernel, stride, padding);
  auto y = out<T>({s.n, s.c, s.ho(), s.wo()});
  auto argmax = out<std::int32_t>({s.n, s.c, s.ho(), s.wo()});
  nogil([&] { nn::max_pool2d_forward<T>(s, x, y, argmax); });
  return py::make_tuple(y.array(), argmax.array());
}

template <class T>
py::array max_pool2d_backward(const py::array& argmax_, const py::array& dy_, std::vector<index_t> x_shape,
                              Pair kernel, Pair stride, Pair padding) {
  const auto s = pool_shape(x_shape, kernel, stride, padding);
  auto dy = arg_nd<T>(dy_, "grad_output", 4);
  check_shape(dy_, {s.n, s.c, s.ho(), s.wo()}, "grad_output");
  auto argmax = arg_nd<std::int32_t>(argmax_, "argmax", 4);
  check_shape(argmax_, {s.n, s.c, s.ho(), s.wo()}, "argmax");
  auto dx = out<T>({s.n, s.c, s.h, s.w});
  nogil([&] { nn::max_pool2d_backward<T>(s, argmax, dy, dx); });
  return dx.array();
}

// --- im2col and the convolution input gradient -------------------------------------------------

template <class T>
py::array im2col(const py::array& x_, Pair kernel, Pair stride, Pair padding) {
  auto x = arg_nd<T>(x_, "x", 4);
  nn::Im2colShape s{x.dim(0), x.dim(1), x.dim(2), x.dim(3), kernel.first, kernel.second,
                    stride.first, stride.second, padding.first, padding.second};
  s.validate();
  auto cols = out<T>({s.c * s.kh * s.kw, s.n * s.ho() * s.wo()});
  nogil([&] { nn::im2col_nchw<T>(s, x, cols); });
  return cols.array();
}

template <class T>
py::array conv2d_input_grad(const py::array& w_, const py::array& dy_, std::vector<index_t> x_shape, Pair stride,
                            Pair padding) {
  if (x_shape.size() != 4) fail("conv2d_input_grad: x_shape must have 4 entries (N, C, H, W)");
  auto w = arg_nd<T>(w_, "weight", 4);
  if (w.dim(1) != x_shape[1]) fail("conv2d_input_grad: x has ", x_shape[1], " channels but weight is ", describe(w_));
  nn::Im2colShape s{x_shape[0], x_shape[1], x_shape[2], x_shape[3], w.dim(2), w.dim(3),
                    stride.first, stride.second, padding.first, padding.second};
  s.validate();
  const index_t o = w.dim(0);
  auto dy = arg_nd<T>(dy_, "grad_output", 4);
  check_shape(dy_, {s.n, o, s.ho(), s.wo()}, "grad_output");
  auto dx = out<T>({s.n, s.c, s.h, s.w});
  Workspace ws(nn::conv2d_input_grad_workspace<T>(s, o));
  nogil([&] { nn::conv2d_input_grad<T>(s, o, w, dy, dx, ws); });
  return dx.array();
}

}  // namespace

void register_resnet(py::module_& m) {
  m.def("batch_norm_channels_forward", by_dtype(PYSSL_FLOATS(bn_channels_forward), "x"), py::arg("x"),
        py::arg("weight") = py::none(), py::arg("bias") = py::none(), py::arg("running_mean") = py::none(),
        py::arg("running_var") = py::none(), py::arg("residual") = py::none(), py::arg("relu") = false,
        py::arg("training") = true, py::arg("momentum") = 0.1, py::arg("eps") = 1e-5,
        py::arg("given_mean") = py::none(), py::arg("given_var") = py::none(), py::arg("given_count") = 0.0,
        "BatchNorm over channels of x (N, C, T) or (N, C, H, W), then + residual, then ReLU (each optional); "
        "returns (y, mean, rstd) per channel.");
  m.def("batch_norm_channels_moments", by_dtype(PYSSL_FLOATS(bn_channels_moments), "x"), py::arg("x"),
        "Per-channel (mean, M2) of x (N, C, ...), float64, fixed order.");
  m.def("batch_norm_channels_backward", by_dtype(PYSSL_FLOATS(bn_channels_backward), "x"), py::arg("x"),
        py::arg("mean"), py::arg("rstd"), py::arg("grad_output"), py::arg("weight") = py::none(),
        py::arg("y") = py::none(), py::arg("relu") = false, py::arg("weight_grad") = py::none(),
        py::arg("bias_grad") = py::none(), py::arg("training") = true, py::arg("accumulate") = true,
        py::arg("need_dx") = true, py::arg("need_dres") = false, py::arg("given_sums") = py::none(),
        py::arg("given_count") = 0.0,
        "Returns (dx or None, d_residual or None); accumulates (or writes) weight_grad / bias_grad.");
  m.def("im2col", by_dtype(PYSSL_FLOATS(im2col), "x"), py::arg("x"), py::arg("kernel_size"),
        py::arg("stride") = std::make_pair(1, 1), py::arg("padding") = std::make_pair(0, 0),
        "cols (C*KH*KW, N*HO*WO) of x (N, C, H, W), the layout conv2d_forward returns and conv2d_backward takes.");
  m.def("conv2d_input_grad", by_dtype(PYSSL_FLOATS(conv2d_input_grad), "weight"), py::arg("weight"),
        py::arg("grad_output"), py::arg("x_shape"), py::arg("stride") = std::make_pair(1, 1),
        py::arg("padding") = std::make_pair(0, 0),
        "dx of y = conv2d(x, weight) (no bias): Wᵀ·dY then a vectorised col2im; equals conv2d_backward's dx.");
  m.def("max_pool2d_forward", by_dtype(PYSSL_FLOATS(max_pool2d_forward), "x"), py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = std::make_pair(0, 0), "y, argmax (int32 index into each H·W plane)");
  m.def("max_pool2d_backward", by_dtype<1>(PYSSL_FLOATS(max_pool2d_backward), "grad_output"), py::arg("argmax"),
        py::arg("grad_output"), py::arg("x_shape"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding") = std::make_pair(0, 0));
}

}  // namespace pyssl::bind
