"""Type stubs for pyssl._core, the compiled extension (csrc/python, pybind11).

First drafted with pybind11-stubgen from a CUDA-enabled build, then checked by hand against
csrc/python/register_*.cpp: return tuples spelled out, optional arrays typed `_Array | None`.
The extension's submodules (nn, optim, losses, augment, cuda) are written here as classes of
static methods, so that one stub file types `_core.nn.dense_forward(...)` without a `_core/`
package directory that would shadow the extension at import time. Keep this file in step with
the `m.def(...)` lines: tests/test_core_stubs.py compares both ways.

Arrays are float32 or float64 unless a function says otherwise (the bindings dispatch on the
first array's dtype); integer arrays (labels, offsets, boxes, permutations) are int64.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence

import numpy
import numpy.typing as npt

_Array: typing.TypeAlias = npt.NDArray[typing.Any]

def blas_config() -> str: ...
def blas_corename() -> str: ...
def blas_num_threads() -> int: ...
def buffer_cache_info() -> dict[str, int]: ...
def empty_buffer_cache() -> None: ...
def get_num_threads() -> int: ...
def matmul(a: _Array, b: _Array) -> _Array:
    """C = A @ B through the linked BLAS (2-D, same dtype)."""
def set_buffer_cache_limit(bytes: int) -> None: ...
def set_num_threads(n: int) -> None:
    """Set the thread count used by pyssl's OpenMP kernels and its BLAS."""
__version__: str
built_with_cuda: bool


