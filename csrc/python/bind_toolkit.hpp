// The binding toolkit: every csrc/python/register_*.cpp is written with these few pieces, so a
// binding reads as "these arguments, these outputs, this kernel" and nothing else.
//
//   template <class T>                               // one body for float32 and float64
//   py::tuple negative_cosine(const py::array& p_, const py::array& z_, double shift, double scale) {
//     auto p = arg_nd<T>(p_, "p", 2);                // dtype T, 2-D, C-contiguous, or a named error
//     auto z = arg<T>(z_, "z", p.shape(), "z (must match p)");   // ... and exactly p's shape
//     auto dp = out<T>(p.shape());                   // fresh output from the buffer cache
//     Workspace ws(loss::negative_cosine_workspace<T>(p.dim(0)));  // the kernel sizes its scratch
//     double l = nogil([&] { return loss::negative_cosine<T>(p, z, p.dim(0), p.dim(1), T(shift), T(scale), dp, ws); });
//     return py::make_tuple(l, dp.array());
//   }
//   ...
//   m.def("negative_cosine", by_dtype(PYSSL_FLOATS(negative_cosine), "p"), py::arg("p"), ...);
//
// Pieces (all in namespace pyssl::bind):
//   arg<T>(a, name, shape [, label])           read-only input of that exact shape: Array<const T>
//   arg_nd<T>(a, name, ndim)                   read-only input of that rank (-1: any)
//   inplace<T> / inplace_nd<T>(a, name, ...)   buffer written in place (never cast): Array<T>
//   opt_arg<T> / opt_inplace<T>(obj, name, shape) the same for a py::object that may be None
//                                              (the view is null and .given false then)
//   arg<std::int64_t>, arg<std::uint8_t>       integer inputs: the dtype test is numpy's dtype
//                                              equivalence (PyArray_EquivTypes through
//                                              has_dtype), so unpickled, memory-mapped or
//                                              `dtype("int64")`-built arrays all pass; never test
//                                              `a.dtype().is(...)` (identity) in a binding
//   out<T>(shape), out_if<T>(need, shape)      outputs from the buffer cache (.array(), or
//                                              .or_none() for an output the caller may skip)
//   Workspace ws(bytes)                        kernel scratch from the buffer cache; the byte
//                                              count always comes from the kernel's own
//                                              `<kernel>_workspace(...)` (core/workspace.hpp)
//   nogil(f)                                   run f() with the GIL released, return its value
//   by_dtype<I>(f32, f64, name)                one pybind11-visible function that calls f32 or
//                                              f64 by the dtype of argument I (default 0) and
//                                              raises TypeError naming `name` for any other
//   positive / nonnegative / in_unit / finite  scalar checks with the argument's name
//
// Error policy (unchanged from convert.hpp, which this header builds on): wrong dtype ->
// TypeError, wrong shape / layout / value -> ValueError, each naming the argument, what it must
// be, and what it got (shape and dtype). Validate everything before the first allocation and
// before releasing the GIL; kernels do the math, bindings none.
#pragma once
#include <cmath>
#include <cstddef>
#include <tuple>
#include <utility>
#include <vector>

#include "python/convert.hpp"

namespace pyssl::bind {

using Shape = std::vector<index_t>;

inline Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

// A validated numpy array seen as T* (T const for read-only inputs). Converts to T* so it can be
// passed straight to a kernel; `obj` keeps the array alive (a default-constructed py::array would
// allocate an empty numpy array, so the view holds a plain object and reads the array header).
template <class T>
struct Array {
  T* data = nullptr;
  py::object obj;
  bool given = false;

