// Bindings for the ResNet layer kernels: channel batch normalisation fused with residual add and
// ReLU (csrc/nn/batchnorm2d.*) and max pooling (csrc/nn/maxpool.*), registered into `nn`.
// Validation and allocation only; the GIL is released around every kernel.
#include <cstdint>
#include <utility>
#include <vector>

#include <pybind11/stl.h>

#include "nn/batchnorm2d.hpp"
#include "nn/im2col.hpp"
#include "nn/maxpool.hpp"
#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

std::vector<index_t> shape_vec(const py::array& a) { return std::vector<index_t>(a.shape(), a.shape() + a.ndim()); }

// x (N, C, S...) with ndim 3 or 4, non-empty, viewed as (N, C, S).
template <class T>
const T* channels_in(const py::array& x, const char* name, nn::ChannelShape& sh) {
  const T* p = in<T>(x, name);
  if (x.ndim() != 3 && x.ndim() != 4) fail(name, " must be (N, C, T) or (N, C, H, W), got ", describe(x));
  if (x.size() == 0) fail(name, " must not be empty, got ", describe(x));
  sh.n = dim(x, 0);
  sh.c = dim(x, 1);
  sh.s = index_t(x.size()) / (sh.n * sh.c);
  return p;
}

template <class T>
const T* vec_in(const py::object& o, const char* name, index_t d, py::array& keep) {
  if (!present(o)) return nullptr;
  keep = o.cast<py::array>();
  const T* p = in<T>(keep, name, 1);
  check_shape(keep, {d}, name);
  return p;
}

template <class T>
T* vec_out(const py::object& o, const char* name, index_t d, py::array& keep) {
  if (!present(o)) return nullptr;
  keep = o.cast<py::array>();
  T* p = inout<T>(keep, name, 1);
  check_shape(keep, {d}, name);
  return p;
}

void both_or_neither(const py::object& a, const char* na, const py::object& b, const char* nb) {
  if (present(a) != present(b)) fail(na, " and ", nb, " must be given together or both be None");
}

py::tuple bn_channels_forward(const py::array& x, const py::object& weight, const py::object& bias,
                              const py::object& running_mean, const py::object& running_var,
                              const py::object& residual, bool relu, bool training, double momentum, double eps,
                              const py::object& given_mean, const py::object& given_var, double given_count) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    nn::ChannelShape sh{};
    const T* px = channels_in<T>(x, "x", sh);
    if (training && sh.n * sh.s < 2)
      fail("batch_norm: training mode needs at least 2 values per channel (N·spatial >= 2), got x with ",
           describe(x), " (use eval mode, or a larger batch)");
    if (!(eps > 0)) fail("batch_norm: eps must be > 0, got ", eps);
    if (!(momentum >= 0 && momentum <= 1)) fail("batch_norm: momentum must be in [0, 1], got ", momentum);
    both_or_neither(weight, "weight", bias, "bias");
    both_or_neither(running_mean, "running_mean", running_var, "running_var");
    if (!training && !present(running_mean)) fail("batch_norm: eval mode needs running_mean and running_var");
    py::array wk, bk, rmk, rvk, rk, gmk, gvk;
    const T* pw = vec_in<T>(weight, "weight", sh.c, wk);
    const T* pb = vec_in<T>(bias, "bias", sh.c, bk);
    T* prm = training ? vec_out<T>(running_mean, "running_mean", sh.c, rmk)
                      : const_cast<T*>(vec_in<T>(running_mean, "running_mean", sh.c, rmk));
    T* prv = training ? vec_out<T>(running_var, "running_var", sh.c, rvk)
                      : const_cast<T*>(vec_in<T>(running_var, "running_var", sh.c, rvk));
    const T* pr = nullptr;
    if (present(residual)) {
      rk = residual.cast<py::array>();
      pr = in<T>(rk, "residual");
      check_shape(rk, shape_vec(x), "residual");
    }
    both_or_neither(given_mean, "given_mean", given_var, "given_var");
    const double* pgm = vec_in<double>(given_mean, "given_mean", sh.c, gmk);
    const double* pgv = vec_in<double>(given_var, "given_var", sh.c, gvk);
    if (pgm != nullptr && !training) fail("batch_norm: given statistics are used in training mode only");
    if (pgm != nullptr && !(given_count >= 2))
      fail("batch_norm: given_count must be the global number of values per channel (>= 2), got ", given_count);
    auto y = empty<T>(shape_vec(x));
    auto mean = empty<T>({sh.c});
    auto rstd = empty<T>({sh.c});
    T *py_ = y.mutable_data(), *pm = mean.mutable_data(), *ps = rstd.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::batch_norm_channels_forward<T>(sh, px, pw, pb, pr, relu, prm, prv, py_, pm, ps, training, momentum, eps,
                                         pgm, pgv, given_count);
    }
    return py::make_tuple(std::move(y), std::move(mean), std::move(rstd));
  });
}

