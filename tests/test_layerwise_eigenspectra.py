"""Chapter 5's measurement (polycode_utils.layerwise.eigenspectra): spectra by depth over independent evaluation
sets, PC 1, cvPCA before dropout, and the summaries of Figs. 3 and 5 over seeds against the untrained control."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from polycode_utils.theory.claims import NOT_TESTABLE
from polycode_utils.networks.data import evaluation_images
from polycode_utils.networks.grid import rate_label
from polycode_utils.layerwise.common import CONTROL
from polycode_utils.layerwise.eigenspectra import (CrossValidated, LayerSpectrum, cross_validated, evaluation_sets,
                                                   grid_spectra, layer_spectra, mean_brightness, refit_from,
                                                   spectrum_of)
from polycode_utils.reports.ch05_spectra import (bits_lost, claim_resolution, cv_label, depth_trend, dropout_shape,
                                                 leading_component, method_spread, power_law_deviations,
                                                 reliable_shares, spectra_claims)
from polycode_utils.networks.models import DEPTH_NAMES, INPUT_DEPTH
from polycode_utils.instruments.spectra import fit_power_law, fit_quality, power_law_samples, t_interval
from polycode_utils.networks.grid import dropout_grid, load_networks


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


# ---------------------------------------------------------------- the measurement on known answers


@pytest.mark.parametrize("alpha", [-1.0, -2.0])
def test_layer_spectra_over_sets_recovers_known_exponent(alpha: float) -> None:
    d, n = 200, 2000
    model = KnownSpectrum(np.arange(1, d + 1, dtype=float) ** (alpha / 2), seed=1)
    sets = [torch.randn(n, d, generator=torch.Generator().manual_seed(s)) for s in (2, 3, 4)]
    s = layer_spectra(model, sets, ["linear"], fit_range=(1, 500), n_vectors=2)["linear"]
    assert s.n_units == d and s.n_images == n and len(s.set_eigenvalues) == 3 and s.set_alphas.shape == (3,)
    assert s.fit.fit_range == (1, d // 2)  # cut at half the rank
    assert s.alpha == pytest.approx(float(np.mean(s.set_alphas))) and s.ci == pytest.approx(t_interval(s.set_alphas))
    assert s.alpha == pytest.approx(alpha, abs=0.05)
    assert s.ci[0] - 0.01 <= alpha <= s.ci[1] + 0.01 and s.vectors.shape == (d, 2)


def test_wide_layer_goes_through_gram_form_and_one_set_has_no_interval() -> None:
    s = spectrum_of(power_law_samples(300, 2000, -2.0, seed=4), "wide", fit_range=(1, 30))
    assert s.eigenvalues.shape == (300,) and s.rank == 299
    assert s.alpha == pytest.approx(-2.0, abs=0.05) and np.isnan(s.ci[0])


def test_refit_after_pc1_removes_a_planted_first_component() -> None:
    # A power law n^-1.5 whose PC 1 is boosted 30-fold: the OLS fit from PC 1 is pulled steep, from PC 2 it is not
    # (Huber down-weights one outlying PC, but not a head of several).
    lam = np.arange(1, 301, dtype=float) ** -1.5
    x = np.random.default_rng(0).standard_normal((3000, 300)) * np.sqrt(lam)
    x[:, 0] *= np.sqrt(30.0)
    s = spectrum_of(x, "x", fit_range=(1, 100), method="ols")
    after = refit_from(s, 2)
    assert after.fit.fit_range == (2, 100) and after.eigenvalues is s.eigenvalues  # no new measurement
    assert after.fit.method == "ols"
    assert abs(after.alpha + 1.5) < 0.05 < abs(s.alpha + 1.5)
    assert s.pc1_share > 0.5


class Planted(nn.Module):
    """Two layers on images: 'bright' repeats each image's mean brightness on every unit (plus a little texture),
    'scrambled' sees only the texture (the brightness projected out)."""

    def __init__(self, d_in: int, m: int = 30) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        tex = torch.randn(m, d_in, generator=gen) * 0.2
        tex = tex - tex.mean(dim=1, keepdim=True)  # rows orthogonal to the constant direction: blind to brightness
        self.bright = nn.Linear(d_in, m, bias=False)
        self.scrambled = nn.Linear(d_in, m, bias=False)
        with torch.no_grad():
            self.bright.weight.copy_(torch.full((m, d_in), 5.0 / d_in) + 0.1 * tex)
            self.scrambled.weight.copy_(tex)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        return self.bright(flat) + self.scrambled(flat)


def test_a_planted_brightness_pc1_is_reported_as_such() -> None:
    rng = np.random.default_rng(1)
    images = (rng.uniform(0.2, 0.8, (600, 1, 1, 1)) + 0.1 * rng.standard_normal((600, 3, 4, 4))).astype(np.float32)
    model = Planted(48)
    spec = layer_spectra(model, [images[:300], images[300:]], ["bright", "scrambled"], fit_range=(1, 10))
    assert spec["bright"].pc1_corr > 0.95 and spec["bright"].pc1_share > 0.8
    assert spec["scrambled"].pc1_corr < 0.3
    np.testing.assert_allclose(mean_brightness(images[:3]), images[:3].reshape(3, -1).mean(axis=1), rtol=1e-6)
    keys = [(rate_label(0.0), 0), (CONTROL, 0)]
    lc = leading_component([spec, spec], keys, threshold=0.7)
    assert (lc.n_bright, lc.n_pc1_cells, lc.n_bright_control, lc.n_control_layers) == (1, 2, 1, 2)
    assert lc.pc1_share_max_where == "bright at p = 0" and lc.pc1_corr_max > 0.95 and np.isnan(lc.pc1_input_share)


def test_evaluation_sets_are_disjoint_and_cifar_is_checked_first() -> None:
    sets, data = evaluation_sets("patches", 20, 3, seed=0)
    assert len(sets) == 3 and all(s.shape == (20, 3, 32, 32) for s in sets) and len(data) == 60
    np.testing.assert_array_equal(sets[1], evaluation_images("patches", 60, seed=0).images[20:40])
    with pytest.raises(ValueError, match="n_eval_sets"):
        evaluation_sets("cifar10", 5000, 3, root="/nonexistent")  # before any attempt to load the data


def test_the_chapter4_networks_input_shared_and_cvpca_before_dropout(tmp_path) -> None:
    configs = dropout_grid([0.0, 0.5], seed=0, dataset="patches", width=2, latent_dim=4, epochs=1, n_images=64,
                           batch_size=32, lr=1e-3)
    nets = load_networks(configs, device="cpu", cache_dir=tmp_path, data_root=None, progress=False, controls=True)
    sets, _ = evaluation_sets("patches", 24, 2)
    spectra = grid_spectra([nets[0].model, nets[1].model], sets, ["input", "stem", "mu"], fit_range=(1, 20),
                           n_vectors=2)
    assert spectra[1]["input"] is spectra[0]["input"]  # the pixels, measured once
    assert list(spectra[0]) == ["input", "stem", "mu"] and spectra[0]["stem"].vectors.shape == (2 * 32 * 32, 2)
    assert spectra[0]["mu"].fit.fit_range == (1, 3)  # 4 latent units: the 3-PC floor
    cv = cross_validated(nets[1].trained.model, sets[0], ["input", "stem", "layer1", "mu"], fit_range=(1, 20))
    assert list(cv) == ["stem", "layer1", "mu"]  # the input has no dropout
    assert cv["stem"].reliable_share() == pytest.approx(1.0)  # no dropout mask before the stem's last one
    assert 0.0 < cv["mu"].reliable_share() < 1.0
    clean = cross_validated(nets[0].trained.model, sets[0], ["mu"], fit_range=(1, 20))  # p = 0: identical repeats
    assert clean["mu"].reliable_share() == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"fit_range": (1, 2, 3)}, "fit_range"), ({"fit_range": (5, 2)}, "fit_range"), ({"method": "lasso"}, "method"),
    ({"fit_range": (40, 100)}, "fit_range"), ({"n_vectors": -1}, "n_vectors"),
])
def test_layer_spectra_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    model = nn.Sequential(OrderedDict(fc=nn.Linear(10, 20)))
    with pytest.raises(ValueError, match=match):
        layer_spectra(model, torch.randn(50, 10), ["fc"], **kwargs)


# ---------------------------------------------------------------- summaries over seeds (known answers)


def exact_spectrum(layer: str, alpha: float, n: int = 60, wiggle: float = 0.0, alphas: dict | None = None,
                   set_alphas: tuple = ()) -> LayerSpectrum:
    """A layer whose eigenvalues are exactly n^alpha, times exp(wiggle sin(2 ln n)) (a deviation from the law)."""
    k = np.arange(1, n + 1, dtype=float)
    lam = k ** alpha * np.exp(wiggle * np.sin(2 * np.log(k)))
    fit = fit_power_law(lam, (1, n // 2), "ols")  # OLS: exact on a power law, and fast (the summaries need many)
    sets = np.array(set_alphas or (fit.alpha,))
    return LayerSpectrum(layer, 1000, n, [lam], fit, sets, t_interval(sets),
                         alphas or {"huber": fit.alpha, "ols": fit.alpha, "wls": fit.alpha}, fit_quality(lam, fit),
                         np.empty((n, 0)), np.array([np.nan]))


RATES = (0.0, 0.4, 0.8)
KEYS = [(rate_label(p), s) for p in RATES for s in range(3)] + [(CONTROL, s) for s in range(3)]


def grid(alpha_of: Callable[[int, str, int], float], **kwargs) -> list[dict]:
    """One network per KEYS entry; alpha_of(depth index, label, seed)."""
    return [{name: exact_spectrum(name, alpha_of(i, label, seed), **kwargs) for i, name in enumerate(DEPTH_NAMES)}
            for label, seed in KEYS]


def test_depth_trend_is_split_into_conv_and_dense_and_leaves_the_input_out() -> None:
    # conv stages flatten with depth, dense layers steepen; the input (depth 0) is steeper than everything.
    def alpha(i: int, label: str, seed: int) -> float:
        if i == 0:
            return -3.0
        return -1.5 + 0.1 * i if i <= 5 else -1.0 - 0.1 * i
    t = depth_trend(grid(alpha), KEYS)
    assert t.conv_direction == "less negative (flatter) with depth in every network"
    assert t.dense_direction == "more negative (steeper) with depth in every network"
    assert t.conv_direction_control == t.conv_direction and t.n_trained == 9 and t.n_seeds == 3
    assert t.rho_conv_text.startswith("p = 0 +1.00 ± 0.00") and "untrained +1.00" in t.rho_conv_text
    assert t.rho_dense_text.startswith("p = 0 -1.00")
    assert t.alpha_input == pytest.approx(-3.0) and t.alpha_conv_min == pytest.approx(-1.4)
    assert t.n_alpha == 27 and t.dense_units_min == 60


def test_claim_resolution_counts_effects_beyond_the_seed_spread() -> None:
    # Training steepens fc1 by 0.5 (+- 0.01 over seeds) at every rate; the highest rate moves nothing beyond noise.
    def alpha(i: int, label: str, seed: int) -> float:
        noise = 0.01 * (seed - 1)
        trained = label != CONTROL
        return -1.2 + noise - (0.5 if trained and DEPTH_NAMES[i] == "fc1" else 0.0) + (0.02 * seed if trained else 0)
    t = claim_resolution(grid(alpha), KEYS)
    assert t.n_cells == 27 and t.n_resolved_layers == 9
    assert t.n_training_beyond == 3  # fc1 at the three rates
    assert t.training_effect_text == "training steepened fc1 by 0.48 ± 0.02 (p = 0)"  # -0.5 + 0.02 seed, paired
    assert t.n_dropout_beyond == 0 and "cannot test the paper's claims about dropout" in t.can_test_text
    one_seed = [k for k in KEYS if k[1] == 0]
    assert "cannot test" in claim_resolution(grid(alpha)[::3], one_seed).can_test_text


def test_method_spread() -> None:
    spectra = [{"a": exact_spectrum("a", -1.0, alphas={"huber": -1.0, "ols": -1.2, "wls": -0.9}),
                "b": exact_spectrum("b", -1.0, alphas={"huber": -1.0, "ols": -1.1, "wls": -0.98})}]
    m = method_spread(spectra)
    assert (m.diff_ols, m.diff_wls) == pytest.approx((0.2, 0.1)) and m.med_ols == pytest.approx(0.15)
    assert "no interval" in m.ols_beyond_text
    with_ci = [{"a": exact_spectrum("a", -1.0, alphas={"huber": -1.0, "ols": -1.2, "wls": -1.0},
                                    set_alphas=(-1.0, -1.02, -0.98))}]
    assert method_spread(with_ci).ols_beyond_text.startswith("in 1 of the 1 spectra")


def test_power_law_deviations_find_the_planted_one() -> None:
    spectra = grid(lambda i, label, s: -1.2)
    spectra[8]["fc2"] = exact_spectrum("fc2", -1.2, wiggle=1.5)  # p = 0.8, seed 2
    d = power_law_deviations(spectra, KEYS, min_r2=0.9)
    assert d.n_far == 1 and d.n_spectra == 12 * 9 and d.far_text == "fc2 in 1 of 12 networks"
    assert d.far_summary.startswith("1 of them are dense layers") and d.cliff_text.startswith("fc2 in p = 0.8 #2")
    clean = power_law_deviations(grid(lambda i, label, s: -1.2), KEYS, min_r2=0.9)
    assert clean.n_far == 0 and clean.far_text == "none"
    with pytest.raises(ValueError, match="min_r2"):
        power_law_deviations(spectra, KEYS, min_r2=2.0)


@pytest.mark.parametrize("grow, verdict", [(1.0, "consistent"), (-1.0, "not consistent")])
def test_dropout_shape_verdict_follows_the_deviation_over_seeds(grow: float, verdict: str) -> None:
    def amp(label: str, seed: int) -> float:
        r = 0.0 if label == CONTROL else float(label.split("= ")[1])
        return 0.2 + 0.5 * (r if grow > 0 else 0.8 - r) + 0.01 * seed
    spectra = [{name: exact_spectrum(name, -1.2, wiggle=amp(label, seed)) for name in DEPTH_NAMES}
               for label, seed in KEYS]
    d = dropout_shape(spectra, KEYS, list(RATES), "layer4")
    assert d.f5_verdict.startswith(verdict + " with the paper's claim")
    assert (d.f5_rms_last > d.f5_rms_first) == (grow > 0) and d.rho_f5 == pytest.approx(grow)
    assert d.n_layers == 9 and d.n_more_dev == (9 if grow > 0 else 0) and d.p_last == 0.8
    assert d.n_more_beyond == (9 if grow > 0 else 0) and np.isfinite(d.f5_rms_control)
    with pytest.raises(ValueError, match="fig5_layer"):
        dropout_shape(spectra, KEYS, list(RATES), INPUT_DEPTH)


def test_dropout_shape_within_the_seed_spread_is_not_settled() -> None:
    def amp(label: str, seed: int) -> float:
        r = 0.0 if label == CONTROL else float(label.split("= ")[1])
        return 0.5 + 0.1 * seed + r * (0.1, -0.02, 0.1)[seed]  # a rise on average, not in every seed
    spectra = [{name: exact_spectrum(name, -1.2, wiggle=amp(label, seed)) for name in DEPTH_NAMES}
               for label, seed in KEYS]
    assert dropout_shape(spectra, KEYS, list(RATES), "layer4").f5_verdict.startswith("not settled by this run")


def test_reliable_shares_against_the_control() -> None:
    def cv(share_a: float, share_b: float) -> dict:
        lam = np.arange(1, 21, dtype=float) ** -1.0
        return {"a": CrossValidated("a", share_a * lam, lam, 10), "b": CrossValidated("b", share_b * lam, lam, 10)}
    keys = [(rate_label(0.8), s) for s in range(3)] + [(cv_label(0.8), s) for s in range(3)]
    res = [cv(0.3 + 0.01 * s, 0.7) for s in range(3)] + [cv(0.1, 0.7 + 0.01 * s) for s in range(3)]
    r = reliable_shares(res, keys, 0.8)
    assert (r.cv_rel_min, r.cv_rel_min_layer, r.cv_rel_max_layer) == pytest.approx((0.31, "a", "b"))
    assert r.cv_ctrl_min == pytest.approx(0.1) and (r.n_cv_above, r.n_cv_below, r.n_cv_layers) == (1, 0, 2)
    with pytest.raises(ValueError, match="p"):
        reliable_shares(res, keys, 0.4)


def test_bits_lost_match_theorem_4_on_an_exact_power_law() -> None:
    s = exact_spectrum("x", -1.5, n=120)
    measured, predicted = bits_lost(s)
    assert measured == pytest.approx(predicted, rel=1e-6)


def test_spectra_claims_count_their_cases() -> None:
    # Every trained network: alpha falls with depth in both parts (Fig. 3c agrees); deviation grows with the rate in
    # every layer in every seed, also after PC 1 (Fig. 5 agrees); untestable runs say why.
    def amp(label: str, seed: int) -> float:
        return 0.2 + (0.0 if label == CONTROL else 0.6 * float(label.split("= ")[1])) + 0.01 * seed
    spectra = [{name: exact_spectrum(name, -1.0 - 0.1 * i, wiggle=amp(label, seed))
                for i, name in enumerate(DEPTH_NAMES)} for label, seed in KEYS]
    pc2 = [{name: refit_from(s, 2) for name, s in spec.items()} for spec in spectra]
    c = spectra_claims(spectra, pc2, KEYS, list(RATES), "layer4", testable=True)
    assert c["claim_fig3c"] == "not distinguished from its control"  # the untrained twins are ordered as well
    assert "in 9 of 9 trained networks" in c["claim_fig3c_reason"]
    assert "ordered so in 3 of 3 untrained networks" in c["claim_fig3c_control"]
    order = [0, 3, 1, 5, 2, 4, 8, 6, 9, 7]  # the controls' alpha: no order by depth
    flat = [{name: exact_spectrum(name, -1.0 - 0.1 * order[i], wiggle=amp(label, seed)) if label == CONTROL
             else spec[name] for i, name in enumerate(DEPTH_NAMES)} for (label, seed), spec in zip(KEYS, spectra)]
    c2 = spectra_claims(flat, pc2, KEYS, list(RATES), "layer4", testable=True)
    assert c2["claim_fig3c"] == "agrees", c2["claim_fig3c_control"]
    assert "trained − untrained: +" in c2["claim_fig3c_control"]
    assert c["claim_fig5"] == "agrees" and "9 of 9 fitted from PC 1" in c["claim_fig5_measured"]
    no = spectra_claims(spectra, pc2, KEYS, list(RATES), "layer4", testable=False, why_not="too little training")
    assert no["claim_fig5"] == NOT_TESTABLE and no["claim_fig5_reason"] == "too little training"
