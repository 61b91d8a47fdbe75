// Threads, BLAS information and the raw GEMM.
#include "blas/blas_api.hpp"
#include "memory/buffer_cache.hpp"
#include "python/convert.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::bind {

namespace {
py::array matmul(const py::array& a, const py::array& b) {
  return dispatch_float(a, "a", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* pa = in<T>(a, "a", 2);
    const T* pb = in<T>(b, "b", 2);
    const index_t m = dim(a, 0), k = dim(a, 1), n = dim(b, 1);
    if (dim(b, 0) != k) fail("matmul: a is (", m, ", ", k, ") but b has ", dim(b, 0), " rows; ", describe(b));
    auto c = empty<T>({m, n});
    T* pc = c.mutable_data();
    {
      py::gil_scoped_release nogil;
      blas::gemm<T>(blas::Trans::No, blas::Trans::No, m, n, k, T(1), pa, k, pb, n, T(0), pc, n);
    }
    return std::move(c);
  });
}
}  // namespace

void register_runtime(py::module_& m) {
  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Set the thread count used by pyssl's OpenMP kernels and its BLAS.");
  m.def("get_num_threads", &num_threads);
  m.def("blas_num_threads", &blas_num_threads);
  m.def("blas_config", [] { return std::string(blas::config()); });
  m.def("blas_corename", [] { return std::string(blas::corename()); });
  m.def("buffer_cache_info", [] {
    const memory::CacheInfo c = memory::info();
    py::dict d;
    d["cached_bytes"] = c.cached_bytes;
    d["cached_blocks"] = c.cached_blocks;
    d["limit_bytes"] = c.limit_bytes;
    d["hits"] = c.hits;
    d["misses"] = c.misses;
    return d;
  });
  m.def("set_buffer_cache_limit", [](long long bytes) {
    if (bytes < 0) fail("buffer cache limit must be >= 0 bytes, got ", bytes);
    memory::set_limit(static_cast<std::size_t>(bytes));
  }, py::arg("bytes"));
  m.def("empty_buffer_cache", &memory::clear);
  m.def("matmul", &matmul, py::arg("a"), py::arg("b"), "C = A @ B through the linked BLAS (2-D, same dtype).");
#ifdef PYSSL_WITH_CUDA
  m.attr("built_with_cuda") = true;
#else
  m.attr("built_with_cuda") = false;
#endif
}

}  // namespace pyssl::bind
