// Mixed precision: bfloat16 conversion, the bf16 GEMM engine's status, and the dense layer's
// bf16-product kernels (nn/dense.hpp). bfloat16 arrays travel as numpy uint16 (their bit pattern).
#include <cstdint>
#include <string>

#include "blas/blas_api.hpp"
#include "core/bf16.hpp"
#include "nn/dense.hpp"
#include "python/bind_toolkit.hpp"

namespace pyssl::bind {

namespace {

py::array to_bf16_array(const py::array& x_) {
  auto x = arg_nd<float>(x_, "x", -1);
  auto y = out<bf16_t>(x.shape());
  nogil([&] { to_bf16(x, y, x.size()); });
  return y.array();
}

py::array from_bf16_array(const py::array& x_) {
  auto x = arg_nd<bf16_t>(x_, "x", -1);
  auto y = out<float>(x.shape());
  nogil([&] { from_bf16(x, y, x.size()); });
  return y.array();
}

// Returns (y, xb, wb): the output and the bf16 operands kept for backward. weight_bf16, when given,
// is bf16(weight) already (the optimizer's copy) and is used as wb instead of casting weight.
py::tuple dense_forward_bf16(const py::array& x_, const py::array& w_, const py::object& b_,
                             const py::object& wb_) {
  auto x = arg_nd<float>(x_, "x", 2);
  auto w = arg_nd<float>(w_, "weight", 2);
  const index_t n = x.dim(0), i = x.dim(1), o = w.dim(1);
  if (w.dim(0) != i) fail("dense: x has ", i, " features but weight is ", describe(w_), " (in, out)");
  auto b = opt_arg<float>(b_, "bias", {o});
  auto y = out<float>({n, o});
  auto xb = out<bf16_t>({n, i});
  if (!wb_.is_none()) {
    auto given = opt_arg<bf16_t>(wb_, "weight_bf16", {i, o});
    nogil([&] { nn::dense_forward_bf16(x, nullptr, b, y, xb, const_cast<bf16_t*>(given.data), n, i, o); });
    return py::make_tuple(y.array(), xb.array(), given.array());
  }
  auto wb = out<bf16_t>({i, o});
  nogil([&] { nn::dense_forward_bf16(x, w, b, y, xb, wb, n, i, o); });
  return py::make_tuple(y.array(), xb.array(), wb.array());
}

// Returns dx (or None when need_dx is false); accumulates into dw / db.
py::object dense_backward_bf16(const py::array& xb_, const py::array& wb_, const py::array& dy_, py::array& dw_,
                               const py::object& db_, bool accumulate, bool need_dx) {
  auto xb = arg_nd<bf16_t>(xb_, "x_bf16", 2);
  const index_t n = xb.dim(0), i = xb.dim(1);
  auto wb = arg_nd<bf16_t>(wb_, "weight_bf16", 2);
  const index_t o = wb.dim(1);
  check_shape(wb_, {i, o}, "weight_bf16");
  auto dy = arg<float>(dy_, "grad_output", {n, o});
  auto dw = inplace<float>(dw_, "weight_grad", {i, o});
  auto db = opt_inplace<float>(db_, "bias_grad", {o});
  auto dx = out_if<float>(need_dx, {n, i});
  auto dyb = out<bf16_t>({n, o});
  nogil([&] { nn::dense_backward_bf16(xb, wb, dy, dyb, dx, dw, db, n, i, o, accumulate); });
  return dx.or_none();
}

}  // namespace

void register_precision(py::module_& m) {
  m.def("has_bf16_gemm", &blas::has_bf16_gemm, "True when pyssl was built with oneDNN (bf16 GEMM engine)");
  m.def("bf16_native", &blas::bf16_native,
        "True when oneDNN runs bf16 products on this CPU; False: bf16-mixed is emulated by float32 products on "
        "bf16-rounded operands (x86 without AVX-512), or pyssl was built without oneDNN");
  m.def("bf16_gemm_impl", []() { return std::string(blas::bf16_gemm_impl()); },
        "oneDNN implementation of the most recent bf16 GEMM primitive ('' before the first call)");
  m.def("to_bf16", &to_bf16_array, py::arg("x"), "float32 → bfloat16 bits (uint16), round to nearest even");
  m.def("from_bf16", &from_bf16_array, py::arg("x"), "bfloat16 bits (uint16) → float32 (exact)");
  m.def("dense_forward_bf16", &dense_forward_bf16, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
        py::arg("weight_bf16") = py::none(),
        "Y = b + bf16(X)·bf16(W), float32 sums; returns (Y, bf16(X), bf16(W)). weight_bf16: bf16(W) already "
        "(the copy an optimizer step wrote), used instead of casting W");
  m.def("dense_backward_bf16", &dense_backward_bf16, py::arg("x_bf16"), py::arg("weight_bf16"),
        py::arg("grad_output"), py::arg("weight_grad"), py::arg("bias_grad") = py::none(),
        py::arg("accumulate") = false, py::arg("need_dx") = true,
        "dX = bf16(dY)·bf16(W)ᵀ (or None); dW (+)= bf16(X)ᵀ·bf16(dY) and db (+)= Σ dY in place");
}

}  // namespace pyssl::bind
