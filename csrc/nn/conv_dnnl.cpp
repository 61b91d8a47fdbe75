// oneDNN convolution engine (see conv_dnnl.hpp). Without oneDNN every entry point raises.
#include "nn/conv_dnnl.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "blas/blas_api.hpp"
#include "core/bf16.hpp"
#include "core/check.hpp"
#include "core/workspace.hpp"
#include "nn/conv_wgrad_gemm.hpp"
#include "parallel/parallel.hpp"

#ifdef PYSSL_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace pyssl::nn {

namespace {
std::atomic<bool> g_batch_split{true};
std::atomic<bool> g_blocked{true};
std::atomic<int> g_wgrad_oc_chunk{0};
std::atomic<int> g_wgrad_gemm{0};
}  // namespace

namespace {
std::atomic<int> g_engine{-1};  // -1 unread, 0 im2col, 1 onednn
int engine_code(const std::string& name, const char* what) {
  if (name == "im2col") return 0;
  if (name == "onednn") {
    PYSSL_CHECK(conv_dnnl_available(), what, "='onednn' needs pyssl built with oneDNN: pip install onednn-cpu-gomp "
                "onednn-devel-cpu-gomp, then reinstall pyssl (or use 'im2col')");
    return 1;
  }
  fail(what, " must be 'im2col' or 'onednn', got '", name, "'");
}
}  // namespace

const char* conv_engine() {
  int e = g_engine.load();
  if (e < 0) {
    const char* env = std::getenv("PYSSL_CONV_ENGINE");
    e = (env && *env) ? engine_code(env, "PYSSL_CONV_ENGINE") : (conv_dnnl_available() ? 1 : 0);
    g_engine.store(e);
  }
  return e == 1 ? "onednn" : "im2col";
}

void set_conv_engine(const std::string& name) { g_engine.store(engine_code(name, "engine")); }

ConvDnnlOptions conv_dnnl_options() {
  return {g_batch_split.load(), g_blocked.load(), g_wgrad_oc_chunk.load(), g_wgrad_gemm.load()};
}
void set_conv_dnnl_options(const ConvDnnlOptions& o) {
  PYSSL_CHECK(o.wgrad_oc_chunk >= -1, "wgrad_oc_chunk must be -1 (never), 0 (heuristic) or a channel count, got ",
              o.wgrad_oc_chunk);
  PYSSL_CHECK(o.wgrad_gemm >= -1 && o.wgrad_gemm <= 1, "wgrad_gemm must be -1 (only where a tap reads only "
              "padding), 0 (small maps) or 1 (always), got ", o.wgrad_gemm);
  g_batch_split.store(o.batch_split);
  g_blocked.store(o.blocked);
  g_wgrad_oc_chunk.store(o.wgrad_oc_chunk);
  g_wgrad_gemm.store(o.wgrad_gemm);
}

#ifdef PYSSL_WITH_ONEDNN
namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

enum Pass { kFwd = 0, kBwdData = 1, kBwdWeights = 2 };

constexpr std::size_t kAlign = WorkspaceCarver::kAlign;
inline std::size_t aligned(std::size_t b) { return (b + kAlign - 1) / kAlign * kAlign; }

// One convolution primitive over a chunk of n images, with the reorders of its activation
// operands between the user's float32 nchw arrays and the primitive's layout / data type.
struct Chunk {
  index_t n = 0;
  dnnl::primitive prim;
  int n_in = 0;                             // activation inputs: fwd x; bwd-data dy; bwd-w x, dy
  memory::desc in_user[2], in_prim[2];
  bool in_reorder[2] = {false, false};
  dnnl::reorder in_r[2];
  bool has_out = false;                     // activation output: fwd y, bwd-data dx
  memory::desc out_user, out_prim;
  bool out_reorder = false;
  dnnl::reorder out_r;
  memory::desc wei_prim;                    // weights (fwd, bwd-data) or diff weights (bwd-w)
  memory::desc bias_md;                     // float32 (O), or empty
  memory::desc prim_sd, in_sd[2], out_sd;   // scratchpads of the primitive and the reorders
  std::size_t scratch = 0;                  // largest of them
  std::string impl;
};

struct Plan {
  index_t chunk = 0, nchunks = 0;           // images per chunk (output channels per chunk: oc_split)
  bool split = true;
  bool oc_split = false;                    // bwd-w with large weights: chunks of output channels
  Chunk main, rest;                         // rest.n == 0: all chunks are `main`
  memory::desc wei_user;                    // oihw float32
  bool wei_reorder = false;                 // fwd / bwd-data: user → prim; bwd-w: prim → user
  dnnl::reorder wei_r;
  memory::desc wei_sd;
  std::size_t wei_scratch = 0;
  std::size_t slot_in[2] = {0, 0}, slot_out = 0, slot_scratch = 0;
  std::size_t slot_bytes() const { return aligned(slot_in[0]) + aligned(slot_in[1]) + aligned(slot_out) + aligned(slot_scratch); }
};

