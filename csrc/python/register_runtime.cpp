// Threads, BLAS information and the raw GEMM.
#include "blas/blas_api.hpp"
#include "memory/buffer_cache.hpp"
#include "python/bind_toolkit.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::bind {

namespace {
template <class T>
py::array matmul(const py::array& a_, const py::array& b_) {
  auto a = arg_nd<T>(a_, "a", 2);
  auto b = arg_nd<T>(b_, "b", 2);
  const index_t m = a.dim(0), k = a.dim(1), n = b.dim(1);
  if (b.dim(0) != k) fail("matmul: a is (", m, ", ", k, ") but b has ", b.dim(0), " rows; ", describe(b_));
  auto c = out<T>({m, n});
  nogil([&] { blas::gemm<T>(blas::Trans::No, blas::Trans::No, m, n, k, T(1), a, k, b, n, T(0), c, n); });
  return c.array();
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
  m.def("matmul", by_dtype(PYSSL_FLOATS(matmul), "a"), py::arg("a"), py::arg("b"), "C = A @ B through the linked BLAS (2-D, same dtype).");
#ifdef PYSSL_WITH_CUDA
  m.attr("built_with_cuda") = true;
#else
  m.attr("built_with_cuda") = false;
#endif
}

}  // namespace pyssl::bind