class nn:
    """`pyssl._core.nn`: layer kernels"""
    class Activation:
        """Activation kernels: relu, gelu, tanh, sigmoid (pass int(member) as `act`)."""
        __members__: typing.ClassVar[dict[str, nn.Activation]]
        gelu: typing.ClassVar[nn.Activation]
        relu: typing.ClassVar[nn.Activation]
        sigmoid: typing.ClassVar[nn.Activation]
        tanh: typing.ClassVar[nn.Activation]
        @typing.overload
        def __eq__(self, other: nn.Activation) -> bool: ...
        @typing.overload
        def __eq__(self, other: typing.Any) -> bool: ...
        def __getstate__(self) -> int: ...
        def __hash__(self) -> int: ...
        def __index__(self) -> int: ...
        def __init__(self, value: int) -> None: ...
        def __int__(self) -> int: ...
        @typing.overload
        def __ne__(self, other: nn.Activation) -> bool: ...
        @typing.overload
        def __ne__(self, other: typing.Any) -> bool: ...
        def __repr__(self) -> str: ...
        def __setstate__(self, state: int) -> None: ...
        def __str__(self) -> str: ...
        @property
        def name(self) -> str: ...
        @property
        def value(self) -> int: ...
    @staticmethod
    def activation_backward(act: int, x: _Array, y: _Array, grad_output: _Array) -> _Array: ...
    @staticmethod
    def activation_forward(act: int, x: _Array) -> _Array: ...
    @staticmethod
    def attention_backward(qkv: _Array, probs: _Array, grad_output: _Array, heads: int) -> _Array:
        """Gradient of attention_forward with respect to qkv (N, L, 3D), from the saved probabilities (N, H, L, L)."""
    @staticmethod
    def attention_backward_recompute(qkv: _Array, lse: _Array, out: _Array, grad_output: _Array, heads: int, key_padding_mask: _Array | None = None) -> _Array:
        """Gradient with respect to qkv recomputing the probabilities from the row log-sum-exp lse (N, H, L) and the saved output out (N, L, D)."""
    @staticmethod
    def attention_forward(qkv: _Array, heads: int, key_padding_mask: _Array | None = None, save_probs: bool = True) -> tuple[_Array, _Array]:
        """Multi-head softmax(Q Kᵀ/√Dh) V from packed qkv (N, L, 3D); returns (out (N, L, D), probs (N, H, L, L)), or (out, lse (N, H, L)) with save_probs=False. key_padding_mask: (N, L) bool, True = padded key."""
    @staticmethod
    def batch_norm_backward(x: _Array, mean: _Array, rstd: _Array, grad_output: _Array, weight: _Array | None = None, weight_grad: _Array | None = None, bias_grad: _Array | None = None, training: bool = True, accumulate: bool = True, need_dx: bool = True, given_sums: _Array | None = None, given_count: float = 0.0, y: _Array | None = None, relu: bool = False) -> _Array | None:
        """Return dx (or None; training mode differentiates the batch statistics); accumulate dweight, dbias in place. given_sums (float64 (2D,): sum dy, then sum dy*xhat over given_count rows) replace the batch sums in dx (synchronised BatchNorm)."""
    @staticmethod
    def batch_norm_forward(x: _Array, weight: _Array | None = None, bias: _Array | None = None, running_mean: _Array | None = None, running_var: _Array | None = None, relu: bool = False, training: bool = True, momentum: float = 0.1, eps: float = 1e-05, given_mean: _Array | None = None, given_var: _Array | None = None, given_count: float = 0.0) -> tuple[_Array, _Array, _Array]:
        """BatchNorm1d on x (N, D); returns (y, mean, rstd) per feature. Training mode updates the running stats in place (unbiased variance, momentum m: r = (1-m) r + m batch). given_mean / given_var (float64, biased) over given_count rows replace the batch statistics (synchronised BatchNorm)."""
    @staticmethod
    def batch_norm_moments(x: _Array) -> tuple[_Array, _Array]:
        """Per-feature (mean, M2 = sum of squared deviations) of x (N, D), float64, fixed order."""
    @staticmethod
    def batch_norm_channels_forward(x: _Array, weight: _Array | None = None, bias: _Array | None = None, running_mean: _Array | None = None, running_var: _Array | None = None, residual: _Array | None = None, relu: bool = False, training: bool = True, momentum: float = 0.1, eps: float = 1e-05, given_mean: _Array | None = None, given_var: _Array | None = None, given_count: float = 0.0) -> tuple[_Array, _Array, _Array]:
        """BatchNorm over channels of x (N, C, T) or (N, C, H, W), then + residual, then ReLU (each optional); returns (y, mean, rstd) per channel."""
    @staticmethod
    def batch_norm_channels_moments(x: _Array) -> tuple[_Array, _Array]:
        """Per-channel (mean, M2) of x (N, C, ...), float64, fixed order."""
    @staticmethod
    def batch_norm_channels_backward(x: _Array, mean: _Array, rstd: _Array, grad_output: _Array, weight: _Array | None = None, y: _Array | None = None, relu: bool = False, weight_grad: _Array | None = None, bias_grad: _Array | None = None, training: bool = True, accumulate: bool = True, need_dx: bool = True, need_dres: bool = False, given_sums: _Array | None = None, given_count: float = 0.0) -> tuple[_Array | None, _Array | None]:
        """Returns (dx or None, d_residual or None); accumulates (or writes) weight_grad / bias_grad."""
    @staticmethod
    def im2col(x: _Array, kernel_size: tuple[int, int], stride: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0)) -> _Array:
        """cols (C*KH*KW, N*HO*WO) of x (N, C, H, W), the layout conv2d_forward returns and conv2d_backward takes."""
    @staticmethod
    def conv2d_input_grad(weight: _Array, grad_output: _Array, x_shape: Sequence[int], stride: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0)) -> _Array:
        """dx of y = conv2d(x, weight) (no bias): Wᵀ·dY then a vectorised col2im; equals conv2d_backward's dx."""
    @staticmethod
    def max_pool2d_forward(x: _Array, kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int] = (0, 0)) -> tuple[_Array, _Array]:
        """y, argmax (int32 index into each H·W plane)"""
    @staticmethod
    def max_pool2d_backward(argmax: _Array, grad_output: _Array, x_shape: Sequence[int], kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int] = (0, 0)) -> _Array: ...
    @staticmethod
    def conv2d_backward(cols: _Array, weight: _Array, grad_output: _Array, x_shape: Sequence[int], weight_grad: _Array, bias_grad: _Array | None = None, stride: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0), accumulate: bool = True, need_dx: bool = True, dilation: tuple[int, int] = (1, 1), padding_end: tuple[int, int] | None = None) -> _Array | None: ...
    @staticmethod
    def conv2d_forward(x: _Array, weight: _Array, bias: _Array | None = None, stride: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0), dilation: tuple[int, int] = (1, 1), padding_end: tuple[int, int] | None = None) -> tuple[_Array, _Array]:
        """y, cols = conv2d(x (N,C,H,W), weight (O,C,KH,KW), bias (O,)); cols is kept for backward. padding pads before (top, left), padding_end after (bottom, right; None: as padding)."""
    @staticmethod
    def cross_entropy(logits: _Array, labels: _Array, label_smoothing: float = 0.0, need_grad: bool = True) -> tuple[float, _Array | None]:
        """Fused log-softmax + cross-entropy (mean over N) + gradient: returns (loss, dlogits or None)."""
    @staticmethod
    def dense_backward(x: _Array, weight: _Array, grad_output: _Array, weight_grad: _Array, bias_grad: _Array | None = None, accumulate: bool = True, need_dx: bool = True) -> _Array | None:
        """Accumulate dW = xᵀ dy and db = Σ dy in place; return dx = dy weightᵀ (or None)."""
    @staticmethod
    def dense_forward(x: _Array, weight: _Array, bias: _Array | None = None) -> _Array:
        """y = x @ weight + bias; x (N, I), weight (I, O), bias (O,) or None."""
    @staticmethod
    def dense_backward_bf16(x_bf16: _Array, weight_bf16: _Array, grad_output: _Array, weight_grad: _Array, bias_grad: _Array | None = None, accumulate: bool = False, need_dx: bool = True) -> _Array | None:
        """dX = bf16(dY)·bf16(W)ᵀ (or None); dW (+)= bf16(X)ᵀ·bf16(dY) and db (+)= Σ dY in place"""
    @staticmethod
    def dense_forward_bf16(x: _Array, weight: _Array, bias: _Array | None = None, weight_bf16: _Array | None = None) -> tuple[_Array, _Array, _Array]:
        """Y = b + bf16(X)·bf16(W), float32 sums; returns (Y, bf16(X), bf16(W)). weight_bf16: bf16(W) already (the copy an optimizer step wrote), used instead of casting W"""
    @staticmethod
    def has_bf16_gemm() -> bool:
        """True when pyssl was built with oneDNN (bf16 GEMM engine)"""
    @staticmethod
    def bf16_native() -> bool:
        """True when oneDNN runs bf16 products on this CPU; False: bf16-mixed is emulated by float32 products on bf16-rounded operands (x86 without AVX-512), or pyssl was built without oneDNN"""
    @staticmethod
    def bf16_gemm_impl() -> str:
        """oneDNN implementation of the most recent bf16 GEMM primitive ('' before the first call)"""
    @staticmethod
    def conv_engine() -> str:
        """'onednn' or 'im2col': the engine float32 convolution layers use (PYSSL_CONV_ENGINE, read once)"""
    @staticmethod
    def conv_engine_config(engine: str | None = None, batch_split: bool | None = None, blocked: bool | None = None, wgrad_oc_chunk: int | None = None, wgrad_gemm: int | None = None) -> dict[str, typing.Any]:
        """Set any given option, return {engine, available, batch_split, blocked, wgrad_oc_chunk, wgrad_gemm, <pass>[_bf16]: oneDNN impl}"""
    @staticmethod
    def conv2d_dnnl_forward(x: _Array, weight: _Array, bias: _Array | None = None, stride: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0), dilation: tuple[int, int] = (1, 1), padding_end: tuple[int, int] | None = None, bf16: bool = False) -> _Array:
        """y = conv2d(x, weight) + bias on oneDNN (float32; bf16=True: bf16 products, float32 sums)"""
    @staticmethod
    def conv2d_dnnl_backward(x: _Array, weight: _Array, grad_output: _Array, weight_grad: _Array | None = None, bias_grad: _Array | None = None, stride: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0), accumulate: bool = True, need_dx: bool = True, dilation: tuple[int, int] = (1, 1), padding_end: tuple[int, int] | None = None, bf16: bool = False) -> _Array | None:
        """dx (or None); weight_grad / bias_grad written or accumulated in place, on oneDNN"""
    @staticmethod
    def to_bf16(x: _Array) -> _Array:
        """float32 → bfloat16 bits (uint16), round to nearest even"""
    @staticmethod
    def from_bf16(x: _Array) -> _Array:
        """bfloat16 bits (uint16) → float32 (exact)"""
    @staticmethod
    def dropout_backward(grad_output: _Array, mask: _Array, p: float) -> _Array:
        """dx = grad_output * mask / (1 - p)."""
    @staticmethod
    def dropout_forward(x: _Array, p: float, seed: int, step: int) -> tuple[_Array, _Array]:
        """Inverted dropout: returns (y, mask uint8); element i uses word i of Philox stream (seed, step)."""
    @staticmethod
    def embedding_backward(indices: _Array, grad_output: _Array, grad_weight: _Array, accumulate: bool = True) -> None:
        """grad_weight[r] (+)= Σ grad_output rows whose index is r, in increasing position."""
    @staticmethod
    def embedding_forward(weight: _Array, indices: _Array) -> _Array:
        """out[..., :] = weight[indices[...], :]; weight (num, dim), indices int64 of any shape."""
    @staticmethod
    def feature_tokenizer_backward(x: _Array, weight: _Array, grad_output: _Array, weight_grad: _Array, bias_grad: _Array | None = None, accumulate: bool = True, need_dx: bool = True) -> _Array | None:
        """dx (N, F) (or None); writes or accumulates dW, db (F, D) of the feature tokenizer."""
    @staticmethod
    def feature_tokenizer_forward(x: _Array, weight: _Array, bias: _Array | None = None) -> _Array:
        """Tokens y[n,f,:] = x[n,f]·W[f,:] + b[f,:] (N, F, D) of a (N, F) table."""
    @staticmethod
    def global_avg_pool_backward(grad_output: _Array, length: int) -> _Array: ...
    @staticmethod
    def global_avg_pool_forward(x: _Array) -> _Array:
        """(N, C, S) -> (N, C) mean over S"""
    @staticmethod
    def l2_normalize_backward(zhat: _Array, norm: _Array, grad_output: _Array) -> _Array:
        """dz_i = (g_i − zhat_i <zhat_i, g_i>) / |z_i|."""
    @staticmethod
    def l2_normalize_forward(z: _Array) -> tuple[_Array, _Array]:
        """(zhat, norm) with zhat_i = z_i / max(|z_i|, 1e-12); z (N, D)."""
    @staticmethod
    def layer_norm_backward(x: _Array, mean: _Array, rstd: _Array, grad_output: _Array, weight: _Array | None = None, weight_grad: _Array | None = None, bias_grad: _Array | None = None, accumulate: bool = True, need_dx: bool = True) -> _Array | None:
        """Return dx (or None); accumulate dweight = Σ dy x̂ and dbias = Σ dy in place."""
    @staticmethod
    def layer_norm_forward(x: _Array, weight: _Array | None = None, bias: _Array | None = None, eps: float = 1e-05) -> tuple[_Array, _Array, _Array]:
        """LayerNorm over the last dim of x (..., D); returns (y, mean, rstd), mean/rstd flat per row."""
    @staticmethod
    def mse(pred: _Array, target: _Array, need_grad: bool = True) -> tuple[float, _Array | None]:
        """Mean squared error over all elements and its gradient: returns (loss, dpred or None)."""
    @staticmethod
    def softmax_backward(y: _Array, grad_output: _Array, log: bool = False) -> _Array:
        """dx from the forward output y."""
    @staticmethod
    def softmax_forward(x: _Array, log: bool = False) -> _Array:
        """Softmax (or log-softmax with log=True) over the last dim, max-shifted."""

