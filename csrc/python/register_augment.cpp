// Bindings for csrc/augment/ kernels: convert, re-check cheaply (pyssl/pretext validates first
// with clear messages), allocate outputs, release the GIL, call the kernel. No math here.
#include "augment/common.hpp"
#include "augment/feature.hpp"
#include "augment/image.hpp"
#include "augment/sequence.hpp"
#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

using augment::kMaxSamples;
using augment::u64;
using i64 = std::int64_t;

std::vector<index_t> shape_of(const py::array& a) { return std::vector<index_t>(a.shape(), a.shape() + a.ndim()); }

// (N, D) view of a batch of any rank >= 1.
void batch_dims(const py::array& x, const char* name, index_t& n, index_t& d) {
  if (x.ndim() < 1) fail(name, " must have a batch axis, got ", describe(x));
  n = dim(x, 0);
  if (n < 1) fail(name, " must not be an empty batch, got ", describe(x));
  if (u64(n) >= kMaxSamples) fail(name, " has too many samples: ", describe(x));
  d = n ? index_t(x.size()) / n : 0;
}

void check_unit(double v, const char* name) {
  if (!(v >= 0.0 && v <= 1.0)) fail(name, " must be in [0, 1], got ", v);
}

const i64* in_i64(const py::array& a, const char* name) {
  if (!has_dtype<i64>(a)) throw py::type_error(std::string(name) + " must have dtype int64, got " + describe(a));
  check_contiguous(a, name);
  return static_cast<const i64*>(a.data());
}

void check_image(const py::array& x, const char* name) {
  if (x.ndim() != 4) fail(name, " must be 4-D (N, C, H, W), got ", describe(x));
  if (dim(x, 0) < 1 || dim(x, 1) < 1 || dim(x, 2) < 1 || dim(x, 3) < 1) fail(name, " must not be empty, got ", describe(x));
}

void check_sequence(const py::array& x, const char* name) {
  if (x.ndim() != 3) fail(name, " must be 3-D (N, C, T), got ", describe(x));
  if (dim(x, 0) < 1 || dim(x, 1) < 1 || dim(x, 2) < 1) fail(name, " must not be empty, got ", describe(x));
}

// ---------------- feature-level ----------------

py::tuple mask_features(const py::array& x, double ratio, std::uint64_t seed, double fill, const py::object& fill_pf) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    index_t n, d;
    batch_dims(x, "x", n, d);
    check_unit(ratio, "ratio");
    const T* pf = nullptr;
    py::array fa;
    if (present(fill_pf)) {
      fa = fill_pf.cast<py::array>();
      pf = in<T>(fa, "fill");
      if (index_t(fa.size()) != d) fail("fill must have one value per feature (", d, "), got ", describe(fa));
    }
    auto out = empty<T>(shape_of(x));
    auto mask = empty<T>(shape_of(x));
    T *po = out.mutable_data(), *pm = mask.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::mask_features<T>(px, po, pm, n, d, ratio, T(fill), pf, seed);
    }
    return py::make_tuple(std::move(out), std::move(mask));
  });
}

py::array gaussian_noise(const py::array& x, double std, std::uint64_t seed) {
  return dispatch_float(x, "x", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    index_t n, d;
    batch_dims(x, "x", n, d);
    if (!(std >= 0.0)) fail("std must be >= 0, got ", std);
    auto out = empty<T>(shape_of(x));
    T* po = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::gaussian_noise<T>(px, po, n, d, std, seed);
    }
    return std::move(out);
  });
}