using Key = std::array<std::int64_t, 21>;

struct Engine {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  std::mutex mutex;
  std::map<Key, Plan> cache;  // never erased: references stay valid
  std::string impl[3][2];
};

Engine& engine() {
  static Engine* e = new Engine();  // never destroyed (oneDNN objects outlive interpreter shutdown)
  return *e;
}

dnnl::primitive_attr user_scratch() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

dnnl::reorder make_reorder(const dnnl::engine& eng, const memory::desc& from, const memory::desc& to,
                           std::size_t& scratch, memory::desc& sd) {
  dnnl::reorder::primitive_desc pd(eng, from, eng, to, user_scratch());
  sd = pd.scratchpad_desc();
  scratch = std::max(scratch, sd.get_size());
  return dnnl::reorder(pd);
}

// The primitive for `n` images. wei_fixed: a weights layout to use instead of format_tag::any
// (the remainder chunk takes the main chunk's, so one weight buffer / partial layout serves all).
// o_total > s.o: the chunk's s.o output channels are a slice of o_total (dy read with o_total's strides).
Chunk make_chunk(const dnnl::engine& eng, Pass pass, const ConvShape& s, index_t n, bool has_bias, bool bf16,
                 bool blocked, const memory::desc* wei_fixed, index_t o_total = 0) {
  Chunk ch;
  ch.n = n;
  const memory::dims src_d{n, s.c, s.h, s.w}, wei_d{s.o, s.c, s.kh, s.kw}, dst_d{n, s.o, s.ho(), s.wo()};
  const memory::dims str{s.sh, s.sw}, dil{s.dh - 1, s.dw - 1}, pl{s.ph, s.pw}, pr{s.pad_h_end(), s.pad_w_end()};
  const dt a = bf16 ? dt::bf16 : dt::f32;
  const tag at = blocked ? tag::any : tag::nchw, wt = blocked ? tag::any : tag::oihw;
  const index_t P = s.ho() * s.wo();
  const memory::desc src_user(src_d, dt::f32, tag::nchw);
  const memory::desc dst_user = o_total > s.o ? memory::desc(dst_d, dt::f32, memory::dims{o_total * P, P, s.wo(), 1})
                                              : memory::desc(dst_d, dt::f32, tag::nchw);
  auto wei_md = [&](dt t) { return wei_fixed ? *wei_fixed : memory::desc(wei_d, t, wt); };
  const memory::desc bias_md = has_bias ? memory::desc({s.o}, dt::f32, tag::x) : memory::desc();
  const auto attr = user_scratch();
  const auto fwd_kind = dnnl::prop_kind::forward_training;
  const auto alg = dnnl::algorithm::convolution_direct;
  using fwd_pd_t = dnnl::convolution_forward::primitive_desc;
  auto fwd = [&](const memory::desc& dst_md, const memory::desc& w_md, bool bias) {
    return bias ? fwd_pd_t(eng, fwd_kind, alg, memory::desc(src_d, a, at), w_md, bias_md, dst_md, str, dil, pl, pr, attr)
                : fwd_pd_t(eng, fwd_kind, alg, memory::desc(src_d, a, at), w_md, dst_md, str, dil, pl, pr, attr);
  };
  std::size_t scratch = 0;
  if (pass == kFwd) {
    const auto pd = fwd(memory::desc(dst_d, dt::f32, at), wei_md(a), has_bias);
    ch.prim = dnnl::convolution_forward(pd);
    ch.impl = pd.impl_info_str();
    ch.prim_sd = pd.scratchpad_desc();
      scratch = ch.prim_sd.get_size();
    ch.n_in = 1;
    ch.in_user[0] = src_user;
    ch.in_prim[0] = pd.src_desc();
    ch.has_out = true;
    ch.out_user = dst_user;
    ch.out_prim = pd.dst_desc();
    ch.wei_prim = pd.weights_desc();
  } else {
    // The forward it is the gradient of (oneDNN's hint): bf16 src / weights and dst.
    const auto hint = fwd(memory::desc(dst_d, a, at), memory::desc(wei_d, a, wt), false);
    if (pass == kBwdData) {
      dnnl::convolution_backward_data::primitive_desc pd(eng, alg, memory::desc(src_d, dt::f32, at), wei_md(a),
                                                         memory::desc(dst_d, a, at), str, dil, pl, pr, hint, attr);
      ch.prim = dnnl::convolution_backward_data(pd);
      ch.impl = pd.impl_info_str();
      ch.prim_sd = pd.scratchpad_desc();
      scratch = ch.prim_sd.get_size();
      ch.n_in = 1;
      ch.in_user[0] = dst_user;
      ch.in_prim[0] = pd.diff_dst_desc();
      ch.has_out = true;
      ch.out_user = src_user;
      ch.out_prim = pd.diff_src_desc();
      ch.wei_prim = pd.weights_desc();
    } else {
      using bw_pd_t = dnnl::convolution_backward_weights::primitive_desc;
      const memory::desc src_md(src_d, a, at), ddst_md(dst_d, a, at);
      const auto pd = has_bias ? bw_pd_t(eng, alg, src_md, wei_md(dt::f32), bias_md, ddst_md, str, dil, pl, pr, hint, attr)
                               : bw_pd_t(eng, alg, src_md, wei_md(dt::f32), ddst_md, str, dil, pl, pr, hint, attr);
      ch.prim = dnnl::convolution_backward_weights(pd);
      ch.impl = pd.impl_info_str();
      ch.prim_sd = pd.scratchpad_desc();
      scratch = ch.prim_sd.get_size();
      ch.n_in = 2;
      ch.in_user[0] = src_user;
      ch.in_prim[0] = pd.src_desc();
      ch.in_user[1] = dst_user;
      ch.in_prim[1] = pd.diff_dst_desc();
      ch.wei_prim = pd.diff_weights_desc();
    }
  }
  for (int i = 0; i < ch.n_in; ++i) {
    ch.in_reorder[i] = ch.in_prim[i] != ch.in_user[i];
    if (ch.in_reorder[i]) ch.in_r[i] = make_reorder(eng, ch.in_user[i], ch.in_prim[i], scratch, ch.in_sd[i]);
  }
  if (ch.has_out) {
    ch.out_reorder = ch.out_prim != ch.out_user;
    if (ch.out_reorder) ch.out_r = make_reorder(eng, ch.out_prim, ch.out_user, scratch, ch.out_sd);
  }
  ch.scratch = scratch;
  ch.bias_md = bias_md;
  return ch;
}

