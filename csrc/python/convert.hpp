// numpy <-> raw pointer conversion and validation for the bindings: the low-level layer under
// python/bind_toolkit.hpp. New bindings should use the toolkit (arg / inplace / out / Workspace /
// nogil / by_dtype); dispatch_float here stays for code written against it.
//
// Policy (see DESIGN.md): inputs must already have the kernel's dtype and be C-contiguous —
// the Python layer (pyssl/_validation.py) casts read-only inputs before calling; buffers that a
// kernel writes into (parameters, gradients, optimizer state, out=) are never cast, since a write
// into a silent copy would be lost. Errors name the argument, its shape and dtype:
// wrong dtype -> TypeError, wrong shape / layout / value -> ValueError.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <sstream>
#include <string>
#include <vector>

#include "core/check.hpp"
#include "memory/buffer_cache.hpp"

namespace pyssl::bind {

namespace py = pybind11;

inline std::string describe(const py::array& a) {
  std::ostringstream os;
  os << "shape (";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) os << ",";
  os << "), dtype " << std::string(py::str(a.dtype()));
  return os.str();
}

template <class T>
inline const char* dtype_name() {
  return sizeof(T) == 4 ? "float32" : "float64";
}

// dtype equivalence as numpy defines it (PyArray_EquivTypes): an unpickled or memory-mapped
// array has an equal but not identical dtype object, so identity (`dtype().is`) is wrong.
template <class T>
inline bool has_dtype(const py::array& a) {
  return py::isinstance<py::array_t<T>>(a);
}

template <class T>
inline void check_dtype(const py::array& a, const char* name) {
  if (!has_dtype<T>(a))
    throw py::type_error(std::string(name) + " must have dtype " + py::str(py::dtype::of<T>()).cast<std::string>() +
                         ", got " + describe(a));
}

inline void check_contiguous(const py::array& a, const char* name) {
  if (!(a.flags() & py::array::c_style))
    fail(name, " must be C-contiguous, got a strided view with ", describe(a),
         "; pass numpy.ascontiguousarray(", name, ")");
}

inline void check_ndim(const py::array& a, int ndim, const char* name) {
  if (ndim >= 0 && a.ndim() != ndim) fail(name, " must be ", ndim, "-D, got ", describe(a));
}

// Read-only input of dtype T.
template <class T>
inline const T* in(const py::array& a, const char* name, int ndim = -1) {
  check_dtype<T>(a, name);
  check_ndim(a, ndim, name);
  check_contiguous(a, name);
  return static_cast<const T*>(a.data());
}

// Buffer written in place: exact dtype, contiguous, writeable.
template <class T>
inline T* inout(py::array& a, const char* name, int ndim = -1) {
  check_dtype<T>(a, name);
  check_ndim(a, ndim, name);
  check_contiguous(a, name);
  if (!a.writeable()) fail(name, " must be writeable (it is updated in place), got a read-only array");
  return static_cast<T*>(a.mutable_data());
}

inline index_t dim(const py::array& a, int i) { return index_t(a.shape(i)); }

inline void check_shape(const py::array& a, const std::vector<index_t>& shape, const char* name) {
  bool ok = a.ndim() == py::ssize_t(shape.size());
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = index_t(a.shape(i)) == shape[i];
  if (!ok) {
    std::ostringstream os;
    os << "(";
    for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
    if (shape.size() == 1) os << ",";
    os << ")";
    fail(name, " must have shape ", os.str(), ", got ", describe(a));
  }
}

// A fresh, uninitialised C-contiguous array for a kernel to write. Its memory comes from the
// buffer cache (csrc/memory/buffer_cache.hpp) and goes back to it when numpy frees the array, so
// a loop producing the same shapes every step reuses memory that is already mapped.
template <class T>
inline py::array_t<T> empty(const std::vector<index_t>& shape) {
  std::vector<py::ssize_t> s(shape.begin(), shape.end());
  std::size_t count = 1;
  for (index_t v : shape) {
    if (v < 0) fail("internal: negative dimension ", v);
    count *= static_cast<std::size_t>(v);
  }
  void* p = memory::acquire(count * sizeof(T));
  py::capsule owner(p, [](void* q) { memory::release(q); });
  return py::array_t<T>(s, static_cast<T*>(p), owner);
}

// Call f(T{}) with T the floating dtype of `a` (float32 or float64).
template <class F>
inline auto dispatch_float(const py::array& a, const char* name, F&& f) {
  if (has_dtype<float>(a)) return f(float{});
  if (has_dtype<double>(a)) return f(double{});
  throw py::type_error(std::string(name) + " must be float32 or float64, got " + describe(a));
}

// Optional array (None allowed).
inline bool present(const py::object& o) { return !o.is_none(); }

}  // namespace pyssl::bind
