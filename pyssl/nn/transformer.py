"""Transformer layers over the C++ kernels: multi-head attention, pre-norm encoder blocks,
tokenizers for images, series and tables, and the ViT convenience extractor.

Every layer follows the :mod:`pyssl.nn.module` contract: ``forward(x) -> (y, ctx)``,
``backward(grad_y, ctx, need_input_grad) -> grad_x`` accumulating parameter gradients.
Tokens are (N, L, D) arrays; the dense products run through :class:`~pyssl.nn.Linear` on the
(N·L, D) view (one GEMM each), the attention itself through the fused kernel
``_core.nn.attention_forward`` / ``attention_backward`` (csrc/nn/attention.cpp).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .._seeding import derive_seed
from .._validation import check_scalar
from .activation import GELU
from .dropout import Dropout
from .init import rng
from .linear import Linear
from .module import Module, Parameter, grads_for_backward, layer_input, register_layer
from .norm import LayerNorm

_POS = ("learnable", "sinusoidal", "none")
_POOL = ("cls", "mean", "none")


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype}")
    return dtype


def _int(value, name, low=1):
    return int(check_scalar(value, name, kind=numbers.Integral, low=low))


def _seed(seed):
    """A concrete integer seed (None draws one from the process-wide generator)."""
    return int(rng(None).integers(2**62)) if seed is None else int(seed)


def _xavier(linear: Linear, g: np.random.Generator) -> Linear:
    """Glorot-uniform weight and zero bias (the initialisation of MAE's and timm's ViT Linears)."""
    i, o = linear.weight.shape
    bound = np.sqrt(6.0 / (i + o))
    linear.weight.data[...] = g.uniform(-bound, bound, size=(i, o))
    if linear.bias is not None:
        linear.bias.data[...] = 0
    return linear


def _accumulate(param: Parameter, value: np.ndarray) -> None:
    (buf,), acc = grads_for_backward(param)
    if acc:
        buf += value
    else:
        buf[...] = value


def _check_tokens(layer, x, dim):
    x = layer_input(layer, x, layer.dtype)
    if x.ndim != 3 or x.shape[2] != dim:
        raise ValueError(f"{type(layer).__name__} expects tokens of shape (N, L, {dim}), got shape {x.shape}")
    if x.shape[1] == 0 or x.shape[0] == 0:
        raise ValueError(f"{type(layer).__name__} got an empty token array of shape {x.shape}")
    return x


def _check_mask(mask, n, l):
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"key_padding_mask must be a bool array (True = padded token), got dtype {mask.dtype}")
    if mask.shape != (n, l):
        raise ValueError(f"key_padding_mask must have shape (N, L) = {(n, l)}, got {mask.shape}")
    return np.ascontiguousarray(mask)


@register_layer("multi_head_attention", example=lambda dt: MultiHeadAttention(4, 2, dtype=dt, seed=0), input=(3, 5, 4))
@register_layer("multi_head_attention_recompute", input=(3, 5, 4),
                example=lambda dt: MultiHeadAttention(4, 2, dtype=dt, seed=0, save_probs=False))
class MultiHeadAttention(Module):
    """Multi-head self-attention (Vaswani et al., "Attention Is All You Need", NeurIPS 2017, §3.2).

    .. math::
        [Q\\,K\\,V] = x W_{qkv} + b_{qkv},\\quad
        O_h = \\operatorname{softmax}\\!\\big(Q_h K_h^\\top/\\sqrt{d_h}\\big) V_h,\\quad
        y = [O_1 … O_H] W_o + b_o

    Shapes: x (N, L, D) → y (N, L, D), H = ``heads`` dividing D, d_h = D / H. The two projections
    are dense layers (``qkv``: D → 3D, ``proj``: D → D; Glorot-uniform weights, zero biases); the
    attention of every (sample, head) is one fused C++ kernel that keeps only the softmax
    probabilities (N, H, L, L) for backward and recomputes the rest, row softmax in the input
    precision (fp32 for float32). ``forward(x, key_padding_mask)``: an optional (N, L) bool
    array, True for padded tokens, which then get attention weight 0 as keys (PyTorch's
    ``nn.MultiheadAttention`` convention); every sample must keep at least one token.

    ``save_probs``: True keeps the probabilities for backward (H·L² values per sample); False
    keeps only each row's log-sum-exp (H·L) and recomputes the probabilities in backward, one
    block of 64 query rows at a time (FlashAttention's recomputation, Dao et al. 2022: ≈ 25 %
    more attention FLOPs, no L×L buffer beyond a 64×L scratch per thread); ``"auto"`` (default)
    keeps them while H·L ≤ 4·D, i.e. while they take about as much memory as the qkv activations.

    Under ``precision="bf16-mixed"`` (:mod:`pyssl.nn.precision`) both projections are
    :class:`~pyssl.nn.Linear` layers and take its bfloat16 product path; the attention products
    QKᵀ, PV and the softmax stay in float32, as the normalisation layers and losses do.

    Parameters
    ----------
    dim : int
        Token width D.
    heads : int
        Number of heads H (must divide D).
    bias : bool
        Learned biases on both projections.
    dtype : numpy dtype
        float32 or float64, the dtype of the parameters and outputs.
    seed : int or None
        Initialisation seed; None draws one from the process-wide stream (:func:`pyssl.manual_seed`).
    save_probs : {"auto", True, False}
        Keep the probabilities for backward, or only the row log-sum-exp (see above).
    """

    def __init__(self, dim: int, heads: int, bias: bool = True, dtype=np.float32, seed=None,
                 save_probs="auto"):
        super().__init__()
        if save_probs not in ("auto", True, False):
            raise ValueError(f"save_probs must be 'auto', True or False, got {save_probs!r}")
        self.save_probs = save_probs
        self.dim, self.heads = _int(dim, "dim"), _int(heads, "heads")
        if self.dim % self.heads:
            raise ValueError(f"dim={self.dim} is not divisible by heads={self.heads}; choose heads dividing dim "
                             f"(e.g. heads={max(h for h in range(1, self.heads + 1) if self.dim % h == 0)})")
        dtype = _check_dtype(dtype)
        g = np.random.default_rng(_seed(seed))
        self.qkv = _xavier(Linear(self.dim, 3 * self.dim, bias=bias, dtype=dtype), g)
        self.proj = _xavier(Linear(self.dim, self.dim, bias=bias, dtype=dtype), g)

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def forward(self, x, key_padding_mask=None):
        x = _check_tokens(self, x, self.dim)
        n, l, d = x.shape
        mask = _check_mask(key_padding_mask, n, l)
        qkv, c1 = self.qkv.forward(x.reshape(n * l, d))
        qkv = qkv.reshape(n, l, 3 * d)
        keep = self.heads * l <= 4 * d if self.save_probs == "auto" else self.save_probs
        out, saved = _core.nn.attention_forward(qkv, self.heads, mask, keep)
        y, c2 = self.proj.forward(out.reshape(n * l, d))
        return y.reshape(n, l, d), (c1, qkv, saved, None if keep else (out, mask), c2)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        c1, qkv, saved, recompute, c2 = ctx
        n, l, d3 = qkv.shape
        d = d3 // 3
        g = np.ascontiguousarray(grad_output, dtype=qkv.dtype).reshape(n * l, d)
        gout = self.proj.backward(g, c2, need_input_grad=True).reshape(n, l, d)
        if recompute is None:
            dqkv = _core.nn.attention_backward(qkv, saved, gout, self.heads)
        else:
            out, mask = recompute
            dqkv = _core.nn.attention_backward_recompute(qkv, saved, out, gout, self.heads, mask)
        dx = self.qkv.backward(dqkv.reshape(n * l, d3), c1, need_input_grad=need_input_grad)
        return None if dx is None else dx.reshape(n, l, d)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}"


@register_layer("transformer_block", example=lambda dt: TransformerBlock(4, 2, mlp_ratio=2.0, dtype=dt, seed=0),
                input=(3, 5, 4))
class TransformerBlock(Module):
    """Pre-norm Transformer encoder block (the ViT form, Dosovitskiy et al., ICLR 2021, eq. 2–3):

    .. math::
        x' = x + \\operatorname{Drop}(\\operatorname{MHA}(\\operatorname{LN}_1(x))),\\qquad
        y = x' + \\operatorname{Drop}(W_2\\,\\operatorname{Drop}(\\operatorname{GELU}(W_1 \\operatorname{LN}_2(x'))))

    Shapes: (N, L, D) → (N, L, D); the MLP is D → ``mlp_ratio``·D → D.

    Parameters
    ----------
    dim : int
        Token width D.
    heads : int
        Attention heads (dividing D).
    mlp_ratio : float
        Hidden width of the MLP as a multiple of D.
    dropout : float
        Dropout rate in [0, 1) after attention, in the MLP and after it.
    dtype : numpy dtype
        float32 or float64, the dtype of the parameters and outputs.
    seed : int or None
        Initialisation seed; None draws one from the process-wide stream (:func:`pyssl.manual_seed`).
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0, dtype=np.float32,
                 seed=None):
        super().__init__()
        dim, heads = _int(dim, "dim"), _int(heads, "heads")
        check_scalar(mlp_ratio, "mlp_ratio", low=0.0, low_inclusive=False)
        check_scalar(dropout, "dropout", low=0.0, high=1.0, high_inclusive=False)
        s = _seed(seed)
        g = np.random.default_rng(derive_seed(s, "mlp"))
        hidden = max(1, int(round(dim * mlp_ratio)))
        self.dim, self.hidden = dim, hidden
        self.norm1 = LayerNorm(dim, eps=1e-6, dtype=dtype)
        self.attn = MultiHeadAttention(dim, heads, dtype=dtype, seed=derive_seed(s, "attn"))
        self.drop1 = Dropout(dropout, seed=derive_seed(s, "drop", 1))
        self.norm2 = LayerNorm(dim, eps=1e-6, dtype=dtype)
        self.fc1 = _xavier(Linear(dim, hidden, dtype=dtype), g)
        self.act = GELU()
        self.drop_mlp = Dropout(dropout, seed=derive_seed(s, "drop", 2))
        self.fc2 = _xavier(Linear(hidden, dim, dtype=dtype), g)
        self.drop2 = Dropout(dropout, seed=derive_seed(s, "drop", 3))

    @property
    def dtype(self):
        return self.norm1.dtype

    def forward(self, x, key_padding_mask=None):
        x = _check_tokens(self, x, self.dim)
        n, l, d = x.shape
        h1, cn1 = self.norm1.forward(x)
        a, ca = self.attn.forward(h1, key_padding_mask)
        a, cd1 = self.drop1.forward(a)
        # The residual sums go into the branch outputs, fresh arrays that no context keeps (no
        # allocation of a third array per sum).
        x1 = np.add(a, x, out=a)
        h2, cn2 = self.norm2.forward(x1)
        u, cf1 = self.fc1.forward(h2.reshape(n * l, d))
        u, cact = self.act.forward(u)
        u, cdm = self.drop_mlp.forward(u)
        m, cf2 = self.fc2.forward(u)
        m, cd2 = self.drop2.forward(m.reshape(n, l, d))
        return np.add(m, x1, out=m), (cn1, ca, cd1, cn2, cf1, cact, cdm, cf2, cd2)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        cn1, ca, cd1, cn2, cf1, cact, cdm, cf2, cd2 = ctx
        g = np.ascontiguousarray(grad_output)
        n, l, d = g.shape
        gm = self.drop2.backward(g, cd2).reshape(n * l, d)
        gu = self.fc2.backward(gm, cf2)
        gu = self.drop_mlp.backward(gu, cdm)
        gu = self.act.backward(gu, cact)
        gh2 = self.fc1.backward(gu, cf1).reshape(n, l, d)
        gn2 = self.norm2.backward(gh2, cn2)
        gx1 = np.add(gn2, g, out=gn2)
        ga = self.drop1.backward(gx1, cd1)
        gh1 = self.attn.backward(ga, ca)
        gn1 = self.norm1.backward(gh1, cn1, need_input_grad=True)
        return np.add(gn1, gx1, out=gn1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.attn.heads}, hidden={self.hidden}"