// Batch chunks, from the shape only (never the thread count).
void chunking(Pass pass, const ConvShape& s, bool split, index_t& chunk, index_t& nchunks) {
  index_t target = 1;
  if (split) {
    if (pass == kBwdWeights) {
      const double partial = double(s.o) * double(s.ck() + 1) * 4.0;
      for (index_t t : {8, 4, 2})
        if (t <= s.n && t * partial <= double(64 << 20)) {
          target = t;
          break;
        }
    } else {
      // Each chunk reads all the weights: layers with large weights (ResNet's last stage) take
      // fewer, larger chunks.
      target = std::min<index_t>(s.n, s.o * s.ck() * 4 > (4 << 20) ? 4 : 16);
    }
  }
  chunk = (s.n + target - 1) / target;
  nchunks = (s.n + chunk - 1) / chunk;
}

// Backward-weights of a layer whose weights pass 1 MiB: one single-threaded primitive over the
// whole batch per oc_chunk(s) output channels (its weight gradient stays in cache, and the chunks write
// disjoint rows of dw, so nothing is summed across chunks). Measured (512→512 3×3 on 4×4, batch
// 128, 2 threads, CPU time): batch chunks 268 ms, one 2-thread primitive 173 ms, 64-channel chunks 98 ms
// (at 1 thread, batch 64: 32-channel chunks 49–58 ms against 74 for 64-channel chunks).
bool use_oc_split(const ConvShape& s) { return s.o % 64 == 0 && s.o >= 128 && s.o * s.ck() * 4 > (1 << 20); }
// Output channels per chunk: 64, or 32 / 16 while a chunk's weight gradient passes 640 KiB.
index_t oc_chunk(const ConvShape& s) {
  index_t ocb = 64;
  while (ocb > 16 && ocb * s.ck() * 4 > (640 << 10)) ocb /= 2;
  return ocb;
}

ConvShape oc_slice(const ConvShape& s, index_t ocb) {
  ConvShape t = s;
  t.o = ocb;
  return t;
}

void build(Plan& p, const dnnl::engine& eng, Pass pass, const ConvShape& s, bool has_bias, bool bf16, bool blocked) {
  if (p.oc_split) {
    p.main = make_chunk(eng, pass, oc_slice(s, p.chunk), s.n, has_bias, bf16, blocked, nullptr, s.o);
    p.rest = Chunk{};
    return;
  }
  p.main = make_chunk(eng, pass, s, p.chunk, has_bias, bf16, blocked, nullptr);
  const index_t last = s.n - (p.nchunks - 1) * p.chunk;
  p.rest = Chunk{};
  if (last != p.chunk) p.rest = make_chunk(eng, pass, s, last, has_bias, bf16, blocked, &p.main.wei_prim);
}