py::tuple scarf_corrupt(const py::array& x, const py::array& ref, index_t k, std::uint64_t seed) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    const T* pr = in<T>(ref, "reference");
    index_t n, d, nr, dr;
    batch_dims(x, "x", n, d);
    batch_dims(ref, "reference", nr, dr);
    if (dr != d || ref.ndim() != x.ndim()) fail("reference must have x's feature shape; x is ", describe(x), ", reference is ", describe(ref));
    if (k < 1 || k > d) fail("scarf: number of corrupted features must be in [1, ", d, "], got ", k);
    if (u64(nr) > 0xffffffffull) fail("reference has too many rows: ", describe(ref));
    auto out = empty<T>(shape_of(x));
    auto mask = empty<T>(shape_of(x));
    T *po = out.mutable_data(), *pm = mask.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::scarf_corrupt<T>(px, pr, po, pm, n, d, nr, k, seed);
    }
    return py::make_tuple(std::move(out), std::move(mask));
  });
}

py::tuple vime_corrupt(const py::array& x, double p, std::uint64_t seed) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    index_t n, d;
    batch_dims(x, "x", n, d);
    check_unit(p, "p_m");
    auto out = empty<T>(shape_of(x));
    auto mask = empty<T>(shape_of(x));
    T *po = out.mutable_data(), *pm = mask.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::vime_corrupt<T>(px, po, pm, n, d, p, seed);
    }
    return py::make_tuple(std::move(out), std::move(mask));
  });
}

py::tuple mixup(const py::array& x, double alpha, bool positive_only, std::uint64_t seed) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    index_t n, d;
    batch_dims(x, "x", n, d);
    if (!(alpha > 0.0) || !std::isfinite(alpha)) fail("alpha must be > 0 and finite, got ", alpha);
    auto out = empty<T>(shape_of(x));
    auto lam = empty<T>({n});
    auto partner = empty<i64>({n});
    T *po = out.mutable_data(), *pl = lam.mutable_data();
    i64* pp = partner.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::mixup<T>(px, po, pl, pp, n, d, alpha, positive_only, seed);
    }
    return py::make_tuple(std::move(out), std::move(lam), std::move(partner));
  });
}

py::tuple span_mask(const py::array& x, index_t span, double fill, std::uint64_t seed) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    if (x.ndim() != 2 && x.ndim() != 3) fail("x must be (N, D) or (N, C, T), got ", describe(x));
    index_t n, d;
    batch_dims(x, "x", n, d);
    const index_t t = dim(x, x.ndim() - 1), c = x.ndim() == 3 ? dim(x, 1) : 1;
    if (t < 1 || c < 1) fail("x must not be empty, got ", describe(x));
    if (span < 0 || span > t) fail("span must be in [0, ", t, "], got ", span);
    auto out = empty<T>(shape_of(x));
    auto mask = empty<T>(shape_of(x));
    T *po = out.mutable_data(), *pm = mask.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::span_mask<T>(px, po, pm, n, c, t, span, T(fill), seed);
    }
    return py::make_tuple(std::move(out), std::move(mask));
  });
}

py::tuple shuffle_tokens(const py::array& x, index_t m, std::uint64_t seed) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x", 3);
    const index_t n = dim(x, 0), l = dim(x, 1), d = dim(x, 2);
    if (n < 1 || l < 1 || d < 1) fail("x must be a non-empty (N, L, D) batch, got ", describe(x));
    if (m < 0 || m > l) fail("number of shuffled tokens must be in [0, ", l, "], got ", m);
    auto out = empty<T>(shape_of(x));
    auto label = empty<T>({n, l});
    T *po = out.mutable_data(), *pl = label.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::shuffle_tokens<T>(px, po, pl, n, l, d, m, seed);
    }
    return py::make_tuple(std::move(out), std::move(label));
  });
}

py::array permutations(index_t count, index_t n, std::uint64_t seed) {
  if (count < 0 || n < 1 || u64(count) >= kMaxSamples || u64(n) > 0xffffffffull) fail("permutations: need count >= 0 and n >= 1, got count=", count, ", n=", n);
  auto out = empty<i64>({count, n});
  i64* po = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    augment::permutations(po, count, n, seed);
  }
  return std::move(out);
}

