// Bindings of the attention and feature-tokenizer kernels (csrc/nn/attention.hpp): validate,
// allocate with the GIL held, release it around the kernel.
#include <cstdint>
#include <tuple>

#include "nn/attention.hpp"
#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

// qkv (N, L, 3D) with D divisible by heads; returns Dh.
index_t check_qkv(const py::array& qkv, index_t heads) {
  if (qkv.ndim() != 3) fail("attention: qkv must be 3-D (N, L, 3·dim), got ", describe(qkv));
  if (heads < 1) fail("attention: heads must be >= 1, got ", heads);
  const index_t c = dim(qkv, 2);
  if (c % 3 != 0 || (c / 3) % heads != 0 || c == 0)
    fail("attention: qkv has ", c, " columns; it must be 3·dim with dim divisible by heads=", heads);
  if (dim(qkv, 1) < 1) fail("attention: qkv must hold at least one token, got ", describe(qkv));
  return c / 3 / heads;
}

// Optional (N, L) bool/uint8 key padding mask; every sample must keep a key.
const std::uint8_t* key_mask(const py::object& key_padding_mask, index_t n, index_t l, py::array& mask) {
  if (!present(key_padding_mask)) return nullptr;
  mask = key_padding_mask.cast<py::array>();
  if (!py::isinstance<py::array_t<std::uint8_t>>(mask) && !py::isinstance<py::array_t<bool>>(mask))
    throw py::type_error("key_padding_mask must be a bool or uint8 array, got " + describe(mask));
  check_shape(mask, {n, l}, "key_padding_mask");
  check_contiguous(mask, "key_padding_mask");
  const auto* pm = static_cast<const std::uint8_t*>(mask.data());
  for (index_t s = 0; s < n; ++s) {
    bool any = false;
    for (index_t j = 0; j < l && !any; ++j) any = pm[s * l + j] == 0;
    if (!any) fail("key_padding_mask masks every key of sample ", s, "; each sample must keep at least one token");
  }
  return pm;
}

py::tuple attention_forward(const py::array& qkv, index_t heads, const py::object& key_padding_mask, bool save_probs) {
  return dispatch_float(qkv, "qkv", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* pq = in<T>(qkv, "qkv", 3);
    const index_t dh = check_qkv(qkv, heads);
    const index_t n = dim(qkv, 0), l = dim(qkv, 1), d = heads * dh;
    py::array mask;
    const std::uint8_t* pm = key_mask(key_padding_mask, n, l, mask);
    auto out = empty<T>({n, l, d});
    T* po = out.mutable_data();
    if (!save_probs) {
      auto lse = empty<T>({n, heads, l});
      T* pl = lse.mutable_data();
      {
        py::gil_scoped_release nogil;
        nn::attention_forward_lse<T>(pq, pm, po, pl, n, l, heads, dh);
      }
      return py::make_tuple(std::move(out), std::move(lse));
    }
    auto probs = empty<T>({n, heads, l, l});
    T* pp = probs.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::attention_forward<T>(pq, pm, po, pp, n, l, heads, dh);
    }
    return py::make_tuple(std::move(out), std::move(probs));
  });
}

py::array attention_backward(const py::array& qkv, const py::array& probs, const py::array& grad_output,
                             index_t heads) {
  return dispatch_float(qkv, "qkv", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* pq = in<T>(qkv, "qkv", 3);
    const index_t dh = check_qkv(qkv, heads);
    const index_t n = dim(qkv, 0), l = dim(qkv, 1), d = heads * dh;
    const T* pp = in<T>(probs, "probs", 4);
    check_shape(probs, {n, heads, l, l}, "probs");
    const T* pg = in<T>(grad_output, "grad_output", 3);
    check_shape(grad_output, {n, l, d}, "grad_output");
    auto dqkv = empty<T>({n, l, 3 * d});
    T* pd = dqkv.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::attention_backward<T>(pq, pp, pg, pd, n, l, heads, dh);
    }
    return std::move(dqkv);
  });
}

py::array attention_backward_recompute(const py::array& qkv, const py::array& lse, const py::array& out,
                                       const py::array& grad_output, index_t heads,
                                       const py::object& key_padding_mask) {
  return dispatch_float(qkv, "qkv", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* pq = in<T>(qkv, "qkv", 3);
    const index_t dh = check_qkv(qkv, heads);
    const index_t n = dim(qkv, 0), l = dim(qkv, 1), d = heads * dh;
    py::array mask;
    const std::uint8_t* pm = key_mask(key_padding_mask, n, l, mask);
    const T* pl = in<T>(lse, "lse", 3);
    check_shape(lse, {n, heads, l}, "lse");
    const T* po = in<T>(out, "out", 3);
    check_shape(out, {n, l, d}, "out");
    const T* pg = in<T>(grad_output, "grad_output", 3);
    check_shape(grad_output, {n, l, d}, "grad_output");
    auto dqkv = empty<T>({n, l, 3 * d});
    T* pd = dqkv.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::attention_backward_recompute<T>(pq, pm, pl, po, pg, pd, n, l, heads, dh);
    }
    return std::move(dqkv);
  });
}

