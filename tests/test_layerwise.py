"""The layer-by-layer measurement (polycode_utils.layerwise): spectra by depth (Figs. 3, 5) and dot actions (Fig. 4)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from polycode_utils.data import evaluation_images
from polycode_utils.layerwise.actions import (LayerAction, action_alpha, action_order, circle_action, dot_actions,
                                              iid_action, last_dot_pc, monte_carlo_gap, noise_like_layers,
                                              shown_network, stringer_bound, stringer_check)
from polycode_utils.layerwise.common import depth_table
from polycode_utils.layerwise.eigenspectra import (LayerSpectrum, bits_lost, depth_trend, describe_coverage,
                                                   dropout_shape, format_alpha, layer_spectra, method_spread,
                                                   power_law_deviations, reliable_shares, spectrum_of)
from polycode_utils.models import DEPTH_NAMES, ResNetAutoencoder
from polycode_utils.spectra import fit_power_law, fit_quality, power_law_samples
from polycode_utils.stimuli import moving_dot
from polycode_utils.training import dropout_grid, load_networks


class KnownSpectrum(nn.Module):
    """A linear layer W = U diag(s) V^T with chosen singular values: on N(0, I) input its covariance is U s^2 U^T."""

    def __init__(self, singular_values: np.ndarray, seed: int = 0) -> None:
        super().__init__()
        d = singular_values.size
        gen = torch.Generator().manual_seed(seed)
        u, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
        v, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
        w = u @ torch.diag(torch.as_tensor(singular_values, dtype=torch.float64)) @ v.T
        self.linear = nn.Linear(d, d, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(w.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


# ---------------------------------------------------------------- the chapter-5 path on a known network


@pytest.mark.parametrize("alpha", [-1.0, -2.0])
def test_layer_spectra_recovers_known_exponent(alpha: float) -> None:
    d, n = 200, 4000
    model = KnownSpectrum(np.arange(1, d + 1, dtype=float) ** (alpha / 2), seed=1)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(2))
    spec = layer_spectra(model, x, ["linear"], fit_range=(1, 500), n_bootstrap=30, seed=0, n_vectors=2)
    s = spec["linear"]
    assert list(spec) == ["linear"] and s.n_units == d and s.n_images == n
    assert s.fit.fit_range == (1, d // 2)  # cut at half the rank
    assert s.alpha == pytest.approx(alpha, abs=0.05)
    assert s.ci[0] - 0.01 <= alpha <= s.ci[1] + 0.01
    assert set(s.alphas) == {"huber", "ols", "wls"} and s.quality.r2 > 0.99
    assert s.vectors.shape == (d, 2) and s.cv_eigenvalues is None


def test_wide_layer_goes_through_gram_form() -> None:
    # More units than images: the spectrum (rank N - 1) comes from the Gram matrix; alpha of a steep law survives.
    x = power_law_samples(300, 2000, -2.0, seed=4)
    s = spectrum_of(x, "wide", fit_range=(1, 30), n_bootstrap=10, seed=0)
    assert s.eigenvalues.shape == (300,) and s.rank == 299
    assert s.alpha == pytest.approx(-2.0, abs=0.05)
    assert s.ci[0] - 0.02 <= -2.0 <= s.ci[1] + 0.02


def test_dropout_noise_repeats_and_cv() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(fc=nn.Linear(20, 50), relu=nn.ReLU(), drop=nn.Dropout(0.5),
                                      out=nn.Linear(50, 30))).eval()
    x = torch.randn(200, 20, generator=torch.Generator().manual_seed(1))
    spec = layer_spectra(model, x, ["out"], fit_range=(1, 10), n_bootstrap=0, cv=True)
    assert 0.0 < spec["out"].reliable_share() < 1.0
    clean = nn.Sequential(OrderedDict(fc=nn.Linear(20, 30))).eval()
    same = layer_spectra(clean, x, ["fc"], fit_range=(1, 10), n_bootstrap=0, cv=True)["fc"]
    assert same.reliable_share() == pytest.approx(1.0, abs=1e-9)
    assert np.isnan(same.ci[0])


@pytest.mark.parametrize("kwargs, match", [
    ({"fit_range": (1, 2, 3)}, "fit_range"), ({"fit_range": (5, 2)}, "fit_range"), ({"method": "lasso"}, "method"),
    ({"n_bootstrap": -1}, "n_bootstrap"), ({"cv": "yes"}, "cv"), ({"fit_range": (40, 100)}, "fit_range"),
])
def test_layer_spectra_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    model = nn.Sequential(OrderedDict(fc=nn.Linear(10, 20)))
    with pytest.raises(ValueError, match=match):
        layer_spectra(model, torch.randn(50, 10), ["fc"], **kwargs)


def test_spectra_of_the_chapter3_networks(tmp_path) -> None:
    configs = dropout_grid([0.0, 0.5], seed=0, dataset="patches", width=2, latent_dim=4, epochs=1, n_images=64,
                           batch_size=32, lr=1e-3)
    net = load_networks(configs, device="cpu", cache_dir=tmp_path, data_root=None, progress=False)[1]
    ev = evaluation_images("patches", 24)
    spec = layer_spectra(net.model, ev.images, ["stem", "mu"], fit_range=(1, 20), n_bootstrap=3,
                         n_vectors=2, cv=True, noise_model=net.trained.model)
    assert list(spec) == ["stem", "mu"] and spec["stem"].vectors.shape == (2 * 32 * 32, 2)
    assert spec["mu"].fit.fit_range == (1, 3)  # 4 latent units: the 3-PC floor


# ---------------------------------------------------------------- summaries of Figs. 3 and 5 (known answers)


def exact_spectrum(layer: str, alpha: float, n: int = 60, wiggle: float = 0.0,
                   alphas: dict | None = None, ci: tuple = (np.nan, np.nan), share: float | None = None
                   ) -> LayerSpectrum:
    """A layer whose eigenvalues are exactly n^alpha, times exp(wiggle sin(2 ln n)) (a deviation from the law)."""
    k = np.arange(1, n + 1, dtype=float)
    lam = k ** alpha * np.exp(wiggle * np.sin(2 * np.log(k)))
    fit = fit_power_law(lam, (1, n // 2))
    cv = None if share is None else share * lam
    return LayerSpectrum(layer, 1000, n, lam, fit, ci, alphas or {"huber": fit.alpha, "ols": fit.alpha,
                                                                  "wls": fit.alpha},
                         fit_quality(lam, fit), np.empty((n, 0)), cv, None if share is None else lam)


def grid(alpha_of: Callable[[int, int], float], rates=(0.0, 0.4, 0.8), **kwargs) -> list[dict]:
    return [{name: exact_spectrum(name, alpha_of(i, j), **kwargs) for i, name in enumerate(DEPTH_NAMES)}
            for j in range(len(rates))]


def test_depth_table_and_formats() -> None:
    spectra = grid(lambda i, j: -1.0 - 0.1 * i)
    table = depth_table(spectra, [0.0, 0.4, 0.8], lambda s: s.alpha)
    assert list(table.columns) == ["p = 0", "p = 0.4", "p = 0.8"] and list(table.index) == list(DEPTH_NAMES)
    np.testing.assert_allclose(table["p = 0.4"], -1.0 - 0.1 * np.arange(9), atol=1e-9)
    assert format_alpha(exact_spectrum("x", -1.5, ci=(-1.6, -1.4))) == "-1.50 [-1.60, -1.40]"
    assert format_alpha(exact_spectrum("x", -1.5)) == "-1.50"
    with pytest.raises(ValueError, match="rates"):
        depth_table(spectra, [0.0], lambda s: s.alpha)


@pytest.mark.parametrize("slope, direction", [(-0.1, "more negative (steeper) with depth in every network"),
                                              (0.1, "less negative (flatter) with depth in every network")])
def test_depth_trend_of_a_planted_trend(slope: float, direction: str) -> None:
    t = depth_trend(grid(lambda i, j: -1.5 + slope * i), [0.0, 0.4, 0.8])
    assert t.rho_min == t.rho_max == pytest.approx(np.sign(slope)) and t.alpha_direction == direction
    assert t.n_steeper == (3 if slope < 0 else 0) and t.n_networks == 3
    assert (t.alpha_first_layer, t.alpha_last_layer) == ("stem", "mu")
    assert t.alpha_conv_min == pytest.approx(min(-1.5, -1.5 + 4 * slope))
    assert t.alpha_dense_max == pytest.approx(max(-1.5 + 5 * slope, -1.5 + 8 * slope))
    assert t.n_below_m1 == (27 if slope < 0 else 3 * 5) and t.n_alpha == 27  # -1.5 + 0.1 i < -1 for i < 5


def test_depth_trend_that_differs_between_networks() -> None:
    t = depth_trend(grid(lambda i, j: -1.5 + (0.1 if j == 1 else -0.1) * i), [0.0, 0.4, 0.8])
    assert t.alpha_direction == "not ordered the same way by depth in every network"
    assert t.rho_mean == pytest.approx(-1 / 3)


def test_method_spread() -> None:
    spectra = [{"a": exact_spectrum("a", -1.0, alphas={"huber": -1.0, "ols": -1.2, "wls": -0.9}),
                "b": exact_spectrum("b", -1.0, alphas={"huber": -1.0, "ols": -1.1, "wls": -0.98})}]
    m = method_spread(spectra)
    assert (m.diff_ols, m.diff_wls) == pytest.approx((0.2, 0.1)) and m.med_ols == pytest.approx(0.15)
    assert "no interval" in m.ols_beyond_text
    with_ci = [{"a": exact_spectrum("a", -1.0, alphas={"huber": -1.0, "ols": -1.2, "wls": -1.0}, ci=(-1.1, -0.95))}]
    assert method_spread(with_ci).ols_beyond_text.startswith("in 1 of the 1 spectra")


def test_power_law_deviations_find_the_planted_one() -> None:
    spectra = grid(lambda i, j: -1.2)
    spectra[2]["fc2"] = exact_spectrum("fc2", -1.2, wiggle=1.5)
    d = power_law_deviations(spectra, [0.0, 0.4, 0.8], min_r2=0.9)
    assert d.n_far == 1 and d.n_spectra == 27 and d.far_text.startswith("fc2 at p = 0.8")
    assert d.far_summary == "1 of them lie in the later half of the network (fc2 in all)"
    assert d.cliff_text.startswith("fc2 at p = 0.8") and d.cliff_late >= d.cliff_early
    clean = power_law_deviations(grid(lambda i, j: -1.2), [0.0, 0.4, 0.8], min_r2=0.9)
    assert clean.n_far == 0 and clean.far_text == "none"
    with pytest.raises(ValueError, match="min_r2"):
        power_law_deviations(spectra, [0.0, 0.4, 0.8], min_r2=2.0)


@pytest.mark.parametrize("grow, verdict", [(1.0, "consistent"), (-1.0, "not consistent")])
def test_dropout_shape_verdict_follows_the_deviation(grow: float, verdict: str) -> None:
    rates = [0.0, 0.4, 0.8]
    amp = [0.2 + 0.5 * (r if grow > 0 else 0.8 - r) for r in rates]  # deviation grows (or shrinks) with the rate
    spectra = [{name: exact_spectrum(name, -1.2, wiggle=a) for name in DEPTH_NAMES} for a in amp]
    d = dropout_shape(spectra, rates, "layer4")
    assert d.f5_verdict.startswith(verdict + " with the paper's claim")
    assert (d.f5_rms_last > d.f5_rms_first) == (grow > 0) and d.rho_f5 == pytest.approx(grow)
    assert d.n_more_dev == (9 if grow > 0 else 0) and d.n_up_strong == (9 if grow > 0 else 0) and d.p_last == 0.8
    with pytest.raises(ValueError, match="fig5_layer"):
        dropout_shape(spectra, rates, "conv9")


def test_reliable_shares_and_coverage() -> None:
    spectra = [{"a": exact_spectrum("a", -1.0, share=1.0), "b": exact_spectrum("b", -1.0, share=1.0)},
               {"a": exact_spectrum("a", -1.0, share=0.3), "b": exact_spectrum("b", -1.0, share=0.7)}]
    r = reliable_shares(spectra, [0.0, 0.5])
    assert (r.cv_rel_min, r.cv_rel_min_layer, r.cv_rel_max, r.cv_rel_max_layer) == pytest.approx((0.3, "a", 0.7, "b"))
    assert describe_coverage((-1.1, -0.9), -1.0) == "it contains the truth"
    assert describe_coverage((-0.95, -0.9), -1.0) == "it misses the truth by 0.050"
    assert describe_coverage((np.nan, np.nan), -1.0).startswith("no interval")


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


def test_stringer_bound_and_shown_network() -> None:
    assert stringer_bound(1) == -3.0 and stringer_bound(2) == -2.0 and stringer_bound(math.inf) == -1.0
    with pytest.raises(ValueError, match="d"):
        stringer_bound(0)
    assert shown_network(0.4, [0, 0.2, 0.4]) == 2 and shown_network(0, [0, 0.2]) == 0
    with pytest.raises(ValueError, match="show_dropout"):
        shown_network(0.3, [0, 0.2, 0.4])


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


def test_bits_lost_match_theorem_4_on_an_exact_power_law() -> None:
    s = exact_spectrum("x", -1.5, n=120)
    measured, predicted = bits_lost(s)
    m = s.fit.fit_range[1]
    assert measured == pytest.approx(0.75 * np.sum(np.log2(np.arange(1, m + 1))) / m)  # -1/2 sum log2 i^-1.5
    assert predicted == pytest.approx(measured, rel=1e-6)
    assert bits_lost(exact_spectrum("flat", -1e-9))[0] == pytest.approx(0.0, abs=1e-6)