const Plan& plan(Pass pass, const ConvShape& s, bool has_bias, bool bf16, int nt) {
  const ConvDnnlOptions o = conv_dnnl_options();
  const int baked = o.batch_split ? 1 : nt;
  const Key key{pass, s.n, s.c, s.h, s.w, s.o, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, s.pad_h_end(), s.pad_w_end(),
                s.dh, s.dw, bf16, o.blocked * 2 + o.batch_split, baked, has_bias, o.wgrad_oc_chunk};
  Engine& e = engine();
  std::lock_guard<std::mutex> lock(e.mutex);
  auto it = e.cache.find(key);
  if (it != e.cache.end()) return it->second;
  Plan p;
  p.split = o.batch_split;
  const int forced = o.wgrad_oc_chunk;
  p.oc_split = o.batch_split && pass == kBwdWeights &&
               (forced == 0 ? use_oc_split(s) : forced > 0 && s.o % forced == 0);
  if (p.oc_split) {
    p.chunk = forced > 0 ? forced : oc_chunk(s);
    p.nchunks = s.o / p.chunk;
  } else {
    chunking(pass, s, o.batch_split, p.chunk, p.nchunks);
  }
  // The primitives' thread count is fixed when they are created (oneDNN reads it then).
  const int saved = omp_get_max_threads();
  omp_set_num_threads(baked);
  try {
    try {
      build(p, e.eng, pass, s, has_bias, bf16, o.blocked);
    } catch (const dnnl::error&) {
      if (!o.blocked) throw;
      build(p, e.eng, pass, s, has_bias, bf16, false);  // the remainder refused the main layout
    }
    p.wei_user = memory::desc({p.oc_split ? p.chunk : s.o, s.c, s.kh, s.kw}, dt::f32, tag::oihw);
    p.wei_reorder = p.main.wei_prim != p.wei_user;
    if (p.wei_reorder)
      p.wei_r = pass == kBwdWeights ? make_reorder(e.eng, p.main.wei_prim, p.wei_user, p.wei_scratch, p.wei_sd)
                                    : make_reorder(e.eng, p.wei_user, p.main.wei_prim, p.wei_scratch, p.wei_sd);
  } catch (const dnnl::error& err) {
    omp_set_num_threads(saved);
    fail("conv (oneDNN): cannot create the ", pass == kFwd ? "forward" : pass == kBwdData ? "backward-data" : "backward-weights",
         " primitive for x (", s.n, ", ", s.c, ", ", s.h, ", ", s.w, "), weight (", s.o, ", ", s.c, ", ", s.kh, ", ",
         s.kw, "): ", err.what(), " (set PYSSL_CONV_ENGINE=im2col to use the portable path)");
  }
  omp_set_num_threads(saved);
  for (const Chunk* c : {&p.main, &p.rest}) {
    if (c->n == 0) continue;
    for (int i = 0; i < c->n_in; ++i)
      if (c->in_reorder[i]) p.slot_in[i] = std::max(p.slot_in[i], c->in_prim[i].get_size());
    if (c->out_reorder) p.slot_out = std::max(p.slot_out, c->out_prim.get_size());
    p.slot_scratch = std::max({p.slot_scratch, c->scratch, p.wei_scratch});
  }
  if (p.oc_split) {
    p.slot_in[0] = 0;                                               // x: reordered once, shared
    p.slot_out = p.wei_reorder ? p.main.wei_prim.get_size() : 0;    // the chunk's diff weights
  }
  e.impl[pass][bf16] = p.main.impl;
  return e.cache.emplace(key, std::move(p)).first->second;
}

int slots(const Plan& p, int nt) { return p.split ? int(std::min<index_t>(nt, p.nchunks)) : 1; }

// Shared scratch of a pass, then one slot per concurrently running chunk.
struct Carved {
  char* wei = nullptr;       // fwd / bwd-data: weights in the primitive's layout
  char* partials = nullptr;  // bwd-w: nchunks diff-weight partials (primitive layout)
  float* bias_partials = nullptr;
  char* wei_scratch = nullptr;
  float* wtmp = nullptr;     // bwd-w: summed diff weights reordered to oihw (accumulate)
  char* slots = nullptr;
};

template <class Carver>
Carved carve(Carver& c, Pass pass, const Plan& p, const ConvShape& s, int nt) {
  Carved k;
  const std::size_t wsz = p.main.wei_prim.get_size();
  if (pass == kBwdWeights && p.oc_split) {
    k.partials = c.template take<char>(index_t(p.main.in_reorder[0] ? p.main.in_prim[0].get_size() : 0));  // x
    k.wtmp = c.template take<float>(s.o * s.ck());                 // dw before accumulation
    k.bias_partials = c.template take<float>(s.o);
  } else if (pass == kBwdWeights) {
    k.partials = c.template take<char>(index_t(aligned(wsz) * p.nchunks));
    k.bias_partials = c.template take<float>(s.o * p.nchunks);
    k.wtmp = c.template take<float>(p.wei_reorder ? s.o * s.ck() : 0);
  } else if (p.wei_reorder) {
    k.wei = c.template take<char>(index_t(wsz));
  }
  k.wei_scratch = c.template take<char>(index_t(p.wei_scratch));
  k.slots = c.template take<char>(index_t(p.slot_bytes() * slots(p, nt)));
  return k;
}

