// Bindings for csrc/optim/ kernels: fused in-place optimizer updates over flat parameter buffers.
// Pattern: validate every buffer (dtype, 1-D, size = layout size, writeable, no aliasing) with the
// GIL held, release it around the kernel. Hyperparameters are validated in pyssl/optim; here
// they are only re-checked for finiteness.
#include <cmath>
#include <cstdint>
#include <vector>

#include "optim/adam.hpp"
#include "optim/clip.hpp"
#include "optim/ema.hpp"
#include "optim/flat.hpp"
#include "optim/lars.hpp"
#include "optim/sgd.hpp"
#include "python/convert.hpp"

namespace pyssl::bind {

namespace {

using optim::FlatLayout;

void check_finite(double v, const char* name) {
  if (!std::isfinite(v)) fail(name, " must be finite, got ", v);
}

// A flat buffer of the layout: exact dtype T, 1-D, layout.size() scalars.
template <class T>
T* flat_inout(py::array& a, const FlatLayout& L, const char* name) {
  T* p = inout<T>(a, name, 1);
  check_shape(a, {L.size()}, name);
  return p;
}

template <class T>
const T* flat_in(const py::array& a, const FlatLayout& L, const char* name) {
  const T* p = in<T>(a, name, 1);
  check_shape(a, {L.size()}, name);
  return p;
}

// Buffers updated together must not overlap (kernels assume no aliasing).
void check_disjoint(const std::vector<std::pair<const py::array*, const char*>>& bufs) {
  for (size_t i = 0; i < bufs.size(); ++i) {
    for (size_t j = i + 1; j < bufs.size(); ++j) {
      const auto* a = static_cast<const char*>(bufs[i].first->data());
      const auto* b = static_cast<const char*>(bufs[j].first->data());
      const auto na = bufs[i].first->nbytes(), nb = bufs[j].first->nbytes();
      if (na && nb && a < b + nb && b < a + na)
        fail(bufs[i].second, " and ", bufs[j].second, " must be distinct buffers, but they overlap in memory");
    }
  }
}

FlatLayout make_layout(const py::array& offsets, const py::object& decay) {
  if (!has_dtype<std::int64_t>(offsets))
    throw py::type_error("offsets must have dtype int64, got " + describe(offsets));
  check_ndim(offsets, 1, "offsets");
  check_contiguous(offsets, "offsets");
  const auto* po = static_cast<const std::int64_t*>(offsets.data());
  std::vector<index_t> off(po, po + offsets.size());
  std::vector<std::uint8_t> dec;
  if (present(decay)) {
    py::array d = decay.cast<py::array>();
    if (!has_dtype<std::uint8_t>(d))
      throw py::type_error("decay must have dtype uint8, got " + describe(d));
    check_ndim(d, 1, "decay");
    check_contiguous(d, "decay");
    const auto* pd = static_cast<const std::uint8_t*>(d.data());
    dec.assign(pd, pd + d.size());
    if (off.empty() || index_t(dec.size()) != index_t(off.size()) - 1)
      fail("decay must have one flag per parameter (", off.empty() ? 0 : off.size() - 1, "), got ", describe(d));
  }
  return FlatLayout(std::move(off), std::move(dec));
}

bool sgd_step(const FlatLayout& L, py::array& param, const py::array& grad, const py::object& buffer, double lr,
              double momentum, double dampening, double weight_decay, bool nesterov, bool first_step,
              bool use_decay_mask) {
  for (auto [v, n] : {std::pair{lr, "lr"}, {momentum, "momentum"}, {dampening, "dampening"},
                      {weight_decay, "weight_decay"}})
    check_finite(v, n);
  return dispatch_float(param, "param", [&](auto tag) {
    using T = decltype(tag);
    T* pp = flat_inout<T>(param, L, "param");
    const T* pg = flat_in<T>(grad, L, "grad");
    T* pb = nullptr;
    py::array ba;
    if (present(buffer)) {
      ba = buffer.cast<py::array>();
      pb = flat_inout<T>(ba, L, "momentum_buffer");
      check_disjoint({{&param, "param"}, {&grad, "grad"}, {&ba, "momentum_buffer"}});
    } else {
      check_disjoint({{&param, "param"}, {&grad, "grad"}});
    }
    if (momentum != 0.0 && pb == nullptr) fail("momentum_buffer is required when momentum != 0 (got None)");
    const optim::SGDHyper h{lr, momentum, dampening, weight_decay, nesterov, first_step, use_decay_mask};
    py::gil_scoped_release nogil;
    return optim::sgd_step<T>(L, pp, pg, pb, h);
  });
}

bool adam_step(const FlatLayout& L, py::array& param, const py::array& grad, py::array& exp_avg, py::array& exp_avg_sq,
               double lr, double beta1, double beta2, double eps, double weight_decay, double step_size,
               double bc2_sqrt, bool decoupled, bool use_decay_mask) {
  for (auto [v, n] : {std::pair{lr, "lr"}, {beta1, "beta1"}, {beta2, "beta2"}, {eps, "eps"},
                      {weight_decay, "weight_decay"}, {step_size, "step_size"}, {bc2_sqrt, "bc2_sqrt"}})
    check_finite(v, n);
  return dispatch_float(param, "param", [&](auto tag) {
    using T = decltype(tag);
    T* pp = flat_inout<T>(param, L, "param");
    const T* pg = flat_in<T>(grad, L, "grad");
    T* pm = flat_inout<T>(exp_avg, L, "exp_avg");
    T* pv = flat_inout<T>(exp_avg_sq, L, "exp_avg_sq");
    check_disjoint({{&param, "param"}, {&grad, "grad"}, {&exp_avg, "exp_avg"}, {&exp_avg_sq, "exp_avg_sq"}});
    const optim::AdamHyper h{lr, beta1, beta2, eps, weight_decay, step_size, bc2_sqrt, use_decay_mask};
    py::gil_scoped_release nogil;
    return optim::adam_step<T>(L, pp, pg, pm, pv, h, decoupled);
  });
}

py::tuple lars_step(const FlatLayout& L, py::array& param, const py::array& grad, py::array& velocity, double lr,
                    double momentum, double weight_decay, double trust_coefficient, double eps,
                    bool exclude_bias_and_norm) {
  for (auto [v, n] : {std::pair{lr, "lr"}, {momentum, "momentum"}, {weight_decay, "weight_decay"},
                      {trust_coefficient, "trust_coefficient"}, {eps, "eps"}})
    check_finite(v, n);
  return dispatch_float(param, "param", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    T* pp = flat_inout<T>(param, L, "param");
    const T* pg = flat_in<T>(grad, L, "grad");
    T* pv = flat_inout<T>(velocity, L, "velocity");
    check_disjoint({{&param, "param"}, {&grad, "grad"}, {&velocity, "velocity"}});
    std::vector<double> partial(size_t(2 * L.num_blocks()) + 1);
    auto ratio = empty<double>({L.count()});
    double* pr = ratio.mutable_data();
    const optim::LARSHyper h{lr, momentum, weight_decay, trust_coefficient, eps, exclude_bias_and_norm};
    bool finite;
    {
      py::gil_scoped_release nogil;
      finite = optim::lars_step<T>(L, pp, pg, pv, h, partial.data(), pr);
    }
    return py::make_tuple(std::move(ratio), finite);
  });
}

double clip_grad_norm(py::array& grad, double max_norm) {
  check_finite(max_norm, "max_norm");
  if (max_norm < 0) fail("max_norm must be >= 0, got ", max_norm);
  return dispatch_float(grad, "grad", [&](auto tag) {
    using T = decltype(tag);
    T* pg = inout<T>(grad, "grad");
    const index_t n = index_t(grad.size());
    std::vector<double> partial(size_t(optim::num_plain_blocks(n)) + 1);
    py::gil_scoped_release nogil;
    return optim::clip_grad_norm<T>(pg, n, max_norm, partial.data());
  });
}

double sum_squares(const py::array& x) {
  return dispatch_float(x, "x", [&](auto tag) {
    using T = decltype(tag);
    const T* px = in<T>(x, "x");
    const index_t n = index_t(x.size());
    std::vector<double> partial(size_t(optim::num_plain_blocks(n)) + 1);
    py::gil_scoped_release nogil;
    return optim::sum_squares<T>(px, n, partial.data());
  });
}

void ema_update(py::array& target, const py::array& online, double momentum) {
  check_finite(momentum, "momentum");
  if (momentum < 0 || momentum > 1) fail("momentum must be in [0, 1], got ", momentum);
  dispatch_float(target, "target", [&](auto tag) {
    using T = decltype(tag);
    T* pt = inout<T>(target, "target");
    const T* po = in<T>(online, "online");
    std::vector<index_t> shape(target.shape(), target.shape() + target.ndim());
    check_shape(online, shape, "online");
    check_disjoint({{&target, "target"}, {&online, "online"}});
    const index_t n = index_t(target.size());
    py::gil_scoped_release nogil;
    optim::ema_update<T>(pt, po, n, momentum);
  });
}

}  // namespace

