"""Chapter 5 (Fig. 4): actions of random projections of a moving dot, through polycode_utils.depth.dot_actions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from polycode_utils.depth import dot_actions
from polycode_utils.models import DEPTH_NAMES, ResNetAutoencoder
from polycode_utils.stimuli import moving_dot

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