void add_scratch(std::unordered_map<int, memory>& args, const memory::desc& d, char* ptr, const dnnl::engine& eng) {
  if (d.get_size() > 0) args.insert({DNNL_ARG_SCRATCHPAD, memory(d, eng, ptr)});
}

void run_reorder(const dnnl::reorder& r, const memory::desc& sd, dnnl::stream& st, memory& from, memory& to,
                 char* scratch, const dnnl::engine& eng) {
  std::unordered_map<int, memory> args{{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  add_scratch(args, sd, scratch, eng);
  r.execute(st, args);
}

// One chunk: reorder its inputs in, run the primitive, reorder its output out (all in this thread).
// in: user pointers of the chunk's activation inputs; out: user pointer of its output; wei: the
// (shared) weights / this chunk's diff-weight partial; bias: fwd bias or this chunk's diff bias.
void run_one(const Engine& e, Pass pass, const Chunk& ch, const Plan& p, const float* in0, const float* in1,
             float* out, void* wei, float* bias, char* slot) {
  const auto& eng = e.eng;
  dnnl::stream st(eng);
  char* buf_in[2] = {slot, slot + aligned(p.slot_in[0])};
  char* buf_out = buf_in[1] + aligned(p.slot_in[1]);
  char* buf_scratch = buf_out + aligned(p.slot_out);
  const float* ins[2] = {in0, in1};
  memory in_mem[2];
  for (int i = 0; i < ch.n_in; ++i) {
    memory u(ch.in_user[i], eng, const_cast<float*>(ins[i]));
    if (ch.in_reorder[i]) {
      in_mem[i] = memory(ch.in_prim[i], eng, buf_in[i]);
      run_reorder(ch.in_r[i], ch.in_sd[i], st, u, in_mem[i], buf_scratch, eng);
    } else {
      in_mem[i] = u;
    }
  }
  memory out_mem;
  if (ch.has_out) out_mem = ch.out_reorder ? memory(ch.out_prim, eng, buf_out) : memory(ch.out_user, eng, out);
  memory wei_mem(ch.wei_prim, eng, wei);
  std::unordered_map<int, memory> args;
  if (pass == kFwd) {
    args = {{DNNL_ARG_SRC, in_mem[0]}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_DST, out_mem}};
    if (bias) args.insert({DNNL_ARG_BIAS, memory(ch.bias_md, eng, bias)});
  } else if (pass == kBwdData) {
    args = {{DNNL_ARG_DIFF_DST, in_mem[0]}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_DIFF_SRC, out_mem}};
  } else {
    args = {{DNNL_ARG_SRC, in_mem[0]}, {DNNL_ARG_DIFF_DST, in_mem[1]}, {DNNL_ARG_DIFF_WEIGHTS, wei_mem}};
    if (bias) args.insert({DNNL_ARG_DIFF_BIAS, memory(ch.bias_md, eng, bias)});
  }
  add_scratch(args, ch.prim_sd, buf_scratch, eng);
  ch.prim.execute(st, args);
  if (ch.has_out && ch.out_reorder) {
    memory u(ch.out_user, eng, out);
    run_reorder(ch.out_r, ch.out_sd, st, out_mem, u, buf_scratch, eng);
  }
  st.wait();
}

// Every chunk of the batch; `body(k, chunk, slot)`. Split plans hand chunks to the team (each
// chunk's primitive is single-threaded); an unsplit plan runs its one multi-threaded primitive here.
template <class F>
void for_chunks(const Plan& p, int nt, const F& body) {
  const int ns = slots(p, nt);
  if (ns <= 1) {
    for (index_t k = 0; k < p.nchunks; ++k) body(k, 0);
    return;
  }
  FirstException guard;
#pragma omp parallel num_threads(ns)
  {
    const int slot = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (index_t k = 0; k < p.nchunks; ++k)
      guard.run([&](std::int64_t a, std::int64_t) { body(a, slot); }, k, k + 1);
  }
  guard.rethrow();
}

int prepare_threads() {
  // oneDNN's OpenMP runtime uses the calling thread's team size: match pyssl's thread count.
  const int nt = num_threads();
  if (omp_get_max_threads() != nt) omp_set_num_threads(nt);
  return nt;
}

