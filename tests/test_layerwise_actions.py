"""Chapter 6's measurement (polycode_utils.layerwise.actions): a moving dot's random projections, their action,
its scaling law with T, the R^2 on the loop, the i.i.d. theory, and the summaries (Fig. 4), on known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from polycode_utils.theory.claims import NOT_TESTABLE
from polycode_utils.layerwise.actions import (HASH_ABOVE, SMOOTH_BELOW, ActionScaling, LayerAction, action_scaling,
                                              circle_action, dot_actions, every_nth_frame, iid_action, loop_frames,
                                              measure_dot, scaling_exponent, smoothness, stringer_bound,
                                              trajectory_actions)
from polycode_utils.reports.ch06_projections import (action_alpha, action_order, action_theory, alpha_relation,
                                                     control_ratio_table, last_dot_pc, monte_carlo_gap,
                                                     noise_like_layers, scaling_law, shown_network_index,
                                                     stringer_check, tracking_r2, trend_table)
from polycode_utils.layerwise.common import CONTROL, measured_networks, seed_table
from polycode_utils.networks.models import DEPTH_NAMES, ResNetAutoencoder
from polycode_utils.instruments.stimuli import moving_dot


# ---------------------------------------------------------------- Fig. 4: actions of a moving dot

T, K, M = 64, 3, 64

class DotAngle(nn.Module):
    """The dot's angle from its frame: the angle of the pixel-weighted centre of the image about the canvas centre."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x[:, 0]
        size = w.shape[-1]
        grid = torch.arange(size, dtype=x.dtype) - (size - 1) / 2
        total = w.sum(dim=(1, 2))
        row = (w * grid[None, :, None]).sum(dim=(1, 2)) / total
        col = (w * grid[None, None, :]).sum(dim=(1, 2)) / total
        return torch.atan2(row, col)  # moving_dot puts frame t at angle 2 pi t / T


class Smooth(nn.Module):
    """A smooth code of the angle: a random linear image of (cos, sin), an ellipse in M dimensions."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("w", torch.randn(2, M, generator=torch.Generator().manual_seed(0)))

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.stack([theta.cos(), theta.sin()], dim=1) @ self.w


class Hash(nn.Module):
    """A hash of the angle: an independent random vector for each of the T frame angles."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("table", torch.randn(T, M, generator=torch.Generator().manual_seed(1)))

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        index = torch.round(theta * T / (2 * math.pi)).long() % T
        return self.table[index]


class SmoothAndHash(nn.Module):
    """Two layers reading the same dot: one a smooth map of its angle, one a random hash of it."""

    def __init__(self) -> None:
        super().__init__()
        self.angle, self.smooth, self.hash = DotAngle(), Smooth(), Hash()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        theta = self.angle(x)
        return self.smooth(theta), self.hash(theta)


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return moving_dot(T, size=32, radius=10.0, dot_radius=2.0)


def test_smooth_code_has_far_lower_action_than_a_hash(frames) -> None:
    res = dot_actions(SmoothAndHash(), frames, ["smooth", "hash"], n_projections=2000, k=K, seed=0)
    smooth, hashed = res["smooth"], res["hash"]
    # Normalised, closed loop: any ellipse traced once has action 2 k T sin^2(pi/T) (= 0.87 at T = 64); frames
    # drawn independently have k T on average (192). The stated ratio: 1 / (2 sin^2(pi/T)) = 207.
    circle, iid = 2 * K * T * math.sin(math.pi / T) ** 2, K * T
    assert smooth.expected == pytest.approx(circle, rel=0.05)
    assert hashed.expected == pytest.approx(iid, rel=0.15)
    assert hashed.mean / smooth.mean > 150
    for r in (smooth, hashed):  # the Monte-Carlo mean over projections agrees with the exact mean
        assert abs(r.mean - r.expected) < 4 * r.sem
        assert r.actions.shape == (2000,) and r.trajectories.shape == (3, T, K)
    assert smooth.dot_fit is None  # an ellipse has rank 2: too few PCs to fit
    assert hashed.dot_fit is not None and hashed.dot_fit.alpha > -1.0  # a hash spreads variance: flat spectrum


