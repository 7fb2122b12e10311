"""The layer-by-layer measurement (polycode_utils.layerwise): spectra by depth (Figs. 3, 5) and dot actions (Fig. 4)."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from polycode_utils.data import evaluation_images
from polycode_utils.layerwise import dot_actions, layer_spectra, spectrum_of
from polycode_utils.models import DEPTH_NAMES, ResNetAutoencoder
from polycode_utils.spectra import power_law_samples
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