// Weights oihw float32 → the primitive's layout / bf16 (or the user array itself).
void* weights_in(Engine& e, Plan& p, const float* w, const Carved& k) {
  if (!p.wei_reorder) return const_cast<float*>(w);
  dnnl::stream st(e.eng);
  memory u(p.wei_user, e.eng, const_cast<float*>(w)), d(p.main.wei_prim, e.eng, k.wei);
  run_reorder(p.wei_r, p.wei_sd, st, u, d, k.wei_scratch, e.eng);
  st.wait();
  return k.wei;
}

void run_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y, bool bf16,
                 void* workspace) {
  s.validate();
  const int nt = prepare_threads();
  Engine& e = engine();
  Plan& p = const_cast<Plan&>(plan(kFwd, s, b != nullptr, bf16, nt));
  WorkspaceCarver c(workspace);
  const Carved k = carve(c, kFwd, p, s, nt);
  void* wp = weights_in(e, p, w, k);
  const index_t xs = s.c * s.h * s.w, ys = s.o * s.ho() * s.wo();
  for_chunks(p, nt, [&](index_t ch, int slot) {
    const Chunk& c2 = (ch == p.nchunks - 1 && p.rest.n) ? p.rest : p.main;
    const index_t n0 = ch * p.chunk;
    run_one(e, kFwd, c2, p, x + n0 * xs, nullptr, y + n0 * ys, wp, const_cast<float*>(b),
            k.slots + std::size_t(slot) * p.slot_bytes());
  });
}

// Backward-weights in chunks of output channels (use_oc_split): x reordered once into the
// primitive's layout, then per chunk its dy channels, the primitive, and its dw rows out.
void backward_weights_by_channels(Engine& e, Plan& p, const ConvShape& s, const float* x, const float* dy, float* dw,
                                  float* db, bool accumulate, const Carved& k, int nt) {
  const Chunk& ch = p.main;
  const index_t P = s.ho() * s.wo(), ck = s.ck();
  memory xm(ch.in_user[0], e.eng, const_cast<float*>(x));
  if (ch.in_reorder[0]) {
    dnnl::stream st(e.eng);
    memory xp(ch.in_prim[0], e.eng, k.partials);
    char* scratch0 = k.slots + aligned(p.slot_in[0]) + aligned(p.slot_in[1]) + aligned(p.slot_out);  // slot 0's
    run_reorder(ch.in_r[0], ch.in_sd[0], st, xm, xp, scratch0, e.eng);
    st.wait();
    xm = xp;
  }
  float* wout = accumulate ? k.wtmp : dw;
  float* bout = accumulate ? k.bias_partials : db;
  for_chunks(p, nt, [&](index_t kk, int slot) {
    char* sb = k.slots + std::size_t(slot) * p.slot_bytes();
    char* buf_dy = sb + aligned(p.slot_in[0]);
    char* buf_w = buf_dy + aligned(p.slot_in[1]);
    char* buf_scratch = buf_w + aligned(p.slot_out);
    const index_t o0 = kk * p.chunk;
    dnnl::stream st(e.eng);
    memory du(ch.in_user[1], e.eng, const_cast<float*>(dy + o0 * P));
    memory dm = du;
    if (ch.in_reorder[1]) {
      dm = memory(ch.in_prim[1], e.eng, buf_dy);
      run_reorder(ch.in_r[1], ch.in_sd[1], st, du, dm, buf_scratch, e.eng);
    }
    memory wu(p.wei_user, e.eng, wout + o0 * ck);
    memory wm = p.wei_reorder ? memory(ch.wei_prim, e.eng, buf_w) : wu;
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, dm}, {DNNL_ARG_DIFF_WEIGHTS, wm}};
    if (db) args.insert({DNNL_ARG_DIFF_BIAS, memory(ch.bias_md, e.eng, bout + o0)});
    add_scratch(args, ch.prim_sd, buf_scratch, e.eng);
    ch.prim.execute(st, args);
    if (p.wei_reorder) run_reorder(p.wei_r, p.wei_sd, st, wm, wu, buf_scratch, e.eng);
    st.wait();
  });
  if (!accumulate) return;
  parallel_for(s.o * ck, 1, [&](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) dw[i] += k.wtmp[i];
  });
  if (db)
    for (index_t o = 0; o < s.o; ++o) db[o] += k.bias_partials[o];
}