py::array integers(index_t count, i64 high, std::uint64_t seed) {
  if (count < 0 || u64(count) >= kMaxSamples) fail("integers: count must be >= 0, got ", count);
  if (high < 1 || u64(high) > 0xffffffffull) fail("integers: high must be in [1, 2**32 - 1], got ", high);
  auto out = empty<i64>({count});
  i64* po = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    augment::integers(po, count, high, seed);
  }
  return std::move(out);
}

py::array uniforms(index_t count, std::uint64_t seed) {
  if (count < 0 || u64(count) >= kMaxSamples) fail("uniforms: count must be >= 0, got ", count);
  auto out = empty<double>({count});
  double* po = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    augment::uniforms(po, count, seed);
  }
  return std::move(out);
}

py::array philox_words(index_t count, std::uint64_t seed, std::uint64_t stream, bool vectorised) {
  if (count < 0) fail("count must be >= 0, got ", count);
  auto out = empty<std::uint32_t>({count});
  std::uint32_t* po = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    augment::philox_words(po, count, seed, stream, vectorised);
  }
  return std::move(out);
}

// ---------------- sequences ----------------

py::tuple crop_resize_1d(const py::array& x, index_t t_out, double lo, double hi, std::uint64_t seed) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    check_sequence(x, "x");
    const index_t n = dim(x, 0), c = dim(x, 1), t = dim(x, 2);
    if (t_out < 1) fail("size must be >= 1, got ", t_out);
    if (!(lo > 0.0 && lo <= hi && hi <= 1.0)) fail("scale must satisfy 0 < low <= high <= 1, got (", lo, ", ", hi, ")");
    auto out = empty<T>({n, c, t_out});
    auto win = empty<i64>({n, 2});
    T* po = out.mutable_data();
    i64* pw = win.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::crop_resize_1d<T>(px, po, n, c, t, t_out, lo, hi, pw, seed);
    }
    return py::make_tuple(std::move(out), std::move(win));
  });
}

py::array scaling(const py::array& x, double sigma, std::uint64_t seed) {
  return dispatch_float(x, "x", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    check_sequence(x, "x");
    if (!(sigma >= 0.0)) fail("sigma must be >= 0, got ", sigma);
    auto out = empty<T>(shape_of(x));
    T* po = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::scaling<T>(px, po, dim(x, 0), dim(x, 1), dim(x, 2), sigma, seed);
    }
    return std::move(out);
  });
}

py::tuple segment_permute(const py::array& x, index_t segments, std::uint64_t seed) {
  return dispatch_float(x, "x", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    check_sequence(x, "x");
    const index_t n = dim(x, 0), t = dim(x, 2);
    if (segments < 1 || segments > t) fail("segments must be in [1, T=", t, "], got ", segments);
    auto out = empty<T>(shape_of(x));
    auto perms = empty<i64>({n, segments});
    T* po = out.mutable_data();
    i64* pp = perms.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::segment_permute<T>(px, po, pp, n, dim(x, 1), t, segments, seed);
    }
    return py::make_tuple(std::move(out), std::move(perms));
  });
}

py::array time_warp(const py::array& x, double sigma, index_t knots, std::uint64_t seed) {
  return dispatch_float(x, "x", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    check_sequence(x, "x");
    if (!(sigma >= 0.0)) fail("sigma must be >= 0, got ", sigma);
    if (knots < 0) fail("knots must be >= 0, got ", knots);
    auto out = empty<T>(shape_of(x));
    T* po = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::time_warp<T>(px, po, dim(x, 0), dim(x, 1), dim(x, 2), sigma, knots, seed);
    }
    return std::move(out);
  });
}

// ---------------- images ----------------