void register_optim(py::module_& m) {
  py::class_<FlatLayout>(m, "FlatLayout",
                         "Parameter layout of a flat buffer: offsets (int64, P+1) and decay flags (uint8, P), "
                         "cut into fixed-size blocks that never straddle two parameters.")
      .def(py::init(&make_layout), py::arg("offsets"), py::arg("decay") = py::none())
      .def_property_readonly("size", &FlatLayout::size)
      .def_property_readonly("count", &FlatLayout::count)
      .def_property_readonly("num_blocks", &FlatLayout::num_blocks)
      .def_property_readonly("block_size", &FlatLayout::block_size);
  m.attr("BLOCK_SIZE") = optim::kBlockSize;
  m.def("sgd_step", &sgd_step, py::arg("layout"), py::arg("param").noconvert(), py::arg("grad").noconvert(),
        py::arg("momentum_buffer").none(true), py::arg("lr"), py::arg("momentum"), py::arg("dampening"),
        py::arg("weight_decay"), py::arg("nesterov"), py::arg("first_step"), py::arg("use_decay_mask"),
        "One fused SGD(-momentum) step in place (torch.optim.SGD semantics); see csrc/optim/sgd.hpp. Returns "
        "True when every updated parameter is finite.");
  m.def("adam_step", &adam_step, py::arg("layout"), py::arg("param").noconvert(), py::arg("grad").noconvert(),
        py::arg("exp_avg").noconvert(), py::arg("exp_avg_sq").noconvert(), py::arg("lr"), py::arg("beta1"),
        py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"), py::arg("step_size"), py::arg("bc2_sqrt"),
        py::arg("decoupled"), py::arg("use_decay_mask"),
        "One fused Adam (decoupled=False) or AdamW (decoupled=True) step in place; see csrc/optim/adam.hpp. "
        "Returns True when every updated parameter is finite.");
  m.def("lars_step", &lars_step, py::arg("layout"), py::arg("param").noconvert(), py::arg("grad").noconvert(),
        py::arg("velocity").noconvert(), py::arg("lr"), py::arg("momentum"), py::arg("weight_decay"),
        py::arg("trust_coefficient"), py::arg("eps"), py::arg("exclude_bias_and_norm"),
        "One fused LARS step in place; returns (trust ratio of each parameter (P,), True when every updated "
        "parameter is finite). See csrc/optim/lars.hpp.");
  m.def("clip_grad_norm", &clip_grad_norm, py::arg("grad").noconvert(), py::arg("max_norm"),
        "Scale grad in place by max_norm / (norm + 1e-6) when that is < 1; return the global L2 norm before "
        "clipping (fixed-order reduction).");
  m.def("sum_squares", &sum_squares, py::arg("x").noconvert(), "Σ x² in double, fixed order.");
  m.def("ema_update", &ema_update, py::arg("target").noconvert(), py::arg("online").noconvert(),
        py::arg("momentum"), "target ← momentum · target + (1 − momentum) · online, in place.");
}

}  // namespace pyssl::bind
