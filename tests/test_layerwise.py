"""The layer-by-layer measurement (polycode_utils.layerwise): spectra by depth (Figs. 3, 5) and dot actions (Fig. 4)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from polycode_utils.data import evaluation_images
from polycode_utils.layerwise.common import depth_table
from polycode_utils.layerwise.eigenspectra import (LayerSpectrum, bits_lost, depth_trend, describe_coverage,
                                                   dropout_shape, format_alpha, layer_spectra, method_spread,
                                                   power_law_deviations, reliable_shares, spectrum_of)
from polycode_utils.models import DEPTH_NAMES
from polycode_utils.spectra import fit_power_law, fit_quality, power_law_samples
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


def test_bits_lost_match_theorem_4_on_an_exact_power_law() -> None:
    s = exact_spectrum("x", -1.5, n=120)
    measured, predicted = bits_lost(s)
    m = s.fit.fit_range[1]
    assert measured == pytest.approx(0.75 * np.sum(np.log2(np.arange(1, m + 1))) / m)  # -1/2 sum log2 i^-1.5
    assert predicted == pytest.approx(measured, rel=1e-6)
    assert bits_lost(exact_spectrum("flat", -1e-9))[0] == pytest.approx(0.0, abs=1e-6)