class optim:
    """`pyssl._core.optim`: fused optimizer updates"""
    class FlatLayout:
        """Parameter layout of a flat buffer: offsets (int64, P+1) and decay flags (uint8, P), cut into fixed-size blocks that never straddle two parameters."""
        def __init__(self, offsets: _Array, decay: _Array | None = None) -> None: ...
        @property
        def block_size(self) -> int: ...
        @property
        def count(self) -> int: ...
        @property
        def num_blocks(self) -> int: ...
        @property
        def size(self) -> int: ...
    @staticmethod
    def adam_step(layout: optim.FlatLayout, param: _Array, grad: _Array, exp_avg: _Array, exp_avg_sq: _Array, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float, step_size: float, bc2_sqrt: float, decoupled: bool, use_decay_mask: bool, param_bf16: _Array | None = None) -> bool:
        """One fused Adam (decoupled=False) or AdamW (decoupled=True) step in place; see csrc/optim/adam.hpp. Returns True when every updated parameter is finite. param_bf16 (uint16, float32 parameters only): also write the bfloat16 copy of the updated parameters there."""
    @staticmethod
    def clip_grad_norm(grad: _Array, max_norm: float) -> float:
        """Scale grad in place by max_norm / (norm + 1e-6) when that is < 1; return the global L2 norm before clipping (fixed-order reduction)."""
    @staticmethod
    def ema_update(target: _Array, online: _Array, momentum: float) -> None:
        """target ← momentum · target + (1 − momentum) · online, in place."""
    @staticmethod
    def lars_step(layout: optim.FlatLayout, param: _Array, grad: _Array, velocity: _Array, lr: float, momentum: float, weight_decay: float, trust_coefficient: float, eps: float, exclude_bias_and_norm: bool, param_bf16: _Array | None = None) -> tuple[_Array, bool]:
        """One fused LARS step in place; returns (trust ratio of each parameter (P,), True when every updated parameter is finite). See csrc/optim/lars.hpp. param_bf16 (uint16, float32 parameters only): also write the bfloat16 copy of the updated parameters there."""
    @staticmethod
    def sgd_step(layout: optim.FlatLayout, param: _Array, grad: _Array, momentum_buffer: _Array | None, lr: float, momentum: float, dampening: float, weight_decay: float, nesterov: bool, first_step: bool, use_decay_mask: bool, param_bf16: _Array | None = None) -> bool:
        """One fused SGD(-momentum) step in place (torch.optim.SGD semantics); see csrc/optim/sgd.hpp. Returns True when every updated parameter is finite. param_bf16 (uint16, float32 parameters only): also write the bfloat16 copy of the updated parameters there."""
    @staticmethod
    def sum_squares(x: _Array) -> float:
        """Σ x² in double, fixed order."""
    BLOCK_SIZE: int

