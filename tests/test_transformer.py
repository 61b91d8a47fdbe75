"""Attention kernel, Transformer blocks/encoder, tokenizers and ViT: references, FD gradients,
errors, thread invariance."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import pyssl
from pyssl import _core
from pyssl.nn import (FeatureTokenizer, MultiHeadAttention, PatchEmbed1d, PatchEmbed2d, TransformerBlock,
                      TransformerEncoder, ViT)
from pyssl.nn.transformer import sinusoidal_positions
from pyssl.testing import check_gradients, check_module_gradients


def attention_ref(qkv, heads, mask=None):
    """softmax(Q Kᵀ/√d) V per head, straight from the formula (Vaswani et al. 2017, eq. 1)."""
    n, l, d3 = qkv.shape
    d = d3 // 3
    dh = d // heads
    q, k, v = (qkv[:, :, i * d:(i + 1) * d].reshape(n, l, heads, dh).transpose(0, 2, 1, 3) for i in range(3))
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh)
    if mask is not None:
        s = np.where(mask[:, None, None, :], -np.inf, s)
    s = s - s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=-1, keepdims=True)
    return (p @ v).transpose(0, 2, 1, 3).reshape(n, l, d), p


def _mask(rng, n, l):
    m = rng.random((n, l)) < 0.4
    m[np.arange(n), rng.integers(0, l, n)] = False  # at least one key per sample
    return m


@given(n=st.integers(1, 3), l=st.integers(1, 9), heads=st.integers(1, 3), dh=st.integers(1, 5),
       masked=st.booleans(), seed=st.integers(0, 1000))
def test_attention_forward_matches_numpy(n, l, heads, dh, masked, seed):
    rng = np.random.default_rng(seed)
    qkv = rng.standard_normal((n, l, 3 * heads * dh))
    mask = _mask(rng, n, l) if masked else None
    out, probs = _core.nn.attention_forward(qkv, heads, mask)
    ref, pref = attention_ref(qkv, heads, mask)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(probs, pref, rtol=1e-10, atol=1e-12)
    out32, _ = _core.nn.attention_forward(qkv.astype(np.float32), heads, mask)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, ref, rtol=1e-4, atol=1e-5)


@given(n=st.integers(1, 2), l=st.integers(1, 6), heads=st.integers(1, 3), dh=st.integers(1, 4),
       masked=st.booleans(), seed=st.integers(0, 1000))
def test_attention_kernel_gradients_fd(n, l, heads, dh, masked, seed):
    rng = np.random.default_rng(seed)
    qkv = rng.standard_normal((n, l, 3 * heads * dh))
    mask = _mask(rng, n, l) if masked else None
    r = rng.standard_normal((n, l, heads * dh))

    def fun(a):
        out, probs = _core.nn.attention_forward(a, heads, mask)
        return float(np.sum(out * r)), _core.nn.attention_backward(a, probs, r, heads)

    check_gradients(fun, [qkv])


def test_attention_against_torch_sdpa():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    n, l, heads, dh = 3, 7, 2, 4
    qkv = rng.standard_normal((n, l, 3 * heads * dh))
    mask = _mask(rng, n, l)
    out, _ = _core.nn.attention_forward(qkv, heads, mask)
    t = torch.from_numpy(qkv).reshape(n, l, 3, heads, dh).permute(2, 0, 3, 1, 4)
    keep = torch.from_numpy(~mask)[:, None, None, :]
    ref = torch.nn.functional.scaled_dot_product_attention(t[0], t[1], t[2], attn_mask=keep)
    np.testing.assert_allclose(out, ref.permute(0, 2, 1, 3).reshape(n, l, heads * dh).numpy(), rtol=1e-10,
                               atol=1e-12)


def test_mha_matches_torch_multihead_attention():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    d, heads = 8, 2
    layer = MultiHeadAttention(d, heads, dtype=np.float64, seed=0)
    tm = torch.nn.MultiheadAttention(d, heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        tm.in_proj_weight.copy_(torch.from_numpy(layer.qkv.weight.data.T.copy()))
        tm.in_proj_bias.copy_(torch.from_numpy(rng.standard_normal(3 * d)))
        layer.qkv.bias.data[...] = tm.in_proj_bias.numpy()
        tm.out_proj.weight.copy_(torch.from_numpy(layer.proj.weight.data.T.copy()))
        tm.out_proj.bias.copy_(torch.from_numpy(layer.proj.bias.data))
    x = rng.standard_normal((2, 5, d))
    mask = _mask(rng, 2, 5)
    xt = torch.from_numpy(x)
    ref, _ = tm(xt, xt, xt, key_padding_mask=torch.from_numpy(mask), need_weights=False)
    np.testing.assert_allclose(layer.forward(x, mask)[0], ref.detach().numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=15)
@given(n=st.integers(1, 2), l=st.integers(1, 5), heads=st.sampled_from([1, 2, 3]), dh=st.integers(1, 3),
       seed=st.integers(0, 1000))
def test_mha_gradients_fd(n, l, heads, dh, seed):
    layer = MultiHeadAttention(heads * dh, heads, dtype=np.float64, seed=seed)
    check_module_gradients(layer, np.random.default_rng(seed).standard_normal((n, l, heads * dh)), seed=seed)


def test_mha_masked_gradients_fd(rng):
    layer = MultiHeadAttention(6, 3, dtype=np.float64, seed=0)
    x = rng.standard_normal((2, 5, 6))
    mask = _mask(rng, 2, 5)

    class Masked(MultiHeadAttention):
        def forward(self, x):
            return super().forward(x, mask)

    layer.__class__ = Masked
    check_module_gradients(layer, x)


def test_padded_key_has_no_influence(rng):
    layer = MultiHeadAttention(4, 2, dtype=np.float64, seed=0)
    x = rng.standard_normal((1, 4, 4))
    mask = np.array([[False, False, True, False]])
    y = layer.forward(x, mask)[0]
    x2 = x.copy()
    x2[0, 2] += 10.0
    y2 = layer.forward(x2, mask)[0]
    keep = [0, 1, 3]
    np.testing.assert_allclose(y[0, keep], y2[0, keep], rtol=1e-12, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 2), l=st.integers(1, 4), seed=st.integers(0, 1000))
def test_block_gradients_fd(n, l, seed):
    block = TransformerBlock(6, 2, mlp_ratio=2.0, dtype=np.float64, seed=seed)
    check_module_gradients(block, np.random.default_rng(seed).standard_normal((n, l, 6)), seed=seed)


@pytest.mark.parametrize("pos,pool", [("learnable", "cls"), ("sinusoidal", "mean"), ("none", "none"),
                                      ("learnable", "mean")])
def test_encoder_gradients_fd(pos, pool, rng):
    enc = TransformerEncoder(4, 2, 2, mlp_ratio=2.0, num_tokens=3, pos_embed=pos, pool=pool, dtype=np.float64, seed=1)
    check_module_gradients(enc, rng.standard_normal((2, 3, 4)))
    assert enc.out_features == (None if pool == "none" else 4)


def test_encoder_one_token_and_keep_gradients(rng):
    enc = TransformerEncoder(4, 1, 2, num_tokens=1, pool="cls", dtype=np.float64, seed=0)
    check_module_gradients(enc, rng.standard_normal((2, 1, 4)))
    enc = TransformerEncoder(4, 1, 1, num_tokens=5, pool="none", dtype=np.float64, seed=0)
    keep = np.array([[0, 3], [4, 1]])

    class Kept(TransformerEncoder):
        def forward(self, x):
            return self.forward_tokens(x, keep=keep)

        def backward(self, g, ctx, need_input_grad=True):
            return self.backward_tokens(g, ctx, need_input_grad)

    enc.__class__ = Kept
    check_module_gradients(enc, rng.standard_normal((2, 5, 4)))
    y = enc(rng.standard_normal((2, 5, 4)))
    assert y.shape == (2, 2, 4)


def test_encoder_mean_pool_ignores_padding(rng):
    enc = TransformerEncoder(4, 1, 2, pos_embed="sinusoidal", pool="mean", dtype=np.float64, seed=0)
    x = rng.standard_normal((1, 4, 4))
    mask = np.array([[False, True, False, False]])
    x2 = x.copy()
    x2[0, 1] = 7.0
    np.testing.assert_allclose(enc.forward(x, mask)[0], enc.forward(x2, mask)[0], rtol=1e-12, atol=1e-12)


def test_sinusoidal_positions_formula():
    pe = sinusoidal_positions(5, 6)
    p, i = 3, 1
    assert pe[p, 2 * i] == pytest.approx(np.sin(p / 10000 ** (2 * i / 6)))
    assert pe[p, 2 * i + 1] == pytest.approx(np.cos(p / 10000 ** (2 * i / 6)))
    assert sinusoidal_positions(2, 5).shape == (2, 5)


@given(n=st.integers(1, 2), c=st.integers(1, 2), gh=st.integers(1, 3), gw=st.integers(1, 3), p=st.integers(1, 3),
       seed=st.integers(0, 1000))
@settings(max_examples=15)
def test_patch_embed2d_is_strided_conv_and_fd(n, c, gh, gw, p, seed):
    rng = np.random.default_rng(seed)
    tok = PatchEmbed2d((gh * p, gw * p), p, c, 3, dtype=np.float64, seed=seed)
    x = rng.standard_normal((n, c, gh * p, gw * p))
    y = tok(x)
    w = tok.embed.weight.data.T.reshape(3, c, p, p)
    ref = np.empty((n, gh * gw, 3))
    for a in range(gh):
        for b in range(gw):
            patch = x[:, :, a * p:(a + 1) * p, b * p:(b + 1) * p]
            ref[:, a * gw + b] = np.einsum("ncij,ocij->no", patch, w) + tok.embed.bias.data
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(tok.unpatchify(tok.patchify(x)), x)
    check_module_gradients(tok, x, seed=seed)


@given(n=st.integers(1, 3), c=st.integers(1, 3), L=st.integers(1, 4), p=st.integers(1, 4), seed=st.integers(0, 1000))
@settings(max_examples=15)
def test_patch_embed1d_windows_and_fd(n, c, L, p, seed):
    rng = np.random.default_rng(seed)
    tok = PatchEmbed1d(L * p, p, c, 3, dtype=np.float64, seed=seed)
    x = rng.standard_normal((n, c, L * p))
    patches = tok.patchify(x)
    for j in range(L):
        np.testing.assert_array_equal(patches[:, j], x[:, :, j * p:(j + 1) * p].reshape(n, c * p))
    np.testing.assert_array_equal(tok.unpatchify(patches), x)
    check_module_gradients(tok, x, seed=seed)


@given(n=st.integers(1, 4), f=st.integers(1, 5), d=st.integers(1, 4), bias=st.booleans(), seed=st.integers(0, 1000))
@settings(max_examples=20)
def test_feature_tokenizer_formula_and_fd(n, f, d, bias, seed):
    rng = np.random.default_rng(seed)
    tok = FeatureTokenizer(f, d, bias=bias, dtype=np.float64, seed=seed)
    x = rng.standard_normal((n, f))
    ref = x[:, :, None] * tok.weight.data[None] + (tok.bias.data[None] if bias else 0)
    np.testing.assert_allclose(tok(x), ref, rtol=1e-12, atol=1e-14)
    check_module_gradients(tok, x, seed=seed)


def test_tokenizer_encoders_gradients_fd(rng):
    for tok, x in [(PatchEmbed1d(6, 2, 2, 4, dtype=np.float64, seed=0), rng.standard_normal((2, 2, 6))),
                   (FeatureTokenizer(3, 4, dtype=np.float64, seed=0), rng.standard_normal((2, 3))),
                   (PatchEmbed2d(4, 2, 1, 4, dtype=np.float64, seed=0), rng.standard_normal((2, 1, 4, 4)))]:
        enc = TransformerEncoder(4, 1, 2, mlp_ratio=1.0, tokenizer=tok, dtype=np.float64, seed=0)
        assert enc(x).shape == (2, 4)
        check_module_gradients(enc, x)


def test_vit_shapes_and_float32():
    vit = ViT(8, 4, 3, 12, 2, 3, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 3, 8, 8)).astype(np.float32)
    y, ctx = vit.forward(x)
    assert y.shape == (5, 12) and y.dtype == np.float32 and vit.out_features == 12
    vit.zero_grad()
    dx = vit.backward(np.ones_like(y), ctx)
    assert dx.shape == x.shape and np.isfinite(dx).all()
    assert all(np.isfinite(p.grad).all() for p in vit.parameters())


def test_attention_thread_invariant():
    rng = np.random.default_rng(0)
    qkv = rng.standard_normal((7, 70, 3 * 48)).astype(np.float32)  # 70 tokens: two row blocks
    g = rng.standard_normal((7, 70, 48)).astype(np.float32)
    before = pyssl.get_num_threads()
    runs = []
    try:
        for t in (1, 2, 3):
            pyssl.set_num_threads(t)
            out, probs = _core.nn.attention_forward(qkv, 3)
            out2, lse = _core.nn.attention_forward(qkv, 3, None, False)
            runs.append((out, _core.nn.attention_backward(qkv, probs, g, 3), out2,
                         _core.nn.attention_backward_recompute(qkv, lse, out2, g, 3)))
    finally:
        pyssl.set_num_threads(before)
    for run in runs[1:]:
        for a, b in zip(run, runs[0]):
            assert a.tobytes() == b.tobytes()


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="not divisible by heads"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="not divisible by heads"):
        TransformerEncoder(10, 1, 4, num_tokens=2)
    with pytest.raises(ValueError, match="not divisible by patch_size"):
        PatchEmbed2d(30, 4, 3, 8)
    with pytest.raises(ValueError, match="not divisible by patch_size"):
        PatchEmbed1d(10, 4, 1, 8)
    with pytest.raises(ValueError, match=r"shape \(N, 3, 8, 8\)"):
        PatchEmbed2d(8, 4, 3, 8)(np.zeros((2, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(N, L, 8\)"):
        MultiHeadAttention(8, 2)(np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match="num_tokens"):
        TransformerEncoder(8, 1, 2)
    enc = TransformerEncoder(8, 1, 2, num_tokens=3)
    with pytest.raises(ValueError, match="num_tokens=3"):
        enc(np.zeros((2, 4, 8), np.float32))
    with pytest.raises(ValueError, match="every key"):
        MultiHeadAttention(4, 2).forward(np.zeros((1, 2, 4), np.float32), np.array([[True, True]]))
    with pytest.raises(TypeError, match="bool"):
        MultiHeadAttention(4, 2).forward(np.zeros((1, 2, 4), np.float32), np.array([[0, 1]]))
    with pytest.raises(ValueError, match="tokenizer makes tokens of dim"):
        TransformerEncoder(8, 1, 2, tokenizer=FeatureTokenizer(3, 4))
    with pytest.raises(TypeError, match="dtype"):
        MultiHeadAttention(4, 2)(np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match="pool"):
        TransformerEncoder(8, 1, 2, num_tokens=2, pool="max")


def test_encoder_matches_torch_prenorm_blocks(rng):
    """The whole encoder (positions, CLS, pre-norm blocks, final norm) against torch modules holding
    the same weights."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    d, heads, L = 8, 2, 5
    enc = TransformerEncoder(d, 2, heads, mlp_ratio=2.0, num_tokens=L, dtype=np.float64, seed=4)
    for p in enc.parameters():  # non-trivial LayerNorm affines and biases
        p.data += 0.1 * rng.standard_normal(p.data.shape)

    def T(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    def lin(layer):
        m = nn.Linear(*layer.weight.shape, dtype=torch.float64)
        m.weight.data, m.bias.data = T(layer.weight.data.T), T(layer.bias.data)
        return m

    def ln(layer):
        m = nn.LayerNorm(d, eps=1e-6, dtype=torch.float64)
        m.weight.data, m.bias.data = T(layer.weight.data), T(layer.bias.data)
        return m

    x = rng.standard_normal((3, L, d))
    with torch.no_grad():
        t = T(x) + T(enc.pos.data)
        t = torch.cat([T(enc.cls_token.data)[None].expand(3, 1, d), t], dim=1)
        for b in enc.blocks:
            mha = nn.MultiheadAttention(d, heads, batch_first=True, dtype=torch.float64)
            mha.in_proj_weight.data, mha.in_proj_bias.data = T(b.attn.qkv.weight.data.T), T(b.attn.qkv.bias.data)
            mha.out_proj.weight.data, mha.out_proj.bias.data = T(b.attn.proj.weight.data.T), T(b.attn.proj.bias.data)
            h = ln(b.norm1)(t)
            t = t + mha(h, h, h, need_weights=False)[0]
            t = t + lin(b.fc2)(nn.functional.gelu(lin(b.fc1)(ln(b.norm2)(t))))
        ref = ln(enc.norm)(t)[:, 0].numpy()
    np.testing.assert_allclose(enc(x), ref, rtol=1e-10, atol=1e-12)


def test_gelu_float32_accuracy():
    """The float32 GELU (vectorised erfc fit) against the float64 erf form: forward and derivative."""
    from math import erfc, exp, pi, sqrt

    from pyssl.nn import GELU

    x64 = np.concatenate([np.linspace(-12, 12, 20001), [0.0, -0.0, 1e-30, -1e-30, 40.0, -40.0]])
    x = x64.astype(np.float32)
    xd = x.astype(np.float64)
    cdf = 0.5 * np.vectorize(erfc)(-xd / sqrt(2))  # Φ without the cancellation of 1 + erf
    ref = xd * cdf
    dref = cdf + xd * np.vectorize(lambda v: exp(-v * v / 2))(xd) / sqrt(2 * pi)
    layer = GELU()
    y, ctx = layer.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=5e-7, atol=1e-37)
    d = layer.backward(np.ones_like(x), ctx)
    np.testing.assert_allclose(d, dref, rtol=1e-6, atol=2e-7)


