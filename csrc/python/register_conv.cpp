// Bindings for convolution and pooling kernels (csrc/nn/conv.*, csrc/nn/pool.*), registered into
// the `nn` submodule next to the other layer kernels.
#include "nn/conv.hpp"
#include "nn/pool.hpp"
#include <pybind11/stl.h>

#include "python/bind_toolkit.hpp"
#include "python/conv_args.hpp"

namespace pyssl::bind {

namespace {

using Pair = ConvPair;

nn::ConvShape conv_shape(const py::array& x, const py::array& w, Pair stride, Pair padding, Pair dilation,
                         const py::object& padding_end) {
  check_ndim(x, 4, "x");
  return conv_shape_of(dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3), w, stride, padding, dilation, padding_end);
}

template <class T>
py::tuple conv2d_forward(const py::array& x_, const py::array& w_, const py::object& b_, Pair stride,
                         Pair padding, Pair dilation, const py::object& padding_end) {
  const auto s = conv_shape(x_, w_, stride, padding, dilation, padding_end);
  auto x = arg_nd<T>(x_, "x", 4);
  auto w = arg_nd<T>(w_, "weight", 4);
  auto b = opt_arg<T>(b_, "bias", {s.o});
  auto cols = out<T>({s.ck(), s.cols()});
  auto y = out<T>({s.n, s.o, s.ho(), s.wo()});
  Workspace ws(nn::conv2d_forward_workspace<T>(s));
  nogil([&] { nn::conv2d_forward<T>(s, x, w, b, cols, y, ws); });
  return py::make_tuple(y.array(), cols.array());
}

template <class T>
py::object conv2d_backward(const py::array& cols_, const py::array& w_, const py::array& dy_,
                           std::vector<index_t> x_shape, py::array& dw_, const py::object& db_, Pair stride,
                           Pair padding, bool accumulate, bool need_dx, Pair dilation,
                           const py::object& padding_end) {
  if (x_shape.size() != 4) fail("conv: x_shape must have 4 entries");
  const auto s = conv_shape_of(x_shape[0], x_shape[1], x_shape[2], x_shape[3], w_, stride, padding, dilation,
                               padding_end);
  auto cols = arg<T>(cols_, "cols", {s.ck(), s.cols()});
  auto w = arg<T>(w_, "weight", {s.o, s.c, s.kh, s.kw});
  auto dy = arg<T>(dy_, "grad_output", {s.n, s.o, s.ho(), s.wo()});
  auto dw = inplace<T>(dw_, "weight_grad", {s.o, s.c, s.kh, s.kw});
  auto db = opt_inplace<T>(db_, "bias_grad", {s.o});
  auto dx = out_if<T>(need_dx, {s.n, s.c, s.h, s.w});
  Workspace ws(nn::conv2d_backward_workspace<T>(s, need_dx));
  nogil([&] { nn::conv2d_backward<T>(s, cols, w, dy, dx, dw, db, accumulate, ws); });
  return dx.or_none();
}

template <class T>
py::array gap_forward(const py::array& x_) {
  auto x = arg_nd<T>(x_, "x", 3);
  const index_t n = x.dim(0), c = x.dim(1), s = x.dim(2);
  if (s < 1) fail("global_avg_pool: x must have a non-empty last axis, got ", describe(x_));
  auto y = out<T>({n, c});
  nogil([&] { nn::global_avg_pool_forward<T>(x, y, n * c, s); });
  return y.array();
}

template <class T>
py::array gap_backward(const py::array& dy_, index_t s) {
  auto dy = arg_nd<T>(dy_, "grad_output", 2);
  if (s < 1) fail("global_avg_pool: length must be >= 1");
  const index_t n = dy.dim(0), c = dy.dim(1);
  auto dx = out<T>({n, c, s});
  nogil([&] { nn::global_avg_pool_backward<T>(dy, dx, n * c, s); });
  return dx.array();
}

}  // namespace

void register_conv(py::module_& m) {
  m.def("conv2d_forward", by_dtype(PYSSL_FLOATS(conv2d_forward), "x"), py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
        py::arg("stride") = std::make_pair(1, 1), py::arg("padding") = std::make_pair(0, 0),
        py::arg("dilation") = std::make_pair(1, 1), py::arg("padding_end") = py::none(),
        "y, cols = conv2d(x (N,C,H,W), weight (O,C,KH,KW), bias (O,)); cols is kept for backward. "
        "padding pads before (top, left), padding_end after (bottom, right; None: as padding).");
  m.def("conv2d_backward", by_dtype<1>(PYSSL_FLOATS(conv2d_backward), "weight"), py::arg("cols"), py::arg("weight"), py::arg("grad_output"),
        py::arg("x_shape"), py::arg("weight_grad"), py::arg("bias_grad") = py::none(),
        py::arg("stride") = std::make_pair(1, 1), py::arg("padding") = std::make_pair(0, 0),
        py::arg("accumulate") = true, py::arg("need_dx") = true, py::arg("dilation") = std::make_pair(1, 1),
        py::arg("padding_end") = py::none());
  m.def("global_avg_pool_forward", by_dtype(PYSSL_FLOATS(gap_forward), "x"), py::arg("x"), "(N, C, S) -> (N, C) mean over S");
  m.def("global_avg_pool_backward", by_dtype(PYSSL_FLOATS(gap_backward), "grad_output"), py::arg("grad_output"), py::arg("length"));
}

}  // namespace pyssl::bind
