// Bindings for the optional CUDA backend (csrc/cuda/). Built without CUDA, the submodule only
// reports that the backend is absent (`compiled` False, `available()` False); pyssl/cuda.py turns
// every other call into a clear RuntimeError.
//
// Device data crosses this boundary as `DeviceArray`: a float32, C-contiguous array in device
// memory that either owns a DeviceBuffer or borrows the memory of another library's object (kept
// alive through `owner`). Bindings check dtypes, shapes and sizes; the math is in csrc/cuda.
#include "python/bind_toolkit.hpp"

#ifdef PYSSL_WITH_CUDA
#include <pybind11/stl.h>

#include <cmath>
#include <memory>
#include <optional>

#include "cuda/api.hpp"
#include "cuda/philox_device.hpp"
#include "random/philox.hpp"
#endif

namespace pyssl::bind {

#ifdef PYSSL_WITH_CUDA
namespace {

namespace cu = pyssl::cuda;

struct DeviceArray {
  std::shared_ptr<cu::DeviceBuffer> buf;  // owner when the memory was allocated by pyssl
  py::object owner;                       // foreign owner (CuPy array, torch tensor), or None
  float* ptr = nullptr;
  std::vector<index_t> shape;

  index_t size() const {
    index_t n = 1;
    for (index_t s : shape) n *= s;
    return n;
  }
  std::string describe() const {
    std::ostringstream os;
    os << "DeviceArray of shape (";
    for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
    if (shape.size() == 1) os << ",";
    os << "), dtype float32";
    return os.str();
  }
};

std::vector<index_t> to_shape(const py::sequence& s, const char* name) {
  std::vector<index_t> out;
  for (auto v : s) {
    const index_t d = v.cast<index_t>();
    if (d < 0) fail(name, " must have non-negative entries, got ", d);
    out.push_back(d);
  }
  return out;
}

DeviceArray empty_device(const std::vector<index_t>& shape) {
  DeviceArray a;
  a.shape = shape;
  a.buf = std::make_shared<cu::DeviceBuffer>(std::size_t(a.size()));
  a.ptr = a.buf->data();
  a.owner = py::none();
  return a;
}

// Checks a DeviceArray argument: ndim (-1: any) and returns its pointer.
float* dev(const DeviceArray& a, const char* name, int ndim = -1) {
  if (ndim >= 0 && int(a.shape.size()) != ndim) fail(name, " must be ", ndim, "-D, got ", a.describe());
  return a.ptr;
}

void check_dev_shape(const DeviceArray& a, const std::vector<index_t>& shape, const char* name) {
  if (a.shape != shape) {
    std::ostringstream os;
    os << "(";
    for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
    if (shape.size() == 1) os << ",";
    os << ")";
    fail(name, " must have shape ", os.str(), ", got ", a.describe());
  }
}

index_t ddim(const DeviceArray& a, int i) { return a.shape[size_t(i)]; }

cu::Act to_act(const std::string& act) {
  if (act == "relu") return cu::Act::ReLU;
  if (act == "gelu") return cu::Act::GELU;
  if (act == "none" || act == "identity") return cu::Act::None;
  fail("act must be 'relu', 'gelu' or 'none', got '", act, "'");
}

py::dict interface(const DeviceArray& a) {
  py::dict d;
  py::list shape;
  for (index_t s : a.shape) shape.append(s);
  d["shape"] = py::tuple(shape);
  d["typestr"] = "<f4";
  d["data"] = py::make_tuple(reinterpret_cast<std::uintptr_t>(a.ptr), false);
  d["version"] = 3;
  d["strides"] = py::none();
  d["stream"] = 1;  // work is queued on the legacy default stream
  return d;
}

py::array_t<float> to_numpy(const DeviceArray& a) {
  std::vector<py::ssize_t> shape(a.shape.begin(), a.shape.end());
  py::array_t<float> out(shape);
  float* dst = out.mutable_data();
  nogil([&] { cu::copy_to_host(dst, a.ptr, std::size_t(a.size())); });
  return out;
}

DeviceArray from_numpy(const py::array& x) {
  const float* src = in<float>(x, "x");
  std::vector<index_t> shape;
  for (py::ssize_t i = 0; i < x.ndim(); ++i) shape.push_back(index_t(x.shape(i)));
  DeviceArray a = empty_device(shape);
  nogil([&] { cu::copy_to_device(a.ptr, src, std::size_t(a.size())); });
  return a;
}

// DLPack (legacy, unversioned ABI: dlpack.h v0.8, identical layout in every release up to 1.x's
// unversioned DLManagedTensor). Declared here to avoid a header dependency.
struct DLDevice { std::int32_t device_type, device_id; };
struct DLDataType { std::uint8_t code, bits; std::uint16_t lanes; };
struct DLTensor {
  void* data;
  DLDevice device;
  std::int32_t ndim;
  DLDataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;
  std::uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
constexpr std::int32_t kDLCUDA = 2, kDLCUDAManaged = 13;

DeviceArray from_dlpack(py::capsule cap) {
  if (std::string(cap.name() ? cap.name() : "") != "dltensor")
    fail("from_dlpack: expected an unused 'dltensor' capsule, got '", cap.name() ? cap.name() : "", "'");
  auto* mt = static_cast<DLManagedTensor*>(cap.get_pointer());
  const DLTensor& t = mt->dl_tensor;
  if (t.device.device_type != kDLCUDA && t.device.device_type != kDLCUDAManaged)
    fail("from_dlpack: the tensor is not in CUDA memory (DLPack device type ", t.device.device_type, ")");
  if (t.dtype.code != 2 || t.dtype.bits != 32 || t.dtype.lanes != 1)
    throw py::type_error("from_dlpack needs float32 (DLPack code 2, 32 bits), got code " +
                         std::to_string(t.dtype.code) + ", " + std::to_string(t.dtype.bits) + " bits");
  DeviceArray a;
  for (std::int32_t i = 0; i < t.ndim; ++i) a.shape.push_back(t.shape[i]);
  if (t.strides) {
    index_t want = 1;
    for (std::int32_t i = t.ndim - 1; i >= 0; --i) {
      if (t.shape[i] > 1 && t.strides[i] != want)
        fail("from_dlpack needs a C-contiguous tensor; call .contiguous() (torch) or cupy.ascontiguousarray first");
      want *= t.shape[i];
    }
  }
  a.ptr = reinterpret_cast<float*>(static_cast<char*>(t.data) + t.byte_offset);
  // Consume the capsule (DLPack protocol) and tie the producer's deleter to our owner object.
  PyCapsule_SetName(cap.ptr(), "used_dltensor");
  a.owner = py::capsule(mt, "pyssl_dltensor", [](PyObject* o) {
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(o, "pyssl_dltensor"));
    if (m && m->deleter) m->deleter(m);
  });
  return a;
}

}  // namespace
#endif

void register_cuda(py::module_& m) {
#ifdef PYSSL_WITH_CUDA
  m.attr("compiled") = true;
  m.def("device_count", &cu::device_count, "Number of usable CUDA devices (0 without a driver or device).");
  m.def("available", [] { return cu::device_count() > 0; });
  m.def("unavailable_reason", &cu::unavailable_reason);
  m.def("device_name", &cu::device_name, py::arg("device") = 0);
  m.def("synchronize", [] {
    nogil([&] { cu::synchronize(); });
  });
  m.def("load_cublas", &cu::load_cublas, py::arg("path") = std::string());
  m.def("cublas_loaded", &cu::cublas_loaded);
  m.def("set_tf32", &cu::set_tf32, py::arg("on"));
  m.def("tf32", &cu::tf32);

  // Host build of the device Philox header next to the CPU one (no GPU needed).
  m.def("philox_bits", [](std::uint64_t seed, std::uint64_t stream, index_t n, bool device_header) {
    if (n < 0) fail("n must be >= 0, got ", n);
    py::array_t<std::uint32_t> out(n);
    std::uint32_t* o = out.mutable_data();
    const pyssl::rng::Stream cpu(seed, stream);
    const cu::rng::Stream gpu{seed, stream};
    for (index_t i = 0; i < n; ++i) o[i] = device_header ? gpu.bits(std::uint64_t(i)) : cpu.bits(std::uint64_t(i));
    return out;
  }, py::arg("seed"), py::arg("stream"), py::arg("n"), py::arg("device_header"));

  py::class_<DeviceArray>(m, "DeviceArray", "float32 C-contiguous array in CUDA device memory.")
      .def_property_readonly("shape", [](const DeviceArray& a) {
        py::list s;
        for (index_t d : a.shape) s.append(d);
        return py::tuple(s);
      })
      .def_property_readonly("ndim", [](const DeviceArray& a) { return a.shape.size(); })
      .def_property_readonly("size", &DeviceArray::size)
      .def_property_readonly("ptr", [](const DeviceArray& a) { return reinterpret_cast<std::uintptr_t>(a.ptr); })
      .def_property_readonly("owner", [](const DeviceArray& a) { return a.owner; })
      .def_property_readonly("__cuda_array_interface__", &interface)
      .def("numpy", &to_numpy, "Copy to a new numpy array (synchronises).")
      .def("copy_from", [](DeviceArray& a, const py::array& x) {
        const float* src = in<float>(x, "x");
        std::vector<index_t> shape;
        for (py::ssize_t i = 0; i < x.ndim(); ++i) shape.push_back(index_t(x.shape(i)));
        if (shape != a.shape) fail("copy_from: x has ", bind::describe(x), " but the device array is ", a.describe());
        nogil([&] { cu::copy_to_device(a.ptr, src, std::size_t(a.size())); });
      }, py::arg("x"))
      .def("reshape", [](const DeviceArray& a, const py::sequence& shape) {
        DeviceArray v = a;
        v.shape = to_shape(shape, "shape");
        if (v.size() != a.size()) fail("reshape: cannot view ", a.describe(), " with ", v.size(), " elements");
        return v;
      }, py::arg("shape"))
      .def("__len__", [](const DeviceArray& a) {
        if (a.shape.empty()) throw py::type_error("len() of a 0-d DeviceArray");
        return a.shape[0];
      })
      .def("__repr__", [](const DeviceArray& a) { return a.describe(); });

  m.def("empty", [](const py::sequence& shape) { return empty_device(to_shape(shape, "shape")); }, py::arg("shape"));
  m.def("zeros", [](const py::sequence& shape) {
    DeviceArray a = empty_device(to_shape(shape, "shape"));
    cu::fill_zero(a.ptr, std::size_t(a.size()));
    return a;
  }, py::arg("shape"));
  m.def("from_numpy", &from_numpy, py::arg("x"));
  m.def("from_pointer", [](std::uintptr_t ptr, const py::sequence& shape, py::object owner, py::object stream) {
    DeviceArray a;
    a.shape = to_shape(shape, "shape");
    a.ptr = reinterpret_cast<float*>(ptr);
    a.owner = owner;
    if (a.size() > 0) {
      cu::require_device();
      if (!cu::is_device_pointer(a.ptr))
        fail("__cuda_array_interface__ data pointer 0x", std::hex, ptr, " is not CUDA device memory");
    }
    if (!stream.is_none()) {
      const auto s = stream.cast<std::uintptr_t>();
      nogil([&] { cu::stream_synchronize(s); });
    }
    return a;
  }, py::arg("ptr"), py::arg("shape"), py::arg("owner"), py::arg("stream") = py::none());

  m.def("from_dlpack", &from_dlpack, py::arg("capsule"),
        "Wrap an unused 'dltensor' capsule (float32, C-contiguous, CUDA memory) without a copy.");

  // ---- kernels ----
  m.def("matmul", [](const DeviceArray& a, const DeviceArray& b, bool ta, bool tb) {
    const float* pa = dev(a, "a", 2);
    const float* pb = dev(b, "b", 2);
    const index_t m_ = ta ? ddim(a, 1) : ddim(a, 0), k = ta ? ddim(a, 0) : ddim(a, 1);
    const index_t kb = tb ? ddim(b, 1) : ddim(b, 0), n = tb ? ddim(b, 0) : ddim(b, 1);
    if (k != kb) fail("matmul: op(a) is (", m_, ", ", k, ") but op(b) is (", kb, ", ", n, "); a is ", a.describe(),
                      ", b is ", b.describe());
    DeviceArray c = empty_device({m_, n});
    nogil([&] { cu::gemm(ta, tb, m_, n, k, 1.f, pa, ddim(a, 1), pb, ddim(b, 1), 0.f, c.ptr, n); });
    return c;
  }, py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false);

  m.def("dense_forward", [](const DeviceArray& x, const DeviceArray& w, std::optional<DeviceArray> b,
                            const std::string& act) {
    const float* px = dev(x, "x", 2);
    const float* pw = dev(w, "w", 2);
    const index_t n = ddim(x, 0), i = ddim(x, 1), o = ddim(w, 1);
    check_dev_shape(w, {i, o}, "w");
    const float* pb = nullptr;
    if (b) {
      check_dev_shape(*b, {o}, "b");
      pb = b->ptr;
    }
    const cu::Act a = to_act(act);
    DeviceArray y = empty_device({n, o});
    nogil([&] { cu::dense_forward(px, pw, pb, y.ptr, n, i, o, a); });
    return y;
  }, py::arg("x"), py::arg("w"), py::arg("b"), py::arg("act") = "none");

  m.def("dense_backward", [](const DeviceArray& x, const DeviceArray& w, const DeviceArray& dy, DeviceArray& dw,
                             std::optional<DeviceArray> db, bool accumulate, bool need_dx) -> py::object {
    const float* px = dev(x, "x", 2);
    const index_t n = ddim(x, 0), i = ddim(x, 1);
    dev(w, "w", 2);
    const index_t o = ddim(w, 1);
    check_dev_shape(w, {i, o}, "w");
    check_dev_shape(dy, {n, o}, "dy");
    check_dev_shape(dw, {i, o}, "dw");
    float* pdb = nullptr;
    if (db) {
      check_dev_shape(*db, {o}, "db");
      pdb = db->ptr;
    }
    DeviceArray scratch = empty_device({cu::column_sum_scratch(n, o)});
    DeviceArray dx;
    if (need_dx) dx = empty_device({n, i});
    nogil([&] {
      cu::dense_backward(px, w.ptr, dy.ptr, need_dx ? dx.ptr : nullptr, dw.ptr, pdb, n, i, o, accumulate,
                         scratch.ptr);
    });
    if (!need_dx) return py::none();
    return py::cast(dx);
  }, py::arg("x"), py::arg("w"), py::arg("dy"), py::arg("dw"), py::arg("db"), py::arg("accumulate") = false,
     py::arg("need_dx") = true);

  m.def("column_sum", [](const DeviceArray& a) {
    dev(a, "a", 2);
    const index_t n = ddim(a, 0), d = ddim(a, 1);
    DeviceArray scratch = empty_device({cu::column_sum_scratch(n, d)});
    DeviceArray out = empty_device({d});
    nogil([&] { cu::column_sum(a.ptr, out.ptr, n, d, false, scratch.ptr); });
    return out;
  }, py::arg("a"));

  m.def("activation_forward", [](const DeviceArray& x, const std::string& act) {
    const cu::Act a = to_act(act);
    DeviceArray y = empty_device(x.shape);
    nogil([&] {
      if (a == cu::Act::None) cu::copy_device(y.ptr, x.ptr, std::size_t(x.size()));
      else cu::activation_forward(a, x.ptr, y.ptr, x.size());
    });
    return y;
  }, py::arg("x"), py::arg("act"));

  m.def("activation_backward", [](const DeviceArray& x, const DeviceArray& dy, const std::string& act) {
    const cu::Act a = to_act(act);
    if (a == cu::Act::None) fail("activation_backward: act must be 'relu' or 'gelu'");
    check_dev_shape(dy, x.shape, "dy");
    DeviceArray dx = empty_device(x.shape);
    nogil([&] { cu::activation_backward(a, x.ptr, dy.ptr, dx.ptr, x.size()); });
    return dx;
  }, py::arg("x"), py::arg("dy"), py::arg("act"));

  m.def("sgd_momentum", [](DeviceArray& p, const DeviceArray& g, DeviceArray& buf, float lr, float momentum,
                           float wd, bool nesterov) {
    check_dev_shape(g, p.shape, "grad");
    check_dev_shape(buf, p.shape, "momentum_buffer");
    nogil([&] { cu::sgd_momentum(p.ptr, g.ptr, buf.ptr, p.size(), lr, momentum, wd, nesterov); });
  }, py::arg("param"), py::arg("grad"), py::arg("momentum_buffer"), py::arg("lr"), py::arg("momentum"),
     py::arg("weight_decay"), py::arg("nesterov"));

  m.def("adam", [](DeviceArray& p, const DeviceArray& g, DeviceArray& m1, DeviceArray& v, std::int64_t step,
                   float lr, float b1, float b2, float eps, float wd, bool decoupled) {
    check_dev_shape(g, p.shape, "grad");
    check_dev_shape(m1, p.shape, "exp_avg");
    check_dev_shape(v, p.shape, "exp_avg_sq");
    if (step < 1) fail("step must be >= 1 (the count including this update), got ", step);
    nogil([&] { cu::adam(p.ptr, g.ptr, m1.ptr, v.ptr, p.size(), step, lr, b1, b2, eps, wd, decoupled); });
  }, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("step"), py::arg("lr"),
     py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"), py::arg("decoupled"));

  m.def("ema", [](DeviceArray& t, const DeviceArray& o, float tau) {
    check_dev_shape(o, t.shape, "online");
    nogil([&] { cu::ema(t.ptr, o.ptr, t.size(), tau); });
  }, py::arg("target"), py::arg("online"), py::arg("tau"));

  m.def("nt_xent", [](const DeviceArray& z, float temperature) {
    dev(z, "z", 2);
    const index_t rows = ddim(z, 0), d = ddim(z, 1);
    if (rows < 2 || rows % 2) fail("z must have an even number 2N >= 2 of rows (two views stacked), got ",
                                   z.describe());
    if (d < 1) fail("z must have at least one column, got ", z.describe());
    if (!(temperature > 0.f) || !std::isfinite(temperature)) fail("temperature must be > 0, got ", temperature);
    DeviceArray grad = empty_device(z.shape);
    DeviceArray scratch = empty_device({cu::nt_xent_scratch(rows, d)});
    const float loss = nogil([&] { return cu::nt_xent(z.ptr, grad.ptr, rows, d, temperature, scratch.ptr, true); });
    return py::make_tuple(loss, grad);
  }, py::arg("z"), py::arg("temperature"));

  m.def("feature_mask", [](const DeviceArray& x, float p, std::uint64_t seed, std::uint64_t stream) {
    dev(x, "x", 2);
    if (!(p >= 0.f && p <= 1.f)) fail("p must be in [0, 1], got ", p);
    DeviceArray out = empty_device(x.shape), mask = empty_device(x.shape);
    nogil([&] { cu::feature_mask(x.ptr, out.ptr, mask.ptr, ddim(x, 0), ddim(x, 1), p, seed, stream); });
    return py::make_tuple(out, mask);
  }, py::arg("x"), py::arg("p"), py::arg("seed"), py::arg("stream"));

  py::class_<cu::SimCLRStep>(m, "SimCLRStep")
      .def(py::init([](const std::vector<index_t>& dims, const std::vector<bool>& relu_after, float temperature,
                       int optimizer, float lr, float momentum, float beta1, float beta2, float eps, float wd,
                       bool nesterov) {
             if (dims.size() < 2) fail("dims must list at least two sizes, got ", dims.size());
             for (index_t d : dims)
               if (d < 1) fail("dims must be positive, got ", d);
             if (relu_after.size() != dims.size() - 1)
               fail("relu_after needs one flag per layer (", dims.size() - 1, "), got ", relu_after.size());
             if (!(temperature > 0.f)) fail("temperature must be > 0, got ", temperature);
             if (optimizer < 0 || optimizer > 2) fail("optimizer must be 0 (sgd), 1 (adam) or 2 (adamw)");
             cu::StepConfig c;
             c.dims = dims;
             c.relu_after = relu_after;
             c.temperature = temperature;
             c.optimizer = optimizer;
             c.lr = lr; c.momentum = momentum; c.beta1 = beta1; c.beta2 = beta2; c.eps = eps;
             c.weight_decay = wd; c.nesterov = nesterov;
             return std::make_unique<cu::SimCLRStep>(c);
           }),
           py::arg("dims"), py::arg("relu_after"), py::arg("temperature"), py::arg("optimizer"), py::arg("lr"),
           py::arg("momentum"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
           py::arg("nesterov"))
      .def("set_layer", [](cu::SimCLRStep& s, int l, const py::array& w, const py::array& b) {
        if (l < 0 || l >= s.num_layers()) fail("layer index ", l, " out of range [0, ", s.num_layers(), ")");
        const float* pw = in<float>(w, "w", 2);
        const float* pb = in<float>(b, "b", 1);
        check_shape(w, {s.dims()[size_t(l)], s.dims()[size_t(l) + 1]}, "w");
        check_shape(b, {s.dims()[size_t(l) + 1]}, "b");
        nogil([&] { s.set_layer(l, pw, pb); });
      }, py::arg("layer"), py::arg("w"), py::arg("b"))
      .def("get_layer", [](const cu::SimCLRStep& s, int l) {
        if (l < 0 || l >= s.num_layers()) fail("layer index ", l, " out of range [0, ", s.num_layers(), ")");
        const index_t i = s.dims()[size_t(l)], o = s.dims()[size_t(l) + 1];
        auto w = empty<float>({i, o});
        auto b = empty<float>({o});
        float* pw = w.mutable_data();
        float* pb = b.mutable_data();
        nogil([&] { s.get_layer(l, pw, pb); });
        return py::make_tuple(w, b);
      }, py::arg("layer"))
      .def("step", [](cu::SimCLRStep& s, const DeviceArray& x1, const DeviceArray& x2, bool want_loss) {
        dev(x1, "x1", 2);
        const index_t d0 = s.dims()[0];
        if (ddim(x1, 1) != d0) fail("x1 must have ", d0, " columns, got ", x1.describe());
        check_dev_shape(x2, x1.shape, "x2");
        if (ddim(x1, 0) < 1) fail("x1 must have at least one row, got ", x1.describe());
        return nogil([&] { return s.step(x1.ptr, x2.ptr, ddim(x1, 0), want_loss); });
      }, py::arg("x1"), py::arg("x2"), py::arg("want_loss"))
      .def_property_readonly("steps_done", &cu::SimCLRStep::steps_done)
      .def_property_readonly("num_layers", &cu::SimCLRStep::num_layers);
#else
  m.attr("compiled") = false;
  m.def("available", [] { return false; });
  m.def("device_count", [] { return 0; });
  m.def("unavailable_reason", [] {
    return std::string("pyssl was built without CUDA (no nvcc found at build time, or PYSSL_CUDA=OFF)");
  });
#endif
}

}  // namespace pyssl::bind