class losses:
    """`pyssl._core.losses`: fused SSL loss forward + backward"""
    @staticmethod
    def barlow_twins(z1: _Array, z2: _Array, lambd: float, scale: float, eps: float) -> tuple[float, _Array, _Array]: ...
    @staticmethod
    def dino(student: _Array, teacher: _Array, center: _Array, student_temp: float, teacher_temp: float) -> tuple[float, _Array]: ...
    @staticmethod
    def dino_update_center(center: _Array, teacher: _Array, momentum: float) -> None:
        """center <- momentum * center + (1 - momentum) * mean(teacher rows), in place."""
    @staticmethod
    def info_nce(q: _Array, k: _Array, queue: _Array, temperature: float) -> tuple[float, _Array, _Array]: ...
    @staticmethod
    def mask_bce(logits: _Array, mask: _Array) -> tuple[float, _Array]: ...
    @staticmethod
    def masked_mse(pred: _Array, target: _Array, mask: _Array) -> tuple[float, _Array]: ...
    @staticmethod
    def negative_cosine(p: _Array, z: _Array, shift: float, scale: float) -> tuple[float, _Array]: ...
    @staticmethod
    def nt_xent(z1: _Array, z2: _Array, temperature: float) -> tuple[float, _Array, _Array]: ...
    @staticmethod
    def sinkhorn(scores: _Array, epsilon: float, iterations: int) -> _Array: ...
    @staticmethod
    def sup_con(z: _Array, labels: _Array, temperature: float) -> tuple[float, _Array]: ...
    @staticmethod
    def sup_con_shard(zhat: _Array, labels: _Array, anchors: _Array, temperature: float) -> tuple[float, float, _Array]:
        """SupCon over the anchors `anchors` of normalised rows zhat (R, d) with labels (R,): returns (sum of the anchors' losses, number of anchors with a positive, unscaled dzhat part (R, d))."""
    @staticmethod
    def swav(scores1: _Array, scores2: _Array, temperature: float, epsilon: float, iterations: int) -> tuple[float, _Array, _Array]: ...
    @staticmethod
    def tloss_triplet(z: _Array, positive: _Array, negatives: _Array) -> tuple[float, _Array, _Array, _Array]:
        """loss, dz, dpositive, dnegatives = T-Loss triplet loss of anchors z (B, D), positives (B, D) and negatives (K, B, D) (Franceschi et al., NeurIPS 2019)."""
    @staticmethod
    def tstcc_temporal(z: _Array, predictions: _Array) -> tuple[float, _Array, _Array]:
        """loss, dz, dpredictions = TS-TCC temporal contrasting loss of future latents z (K, B, D) and their predictions (K, B, D) (Eldele et al., IJCAI 2021)."""
    @staticmethod
    def ts2vec_hierarchical(z1: _Array, z2: _Array, alpha: float = 0.5, temporal_unit: int = 0) -> tuple[float, _Array, _Array]:
        """loss, dz1, dz2 = TS2Vec hierarchical contrastive loss of z1, z2 (B, T, C) (Yue et al., AAAI 2022)."""
    @staticmethod
    def vicreg(z1: _Array, z2: _Array, sim_weight: float, var_weight: float, cov_weight: float, eps: float) -> tuple[float, _Array, _Array, tuple[float, float, float]]:
        """Returns (loss, dz1, dz2, (invariance, variance, covariance))."""

