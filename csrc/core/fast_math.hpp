// Vectorisable elementary functions: exp(x) and log(1 + e) on [0, 1].
//
// exp(x) that the compiler can vectorise inside `#pragma omp simd` loops.
//
// std::exp is a scalar libm call unless the build uses -ffast-math (glibc only declares its
// vector variants under __FAST_MATH__), which pyssl does not use. softmax / cross-entropy are
// exp-bound, so this header gives an accurate branch-free version built from arithmetic and bit
// operations only:
//   exp(x) = 2ⁿ · exp(r),  n = round(x / ln 2),  r = x − n ln 2 (Cody–Waite two-constant split),
//   exp(r) by its Taylor polynomial on |r| ≤ ln2/2 (degree 13 for double, 7 for float; truncation
//   < 5e-18 and < 5e-9 relative), 2ⁿ assembled in the exponent bits.
// Accuracy (tests/test_softmax.py checks it against numpy): a few ulp in double, ≤ 2 ulp in
// float over the whole normal range. Below the normal range (x < −708 double, x < −87 float) it
// returns 0 instead of a subnormal; above the range (x > 709 / 88) it returns +inf. NaN in, NaN out.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

namespace pyssl {

namespace detail {
template <class T>
struct ExpConst;

template <>
struct ExpConst<double> {
  using Bits = std::uint64_t;
  static constexpr double lo = -708.0, hi = 709.0;
  static constexpr double log2e = 1.4426950408889634074;
  static constexpr double ln2_hi = 0.693145751953125;  // 16 significant bits: n·ln2_hi is exact
  static constexpr double ln2_lo = 1.42860682030941723212e-6;
  static constexpr double magic = 6755399441055744.0;  // 1.5·2⁵², rounds to an integer in the low bits
  static constexpr int mant = 52;
  static constexpr Bits bias = 1023;
};

template <>
struct ExpConst<float> {
  using Bits = std::uint32_t;
  static constexpr float lo = -87.0f, hi = 88.0f;
  static constexpr float log2e = 1.44269504088896341f;
  static constexpr float ln2_hi = 0.693359375f;
  static constexpr float ln2_lo = -2.12194440e-4f;
  static constexpr float magic = 12582912.0f;  // 1.5·2²³
  static constexpr int mant = 23;
  static constexpr Bits bias = 127;
};

// Taylor coefficients 1/k! of exp.
template <class T>
inline T exp_poly(T r);

template <>
inline double exp_poly<double>(double r) {
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  return p * r + 1.0;
}

template <>
inline float exp_poly<float>(float r) {
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  return p * r + 1.0f;
}
}  // namespace detail

template <class T>
inline T fast_exp(T x) {
  using C = detail::ExpConst<T>;
  using Bits = typename C::Bits;
  const T xc = x < C::lo ? C::lo : (x > C::hi ? C::hi : x);
  const T t = xc * C::log2e + C::magic;  // low mantissa bits of t hold n = round(x / ln 2)
  const T n = t - C::magic;
  const T r = (xc - n * C::ln2_hi) - n * C::ln2_lo;
  Bits tb;
  std::memcpy(&tb, &t, sizeof(T));
  const Bits eb = (tb + C::bias) << C::mant;  // (n + bias) into the exponent field
  T scale;
  std::memcpy(&scale, &eb, sizeof(T));
  T y = detail::exp_poly<T>(r) * scale;
  y = x < C::lo ? T(0) : y;
  y = x > C::hi ? std::numeric_limits<T>::infinity() : y;
  return x != x ? x : y;
}

// log(1 + e) for e in [0, 1]: 2 atanh(u), u = e / (2 + e) in [0, 1/3], odd series in u.
template <class T>
inline T log1p_unit(T e) {
  constexpr int terms = sizeof(T) == 4 ? 8 : 17;
  const T u = e / (T(2) + e);
  const T u2 = u * u;
  T s = T(0);
#pragma GCC unroll 20
  for (int i = terms; i >= 1; --i) s = T(1) / T(2 * i + 1) + u2 * s;  // constants fold once unrolled
  return T(2) * u * (T(1) + u2 * s);
}

}  // namespace pyssl