bool use_gemm_wgrad(const ConvShape& s, bool bf16) {
  const int mode = conv_dnnl_options().wgrad_gemm;
  if (!bf16) return false;
  // A tap that reads only padding has a zero gradient; oneDNN 2023.2's AMX backward-weights leaves
  // whatever was in its buffer there (seen: ±1e-22 … 1e27 on a 1×3 kernel with stride 3 over width 2).
  if (conv2d_live_rows(s) < s.ck()) return true;
  if (mode < 0) return false;
  // Measured on AMX (ResNet-18's layers, batch 128, 2 threads; oneDNN's primitive → GEMMs): 512→512
  // 3×3 on 4×4 29.9 → 10.0 ms, 256→512 3×3 stride 2 20.5 → 6.9, 256→256 3×3 on 8×8 13.9 → 13.0,
  // 256→512 1×1 stride 2 3.4 → 2.1; slower where the map is larger (64→64 3×3 on 32×32 10.9 → 45.7)
  // and for a 1×1 kernel on 8×8 outputs (128→256 stride 2: 3.4 → 6.7).
  const index_t p = s.ho() * s.wo();
  return mode == 1 || p <= 16 || (p <= 64 && s.kh * s.kw > 1);
}

}  // namespace

bool conv_dnnl_available() { return true; }

std::string conv_dnnl_impl(int pass, bool bf16) {
  PYSSL_CHECK(pass >= 0 && pass < 3, "conv_dnnl_impl: pass must be 0, 1 or 2");
  Engine& e = engine();
  std::lock_guard<std::mutex> lock(e.mutex);
  if (bf16 && !blas::bf16_native())  // the float32 primitives ran on rounded operands
    return e.impl[pass][0].empty() ? "" : "emulated: float32 " + e.impl[pass][0] + " on bf16-rounded operands";
  return e.impl[pass][bf16];
}

// Where oneDNN has no bf16 convolution for the CPU (x86 without AVX-512, blas::bf16_native()
// false), bf16 passes run the float32 primitives on operands rounded to bfloat16 (copies at the
// front of the workspace): the same products, float32 sums.
bool emulate_bf16(bool bf16) { return bf16 && !blas::bf16_native(); }

std::size_t floats(index_t n) { return aligned(sizeof(float) * std::size_t(n)); }

const float* rounded(const float* src, index_t n, char*& base) {
  float* d = reinterpret_cast<float*>(base);
  round_to_bf16(src, d, n);
  base += floats(n);
  return d;
}

std::size_t conv2d_dnnl_forward_workspace(const ConvShape& s, bool has_bias, bool bf16) {
  s.validate();
  if (emulate_bf16(bf16))
    return floats(s.n * s.c * s.h * s.w) + floats(s.o * s.ck()) + conv2d_dnnl_forward_workspace(s, has_bias, false);
  const int nt = num_threads();
  const Plan& p = plan(kFwd, s, has_bias, bf16, nt);
  return workspace_bytes([&](auto& c) { carve(c, kFwd, p, s, nt); });
}

void conv2d_dnnl_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y, bool bf16,
                         void* workspace) {
  if (emulate_bf16(bf16)) {
    s.validate();
    char* base = static_cast<char*>(workspace);
    const float* xr = rounded(x, s.n * s.c * s.h * s.w, base);
    const float* wr = rounded(w, s.o * s.ck(), base);
    run_forward(s, xr, wr, b, y, false, base);
    return;
  }
  run_forward(s, x, w, b, y, bf16, workspace);
}

std::size_t conv2d_dnnl_backward_workspace(const ConvShape& s, bool need_dx, bool need_dw, bool has_bias, bool bf16) {
  s.validate();
  if (emulate_bf16(bf16))
    return (need_dw ? floats(s.n * s.c * s.h * s.w) : 0) + (need_dx ? floats(s.o * s.ck()) : 0) +
           floats(s.n * s.o * s.ho() * s.wo()) + conv2d_dnnl_backward_workspace(s, need_dx, need_dw, has_bias, false);
  const int nt = num_threads();
  std::size_t bytes = 0;
  if (need_dx) {
    const Plan& p = plan(kBwdData, s, false, bf16, nt);
    bytes += aligned(workspace_bytes([&](auto& c) { carve(c, kBwdData, p, s, nt); }));
  }
  if (need_dw && use_gemm_wgrad(s, bf16)) {
    bytes += conv_gemm_wgrad_workspace(s);
  } else if (need_dw) {
    const Plan& p = plan(kBwdWeights, s, has_bias, bf16, nt);
    bytes += workspace_bytes([&](auto& c) { carve(c, kBwdWeights, p, s, nt); });
  }
  return bytes;
}