class augment:
    """`pyssl._core.augment`: pretext augmentations"""
    @staticmethod
    def color_jitter(images: _Array, brightness: float, contrast: float, clip: bool, seed: int) -> tuple[_Array, _Array]: ...
    @staticmethod
    def crop_boxes(n: int, h: int, w: int, scale_low: float, scale_high: float, ratio_low: float, ratio_high: float, seed: int) -> _Array: ...
    @staticmethod
    def crop_resize_1d(x: _Array, size: int, scale_low: float, scale_high: float, seed: int) -> tuple[_Array, _Array]: ...
    @staticmethod
    def gaussian_blur(images: _Array, kernel_size: int, sigma_low: float, sigma_high: float, seed: int) -> tuple[_Array, _Array]: ...
    @staticmethod
    def gaussian_noise(x: _Array, std: float, seed: int) -> _Array: ...
    @staticmethod
    def get_sample_offset() -> int: ...
    @staticmethod
    def hflip(images: _Array, flags: _Array) -> _Array: ...
    @staticmethod
    def integers(count: int, high: int, seed: int) -> _Array: ...
    @staticmethod
    def jigsaw(images: _Array, grid: int, permutation_set: _Array, labels: _Array, tiles: bool) -> _Array: ...
    @staticmethod
    def mask_features(x: _Array, ratio: float, seed: int, fill: float = 0.0, fill_per_feature: _Array | None = None) -> tuple[_Array, _Array]: ...
    @staticmethod
    def mixup(x: _Array, alpha: float, positive_only: bool, seed: int) -> tuple[_Array, _Array, _Array]: ...
    @staticmethod
    def patch_mask(images: _Array, patch_size: int, n_masked: int, fill: float, seed: int) -> tuple[_Array, _Array, _Array, _Array]: ...
    @staticmethod
    def permutations(count: int, n: int, seed: int) -> _Array: ...
    @staticmethod
    def philox_words(count: int, seed: int, stream: int, vectorised: bool) -> _Array: ...
    @staticmethod
    def resized_crop(images: _Array, boxes: _Array, height: int, width: int) -> _Array: ...
    @staticmethod
    def rotate90(images: _Array, k: _Array) -> _Array: ...
    @staticmethod
    def scaling(x: _Array, sigma: float, seed: int) -> _Array: ...
    @staticmethod
    def scarf_corrupt(x: _Array, reference: _Array, k: int, seed: int) -> tuple[_Array, _Array]: ...
    @staticmethod
    def segment_permute(x: _Array, segments: int, seed: int) -> tuple[_Array, _Array]: ...
    @staticmethod
    def set_sample_offset(k: int) -> None:
        """Batch index of the first sample of the following augmentation calls (process-wide)."""
    @staticmethod
    def shuffle_tokens(x: _Array, m: int, seed: int) -> tuple[_Array, _Array]: ...
    @staticmethod
    def span_mask(x: _Array, span: int, fill: float, seed: int) -> tuple[_Array, _Array]: ...
    @staticmethod
    def table_scarf_corrupt(x: _Array, reference: _Array, group_start: _Array, group_cols: _Array, k: int, seed: int) -> tuple[_Array, _Array]:
        """(x_corrupt (N, W), mask (N, C)): k table columns per row replaced from random reference rows."""
    @staticmethod
    def table_vime_corrupt(x: _Array, reference: _Array, group_start: _Array, group_cols: _Array, p: float, seed: int) -> tuple[_Array, _Array]:
        """(x_corrupt (N, W), mask (N, C)): each table column replaced with probability p from a random reference row."""
    @staticmethod
    def time_warp(x: _Array, sigma: float, knots: int, seed: int) -> _Array: ...
    @staticmethod
    def uniforms(count: int, seed: int) -> _Array: ...
    @staticmethod
    def vime_corrupt(x: _Array, p_m: float, seed: int) -> tuple[_Array, _Array]: ...

