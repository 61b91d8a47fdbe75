// Bindings for csrc/augment/ kernels (toolkit: python/bind_toolkit.hpp): convert, re-check
// cheaply (pyssl/pretext validates first with clear messages), allocate outputs, release the GIL,
// call the kernel. No math here.
#include "augment/common.hpp"
#include "augment/feature.hpp"
#include "augment/image.hpp"
#include "augment/sequence.hpp"
#include "python/bind_toolkit.hpp"

namespace pyssl::bind {

namespace {

using augment::kMaxSamples;
using augment::u64;
using i64 = std::int64_t;

// (N, D) view of a batch of any rank >= 1.
template <class T>
Array<const T> batch(const py::array& x, const char* name, index_t& n, index_t& d) {
  auto v = arg_nd<T>(x, name);
  if (x.ndim() < 1) fail(name, " must have a batch axis, got ", describe(x));
  n = v.dim(0);
  if (n < 1) fail(name, " must not be an empty batch, got ", describe(x));
  if (u64(n) >= kMaxSamples) fail(name, " has too many samples: ", describe(x));
  d = index_t(x.size()) / n;
  return v;
}

template <class T>
Array<const T> image(const py::array& x, const char* name) {
  auto v = arg_nd<T>(x, name);
  if (x.ndim() != 4) fail(name, " must be 4-D (N, C, H, W), got ", describe(x));
  if (dim(x, 0) < 1 || dim(x, 1) < 1 || dim(x, 2) < 1 || dim(x, 3) < 1) fail(name, " must not be empty, got ", describe(x));
  return v;
}

template <class T>
Array<const T> sequence(const py::array& x, const char* name) {
  auto v = arg_nd<T>(x, name);
  if (x.ndim() != 3) fail(name, " must be 3-D (N, C, T), got ", describe(x));
  if (dim(x, 0) < 1 || dim(x, 1) < 1 || dim(x, 2) < 1) fail(name, " must not be empty, got ", describe(x));
  return v;
}

// One int64 entry per image.
Array<const i64> per_image(const py::array& a, const char* name, index_t n) {
  auto v = arg_nd<i64>(a, name);
  if (a.ndim() != 1 || dim(a, 0) != n) fail(name, " must have one entry per image (", n, ",), got ", describe(a));
  return v;
}

// ---------------- feature-level ----------------

template <class T>
py::tuple mask_features(const py::array& x_, double ratio, std::uint64_t seed, double fill, const py::object& fill_pf) {
  index_t n, d;
  auto x = batch<T>(x_, "x", n, d);
  in_unit(ratio, "ratio");
  Array<const T> pf;
  if (present(fill_pf)) {
    pf = arg_nd<T>(fill_pf.cast<py::array>(), "fill");
    if (pf.size() != d) fail("fill must have one value per feature (", d, "), got ", describe(pf.array()));
  }
  auto out_ = out<T>(x.shape()), mask = out<T>(x.shape());
  nogil([&] { augment::mask_features<T>(x, out_, mask, n, d, ratio, T(fill), pf, seed); });
  return py::make_tuple(out_.array(), mask.array());
}

template <class T>
py::array gaussian_noise(const py::array& x_, double std, std::uint64_t seed) {
  index_t n, d;
  auto x = batch<T>(x_, "x", n, d);
  if (!(std >= 0.0)) fail("std must be >= 0, got ", std);
  auto y = out<T>(x.shape());
  nogil([&] { augment::gaussian_noise<T>(x, y, n, d, std, seed); });
  return y.array();
}

template <class T>
py::tuple scarf_corrupt(const py::array& x_, const py::array& ref_, index_t k, std::uint64_t seed) {
  index_t n, d, nr, dr;
  auto x = batch<T>(x_, "x", n, d);
  auto ref = batch<T>(ref_, "reference", nr, dr);
  if (dr != d || ref_.ndim() != x_.ndim()) fail("reference must have x's feature shape; x is ", describe(x_), ", reference is ", describe(ref_));
  if (k < 1 || k > d) fail("scarf: number of corrupted features must be in [1, ", d, "], got ", k);
  if (u64(nr) > 0xffffffffull) fail("reference has too many rows: ", describe(ref_));
  auto y = out<T>(x.shape()), mask = out<T>(x.shape());
  nogil([&] { augment::scarf_corrupt<T>(x, ref, y, mask, n, d, nr, k, seed); });
  return py::make_tuple(y.array(), mask.array());
}

template <class T>
py::tuple vime_corrupt(const py::array& x_, double p, std::uint64_t seed) {
  index_t n, d;
  auto x = batch<T>(x_, "x", n, d);
  in_unit(p, "p_m");
  auto y = out<T>(x.shape()), mask = out<T>(x.shape());
  nogil([&] { augment::vime_corrupt<T>(x, y, mask, n, d, p, seed); });
  return py::make_tuple(y.array(), mask.array());
}

template <class T>
py::tuple mixup(const py::array& x_, double alpha, bool positive_only, std::uint64_t seed) {
  index_t n, d;
  auto x = batch<T>(x_, "x", n, d);
  if (!(alpha > 0.0) || !std::isfinite(alpha)) fail("alpha must be > 0 and finite, got ", alpha);
  auto y = out<T>(x.shape());
  auto lam = out<T>({n});
  auto partner = out<i64>({n});
  nogil([&] { augment::mixup<T>(x, y, lam, partner, n, d, alpha, positive_only, seed); });
  return py::make_tuple(y.array(), lam.array(), partner.array());
}

template <class T>
py::tuple span_mask(const py::array& x_, index_t span, double fill, std::uint64_t seed) {
  if (x_.ndim() != 2 && x_.ndim() != 3) {
    check_dtype<T>(x_, "x");
    fail("x must be (N, D) or (N, C, T), got ", describe(x_));
  }
  index_t n, d;
  auto x = batch<T>(x_, "x", n, d);
  const index_t t = x.dim(-1), c = x.ndim() == 3 ? x.dim(1) : 1;
  if (t < 1 || c < 1) fail("x must not be empty, got ", describe(x_));
  if (span < 0 || span > t) fail("span must be in [0, ", t, "], got ", span);
  auto y = out<T>(x.shape()), mask = out<T>(x.shape());
  nogil([&] { augment::span_mask<T>(x, y, mask, n, c, t, span, T(fill), seed); });
  return py::make_tuple(y.array(), mask.array());
}

template <class T>
py::tuple shuffle_tokens(const py::array& x_, index_t m, std::uint64_t seed) {
  auto x = arg_nd<T>(x_, "x", 3);
  const index_t n = x.dim(0), l = x.dim(1), d = x.dim(2);
  if (n < 1 || l < 1 || d < 1) fail("x must be a non-empty (N, L, D) batch, got ", describe(x_));
  if (m < 0 || m > l) fail("number of shuffled tokens must be in [0, ", l, "], got ", m);
  auto y = out<T>(x.shape());
  auto label = out<T>({n, l});
  nogil([&] { augment::shuffle_tokens<T>(x, y, label, n, l, d, m, seed); });
  return py::make_tuple(y.array(), label.array());
}

py::array permutations(index_t count, index_t n, std::uint64_t seed) {
  if (count < 0 || n < 1 || u64(count) >= kMaxSamples || u64(n) > 0xffffffffull) fail("permutations: need count >= 0 and n >= 1, got count=", count, ", n=", n);
  auto y = out<i64>({count, n});
  nogil([&] { augment::permutations(y, count, n, seed); });
  return y.array();
}

py::array integers(index_t count, i64 high, std::uint64_t seed) {
  if (count < 0 || u64(count) >= kMaxSamples) fail("integers: count must be >= 0, got ", count);
  if (high < 1 || u64(high) > 0xffffffffull) fail("integers: high must be in [1, 2**32 - 1], got ", high);
  auto y = out<i64>({count});
  nogil([&] { augment::integers(y, count, high, seed); });
  return y.array();
}

py::array uniforms(index_t count, std::uint64_t seed) {
  if (count < 0 || u64(count) >= kMaxSamples) fail("uniforms: count must be >= 0, got ", count);
  auto y = out<double>({count});
  nogil([&] { augment::uniforms(y, count, seed); });
  return y.array();
}

py::array philox_words(index_t count, std::uint64_t seed, std::uint64_t stream, bool vectorised) {
  if (count < 0) fail("count must be >= 0, got ", count);
  auto y = out<std::uint32_t>({count});
  nogil([&] { augment::philox_words(y, count, seed, stream, vectorised); });
  return y.array();
}

// ---------------- sequences ----------------

template <class T>
py::tuple crop_resize_1d(const py::array& x_, index_t t_out, double lo, double hi, std::uint64_t seed) {
  auto x = sequence<T>(x_, "x");
  const index_t n = x.dim(0), c = x.dim(1), t = x.dim(2);
  if (t_out < 1) fail("size must be >= 1, got ", t_out);
  if (!(lo > 0.0 && lo <= hi && hi <= 1.0)) fail("scale must satisfy 0 < low <= high <= 1, got (", lo, ", ", hi, ")");
  auto y = out<T>({n, c, t_out});
  auto win = out<i64>({n, 2});
  nogil([&] { augment::crop_resize_1d<T>(x, y, n, c, t, t_out, lo, hi, win, seed); });
  return py::make_tuple(y.array(), win.array());
}

template <class T>
py::array scaling(const py::array& x_, double sigma, std::uint64_t seed) {
  auto x = sequence<T>(x_, "x");
  if (!(sigma >= 0.0)) fail("sigma must be >= 0, got ", sigma);
  auto y = out<T>(x.shape());
  nogil([&] { augment::scaling<T>(x, y, x.dim(0), x.dim(1), x.dim(2), sigma, seed); });
  return y.array();
}

template <class T>
py::tuple segment_permute(const py::array& x_, index_t segments, std::uint64_t seed) {
  auto x = sequence<T>(x_, "x");
  const index_t n = x.dim(0), t = x.dim(2);
  if (segments < 1 || segments > t) fail("segments must be in [1, T=", t, "], got ", segments);
  auto y = out<T>(x.shape());
  auto perms = out<i64>({n, segments});
  nogil([&] { augment::segment_permute<T>(x, y, perms, n, x.dim(1), t, segments, seed); });
  return py::make_tuple(y.array(), perms.array());
}

template <class T>
py::array time_warp(const py::array& x_, double sigma, index_t knots, std::uint64_t seed) {
  auto x = sequence<T>(x_, "x");
  if (!(sigma >= 0.0)) fail("sigma must be >= 0, got ", sigma);
  if (knots < 0) fail("knots must be >= 0, got ", knots);
  auto y = out<T>(x.shape());
  nogil([&] { augment::time_warp<T>(x, y, x.dim(0), x.dim(1), x.dim(2), sigma, knots, seed); });
  return y.array();
}

// ---------------- images ----------------

template <class T>
py::array rotate90(const py::array& x_, const py::array& k_) {
  auto x = image<T>(x_, "images");
  const index_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  auto k = per_image(k_, "k", n);
  bool odd = false, even = false;
  for (index_t i = 0; i < n; ++i) ((k.data[i] & 1) ? odd : even) = true;
  if (h != w && odd && even) fail("images are not square (", describe(x_), "): per-image k must be all even or all odd");
  auto y = (odd && h != w) ? out<T>({n, c, w, h}) : out<T>({n, c, h, w});
  nogil([&] { augment::rotate90<T>(x, y, k, n, c, h, w); });
  return y.array();
}

template <class T>
py::array hflip(const py::array& x_, const py::array& flags_) {
  auto x = image<T>(x_, "images");
  const index_t n = x.dim(0);
  auto flags = per_image(flags_, "flags", n);
  auto y = out<T>(x.shape());
  nogil([&] { augment::hflip<T>(x, y, flags, n, x.dim(1), x.dim(2), x.dim(3)); });
  return y.array();
}

py::array crop_boxes(index_t n, index_t h, index_t w, double s0, double s1, double r0, double r1, std::uint64_t seed) {
  if (n < 1 || h < 1 || w < 1 || u64(n) >= kMaxSamples) fail("crop_boxes: need n, h, w >= 1, got ", n, ", ", h, ", ", w);
  if (!(s0 > 0 && s0 <= s1 && s1 <= 1)) fail("scale must satisfy 0 < low <= high <= 1, got (", s0, ", ", s1, ")");
  if (!(r0 > 0 && r0 <= r1 && std::isfinite(r1))) fail("ratio must satisfy 0 < low <= high, got (", r0, ", ", r1, ")");
  auto y = out<i64>({n, 4});
  nogil([&] { augment::crop_boxes(y, n, h, w, s0, s1, r0, r1, seed); });
  return y.array();
}

template <class T>
py::array resized_crop(const py::array& x_, const py::array& boxes_, index_t oh, index_t ow) {
  auto x = image<T>(x_, "images");
  const index_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  auto boxes = arg<i64>(boxes_, "boxes", {n, 4});
  if (oh < 1 || ow < 1) fail("size must be positive, got (", oh, ", ", ow, ")");
  for (index_t i = 0; i < n; ++i) {
    const i64* b = boxes.data + 4 * i;
    if (b[0] < 0 || b[1] < 0 || b[2] < 1 || b[3] < 1 || b[0] + b[2] > h || b[1] + b[3] > w)
      fail("boxes[", i, "] = (", b[0], ", ", b[1], ", ", b[2], ", ", b[3], ") (top, left, height, width) does not fit in a ", h, "x", w, " image");
  }
  auto y = out<T>({n, c, oh, ow});
  nogil([&] { augment::resized_crop<T>(x, y, boxes, n, c, h, w, oh, ow); });
  return y.array();
}

template <class T>
py::array jigsaw(const py::array& x_, index_t grid, const py::array& perms_, const py::array& labels_, bool tiles) {
  auto x = image<T>(x_, "images");
  const index_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (grid < 1 || h % grid || w % grid) fail("images ", describe(x_), " cannot be cut into a ", grid, "x", grid, " grid: H and W must be multiples of grid");
  const index_t g2 = grid * grid;
  auto perms = arg_nd<i64>(perms_, "permutation_set");
  if (perms.ndim() != 2 || perms.dim(1) != g2 || perms.dim(0) < 1) fail("permutation_set must be (P, ", g2, "), got ", describe(perms_));
  const index_t np_ = perms.dim(0);
  std::vector<char> seen(static_cast<size_t>(g2));
  for (index_t r = 0; r < np_; ++r) {
    std::fill(seen.begin(), seen.end(), char(0));
    for (index_t t = 0; t < g2; ++t) {
      const i64 v = perms.data[r * g2 + t];
      if (v < 0 || v >= g2 || seen[size_t(v)]) fail("permutation_set row ", r, " is not a permutation of 0..", g2 - 1);
      seen[size_t(v)] = 1;
    }
  }
  auto labels = arg<i64>(labels_, "labels", {n});
  for (index_t i = 0; i < n; ++i)
    if (labels.data[i] < 0 || labels.data[i] >= np_) fail("labels[", i, "] = ", labels.data[i], " is outside [0, ", np_, ")");
  auto y = tiles ? out<T>({n, g2, c, h / grid, w / grid}) : out<T>({n, c, h, w});
  nogil([&] { augment::jigsaw<T>(x, y, perms, labels, n, c, h, w, grid, tiles); });
  return y.array();
}

template <class T>
py::tuple patch_mask(const py::array& x_, index_t patch, index_t n_masked, double fill, std::uint64_t seed) {
  auto x = image<T>(x_, "images");
  const index_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (patch < 1 || h % patch || w % patch) fail("images ", describe(x_), " cannot be cut into ", patch, "x", patch, " patches: H and W must be multiples of patch_size");
  const index_t l = (h / patch) * (w / patch);
  if (n_masked < 0 || n_masked > l) fail("number of masked patches must be in [0, ", l, "], got ", n_masked);
  auto y = out<T>(x.shape());
  auto mask = out<T>({n, l});
  auto kept = out<i64>({n, l - n_masked}), masked = out<i64>({n, n_masked});
  nogil([&] { augment::patch_mask<T>(x, y, mask, kept, masked, n, c, h, w, patch, n_masked, T(fill), seed); });
  return py::make_tuple(y.array(), mask.array(), kept.array(), masked.array());
}

template <class T>
py::tuple color_jitter(const py::array& x_, double brightness, double contrast, bool clip, std::uint64_t seed) {
  auto x = image<T>(x_, "images");
  if (!(brightness >= 0 && contrast >= 0)) fail("brightness and contrast must be >= 0, got ", brightness, ", ", contrast);
  const index_t n = x.dim(0);
  auto y = out<T>(x.shape());
  auto factors = out<T>({n, 2});
  nogil([&] { augment::color_jitter<T>(x, y, factors, n, x.dim(1), x.dim(2), x.dim(3), brightness, contrast, clip, seed); });
  return py::make_tuple(y.array(), factors.array());
}

template <class T>
py::tuple gaussian_blur(const py::array& x_, index_t ksize, double s0, double s1, std::uint64_t seed) {
  auto x = image<T>(x_, "images");
  if (ksize < 1 || ksize % 2 == 0) fail("kernel_size must be a positive odd int, got ", ksize);
  if (!(s0 > 0 && s0 <= s1 && std::isfinite(s1))) fail("sigma must satisfy 0 < low <= high, got (", s0, ", ", s1, ")");
  const index_t n = x.dim(0);
  auto y = out<T>(x.shape());
  auto sig = out<T>({n});
  nogil([&] { augment::gaussian_blur<T>(x, y, sig, n, x.dim(1), x.dim(2), x.dim(3), ksize, s0, s1, seed); });
  return py::make_tuple(y.array(), sig.array());
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
  m.def("mask_features", by_dtype(PYSSL_FLOATS(mask_features), "x"), py::arg("x"), py::arg("ratio"), py::arg("seed"), py::arg("fill") = 0.0,
        py::arg("fill_per_feature") = py::none());
  m.def("gaussian_noise", by_dtype(PYSSL_FLOATS(gaussian_noise), "x"), py::arg("x"), py::arg("std"), py::arg("seed"));
  m.def("scarf_corrupt", by_dtype(PYSSL_FLOATS(scarf_corrupt), "x"), py::arg("x"), py::arg("reference"), py::arg("k"), py::arg("seed"));
  m.def("vime_corrupt", by_dtype(PYSSL_FLOATS(vime_corrupt), "x"), py::arg("x"), py::arg("p_m"), py::arg("seed"));
  m.def("mixup", by_dtype(PYSSL_FLOATS(mixup), "x"), py::arg("x"), py::arg("alpha"), py::arg("positive_only"), py::arg("seed"));
  m.def("span_mask", by_dtype(PYSSL_FLOATS(span_mask), "x"), py::arg("x"), py::arg("span"), py::arg("fill"), py::arg("seed"));
  m.def("shuffle_tokens", by_dtype(PYSSL_FLOATS(shuffle_tokens), "x"), py::arg("x"), py::arg("m"), py::arg("seed"));
  m.def("permutations", &permutations, py::arg("count"), py::arg("n"), py::arg("seed"));
  m.def("integers", &integers, py::arg("count"), py::arg("high"), py::arg("seed"));
  m.def("uniforms", &uniforms, py::arg("count"), py::arg("seed"));
  m.def("philox_words", &philox_words, py::arg("count"), py::arg("seed"), py::arg("stream"), py::arg("vectorised"));
  m.def("crop_resize_1d", by_dtype(PYSSL_FLOATS(crop_resize_1d), "x"), py::arg("x"), py::arg("size"), py::arg("scale_low"), py::arg("scale_high"), py::arg("seed"));
  m.def("scaling", by_dtype(PYSSL_FLOATS(scaling), "x"), py::arg("x"), py::arg("sigma"), py::arg("seed"));
  m.def("segment_permute", by_dtype(PYSSL_FLOATS(segment_permute), "x"), py::arg("x"), py::arg("segments"), py::arg("seed"));
  m.def("time_warp", by_dtype(PYSSL_FLOATS(time_warp), "x"), py::arg("x"), py::arg("sigma"), py::arg("knots"), py::arg("seed"));
  m.def("rotate90", by_dtype(PYSSL_FLOATS(rotate90), "images"), py::arg("images"), py::arg("k"));
  m.def("hflip", by_dtype(PYSSL_FLOATS(hflip), "images"), py::arg("images"), py::arg("flags"));
  m.def("crop_boxes", &crop_boxes, py::arg("n"), py::arg("h"), py::arg("w"), py::arg("scale_low"), py::arg("scale_high"),
        py::arg("ratio_low"), py::arg("ratio_high"), py::arg("seed"));
  m.def("resized_crop", by_dtype(PYSSL_FLOATS(resized_crop), "images"), py::arg("images"), py::arg("boxes"), py::arg("height"), py::arg("width"));
  m.def("jigsaw", by_dtype(PYSSL_FLOATS(jigsaw), "images"), py::arg("images"), py::arg("grid"), py::arg("permutation_set"), py::arg("labels"), py::arg("tiles"));
  m.def("patch_mask", by_dtype(PYSSL_FLOATS(patch_mask), "images"), py::arg("images"), py::arg("patch_size"), py::arg("n_masked"), py::arg("fill"), py::arg("seed"));
  m.def("color_jitter", by_dtype(PYSSL_FLOATS(color_jitter), "images"), py::arg("images"), py::arg("brightness"), py::arg("contrast"), py::arg("clip"), py::arg("seed"));
  m.def("gaussian_blur", by_dtype(PYSSL_FLOATS(gaussian_blur), "images"), py::arg("images"), py::arg("kernel_size"), py::arg("sigma_low"), py::arg("sigma_high"), py::arg("seed"));
}

}  // namespace pyssl::bind