py::tuple bn_channels_moments(const py::array& x) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    nn::ChannelShape sh{};
    const T* px = channels_in<T>(x, "x", sh);
    auto mean = empty<double>({sh.c});
    auto m2 = empty<double>({sh.c});
    double *pm = mean.mutable_data(), *pq = m2.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::batch_norm_channels_moments<T>(sh, px, pm, pq);
    }
    return py::make_tuple(std::move(mean), std::move(m2));
  });
}

py::tuple bn_channels_backward(const py::array& x, const py::array& mean, const py::array& rstd,
                               const py::array& dy, const py::object& weight, const py::object& y, bool relu,
                               const py::object& weight_grad, const py::object& bias_grad, bool training,
                               bool accumulate, bool need_dx, bool need_dres, const py::object& given_sums,
                               double given_count) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    nn::ChannelShape sh{};
    const T* px = channels_in<T>(x, "x", sh);
    const auto shape = shape_vec(x);
    const T* pm = in<T>(mean, "mean", 1);
    check_shape(mean, {sh.c}, "mean");
    const T* ps = in<T>(rstd, "rstd", 1);
    check_shape(rstd, {sh.c}, "rstd");
    const T* pdy = in<T>(dy, "grad_output");
    check_shape(dy, shape, "grad_output");
    py::array wk, gwk, gbk, yk, gsk;
    const T* pw = vec_in<T>(weight, "weight", sh.c, wk);
    T* pgw = vec_out<T>(weight_grad, "weight_grad", sh.c, gwk);
    T* pgb = vec_out<T>(bias_grad, "bias_grad", sh.c, gbk);
    if (pgw != nullptr && pw == nullptr) fail("batch_norm_backward: weight_grad given without weight");
    const T* pyv = nullptr;
    if (relu) {
      if (!present(y)) fail("batch_norm_backward: relu=True needs the forward output y");
      yk = y.cast<py::array>();
      pyv = in<T>(yk, "y");
      check_shape(yk, shape, "y");
    }
    const double* pgs = vec_in<double>(given_sums, "given_sums", 2 * sh.c, gsk);
    if (pgs != nullptr && !(given_count >= 1))
      fail("batch_norm_backward: given_count must be the global number of values per channel (>= 1), got ",
           given_count);
    py::object dx = py::none(), dres = py::none();
    T *pdx = nullptr, *pdr = nullptr;
    if (need_dx) {
      auto a = empty<T>(shape);
      pdx = a.mutable_data();
      dx = std::move(a);
    }
    if (need_dres) {
      auto a = empty<T>(shape);
      pdr = a.mutable_data();
      dres = std::move(a);
    }
    {
      py::gil_scoped_release nogil;
      nn::batch_norm_channels_backward<T>(sh, px, pm, ps, pw, pyv, relu, pdy, pdx, pdr, pgw, pgb, training,
                                          accumulate, pgs, given_count);
    }
    return py::make_tuple(dx, dres);
  });
}

nn::PoolShape pool_shape(const std::vector<index_t>& x, std::pair<index_t, index_t> k, std::pair<index_t, index_t> st,
                         std::pair<index_t, index_t> pad) {
  if (x.size() != 4) fail("max_pool: x must be 4-D (N, C, H, W)");
  nn::PoolShape s{x[0], x[1], x[2], x[3], k.first, k.second, st.first, st.second, pad.first, pad.second};
  s.validate();
  return s;
}

py::tuple max_pool2d_forward(const py::array& x, std::pair<index_t, index_t> kernel,
                             std::pair<index_t, index_t> stride, std::pair<index_t, index_t> padding) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 4);
    const auto s = pool_shape(shape_vec(x), kernel, stride, padding);
    auto y = empty<T>({s.n, s.c, s.ho(), s.wo()});
    auto arg = empty<std::int32_t>({s.n, s.c, s.ho(), s.wo()});
    T* py_ = y.mutable_data();
    std::int32_t* pa = arg.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::max_pool2d_forward<T>(s, px, py_, pa);
    }
    return py::make_tuple(std::move(y), std::move(arg));
  });
}

py::array max_pool2d_backward(const py::array& argmax, const py::array& dy, std::vector<index_t> x_shape,
                              std::pair<index_t, index_t> kernel, std::pair<index_t, index_t> stride,
                              std::pair<index_t, index_t> padding) {
  return dispatch_float(dy, "grad_output", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const auto s = pool_shape(x_shape, kernel, stride, padding);
    const T* pdy = in<T>(dy, "grad_output", 4);
    check_shape(dy, {s.n, s.c, s.ho(), s.wo()}, "grad_output");
    const std::int32_t* pa = in<std::int32_t>(argmax, "argmax", 4);
    check_shape(argmax, {s.n, s.c, s.ho(), s.wo()}, "argmax");
    auto dx = empty<T>({s.n, s.c, s.h, s.w});
    T* pdx = dx.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::max_pool2d_backward<T>(s, pa, pdy, pdx);
    }
    return std::move(dx);
  });
}

