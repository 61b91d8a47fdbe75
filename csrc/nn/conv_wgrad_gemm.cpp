// bf16 weight gradient on im2col columns and oneDNN matmul (see conv_wgrad_gemm.hpp).
#include "nn/conv_wgrad_gemm.hpp"

#ifdef PYSSL_WITH_ONEDNN
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/bf16.hpp"
#include "core/check.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {

namespace {

using dt = dnnl::memory::data_type;

// (O, N·P, C, KK, block width)
using Key = std::tuple<index_t, index_t, index_t, index_t, index_t>;

struct Prim {
  dnnl::matmul mm;
  dnnl::memory::desc a, b, c, scratch;
};

struct Engine {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  std::mutex mutex;
  std::map<Key, Prim> cache;  // never erased: references stay valid
};

Engine& engine() {
  static Engine* e = new Engine();  // never destroyed (oneDNN objects outlive interpreter shutdown)
  return *e;
}

// g[t][:, c0 : c0+width] = dY (O, NP) · cols[t][:, c0 : c0+width] for tap t: A row-major, B and C
// column blocks of tap t's (NP, C) columns and (O, C) gradient.
// (Writing dw's (O, C, KH, KW) order straight from the product, with column stride KK, sends oneDNN
// to its reference matmul: 13 s instead of milliseconds.)
const Prim& block_primitive(Engine& e, index_t o, index_t np, index_t c, index_t kk, index_t width) {
  const Key key{o, np, c, kk, width};
  auto it = e.cache.find(key);
  if (it != e.cache.end()) return it->second;
  // User scratchpads, one per running block: with the library's own, two threads executing the
  // same AMX primitive at once share its packed-B buffer and the results are wrong.
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dnnl::memory::desc a({o, np}, dt::bf16, {np, 1}), b({np, width}, dt::bf16, {c, 1}),
      cd({o, width}, dt::f32, {c, 1});
  // Single-threaded (oneDNN reads the thread count when it creates a primitive): the blocks run
  // side by side on pyssl's team.
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  try {
    dnnl::matmul::primitive_desc pd(e.eng, a, b, cd, attr);
    omp_set_num_threads(saved);
    return e.cache.emplace(key, Prim{dnnl::matmul(pd), a, b, cd, pd.scratchpad_desc()}).first->second;
  } catch (const dnnl::error& err) {
    omp_set_num_threads(saved);
    fail("conv (bf16 weight gradient): cannot create the oneDNN matmul for O = ", o, ", N·P = ", np, ", C = ", c,
         ": ", err.what());
  }
}

struct Blocks {
  index_t width, nb;
  const Prim *full, *last;
  std::size_t scratch;  // bytes per running block
  int threads;
};

// Channel block width: the whole C when there are at least 8 taps, else C cut so that there are
// at least 8 blocks (multiples of 16 channels). From the shape only.
index_t block_width(const ConvShape& s) {
  const index_t kk = s.kh * s.kw;
  if (kk >= 8) return s.c;
  const index_t parts = (8 + kk - 1) / kk;
  const index_t w = ((s.c + parts - 1) / parts + 15) / 16 * 16;
  return std::min(s.c, std::max<index_t>(16, w));
}

Blocks blocks_of(const ConvShape& s) {
  Engine& e = engine();
  Blocks b;
  b.width = block_width(s);
  b.nb = (s.c + b.width - 1) / b.width;
  const index_t tail = s.c - (b.nb - 1) * b.width;
  {
    std::lock_guard<std::mutex> lock(e.mutex);
    b.full = &block_primitive(e, s.o, s.cols(), s.c, s.kh * s.kw, b.width);
    b.last = tail == b.width ? b.full : &block_primitive(e, s.o, s.cols(), s.c, s.kh * s.kw, tail);
  }
  b.scratch = std::max(b.full->scratch.get_size(), b.last->scratch.get_size());
  b.threads = int(std::min<index_t>(num_threads(), s.kh * s.kw * b.nb));
  return b;
}

template <class Carver>
void layout(Carver& c, const ConvShape& s, const Blocks& b, bf16_t*& xh, bf16_t*& cols, bf16_t*& dyb, float*& g,
            char*& scratch) {
  scratch = c.template take<char>(index_t(b.scratch + 64) * b.threads);
  g = c.template take<float>(s.o * s.ck());
  xh = c.template take<bf16_t>(s.n * s.h * s.w * s.c);
  cols = c.template take<bf16_t>(s.cols() * s.ck());
  dyb = c.template take<bf16_t>(s.o * s.cols());
}

}  // namespace

std::size_t conv_gemm_wgrad_workspace(const ConvShape& s) {
  const Blocks bl = blocks_of(s);
  bf16_t *a, *b, *d;
  float* g;
  char* sc;
  return workspace_bytes([&](auto& c) { layout(c, s, bl, a, b, d, g, sc); });
}

