// Mixed precision: bfloat16 conversion, the bf16 GEMM engine's status, and the dense layer's
// bf16-product kernels (nn/dense.hpp). bfloat16 arrays travel as numpy uint16 (their bit pattern).
#include <cstdint>

#include "blas/blas_api.hpp"
#include "core/bf16.hpp"
#include "nn/dense.hpp"
#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

py::array to_bf16_array(const py::array& x) {
  const float* px = in<float>(x, "x");
  std::vector<index_t> shape(x.shape(), x.shape() + x.ndim());
  auto out = empty<bf16_t>(shape);
  bf16_t* po = out.mutable_data();
  const index_t n = index_t(x.size());
  {
    py::gil_scoped_release nogil;
    to_bf16(px, po, n);
  }
  return std::move(out);
}

py::array from_bf16_array(const py::array& x) {
  const bf16_t* px = in<bf16_t>(x, "x");
  std::vector<index_t> shape(x.shape(), x.shape() + x.ndim());
  auto out = empty<float>(shape);
  float* po = out.mutable_data();
  const index_t n = index_t(x.size());
  {
    py::gil_scoped_release nogil;
    from_bf16(px, po, n);
  }
  return std::move(out);
}

// Returns (y, xb, wb): the output and the bf16 operands kept for backward.
py::tuple dense_forward_bf16(const py::array& x, const py::array& w, const py::object& b) {
  const float* px = in<float>(x, "x", 2);
  const float* pw = in<float>(w, "weight", 2);
  const index_t n = dim(x, 0), i = dim(x, 1), o = dim(w, 1);
  if (dim(w, 0) != i) fail("dense: x has ", i, " features but weight is ", describe(w), " (in, out)");
  const float* pb = nullptr;
  py::array ba;
  if (present(b)) {
    ba = b.cast<py::array>();
    pb = in<float>(ba, "bias", 1);
    check_shape(ba, {o}, "bias");
  }
  auto y = empty<float>({n, o});
  auto xb = empty<bf16_t>({n, i});
  auto wb = empty<bf16_t>({i, o});
  float* py_ = y.mutable_data();
  bf16_t *pxb = xb.mutable_data(), *pwb = wb.mutable_data();
  {
    py::gil_scoped_release nogil;
    nn::dense_forward_bf16(px, pw, pb, py_, pxb, pwb, n, i, o);
  }
  return py::make_tuple(std::move(y), std::move(xb), std::move(wb));
}

// Returns dx (or None when need_dx is false); accumulates into dw / db.
py::object dense_backward_bf16(const py::array& xb, const py::array& wb, const py::array& dy, py::array& dw,
                               const py::object& db, bool accumulate, bool need_dx) {
  const bf16_t* pxb = in<bf16_t>(xb, "x_bf16", 2);
  const bf16_t* pwb = in<bf16_t>(wb, "weight_bf16", 2);
  const index_t n = dim(xb, 0), i = dim(xb, 1), o = dim(wb, 1);
  check_shape(wb, {i, o}, "weight_bf16");
  const float* pdy = in<float>(dy, "grad_output", 2);
  check_shape(dy, {n, o}, "grad_output");
  float* pdw = inout<float>(dw, "weight_grad", 2);
  check_shape(dw, {i, o}, "weight_grad");
  float* pdb = nullptr;
  py::array dba;
  if (present(db)) {
    dba = db.cast<py::array>();
    pdb = inout<float>(dba, "bias_grad", 1);
    check_shape(dba, {o}, "bias_grad");
  }
  py::array_t<float> dx;
  float* pdx = nullptr;
  if (need_dx) {
    dx = empty<float>({n, i});
    pdx = dx.mutable_data();
  }
  auto dyb = empty<bf16_t>({n, o});
  bf16_t* pdyb = dyb.mutable_data();
  {
    py::gil_scoped_release nogil;
    nn::dense_backward_bf16(pxb, pwb, pdy, pdyb, pdx, pdw, pdb, n, i, o, accumulate);
  }
  if (!need_dx) return py::none();
  return std::move(dx);
}

}  // namespace

void register_precision(py::module_& m) {
  m.def("has_bf16_gemm", &blas::has_bf16_gemm, "True when pyssl was built with oneDNN (bf16 GEMM engine)");
  m.def("bf16_gemm_impl", []() { return std::string(blas::bf16_gemm_impl()); },
        "oneDNN implementation of the most recent bf16 GEMM primitive ('' before the first call)");
  m.def("to_bf16", &to_bf16_array, py::arg("x"), "float32 → bfloat16 bits (uint16), round to nearest even");
  m.def("from_bf16", &from_bf16_array, py::arg("x"), "bfloat16 bits (uint16) → float32 (exact)");
  m.def("dense_forward_bf16", &dense_forward_bf16, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
        "Y = b + bf16(X)·bf16(W), float32 sums; returns (Y, bf16(X), bf16(W))");
  m.def("dense_backward_bf16", &dense_backward_bf16, py::arg("x_bf16"), py::arg("weight_bf16"),
        py::arg("grad_output"), py::arg("weight_grad"), py::arg("bias_grad") = py::none(),
        py::arg("accumulate") = false, py::arg("need_dx") = true);
}

}  // namespace pyssl::bind
