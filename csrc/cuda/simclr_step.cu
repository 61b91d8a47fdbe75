// A SimCLR training step with everything on the device: concat views -> MLP forward (cuBLAS +
// fused bias/ReLU epilogues) -> fused NT-Xent forward+backward -> MLP backward (fused ReLU
// backward + bias gradient) -> one fused optimizer update over the flat parameter buffer.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cuda/common.cuh"

namespace pyssl::cuda {

struct SimCLRStep::Impl {
  StepConfig cfg;
  int layers = 0;
  std::vector<index_t> w_off, b_off;  // offsets into the flat parameter buffer
  index_t n_params = 0;
  DeviceBuffer params{0}, grads{0}, state1{0}, state2{0};
  // Per-batch buffers (allocated for the current batch size).
  index_t batch = 0;
  std::vector<DeviceBuffer> acts;  // acts[0] = [x1; x2], acts[l+1] = layer l output
  DeviceBuffer gbuf_a{0}, gbuf_b{0}, colsum_scratch{0}, loss_scratch{0};
  std::int64_t step = 0;

  void allocate_batch(index_t b) {
    if (b == batch) return;
    const index_t rows = 2 * b;
    acts.clear();
    for (int l = 0; l <= layers; ++l) acts.emplace_back(std::size_t(rows * cfg.dims[l]));
    const index_t dmax = *std::max_element(cfg.dims.begin() + 1, cfg.dims.end());
    gbuf_a = DeviceBuffer(std::size_t(rows * dmax));
    gbuf_b = DeviceBuffer(std::size_t(rows * dmax));
    colsum_scratch = DeviceBuffer(std::size_t(column_sum_scratch(rows, dmax)));
    loss_scratch = DeviceBuffer(std::size_t(nt_xent_scratch(rows, cfg.dims.back())));
    batch = b;
  }
};

SimCLRStep::SimCLRStep(const StepConfig& cfg) : impl_(new Impl()) {
  try {
    Impl& s = *impl_;
    s.cfg = cfg;
    s.layers = int(cfg.dims.size()) - 1;
    if (s.layers < 1 || int(cfg.relu_after.size()) != s.layers)
      throw std::invalid_argument("SimCLRStep: need at least two dims and one relu flag per layer");
    for (int l = 0; l < s.layers; ++l) {
      s.w_off.push_back(s.n_params);
      s.n_params += cfg.dims[l] * cfg.dims[l + 1];
      s.b_off.push_back(s.n_params);
      s.n_params += cfg.dims[l + 1];
    }
    s.params = DeviceBuffer(std::size_t(s.n_params));
    s.grads = DeviceBuffer(std::size_t(s.n_params));
    s.state1 = DeviceBuffer(std::size_t(s.n_params));
    fill_zero(s.params.data(), std::size_t(s.n_params));
    fill_zero(s.state1.data(), std::size_t(s.n_params));
    if (cfg.optimizer != 0) {
      s.state2 = DeviceBuffer(std::size_t(s.n_params));
      fill_zero(s.state2.data(), std::size_t(s.n_params));
    }
  } catch (...) {
    delete impl_;
    throw;
  }
}

SimCLRStep::~SimCLRStep() { delete impl_; }

int SimCLRStep::num_layers() const { return impl_->layers; }
const std::vector<index_t>& SimCLRStep::dims() const { return impl_->cfg.dims; }
std::int64_t SimCLRStep::steps_done() const { return impl_->step; }

// Host W (in, out) <-> device Wᵀ (out, in).
void SimCLRStep::set_layer(int l, const float* w, const float* b) {
  Impl& s = *impl_;
  const index_t in = s.cfg.dims[l], out = s.cfg.dims[l + 1];
  std::vector<float> wt(std::size_t(in * out));
  for (index_t i = 0; i < in; ++i)
    for (index_t o = 0; o < out; ++o) wt[std::size_t(o * in + i)] = w[i * out + o];
  copy_to_device(s.params.data() + s.w_off[l], wt.data(), wt.size());
  copy_to_device(s.params.data() + s.b_off[l], b, std::size_t(out));
}

void SimCLRStep::get_layer(int l, float* w, float* b) const {
  Impl& s = *impl_;
  const index_t in = s.cfg.dims[l], out = s.cfg.dims[l + 1];
  std::vector<float> wt(std::size_t(in * out));
  copy_to_host(wt.data(), s.params.data() + s.w_off[l], wt.size());
  for (index_t o = 0; o < out; ++o)
    for (index_t i = 0; i < in; ++i) w[i * out + o] = wt[std::size_t(o * in + i)];
  copy_to_host(b, s.params.data() + s.b_off[l], std::size_t(out));
}

float SimCLRStep::step(const float* x1, const float* x2, index_t batch, bool want_loss) {
  Impl& s = *impl_;
  const auto& dims = s.cfg.dims;
  s.allocate_batch(batch);
  const index_t rows = 2 * batch;
  float* P = s.params.data();
  float* G = s.grads.data();
  // Forward on [x1; x2] as one batch of 2B rows (one GEMM per layer for both views).
  copy_device(s.acts[0].data(), x1, std::size_t(batch * dims[0]));
  copy_device(s.acts[0].data() + batch * dims[0], x2, std::size_t(batch * dims[0]));
  for (int l = 0; l < s.layers; ++l) {
    const index_t in = dims[l], out = dims[l + 1];
    float* y = s.acts[l + 1].data();
    gemm(false, true, rows, out, in, 1.f, s.acts[l].data(), in, P + s.w_off[l], in, 0.f, y, out);  // Y = X W, W stored as Wᵀ
    bias_act(y, P + s.b_off[l], rows, out, s.cfg.relu_after[l] ? Act::ReLU : Act::None);
  }
  // Loss and dL/dz.
  float* dy = s.gbuf_a.data();
  float* dx = s.gbuf_b.data();
  const float loss =
      nt_xent(s.acts[s.layers].data(), dy, rows, dims.back(), s.cfg.temperature, s.loss_scratch.data(), false);
  (void)loss;
  // Backward; gradients overwrite (one batch per step, so nothing to zero).
  for (int l = s.layers - 1; l >= 0; --l) {
    const index_t in = dims[l], out = dims[l + 1];
    float* db = G + s.b_off[l];
    if (s.cfg.relu_after[l])
      relu_backward_colsum(s.acts[l + 1].data(), dy, dy, db, rows, out, false, s.colsum_scratch.data());
    else
      column_sum(dy, db, rows, out, false, s.colsum_scratch.data());
    gemm(true, false, out, in, rows, 1.f, dy, out, s.acts[l].data(), in, 0.f, G + s.w_off[l], in);  // dWᵀ = dYᵀ X
    if (l > 0) {
      gemm(false, false, rows, in, out, 1.f, dy, out, P + s.w_off[l], in, 0.f, dx, in);  // dX = dY (Wᵀ)
      std::swap(dy, dx);
    }
  }
  // One fused update over every parameter.
  ++s.step;
  const StepConfig& c = s.cfg;
  if (c.optimizer == 0)
    sgd_momentum(P, G, s.state1.data(), s.n_params, c.lr, c.momentum, c.weight_decay, c.nesterov);
  else
    adam(P, G, s.state1.data(), s.state2.data(), s.n_params, s.step, c.lr, c.beta1, c.beta2, c.eps, c.weight_decay,
         c.optimizer == 2);
  if (!want_loss) return std::nanf("");
  float host = 0.f;
  copy_to_host(&host, s.loss_scratch.data() + nt_xent_scratch(rows, dims.back()) - 1, 1);
  return host;
}

}  // namespace pyssl::cuda
