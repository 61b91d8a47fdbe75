// Layer kernels: dense, activations (and, later, norms, dropout, softmax, supervised losses).
// Pattern: validate + allocate with the GIL held, release it around the kernel, return.
#include "nn/activation.hpp"
#include "nn/dense.hpp"
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
}

}  // namespace pyssl::bind
