// Bindings for the oneDNN convolution engine (csrc/nn/conv_dnnl.*), registered into `nn`: the
// float32 / bf16-mixed convolution passes, the engine switch (PYSSL_CONV_ENGINE) and its options.
#include <string>
#include <utility>

#include <pybind11/stl.h>

#include "nn/conv_dnnl.hpp"
#include "python/bind_toolkit.hpp"
#include "python/conv_args.hpp"

namespace pyssl::bind {

namespace {

using Pair = ConvPair;

void need_engine() {
  if (!nn::conv_dnnl_available())
    fail("the oneDNN convolution engine (and precision='bf16-mixed' convolutions) needs pyssl built with oneDNN: "
         "pip install onednn-cpu-gomp onednn-devel-cpu-gomp, then reinstall pyssl");
}

py::array dnnl_forward(const py::array& x_, const py::array& w_, const py::object& b_, Pair stride, Pair padding,
                       Pair dilation, const py::object& padding_end, bool bf16) {
  need_engine();
  auto x = arg_nd<float>(x_, "x", 4);
  auto w = arg_nd<float>(w_, "weight", 4);
  const auto s = conv_shape_of(x.dim(0), x.dim(1), x.dim(2), x.dim(3), w_, stride, padding, dilation, padding_end);
  auto b = opt_arg<float>(b_, "bias", {s.o});
  auto y = out<float>({s.n, s.o, s.ho(), s.wo()});
  Workspace ws(nogil([&] { return nn::conv2d_dnnl_forward_workspace(s, b.given, bf16); }));
  nogil([&] { nn::conv2d_dnnl_forward(s, x, w, b, y, bf16, ws); });
  return y.array();
}

py::object dnnl_backward(const py::array& x_, const py::array& w_, const py::array& dy_, const py::object& dw_,
                         const py::object& db_, Pair stride, Pair padding, bool accumulate, bool need_dx,
                         Pair dilation, const py::object& padding_end, bool bf16) {
  need_engine();
  auto x = arg_nd<float>(x_, "x", 4);
  auto w = arg_nd<float>(w_, "weight", 4);
  const auto s = conv_shape_of(x.dim(0), x.dim(1), x.dim(2), x.dim(3), w_, stride, padding, dilation, padding_end);
  auto dy = arg<float>(dy_, "grad_output", {s.n, s.o, s.ho(), s.wo()});
  auto dw = opt_inplace<float>(dw_, "weight_grad", {s.o, s.c, s.kh, s.kw});
  auto db = opt_inplace<float>(db_, "bias_grad", {s.o});
  if (db.given && !dw.given) fail("conv: bias_grad given without weight_grad");
  auto dx = out_if<float>(need_dx, {s.n, s.c, s.h, s.w});
  Workspace ws(nogil([&] { return nn::conv2d_dnnl_backward_workspace(s, need_dx, dw.given, db.given, bf16); }));
  nogil([&] { nn::conv2d_dnnl_backward(s, x, w, dy, dx, dw, db, accumulate, bf16, ws); });
  return dx.or_none();
}

py::dict engine_config(const py::object& engine, const py::object& batch_split, const py::object& blocked,
                       const py::object& wgrad_oc_chunk, const py::object& wgrad_gemm) {
  if (present(engine)) nn::set_conv_engine(engine.cast<std::string>());
  auto o = nn::conv_dnnl_options();
  if (present(batch_split)) o.batch_split = batch_split.cast<bool>();
  if (present(blocked)) o.blocked = blocked.cast<bool>();
  if (present(wgrad_oc_chunk)) o.wgrad_oc_chunk = wgrad_oc_chunk.cast<int>();
  if (present(wgrad_gemm)) o.wgrad_gemm = wgrad_gemm.cast<int>();
  nn::set_conv_dnnl_options(o);
  py::dict d;
  d["engine"] = std::string(nn::conv_engine());
  d["available"] = nn::conv_dnnl_available();
  d["batch_split"] = o.batch_split;
  d["blocked"] = o.blocked;
  d["wgrad_oc_chunk"] = o.wgrad_oc_chunk;
  d["wgrad_gemm"] = o.wgrad_gemm;
  const char* names[3] = {"forward", "backward_data", "backward_weights"};
  for (int bf = 0; bf < 2; ++bf)
    for (int p = 0; p < 3; ++p)
      d[py::str(std::string(names[p]) + (bf ? "_bf16" : ""))] = nn::conv_dnnl_impl(p, bf == 1);
  return d;
}

}  // namespace

void register_conv_engine(py::module_& m) {
  m.def("conv_engine", []() { return std::string(nn::conv_engine()); },
        "'onednn' or 'im2col': the engine float32 convolution layers use (PYSSL_CONV_ENGINE, read once)");
  m.def("conv_engine_config", &engine_config, py::arg("engine") = py::none(), py::arg("batch_split") = py::none(),
        py::arg("blocked") = py::none(), py::arg("wgrad_oc_chunk") = py::none(),
        py::arg("wgrad_gemm") = py::none(),
        "Set any given option, return {engine, available, batch_split, blocked, wgrad_oc_chunk, wgrad_gemm, "
        "<pass>[_bf16]: oneDNN impl}");
  m.def("conv2d_dnnl_forward", &dnnl_forward, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(),
        py::arg("stride") = std::make_pair(1, 1), py::arg("padding") = std::make_pair(0, 0),
        py::arg("dilation") = std::make_pair(1, 1), py::arg("padding_end") = py::none(), py::arg("bf16") = false,
        "y = conv2d(x, weight) + bias on oneDNN (float32; bf16=True: bf16 products, float32 sums)");
  m.def("conv2d_dnnl_backward", &dnnl_backward, py::arg("x"), py::arg("weight"), py::arg("grad_output"),
        py::arg("weight_grad") = py::none(), py::arg("bias_grad") = py::none(),
        py::arg("stride") = std::make_pair(1, 1), py::arg("padding") = std::make_pair(0, 0),
        py::arg("accumulate") = true, py::arg("need_dx") = true, py::arg("dilation") = std::make_pair(1, 1),
        py::arg("padding_end") = py::none(), py::arg("bf16") = false,
        "dx (or None); weight_grad / bias_grad written or accumulated in place, on oneDNN");
}

}  // namespace pyssl::bind