py::array rotate90(const py::array& x, const py::array& k) {
  return dispatch_float(x, "images", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "images");
    check_image(x, "images");
    const i64* pk = in_i64(k, "k");
    const index_t n = dim(x, 0), c = dim(x, 1), h = dim(x, 2), w = dim(x, 3);
    if (k.ndim() != 1 || dim(k, 0) != n) fail("k must have one entry per image (", n, ",), got ", describe(k));
    bool odd = false, even = false;
    for (index_t i = 0; i < n; ++i) ((pk[i] & 1) ? odd : even) = true;
    if (h != w && odd && even) fail("images are not square (", describe(x), "): per-image k must be all even or all odd");
    auto out = (odd && h != w) ? empty<T>({n, c, w, h}) : empty<T>({n, c, h, w});
    T* po = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::rotate90<T>(px, po, pk, n, c, h, w);
    }
    return std::move(out);
  });
}

py::array hflip(const py::array& x, const py::array& flags) {
  return dispatch_float(x, "images", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "images");
    check_image(x, "images");
    const i64* pf = in_i64(flags, "flags");
    const index_t n = dim(x, 0);
    if (flags.ndim() != 1 || dim(flags, 0) != n) fail("flags must have one entry per image (", n, ",), got ", describe(flags));
    auto out = empty<T>(shape_of(x));
    T* po = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::hflip<T>(px, po, pf, n, dim(x, 1), dim(x, 2), dim(x, 3));
    }
    return std::move(out);
  });
}

py::array crop_boxes(index_t n, index_t h, index_t w, double s0, double s1, double r0, double r1, std::uint64_t seed) {
  if (n < 1 || h < 1 || w < 1 || u64(n) >= kMaxSamples) fail("crop_boxes: need n, h, w >= 1, got ", n, ", ", h, ", ", w);
  if (!(s0 > 0 && s0 <= s1 && s1 <= 1)) fail("scale must satisfy 0 < low <= high <= 1, got (", s0, ", ", s1, ")");
  if (!(r0 > 0 && r0 <= r1 && std::isfinite(r1))) fail("ratio must satisfy 0 < low <= high, got (", r0, ", ", r1, ")");
  auto out = empty<i64>({n, 4});
  i64* po = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    augment::crop_boxes(po, n, h, w, s0, s1, r0, r1, seed);
  }
  return std::move(out);
}

py::array resized_crop(const py::array& x, const py::array& boxes, index_t oh, index_t ow) {
  return dispatch_float(x, "images", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "images");
    check_image(x, "images");
    const i64* pb = in_i64(boxes, "boxes");
    const index_t n = dim(x, 0), c = dim(x, 1), h = dim(x, 2), w = dim(x, 3);
    check_shape(boxes, {n, 4}, "boxes");
    if (oh < 1 || ow < 1) fail("size must be positive, got (", oh, ", ", ow, ")");
    for (index_t i = 0; i < n; ++i) {
      const i64* b = pb + 4 * i;
      if (b[0] < 0 || b[1] < 0 || b[2] < 1 || b[3] < 1 || b[0] + b[2] > h || b[1] + b[3] > w)
        fail("boxes[", i, "] = (", b[0], ", ", b[1], ", ", b[2], ", ", b[3], ") (top, left, height, width) does not fit in a ", h, "x", w, " image");
    }
    auto out = empty<T>({n, c, oh, ow});
    T* po = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::resized_crop<T>(px, po, pb, n, c, h, w, oh, ow);
    }
    return std::move(out);
  });
}

