"""Known-answer tests for polycode_utils.theory.toy_models: toy models of superposition, sparsities, Fig. 1c's
read-outs."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest
import torch

from polycode_utils.theory import toy_models

from polycode_utils.theory.codes import dimensions_per_feature, feature_dimensionality
from polycode_utils.theory.toy_models import (STICKY_FRACTIONS, _buffers, _loss_and_grad, compare_with_optimum,
                                       elhage_sparsities, sticky_plateau, train_toy_models)


def toy_model_loss(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, importance: torch.Tensor | None) -> torch.Tensor:
    """Reference (autograd) per-instance loss mean_(batch, i) I_i (x_i - ReLU(W^T W x + b)_i)^2 (Elhage et al. 2022)."""
    err = (x - torch.relu(torch.baddbmm(b.unsqueeze(1), torch.bmm(x, W.transpose(1, 2)), W))).square()
    if importance is not None:
        err = err * importance.unsqueeze(1)
    return err.mean(dim=(1, 2))


# ---------------------------------------------------------------- the sparsity grid


def test_elhage_sparsity_grid() -> None:
    s = elhage_sparsities(20)
    assert s.shape == (20,) and s[0] == 0.0 and s[-1] == pytest.approx(0.95)
    inv_density = 1.0 / (1.0 - s)
    np.testing.assert_allclose(inv_density[1:] / inv_density[:-1], 20 ** (1 / 19))  # geometric in 1/(1-S)
    assert STICKY_FRACTIONS == (1.0, 0.75, 2 / 3, 0.5, 0.4, 0.375)


def test_sticky_plateau_finds_the_longest_run() -> None:
    d_star = [1.0, 0.9, 0.76, 0.51, 0.49, 0.50, 0.42, 0.39, 0.37, 0.2]
    plateau = sticky_plateau(d_star, tolerance=0.03)
    assert (plateau.fraction, plateau.first, plateau.last, plateau.length) == (Fraction(1, 2), 3, 5, 3)
    # 0.42, 0.39, 0.37 are each near 2/5 or 3/8 but no three of them near the same one: the 1/2 run wins.
    assert sticky_plateau(d_star, tolerance=0.0).length == 1  # only 0.50 itself is exactly sticky
    assert sticky_plateau([1.0, 0.9, 0.1]).length == 0
    assert sticky_plateau([1.0, 1.0, 1.0]).length == 0       # the fraction 1 does not count
    with pytest.raises(ValueError, match="d_star"):
        sticky_plateau(np.ones((2, 2)))


def test_compare_with_optimum_known_answers() -> None:
    d_star = np.array([1.0, 0.5, 0.3])
    d_opt = np.array([1.0, 0.6, 0.15])
    d_feature = np.array([[1.0, 1.0, 0.2, 0.0], [0.5, 0.5, 0.5, 0.5], [0.9, 0.0, 0.04, 0.06]])
    c = compare_with_optimum(d_star, d_feature, d_opt, n_hidden=2)
    assert c.numbers() == dict(d_star_dense=1.0, d_star_sparsest=0.3, d_opt_sparsest=0.15,
                               d_gap_sparsest=pytest.approx(0.15), d_ratio_sparsest=pytest.approx(2.0),
                               n_above_opt=2, n_forced=1, n_above_tested=1, min_ratio=pytest.approx(0.5 / 0.6),
                               n_represented_sparsest=2,
                               d_feature_dense_mean=pytest.approx(0.55), d_feature_dense_max=1.0, n_half_dense=2)
    # The dense model sits at D* = 1, but 2 of m = 2 features own a dimension (not distributed); D* < D_opt once.
    # D_opt = 0.15 <= m/n = 1/2 is forced (any model representing all 4 features has D* >= 1/2), leaving 1 of 2 tested.
    assert (c.dense_settled, c.distributed, c.all_above) == (True, False, False)
    c = compare_with_optimum([0.9, 0.6], [[0.3, 0.3, 0.6], [0.0, 0.0, 0.0]], [0.85, 0.6], n_hidden=4)
    assert (c.dense_settled, c.distributed, c.all_above) == (False, True, True)
    assert c.n_above_opt == 2 and c.n_represented_sparsest == 0 and c.n_half_dense == 1
    assert compare_with_optimum([0.9991], [[1.0]], [1.0], 1).all_above  # within the tolerance 1e-3
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in c.numbers().values())


@pytest.mark.parametrize("args, name", [
    (([1.0, 0.5], [[1.0]], [1.0, 0.5], 2), "d_star, d_opt, d_feature"),
    (([1.0], [[1.0]], [1.0, 0.5], 2), "d_star, d_opt, d_feature"),
    (([1.0], [1.0], [1.0], 2), "d_feature"), (([1.0], [[1.0]], [1.0], 0), "n_hidden"),
    (([np.nan], [[1.0]], [1.0], 1), "d_star"),
])
def test_compare_with_optimum_rejects_bad_input(args: tuple, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}"):
        compare_with_optimum(*args)


# ---------------------------------------------------------------- training


@pytest.mark.parametrize("weighted", [False, True])
def test_hand_written_gradient_matches_autograd(weighted: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    n_inst, batch, m, n = 3, 16, 4, 9
    W = torch.randn(n_inst, m, n, generator=gen) * 0.5
    b = torch.randn(n_inst, n, generator=gen) * 0.1
    x = torch.rand(n_inst, batch, n, generator=gen) * (torch.rand(n_inst, batch, n, generator=gen) < 0.5)
    imp = torch.rand(n_inst, n, generator=gen) + 0.1 if weighted else None
    sqrt_imp = imp.sqrt().view(n_inst, 1, n) if weighted else None
    loss, g_W, g_b = _loss_and_grad(W, b, x, sqrt_imp, _buffers(n_inst, batch, m, n, torch.device("cpu")))
    Wg, bg = W.clone().requires_grad_(), b.clone().requires_grad_()
    ref = toy_model_loss(Wg, bg, x, imp)
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(g_W, Wg.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(g_b, bg.grad, rtol=1e-4, atol=1e-6)


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    kwargs = dict(n_features=7, n_hidden=3, sparsities=[0.0, 0.7], steps=60, batch_size=32, progress=False)
    a, b, c = train_toy_models(**kwargs, seed=5), train_toy_models(**kwargs, seed=5), train_toy_models(**kwargs, seed=6)
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.biases, b.biases)
    assert np.array_equal(a.losses, b.losses)
    assert not np.allclose(a.weights, c.weights)
    d = train_toy_models(**kwargs, seed=5, common_inputs=False)
    assert np.array_equal(d.weights, train_toy_models(**kwargs, seed=5, common_inputs=False).weights)


def test_batched_instance_equals_training_it_alone() -> None:
    # Instances share nothing but the optimiser call: instance 0 of a batch is the model trained by itself.
    kwargs = dict(n_features=9, n_hidden=3, steps=80, batch_size=32, seed=2, progress=False)
    batched = train_toy_models(sparsities=[0.5, 0.0, 0.9], **kwargs)
    alone = train_toy_models(sparsities=[0.5], **kwargs)
    np.testing.assert_allclose(batched.weights[0], alone.weights[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(batched.losses[:, 0], alone.losses[:, 0], rtol=1e-6)
    assert batched.weights.shape == (3, 3, 9) and batched.biases.shape == (3, 9) and batched.losses.shape == (80, 3)


def test_dense_inputs_learn_the_m_most_important_features() -> None:
    # S = 0 (Elhage et al. 2022, Fig. 2 left): no superposition; the m most important features get a dimension each.
    n, m = 6, 3
    res = train_toy_models(n, m, [0.0], importance=0.7 ** np.arange(n), steps=2000, batch_size=64, lr=1e-2,
                           seed=0, progress=False)
    d = feature_dimensionality(res.weights)[0]
    assert np.all(d[:m] > 0.9) and np.all(d[m:] < 0.1)
    assert dimensions_per_feature(res.weights)[0] == pytest.approx(1.0, abs=0.05)
    assert res.losses[-50:].mean() < 0.5 * res.losses[:50].mean()


def test_sparse_inputs_give_superposition() -> None:
    # Same features, all equally important: dense -> D* = 1; at S = 0.9 more than m features share the m dims.
    n, m = 6, 2
    res = train_toy_models(n, m, [0.0, 0.9], steps=600, batch_size=128, lr=1e-2, seed=0, progress=False)
    dense, sparse = dimensions_per_feature(res.weights)
    assert dense == pytest.approx(1.0, abs=0.05)
    assert sparse < 0.6
    assert (feature_dimensionality(res.weights)[1] > 0.2).sum() > m


@pytest.mark.parametrize("kwargs, name", [
    (dict(sparsities=[0.5, 1.0]), r"sparsities: every sparsity must lie in \[0, 1\)"),
    (dict(sparsities=[-0.1]), "sparsities"), (dict(sparsities=[]), "sparsities"),
    (dict(sparsities=[[0.1]]), "sparsities"), (dict(n_features=0), "n_features: must be an integer >= 1"),
    (dict(n_hidden=0), "n_hidden"), (dict(n_hidden=2.5), "n_hidden"), (dict(steps=0), "steps"),
    (dict(batch_size=0), "batch_size"), (dict(lr=0.0), "lr"), (dict(lr=float("nan")), "lr"),
    (dict(seed=-1), "seed"), (dict(importance=np.ones(5)), "importance"),
    (dict(importance=-np.ones(4)), "importance"), (dict(weight_decay=-0.1), "weight_decay"),
])
def test_bad_input_raises_before_training(kwargs: dict, name: str) -> None:
    args = dict(n_features=4, n_hidden=2, sparsities=[0.5], steps=10 ** 12, batch_size=10 ** 9, progress=False)
    args.update(kwargs)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=name):
        train_toy_models(**args)
    assert time.perf_counter() - start < 1.0  # raised before allocating or training anything


def test_a_step_lingers_longer_than_the_smooth_curve_through_it_and_a_smooth_fall_does_not():
    s = 1.0 - 20.0 ** -np.linspace(0.0, 1.0, 20)
    x = -np.log1p(-s)
    line = 1.0 - 0.28 * x  # a straight fall in log 1/(1-S): its own smooth curve
    assert toy_models.smooth_plateau(line, s).length == toy_models.sticky_plateau(line).length
    step = line.copy()
    step[6:14] = 0.5  # eight sparsities on the sticky fraction 1/2
    assert toy_models.sticky_plateau(step).length == 8
    assert toy_models.smooth_plateau(step, s).length <= 5
