// Shared argument handling of the convolution bindings (register_conv.cpp: im2col kernels;
// register_conv_engine.cpp: oneDNN): the ConvShape of an input (N, C, H, W) and a weight
// (O, C, KH, KW) with stride, padding, dilation and optional (bottom, right) padding.
#pragma once
#include <utility>

#include <pybind11/stl.h>

#include "nn/conv.hpp"
#include "python/bind_toolkit.hpp"

namespace pyssl::bind {

using ConvPair = std::pair<index_t, index_t>;

// padding_end: None (the same as padding) or the (bottom, right) padding. Checks that the weight's
// channels match C and that the geometry gives a non-empty output (ConvShape::validate).
inline nn::ConvShape conv_shape_of(index_t n, index_t c, index_t h, index_t w, const py::array& weight,
                                   ConvPair stride, ConvPair padding, ConvPair dilation,
                                   const py::object& padding_end) {
  check_ndim(weight, 4, "weight");
  nn::ConvShape s{n, c, h, w, dim(weight, 0), dim(weight, 2), dim(weight, 3),
                  stride.first, stride.second, padding.first, padding.second};
  s.dh = dilation.first;
  s.dw = dilation.second;
  if (present(padding_end)) {
    const auto pe = padding_end.cast<ConvPair>();
    if (pe.first < 0 || pe.second < 0) fail("conv: padding_end must be >= 0, got (", pe.first, ", ", pe.second, ")");
    s.ph_end = pe.first;
    s.pw_end = pe.second;
  }
  if (dim(weight, 1) != c) fail("conv: x has ", c, " channels but weight is ", describe(weight), " (O, C, KH, KW)");
  s.validate();
  return s;
}

}  // namespace pyssl::bind
