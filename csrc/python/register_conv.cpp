// Bindings for convolution and pooling kernels (csrc/nn/conv.*, csrc/nn/pool.*), registered into
// the `nn` submodule next to the other layer kernels.
#include "nn/conv.hpp"
#include "nn/pool.hpp"
#include <pybind11/stl.h>

#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

using Pair = std::pair<index_t, index_t>;

// padding_end: None (the same as padding) or the (bottom, right) padding.
void set_geometry(nn::ConvShape& s, Pair dilation, const py::object& padding_end) {
  s.dh = dilation.first;
  s.dw = dilation.second;
  if (present(padding_end)) {
    const auto pe = padding_end.cast<Pair>();
    if (pe.first < 0 || pe.second < 0) fail("conv: padding_end must be >= 0, got (", pe.first, ", ", pe.second, ")");
    s.ph_end = pe.first;
    s.pw_end = pe.second;
  }
}

nn::ConvShape conv_shape(const py::array& x, const py::array& w, Pair stride, Pair padding, Pair dilation,
                         const py::object& padding_end) {
  check_ndim(x, 4, "x");
  check_ndim(w, 4, "weight");
  nn::ConvShape s{dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3), dim(w, 0), dim(w, 2), dim(w, 3),
                  stride.first, stride.second, padding.first, padding.second};
  set_geometry(s, dilation, padding_end);
  if (dim(w, 1) != s.c) fail("conv: x has ", s.c, " channels but weight is ", describe(w), " (O, C, KH, KW)");
  s.validate();
  return s;
}

py::tuple conv2d_forward(const py::array& x, const py::array& w, const py::object& b,
                         Pair stride, Pair padding, Pair dilation, const py::object& padding_end) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const auto s = conv_shape(x, w, stride, padding, dilation, padding_end);
    const T* px = in<T>(x, "x", 4);
    const T* pw = in<T>(w, "weight", 4);
    const T* pb = nullptr;
    if (present(b)) {
      py::array ba = b.cast<py::array>();
      pb = in<T>(ba, "bias", 1);
      check_shape(ba, {s.o}, "bias");
    }
    auto cols = empty<T>({s.ck(), s.cols()});
    auto ytmp = empty<T>({s.o, s.cols()});
    auto y = empty<T>({s.n, s.o, s.ho(), s.wo()});
    T *pc = cols.mutable_data(), *pt = ytmp.mutable_data(), *py_ = y.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::conv2d_forward<T>(s, px, pw, pb, pc, pt, py_);
    }
    return py::make_tuple(std::move(y), std::move(cols));
  });
}

py::object conv2d_backward(const py::array& cols, const py::array& w, const py::array& dy,
                           std::vector<index_t> x_shape, py::array& dw, const py::object& db,
                           Pair stride, Pair padding, bool accumulate, bool need_dx, Pair dilation,
                           const py::object& padding_end) {
  return dispatch_float(w, "weight", [&](auto tag) -> py::object {
    using T = decltype(tag);
    if (x_shape.size() != 4) fail("conv: x_shape must have 4 entries");
    nn::ConvShape s{x_shape[0], x_shape[1], x_shape[2], x_shape[3], dim(w, 0), dim(w, 2), dim(w, 3),
                    stride.first, stride.second, padding.first, padding.second};
    set_geometry(s, dilation, padding_end);
    s.validate();
    const T* pcols = in<T>(cols, "cols", 2);
    check_shape(cols, {s.ck(), s.cols()}, "cols");
    const T* pw = in<T>(w, "weight", 4);
    check_shape(w, {s.o, s.c, s.kh, s.kw}, "weight");
    const T* pdy = in<T>(dy, "grad_output", 4);
    check_shape(dy, {s.n, s.o, s.ho(), s.wo()}, "grad_output");
    T* pdw = inout<T>(dw, "weight_grad", 4);
    check_shape(dw, {s.o, s.c, s.kh, s.kw}, "weight_grad");
    T* pdb = nullptr;
    py::array dba;
    if (present(db)) {
      dba = db.cast<py::array>();
      pdb = inout<T>(dba, "bias_grad", 1);
      check_shape(dba, {s.o}, "bias_grad");
    }
    auto dytmp = empty<T>({s.o, s.cols()});
    py::array_t<T> dcols, dx;
    T *pdcols = nullptr, *pdx = nullptr;
    if (need_dx) {
      dcols = empty<T>({s.ck(), s.cols()});
      dx = empty<T>({s.n, s.c, s.h, s.w});
      pdcols = dcols.mutable_data();
      pdx = dx.mutable_data();
    }
    T* pdt = dytmp.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::conv2d_backward<T>(s, pcols, pw, pdy, pdt, pdcols, pdx, pdw, pdb, accumulate);
    }
    if (!need_dx) return py::none();
    return std::move(dx);
  });
}

py::array gap_forward(const py::array& x) {
  return dispatch_float(x, "x", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 3);
    const index_t n = dim(x, 0), c = dim(x, 1), s = dim(x, 2);
    if (s < 1) fail("global_avg_pool: x must have a non-empty last axis, got ", describe(x));
    auto y = empty<T>({n, c});
    T* py_ = y.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::global_avg_pool_forward<T>(px, py_, n * c, s);
    }
    return std::move(y);
  });
}

py::array gap_backward(const py::array& dy, index_t s) {
  return dispatch_float(dy, "grad_output", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* pdy = in<T>(dy, "grad_output", 2);
    if (s < 1) fail("global_avg_pool: length must be >= 1");
    const index_t n = dim(dy, 0), c = dim(dy, 1);
    auto dx = empty<T>({n, c, s});
    T* pdx = dx.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::global_avg_pool_backward<T>(pdy, pdx, n * c, s);
    }
    return std::move(dx);
  });
}

}  // namespace

void register_conv(py::module_& m) {
  m.def("conv2d_forward", &conv2d_forward, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
        py::arg("stride") = std::make_pair(1, 1), py::arg("padding") = std::make_pair(0, 0),
        py::arg("dilation") = std::make_pair(1, 1), py::arg("padding_end") = py::none(),
        "y, cols = conv2d(x (N,C,H,W), weight (O,C,KH,KW), bias (O,)); cols is kept for backward. "
        "padding pads before (top, left), padding_end after (bottom, right; None: as padding).");
  m.def("conv2d_backward", &conv2d_backward, py::arg("cols"), py::arg("weight"), py::arg("grad_output"),
        py::arg("x_shape"), py::arg("weight_grad"), py::arg("bias_grad") = py::none(),
        py::arg("stride") = std::make_pair(1, 1), py::arg("padding") = std::make_pair(0, 0),
        py::arg("accumulate") = true, py::arg("need_dx") = true, py::arg("dilation") = std::make_pair(1, 1),
        py::arg("padding_end") = py::none());
  m.def("global_avg_pool_forward", &gap_forward, py::arg("x"), "(N, C, S) -> (N, C) mean over S");
  m.def("global_avg_pool_backward", &gap_backward, py::arg("grad_output"), py::arg("length"));
}

}  // namespace pyssl::bind