def test_vit_pickles_and_deep_copies(rng):
    import copy
    import pickle

    vit = ViT(8, 4, 3, 12, 1, 3, dropout=0.2, pos_embed="sinusoidal", pool="mean", seed=0)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    a, b = pickle.loads(pickle.dumps(vit)), copy.deepcopy(vit)
    assert a(x).tobytes() == b(x).tobytes()  # same weights and the same dropout stream position
    a.eval(), b.eval()
    assert a(x).tobytes() == vit.eval()(x).tobytes()


@given(n=st.integers(1, 2), l=st.sampled_from([1, 3, 7, 64, 65, 130]), heads=st.integers(1, 2),
       dh=st.integers(1, 3), masked=st.booleans(), seed=st.integers(0, 1000))
@settings(max_examples=20)
def test_recompute_attention_matches_saved_probs(n, l, heads, dh, masked, seed):
    """The memory-light path (row log-sum-exp, probabilities recomputed in row blocks of 64) gives
    the outputs and gradients of the path that keeps the probabilities (row blocks cross 64)."""
    rng = np.random.default_rng(seed)
    qkv = rng.standard_normal((n, l, 3 * heads * dh))
    mask = _mask(rng, n, l) if masked else None
    g = rng.standard_normal((n, l, heads * dh))
    out, probs = _core.nn.attention_forward(qkv, heads, mask)
    out2, lse = _core.nn.attention_forward(qkv, heads, mask, False)
    assert lse.shape == (n, heads, l)
    np.testing.assert_allclose(out2, out, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(lse, np.log(np.exp(attention_scores(qkv, heads, mask)).sum(-1)), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(_core.nn.attention_backward_recompute(qkv, lse, out2, g, heads, mask),
                               _core.nn.attention_backward(qkv, probs, g, heads), rtol=1e-10, atol=1e-12)


def attention_scores(qkv, heads, mask):
    n, l, d3 = qkv.shape
    d = d3 // 3
    q, k = (qkv[:, :, i * d:(i + 1) * d].reshape(n, l, heads, -1).transpose(0, 2, 1, 3) for i in range(2))
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d // heads)
    return s if mask is None else np.where(mask[:, None, None, :], -np.inf, s)


@settings(max_examples=8)
@given(n=st.integers(1, 2), l=st.integers(1, 5), masked=st.booleans(), seed=st.integers(0, 1000))
def test_mha_recompute_gradients_fd(n, l, masked, seed):
    rng = np.random.default_rng(seed)
    layer = MultiHeadAttention(4, 2, dtype=np.float64, seed=seed, save_probs=False)
    mask = _mask(rng, n, l) if masked else None

    class Masked(MultiHeadAttention):
        def forward(self, x):
            return super().forward(x, mask)

    layer.__class__ = Masked
    check_module_gradients(layer, rng.standard_normal((n, l, 4)), seed=seed)
    with pytest.raises(ValueError, match="save_probs"):
        MultiHeadAttention(4, 2, save_probs="never")


# -- bf16-mixed ------------------------------------------------------------------------------------

def _bf16(a):
    """Round float32 to the nearest bfloat16 (ties to even), kept as float64."""
    b = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) & 0xFFFF0000
    return b.astype(np.uint32).view(np.float32).astype(np.float64)


needs_bf16 = pytest.mark.skipif(not pyssl.nn.precision.available(), reason="pyssl built without oneDNN")


@needs_bf16
def test_bf16_mixed_attention_rounds_both_projections_and_keeps_the_attention_in_float32():
    """Under bf16-mixed: qkv = bf16(x)·bf16(W_qkv) + b, the attention itself in float32, then
    y = bf16(O)·bf16(W_o) + b_o — checked against that formula in float64, and away from fp32."""
    rng = np.random.default_rng(3)
    mha = MultiHeadAttention(16, 2, seed=1)
    for p in mha.parameters():
        p.data[...] = rng.standard_normal(p.data.shape).astype(np.float32) * 0.3
    x = rng.standard_normal((2, 7, 16)).astype(np.float32)
    with pyssl.nn.precision.autocast("bf16-mixed"):
        y, _ = mha.forward(x)
    y32, _ = mha.forward(x)
    qkv = _bf16(x.reshape(14, 16)) @ _bf16(mha.qkv.weight.data) + mha.qkv.bias.data
    o, _ = attention_ref(qkv.reshape(2, 7, 48), 2)
    want = _bf16(o.reshape(14, 16).astype(np.float32)) @ _bf16(mha.proj.weight.data) + mha.proj.bias.data
    np.testing.assert_allclose(y.reshape(14, 16), want, rtol=0, atol=2e-2 * np.abs(want).max())
    assert np.abs(y - y32).max() > 1e-4  # the products were rounded: bf16 is in use


@needs_bf16
def test_bf16_mixed_sends_every_dense_projection_of_a_vit_to_the_bf16_kernel(monkeypatch):
    calls = {"bf16": 0, "fp32": 0}
    real16, real32 = _core.nn.dense_forward_bf16, _core.nn.dense_forward

    def f16(*a, **k):
        calls["bf16"] += 1
        return real16(*a, **k)

    def f32(*a, **k):
        calls["fp32"] += 1
        return real32(*a, **k)

    monkeypatch.setattr(_core.nn, "dense_forward_bf16", f16)
    monkeypatch.setattr(_core.nn, "dense_forward", f32)
    vit = ViT(8, 4, 1, 16, depth=2, heads=2, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)
    with pyssl.nn.precision.autocast("bf16-mixed"):
        y, ctx = vit.forward(x)
    vit.backward(np.ones_like(y), ctx)
    assert calls == {"bf16": 1 + 4 * 2, "fp32": 0}  # patch embedding + (qkv, proj, fc1, fc2) per block
