// Bindings for csrc/optim/ kernels: fused in-place optimizer updates over flat parameter buffers.
// Toolkit: python/bind_toolkit.hpp. Every buffer is validated (dtype, 1-D, size = layout size,
// writeable, no aliasing) with the GIL held. Hyperparameters are validated in pyssl/optim; here
// they are only re-checked for finiteness.
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "optim/adam.hpp"
#include "optim/clip.hpp"
#include "optim/ema.hpp"
#include "optim/flat.hpp"
#include "optim/lars.hpp"
#include "optim/sgd.hpp"
#include "python/bind_toolkit.hpp"

namespace pyssl::bind {

namespace {

using optim::FlatLayout;

// A flat buffer of the layout: exact dtype T, 1-D, layout.size() scalars.
template <class T>
Array<T> flat_inplace(py::array& a, const FlatLayout& L, const char* name) {
  return inplace<T>(a, name, {L.size()});
}

template <class T>
Array<const T> flat_arg(const py::array& a, const FlatLayout& L, const char* name) {
  return arg<T>(a, name, {L.size()});
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

// The optional bfloat16 copy of the updated parameters (uint16 bit patterns, layout.size() values),
// which the kernels write in the same pass (optim/flat.hpp update_and_check); float32 only.
template <class T>
Array<bf16_t> flat_bf16_copy(const py::object& o, const FlatLayout& L,
                             std::vector<std::pair<const py::array*, const char*>>& disjoint, py::array& keep) {
  auto c = opt_inplace<bf16_t>(o, "param_bf16", {L.size()});
  if (!c.given) return c;
  if (!std::is_same_v<T, float>)
    fail("param_bf16: a bfloat16 copy is only kept for float32 parameters (bf16-mixed); pass None for float64");
  keep = c.array();
  disjoint.push_back({&keep, "param_bf16"});
  return c;
}

FlatLayout make_layout(const py::array& offsets_, const py::object& decay_) {
  auto offsets = arg_nd<std::int64_t>(offsets_, "offsets", 1);
  std::vector<index_t> off(offsets.data, offsets.data + offsets.size());
  std::vector<std::uint8_t> dec;
  if (present(decay_)) {
    auto d = arg_nd<std::uint8_t>(decay_.cast<py::array>(), "decay", 1);
    dec.assign(d.data, d.data + d.size());
    if (off.empty() || index_t(dec.size()) != index_t(off.size()) - 1)
      fail("decay must have one flag per parameter (", off.empty() ? 0 : off.size() - 1, "), got ", describe(d.array()));
  }
  return FlatLayout(std::move(off), std::move(dec));
}

template <class T>
bool sgd_step(const FlatLayout& L, py::array& param_, const py::array& grad_, const py::object& buffer_, double lr,
              double momentum, double dampening, double weight_decay, bool nesterov, bool first_step,
              bool use_decay_mask, const py::object& param_bf16_) {
  for (auto [v, n] : {std::pair{lr, "lr"}, {momentum, "momentum"}, {dampening, "dampening"},
                      {weight_decay, "weight_decay"}})
    finite(v, n);
  auto param = flat_inplace<T>(param_, L, "param");
  auto grad = flat_arg<T>(grad_, L, "grad");
  auto buffer = opt_inplace<T>(buffer_, "momentum_buffer", {L.size()});
  std::vector<std::pair<const py::array*, const char*>> bufs{{&param_, "param"}, {&grad_, "grad"}};
  py::array b, c;
  if (buffer.given) {
    b = buffer.array();
    bufs.push_back({&b, "momentum_buffer"});
  }
  auto copy = flat_bf16_copy<T>(param_bf16_, L, bufs, c);
  check_disjoint(bufs);
  if (momentum != 0.0 && !buffer.given) fail("momentum_buffer is required when momentum != 0 (got None)");
  const optim::SGDHyper h{lr, momentum, dampening, weight_decay, nesterov, first_step, use_decay_mask};
  return nogil([&] { return optim::sgd_step<T>(L, param, grad, buffer, h, copy); });
}

template <class T>
bool adam_step(const FlatLayout& L, py::array& param_, const py::array& grad_, py::array& m_, py::array& v_,
               double lr, double beta1, double beta2, double eps, double weight_decay, double step_size,
               double bc2_sqrt, bool decoupled, bool use_decay_mask, const py::object& param_bf16_) {
  for (auto [v, n] : {std::pair{lr, "lr"}, {beta1, "beta1"}, {beta2, "beta2"}, {eps, "eps"},
                      {weight_decay, "weight_decay"}, {step_size, "step_size"}, {bc2_sqrt, "bc2_sqrt"}})
    finite(v, n);
  auto param = flat_inplace<T>(param_, L, "param");
  auto grad = flat_arg<T>(grad_, L, "grad");
  auto m = flat_inplace<T>(m_, L, "exp_avg");
  auto v = flat_inplace<T>(v_, L, "exp_avg_sq");
  std::vector<std::pair<const py::array*, const char*>> bufs{
      {&param_, "param"}, {&grad_, "grad"}, {&m_, "exp_avg"}, {&v_, "exp_avg_sq"}};
  py::array c;
  auto copy = flat_bf16_copy<T>(param_bf16_, L, bufs, c);
  check_disjoint(bufs);
  const optim::AdamHyper h{lr, beta1, beta2, eps, weight_decay, step_size, bc2_sqrt, use_decay_mask};
  return nogil([&] { return optim::adam_step<T>(L, param, grad, m, v, h, decoupled, copy); });
}

template <class T>
py::tuple lars_step(const FlatLayout& L, py::array& param_, const py::array& grad_, py::array& velocity_, double lr,
                    double momentum, double weight_decay, double trust_coefficient, double eps,
                    bool exclude_bias_and_norm, const py::object& param_bf16_) {
  for (auto [v, n] : {std::pair{lr, "lr"}, {momentum, "momentum"}, {weight_decay, "weight_decay"},
                      {trust_coefficient, "trust_coefficient"}, {eps, "eps"}})
    finite(v, n);
  auto param = flat_inplace<T>(param_, L, "param");
  auto grad = flat_arg<T>(grad_, L, "grad");
  auto velocity = flat_inplace<T>(velocity_, L, "velocity");
  std::vector<std::pair<const py::array*, const char*>> bufs{
      {&param_, "param"}, {&grad_, "grad"}, {&velocity_, "velocity"}};
  py::array c;
  auto copy = flat_bf16_copy<T>(param_bf16_, L, bufs, c);
  check_disjoint(bufs);
  auto ratio = out<double>({L.count()});
  Workspace ws(optim::lars_workspace(L));
  const optim::LARSHyper h{lr, momentum, weight_decay, trust_coefficient, eps, exclude_bias_and_norm};
  const bool ok = nogil([&] { return optim::lars_step<T>(L, param, grad, velocity, h, ratio, ws, copy); });
  return py::make_tuple(ratio.array(), ok);
}

template <class T>
double clip_grad_norm(py::array& grad_, double max_norm) {
  finite(max_norm, "max_norm");
  if (max_norm < 0) fail("max_norm must be >= 0, got ", max_norm);
  auto grad = inplace_nd<T>(grad_, "grad");
  Workspace ws(optim::sum_squares_workspace(grad.size()));
  return nogil([&] { return optim::clip_grad_norm<T>(grad, grad.size(), max_norm, ws); });
}

template <class T>
double sum_squares(const py::array& x_) {
  auto x = arg_nd<T>(x_, "x");
  Workspace ws(optim::sum_squares_workspace(x.size()));
  return nogil([&] { return optim::sum_squares<T>(x, x.size(), ws); });
}

template <class T>
void ema_update(py::array& target_, const py::array& online_, double momentum) {
  finite(momentum, "momentum");
  if (momentum < 0 || momentum > 1) fail("momentum must be in [0, 1], got ", momentum);
  auto target = inplace_nd<T>(target_, "target");
  auto online = arg<T>(online_, "online", target.shape());
  check_disjoint({{&target_, "target"}, {&online_, "online"}});
  nogil([&] { optim::ema_update<T>(target, online, target.size(), momentum); });
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
  m.def("sgd_step", by_dtype<1>(PYSSL_FLOATS(sgd_step), "param"), py::arg("layout"), py::arg("param").noconvert(), py::arg("grad").noconvert(),
        py::arg("momentum_buffer").none(true), py::arg("lr"), py::arg("momentum"), py::arg("dampening"),
        py::arg("weight_decay"), py::arg("nesterov"), py::arg("first_step"), py::arg("use_decay_mask"),
        py::arg("param_bf16") = py::none(),
        "One fused SGD(-momentum) step in place (torch.optim.SGD semantics); see csrc/optim/sgd.hpp. Returns "
        "True when every updated parameter is finite. param_bf16 (uint16, float32 parameters only): also write "
        "the bfloat16 copy of the updated parameters there.");
  m.def("adam_step", by_dtype<1>(PYSSL_FLOATS(adam_step), "param"), py::arg("layout"), py::arg("param").noconvert(), py::arg("grad").noconvert(),
        py::arg("exp_avg").noconvert(), py::arg("exp_avg_sq").noconvert(), py::arg("lr"), py::arg("beta1"),
        py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"), py::arg("step_size"), py::arg("bc2_sqrt"),
        py::arg("decoupled"), py::arg("use_decay_mask"), py::arg("param_bf16") = py::none(),
        "One fused Adam (decoupled=False) or AdamW (decoupled=True) step in place; see csrc/optim/adam.hpp. "
        "Returns True when every updated parameter is finite. param_bf16 (uint16, float32 parameters only): "
        "also write the bfloat16 copy of the updated parameters there.");
  m.def("lars_step", by_dtype<1>(PYSSL_FLOATS(lars_step), "param"), py::arg("layout"), py::arg("param").noconvert(), py::arg("grad").noconvert(),
        py::arg("velocity").noconvert(), py::arg("lr"), py::arg("momentum"), py::arg("weight_decay"),
        py::arg("trust_coefficient"), py::arg("eps"), py::arg("exclude_bias_and_norm"),
        py::arg("param_bf16") = py::none(),
        "One fused LARS step in place; returns (trust ratio of each parameter (P,), True when every updated "
        "parameter is finite). See csrc/optim/lars.hpp. param_bf16 (uint16, float32 parameters only): also write "
        "the bfloat16 copy of the updated parameters there.");
  m.def("clip_grad_norm", by_dtype(PYSSL_FLOATS(clip_grad_norm), "grad"), py::arg("grad").noconvert(), py::arg("max_norm"),
        "Scale grad in place by max_norm / (norm + 1e-6) when that is < 1; return the global L2 norm before "
        "clipping (fixed-order reduction).");
  m.def("sum_squares", by_dtype(PYSSL_FLOATS(sum_squares), "x"), py::arg("x").noconvert(), "Σ x² in double, fixed order.");
  m.def("ema_update", by_dtype(PYSSL_FLOATS(ema_update), "target"), py::arg("target").noconvert(), py::arg("online").noconvert(),
        py::arg("momentum"), "target ← momentum · target + (1 − momentum) · online, in place.");
}

}  // namespace pyssl::bind
