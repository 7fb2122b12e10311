"""Chapter 4 (Figs. 3 and 5): the Gram-form spectra, fit quality, and the per-layer path of polycode_utils.depth."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from polycode_utils.build import Project, check_shared_defaults, resolve_parameters
from polycode_utils.depth import (chapter3_configs, check_layers, dropout_noise_copy, evaluation_images,
                                  layer_spectra, load_networks, power_law_samples, spectrum_of)
from polycode_utils.models import DEPTH_NAMES
from polycode_utils.spectra import (CovarianceAccumulator, bootstrap_eigenspectra, clip_fit_range, cv_eigenspectrum,
                                    cv_spectra, eigenspectrum, fit_power_law, fit_quality,
                                    gram_bootstrap_eigenspectra, numerical_rank, principal_components)
from polycode_utils.training import load_training_data

ROOT = Path(__file__).resolve().parents[1]


def gaussian(n: int, d: int, alpha: float, seed: int) -> np.ndarray:
    """n samples in d dims, eigenvalues n^alpha in a random basis, mean 3 (tests centring)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return 3.0 + (rng.standard_normal((n, d)) * np.arange(1, d + 1) ** (alpha / 2)) @ q.T


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


# ---------------------------------------------------------------- the Gram form equals the covariance


@pytest.mark.parametrize("n, d", [(60, 150), (200, 30)])
def test_principal_components_match_covariance(n: int, d: int) -> None:
    x = gaussian(n, d, -1.0, seed=0)
    lam, vecs = principal_components(x, 4)
    ref = eigenspectrum(x)
    m = min(n, d)
    assert lam.shape == (m,)
    np.testing.assert_allclose(lam[:m - 1], ref[:m - 1], rtol=1e-9, atol=1e-12)
    ref_vecs = CovarianceAccumulator(d).update(x).eigenvectors(4)
    np.testing.assert_allclose(np.abs(vecs.T @ ref_vecs), np.eye(4), atol=1e-8)  # same directions (sign free)
    assert np.all(vecs[np.abs(vecs).argmax(axis=0), np.arange(4)] > 0)  # sign fixed: largest entry positive


def test_gram_bootstrap_is_bootstrap_eigenspectra() -> None:
    x = gaussian(40, 90, -1.0, seed=1)
    a = bootstrap_eigenspectra(x, 4, seed=3)[:, :40]
    b = gram_bootstrap_eigenspectra(x, 4, seed=3)
    np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize("n, d", [(50, 120), (150, 20)])