void conv2d_dnnl_backward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx, float* dw,
                          float* db, bool accumulate, bool bf16, void* workspace) {
  s.validate();
  if (emulate_bf16(bf16)) {
    char* base = static_cast<char*>(workspace);
    const float* xr = dw ? rounded(x, s.n * s.c * s.h * s.w, base) : x;
    const float* wr = dx ? rounded(w, s.o * s.ck(), base) : w;
    const float* dyr = rounded(dy, s.n * s.o * s.ho() * s.wo(), base);
    conv2d_dnnl_backward(s, xr, wr, dyr, dx, dw, db, accumulate, false, base);
    return;
  }
  const int nt = prepare_threads();
  Engine& e = engine();
  char* base = static_cast<char*>(workspace);
  const index_t xs = s.c * s.h * s.w, ys = s.o * s.ho() * s.wo();
  if (dx) {
    Plan& p = const_cast<Plan&>(plan(kBwdData, s, false, bf16, nt));
    WorkspaceCarver c(base);
    const Carved k = carve(c, kBwdData, p, s, nt);
    base += aligned(c.bytes());
    void* wp = weights_in(e, p, w, k);
    for_chunks(p, nt, [&](index_t ch, int slot) {
      const Chunk& c2 = (ch == p.nchunks - 1 && p.rest.n) ? p.rest : p.main;
      const index_t n0 = ch * p.chunk;
      run_one(e, kBwdData, c2, p, dy + n0 * ys, nullptr, dx + n0 * xs, wp, nullptr,
              k.slots + std::size_t(slot) * p.slot_bytes());
    });
  }
  if (!dw) return;
  if (use_gemm_wgrad(s, bf16)) {
    conv_gemm_wgrad(s, x, dy, dw, db, accumulate, base);
    return;
  }
  Plan& p = const_cast<Plan&>(plan(kBwdWeights, s, db != nullptr, bf16, nt));
  WorkspaceCarver c(base);
  const Carved k = carve(c, kBwdWeights, p, s, nt);
  if (p.oc_split) {
    backward_weights_by_channels(e, p, s, x, dy, dw, db, accumulate, k, nt);
    return;
  }
  const std::size_t wsz = p.main.wei_prim.get_size(), wstride = aligned(wsz);
  for_chunks(p, nt, [&](index_t ch, int slot) {
    const Chunk& c2 = (ch == p.nchunks - 1 && p.rest.n) ? p.rest : p.main;
    const index_t n0 = ch * p.chunk;
    run_one(e, kBwdWeights, c2, p, x + n0 * xs, dy + n0 * ys, nullptr, k.partials + std::size_t(ch) * wstride,
            db ? k.bias_partials + ch * s.o : nullptr, k.slots + std::size_t(slot) * p.slot_bytes());
  });
  // Partials summed in chunk order, element by element (the same sums at any thread count).
  float* total = reinterpret_cast<float*>(k.partials);
  const index_t nw = index_t(wsz / sizeof(float)), nch = p.nchunks;
  if (nch > 1)
    parallel_for(nw, nch, [&](index_t i0, index_t i1) {
      for (index_t kk = 1; kk < nch; ++kk) {
        const float* src = reinterpret_cast<const float*>(k.partials + std::size_t(kk) * wstride);
        for (index_t i = i0; i < i1; ++i) total[i] += src[i];
      }
    });
  const float* wsum = total;
  if (p.wei_reorder) {
    dnnl::stream st(e.eng);
    memory from(p.main.wei_prim, e.eng, total), to(p.wei_user, e.eng, k.wtmp);
    run_reorder(p.wei_r, p.wei_sd, st, from, to, k.wei_scratch, e.eng);
    st.wait();
    wsum = k.wtmp;
  }
  const index_t nd = s.o * s.ck();
  parallel_for(nd, 1, [&](index_t i0, index_t i1) {
    if (accumulate)
      for (index_t i = i0; i < i1; ++i) dw[i] += wsum[i];
    else
      std::memcpy(dw + i0, wsum + i0, sizeof(float) * (i1 - i0));
  });
  if (db)
    for (index_t o = 0; o < s.o; ++o) {
      float v = k.bias_partials[o];
      for (index_t kk = 1; kk < nch; ++kk) v += k.bias_partials[kk * s.o + o];
      db[o] = accumulate ? db[o] + v : v;
    }
}

#else  // no oneDNN

namespace {
[[noreturn]] void no_onednn() {
  fail("the oneDNN convolution engine (and precision='bf16-mixed' convolutions) needs pyssl built with oneDNN: "
       "pip install onednn-cpu-gomp onednn-devel-cpu-gomp, then reinstall pyssl");
}
}  // namespace

bool conv_dnnl_available() { return false; }
std::string conv_dnnl_impl(int, bool) { return ""; }
std::size_t conv2d_dnnl_forward_workspace(const ConvShape&, bool, bool) { no_onednn(); }
void conv2d_dnnl_forward(const ConvShape&, const float*, const float*, const float*, float*, bool, void*) { no_onednn(); }
std::size_t conv2d_dnnl_backward_workspace(const ConvShape&, bool, bool, bool, bool) { no_onednn(); }
void conv2d_dnnl_backward(const ConvShape&, const float*, const float*, const float*, float*, float*, float*, bool, bool,
                          void*) {
  no_onednn();
}

#endif

}  // namespace pyssl::nn
