"""Optional CUDA backend: float32 kernels on device memory, and a device-resident SimCLR step.

Import it as ``import pyssl.cuda``. It always imports; on a machine without a GPU driver, or a
pyssl built without CUDA, :func:`is_available` is False and every entry point that needs the
device raises ``RuntimeError`` saying why.

Data model
    :class:`DeviceArray` is a float32, C-contiguous array in device memory. Make one with
    :func:`to_device` (copies a numpy array up), :func:`empty` / :func:`zeros`, or
    :func:`as_device`, which wraps any object exposing ``__cuda_array_interface__`` (CuPy arrays,
    PyTorch CUDA tensors, Numba arrays) *without a copy*, keeping that object alive. A
    DeviceArray exposes ``__cuda_array_interface__`` (v3) itself, so ``cupy.asarray(d)`` or
    ``torch.as_tensor(d, device="cuda")`` see the same memory. ``d.numpy()`` copies back.

Streams
    All pyssl work is queued on the legacy default stream in call order, and pyssl exports
    ``stream=1`` in its interface. When wrapping a foreign array whose interface names a
    stream, :func:`as_device` waits for that stream first (the consumer rule of the v3 spec).

Matrix products go through cuBLAS, loaded at run time (see :func:`load_cublas`); full float32
by default, TF32 tensor-core math only after ``set_tf32(True)`` (PyTorch's default for matmul is
also full float32).

Conventions match the CPU kernels: dense ``Y = X W + b`` with ``W`` of shape (in, out); GELU is
the exact erf form; optimizers follow ``torch.optim`` (SGD, Adam, AdamW); NT-Xent stacks the two
views as ``z = [z1; z2]`` (rows i and i + N are positives); feature masks draw from the same
Philox4x32-10 stream (seed, stream, index i·D + j) as ``pyssl::rng::Stream`` on the CPU.
"""
from __future__ import annotations

import glob
import importlib.util
import numbers
import os
from typing import TYPE_CHECKING

import numpy as np

from . import _core
from ._validation import check_scalar, check_seed

_cu = _core.cuda

#: True when this build of pyssl contains the CUDA kernels (a GPU may still be absent).
compiled: bool = bool(getattr(_cu, "compiled", False))

__all__ = ["compiled", "is_available", "device_count", "unavailable_reason", "DeviceArray", "to_device",
           "as_device", "empty", "zeros", "synchronize", "set_tf32", "get_tf32", "load_cublas", "matmul",
           "dense_forward", "dense_backward", "column_sum", "activation_forward", "activation_backward", "relu",
           "gelu", "sgd_momentum_", "adam_", "ema_", "nt_xent", "feature_mask", "SimCLRStep"]


# ---- runtime ------------------------------------------------------------------------------------

def is_available() -> bool:
    """True when pyssl was built with CUDA and a CUDA device is usable (never raises)."""
    return compiled and bool(_cu.available())


def device_count() -> int:
    """Number of usable CUDA devices (0 without CUDA support, driver or device)."""
    return int(_cu.device_count())


def unavailable_reason() -> str:
    """Why :func:`is_available` is False ("" when it is True)."""
    return "" if is_available() else str(_cu.unavailable_reason())


def _require() -> None:
    if not is_available():
        raise RuntimeError(f"pyssl.cuda is not available: {_cu.unavailable_reason()}. "
                           "Check pyssl.cuda.is_available() first, or use the CPU API (numpy arrays).")


def _cublas_candidates() -> list[str]:
    """Paths to try for libcublas: $PYSSL_CUBLAS, one already loaded in this process (e.g. by
    PyTorch: same library, same handle), the nvidia-cublas wheels, then the loader's search."""
    out = []
    env = os.environ.get("PYSSL_CUBLAS")
    if env:
        out.append(env)
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.rsplit(" ", 1)[-1].strip()
                if "/libcublas.so" in p and p not in out:
                    out.append(p)
    except OSError:
        pass
    spec = importlib.util.find_spec("nvidia")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            for pat in ("cu13/lib/libcublas.so.13", "cublas/lib/libcublas.so.13", "cublas/lib/libcublas.so.12",
                        "cu*/lib/libcublas.so.*"):
                for p in sorted(glob.glob(os.path.join(root, pat))):
                    if p not in out and not p.endswith(".alt"):
                        out.append(p)
    return out


