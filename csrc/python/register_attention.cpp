// Bindings of the attention and feature-tokenizer kernels (csrc/nn/attention.hpp), written with the
// binding toolkit (python/bind_toolkit.hpp): validate, allocate outputs and the kernels' own
// workspaces, run the kernel with the GIL released.
#include <cstdint>

#include "nn/attention.hpp"
#include "parallel/parallel.hpp"
#include "python/bind_toolkit.hpp"

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

// Optional (N, L) bool/uint8 key padding mask (null view for None); every sample must keep a key.
Array<const std::uint8_t> key_mask(const py::object& o, index_t n, index_t l) {
  if (o.is_none()) return {};
  py::array m = o.cast<py::array>();
  if (!has_dtype<bool>(m) && !has_dtype<std::uint8_t>(m))
    throw py::type_error("key_padding_mask must be a bool or uint8 array, got " + describe(m));
  check_shape(m, {n, l}, "key_padding_mask");
  check_contiguous(m, "key_padding_mask");
  auto v = detail::view(m, static_cast<const std::uint8_t*>(m.data()));
  for (index_t s = 0; s < n; ++s) {
    bool any = false;
    for (index_t j = 0; j < l && !any; ++j) any = v.data[s * l + j] == 0;
    if (!any) fail("key_padding_mask masks every key of sample ", s, "; each sample must keep at least one token");
  }
  return v;
}

template <class T>
py::tuple attention_forward(const py::array& qkv_, index_t heads, const py::object& key_padding_mask,
                            bool save_probs) {
  const index_t dh = check_qkv(qkv_, heads);
  auto qkv = arg_nd<T>(qkv_, "qkv", 3);
  const index_t n = qkv.dim(0), l = qkv.dim(1), d = heads * dh;
  auto mask = key_mask(key_padding_mask, n, l);
  auto o = out<T>({n, l, d});
  if (!save_probs) {
    auto lse = out<T>({n, heads, l});
    const int slots = num_threads();
    Workspace ws(nn::attention_forward_lse_workspace<T>(l, slots));
    nogil([&] { nn::attention_forward_lse<T>(qkv, mask, o, lse, n, l, heads, dh, slots, ws); });
    return py::make_tuple(o.array(), lse.array());
  }
  auto probs = out<T>({n, heads, l, l});
  nogil([&] { nn::attention_forward<T>(qkv, mask, o, probs, n, l, heads, dh); });
  return py::make_tuple(o.array(), probs.array());
}

template <class T>
py::array attention_backward(const py::array& qkv_, const py::array& probs_, const py::array& grad_output_,
                             index_t heads) {
  const index_t dh = check_qkv(qkv_, heads);
  auto qkv = arg_nd<T>(qkv_, "qkv", 3);
  const index_t n = qkv.dim(0), l = qkv.dim(1), d = heads * dh;
  auto probs = arg<T>(probs_, "probs", {n, heads, l, l});
  auto go = arg<T>(grad_output_, "grad_output", {n, l, d});
  auto dqkv = out<T>({n, l, 3 * d});
  const int slots = num_threads();
  Workspace ws(nn::attention_backward_workspace<T>(l, slots));
  nogil([&] { nn::attention_backward<T>(qkv, probs, go, dqkv, n, l, heads, dh, slots, ws); });
  return dqkv.array();
}

template <class T>
py::array attention_backward_recompute(const py::array& qkv_, const py::array& lse_, const py::array& out_,
                                       const py::array& grad_output_, index_t heads,
                                       const py::object& key_padding_mask) {
  const index_t dh = check_qkv(qkv_, heads);
  auto qkv = arg_nd<T>(qkv_, "qkv", 3);
  const index_t n = qkv.dim(0), l = qkv.dim(1), d = heads * dh;
  auto mask = key_mask(key_padding_mask, n, l);
  auto lse = arg<T>(lse_, "lse", {n, heads, l});
  auto o = arg<T>(out_, "out", {n, l, d});
  auto go = arg<T>(grad_output_, "grad_output", {n, l, d});
  auto dqkv = out<T>({n, l, 3 * d});
  const int slots = num_threads();
  Workspace ws(nn::attention_backward_recompute_workspace<T>(l, slots));
  nogil([&] { nn::attention_backward_recompute<T>(qkv, mask, lse, o, go, dqkv, n, l, heads, dh, slots, ws); });
  return dqkv.array();
}