def sinusoidal_positions(length: int, dim: int, dtype=np.float64) -> np.ndarray:
    """Fixed positions of Vaswani et al. (2017, §3.5), (length, dim):
    PE[p, 2i] = sin(p / 10000^{2i/D}), PE[p, 2i+1] = cos(p / 10000^{2i/D})."""
    length, dim = _int(length, "length"), _int(dim, "dim")
    pos = np.arange(length, dtype=np.float64)[:, None]
    i = np.arange((dim + 1) // 2, dtype=np.float64)[None]
    ang = pos / np.power(10000.0, 2.0 * i / dim)
    pe = np.empty((length, dim))
    pe[:, 0::2] = np.sin(ang)
    pe[:, 1::2] = np.cos(ang[:, : dim // 2])
    return pe.astype(dtype)


@register_layer("transformer_encoder", input=(3, 5, 4),
                example=lambda dt: TransformerEncoder(4, 2, 2, mlp_ratio=2.0, num_tokens=5, dtype=dt, seed=0))
class TransformerEncoder(Module):
    """A stack of pre-norm :class:`TransformerBlock` s with positions, an optional [CLS] token and
    pooling — an extractor h_θ for any modality once a tokenizer is given.

    Pipeline: ``t = tokenizer(x)`` (or x itself when ``tokenizer`` is None: tokens (N, L, D)),
    ``t ← t + E_pos`` (``pos_embed``: ``"learnable"``, a (``num_tokens``, D) parameter
    initialised N(0, 0.02²); ``"sinusoidal"``, the fixed positions of
    :func:`sinusoidal_positions`; ``"none"``), [CLS] prepended (``pool="cls"``, Devlin et al.
    2019 / ViT), ``depth`` blocks, a final LayerNorm, then pooling: the [CLS] output
    (``"cls"``), the mean over tokens (``"mean"``, padded tokens excluded), or the tokens
    themselves (``"none"``, output (N, L(+1), D)). ``out_features`` = D for the pooled forms.

    ``forward_tokens(x, keep=None, key_padding_mask=None)`` returns the normalised tokens before
    pooling; ``keep`` (N, K) int indices selects, per sample, the K tokens that enter the blocks
    after their positions are added — the masked tokens of MAE are dropped, not zeroed, so the
    blocks' cost follows K. ``backward_tokens`` is its backward.

    Parameters: ``dim`` D, ``depth``, ``heads`` (dividing D), ``mlp_ratio``, ``dropout`` (after
    attention and in the MLP), ``tokenizer`` (a module with ``num_tokens`` and ``dim``, e.g.
    :class:`PatchEmbed2d`, :class:`PatchEmbed1d`, :class:`FeatureTokenizer`), ``num_tokens`` (L,
    needed for learnable positions when no tokenizer gives it).
    """

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0, *,
                 tokenizer: Module | None = None, num_tokens: int | None = None, pos_embed: str = "learnable",
                 pool: str = "cls", dtype=np.float32, seed=None):
        super().__init__()
        self.dim, self.depth = _int(dim, "dim"), _int(depth, "depth", low=0)
        heads = _int(heads, "heads")
        if self.dim % heads:
            raise ValueError(f"dim={self.dim} is not divisible by heads={heads}; choose heads dividing dim")
        if pos_embed not in _POS:
            raise ValueError(f"pos_embed must be one of {_POS}, got {pos_embed!r}")
        if pool not in _POOL:
            raise ValueError(f"pool must be one of {_POOL}, got {pool!r}")
        dtype = _check_dtype(dtype)
        self._dtype = dtype
        s = _seed(seed)
        if tokenizer is not None:
            if not isinstance(tokenizer, Module):
                raise TypeError(f"tokenizer must be a pyssl.nn.Module, got {type(tokenizer).__name__}")
            if getattr(tokenizer, "dim", None) != self.dim:
                raise ValueError(f"tokenizer makes tokens of dim {getattr(tokenizer, 'dim', None)}, the encoder has "
                                 f"dim={self.dim}; build both with the same dim")
            tok_tokens = getattr(tokenizer, "num_tokens", None)
            if tok_tokens is None:
                raise TypeError(f"tokenizer {type(tokenizer).__name__} has no num_tokens; use PatchEmbed2d, "
                                "PatchEmbed1d, FeatureTokenizer or a module with num_tokens and dim")
            if num_tokens is not None and int(num_tokens) != tok_tokens:
                raise ValueError(f"num_tokens={num_tokens} but the tokenizer makes {tok_tokens} tokens")
            num_tokens = tok_tokens
        self.tokenizer = tokenizer
        self.num_tokens = None if num_tokens is None else _int(num_tokens, "num_tokens")
        if pos_embed == "learnable" and self.num_tokens is None:
            raise ValueError("pos_embed='learnable' needs num_tokens (or a tokenizer); pass num_tokens=L or "
                             "pos_embed='sinusoidal'")
        self.pos_embed, self.pool, self.heads = pos_embed, pool, heads
        self.mlp_ratio, self.dropout = float(mlp_ratio), float(dropout)
        g = np.random.default_rng(derive_seed(s, "embed"))
        self.pos = (Parameter((0.02 * g.standard_normal((self.num_tokens or 0, self.dim))).astype(dtype), decay=False)
                    if pos_embed == "learnable" else None)
        self.cls_token = (Parameter((0.02 * g.standard_normal((1, self.dim))).astype(dtype), decay=False)
                          if pool == "cls" else None)
        self._sin_cache: dict[int, np.ndarray] = {}
        for i in range(self.depth):
            setattr(self, f"block{i}", TransformerBlock(self.dim, heads, mlp_ratio, dropout, dtype=dtype,
                                                        seed=derive_seed(s, "block", i)))
        self.norm = LayerNorm(self.dim, eps=1e-6, dtype=dtype)

    @property
    def dtype(self):
        return self._dtype

    def _astype_local(self, dtype):
        super()._astype_local(dtype)
        self._dtype = dtype
        self._sin_cache = {}

    @property
    def blocks(self) -> list[TransformerBlock]:
        return [getattr(self, f"block{i}") for i in range(self.depth)]

    @property
    def out_features(self):
        return None if self.pool == "none" else self.dim

    def _positions(self, l):
        if self.pos_embed == "learnable":
            if l != self.num_tokens:
                raise ValueError(f"{type(self).__name__} has learnable positions for {self.num_tokens} tokens, got "
                                 f"{l} tokens; inputs must make num_tokens={self.num_tokens} tokens")
            return self.pos.data
        if self.pos_embed == "sinusoidal":
            pe = self._sin_cache.get(l)
            if pe is None:
                pe = self._sin_cache[l] = sinusoidal_positions(l, self.dim, self._dtype)
            return pe
        return None

    def forward_tokens(self, x, keep=None, key_padding_mask=None):
        if self.tokenizer is not None:
            t, ctok = self.tokenizer.forward(x)
        else:
            t, ctok = _check_tokens(self, x, self.dim), None
        n, l, d = t.shape
        mask = _check_mask(key_padding_mask, n, l)
        pe = self._positions(l)
        if pe is not None:
            t = t + pe
        if keep is not None:
            keep = np.asarray(keep)
            if keep.ndim != 2 or keep.shape[0] != n or keep.dtype.kind not in "iu":
                raise ValueError(f"keep must be an (N, K) = ({n}, K) integer array of token indices, got "
                                 f"{keep.shape} {keep.dtype}")
            if keep.size and (keep.min() < 0 or keep.max() >= l):
                raise ValueError(f"keep indices must lie in [0, {l}), got range [{keep.min()}, {keep.max()}]")
            t = np.take_along_axis(t, keep[:, :, None], axis=1)
            if mask is not None:
                mask = np.ascontiguousarray(np.take_along_axis(mask, keep, axis=1))
        if self.cls_token is not None:
            cls = np.broadcast_to(self.cls_token.data[None], (n, 1, d))
            t = np.concatenate([cls, t], axis=1)
            if mask is not None:
                mask = np.concatenate([np.zeros((n, 1), dtype=bool), mask], axis=1)
        t = np.ascontiguousarray(t)
        cblocks = []
        for b in self.blocks:
            t, c = b.forward(t, mask)
            cblocks.append(c)
        t, cn = self.norm.forward(t)
        return t, (ctok, l, keep, cblocks, cn, mask)

    def backward_tokens(self, grad_output, ctx, need_input_grad: bool = True):
        ctok, l, keep, cblocks, cn, _ = ctx
        g = self.norm.backward(np.ascontiguousarray(grad_output, dtype=self._dtype), cn)
        blocks = self.blocks
        for i in range(len(blocks) - 1, -1, -1):
            g = blocks[i].backward(g, cblocks[i])
        n, _, d = g.shape
        if self.cls_token is not None:
            _accumulate(self.cls_token, g[:, 0].sum(axis=0, keepdims=True))
            g = g[:, 1:]
        if keep is not None:
            full = np.zeros((n, l, d), dtype=g.dtype)
            np.put_along_axis(full, keep[:, :, None], g, axis=1)
            g = full
        g = np.ascontiguousarray(g)
        if self.pos is not None:
            _accumulate(self.pos, g.sum(axis=0))
        if self.tokenizer is not None:
            return self.tokenizer.backward(g, ctok, need_input_grad=need_input_grad)
        return g if need_input_grad else None

    def forward(self, x, key_padding_mask=None):
        t, ctx = self.forward_tokens(x, key_padding_mask=key_padding_mask)
        if self.pool == "cls":
            return np.ascontiguousarray(t[:, 0]), (ctx, t.shape, None)
        if self.pool == "mean":
            mask = ctx[5]
            if mask is None:
                return t.mean(axis=1), (ctx, t.shape, None)
            w = (~mask).astype(t.dtype)
            w /= w.sum(axis=1, keepdims=True)
            return np.einsum("nl,nld->nd", w, t), (ctx, t.shape, w)
        return t, (ctx, t.shape, None)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        tctx, shape, w = ctx
        n, l, d = shape
        g = np.asarray(grad_output, dtype=self._dtype)
        if self.pool == "cls":
            gt = np.zeros(shape, dtype=self._dtype)
            gt[:, 0] = g
        elif self.pool == "mean":
            gt = (np.broadcast_to(g[:, None] / l, shape) if w is None else w[:, :, None] * g[:, None])
        else:
            gt = g
        return self.backward_tokens(np.ascontiguousarray(gt), tctx, need_input_grad=need_input_grad)

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, depth={self.depth}, heads={self.heads}, mlp_ratio={self.mlp_ratio}, "
                f"pos_embed={self.pos_embed!r}, pool={self.pool!r}, num_tokens={self.num_tokens}")


# -- tokenizers ------------------------------------------------------------------------------------

class _PatchTokenizer(Module):
    """Shared path of the patch tokenizers: ``patchify`` (a reshape, no parameters) then one dense
    layer on every patch, tokens = patches W + b, (N, L, P) → (N, L, D)."""

    def __init__(self, patch_dim, dim, dtype, seed):
        super().__init__()
        self.dim, self.patch_dim = _int(dim, "dim"), int(patch_dim)
        dtype = _check_dtype(dtype)
        self.embed = _xavier(Linear(self.patch_dim, self.dim, dtype=dtype), np.random.default_rng(_seed(seed)))

    def patchify(self, x):
        """(N, …) input → (N, L, patch_dim) patches (each tokenizer's own cut)."""
        raise NotImplementedError

    def unpatchify(self, patches, shape=None):
        """Inverse of :meth:`patchify`."""
        raise NotImplementedError

    def forward(self, x):
        x = layer_input(self, x, self.embed.dtype)  # lists and other array-likes too (x.shape is kept)
        p = self.patchify(x)
        n, l, pd = p.shape
        y, c = self.embed.forward(p.reshape(n * l, pd))
        return y.reshape(n, l, self.dim), (c, p.shape, x.shape)

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        c, pshape, xshape = ctx
        n, l, pd = pshape
        gp = self.embed.backward(np.ascontiguousarray(grad_output).reshape(n * l, self.dim), c,
                                 need_input_grad=need_input_grad)
        return None if gp is None else self.unpatchify(gp.reshape(pshape), xshape)


@register_layer("patch_embed2d", example=lambda dt: PatchEmbed2d(4, 2, 2, 3, dtype=dt, seed=0), input=(3, 2, 4, 4))
class PatchEmbed2d(_PatchTokenizer):
    """ViT tokenizer (Dosovitskiy et al., ICLR 2021, §3.1): an image (N, C, H, W) is cut into
    non-overlapping p×p patches, each flattened in (channel, row, column) order to C·p² values and
    mapped by one dense layer to a D-dim token: (N, C, H, W) → (N, (H/p)(W/p), D), patches in
    row-major order. Equal to a stride-p p×p convolution with the weight
    ``embed.weight.T.reshape(D, C, p, p)``, computed as a reshape and one GEMM.

    ``img_size`` int or (H, W), each divisible by ``patch_size``.

    Parameters
    ----------
    img_size : int or (int, int)
        Image height and width (H, W).
    patch_size : int
        Side p of the square patches (dividing H and W).
    in_channels : int
        Image channels C.
    dim : int
        Token width D.
    dtype : numpy dtype
        float32 or float64, the dtype of the parameters and outputs.
    seed : int or None
        Initialisation seed; None draws one from the process-wide stream (:func:`pyssl.manual_seed`).
    """

    def __init__(self, img_size, patch_size: int, in_channels: int, dim: int, dtype=np.float32, seed=None):
        hw = (img_size, img_size) if isinstance(img_size, numbers.Integral) else tuple(img_size)
        if len(hw) != 2:
            raise ValueError(f"img_size must be an int or (H, W), got {img_size!r}")
        h, w = (_int(v, "img_size") for v in hw)
        p = _int(patch_size, "patch_size")
        c = _int(in_channels, "in_channels")
        if h % p or w % p:
            raise ValueError(f"image size {(h, w)} is not divisible by patch_size={p}; pick a patch size dividing "
                             "both sides or resize the images")
        super().__init__(c * p * p, dim, dtype, seed)
        self.img_size, self.patch_size, self.in_channels = (h, w), p, c
        self.grid = (h // p, w // p)
        self.num_tokens = self.grid[0] * self.grid[1]

    @property
    def dtype(self):
        return self.embed.dtype

    def patchify(self, x):
        """(N, C, H, W) → (N, L, C·p²) patches (contiguous copy)."""
        x = layer_input(self, x, self.embed.dtype)
        c, (h, w), p = self.in_channels, self.img_size, self.patch_size
        if x.ndim != 4 or x.shape[1:] != (c, h, w):
            raise ValueError(f"PatchEmbed2d expects images of shape (N, {c}, {h}, {w}), got shape {x.shape}")
        n = x.shape[0]
        gh, gw = self.grid
        return np.ascontiguousarray(x.reshape(n, c, gh, p, gw, p).transpose(0, 2, 4, 1, 3, 5)).reshape(
            n, gh * gw, c * p * p)

    def unpatchify(self, patches, shape=None):
        """Inverse of :meth:`patchify`: (N, L, C·p²) → (N, C, H, W)."""
        n = patches.shape[0]
        c, (h, w), p = self.in_channels, self.img_size, self.patch_size
        gh, gw = self.grid
        return np.ascontiguousarray(patches.reshape(n, gh, gw, c, p, p).transpose(0, 3, 1, 4, 2, 5)).reshape(n, c, h, w)

    def extra_repr(self) -> str:
        return f"img_size={self.img_size}, patch_size={self.patch_size}, in_channels={self.in_channels}, dim={self.dim}"


@register_layer("patch_embed1d", example=lambda dt: PatchEmbed1d(6, 2, 2, 3, dtype=dt, seed=0), input=(3, 2, 6))
class PatchEmbed1d(_PatchTokenizer):
    """Series tokenizer in the manner of PatchTST (Nie et al., ICLR 2023, §3.1): a series
    (N, C, T) is cut into T/p non-overlapping windows of p steps, each window's C·p values
    (channel-major) mapped by one dense layer to a D-dim token: (N, C, T) → (N, T/p, D). (PatchTST
    proper tokenises each channel separately; with C = 1, or the channels stacked into the batch,
    this is that tokenizer.) ``seq_len`` must be divisible by ``patch_size``.

    Parameters
    ----------
    seq_len : int
        Series length T.
    patch_size : int
        Window length p (dividing T).
    in_channels : int
        Series channels C.
    dim : int
        Token width D.
    dtype : numpy dtype
        float32 or float64, the dtype of the parameters and outputs.
    seed : int or None
        Initialisation seed; None draws one from the process-wide stream (:func:`pyssl.manual_seed`).
    """

    def __init__(self, seq_len: int, patch_size: int, in_channels: int, dim: int, dtype=np.float32, seed=None):
        t, p, c = _int(seq_len, "seq_len"), _int(patch_size, "patch_size"), _int(in_channels, "in_channels")
        if t % p:
            raise ValueError(f"seq_len={t} is not divisible by patch_size={p}; pick a patch size dividing the "
                             "length or crop/pad the series")
        super().__init__(c * p, dim, dtype, seed)
        self.seq_len, self.patch_size, self.in_channels = t, p, c
        self.num_tokens = t // p

    @property
    def dtype(self):
        return self.embed.dtype

    def patchify(self, x):
        """(N, C, T) → (N, T/p, C·p) windows (contiguous copy)."""
        x = layer_input(self, x, self.embed.dtype)
        c, t, p = self.in_channels, self.seq_len, self.patch_size
        if x.ndim != 3 or x.shape[1:] != (c, t):
            raise ValueError(f"PatchEmbed1d expects series of shape (N, {c}, {t}), got shape {x.shape}")
        n = x.shape[0]
        return np.ascontiguousarray(x.reshape(n, c, t // p, p).transpose(0, 2, 1, 3)).reshape(n, t // p, c * p)

    def unpatchify(self, patches, shape=None):
        n = patches.shape[0]
        c, t, p = self.in_channels, self.seq_len, self.patch_size
        return np.ascontiguousarray(patches.reshape(n, t // p, c, p).transpose(0, 2, 1, 3)).reshape(n, c, t)

    def extra_repr(self) -> str:
        return f"seq_len={self.seq_len}, patch_size={self.patch_size}, in_channels={self.in_channels}, dim={self.dim}"


@register_layer("feature_tokenizer", example=lambda dt: FeatureTokenizer(3, 4, dtype=dt, seed=0), input=(5, 3))
class FeatureTokenizer(Module):
    """Numerical feature tokenizer of FT-Transformer (Gorishniy et al., "Revisiting Deep Learning
    Models for Tabular Data", NeurIPS 2021, §3.3): one token per feature,

    .. math::  T_{nj} = x_{nj}\\, W_j + b_j,\\qquad W, b \\in ℝ^{F×D}

    Shapes: x (N, F) → (N, F, D). W and b initialised U(−1/√D, 1/√D) as in the reference code
    (rtdl). C++ kernel ``feature_tokenizer_forward`` / ``_backward``. For MAE, the "patch" of a
    token is its single value: :meth:`patchify` returns x as (N, F, 1).

    Parameters
    ----------
    num_features : int
        Table columns F (one token each).
    dim : int
        Token width D.
    bias : bool
        Learned per-feature bias b.
    dtype : numpy dtype
        float32 or float64, the dtype of the parameters and outputs.
    seed : int or None
        Initialisation seed; None draws one from the process-wide stream (:func:`pyssl.manual_seed`).
    """

    def __init__(self, num_features: int, dim: int, bias: bool = True, dtype=np.float32, seed=None):
        super().__init__()
        self.num_features, self.dim = _int(num_features, "num_features"), _int(dim, "dim")
        dtype = _check_dtype(dtype)
        g = np.random.default_rng(_seed(seed))
        bound = 1.0 / np.sqrt(self.dim)
        self.weight = Parameter(g.uniform(-bound, bound, (self.num_features, self.dim)).astype(dtype))
        self.bias = (Parameter(g.uniform(-bound, bound, (self.num_features, self.dim)).astype(dtype), decay=False)
                     if bias else None)
        self.num_tokens, self.patch_dim = self.num_features, 1

    def _check(self, x):
        x = layer_input(self, x, self.weight.dtype)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"FeatureTokenizer expects a table of shape (N, {self.num_features}), got shape {x.shape}")
        return np.ascontiguousarray(x)

    def patchify(self, x):
        return self._check(x)[:, :, None].copy()

    def unpatchify(self, patches, shape=None):
        return np.ascontiguousarray(patches[:, :, 0])

    def forward(self, x):
        x = self._check(x)
        b = self.bias.data if self.bias is not None else None
        return _core.nn.feature_tokenizer_forward(x, self.weight.data, b), x

    def backward(self, grad_output, ctx, need_input_grad: bool = True):
        (wg, bg), acc = grads_for_backward(self.weight, self.bias)
        return _core.nn.feature_tokenizer_backward(ctx, self.weight.data, np.ascontiguousarray(grad_output), wg, bg,
                                                   accumulate=acc, need_dx=need_input_grad)

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}, dim={self.dim}, bias={self.bias is not None}"


@register_layer("vit", input=(3, 2, 4, 4),
                example=lambda dt: ViT(4, 2, 2, 4, depth=1, heads=2, mlp_ratio=2.0, pool="mean", dtype=dt, seed=0))
class ViT(TransformerEncoder):
    """Vision Transformer (Dosovitskiy et al., ICLR 2021): :class:`PatchEmbed2d` +
    :class:`TransformerEncoder` with learnable positions and a [CLS] token by default.
    x (N, C, H, W) → (N, D). ViT-Tiny: ``dim=192, depth=12, heads=3``.

    Parameters
    ----------
    img_size : int or (int, int)
        Image height and width.
    patch_size : int
        Patch side p (dividing both).
    in_channels : int
        Image channels C.
    dim, depth, heads, mlp_ratio, dropout : see :class:`TransformerEncoder`
        Token width, number of blocks, heads, MLP ratio and dropout rate.
    pos_embed : {"learnable", "sinusoidal", "none"}
        Positions added to the patch tokens.
    pool : {"cls", "mean", "none"}
        Pooling of the output tokens.
    dtype : numpy dtype
        float32 or float64, the dtype of the parameters and outputs.
    seed : int or None
        Initialisation seed; None draws one from the process-wide stream (:func:`pyssl.manual_seed`).
    """

    def __init__(self, img_size, patch_size: int, in_channels: int, dim: int, depth: int, heads: int,
                 mlp_ratio: float = 4.0, dropout: float = 0.0, *, pos_embed: str = "learnable", pool: str = "cls",
                 dtype=np.float32, seed=None):
        s = _seed(seed)
        tok = PatchEmbed2d(img_size, patch_size, in_channels, dim, dtype=dtype, seed=derive_seed(s, "patch"))
        super().__init__(dim, depth, heads, mlp_ratio, dropout, tokenizer=tok, pos_embed=pos_embed, pool=pool,
                         dtype=dtype, seed=s)