class cuda:
    """`pyssl._core.cuda`: CUDA backend. Built without CUDA, only `compiled` (False), `available`,
    `device_count` and `unavailable_reason` exist; pyssl/cuda.py checks `compiled` before any other."""
    class DeviceArray:
        """float32 C-contiguous array in CUDA device memory."""
        def __len__(self) -> int: ...
        def __repr__(self) -> str: ...
        def copy_from(self, x: _Array) -> None: ...
        def numpy(self) -> npt.NDArray[numpy.float32]:
            """Copy to a new numpy array (synchronises)."""
        def reshape(self, shape: Sequence[int]) -> cuda.DeviceArray: ...
        @property
        def __cuda_array_interface__(self) -> dict[str, typing.Any]: ...
        @property
        def ndim(self) -> int: ...
        @property
        def owner(self) -> typing.Any: ...
        @property
        def ptr(self) -> int: ...
        @property
        def shape(self) -> tuple[int, ...]: ...
        @property
        def size(self) -> int: ...
    class SimCLRStep:
        def __init__(self, dims: Sequence[int], relu_after: Sequence[bool], temperature: float, optimizer: int, lr: float, momentum: float, beta1: float, beta2: float, eps: float, weight_decay: float, nesterov: bool) -> None: ...
        def get_layer(self, layer: int) -> tuple[npt.NDArray[numpy.float32], npt.NDArray[numpy.float32]]: ...
        def set_layer(self, layer: int, w: _Array, b: _Array) -> None: ...
        def step(self, x1: cuda.DeviceArray, x2: cuda.DeviceArray, want_loss: bool) -> float: ...
        @property
        def num_layers(self) -> int: ...
        @property
        def steps_done(self) -> int: ...
    @staticmethod
    def activation_backward(x: cuda.DeviceArray, dy: cuda.DeviceArray, act: str) -> cuda.DeviceArray: ...
    @staticmethod
    def activation_forward(x: cuda.DeviceArray, act: str) -> cuda.DeviceArray: ...
    @staticmethod
    def adam(param: cuda.DeviceArray, grad: cuda.DeviceArray, exp_avg: cuda.DeviceArray, exp_avg_sq: cuda.DeviceArray, step: int, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float, decoupled: bool) -> None: ...
    @staticmethod
    def available() -> bool: ...
    @staticmethod
    def column_sum(a: cuda.DeviceArray) -> cuda.DeviceArray: ...
    @staticmethod
    def cublas_loaded() -> bool: ...
    @staticmethod
    def dense_backward(x: cuda.DeviceArray, w: cuda.DeviceArray, dy: cuda.DeviceArray, dw: cuda.DeviceArray, db: cuda.DeviceArray | None, accumulate: bool = False, need_dx: bool = True) -> _Array | None: ...
    @staticmethod
    def dense_forward(x: cuda.DeviceArray, w: cuda.DeviceArray, b: cuda.DeviceArray | None, act: str = 'none') -> cuda.DeviceArray: ...
    @staticmethod
    def device_count() -> int:
        """Number of usable CUDA devices (0 without a driver or device)."""
    @staticmethod
    def device_name(device: int = 0) -> str: ...
    @staticmethod
    def ema(target: cuda.DeviceArray, online: cuda.DeviceArray, tau: float) -> None: ...
    @staticmethod
    def empty(shape: Sequence[int]) -> cuda.DeviceArray: ...
    @staticmethod
    def feature_mask(x: cuda.DeviceArray, p: float, seed: int, stream: int) -> tuple[cuda.DeviceArray, cuda.DeviceArray]: ...
    @staticmethod
    def from_dlpack(capsule: typing.Any) -> cuda.DeviceArray:
        """Wrap an unused 'dltensor' capsule (float32, C-contiguous, CUDA memory) without a copy."""
    @staticmethod
    def from_numpy(x: _Array) -> cuda.DeviceArray: ...
    @staticmethod
    def from_pointer(ptr: int, shape: Sequence[int], owner: typing.Any, stream: typing.Any = None) -> cuda.DeviceArray: ...
    @staticmethod
    def load_cublas(path: str = '') -> str: ...
    @staticmethod
    def matmul(a: cuda.DeviceArray, b: cuda.DeviceArray, trans_a: bool = False, trans_b: bool = False) -> cuda.DeviceArray: ...
    @staticmethod
    def nt_xent(z: cuda.DeviceArray, temperature: float) -> tuple[float, cuda.DeviceArray]: ...
    @staticmethod
    def philox_bits(seed: int, stream: int, n: int, device_header: bool) -> npt.NDArray[numpy.uint32]: ...
    @staticmethod
    def set_tf32(on: bool) -> None: ...
    @staticmethod
    def sgd_momentum(param: cuda.DeviceArray, grad: cuda.DeviceArray, momentum_buffer: cuda.DeviceArray, lr: float, momentum: float, weight_decay: float, nesterov: bool) -> None: ...
    @staticmethod
    def synchronize() -> None: ...
    @staticmethod
    def tf32() -> bool: ...
    @staticmethod
    def unavailable_reason() -> str: ...
    @staticmethod
    def zeros(shape: Sequence[int]) -> cuda.DeviceArray: ...
    compiled: bool