py::array jigsaw(const py::array& x, index_t grid, const py::array& perms, const py::array& labels, bool tiles) {
  return dispatch_float(x, "images", [&](auto tag) -> py::array {
    using T = decltype(tag);
    const T* px = in<T>(x, "images");
    check_image(x, "images");
    const index_t n = dim(x, 0), c = dim(x, 1), h = dim(x, 2), w = dim(x, 3);
    if (grid < 1 || h % grid || w % grid) fail("images ", describe(x), " cannot be cut into a ", grid, "x", grid, " grid: H and W must be multiples of grid");
    const index_t g2 = grid * grid;
    const i64* pp = in_i64(perms, "permutation_set");
    if (perms.ndim() != 2 || dim(perms, 1) != g2 || dim(perms, 0) < 1) fail("permutation_set must be (P, ", g2, "), got ", describe(perms));
    const index_t np_ = dim(perms, 0);
    std::vector<char> seen(static_cast<size_t>(g2));
    for (index_t r = 0; r < np_; ++r) {
      std::fill(seen.begin(), seen.end(), char(0));
      for (index_t t = 0; t < g2; ++t) {
        const i64 v = pp[r * g2 + t];
        if (v < 0 || v >= g2 || seen[size_t(v)]) fail("permutation_set row ", r, " is not a permutation of 0..", g2 - 1);
        seen[size_t(v)] = 1;
      }
    }
    const i64* pl = in_i64(labels, "labels");
    check_shape(labels, {n}, "labels");
    for (index_t i = 0; i < n; ++i)
      if (pl[i] < 0 || pl[i] >= np_) fail("labels[", i, "] = ", pl[i], " is outside [0, ", np_, ")");
    auto out = tiles ? empty<T>({n, g2, c, h / grid, w / grid}) : empty<T>({n, c, h, w});
    T* po = out.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::jigsaw<T>(px, po, pp, pl, n, c, h, w, grid, tiles);
    }
    return std::move(out);
  });
}

py::tuple patch_mask(const py::array& x, index_t patch, index_t n_masked, double fill, std::uint64_t seed) {
  return dispatch_float(x, "images", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "images");
    check_image(x, "images");
    const index_t n = dim(x, 0), c = dim(x, 1), h = dim(x, 2), w = dim(x, 3);
    if (patch < 1 || h % patch || w % patch) fail("images ", describe(x), " cannot be cut into ", patch, "x", patch, " patches: H and W must be multiples of patch_size");
    const index_t l = (h / patch) * (w / patch);
    if (n_masked < 0 || n_masked > l) fail("number of masked patches must be in [0, ", l, "], got ", n_masked);
    auto out = empty<T>(shape_of(x));
    auto mask = empty<T>({n, l});
    auto kept = empty<i64>({n, l - n_masked});
    auto masked = empty<i64>({n, n_masked});
    T *po = out.mutable_data(), *pm = mask.mutable_data();
    i64 *pk = kept.mutable_data(), *pmk = masked.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::patch_mask<T>(px, po, pm, pk, pmk, n, c, h, w, patch, n_masked, T(fill), seed);
    }
    return py::make_tuple(std::move(out), std::move(mask), std::move(kept), std::move(masked));
  });
}

py::tuple color_jitter(const py::array& x, double brightness, double contrast, bool clip, std::uint64_t seed) {
  return dispatch_float(x, "images", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "images");
    check_image(x, "images");
    if (!(brightness >= 0 && contrast >= 0)) fail("brightness and contrast must be >= 0, got ", brightness, ", ", contrast);
    const index_t n = dim(x, 0);
    auto out = empty<T>(shape_of(x));
    auto factors = empty<T>({n, 2});
    T *po = out.mutable_data(), *pf = factors.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::color_jitter<T>(px, po, pf, n, dim(x, 1), dim(x, 2), dim(x, 3), brightness, contrast, clip, seed);
    }
    return py::make_tuple(std::move(out), std::move(factors));
  });
}

py::tuple gaussian_blur(const py::array& x, index_t ksize, double s0, double s1, std::uint64_t seed) {
  return dispatch_float(x, "images", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    const T* px = in<T>(x, "images");
    check_image(x, "images");
    if (ksize < 1 || ksize % 2 == 0) fail("kernel_size must be a positive odd int, got ", ksize);
    if (!(s0 > 0 && s0 <= s1 && std::isfinite(s1))) fail("sigma must satisfy 0 < low <= high, got (", s0, ", ", s1, ")");
    const index_t n = dim(x, 0);
    auto out = empty<T>(shape_of(x));
    auto sig = empty<T>({n});
    T *po = out.mutable_data(), *ps = sig.mutable_data();
    {
      py::gil_scoped_release nogil;
      augment::gaussian_blur<T>(px, po, ps, n, dim(x, 1), dim(x, 2), dim(x, 3), ksize, s0, s1, seed);
    }
    return py::make_tuple(std::move(out), std::move(sig));
  });
}

}  // namespace

