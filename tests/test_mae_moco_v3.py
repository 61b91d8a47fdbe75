"""MAE over image / series / table tokens and MoCo v3: losses against numpy references written from
the papers, gradients by finite differences, masking properties, training, resume, errors."""
import numpy as np
import pytest

import pyssl
from pyssl.methods import MAE, MoCoV3, SimCLR
from pyssl.methods.mae import random_keep
from pyssl.methods.moco_v3 import moco_v3_loss
from pyssl.nn import FeatureTokenizer, MLP, PatchEmbed1d, TransformerEncoder, ViT
from pyssl.testing import assert_seeded_and_thread_invariant, check_gradients, numerical_gradient


def image_patches_ref(x, p):
    """Patch (a, b) of image n flattened in (channel, row, column) order, patches row-major."""
    n, c, h, w = x.shape
    out = []
    for a in range(h // p):
        for b in range(w // p):
            out.append(x[:, :, a * p:(a + 1) * p, b * p:(b + 1) * p].reshape(n, -1))
    return np.stack(out, axis=1)


def mae_loss_ref(pred, patches, mask, norm_pix):
    """He et al. 2022 §3: MSE between prediction and (per-patch normalised) pixels, masked patches only."""
    t = patches
    if norm_pix:
        mu = t.mean(-1, keepdims=True)
        var = t.var(-1, ddof=1, keepdims=True)
        t = (t - mu) / np.sqrt(var + 1e-6)
    per_patch = ((pred - t) ** 2).mean(-1)
    return (per_patch * mask).sum() / mask.sum()


def small_vit(dtype=np.float64, **kw):
    return ViT(8, 4, 2, 8, 1, 2, mlp_ratio=1.0, dtype=dtype, seed=0, **kw)


def built(method, X):
    method.setup(X)
    return method


@pytest.mark.parametrize("norm_pix", [False, True])
def test_mae_loss_matches_reference(norm_pix, rng):
    X = rng.standard_normal((3, 2, 8, 8))
    m = built(MAE(small_vit(), mask_ratio=0.5, decoder_dim=4, decoder_depth=1, decoder_heads=2,
                  norm_pix_loss=norm_pix), X)
    loss = m.training_step(X, seed=7)
    keep, mask = m.masks(3, 7)
    pred, _, _ = m.forward_loss(X, keep, mask)
    ref = mae_loss_ref(pred, image_patches_ref(X, 4), mask, norm_pix)
    assert loss == pytest.approx(ref, rel=1e-12)
    # the kept patches are not part of it: the loss over all patches is a different number
    assert ref != pytest.approx(mae_loss_ref(pred, image_patches_ref(X, 4), np.ones_like(mask), norm_pix))


def test_masked_tokens_never_reach_the_encoder(rng):
    X = rng.standard_normal((2, 2, 8, 8))
    m = built(MAE(ViT(8, 2, 2, 8, 1, 2, dtype=np.float64, seed=0), mask_ratio=0.75, decoder_dim=4,
                  decoder_depth=1, decoder_heads=1), X)
    keep, mask = m.masks(2, 3)
    assert keep.shape == (2, 4) and mask.sum() == 2 * 12
    latent, _ = m.encoder.forward_tokens(X, keep=keep)
    assert latent.shape == (2, 1 + 4, 8)  # CLS + the kept quarter: the blocks' cost follows K
    X2 = X.copy()
    patches = m.encoder.tokenizer.patchify(X2)
    patches[mask] = 100.0  # rewrite every masked patch
    X2 = m.encoder.tokenizer.unpatchify(patches)
    latent2, _ = m.encoder.forward_tokens(X2, keep=keep)
    np.testing.assert_array_equal(latent, latent2)


def _mae_param_fd(method, X, seed, names):
    method.zero_grad()
    method.training_step(X, seed)
    params = dict((f"{mn}.{k}", p) for mn in method.trainable_names
                  for k, p in getattr(method, mn).named_parameters())
    for name in names:
        p = params[name]
        num = numerical_gradient(lambda: method.training_step(X, seed), p.data)
        # training_step accumulates; recompute the analytic gradient after the FD calls
        method.zero_grad()
        method.training_step(X, seed)
        np.testing.assert_allclose(p.grad, num, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("kind", ["image", "series", "table"])
def test_mae_gradients_fd(kind, rng):
    if kind == "image":
        enc, X = small_vit(), rng.standard_normal((2, 2, 8, 8))
        names = ["encoder.pos", "encoder.tokenizer.embed.weight", "encoder.block0.attn.qkv.weight",
                 "decoder.mask_token", "decoder.blocks.block0.fc1.weight"]
    elif kind == "series":
        enc = TransformerEncoder(4, 1, 2, mlp_ratio=1.0, tokenizer=PatchEmbed1d(12, 3, 2, 4, dtype=np.float64, seed=0),
                                 pool="mean", dtype=np.float64, seed=0)
        X = rng.standard_normal((2, 2, 12))
        names = ["encoder.tokenizer.embed.weight", "encoder.block0.norm1.weight", "decoder.embed.weight"]
    else:
        enc = TransformerEncoder(4, 1, 2, mlp_ratio=1.0, tokenizer=FeatureTokenizer(5, 4, dtype=np.float64, seed=0),
                                 dtype=np.float64, seed=0)
        X = rng.standard_normal((3, 5))
        names = ["encoder.tokenizer.weight", "encoder.tokenizer.bias", "encoder.cls_token", "decoder.head.weight"]
    m = built(MAE(enc, mask_ratio=0.5, decoder_dim=4, decoder_depth=1, decoder_heads=2,
                  norm_pix_loss=(kind == "series")), X)
    _mae_param_fd(m, X, 5, names)


def test_mae_masking_seeded_and_thread_invariant(threads):
    assert_seeded_and_thread_invariant(lambda x, s: random_keep(5, 64, 0.75, s), None)
    keep, mask = random_keep(4, 10, 0.7, 1)
    assert keep.shape == (4, 3) and (np.diff(keep, axis=1) > 0).all()
    assert (mask.sum(1) == 7).all() and not mask[np.arange(4)[:, None], keep].any()
    assert len({tuple(r) for r in keep}) > 1  # per-sample masks


def test_mae_step_thread_invariant(threads, rng):
    X = rng.standard_normal((4, 2, 8, 8)).astype(np.float32)

    def run(x, seed):
        m = built(MAE(small_vit(np.float32), mask_ratio=0.75, decoder_dim=4, decoder_depth=1, decoder_heads=2), x)
        loss = m.training_step(x, seed)
        return np.array([loss]), m.encoder.tokenizer.embed.weight.grad.copy()

    assert_seeded_and_thread_invariant(run, X)


def test_mae_trains_on_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    X = (datasets.load_digits().images[:512, None] / 16.0).astype(np.float32)
    pyssl.nn.manual_seed(0)
    vit = ViT(8, 2, 1, 32, 2, 4, mlp_ratio=2.0, seed=0)
    m = MAE(vit, mask_ratio=0.75, decoder_dim=32, decoder_depth=1, decoder_heads=4, norm_pix_loss=True)
    hist = pyssl.pretrain(m, X, epochs=6, batch_size=64, lr=2e-3, weight_decay=0.05, progress=False)
    losses = hist["loss"]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.8 * losses[0], losses
    assert m.encoder.transform(X[:10]).shape == (10, 32)


def test_mae_resume_bit_exact(rng):
    X = rng.standard_normal((4, 2, 8, 8)).astype(np.float32)

    def make():
        return built(MAE(small_vit(np.float32), mask_ratio=0.5, decoder_dim=4, decoder_depth=1, decoder_heads=2,
                         seed=3), X)

    a, b = make(), make()
    for p in a.parameters():
        p.data += np.float32(0.01)
    b.load_state_dict(a.state_dict())
    a.zero_grad(), b.zero_grad()
    assert a.training_step(X, 9) == b.training_step(X, 9)
    for p, q in zip(a.parameters(), b.parameters()):
        assert p.grad.tobytes() == q.grad.tobytes()


def test_mae_bad_inputs():
    with pytest.raises(TypeError, match="TransformerEncoder with a tokenizer"):
        MAE(MLP([4, 8]))
    with pytest.raises(TypeError, match="TransformerEncoder with a tokenizer"):
        MAE(TransformerEncoder(8, 1, 2, num_tokens=4))
    with pytest.raises(ValueError, match="keep at least one token"):
        MAE(ViT(8, 4, 1, 8, 1, 2), mask_ratio=0.8)  # 4 tokens: keeps 0
    with pytest.raises(ValueError, match="norm_pix_loss"):
        MAE(TransformerEncoder(8, 1, 2, tokenizer=FeatureTokenizer(3, 8)), norm_pix_loss=True)
    with pytest.raises(ValueError, match="mask_ratio"):
        MAE(ViT(8, 4, 1, 8, 1, 2), mask_ratio=1.0)
    with pytest.raises(ValueError, match="decoder_heads"):
        MAE(ViT(8, 4, 1, 8, 1, 2), decoder_dim=6, decoder_heads=4)
    with pytest.raises(ValueError, match="decoder_pos_embed"):
        MAE(ViT(8, 4, 1, 8, 1, 2), decoder_pos_embed="rope")


@pytest.mark.parametrize("kind", ["image", "series", "table"])
def test_tokenizer_transformer_is_an_extractor_for_simclr(kind, rng):
    if kind == "image":
        enc, X = ViT(8, 4, 3, 16, 1, 2, seed=0), rng.standard_normal((16, 3, 8, 8)).astype(np.float32)
    elif kind == "series":
        enc = TransformerEncoder(16, 1, 2, tokenizer=PatchEmbed1d(16, 4, 2, 16, seed=0), pool="mean", seed=0)
        X = rng.standard_normal((16, 2, 16)).astype(np.float32)
    else:
        enc = TransformerEncoder(16, 1, 2, tokenizer=FeatureTokenizer(6, 16, seed=0), seed=0)
        X = rng.standard_normal((16, 6)).astype(np.float32)
    before = enc.state_dict()
    hist = pyssl.pretrain(SimCLR(enc, projection_dim=8), X, epochs=1, batch_size=16, progress=False)
    assert np.isfinite(hist["loss"]).all()
    assert any(not np.array_equal(before[k], v) for k, v in enc.state_dict().items())


# -- MoCo v3 ------------------------------------------------------------------------------------

def moco_v3_loss_ref(q, k, tau):
    """Chen et al. 2021, Algorithm 1: CrossEntropy(q̂ k̂ᵀ/τ, arange(N)) · 2τ."""
    qh = q / np.linalg.norm(q, axis=1, keepdims=True)
    kh = k / np.linalg.norm(k, axis=1, keepdims=True)
    logits = qh @ kh.T / tau
    logits -= logits.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return -np.mean(np.diag(logp)) * 2 * tau


@pytest.mark.parametrize("tau", [0.2, 1.0])
def test_moco_v3_loss_reference_and_fd(tau, rng):
    q, k = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    loss, dq = moco_v3_loss(q, k, tau)
    assert loss == pytest.approx(moco_v3_loss_ref(q, k, tau), rel=1e-12)
    check_gradients(lambda a: moco_v3_loss(a, k, tau), [q])
    with pytest.raises(ValueError, match="shape"):
        moco_v3_loss(q, k[:3])
    with pytest.raises(ValueError, match="temperature"):
        moco_v3_loss(q, k, 0.0)


def test_moco_v3_trains_with_vit_and_uses_momentum_schedule(rng):
    X = rng.standard_normal((32, 3, 8, 8)).astype(np.float32)
    m = MoCoV3(ViT(8, 4, 3, 16, 1, 2, seed=0), projection_dim=8, hidden_dim=16)
    hist = pyssl.pretrain(m, X, epochs=2, batch_size=16, progress=False)
    assert np.isfinite(hist["loss"]).all()
    assert m.temperature == 0.2
    assert m.momentum_at(0, 10) == pytest.approx(0.99) and m.momentum_at(10, 10) == pytest.approx(1.0)
    # the key network is an EMA of the online one: close to it, not equal to it
    on, key = m.encoder.pos.data, m.key_encoder.pos.data
    assert not np.array_equal(on, key)


def test_moco_v3_step_matches_reference_loss(rng):
    X = rng.standard_normal((8, 3, 8, 8)).astype(np.float64)
    m = MoCoV3(ViT(8, 4, 3, 8, 1, 2, dtype=np.float64, seed=0), projection_dim=4, hidden_dim=8)
    m.setup(X)
    loss = m.training_step(X, 4)
    x1, x2 = m.make_views(X, 4)
    q1, q2 = (m.predictor(m.projector(m.encoder(x))) for x in (x1, x2))
    k1, k2 = (m.key_projector(m.key_encoder(x)) for x in (x1, x2))
    ref = moco_v3_loss_ref(q1, k2, 0.2) + moco_v3_loss_ref(q2, k1, 0.2)
    assert loss == pytest.approx(ref, rel=1e-10)


def test_moco_v3_gradients_fd(rng):
    """The accumulated gradients of a whole MoCo v3 step (two backward passes through the shared
    online network) against finite differences of its loss."""
    X = rng.standard_normal((6, 3, 8, 8))
    m = MoCoV3(ViT(8, 4, 3, 4, 1, 2, mlp_ratio=1.0, dtype=np.float64, seed=0), projection_dim=3, hidden_dim=4)
    m.setup(X)
    params = {"encoder.pos": m.encoder.pos, "encoder.qkv": m.encoder.block0.attn.qkv.weight,
              "predictor": m.predictor.parameters()[0]}
    for name, p in params.items():
        m.zero_grad()
        m.training_step(X, 2)
        analytic = p.grad.copy()
        num = numerical_gradient(lambda: m.training_step(X, 2), p.data)
        np.testing.assert_allclose(analytic, num, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("name", ["mae", "moco_v3"])
def test_resume_continues_exactly(name, tmp_path, rng):
    X = rng.standard_normal((48, 3, 8, 8)).astype(np.float32)
    ck = tmp_path / "ck.npz"

    def make(seed):
        vit = ViT(8, 4, 3, 16, 1, 2, dropout=0.1, seed=seed)
        if name == "mae":
            return vit, MAE(vit, mask_ratio=0.5, decoder_dim=8, decoder_depth=1, decoder_heads=2)
        return vit, MoCoV3(vit, projection_dim=8, hidden_dim=16)

    def stop_at(epoch, history, method):
        return "stop" if epoch == 1 else None

    full, m = make(3)
    pyssl.pretrain(m, X, epochs=3, batch_size=16, seed=5, progress=False)
    _, m = make(3)
    pyssl.pretrain(m, X, epochs=3, batch_size=16, seed=5, progress=False, checkpoint=ck, callbacks=[stop_at])
    resumed, m = make(99)  # different init: everything must come from the checkpoint
    hist = pyssl.pretrain(m, X, epochs=3, batch_size=16, seed=5, progress=False, resume=ck)
    assert len(hist["loss"]) == 3
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert np.array_equal(a.data, b.data)


def test_mae_decoder_matches_torch_reference(rng):
    """MAE's decoder against torch modules holding the same weights, written from the paper's
    description: embed the kept tokens, put them back among mask tokens at their positions, add
    the decoder's own (sinusoidal) positions, pre-norm blocks, final norm, per-patch linear head."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    from pyssl.nn.transformer import sinusoidal_positions

    X = rng.standard_normal((3, 2, 8, 8))
    m = built(MAE(ViT(8, 2, 2, 8, 1, 2, dtype=np.float64, seed=0), mask_ratio=0.75, decoder_dim=6, decoder_depth=2,
                  decoder_heads=3), X)
    dec = m.decoder
    for p in dec.parameters():
        p.data += 0.1 * rng.standard_normal(p.data.shape)
    keep, mask = m.masks(3, 11)
    latent, _ = m.encoder.forward_tokens(X, keep=keep)
    pred, _ = dec.forward(latent, keep, 1)

    def T(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    def lin(layer):
        out = nn.Linear(*layer.weight.shape, dtype=torch.float64)
        out.weight.data, out.bias.data = T(layer.weight.data.T), T(layer.bias.data)
        return out

    def ln(layer):
        out = nn.LayerNorm(layer.num_features, eps=1e-6, dtype=torch.float64)
        out.weight.data, out.bias.data = T(layer.weight.data), T(layer.bias.data)
        return out

    with torch.no_grad():
        z = lin(dec.embed)(T(latent[:, 1:]))  # the CLS output is not passed on
        full = T(dec.mask_token.data).expand(3, 16, 6).clone()
        for n in range(3):
            full[n, T(keep[n])] = z[n]
        t = full + T(sinusoidal_positions(16, 6))
        for b in dec.blocks.blocks:
            mha = nn.MultiheadAttention(6, 3, batch_first=True, dtype=torch.float64)
            mha.in_proj_weight.data, mha.in_proj_bias.data = T(b.attn.qkv.weight.data.T), T(b.attn.qkv.bias.data)
            mha.out_proj.weight.data, mha.out_proj.bias.data = T(b.attn.proj.weight.data.T), T(b.attn.proj.bias.data)
            h = ln(b.norm1)(t)
            t = t + mha(h, h, h, need_weights=False)[0]
            t = t + lin(b.fc2)(nn.functional.gelu(lin(b.fc1)(ln(b.norm2)(t))))
        ref = lin(dec.head)(ln(dec.blocks.norm)(t)).numpy()
    assert pred.shape == (3, 16, 2 * 2 * 2)
    np.testing.assert_allclose(pred, ref, rtol=1e-10, atol=1e-12)