def test_cv_spectra_match_cv_eigenspectrum(n: int, d: int) -> None:
    x1 = gaussian(n, d, -1.0, seed=2)
    x2 = x1 + 0.3 * np.random.default_rng(5).standard_normal(x1.shape)
    cv, own = cv_spectra(x1, x2)
    m = min(n, d) - 1
    np.testing.assert_allclose(cv[:m], cv_eigenspectrum(x1, x2)[:m], rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(own[:m], eigenspectrum(x1)[:m], rtol=1e-8, atol=1e-11)
    same, own_same = cv_spectra(x1, x1)  # identical repeats: every PC reproduced exactly
    np.testing.assert_allclose(same[:m], own_same[:m], rtol=1e-9)


def test_clip_fit_range() -> None:
    lam = np.arange(1, 201, dtype=float) ** -1.0
    assert clip_fit_range(lam, (1, 500), n_samples=1000) == (1, 100)   # half the rank (200 units)
    assert clip_fit_range(lam, (1, 500), n_samples=51) == (1, 25)      # rank limited by the samples: 50
    assert clip_fit_range(lam, (1, 30), n_samples=1000) == (1, 30)
    assert clip_fit_range(lam[:4], (1, 500), n_samples=100) == (1, 3)  # narrow layer: at least 3 PCs
    assert numerical_rank(np.concatenate([lam[:10], [0.0, -1e-18]])) == 10
    with pytest.raises(ValueError, match="fit_range"):
        clip_fit_range(lam, (0, 10), 100)
    with pytest.raises(ValueError, match="n_samples"):
        clip_fit_range(lam, (1, 10), 1)


def test_fit_quality_tells_power_law_from_linear_code() -> None:
    n = np.arange(1, 101, dtype=float)
    power = n ** -1.3
    q = fit_quality(power, fit_power_law(power, (1, 100)))
    assert q.r2 == pytest.approx(1.0, abs=1e-9) and abs(q.curvature) < 1e-6 and q.rms_residual < 1e-6
    assert abs(q.cliff) < 1e-9
    # A linear code: 10 similar eigenvalues (a plateau), then a cliff of three decades, then a power-law tail.
    code = np.where(n <= 10, 1.0 - 0.01 * n, 1e-3 * n ** -1.0)
    qc = fit_quality(code, fit_power_law(code, (1, 100), "ols"))
    assert qc.r2 < 0.9 and qc.max_abs_residual > 0.5
    assert qc.cliff_at == 10 and qc.cliff > 2.5
    # Plateau then cliff at the end of the range: concave.
    qe = fit_quality(code[:12], fit_power_law(code[:12], (1, 12), "ols"))
    assert qe.curvature < -1.0 and qe.cliff_at == 10
    with pytest.raises(ValueError, match="fit"):
        fit_quality(power, (1, 100))


# ---------------------------------------------------------------- the chapter-4 path on a known network


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
    with torch.no_grad():
        a, b, a_again = (dropout_noise_copy(model, s)(x) for s in (1, 2, 1))  # seeded: fresh copies repeat
        assert not torch.equal(a, b) and torch.equal(a, a_again)
        assert torch.equal(model(x), model(x)) and isinstance(model.drop, nn.Dropout)  # the original is untouched
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


def test_check_layers_and_configs() -> None:
    assert check_layers(["mu", "stem", "mu"]) == ["stem", "mu"]  # depth order, once each
    assert check_layers(list(DEPTH_NAMES)) == list(DEPTH_NAMES)
    for bad in (["stem", "conv9"], [], "stem"):
        with pytest.raises(ValueError, match="layers"):
            check_layers(bad)
    with pytest.raises(ValueError, match="dropout_rates"):
        chapter3_configs([], seed=0, dataset="patches", width=2, latent_dim=4, epochs=1, n_patches=96,
                         batch_size=32, lr=1e-3)
    with pytest.raises(ValueError, match="dropout"):
        chapter3_configs([1.2], seed=0, dataset="patches", width=2, latent_dim=4, epochs=1, n_patches=96,
                         batch_size=32, lr=1e-3)
    with pytest.raises(ValueError, match="dataset"):
        evaluation_images("imagenet", 10)
    with pytest.raises(ValueError, match="alpha"):
        power_law_samples(10, 10, 0.5)


# ---------------------------------------------------------------- the chapter-3 networks, held-out images


def test_evaluation_images_are_held_out(tmp_path) -> None:
    config = chapter3_configs([0.0], seed=0, dataset="patches", width=2, latent_dim=4, epochs=1, n_patches=96,
                              batch_size=32, lr=1e-3)[0]
    train = load_training_data(config).images
    ev = evaluation_images("patches", 96, seed=0)
    assert ev.images.shape == train.shape and ev.description.seed == 1000
    assert not any(np.array_equal(e, t) for e in ev.images[:20] for t in train)
    assert np.array_equal(ev.images, evaluation_images("patches", 96, seed=0).images)


def test_load_networks_trains_once_then_loads(tmp_path) -> None:
    configs = chapter3_configs([0.0, 0.5], seed=0, dataset="patches", width=2, latent_dim=4, epochs=1,
                               n_patches=64, batch_size=32, lr=1e-3)
    first = load_networks(configs, device="cpu", cache_dir=tmp_path, progress=False)
    again = load_networks(configs, device="cpu", cache_dir=tmp_path, progress=False, batchnorm="as_trained")
    assert [n.dropout for n in first] == [0.0, 0.5] and all(n.trained.from_cache for n in again)
    assert not first[1].model.training and first[1].batchnorm == "recalibrated"
    state = first[1].model.state_dict()
    assert any(not torch.equal(state[k], again[1].model.state_dict()[k]) for k in state if "running" in k)
    with pytest.raises(ValueError, match="batchnorm"):
        load_networks(configs, cache_dir=tmp_path, batchnorm="fresh")
    ev = evaluation_images("patches", 24)
    spec = layer_spectra(first[1].model, ev.images, ["stem", "mu"], fit_range=(1, 20), n_bootstrap=3,
                         n_vectors=2, cv=True, noise_model=first[1].trained.model)
    assert list(spec) == ["stem", "mu"] and spec["stem"].vectors.shape == (2 * 32 * 32, 2)
    assert spec["mu"].fit.fit_range == (1, 3)  # 4 latent units: the 3-PC floor


# ---------------------------------------------------------------- the chapter's declarations


@pytest.mark.parametrize("chapter", ["04_spectra", "05_projections"])
def test_chapter_parameters_agree_with_profiles(chapter: str) -> None:
    project = Project.load(ROOT)
    check_shared_defaults(project)
    for profile in ("smoke", "default", "paper"):
        values = resolve_parameters(project, project.chapter(chapter), profile, [])
        assert values["profile"] == profile
