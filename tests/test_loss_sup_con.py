"""Supervised contrastive loss (Khosla et al. 2020, eq. 2)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyssl
from pyssl.losses import SupConLoss, sup_con
from pyssl.testing import check_gradients, embeddings


def reference_sup_con(z, labels, t):
    """L_out^sup: for each anchor i with positives P(i), −1/|P(i)| Σ_p log(exp(s_ip/τ)/Σ_{a≠i} exp(s_ia/τ))."""
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    s = zn @ zn.T / t
    losses = []
    for i in range(len(z)):
        pos = [p for p in range(len(z)) if p != i and labels[p] == labels[i]]
        if not pos:
            continue
        denom = np.log(sum(np.exp(s[i, a]) for a in range(len(z)) if a != i))
        losses.append(-np.mean([s[i, p] - denom for p in pos]))
    return float(np.mean(losses))


def test_matches_reference(rng):
    z = rng.standard_normal((12, 5))
    labels = rng.integers(0, 4, 12)
    labels[0] = 99  # an anchor without a positive is left out
    assert sup_con(z, labels, 0.1)[0] == pytest.approx(reference_sup_con(z, labels, 0.1), rel=1e-12)


@given(z=embeddings(min_n=2, max_n=8, min_d=1, max_d=4), t=st.sampled_from([0.05, 0.1, 1.0]),
       seed=st.integers(0, 1000))
def test_gradients_fd(z, t, seed):
    labels = np.random.default_rng(seed).integers(0, 3, z.shape[0])
    labels[1] = labels[0]  # at least one positive pair

    def f(a):
        loss, dz = sup_con(a, labels, t)
        return loss, dz

    check_gradients(f, [z])


def test_all_same_label_collapsed_is_zero_gap(rng):
    # all embeddings equal and one class: every other sample is a positive, loss = log(N-1) - 0... exactly:
    # l_i = lse - mean_p s/τ = (1/τ + log(N-1)) - 1/τ = log(N - 1)
    z = np.ones((6, 3))
    assert sup_con(z, np.zeros(6, dtype=int), 0.1)[0] == pytest.approx(np.log(5), rel=1e-12)


def test_class_and_bad_inputs(rng):
    z = rng.standard_normal((4, 3))
    assert SupConLoss(0.2)(z, [0, 0, 1, 1])[0] == sup_con(z, [0, 0, 1, 1], 0.2)[0]
    with pytest.raises(ValueError, match="no sample has a positive"):
        sup_con(z, [0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        sup_con(z, [0, 1])
    with pytest.raises(TypeError, match="labels must be integers"):
        sup_con(z, [0.5, 1, 1, 0])
    with pytest.raises(ValueError, match="at least 2 rows"):
        sup_con(z[:1], [0])
    with pytest.raises(ValueError, match="temperature"):
        sup_con(z, [0, 0, 1, 1], -1.0)