void conv_gemm_wgrad(const ConvShape& s, const float* x, const float* dy, float* dw, float* db, bool accumulate,
                     void* workspace) {
  s.validate();
  WorkspaceCarver carver(workspace);
  const Blocks bl = blocks_of(s);
  bf16_t *xh, *cols, *dyb;
  float* g;
  char* scratch;
  layout(carver, s, bl, xh, cols, dyb, g, scratch);
  const index_t C = s.c, HW = s.h * s.w, HO = s.ho(), WO = s.wo(), P = HO * WO, NP = s.cols();
  const index_t KK = s.kh * s.kw, row = KK * C;
  // xh (N, H, W, C) = bf16(x): one image per item.
  parallel_for(s.n, C * HW, [&](index_t n0, index_t n1) {
    for (index_t n = n0; n < n1; ++n) {
      const float* src = x + n * C * HW;
      bf16_t* dst = xh + n * HW * C;
      for (index_t c = 0; c < C; ++c)
        for (index_t k = 0; k < HW; ++k) dst[k * C + c] = float_to_bf16(src[c * HW + k]);
    }
  });
  // cols (KK, N·P, C): per tap, one output position (n, p, q) per row of C contiguous values.
  parallel_for(NP, row, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r) {
      const index_t n = r / P, p = (r / WO) % HO, q = r % WO;
      for (index_t i = 0; i < s.kh; ++i) {
        const index_t hi = p * s.sh + i * s.dh - s.ph;
        for (index_t j = 0; j < s.kw; ++j) {
          bf16_t* out = cols + ((i * s.kw + j) * NP + r) * C;
          const index_t wi = q * s.sw + j * s.dw - s.pw;
          if (hi < 0 || hi >= s.h || wi < 0 || wi >= s.w)
            std::memset(out, 0, sizeof(bf16_t) * C);
          else
            std::memcpy(out, xh + ((n * s.h + hi) * s.w + wi) * C, sizeof(bf16_t) * C);
        }
      }
    }
  });
  // dY (O, N·P) = bf16(dy (N, O, P)) and db in the same pass over dy (as conv.cpp's
  // conv2d_backward): one output channel per item.
  parallel_for(s.o, NP, [&](index_t o0, index_t o1) {
    for (index_t o = o0; o < o1; ++o) {
      float sum = 0.0f;
      for (index_t n = 0; n < s.n; ++n) {
        const float* src = dy + (n * s.o + o) * P;
        bf16_t* dst = dyb + o * NP + n * P;
#pragma omp simd
        for (index_t k = 0; k < P; ++k) dst[k] = float_to_bf16(src[k]);
        if (db)
          for (index_t k = 0; k < P; ++k) sum += src[k];
      }
      if (db) db[o] = accumulate ? db[o] + sum : sum;
    }
  });
  // The products, one per (tap, channel block).
  Engine& e = engine();
  const index_t nb = bl.nb, width = bl.width, blocks = KK * nb;
  const int nt = bl.threads;
  FirstException guard;
  auto one = [&](std::int64_t k, std::int64_t) {
    const index_t t = k / nb, cb = k % nb, c0 = cb * width;
    const Prim& pr = cb == nb - 1 ? *bl.last : *bl.full;
    dnnl::memory A(pr.a, e.eng, dyb), B(pr.b, e.eng, cols + t * NP * C + c0),
        D(pr.c, e.eng, g + t * s.o * C + c0);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, A}, {DNNL_ARG_WEIGHTS, B}, {DNNL_ARG_DST, D}};
    if (bl.scratch > 0)
      args.insert({DNNL_ARG_SCRATCHPAD,
                   dnnl::memory(pr.scratch, e.eng, scratch + std::size_t(omp_get_thread_num()) * (bl.scratch + 64))});
    dnnl::stream st(e.eng);
    pr.mm.execute(st, args);
    st.wait();
  };
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (std::int64_t k = 0; k < blocks; ++k) guard.run(one, k, k + 1);
  guard.rethrow();
  // dw[o, c, t] (+)= g[t, o, c]
  parallel_for(s.o, row, [&](index_t o0, index_t o1) {
    for (index_t o = o0; o < o1; ++o) {
      float* dst = dw + o * row;
      for (index_t t = 0; t < KK; ++t) {
        const float* src = g + (t * s.o + o) * C;
        if (accumulate)
          for (index_t c = 0; c < C; ++c) dst[c * KK + t] += src[c];
        else
          for (index_t c = 0; c < C; ++c) dst[c * KK + t] = src[c];
      }
    }
  });
}

}  // namespace pyssl::nn
#endif