def _preload_cublaslt(path: str) -> None:
    """Load libcublasLt from libcublas's folder first, in case that folder is not on the
    library's own RUNPATH (libcublas needs it)."""
    import ctypes

    folder, name = os.path.split(path)
    if not folder:
        return
    lt = os.path.join(folder, name.replace("libcublas.", "libcublasLt.", 1))
    if os.path.exists(lt):
        try:
            ctypes.CDLL(lt, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            pass


def load_cublas(path: str | None = None) -> str:
    """Load cuBLAS (once per process) and return the path that was loaded.

    Called automatically by the first matrix product. ``path=None`` tries, in order:
    ``$PYSSL_CUBLAS``, a libcublas already mapped into the process (PyTorch's), the
    ``nvidia-cublas`` wheels next to pyssl, then ``libcublas.so.13``, ``.12`` and ``.so`` through
    the dynamic loader.
    """
    _require()
    if _cu.cublas_loaded():
        return _cu.load_cublas("")
    if path is not None:
        _preload_cublaslt(str(path))
        return _cu.load_cublas(str(path))
    errors = []
    for p in _cublas_candidates():
        try:
            _preload_cublaslt(p)
            return _cu.load_cublas(p)
        except RuntimeError as exc:
            errors.append(str(exc))
    try:
        return _cu.load_cublas("")
    except RuntimeError as exc:
        raise RuntimeError("\n".join(errors + [str(exc)])) from None


def _blas() -> None:
    _require()
    if not _cu.cublas_loaded():
        load_cublas()


def set_tf32(on: bool) -> None:
    """Allow TF32 tensor-core math in pyssl's cuBLAS GEMMs (10-bit mantissa products, float32
    accumulation; about 1e-3 relative error). Off by default."""
    if not isinstance(on, (bool, np.bool_)):
        raise TypeError(f"on must be a bool, got {on!r}")
    if compiled:
        _cu.set_tf32(bool(on))
    elif on:
        _require()


def get_tf32() -> bool:
    return bool(_cu.tf32()) if compiled else False


def synchronize() -> None:
    """Wait for all queued device work (timing, or before reading memory from the host)."""
    _require()
    _cu.synchronize()


# ---- arrays -----------------------------------------------------------------------------------

if compiled or TYPE_CHECKING:
    DeviceArray = _cu.DeviceArray
else:
    class DeviceArray:  # noqa: D101 - placeholder so isinstance checks work in a CPU-only build
        """float32 array in CUDA device memory (this build of pyssl has no CUDA support)."""

        def __init__(self, *args, **kwargs):
            _require()


def _shape(shape, name="shape") -> tuple:
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    shape = tuple(shape)
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"{name} must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def to_device(x) -> "DeviceArray":
    """Copy a host array to a new float32 DeviceArray.

    float64 and integer input is cast to float32 on the host (the device kernels are float32);
    other dtypes raise TypeError.
    """
    _require()
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"x must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"x must be real-valued, got dtype {arr.dtype}")
    return _cu.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def empty(shape) -> "DeviceArray":
    """Uninitialised float32 DeviceArray."""
    _require()
    return _cu.empty(_shape(shape))


def zeros(shape) -> "DeviceArray":
    _require()
    return _cu.zeros(_shape(shape))


def as_device(obj) -> "DeviceArray":
    """View ``obj`` as a DeviceArray without copying.

    ``obj`` is a DeviceArray, exposes ``__cuda_array_interface__`` (version 2 or 3), or
    exposes DLPack (``__dlpack__``, CUDA device): float32, C-contiguous, without a mask.
    ``obj`` (or the DLPack capsule) is kept alive by the view. Writes through pyssl's in-place
    kernels are visible to ``obj``.
    """
    if compiled and isinstance(obj, DeviceArray):
        return obj
    if isinstance(obj, np.ndarray):
        raise TypeError("as_device takes device memory; got a numpy array: use pyssl.cuda.to_device(x) to copy it")
    cai = getattr(obj, "__cuda_array_interface__", None)
    if cai is None and hasattr(obj, "__dlpack__"):
        return _from_dlpack(obj)
    if cai is None:
        raise TypeError(f"{type(obj).__name__} exposes neither __cuda_array_interface__ nor __dlpack__; pass a "
                        "DeviceArray, a CuPy array or a CUDA torch tensor (or a numpy array through to_device)")
    shape = _shape(cai["shape"], "__cuda_array_interface__ shape")
    if cai.get("typestr") != "<f4":
        raise TypeError(f"as_device needs float32 (typestr '<f4'), got typestr {cai.get('typestr')!r}; convert "
                        "first, e.g. tensor.float() or array.astype('float32')")
    if cai.get("mask") is not None:
        raise ValueError("as_device does not support masked arrays")
    strides = cai.get("strides")
    if strides is not None:
        sizes, acc = [], 4
        for s in reversed(shape):
            sizes.append(acc)
            acc *= s
        want = tuple(reversed(sizes))
        if any(st != w for st, w, n in zip(strides, want, shape) if n > 1):
            raise ValueError(f"as_device needs a C-contiguous array, got strides {tuple(strides)} for shape "
                             f"{shape}; call .contiguous() (torch) or cupy.ascontiguousarray first")
    ptr, readonly = cai["data"]
    if readonly:
        raise ValueError("as_device: the array is read-only (pyssl kernels may write into it)")
    _require()
    return _cu.from_pointer(int(ptr), shape, obj, cai.get("stream"))


def _from_dlpack(obj) -> "DeviceArray":
    """DLPack path of :func:`as_device`: the producer is asked to order its work before pyssl's
    stream (``stream=1``, the legacy default stream); float32, C-contiguous, CUDA memory only."""
    dev_type = None
    if hasattr(obj, "__dlpack_device__"):
        dev_type, _ = obj.__dlpack_device__()
        if int(dev_type) not in (2, 13):  # kDLCUDA, kDLCUDAManaged
            raise TypeError(f"as_device: {type(obj).__name__} is not in CUDA memory (DLPack device type "
                            f"{int(dev_type)}); use pyssl.cuda.to_device(numpy.asarray(x)) to copy it")
    _require()
    return _cu.from_dlpack(obj.__dlpack__(stream=1))


def _dev(x, name: str) -> "DeviceArray":
    if isinstance(x, DeviceArray):
        return x
    if isinstance(x, np.ndarray):
        raise TypeError(f"{name} is a numpy array; device kernels take device memory: pass "
                        f"pyssl.cuda.to_device({name})")
    if hasattr(x, "__cuda_array_interface__") or hasattr(x, "__dlpack__"):
        return as_device(x)
    raise TypeError(f"{name} must be a DeviceArray or expose __cuda_array_interface__, got {type(x).__name__}")


# ---- kernels ----------------------------------------------------------------------------------

def matmul(a, b, trans_a: bool = False, trans_b: bool = False) -> "DeviceArray":
    """C = op(A) op(B) through cuBLAS SGEMM (row-major; op = transpose when asked)."""
    _blas()
    return _cu.matmul(_dev(a, "a"), _dev(b, "b"), bool(trans_a), bool(trans_b))


def dense_forward(x, w, b=None, act: str = "none") -> "DeviceArray":
    """Y = act(X W + b): X (N, I), W (I, O), b (O,) or None; act 'none', 'relu' or 'gelu'
    (bias and activation fused into one pass after the GEMM)."""
    _blas()
    return _cu.dense_forward(_dev(x, "x"), _dev(w, "w"), None if b is None else _dev(b, "b"), str(act))


def dense_backward(x, w, dy, dw, db=None, accumulate: bool = False, need_input_grad: bool = True):
    """dW (+)= Xᵀ dY and db (+)= Σₙ dY in place (fixed-order column sums); returns dX = dY Wᵀ
    (None when ``need_input_grad`` is False)."""
    _blas()
    return _cu.dense_backward(_dev(x, "x"), _dev(w, "w"), _dev(dy, "dy"), _dev(dw, "dw"),
                              None if db is None else _dev(db, "db"), bool(accumulate), bool(need_input_grad))


def column_sum(a) -> "DeviceArray":
    """Σ_i a[i, :] in a fixed order (chunks of 64 rows, then chunks in order)."""
    _require()
    return _cu.column_sum(_dev(a, "a"))


def activation_forward(x, act: str) -> "DeviceArray":
    _require()
    return _cu.activation_forward(_dev(x, "x"), str(act))


def activation_backward(x, dy, act: str) -> "DeviceArray":
    """dx = dy ⊙ act'(x) (x is the activation's input)."""
    _require()
    return _cu.activation_backward(_dev(x, "x"), _dev(dy, "dy"), str(act))


def relu(x) -> "DeviceArray":
    return activation_forward(x, "relu")


def gelu(x) -> "DeviceArray":
    """Exact GELU x Φ(x) (Hendrycks & Gimpel 2016), as the CPU kernel."""
    return activation_forward(x, "gelu")


def sgd_momentum_(param, grad, momentum_buffer, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                  nesterov: bool = False) -> None:
    """In place, as ``torch.optim.SGD`` (dampening 0; buffer starts at zero):
    g = ∇ + λθ; b ← μ b + g; θ ← θ − α (g + μ b if nesterov else b)."""
    _require()
    check_scalar(lr, "lr", low=0)
    check_scalar(momentum, "momentum", low=0)
    check_scalar(weight_decay, "weight_decay", low=0)
    _cu.sgd_momentum(_dev(param, "param"), _dev(grad, "grad"), _dev(momentum_buffer, "momentum_buffer"),
                     float(lr), float(momentum), float(weight_decay), bool(nesterov))


def adam_(param, grad, exp_avg, exp_avg_sq, step: int, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
          weight_decay: float = 0.0, decoupled: bool = False) -> None:
    """In place, as ``torch.optim.Adam`` (``decoupled=False``, L2 added to the gradient) or
    ``torch.optim.AdamW`` (``decoupled=True``: θ ← θ(1 − αλ) first), Kingma & Ba 2015, Alg. 1;
    Loshchilov & Hutter 2019, Alg. 2. ``step`` counts updates including this one (t ≥ 1)."""
    _require()
    check_scalar(step, "step", kind=numbers.Integral, low=1)
    check_scalar(lr, "lr", low=0)
    b1, b2 = betas
    check_scalar(b1, "beta1", low=0, high=1, high_inclusive=False)
    check_scalar(b2, "beta2", low=0, high=1, high_inclusive=False)
    check_scalar(eps, "eps", low=0)
    check_scalar(weight_decay, "weight_decay", low=0)
    _cu.adam(_dev(param, "param"), _dev(grad, "grad"), _dev(exp_avg, "exp_avg"), _dev(exp_avg_sq, "exp_avg_sq"),
             int(step), float(lr), float(b1), float(b2), float(eps), float(weight_decay), bool(decoupled))


def ema_(target, online, tau: float) -> None:
    """target ← τ target + (1 − τ) online, in place (BYOL's target network, Grill et al. 2020, eq. 1)."""
    _require()
    check_scalar(tau, "tau", low=0, high=1)
    _cu.ema(_dev(target, "target"), _dev(online, "online"), float(tau))


def nt_xent(z, temperature: float = 0.5):
    """NT-Xent (SimCLR, Chen et al. 2020, eq. 1) with its gradient, fused on the device.

    z (2N, D) stacks the two views' projections, [z¹; z²]; rows i and i + N are positives.
    With ẑ = z / max(‖z‖, 1e-12) and s_ik = ẑ_i·ẑ_k / τ:
    L = 1/(2N) Σ_i [log Σ_{k≠i} exp(s_ik) − s_i,pos(i)].
    Returns (loss: float, dL/dz as a DeviceArray (2N, D)).
    """
    _blas()
    check_scalar(temperature, "temperature", low=0, low_inclusive=False)
    loss, grad = _cu.nt_xent(_dev(z, "z"), float(temperature))
    return float(loss), grad


def feature_mask(x, p: float, seed: int, stream: int = 0):
    """Zero each entry of x (N, D) with probability p: keep[i, j] = U(i·D + j) ≥ p where
    U(k) = Stream(seed, stream).uniform(k) is pyssl's CPU Philox4x32-10 stream (24-bit uniforms);
    the mask is therefore bit-identical to the CPU draw for the same (seed, stream).
    Returns (x ⊙ keep, keep as 0/1 float32)."""
    _require()
    check_scalar(p, "p", low=0, high=1)
    return _cu.feature_mask(_dev(x, "x"), float(p), check_seed(seed), check_seed(stream, "stream"))


# ---- SimCLR step ------------------------------------------------------------------------------

_OPTIMIZERS = {"sgd": 0, "adam": 1, "adamw": 2}


class SimCLRStep:
    """A SimCLR training step with all state on the GPU (Chen et al. 2020).

    encoder h: Linear(d0→d1) → ReLU → … → Linear (no ReLU after its last layer);
    projector g: Linear → ReLU → … → Linear. Each step: z = g(h([x1; x2])), fused NT-Xent
    forward+backward, backward through both MLPs (cuBLAS GEMMs; bias gradients by fixed-order
    column sums fused with the ReLU backward), then one fused optimizer kernel over every
    parameter (flat buffer). Weights W are (in, out) and start as PyTorch's nn.Linear
    default, U(−1/√in, 1/√in), drawn with numpy from ``seed`` (or are given by ``weights``).

    ``optimizer``: 'sgd' (momentum, torch.optim.SGD), 'adam', 'adamw' (torch semantics);
    weight decay applies to every parameter, as torch's default parameter group.
    """

    def __init__(self, encoder_dims=(2048, 4096, 4096), projector_dims=(4096, 1024, 256), temperature: float = 0.5,
                 optimizer: str = "sgd", lr: float = 0.01, momentum: float = 0.9, betas=(0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, nesterov: bool = False, seed: int = 0, weights=None):
        enc, proj = _shape(encoder_dims, "encoder_dims"), _shape(projector_dims, "projector_dims")
        if len(enc) < 2 or len(proj) < 2:
            raise ValueError(f"encoder_dims and projector_dims need at least two sizes each, got {enc}, {proj}")
        if proj[0] != enc[-1]:
            raise ValueError(f"projector_dims[0] must equal encoder_dims[-1] ({enc[-1]}), got {proj[0]}")
        if min(enc + proj) < 1:
            raise ValueError("layer sizes must be >= 1")
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, got {optimizer!r}")
        check_scalar(temperature, "temperature", low=0, low_inclusive=False)
        check_scalar(lr, "lr", low=0)
        check_scalar(momentum, "momentum", low=0)
        check_scalar(weight_decay, "weight_decay", low=0)
        check_scalar(eps, "eps", low=0)
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        _blas()
        self.dims = enc + proj[1:]
        n_enc = len(enc) - 1
        self.relu_after = [l not in (n_enc - 1, len(self.dims) - 2) for l in range(len(self.dims) - 1)]
        self.optimizer = optimizer
        self._impl = _cu.SimCLRStep(list(self.dims), self.relu_after, float(temperature), _OPTIMIZERS[optimizer],
                                    float(lr), float(momentum), float(betas[0]), float(betas[1]), float(eps),
                                    float(weight_decay), bool(nesterov))
        if weights is None:
            g = np.random.default_rng(check_seed(seed))
            weights = []
            for i, o in zip(self.dims[:-1], self.dims[1:]):
                bound = 1.0 / np.sqrt(i)
                weights.append((g.uniform(-bound, bound, (i, o)).astype(np.float32),
                                g.uniform(-bound, bound, (o,)).astype(np.float32)))
        self.set_weights(weights)
        self._staging: list[DeviceArray | None] | None = None

    @property
    def num_layers(self) -> int:
        return len(self.dims) - 1

    @property
    def steps_done(self) -> int:
        return int(self._impl.steps_done)

    def set_weights(self, weights) -> None:
        """weights: one (W (in, out), b (out,)) pair per layer, host arrays."""
        weights = list(weights)
        if len(weights) != self.num_layers:
            raise ValueError(f"weights needs {self.num_layers} (W, b) pairs, got {len(weights)}")
        for l, (w, b) in enumerate(weights):
            self._impl.set_layer(l, np.ascontiguousarray(w, dtype=np.float32),
                                 np.ascontiguousarray(b, dtype=np.float32))

    def get_weights(self) -> list:
        """Copies of the current (W, b) pairs as numpy arrays."""
        return [tuple(self._impl.get_layer(l)) for l in range(self.num_layers)]

    def _input(self, x, k: int, name: str):
        if isinstance(x, np.ndarray):
            x = np.ascontiguousarray(x, dtype=np.float32)
            if x.ndim != 2 or x.shape[1] != self.dims[0]:
                raise ValueError(f"{name} must be (B, {self.dims[0]}), got shape {x.shape}")
            buf = self._staging[k] if self._staging is not None else None
            if buf is None or buf.shape != x.shape:
                staging = list(self._staging or (None, None))
                staging[k] = buf = _cu.empty(x.shape)
                self._staging = staging
            buf.copy_from(x)
            return buf
        return _dev(x, name)

    def step(self, x1, x2, return_loss: bool = True):
        """One training step on two views (B, d0) each: numpy (copied up) or device arrays (no
        copy). Returns the loss (synchronises) or None when ``return_loss`` is False."""
        loss = self._impl.step(self._input(x1, 0, "x1"), self._input(x2, 1, "x2"), bool(return_loss))
        return float(loss) if return_loss else None