void register_augment(py::module_& m) {
  m.def(
      "set_sample_offset",
      [](std::int64_t k) {
        if (k < 0 || u64(k) >= augment::kMaxSamples) fail("sample offset must be in [0, 2^40), got ", k);
        augment::sample_offset().store(k);
      },
      py::arg("k"), "Batch index of the first sample of the following augmentation calls (process-wide).");
  m.def("get_sample_offset", [] { return augment::sample_offset().load(); });
  m.def("mask_features", &mask_features, py::arg("x"), py::arg("ratio"), py::arg("seed"), py::arg("fill") = 0.0,
        py::arg("fill_per_feature") = py::none());
  m.def("gaussian_noise", &gaussian_noise, py::arg("x"), py::arg("std"), py::arg("seed"));
  m.def("scarf_corrupt", &scarf_corrupt, py::arg("x"), py::arg("reference"), py::arg("k"), py::arg("seed"));
  m.def("vime_corrupt", &vime_corrupt, py::arg("x"), py::arg("p_m"), py::arg("seed"));
  m.def("mixup", &mixup, py::arg("x"), py::arg("alpha"), py::arg("positive_only"), py::arg("seed"));
  m.def("span_mask", &span_mask, py::arg("x"), py::arg("span"), py::arg("fill"), py::arg("seed"));
  m.def("shuffle_tokens", &shuffle_tokens, py::arg("x"), py::arg("m"), py::arg("seed"));
  m.def("permutations", &permutations, py::arg("count"), py::arg("n"), py::arg("seed"));
  m.def("integers", &integers, py::arg("count"), py::arg("high"), py::arg("seed"));
  m.def("uniforms", &uniforms, py::arg("count"), py::arg("seed"));
  m.def("philox_words", &philox_words, py::arg("count"), py::arg("seed"), py::arg("stream"), py::arg("vectorised"));
  m.def("crop_resize_1d", &crop_resize_1d, py::arg("x"), py::arg("size"), py::arg("scale_low"), py::arg("scale_high"), py::arg("seed"));
  m.def("scaling", &scaling, py::arg("x"), py::arg("sigma"), py::arg("seed"));
  m.def("segment_permute", &segment_permute, py::arg("x"), py::arg("segments"), py::arg("seed"));
  m.def("time_warp", &time_warp, py::arg("x"), py::arg("sigma"), py::arg("knots"), py::arg("seed"));
  m.def("rotate90", &rotate90, py::arg("images"), py::arg("k"));
  m.def("hflip", &hflip, py::arg("images"), py::arg("flags"));
  m.def("crop_boxes", &crop_boxes, py::arg("n"), py::arg("h"), py::arg("w"), py::arg("scale_low"), py::arg("scale_high"),
        py::arg("ratio_low"), py::arg("ratio_high"), py::arg("seed"));
  m.def("resized_crop", &resized_crop, py::arg("images"), py::arg("boxes"), py::arg("height"), py::arg("width"));
  m.def("jigsaw", &jigsaw, py::arg("images"), py::arg("grid"), py::arg("permutation_set"), py::arg("labels"), py::arg("tiles"));
  m.def("patch_mask", &patch_mask, py::arg("images"), py::arg("patch_size"), py::arg("n_masked"), py::arg("fill"), py::arg("seed"));
  m.def("color_jitter", &color_jitter, py::arg("images"), py::arg("brightness"), py::arg("contrast"), py::arg("clip"), py::arg("seed"));
  m.def("gaussian_blur", &gaussian_blur, py::arg("images"), py::arg("kernel_size"), py::arg("sigma_low"), py::arg("sigma_high"), py::arg("seed"));
}

}  // namespace pyssl::bind