py::array im2col(const py::array& x, std::pair<index_t, index_t> kernel, std::pair<index_t, index_t> stride,
                 std::pair<index_t, index_t> padding) {
  return dispatch_float(x, "x", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 4);
    nn::Im2colShape s{dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3), kernel.first, kernel.second,
                      stride.first, stride.second, padding.first, padding.second};
    s.validate();
    auto cols = empty<T>({s.c * s.kh * s.kw, s.n * s.ho() * s.wo()});
    T* pc = cols.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::im2col_nchw<T>(s, px, pc);
    }
    return std::move(cols);
  });
}

py::array conv2d_input_grad(const py::array& w, const py::array& dy, std::vector<index_t> x_shape,
                            std::pair<index_t, index_t> stride, std::pair<index_t, index_t> padding) {
  return dispatch_float(w, "weight", [&](auto tag) -> py::array {
    using T = decltype(tag);
    if (x_shape.size() != 4) fail("conv2d_input_grad: x_shape must have 4 entries (N, C, H, W)");
    const T* pw = in<T>(w, "weight", 4);
    if (dim(w, 1) != x_shape[1]) fail("conv2d_input_grad: x has ", x_shape[1], " channels but weight is ", describe(w));
    nn::Im2colShape s{x_shape[0], x_shape[1], x_shape[2], x_shape[3], dim(w, 2), dim(w, 3),
                      stride.first, stride.second, padding.first, padding.second};
    s.validate();
    const index_t o = dim(w, 0), np_ = s.n * s.ho() * s.wo();
    const T* pdy = in<T>(dy, "grad_output", 4);
    check_shape(dy, {s.n, o, s.ho(), s.wo()}, "grad_output");
    auto dytmp = empty<T>({o, np_});
    auto dcols = empty<T>({s.c * s.kh * s.kw, np_});
    auto dx = empty<T>({s.n, s.c, s.h, s.w});
    T *pt = dytmp.mutable_data(), *pc = dcols.mutable_data(), *pdx = dx.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::conv2d_input_grad<T>(s, o, pw, pdy, pt, pc, pdx);
    }
    return std::move(dx);
  });
}

}  // namespace

void register_resnet(py::module_& m) {
  m.def("batch_norm_channels_forward", &bn_channels_forward, py::arg("x"), py::arg("weight") = py::none(),
        py::arg("bias") = py::none(), py::arg("running_mean") = py::none(), py::arg("running_var") = py::none(),
        py::arg("residual") = py::none(), py::arg("relu") = false, py::arg("training") = true,
        py::arg("momentum") = 0.1, py::arg("eps") = 1e-5, py::arg("given_mean") = py::none(),
        py::arg("given_var") = py::none(), py::arg("given_count") = 0.0,
        "BatchNorm over channels of x (N, C, T) or (N, C, H, W), then + residual, then ReLU (each optional); "
        "returns (y, mean, rstd) per channel.");
  m.def("batch_norm_channels_moments", &bn_channels_moments, py::arg("x"),
        "Per-channel (mean, M2) of x (N, C, ...), float64, fixed order.");
  m.def("batch_norm_channels_backward", &bn_channels_backward, py::arg("x"), py::arg("mean"), py::arg("rstd"),
        py::arg("grad_output"), py::arg("weight") = py::none(), py::arg("y") = py::none(), py::arg("relu") = false,
        py::arg("weight_grad") = py::none(), py::arg("bias_grad") = py::none(), py::arg("training") = true,
        py::arg("accumulate") = true, py::arg("need_dx") = true, py::arg("need_dres") = false,
        py::arg("given_sums") = py::none(), py::arg("given_count") = 0.0,
        "Returns (dx or None, d_residual or None); accumulates (or writes) weight_grad / bias_grad.");
  m.def("im2col", &im2col, py::arg("x"), py::arg("kernel_size"), py::arg("stride") = std::make_pair(1, 1),
        py::arg("padding") = std::make_pair(0, 0),
        "cols (C*KH*KW, N*HO*WO) of x (N, C, H, W), the layout conv2d_forward returns and conv2d_backward takes.");
  m.def("conv2d_input_grad", &conv2d_input_grad, py::arg("weight"), py::arg("grad_output"), py::arg("x_shape"),
        py::arg("stride") = std::make_pair(1, 1), py::arg("padding") = std::make_pair(0, 0),
        "dx of y = conv2d(x, weight) (no bias): Wᵀ·dY then a vectorised col2im; equals conv2d_backward's dx.");
  m.def("max_pool2d_forward", &max_pool2d_forward, py::arg("x"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding") = std::make_pair(0, 0), "y, argmax (int32 index into each H·W plane)");
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("argmax"), py::arg("grad_output"), py::arg("x_shape"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding") = std::make_pair(0, 0));
}

}  // namespace pyssl::bind