template <class T>
py::array feature_tokenizer_forward(const py::array& x_, const py::array& w_, const py::object& b_) {
  auto x = arg_nd<T>(x_, "x", 2);
  auto w = arg_nd<T>(w_, "weight", 2);
  const index_t n = x.dim(0), f = x.dim(1), d = w.dim(1);
  if (w.dim(0) != f) fail("feature_tokenizer: x has ", f, " features but weight is ", describe(w_), " (features, dim)");
  auto b = opt_arg<T>(b_, "bias", {f, d});
  auto y = out<T>({n, f, d});
  nogil([&] { nn::feature_tokenizer_forward<T>(x, w, b, y, n, f, d); });
  return y.array();
}

template <class T>
py::object feature_tokenizer_backward(const py::array& x_, const py::array& w_, const py::array& dy_,
                                      py::array& dw_, const py::object& db_, bool accumulate, bool need_dx) {
  auto x = arg_nd<T>(x_, "x", 2);
  const index_t n = x.dim(0), f = x.dim(1);
  check_ndim(w_, 2, "weight");
  const index_t d = dim(w_, 1);
  auto w = arg<T>(w_, "weight", {f, d});
  auto dy = arg<T>(dy_, "grad_output", {n, f, d});
  auto dw = inplace<T>(dw_, "weight_grad", {f, d});
  auto db = opt_inplace<T>(db_, "bias_grad", {f, d});
  auto dx = out_if<T>(need_dx, {n, f});
  nogil([&] { nn::feature_tokenizer_backward<T>(x, w, dy, dx, dw, db, n, f, d, accumulate); });
  return dx.or_none();
}

}  // namespace

void register_attention(py::module_& m) {
  m.def("attention_forward", by_dtype(PYSSL_FLOATS(attention_forward), "qkv"), py::arg("qkv"), py::arg("heads"),
        py::arg("key_padding_mask") = py::none(), py::arg("save_probs") = true,
        "Multi-head softmax(Q Kᵀ/√Dh) V from packed qkv (N, L, 3D); returns (out (N, L, D), probs (N, H, L, L)), "
        "or (out, lse (N, H, L)) with save_probs=False.");
  m.def("attention_backward", by_dtype(PYSSL_FLOATS(attention_backward), "qkv"), py::arg("qkv"), py::arg("probs"),
        py::arg("grad_output"), py::arg("heads"),
        "Gradient of attention_forward with respect to qkv, from the saved probabilities.");
  m.def("attention_backward_recompute", by_dtype(PYSSL_FLOATS(attention_backward_recompute), "qkv"), py::arg("qkv"),
        py::arg("lse"), py::arg("out"), py::arg("grad_output"), py::arg("heads"),
        py::arg("key_padding_mask") = py::none(),
        "Gradient with respect to qkv recomputing the probabilities from the row log-sum-exp.");
  m.def("feature_tokenizer_forward", by_dtype(PYSSL_FLOATS(feature_tokenizer_forward), "x"), py::arg("x"),
        py::arg("weight"), py::arg("bias") = py::none(), "Tokens y[n,f,:] = x[n,f]·W[f,:] + b[f,:] of a (N, F) table.");
  m.def("feature_tokenizer_backward", by_dtype(PYSSL_FLOATS(feature_tokenizer_backward), "x"), py::arg("x"),
        py::arg("weight"), py::arg("grad_output"), py::arg("weight_grad"), py::arg("bias_grad") = py::none(),
        py::arg("accumulate") = true, py::arg("need_dx") = true,
        "dx (or None); writes or accumulates dW, db of the feature tokenizer.");
}

}  // namespace pyssl::bind