py::array feature_tokenizer_forward(const py::array& x, const py::array& w, const py::object& b) {
  return dispatch_float(x, "x", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 2);
    const T* pw = in<T>(w, "weight", 2);
    const index_t n = dim(x, 0), f = dim(x, 1), d = dim(w, 1);
    if (dim(w, 0) != f) fail("feature_tokenizer: x has ", f, " features but weight is ", describe(w), " (features, dim)");
    const T* pb = nullptr;
    py::array ba;
    if (present(b)) {
      ba = b.cast<py::array>();
      pb = in<T>(ba, "bias", 2);
      check_shape(ba, {f, d}, "bias");
    }
    auto y = empty<T>({n, f, d});
    T* py_ = y.mutable_data();
    {
      py::gil_scoped_release nogil;
      nn::feature_tokenizer_forward<T>(px, pw, pb, py_, n, f, d);
    }
    return std::move(y);
  });
}

py::object feature_tokenizer_backward(const py::array& x, const py::array& w, const py::array& dy, py::array& dw,
                                      const py::object& db, bool accumulate, bool need_dx) {
  return dispatch_float(x, "x", [&](auto tag) -> py::object {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 2);
    const T* pw = in<T>(w, "weight", 2);
    const index_t n = dim(x, 0), f = dim(x, 1), d = dim(w, 1);
    check_shape(w, {f, d}, "weight");
    const T* pdy = in<T>(dy, "grad_output", 3);
    check_shape(dy, {n, f, d}, "grad_output");
    T* pdw = inout<T>(dw, "weight_grad", 2);
    check_shape(dw, {f, d}, "weight_grad");
    T* pdb = nullptr;
    py::array dba;
    if (present(db)) {
      dba = db.cast<py::array>();
      pdb = inout<T>(dba, "bias_grad", 2);
      check_shape(dba, {f, d}, "bias_grad");
    }
    py::array_t<T> dx;
    T* pdx = nullptr;
    if (need_dx) {
      dx = empty<T>({n, f});
      pdx = dx.mutable_data();
    }
    {
      py::gil_scoped_release nogil;
      nn::feature_tokenizer_backward<T>(px, pw, pdy, pdx, pdw, pdb, n, f, d, accumulate);
    }
    if (!need_dx) return py::none();
    return std::move(dx);
  });
}

}  // namespace

void register_attention(py::module_& m) {
  m.def("attention_forward", &attention_forward, py::arg("qkv"), py::arg("heads"),
        py::arg("key_padding_mask") = py::none(), py::arg("save_probs") = true,
        "Multi-head softmax(Q Kᵀ/√Dh) V from packed qkv (N, L, 3D); returns (out (N, L, D), probs (N, H, L, L)), "
        "or (out, lse (N, H, L)) with save_probs=False.");
  m.def("attention_backward", &attention_backward, py::arg("qkv"), py::arg("probs"), py::arg("grad_output"),
        py::arg("heads"), "Gradient of attention_forward with respect to qkv, from the saved probabilities.");
  m.def("attention_backward_recompute", &attention_backward_recompute, py::arg("qkv"), py::arg("lse"), py::arg("out"),
        py::arg("grad_output"), py::arg("heads"), py::arg("key_padding_mask") = py::none(),
        "Gradient with respect to qkv recomputing the probabilities from the row log-sum-exp.");
  m.def("feature_tokenizer_forward", &feature_tokenizer_forward, py::arg("x"), py::arg("weight"),
        py::arg("bias") = py::none(), "Tokens y[n,f,:] = x[n,f]·W[f,:] + b[f,:] of a (N, F) table.");
  m.def("feature_tokenizer_backward", &feature_tokenizer_backward, py::arg("x"), py::arg("weight"),
        py::arg("grad_output"), py::arg("weight_grad"), py::arg("bias_grad") = py::none(),
        py::arg("accumulate") = true, py::arg("need_dx") = true,
        "dx (or None); writes or accumulates dW, db of the feature tokenizer.");
}

}  // namespace pyssl::bind
