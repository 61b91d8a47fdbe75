// Bindings for the embedding lookup (csrc/nn/embedding.hpp), used by pyssl.nn.Embedding:
// convert, check shapes, allocate the output, release the GIL, call the kernel. No math here.
#include "nn/embedding.hpp"
#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

using i64 = std::int64_t;

const i64* indices(const py::array& idx) {
  if (!has_dtype<i64>(idx)) throw py::type_error("indices must have dtype int64, got " + describe(idx));
  check_contiguous(idx, "indices");
  return static_cast<const i64*>(idx.data());
}

// out[..., :] = weight[indices[...], :]; out has shape indices.shape + (dim,).
py::array embedding_forward(const py::array& weight, const py::array& idx) {
  return dispatch_float(weight, "weight", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* pw = in<T>(weight, "weight", 2);
    const i64* pi = indices(idx);
    const index_t num = dim(weight, 0), d = dim(weight, 1);
    std::vector<index_t> shape(idx.shape(), idx.shape() + idx.ndim());
    shape.push_back(d);
    auto out = empty<T>(shape);
    T* po = out.mutable_data();
    const index_t n = index_t(idx.size());
    {
      py::gil_scoped_release nogil;
      nn::embedding_forward<T>(pw, pi, po, n, num, d);
    }
    return std::move(out);
  });
}

// grad_weight (+)= scatter-add of grad_output rows by indices (deterministic order).
void embedding_backward(const py::array& idx, const py::array& grad, py::array& grad_weight, bool accumulate) {
  dispatch_float(grad_weight, "grad_weight", [&](auto tag) {
    using T = decltype(tag);
    T* pdw = inout<T>(grad_weight, "grad_weight", 2);
    const i64* pi = indices(idx);
    const index_t num = dim(grad_weight, 0), d = dim(grad_weight, 1);
    const T* pg = in<T>(grad, "grad_output");
    std::vector<index_t> shape(idx.shape(), idx.shape() + idx.ndim());
    shape.push_back(d);
    check_shape(grad, shape, "grad_output");
    const index_t n = index_t(idx.size());
    {
      py::gil_scoped_release nogil;
      nn::embedding_backward<T>(pi, pg, pdw, n, num, d, accumulate);
    }
  });
}

}  // namespace

void register_embedding(py::module_& m) {
  m.def("embedding_forward", &embedding_forward, py::arg("weight"), py::arg("indices"),
        "out[..., :] = weight[indices[...], :]; weight (num, dim), indices int64 of any shape.");
  m.def("embedding_backward", &embedding_backward, py::arg("indices"), py::arg("grad_output"),
        py::arg("grad_weight"), py::arg("accumulate") = true,
        "grad_weight[r] (+)= sum of grad_output rows whose index is r, summed in increasing position "
        "(bit-identical for any thread count).");
}

}  // namespace pyssl::bind
