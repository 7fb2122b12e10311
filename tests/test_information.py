"""Tests of polycode_utils.instruments.information: the estimators against channels of known mutual information."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from polycode_utils.instruments.information import (decoder_bound, decoder_ceiling, donsker_varadhan, gaussian_channel,
                                        gaussian_channel_information, gaussian_decoder_floor, gaussian_entropy,
                                        known_answer_errors, log_mean_exp, mine, mine_loss, uniform_entropy,
                                        update_log_average)

TRUE_NATS = (0.5, 2.0)  # I(X; Y) of the two test channels (3 dimensions)
SNRS = [math.expm1(i / 1.5) for i in TRUE_NATS]


@pytest.fixture(scope="module")
def channel() -> tuple[np.ndarray, list[np.ndarray]]:
    return gaussian_channel(20_000, 3, SNRS, seed=0)


def test_closed_forms() -> None:
    assert uniform_entropy(3) == pytest.approx(3 * math.log(2))
    assert uniform_entropy(2, 0.0, 0.5) == pytest.approx(2 * math.log(0.5))
    assert gaussian_entropy(1) == pytest.approx(0.5 * math.log(2 * math.pi * math.e))
    assert gaussian_channel_information(3, 3.0) == pytest.approx(1.5 * math.log(4))
    assert [gaussian_channel_information(3, s) for s in SNRS] == pytest.approx(TRUE_NATS)
    # a Gaussian decoder that ignores y, for U[-1, 1]^3 (variance 1/3): 3 (ln 2 - 1/2 ln(2 pi e / 3)) = -0.53
    assert gaussian_decoder_floor(uniform_entropy(3), [1 / 3] * 3) == pytest.approx(-0.52946, abs=1e-5)
    assert gaussian_decoder_floor(gaussian_entropy(2), [1.0, 1.0]) == pytest.approx(0.0, abs=1e-12)
    assert decoder_ceiling(0.0, 2, 1.0) == pytest.approx(-math.log(2 * math.pi))


def test_gaussian_channel_has_the_stated_covariance() -> None:
    x, (y,) = gaussian_channel(200_000, 2, 4.0, seed=1)
    cov = np.cov(np.hstack([x, y]).T)
    np.testing.assert_allclose(cov, [[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1.25, 0], [0, 1, 0, 1.25]], atol=0.02)


def test_decoder_bound_on_the_gaussian_channel(channel) -> None:
    """For Gaussian X the Gaussian decoder is the exact posterior: the bound equals I(X; Y), up to sampling."""
    x, ys = channel
    est = decoder_bound(x, ys, entropy_x=gaussian_entropy(3), steps=800, seed=0, progress=False)
    assert est.estimator == "decoder" and est.nats.shape == (2,) and est.n_test == 4000
    np.testing.assert_allclose(est.nats, TRUE_NATS, atol=0.1)
    assert np.all(np.abs(est.nats - TRUE_NATS) < 4 * est.stderr + 0.03)


def test_mine_on_the_gaussian_channel(channel) -> None:
    x, ys = channel
    est = mine(x, ys, steps=800, seed=0, progress=False)
    assert est.estimator == "mine" and est.nats.shape == (2,)
    np.testing.assert_allclose(est.nats, TRUE_NATS, atol=0.2)
    assert np.all(est.stderr > 0) and np.all(est.stderr < 0.1)


def test_independent_variables_score_the_floor() -> None:
    """y independent of x: MINE near 0, the one-Gaussian decoder near its floor h(X) - 1/2 sum ln(2 pi e Var)."""
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-1, 1, (5000, 3)), rng.standard_normal((5000, 4))
    dec = decoder_bound(x, y, entropy_x=uniform_entropy(3), steps=400, seed=0, progress=False)
    assert dec.nats[0] == pytest.approx(gaussian_decoder_floor(uniform_entropy(3), [1 / 3] * 3), abs=0.06)
    assert abs(mine(x, y, steps=400, seed=0, progress=False).nats[0]) < 0.08


def test_decoder_bound_rises_towards_its_ceiling_for_an_invertible_map() -> None:
    """Y = tanh(A X) is invertible: I(X; Y) is infinite, and the bound climbs to the ceiling set by min_std."""
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, (6000, 3))
    y = np.tanh(x @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, -0.5], [0.3, 0.0, 1.0]]))
    ceiling = decoder_ceiling(uniform_entropy(3), 3, 0.05)
    est = decoder_bound(x, y, entropy_x=uniform_entropy(3), min_std=0.05, steps=1500, seed=0, progress=False)
    curve = est.history[:, 0]
    assert len(curve) == 50 and est.history_steps[-1] == 1500
    assert curve[0] < 2.0 < ceiling - 1.0 < curve[-1] <= ceiling
    assert np.mean(np.diff(curve) > 0) > 0.7                         # it rises
    assert ceiling - 1.0 < est.nats[0] < ceiling + 3 * est.stderr[0]  # held out, too


def test_mixture_decoder_beats_one_gaussian_on_a_bimodal_posterior() -> None:
    """x = +-|y| with a random sign: q(x | y) needs two components; the bound gains ~ln 2 per coordinate."""
    rng = np.random.default_rng(5)
    y = rng.uniform(0.2, 1, (6000, 1))
    x = y * rng.choice([-1.0, 1.0], size=y.shape)
    h = math.log(1.6)  # x is uniform on [-1, -0.2] U [0.2, 1]
    one, two = (decoder_bound(x, y, entropy_x=h, components=k, min_std=0.01, steps=1500, seed=0,
                              progress=False).nats[0] for k in (1, 2))
    assert two - one > 0.5
    assert two == pytest.approx(decoder_ceiling(h, 1, 0.01) - math.log(2), abs=0.5)  # I = h(X) - h(X|Y) = inf;
    # with the std floored at 0.01 the best q puts half its mass at each of +-y


def test_stacked_estimates_accept_layers_of_different_widths(channel) -> None:
    x, ys = channel
    narrow = ys[1][:, :1]  # one coordinate of the 2-nat channel: 1/2 ln(1 + snr)
    est = decoder_bound(x[:, :1], [narrow, ys[1]], entropy_x=gaussian_entropy(1), steps=600, seed=0,
                        progress=False)
    np.testing.assert_allclose(est.nats, [gaussian_channel_information(1, SNRS[1])] * 2, atol=0.08)


def test_estimates_are_seeded(channel) -> None:
    x, ys = channel
    a, b = (mine(x, ys[0], steps=50, seed=2, progress=False).nats for _ in range(2))
    np.testing.assert_array_equal(a, b)


def test_moving_average_in_logs() -> None:
    first = update_log_average(None, torch.tensor([math.log(2.0)]), 0.1)
    assert first.item() == pytest.approx(math.log(2.0))
    nxt = update_log_average(first, torch.tensor([math.log(4.0)]), 0.1)
    assert nxt.exp().item() == pytest.approx(0.9 * 2 + 0.1 * 4)


def test_mine_gradient_is_the_bias_corrected_one() -> None:
    """T = w . z: the surrogate's gradient is -(E[z_joint] - E[e^T z_marg] / avg) with avg held fixed, and equals
    the Donsker-Varadhan bound's gradient when avg is the batch's own E[e^T]."""
    rng = np.random.default_rng(6)
    z_joint, z_marg = (torch.tensor(rng.standard_normal((64, 3))) for _ in range(2))
    w = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64, requires_grad=True)
    avg = 1.7
    mine_loss(z_joint @ w, z_marg @ w, torch.tensor(math.log(avg), dtype=torch.float64)).backward()
    t_marg = (z_marg @ w).detach()
    expected = -(z_joint.mean(0) - (torch.exp(t_marg)[:, None] * z_marg).mean(0) / avg)
    np.testing.assert_allclose(w.grad.numpy(), expected.numpy(), rtol=1e-12)

    w.grad = None
    own = log_mean_exp(z_marg @ w).detach()
    mine_loss(z_joint @ w, z_marg @ w, own).backward()
    corrected = w.grad.clone()
    w.grad = None
    (-donsker_varadhan(z_joint @ w, z_marg @ w)).backward()
    np.testing.assert_allclose(corrected.numpy(), w.grad.numpy(), rtol=1e-12)


def test_bad_input_fails_before_training(channel) -> None:
    x, ys = channel
    with pytest.raises(ValueError, match="y: each must have shape"):
        mine(x, ys[0][:10], progress=False)
    with pytest.raises(ValueError, match="test_fraction"):
        decoder_bound(x[:3], ys[0][:3], entropy_x=0.0, progress=False)
    with pytest.raises(ValueError, match="components"):
        decoder_bound(x, ys[0], entropy_x=0.0, components=0, progress=False)
    with pytest.raises(ValueError, match="average_rate"):
        mine(x, ys[0], average_rate=0.0, progress=False)
    with pytest.raises(ValueError, match="x: must be finite"):
        mine(np.full((10, 1), np.nan), ys[0][:10], progress=False)


def test_known_answer_errors_table() -> None:
    table = known_answer_errors([1.0, 3.0], dim=2, n_samples=8000, seed=0, decoder_options=dict(steps=600),
                                mine_options=dict(steps=600), progress=False)
    assert list(table.true) == [1.0, 3.0]
    np.testing.assert_allclose(table.decoder_error, table.decoder - table.true)
    np.testing.assert_allclose(table.decoder, [1.0, 3.0], atol=0.15)
    np.testing.assert_allclose(table.mine, [1.0, 3.0], atol=0.4)


def test_training_threads_are_restored(channel) -> None:
    x, ys = channel
    before = torch.get_num_threads()
    decoder_bound(x, ys[0], entropy_x=gaussian_entropy(3), steps=5, threads=1, progress=False)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        mine(x, ys[0], threads=0, progress=False)