def test_unnormalised_action_is_the_paper_definition(frames) -> None:
    model = SmoothAndHash()
    res = dot_actions(model, frames, ["hash"], n_projections=10, k=K, normalise="none", closed=False)["hash"]
    with torch.no_grad():
        a = model(torch.as_tensor(frames))[1].double().numpy()
    assert res.scale == 1.0
    assert res.expected == pytest.approx(0.5 * K / M * np.sum(np.diff(a, axis=0) ** 2), rel=1e-6)


def test_dot_actions_on_the_chapter3_network(frames) -> None:
    torch.manual_seed(0)
    model = ResNetAutoencoder(dropout=0.2, width=2, latent_dim=4).eval()
    res = dot_actions(model, frames[:16], None, n_projections=20, seed=1, fit_range=(1, 20))
    assert list(res) == list(DEPTH_NAMES)
    assert res["stem"].n_units == 2 * 32 * 32 and res["mu"].n_units == 4
    assert all(np.isfinite(r.mean) and r.mean > 0 for r in res.values())
    again = dot_actions(model, frames[:16], ["layer2"], n_projections=20, seed=1, fit_range=(1, 20))
    np.testing.assert_array_equal(again["layer2"].actions, res["layer2"].actions)  # seeded


@pytest.mark.parametrize("kwargs, match", [
    ({"normalise": "zscore"}, "normalise"), ({"k": 0}, "k"), ({"n_projections": 0}, "n_projections"),
    ({"method": "l1"}, "method"), ({"fit_range": (3, 1)}, "fit_range"), ({"n_keep": -1}, "n_keep"),
])
def test_dot_actions_rejects_bad_arguments(frames, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        dot_actions(SmoothAndHash(), frames, ["smooth"], **kwargs)


def test_dot_actions_needs_frames() -> None:
    with pytest.raises(ValueError, match="frames"):
        dot_actions(SmoothAndHash(), np.zeros((1, 3, 32, 32), dtype=np.float32), ["smooth"])


# ---------------------------------------------------------------- summaries of Fig. 4 (known answers)


def known_action(values: list[float], expected: float, layer: str = "a") -> LayerAction:
    """A layer whose projections have exactly these actions and whose exact mean is `expected`."""
    return LayerAction(layer, 8, np.asarray(values, dtype=float), expected, 1.0, np.zeros((1, 4, 3)), None, None,
                       0.0)


def table(columns: dict[str, list[float]], layers: str = "abcd") -> pd.DataFrame:
    """A mean-action (or alpha) table: layers as rows in depth order, one column per network."""
    return pd.DataFrame(columns, index=pd.Index(list(layers)[:len(next(iter(columns.values())))], name="depth"))


def test_reference_actions_are_a_unit_variance_circle_and_iid_frames() -> None:
    # A plane circle with per-unit variance 1 (radius sqrt 2): its exact mean action over projections,
    # (k/m) 1/2 sum ||a_{t+1} - a_t||^2 with m = 2 and the loop closed, is the closed form.
    theta = 2 * np.pi * np.arange(T) / T
    a = math.sqrt(2) * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    steps = np.diff(np.concatenate([a, a[:1]]), axis=0)
    assert circle_action(K, T) == pytest.approx(0.5 * K / 2 * np.sum(steps ** 2), rel=1e-12)
    assert circle_action(3, 100) == pytest.approx(0.591981, abs=1e-6)
    assert iid_action(3, 100) == 300.0
    with pytest.raises(ValueError, match="n_frames"):
        circle_action(3, 1)


def test_stringer_bound_and_shown_network_index() -> None:
    assert stringer_bound(1) == -3.0 and stringer_bound(2) == -2.0 and stringer_bound(math.inf) == -1.0
    with pytest.raises(ValueError, match="d"):
        stringer_bound(0)
    assert shown_network_index(0.4, [0, 0.2, 0.4]) == 2 and shown_network_index(0, [0, 0.2]) == 0
    with pytest.raises(ValueError, match="show_dropout"):
        shown_network_index(0.3, [0, 0.2, 0.4])


def test_monte_carlo_gap() -> None:
    # Mean 2 against exact 2.5: 20 %; sd 1 over 3 projections, sem 1/sqrt(3): 0.5 sqrt(3) standard errors.
    # A layer without spread (sem 0) counts for the relative gap only.
    gap = monte_carlo_gap([{"a": known_action([1, 2, 3], 2.5)}, {"a": known_action([4, 4], 4.4)}])
    assert gap.mc_max_rel_pct == pytest.approx(20.0)
    assert gap.mc_max_sem == pytest.approx(0.5 * math.sqrt(3))
    assert math.isnan(monte_carlo_gap([{"a": known_action([4, 4], 4.0)}]).mc_max_sem)
    with pytest.raises(ValueError, match="actions"):
        monte_carlo_gap([])


def test_action_order_by_depth() -> None:
    t = table({"p = 0": [1.0, 2.0, 4.0, 3.0], "p = 0.5": [8.0, 6.0, 5.0, 7.0]})
    order = action_order(t, "p = 0")
    assert order.rho_depth_max == pytest.approx(0.8) and order.rho_depth_min == pytest.approx(-0.4)
    assert order.action_direction == "is not ordered the same way by depth in every network"
    assert (order.action_first_layer, order.action_first, order.action_last_layer, order.action_last) == \
        ("a", 1.0, "d", 3.0)
    assert (order.show_min_layer, order.show_min_action, order.show_max_layer, order.show_max_action) == \
        ("a", 1.0, "c", 4.0)
    assert (order.overall_min, order.overall_max) == (1.0, 8.0)
    assert action_order(table({"x": [1, 2, 3], "y": [0, 5, 9]}), "y").action_direction == \
        "rises with depth in every network"
    assert action_order(table({"x": [3, 2, 1]}), "x").action_direction == "falls with depth in every network"
    two = action_order(table({"x": [1.0, 2.0]}), "x")  # two layers: no correlation
    assert math.isnan(two.rho_depth_min) and two.action_direction.startswith("is not ordered")
    with pytest.raises(ValueError, match="show"):
        action_order(t, "p = 0.2")


def test_noise_like_layers() -> None:
    # k T / 2 = 15 at k = 3, T = 10: only 'b' of p = 0.5 and 'c', 'd' of p = 0.8 exceed it.
    t = table({"p = 0": [1, 2, 15, 3], "p = 0.5": [1, 16, 2, 3], "p = 0.8": [1, 2, 20, 30]})
    noise = noise_like_layers(t, k=3, n_frames=10, normalise="variance")
    assert noise.half_iid == 15.0 and noise.n_noise_like == 3
    assert noise.noise_text == "p = 0.5: b; p = 0.8: c, d"
    assert noise_like_layers(t, k=3, n_frames=20, normalise="variance").noise_text == "none"
    raw = noise_like_layers(t, k=3, n_frames=10, normalise="none")
    assert raw.n_noise_like == 0 and "needs normalise" in raw.noise_text
    with pytest.raises(ValueError, match="normalise"):
        noise_like_layers(t, k=3, n_frames=10, normalise="zscore")


def test_action_against_the_two_exponents() -> None:
    y = table({"p = 0": [1.0, 2.0, 3.0], "p = 0.5": [4.0, 5.0, 6.0]})
    nat = table({"p = 0": [-3.0, -2.5, -2.0], "p = 0.5": [-1.5, -1.2, -1.0]})  # same order as y: rho 1
    dot = table({"p = 0": [-1.0, np.nan, -2.0], "p = 0.5": [-3.0, -4.0, -5.0]})  # reversed where finite: rho -1
    res = action_alpha(y, nat, dot)
    assert res.rho_nat == pytest.approx(1.0) and res.rho_dot == pytest.approx(-1.0) and res.n_points == 6
    assert (res.nat_alpha_min, res.nat_alpha_max, res.dot_alpha_min, res.dot_alpha_max) == (-3.0, -1.0, -5.0, -1.0)
    with pytest.raises(ValueError, match="alpha_dot"):
        action_alpha(y, nat, dot.iloc[:2])


def test_stringer_check_of_the_dot_exponents() -> None:
    y = table({"p = 0": [1.0, 2.0, 3.0], "p = 0.5": [4.0, 5.0, 6.0]})
    dot = table({"p = 0": [-4.0, -3.5, np.nan], "p = 0.5": [-3.0, -2.0, -1.0]})  # -3 itself is not below -3
    res = stringer_check(y, dot, d=1)
    assert (res.n_dot, res.n_dot_below, res.median_action_below, res.median_action_above) == (5, 2, 1.5, 5.0)
    assert res.bound_text == ("the layers whose dot spectrum passes Stringer's criterion have a median action of "
                              "1.5, against 5 for the others")
    assert stringer_check(y, dot, d=0.5).bound_text.startswith("no layer's dot spectrum")  # bound -5
    steep = stringer_check(y, table({"p = 0": [-4.0] * 3, "p = 0.5": [-5.0] * 3}))
    assert steep.bound_text.startswith("every layer's dot spectrum") and math.isnan(steep.median_action_above)


def test_dot_action_extras_and_last_fitted_pc(frames) -> None:
    model = SmoothAndHash()
    res = dot_actions(model, frames, ["smooth", "hash"], n_projections=5, k=K, seed=0)
    with torch.no_grad():
        hashed = model(torch.as_tensor(frames))[1].numpy()
    assert res["hash"].mean_activation == pytest.approx(float(hashed.mean()), rel=1e-6)
    assert math.isnan(res["smooth"].dot_alpha) and res["hash"].dot_alpha == res["hash"].dot_fit.alpha
    # 64 independent frames, centred: rank 63, fitted up to half of it.
    assert last_dot_pc([res]) == 31
    assert last_dot_pc([{"smooth": res["smooth"]}]) == 0


# ---------------------------------------------------------------- the scaling law, R^2 and the theory (known answers)

SWEEP = (50, 100, 200, 400, 800)


def ellipse(t_max: int, m: int = 40, seed: int = 0) -> np.ndarray:
    """A random linear image of (cos, sin): a smooth closed curve in m dimensions, sampled at T_max frames."""
    theta = 2 * np.pi * np.arange(t_max) / t_max
    w = np.random.default_rng(seed).normal(size=(2, m))
    return np.stack([np.cos(theta), np.sin(theta)], axis=1) @ w


def brownian(t_max: int, m: int = 40, seed: int = 0) -> np.ndarray:
    """A Brownian path on one interval [0, 1] sampled at T_max points (total variance fixed): rough, exponent 0."""
    return np.cumsum(np.random.default_rng(seed).normal(scale=1 / math.sqrt(t_max), size=(t_max, m)), axis=0)


@pytest.mark.parametrize("normalise", ["variance", "none"])
@pytest.mark.parametrize("make, exponent, regime", [(ellipse, -1.0, "smooth"), (brownian, 0.0, "rough"),
                                                    (lambda t: np.random.default_rng(3).normal(size=(t, 40)), 1.0,
                                                     "hash")])
def test_action_scaling_exponents_of_known_curves(make, exponent: float, regime: str, normalise: str) -> None:
    res = action_scaling({"x": make(800)}, SWEEP, k=3, normalise=normalise)["x"]
    assert res.n_frames == SWEEP and len(res.actions) == 5
    assert res.exponent == pytest.approx(exponent, abs=0.1) and res.regime == regime
    assert res.ci_low <= res.exponent <= res.ci_high
    assert abs(res.exponent - res.raw_exponent) < 0.1  # the per-T variance converges: the law survives


def test_ellipse_action_is_the_closed_form_at_every_t() -> None:
    # Normalised to unit per-unit variance, any ellipse traced once has action 2 k T sin^2(pi/T) (closed loop).
    res = action_scaling({"x": ellipse(800)}, SWEEP, k=3)["x"]
    np.testing.assert_allclose(res.actions, [circle_action(3, t) for t in SWEEP], rtol=1e-9)
    assert res.exponent == pytest.approx(-1.0, abs=0.01)


def test_scaling_exponent_and_classes() -> None:
    slope, low, high = scaling_exponent([1, 2, 4, 8], [8.0, 4.0, 2.0, 1.0])
    assert slope == pytest.approx(-1.0) and low == pytest.approx(-1.0) and high == pytest.approx(-1.0)
    assert math.isnan(scaling_exponent([1, 2], [1.0, 2.0])[1])
    with pytest.raises(ValueError, match="actions"):
        scaling_exponent([1, 2], [1.0, 0.0])
    assert (SMOOTH_BELOW, HASH_ABOVE) == (-0.5, 0.5)
    assert [smoothness(v) for v in (-0.9, -0.5, 0.2, 0.51, np.nan)] == ["smooth", "rough", "rough", "hash",
                                                                          "undetermined"]


def test_loop_frames_and_every_nth_frame() -> None:
    assert loop_frames(100, SWEEP) == 800
    assert loop_frames(3, [8, 16, 32]) == 96 and loop_frames(100, [50, 150]) == 300  # least common multiples
    with pytest.raises(ValueError, match="sweep_frames: with n_frames = 7 one loop would need 5600 frames"):
        loop_frames(7, SWEEP, max_frames=1000)
    with pytest.raises(ValueError, match="sweep_frames: must be distinct"):
        loop_frames(100, [50, 50])
    with pytest.raises(ValueError, match="sweep_frames"):
        loop_frames(100, [50])
    # Every 8th frame of one loop of 800 is the loop of 100, pixel for pixel.
    sub = every_nth_frame({"f": moving_dot(800)}, 100)["f"]
    np.testing.assert_allclose(sub, moving_dot(100), atol=1e-5)
    with pytest.raises(ValueError, match="n_frames"):
        every_nth_frame({"f": np.zeros((800, 2))}, 300)


def test_r2_on_the_loop_is_one_for_a_circle_and_small_for_noise() -> None:
    t = 100
    res = trajectory_actions({"circle": ellipse(t), "noise": np.random.default_rng(1).normal(size=(t, 40))},
                             n_projections=400, k=3, seed=0)
    assert res["circle"].r2.shape == (400,)
    assert res["circle"].r2_mean == pytest.approx(1.0, abs=1e-9)
    # Regressing noise on two regressors and an intercept explains 2/(T-1) of its variance on average.
    assert res["noise"].r2_mean == pytest.approx(2 / (t - 1), abs=0.01)


def test_iid_expectation_and_lag1_ratio() -> None:
    # Measured / i.i.d. mean action = 1 - lag-1 autocorrelation (loop closed); raw values undo the normalisation.
    t = 100
    x = np.random.default_rng(2).normal(size=(t, 30)) * 3.0
    r = trajectory_actions({"x": x}, n_projections=10, k=3)["x"]
    xc = x - x.mean(axis=0)
    lag1 = float(np.sum(xc * np.roll(xc, -1, axis=0)) / np.sum(xc ** 2))
    assert r.trace == pytest.approx(np.sum(xc ** 2) / t)
    assert r.iid_expected == pytest.approx(3 / 30 * t * r.trace)
    assert r.raw_expected / r.iid_expected == pytest.approx(1 - lag1)
    assert r.expected == pytest.approx(r.raw_expected * r.scale ** 2)
    # The note's approximation lambda_1 zeta(-alpha) applies only where alpha < -1.
    assert r.dot_alpha > -1 and math.isnan(r.note_trace)


def test_monte_carlo_action_of_gaussian_steps_is_k_over_2m_trace() -> None:
    # Steps a ~ N(0, Sigma), lambda_i = i^-1.5: the mean projected action 1/2 ||R^T a||^2 over random projections
    # and steps is (k/2m) tr Sigma (capacity.expected_projected_action), within 3 standard errors; the note's
    # printed 1/2 tr Sigma is m/k times larger.
    from polycode_utils.theory.capacity import expected_projected_action, power_law_spectrum
    from polycode_utils.instruments.projections import random_projections
    m, k, n_steps = 60, 3, 400
    lam = power_law_spectrum(m, -1.5)
    steps = np.random.default_rng(5).normal(size=(n_steps, m)) * np.sqrt(lam)
    z = random_projections(steps, n_projections=500, k=k, seed=1)          # (projections, steps, k)
    per = 0.5 * np.sum(z.astype(np.float64) ** 2, axis=2).ravel()
    expected = expected_projected_action(lam, k)
    assert abs(per.mean() - expected) < 3 * per.std(ddof=1) / math.sqrt(per.size)
    assert 0.5 * lam.sum() / expected == pytest.approx(m / k)


def test_measure_dot_shares_one_forward_pass(frames) -> None:
    loop = moving_dot(128, size=32, radius=10.0, dot_radius=2.0)
    res = measure_dot(SmoothAndHash(), loop, ["smooth", "hash"], n_frames=64, sweep_frames=(32, 64, 128),
                      n_projections=50, seed=0)
    direct = dot_actions(SmoothAndHash(), frames, ["smooth", "hash"], n_projections=50, seed=0)
    np.testing.assert_allclose(res.actions["hash"].actions, direct["hash"].actions, rtol=1e-5)
    assert res.scaling["smooth"].regime == "smooth" and res.scaling["smooth"].exponent == pytest.approx(-1, abs=0.02)
    with pytest.raises(ValueError, match="frames"):
        measure_dot(SmoothAndHash(), frames, ["smooth"], n_frames=64, sweep_frames=(32, 64, 128))


# ---------------------------------------------------------------- seeds and controls (known answers)

KEYS = [("p = 0", 0), ("p = 0", 1), (CONTROL, 0), (CONTROL, 1)]


def seeds(values: list[list[float]], layers=DEPTH_NAMES) -> pd.DataFrame:
    """A seed table: one column per key of KEYS, rows the layers."""
    t = pd.DataFrame(np.asarray(values, float).T, index=pd.Index(list(layers), name="depth"))
    t.columns = pd.MultiIndex.from_tuples(KEYS, names=["network", "seed"])
    return t


def test_trend_and_control_ratio_tables() -> None:
    up = list(range(1, 11))
    t = seeds([up, up, up[::-1], up[::-1]])
    trend = trend_table(t)
    assert list(trend.index) == ["p = 0", CONTROL]
    assert trend.loc["p = 0", "conv stages"] == "+1.00 ± 0.00" and trend.loc[CONTROL, "dense layers"] == "-1.00 ± 0.00"
    ratio = control_ratio_table(seeds([[2.0] * 10, [8.0] * 10, [1.0] * 10, [2.0] * 10]))
    assert ratio.loc["p = 0", "conv stages"] == "3.00 ± 1.41"  # 2/1 and 8/2


def test_alpha_relation_within_and_pooled() -> None:
    alpha = seeds([np.linspace(-3, -1, 10)] * 4)
    y = seeds([np.arange(10.0), np.arange(10.0) + 20, -np.arange(10.0), -np.arange(10.0)])
    rel = alpha_relation(y, alpha)
    assert rel.rho_within_text == "p = 0: +1.00 ± 0.00; untrained: -1.00 ± 0.00"
    assert rel.rho_pooled_control == pytest.approx(-1.0) and rel.rho_pooled_trained < 1.0


def test_scaling_law_summary() -> None:
    def per(exps: list[float]) -> dict:
        return {name: ActionScaling(name, (50, 100), (1.0, 1.0), (1.0, 1.0), e, e - 0.1, e + 0.1, e)
                for name, e in zip(DEPTH_NAMES, exps)}
    trained = [-0.9] + [-1.0] * 5 + [0.0] * 4
    control = [-0.9] + [-0.2] * 5 + [0.8] * 4
    law = scaling_law([per(trained), per(trained), per(control), per(control)], KEYS)
    assert (law.input_exponent, law.input_regime) == (-0.9, "smooth")
    assert law.trained_classes == "10 smooth, 8 rough, 0 hash" and law.control_classes == "0 smooth, 10 rough, 8 hash"
    assert law.conv_change == "-0.80 ± 0.00" and law.dense_change == "-0.80 ± 0.00"
    assert law.norm_shift_max == law.norm_shift_median == 0.0
    assert (law.exponent_min, law.exponent_max) == (-1.0, 0.0)


def test_theory_and_r2_summaries() -> None:
    t = 100
    layers = {"input": ellipse(t), "stem": np.random.default_rng(1).normal(size=(t, 40)), "mu": ellipse(t, 8)}
    acts = [trajectory_actions(layers, n_projections=50) for _ in KEYS]
    theory = action_theory(acts, KEYS)
    assert theory.ratio_input == pytest.approx(circle_action(3, t) / iid_action(3, t))
    assert theory.ratio_trained_max == pytest.approx(1.0, abs=0.25)  # noise: as rough as i.i.d. frames
    assert (theory.printed_factor_min, theory.printed_factor_max) == (8 / 3, 40 / 3)
    r2 = tracking_r2(acts, KEYS)
    assert r2.r2_input == pytest.approx(1.0) and r2.r2_trained_max == pytest.approx(1.0)
    assert r2.r2_trained_min < 0.1 and r2.r2_noise == pytest.approx(2 / 99)


class Net:
    def __init__(self, p: float, rep: int) -> None:
        self.dropout, self.replicate, self.model, self.control = p, rep, f"m{p}{rep}", f"c{rep}{p}"


def test_measured_networks_one_control_per_seed() -> None:
    keyed = measured_networks([Net(0.0, 0), Net(0.0, 1), Net(0.5, 0), Net(0.5, 1)])
    assert [k for k, _ in keyed] == [("p = 0", 0), ("p = 0", 1), ("p = 0.5", 0), ("p = 0.5", 1), (CONTROL, 0),
                                     (CONTROL, 1)]
    assert keyed[-2][1] == "c00.0"  # the first rate's control of seed 0
    bare = Net(0.0, 0)
    bare.control = None
    with pytest.raises(ValueError, match="controls=True"):
        measured_networks([bare])
    assert seed_table([{"a": 1}] * 2, [("x", 0), ("x", 1)], lambda v: v).shape == (1, 2)


def test_action_claims_count_the_trained_networks_and_respect_an_untestable_run():
    from polycode_utils.reports.ch06_projections import action_claims  # noqa: PLC0415
    from polycode_utils.networks.models import CONV_DEPTHS  # noqa: PLC0415

    layers = list(CONV_DEPTHS) + ["fc1", "mu"]
    keys = [("p = 0", 0), ("p = 0", 1), ("p = 0.8", 0), (CONTROL, 0), (CONTROL, 1)]
    rising = np.arange(1.0, len(layers) + 1)
    cols = {("p = 0", 0): rising, ("p = 0", 1): rising, ("p = 0.8", 0): rising[[2, 0, 4, 1, 3, 5, 6]],
            (CONTROL, 0): rising, (CONTROL, 1): rising}
    table = pd.DataFrame(cols, index=layers)
    table.columns = pd.MultiIndex.from_tuples(keys, names=["network", "seed"])
    alpha = -2 + 0.1 * table  # steeper alpha where the action is lower: Spearman +1 in every network
    out = action_claims(table, alpha, testable=True)  # the untrained twins do the same: that is no evidence
    assert out["claim_fig4c"] == "not distinguished from its control"
    assert "in 2 of 3 trained networks" in out["claim_fig4c_reason"] and "reaches 0" in out["claim_fig4c_reason"]
    assert "ordered so in 2 of 2 untrained networks" in out["claim_fig4c_control"]
    assert out["claim_fig4d"] == "not distinguished from its control"
    scrambled = rising[[3, 6, 0, 5, 1, 4, 2]]  # the controls' action: no order by depth, no link with alpha
    for seed in (0, 1):
        table[(CONTROL, seed)] = scrambled
    table[("p = 0.8", 0)] = rising
    alpha = -2 + 0.1 * table
    alpha[CONTROL] = -2 - 0.1 * table[CONTROL]  # steeper spectra with rougher trajectories in the controls
    out = action_claims(table, alpha, testable=True)
    assert out["claim_fig4c"] == "agrees" and "in 3 of 3 trained networks" in out["claim_fig4c_reason"]
    assert out["claim_fig4c_control"].startswith("|Spearman(depth, action)| over the conv stages, trained − untrained")
    assert out["claim_fig4d"] == "agrees" and "so in 0 of 2 untrained networks" in out["claim_fig4d_control"]
    untestable = action_claims(table, alpha, testable=False, why_not="too short")
    assert untestable["claim_fig4c"] == NOT_TESTABLE
    assert untestable["claim_fig4d_reason"] == "too short"
