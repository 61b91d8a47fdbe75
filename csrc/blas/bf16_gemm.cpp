// gemm_bf16 on oneDNN's matmul primitive (see blas_api.hpp). Where oneDNN has no bf16 matmul for
// this CPU (x86 without AVX-512, e.g. AMD Zen 3 or Intel before Skylake-SP), the bf16 operands are
// widened to float32 (exactly) and multiplied by the float32 gemm: the same products and float32
// sums, in another order. Without oneDNN it raises.
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "blas/blas_api.hpp"
#include "core/bf16.hpp"
#include "core/check.hpp"
#include "parallel/parallel.hpp"

#ifdef PYSSL_WITH_ONEDNN
#include <map>
#include <mutex>
#include <tuple>

#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace pyssl::blas {

#ifdef PYSSL_WITH_ONEDNN
namespace {
using Key = std::tuple<int, int, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                       std::int64_t, bool>;

struct Prim {
  dnnl::matmul mm;
  dnnl::memory::desc a, b, c;
};

struct Engine {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  std::mutex mutex;
  std::map<Key, Prim> cache;  // entries are never erased: references stay valid
  std::string last_impl;
};

Engine& engine() {
  static Engine* e = new Engine();  // never destroyed: oneDNN objects outlive interpreter shutdown order
  return *e;
}

// (rows, cols) matrix stored row-major with row stride ld, read as itself or transposed.
dnnl::memory::desc matrix(std::int64_t rows, std::int64_t cols, std::int64_t ld, Trans t,
                          dnnl::memory::data_type dt) {
  // op(X) is (rows, cols); X itself is (rows, cols) with strides (ld, 1), or (cols, rows) with
  // strides (ld, 1), i.e. op(X) has strides (1, ld).
  return t == Trans::No ? dnnl::memory::desc({rows, cols}, dt, {ld, 1})
                        : dnnl::memory::desc({rows, cols}, dt, {1, ld});
}

const Prim& primitive(Engine& e, Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k,
                              std::int64_t lda, std::int64_t ldb, std::int64_t ldc, bool accumulate) {
  const Key key{int(ta), int(tb), m, n, k, lda, ldb, ldc, accumulate};
  auto it = e.cache.find(key);
  if (it != e.cache.end()) return it->second;
  using dt = dnnl::memory::data_type;
  dnnl::primitive_attr attr;
  if (accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  const auto ad = matrix(m, k, lda, ta, dt::bf16), bd = matrix(k, n, ldb, tb, dt::bf16);
  const dnnl::memory::desc cd({m, n}, dt::f32, {ldc, 1});
  dnnl::matmul::primitive_desc pd(e.eng, ad, bd, cd, attr);
  e.last_impl = pd.impl_info_str();
  return e.cache.emplace(key, Prim{dnnl::matmul(pd), ad, bd, cd}).first->second;
}

// Stored (rows, cols) bf16 matrix with row stride ld → dense float32 (row stride cols), exact.
const float* widen(const std::uint16_t* x, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                   std::vector<float>& buf) {
  buf.resize(std::size_t(rows * cols));
  if (ld == cols) {
    from_bf16(x, buf.data(), rows * cols);
  } else {
    float* d = buf.data();
    parallel_for(rows, cols, [&](index_t r0, index_t r1) {
      for (index_t r = r0; r < r1; ++r)
        for (index_t j = 0; j < cols; ++j) d[r * cols + j] = bf16_to_float(x[r * ld + j]);
    });
  }
  return buf.data();
}

const char* kEmulated = "emulated: float32 gemm on bf16-rounded operands (no oneDNN bf16 matmul on this CPU)";
}  // namespace

bool has_bf16_gemm() { return true; }

bool bf16_native() {
  // Asked once: can oneDNN build a bf16 matmul on this CPU? (It cannot on x86 without AVX-512.)
  // PYSSL_BF16_EMULATE=1 takes the emulation on any CPU (to test and measure it).
  static const bool native = [] {
    const char* force = std::getenv("PYSSL_BF16_EMULATE");
    if (force != nullptr && *force != '\0' && std::string(force) != "0") return false;
    try {
      Engine& e = engine();
      using dt = dnnl::memory::data_type;
      const dnnl::memory::desc a({16, 16}, dt::bf16, {16, 1}), c({16, 16}, dt::f32, {16, 1});
      dnnl::matmul::primitive_desc pd(e.eng, a, a, c);
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return native;
}

const char* bf16_gemm_impl() { return bf16_native() ? engine().last_impl.c_str() : kEmulated; }

void gemm_bf16(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, const std::uint16_t* a,
               std::int64_t lda, const std::uint16_t* b, std::int64_t ldb, bool accumulate, float* c,
               std::int64_t ldc) {
  PYSSL_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm_bf16: negative dimension");
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (std::int64_t r = 0; r < m; ++r)
        for (std::int64_t j = 0; j < n; ++j) c[r * ldc + j] = 0.0f;
    return;
  }
  if (!bf16_native()) {
    thread_local std::vector<float> wa, wb;
    const bool at = ta == Trans::Yes, bt = tb == Trans::Yes;
    const float* af = widen(a, at ? k : m, at ? m : k, lda, wa);
    const float* bf = widen(b, bt ? n : k, bt ? k : n, ldb, wb);
    gemm<float>(ta, tb, m, n, k, 1.0f, af, at ? m : k, bf, bt ? k : n, accumulate ? 1.0f : 0.0f, c, ldc);
    return;
  }
  Engine& e = engine();
  // oneDNN's OpenMP runtime uses the calling thread's team size: match pyssl's thread count.
  const int nt = num_threads();
  if (omp_get_max_threads() != nt) omp_set_num_threads(nt);
  const Prim* p;
  {
    std::lock_guard<std::mutex> lock(e.mutex);
    p = &primitive(e, ta, tb, m, n, k, lda, ldb, ldc, accumulate);
  }
  dnnl::memory A(p->a, e.eng, const_cast<std::uint16_t*>(a));
  dnnl::memory B(p->b, e.eng, const_cast<std::uint16_t*>(b));
  dnnl::memory C(p->c, e.eng, c);
  dnnl::stream s(e.eng);
  p->mm.execute(s, {{DNNL_ARG_SRC, A}, {DNNL_ARG_WEIGHTS, B}, {DNNL_ARG_DST, C}});
  s.wait();
}
#else
bool has_bf16_gemm() { return false; }
bool bf16_native() { return false; }
const char* bf16_gemm_impl() { return ""; }
void gemm_bf16(Trans, Trans, std::int64_t, std::int64_t, std::int64_t, const std::uint16_t*, std::int64_t,
               const std::uint16_t*, std::int64_t, bool, float*, std::int64_t) {
  PYSSL_CHECK(false, "precision='bf16-mixed' needs pyssl built with oneDNN: pip install onednn-cpu-gomp "
                     "onednn-devel-cpu-gomp, then reinstall pyssl");
}
#endif

}  // namespace pyssl::blas
