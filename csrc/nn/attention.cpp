#include "nn/attention.hpp"

#include <cmath>
#include <limits>

#include <omp.h>

#include "blas/blas_api.hpp"
#include "core/fast_math.hpp"
#include "core/instantiate.hpp"
#include "parallel/parallel.hpp"

namespace pyssl::nn {

namespace {
using blas::Trans;

// Row softmax of s (rows × l) in place, padded keys (mask[j] != 0) at probability 0; lse (may be
// null) gets each row's log-sum-exp m + log Σ e^{s − m}.
template <class T>
void masked_softmax_rows(T* s, index_t rows, index_t l, const std::uint8_t* mask, T* lse = nullptr) {
  for (index_t i = 0; i < rows; ++i) {
    T* r = s + i * l;
    T m = -std::numeric_limits<T>::infinity();
    if (mask) {
      for (index_t j = 0; j < l; ++j)
        if (!mask[j] && r[j] > m) m = r[j];
    } else {
#pragma omp simd reduction(max : m)
      for (index_t j = 0; j < l; ++j) m = r[j] > m ? r[j] : m;
    }
    T sum = 0;
    if (mask) {
      for (index_t j = 0; j < l; ++j) {
        const T e = mask[j] ? T(0) : fast_exp(r[j] - m);
        r[j] = e;
        sum += e;
      }
    } else {
#pragma omp simd reduction(+ : sum)
      for (index_t j = 0; j < l; ++j) {
        const T e = fast_exp(r[j] - m);
        r[j] = e;
        sum += e;
      }
    }
    const T inv = T(1) / sum;
#pragma omp simd
    for (index_t j = 0; j < l; ++j) r[j] *= inv;
    if (lse) lse[i] = m + std::log(sum);
  }
}
// This thread's slice of a workspace of `slots` slices of `per` elements (attention.hpp).
template <class T>
T* thread_slice(void* workspace, index_t per, int slots) {
  const int tid = omp_get_thread_num();
  PYSSL_CHECK(tid < slots, "attention: the workspace holds ", slots, " thread slices but thread ", tid,
              " runs; size it with the thread count of the call");
  return static_cast<T*>(workspace) + index_t(tid) * attention_slice<T>(per);
}
}  // namespace

template <class T>
void attention_forward(const T* qkv, const std::uint8_t* key_mask, T* out, T* probs, index_t n, index_t l,
                       index_t heads, index_t dh) {
  PYSSL_CHECK(n >= 0 && l >= 1 && heads >= 1 && dh >= 1, "attention: bad sizes n=", n, " l=", l, " heads=", heads,
              " dh=", dh);
  const index_t d = heads * dh, ld = 3 * d;
  const T scale = T(1) / std::sqrt(T(dh));
  parallel_for(n * heads, 4 * l * l * dh + 12 * l * l, [&](index_t t0, index_t t1) {
    for (index_t t = t0; t < t1; ++t) {
      const index_t s = t / heads, h = t % heads;
      const T* q = qkv + s * l * ld + h * dh;
      const T* k = q + d;
      const T* v = q + 2 * d;
      T* p = probs + t * l * l;
      blas::gemm<T>(Trans::No, Trans::Yes, l, l, dh, scale, q, ld, k, ld, T(0), p, l);
      masked_softmax_rows(p, l, l, key_mask ? key_mask + s * l : nullptr);
      blas::gemm<T>(Trans::No, Trans::No, l, dh, l, T(1), p, l, v, ld, T(0), out + s * l * d + h * dh, d);
    }
  });
}

template <class T>
void attention_backward(const T* qkv, const T* probs, const T* dout, T* dqkv, index_t n, index_t l,
                        index_t heads, index_t dh, int slots, void* workspace) {
  const index_t d = heads * dh, ld = 3 * d;
  const T scale = T(1) / std::sqrt(T(dh));
  parallel_for(n * heads, 8 * l * l * dh + 6 * l * l, [&](index_t t0, index_t t1) {
    T* ds = thread_slice<T>(workspace, attention_backward_scratch(l), slots);
    for (index_t t = t0; t < t1; ++t) {
      const index_t s = t / heads, h = t % heads;
      const index_t off = s * l * ld + h * dh;
      const T *q = qkv + off, *k = q + d, *v = q + 2 * d;
      T *dq = dqkv + off, *dk = dq + d, *dv = dq + 2 * d;
      const T* p = probs + t * l * l;
      const T* go = dout + s * l * d + h * dh;
      blas::gemm<T>(Trans::Yes, Trans::No, l, dh, l, T(1), p, l, go, d, T(0), dv, ld);    // dV = Pᵀ dO
      blas::gemm<T>(Trans::No, Trans::Yes, l, l, dh, T(1), go, d, v, ld, T(0), ds, l);    // dP = dO Vᵀ
      for (index_t i = 0; i < l; ++i) {
        const T* pr = p + i * l;
        T* r = ds + i * l;
        T dot = 0;
#pragma omp simd reduction(+ : dot)
        for (index_t j = 0; j < l; ++j) dot += pr[j] * r[j];
#pragma omp simd
        for (index_t j = 0; j < l; ++j) r[j] = pr[j] * (r[j] - dot) * scale;
      }
      blas::gemm<T>(Trans::No, Trans::No, l, dh, l, T(1), ds, l, k, ld, T(0), dq, ld);    // dQ = dS K
      blas::gemm<T>(Trans::Yes, Trans::No, l, dh, l, T(1), ds, l, q, ld, T(0), dk, ld);   // dK = dSᵀ Q
    }
  });
}

template <class T>
void attention_forward_lse(const T* qkv, const std::uint8_t* key_mask, T* out, T* lse, index_t n, index_t l,
                           index_t heads, index_t dh, int slots, void* workspace) {
  const index_t d = heads * dh, ld = 3 * d;
  const T scale = T(1) / std::sqrt(T(dh));
  const index_t br = l < kAttentionRowBlock ? l : kAttentionRowBlock;
  parallel_for(n * heads, 4 * l * l * dh + 12 * l * l, [&](index_t t0, index_t t1) {
    T* p = thread_slice<T>(workspace, attention_forward_lse_scratch(l), slots);
    for (index_t t = t0; t < t1; ++t) {
      const index_t s = t / heads, h = t % heads;
      const T* q = qkv + s * l * ld + h * dh;
      const T* k = q + d;
      const T* v = q + 2 * d;
      const std::uint8_t* mask = key_mask ? key_mask + s * l : nullptr;
      for (index_t i0 = 0; i0 < l; i0 += br) {
        const index_t rows = l - i0 < br ? l - i0 : br;
        blas::gemm<T>(Trans::No, Trans::Yes, rows, l, dh, scale, q + i0 * ld, ld, k, ld, T(0), p, l);
        masked_softmax_rows(p, rows, l, mask, lse + t * l + i0);
        blas::gemm<T>(Trans::No, Trans::No, rows, dh, l, T(1), p, l, v, ld, T(0), out + (s * l + i0) * d + h * dh, d);
      }
    }
  });
}

template <class T>
void attention_backward_recompute(const T* qkv, const std::uint8_t* key_mask, const T* lse, const T* out,
                                  const T* dout, T* dqkv, index_t n, index_t l, index_t heads, index_t dh,
                                  int slots, void* workspace) {
  const index_t d = heads * dh, ld = 3 * d;
  const T scale = T(1) / std::sqrt(T(dh));
  const index_t br = l < kAttentionRowBlock ? l : kAttentionRowBlock;
  parallel_for(n * heads, 10 * l * l * dh + 16 * l * l, [&](index_t t0, index_t t1) {
    T* p = thread_slice<T>(workspace, attention_backward_recompute_scratch(l), slots);
    T* ds = p + br * l;
    for (index_t t = t0; t < t1; ++t) {
      const index_t s = t / heads, h = t % heads;
      const index_t off = s * l * ld + h * dh;
      const T *q = qkv + off, *k = q + d, *v = q + 2 * d;
      T *dq = dqkv + off, *dk = dq + d, *dv = dq + 2 * d;
      const std::uint8_t* mask = key_mask ? key_mask + s * l : nullptr;
      const T* lr = lse + t * l;
      for (index_t i0 = 0; i0 < l; i0 += br) {
        const index_t rows = l - i0 < br ? l - i0 : br;
        const T* go = dout + (s * l + i0) * d + h * dh;
        const T* o = out + (s * l + i0) * d + h * dh;
        blas::gemm<T>(Trans::No, Trans::Yes, rows, l, dh, scale, q + i0 * ld, ld, k, ld, T(0), p, l);  // S
        blas::gemm<T>(Trans::No, Trans::Yes, rows, l, dh, T(1), go, d, v, ld, T(0), ds, l);           // dP
        for (index_t i = 0; i < rows; ++i) {
          T* pr = p + i * l;
          T* r = ds + i * l;
          const T li = lr[i0 + i];
          // P recomputed from the saved log-sum-exp; the mask test is hoisted out of the loop
          // (a conditional load of mask[j] kept it scalar: "control flow in loop")
          if (mask) {
#pragma omp simd
            for (index_t j = 0; j < l; ++j) pr[j] = mask[j] ? T(0) : fast_exp(pr[j] - li);
          } else {
#pragma omp simd
            for (index_t j = 0; j < l; ++j) pr[j] = fast_exp(pr[j] - li);
          }
          T dot = 0;
          const T* gi = go + i * d;
          const T* oi = o + i * d;
#pragma omp simd reduction(+ : dot)
          for (index_t c = 0; c < dh; ++c) dot += gi[c] * oi[c];
#pragma omp simd
          for (index_t j = 0; j < l; ++j) r[j] = pr[j] * (r[j] - dot) * scale;
        }
        const T beta = i0 == 0 ? T(0) : T(1);  // dK, dV summed over the row blocks, in order
        blas::gemm<T>(Trans::Yes, Trans::No, l, dh, rows, T(1), p, l, go, d, beta, dv, ld);          // dV += Pᵀ dO
        blas::gemm<T>(Trans::No, Trans::No, rows, dh, l, T(1), ds, l, k, ld, T(0), dq + i0 * ld, ld);  // dQ = dS K
        blas::gemm<T>(Trans::Yes, Trans::No, l, dh, rows, T(1), ds, l, q + i0 * ld, ld, beta, dk, ld);  // dK += dSᵀ Q
      }
    }
  });
}

template <class T>
void feature_tokenizer_forward(const T* x, const T* w, const T* b, T* y, index_t n, index_t f, index_t d) {
  parallel_for(n, 2 * f * d, [&](index_t r0, index_t r1) {
    for (index_t r = r0; r < r1; ++r)
      for (index_t j = 0; j < f; ++j) {
        const T xv = x[r * f + j];
        const T* wj = w + j * d;
        T* yr = y + (r * f + j) * d;
        if (b) {
          const T* bj = b + j * d;
#pragma omp simd
          for (index_t c = 0; c < d; ++c) yr[c] = xv * wj[c] + bj[c];
        } else {
#pragma omp simd
          for (index_t c = 0; c < d; ++c) yr[c] = xv * wj[c];
        }
      }
  });
}

template <class T>
void feature_tokenizer_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, index_t n, index_t f,
                                index_t d, bool accumulate) {
  if (dx) {
    parallel_for(n, 2 * f * d, [&](index_t r0, index_t r1) {
      for (index_t r = r0; r < r1; ++r)
        for (index_t j = 0; j < f; ++j) {
          const T* g = dy + (r * f + j) * d;
          const T* wj = w + j * d;
          T acc = 0;
#pragma omp simd reduction(+ : acc)
          for (index_t c = 0; c < d; ++c) acc += g[c] * wj[c];
          dx[r * f + j] = acc;
        }
    });
  }
  parallel_for(f, 3 * n * d, [&](index_t j0, index_t j1) {
    for (index_t j = j0; j < j1; ++j) {
      T* dwj = dw + j * d;
      T* dbj = db ? db + j * d : nullptr;
      if (!accumulate) {
        for (index_t c = 0; c < d; ++c) dwj[c] = 0;
        if (dbj)
          for (index_t c = 0; c < d; ++c) dbj[c] = 0;
      }
      for (index_t r = 0; r < n; ++r) {
        const T xv = x[r * f + j];
        const T* g = dy + (r * f + j) * d;
#pragma omp simd
        for (index_t c = 0; c < d; ++c) dwj[c] += g[c] * xv;
        if (dbj) {
#pragma omp simd
          for (index_t c = 0; c < d; ++c) dbj[c] += g[c];
        }
      }
    }
  });
}

#define PYSSL_INST(T)                                                                                        \
  template void attention_forward<T>(const T*, const std::uint8_t*, T*, T*, index_t, index_t, index_t,      \
                                     index_t);                                                               \
  template void attention_backward<T>(const T*, const T*, const T*, T*, index_t, index_t, index_t, index_t, \
                                      int, void*);                                                           \
  template void attention_forward_lse<T>(const T*, const std::uint8_t*, T*, T*, index_t, index_t, index_t,  \
                                         index_t, int, void*);                                               \
  template void attention_backward_recompute<T>(const T*, const std::uint8_t*, const T*, const T*, const T*, \
                                                T*, index_t, index_t, index_t, index_t, int, void*);         \
  template void feature_tokenizer_forward<T>(const T*, const T*, const T*, T*, index_t, index_t, index_t);  \
  template void feature_tokenizer_backward<T>(const T*, const T*, const T*, T*, T*, T*, index_t, index_t,   \
                                              index_t, bool);
PYSSL_INSTANTIATE_FLOATS(PYSSL_INST)
#undef PYSSL_INST

}  // namespace pyssl::nn
