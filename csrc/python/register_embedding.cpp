// Bindings for the embedding lookup (csrc/nn/embedding.hpp), used by pyssl.nn.Embedding.
// Toolkit: python/bind_toolkit.hpp. No math here.
#include <cstdint>

#include "nn/embedding.hpp"
#include "python/bind_toolkit.hpp"

namespace pyssl::bind {

namespace {

using i64 = std::int64_t;

// out[..., :] = weight[indices[...], :]; out has shape indices.shape + (dim,).
template <class T>
py::array embedding_forward(const py::array& w_, const py::array& idx_) {
  auto w = arg_nd<T>(w_, "weight", 2);
  auto idx = arg_nd<i64>(idx_, "indices");
  const index_t num = w.dim(0), d = w.dim(1);
  Shape shape = idx.shape();
  shape.push_back(d);
  auto y = out<T>(shape);
  nogil([&] { nn::embedding_forward<T>(w, idx, y, idx.size(), num, d); });
  return y.array();
}

// grad_weight (+)= scatter-add of grad_output rows by indices (deterministic order).
template <class T>
void embedding_backward(const py::array& idx_, const py::array& g_, py::array& dw_, bool accumulate) {
  auto dw = inplace_nd<T>(dw_, "grad_weight", 2);
  auto idx = arg_nd<i64>(idx_, "indices");
  const index_t num = dw.dim(0), d = dw.dim(1);
  Shape shape = idx.shape();
  shape.push_back(d);
  auto g = arg<T>(g_, "grad_output", shape, "grad_output (must be indices.shape + (dim,))");
  const index_t n = idx.size();
  Workspace ws(nn::embedding_backward_workspace<T>(n, num));
  nogil([&] { nn::embedding_backward<T>(idx, g, dw, n, num, d, accumulate, ws); });
}

}  // namespace

void register_embedding(py::module_& m) {
  m.def("embedding_forward", by_dtype(PYSSL_FLOATS(embedding_forward), "weight"), py::arg("weight"),
        py::arg("indices"), "out[..., :] = weight[indices[...], :]; weight (num, dim), indices int64 of any shape.");
  m.def("embedding_backward", by_dtype<2>(PYSSL_FLOATS(embedding_backward), "grad_weight"), py::arg("indices"),
        py::arg("grad_output"), py::arg("grad_weight"), py::arg("accumulate") = true,
        "grad_weight[r] (+)= sum of grad_output rows whose index is r, summed in increasing position "
        "(bit-identical for any thread count).");
}

}  // namespace pyssl::bind