  operator T*() const { return data; }
  py::array array() const { return py::reinterpret_borrow<py::array>(obj); }
  int ndim() const { return py::detail::array_proxy(obj.ptr())->nd; }
  index_t dim(int i) const {
    const auto* a = py::detail::array_proxy(obj.ptr());
    return index_t(a->dimensions[i < 0 ? a->nd + i : i]);
  }
  index_t size() const {
    index_t n = 1;
    for (int i = 0; i < ndim(); ++i) n *= dim(i);
    return n;
  }
  Shape shape() const {
    const auto* a = py::detail::array_proxy(obj.ptr());
    return Shape(a->dimensions, a->dimensions + a->nd);
  }
  // Last axis, and the number of rows of length last() (1 for a 0-D array).
  index_t last() const { return ndim() >= 1 ? dim(-1) : 1; }
  index_t rows() const { return last() > 0 ? size() / last() : 0; }
};

namespace detail {
template <class T>
Array<T> view(const py::array& a, T* p) {
  Array<T> v;
  v.data = p;
  v.obj = a;
  v.given = true;
  return v;
}
}  // namespace detail

// ---- inputs ---------------------------------------------------------------------------------
// (Two names, not overloads, so that a braced shape {n} can never be read as a rank.)

// Read-only input of dtype T with exactly `shape`; `label` replaces the name in the shape error
// ("z2 (must match z1)").
template <class T>
Array<const T> arg(const py::array& a, const char* name, const Shape& shape, const char* label = nullptr) {
  const T* p = in<T>(a, name);  // dtype, layout; the rank is part of the shape message
  check_shape(a, shape, label != nullptr ? label : name);
  return detail::view(a, p);
}

// Read-only input of dtype T and rank ndim (-1: any rank).
template <class T>
Array<const T> arg_nd(const py::array& a, const char* name, int ndim = -1) {
  return detail::view(a, in<T>(a, name, ndim));
}

// Buffer written in place: exact dtype, contiguous, writeable, never cast.
template <class T>
Array<T> inplace(py::array& a, const char* name, const Shape& shape, const char* label = nullptr) {
  T* p = inout<T>(a, name);
  check_shape(a, shape, label != nullptr ? label : name);
  return detail::view(a, p);
}

template <class T>
Array<T> inplace_nd(py::array& a, const char* name, int ndim = -1) {
  return detail::view(a, inout<T>(a, name, ndim));
}

// Optional inputs: None gives a null view (given == false).
template <class T>
Array<const T> opt_arg(const py::object& o, const char* name, const Shape& shape) {
  if (o.is_none()) return {};
  return arg<T>(o.cast<py::array>(), name, shape);
}

template <class T>
Array<T> opt_inplace(const py::object& o, const char* name, const Shape& shape) {
  if (o.is_none()) return {};
  py::array a = o.cast<py::array>();
  return inplace<T>(a, name, shape);
}

// ---- outputs and scratch --------------------------------------------------------------------

template <class T>
struct Out {
  py::object obj;  // the array (a plain object: see Array)
  T* data = nullptr;

  operator T*() const { return data; }
  py::array array() { return py::reinterpret_steal<py::array>(obj.release()); }
  py::object or_none() { return data != nullptr ? std::move(obj) : py::object(py::none()); }
};

// A fresh C-contiguous array from the buffer cache (see convert.hpp's empty()).
template <class T>
Out<T> out(const Shape& shape) {
  Out<T> o;
  py::array_t<T> a = empty<T>(shape);
  o.data = a.mutable_data();
  o.obj = std::move(a);
  return o;
}

// An output the caller may not want (need_dx=False): null, returned as None.
template <class T>
Out<T> out_if(bool need, const Shape& shape) {
  return need ? out<T>(shape) : Out<T>{};
}

// Kernel scratch of `bytes` bytes from the buffer cache, handed back when the binding returns.
// Size it with the kernel's `<kernel>_workspace(...)`, never by hand.
class Workspace {
 public:
  explicit Workspace(std::size_t bytes) : p_(memory::acquire(bytes > 0 ? bytes : 1)) {}
  ~Workspace() { memory::release(p_); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  operator void*() const { return p_; }
  template <class U>
  U* as() const { return static_cast<U*>(p_); }

 private:
  void* p_;
};

// ---- the call -------------------------------------------------------------------------------

// f() with the GIL released (validate and allocate before; touch no Python object inside).
template <class F>
decltype(auto) nogil(F&& f) {
  py::gil_scoped_release release;
  return f();
}

// One function with f32's signature that runs f32 or f64 by the dtype of argument I.
template <std::size_t I = 0, class R, class... A>
auto by_dtype(R (*f32)(A...), R (*f64)(A...), const char* name) {
  return [f32, f64, name](A... args) -> R {
    const py::array& a = std::get<I>(std::forward_as_tuple(args...));
    if (has_dtype<float>(a)) return f32(std::forward<A>(args)...);
    if (has_dtype<double>(a)) return f64(std::forward<A>(args)...);
    throw py::type_error(std::string(name) + " must be float32 or float64, got " + describe(a));
  };
}
#define PYSSL_FLOATS(fn) &fn<float>, &fn<double>

// ---- scalar checks --------------------------------------------------------------------------

inline void positive(double v, const char* name) {
  if (!(v > 0.0) || !std::isfinite(v)) fail(name, " must be a finite number > 0, got ", v);
}
inline void nonnegative(double v, const char* name) {
  if (!(v >= 0.0) || !std::isfinite(v)) fail(name, " must be a finite number >= 0, got ", v);
}
inline void in_unit(double v, const char* name) {
  if (!(v >= 0.0 && v <= 1.0)) fail(name, " must be in [0, 1], got ", v);
}
inline void finite(double v, const char* name) {
  if (!std::isfinite(v)) fail(name, " must be finite, got ", v);
}

}  // namespace pyssl::bind
