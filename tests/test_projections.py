"""Known-answer tests for polycode_utils.instruments.projections and polycode_utils.instruments.stimuli (issue 6: Fig. 4
instruments)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polycode_utils.instruments.projections import action, projection_matrices, random_projections
from polycode_utils.instruments.stimuli import dot_centres, moving_dot


def circle(n_points: int, n_steps_per_loop: int) -> np.ndarray:
    """Points exp(2 pi i t / n_steps_per_loop) on the unit circle, t = 0..n_points-1, as (n_points, 2)."""
    theta = 2 * np.pi * np.arange(n_points) / n_steps_per_loop
    return np.column_stack([np.cos(theta), np.sin(theta)])


# ---------------------------------------------------------------- action


@pytest.mark.parametrize("T", [3, 10, 100])
def test_action_of_unit_circle(T: int) -> None:
    # T points round the circle, loop closed (T steps of chord 2 sin(pi/T)): sum ||dz||^2 = 4 T sin^2(pi/T).
    expected = 0.5 * 4 * T * np.sin(np.pi / T) ** 2
    assert action(circle(T, T), closed=True) == pytest.approx(expected, rel=1e-12)
    assert action(circle(T + 1, T)) == pytest.approx(expected, rel=1e-12)  # same loop, open, first point repeated
    assert action(circle(T, T)) == pytest.approx(expected * (T - 1) / T, rel=1e-12)  # open: T - 1 steps


def test_action_of_iid_noise_is_trace_of_covariance() -> None:
    # z_t i.i.d. with covariance S: E sum_{t<T} ||z_{t+1} - z_t||^2 = 2 (T - 1) tr S, so E action = (T - 1) tr S.
    rng = np.random.default_rng(0)
    n_traj, T, k = 4000, 20, 3
    L = rng.standard_normal((k, k))
    cov = L @ L.T + 0.1 * np.eye(k)
    z = rng.standard_normal((n_traj, T, k)) @ np.linalg.cholesky(cov).T
    a = action(z)
    assert a.shape == (n_traj,)
    se = a.std(ddof=1) / np.sqrt(n_traj)
    assert abs(a.mean() - (T - 1) * np.trace(cov)) < 3 * se


def test_action_is_batched_and_keeps_array_type() -> None:
    z = np.random.default_rng(1).standard_normal((4, 5, 30, 3))
    a = action(z)
    assert isinstance(a, np.ndarray) and a.shape == (4, 5)
    assert a[2, 3] == pytest.approx(0.5 * np.sum(np.diff(z[2, 3], axis=0) ** 2), rel=1e-12)
    at = action(torch.from_numpy(z))
    assert torch.is_tensor(at) and np.allclose(at.numpy(), a, rtol=1e-12)


@pytest.mark.parametrize("bad", [np.zeros(5), np.zeros((1, 3)), np.array([[0.0, 1.0], [np.nan, 0.0]])])
def test_action_rejects_bad_input(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="trajectories"):
        action(bad)


# ---------------------------------------------------------------- random projections


def test_projection_shapes_seeds_and_one_matmul_equals_loop() -> None:
    rng = np.random.default_rng(2)
    acts = rng.standard_normal((12, 4, 5, 5)).astype(np.float32)  # T x C x H x W, flattened per frame: m = 100
    z = random_projections(acts, n_projections=7, k=3, seed=11)
    assert isinstance(z, np.ndarray) and z.shape == (7, 12, 3) and z.dtype == np.float32
    assert np.array_equal(z, random_projections(acts, n_projections=7, k=3, seed=11))
    assert not np.allclose(z, random_projections(acts, n_projections=7, k=3, seed=12))
    r = projection_matrices(100, n_projections=7, k=3, seed=11)
    assert r.shape == (7, 100, 3)
    flat = torch.from_numpy(acts.reshape(12, -1))
    for p in range(7):
        np.testing.assert_allclose(z[p], (flat @ r[p]).numpy(), rtol=1e-5, atol=1e-5)
    zt = random_projections(torch.from_numpy(acts), n_projections=7, k=3, seed=11)
    assert torch.is_tensor(zt) and np.array_equal(zt.numpy(), z)


def test_projection_entries_have_variance_one_over_m() -> None:
    r = projection_matrices(500, n_projections=200, k=3, seed=0).numpy()
    assert r.mean() == pytest.approx(0.0, abs=4 / np.sqrt(r.size) / np.sqrt(500))
    assert r.var() * 500 == pytest.approx(1.0, abs=0.01)


def test_random_projection_scales_squared_norm_by_k_over_m() -> None:
    # ||R^T v||^2 = (||v||^2 / m) chi^2_k: mean k ||v||^2 / m, standard deviation sqrt(2k) ||v||^2 / m.
    m, k, n_proj = 64, 3, 20000
    v = np.random.default_rng(3).standard_normal(m)
    z = random_projections(v[None, :], n_projections=n_proj, k=k, seed=5)
    sq = np.sum(z[:, 0, :].astype(np.float64) ** 2, axis=1)
    norm2 = float(v @ v)
    se = np.sqrt(2 * k) * norm2 / m / np.sqrt(n_proj)
    assert abs(sq.mean() - k / m * norm2) < 3 * se


def test_mean_projected_action_is_k_over_m_of_full_action() -> None:
    frames = moving_dot(n_frames=40, size=16, radius=4, dot_radius=1.5, channels=1)
    m, k = frames[0].size, 3
    per_projection = action(random_projections(frames, n_projections=2000, k=k, seed=0).astype(np.float64))
    se = per_projection.std(ddof=1) / np.sqrt(per_projection.size)
    full = action(frames.reshape(len(frames), -1).astype(np.float64))
    assert abs(per_projection.mean() - k / m * full) < 3 * se


@pytest.mark.parametrize("kwargs, match", [
    ({"n_projections": 0}, "n_projections"), ({"k": 0}, "k"),
    ({"activations": np.zeros(5)}, "activations"),
    ({"activations": np.full((3, 4), np.inf)}, "activations"),
])
def test_random_projections_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        random_projections(**{"activations": np.zeros((3, 4)), **kwargs})


# ---------------------------------------------------------------- moving dot


def test_moving_dot_shape_range_and_channels() -> None:
    video = moving_dot()
    assert video.shape == (100, 3, 32, 32) and video.dtype == np.float32
    assert video.min() == 0.0 and video.max() == 1.0
    assert np.any((video > 0.05) & (video < 0.95))  # anti-aliased rim, not a hard 0/1 disc
    assert np.array_equal(video[:, 0], video[:, 2])
    assert moving_dot(n_frames=10, size=20, radius=5, channels=1).shape == (10, 1, 20, 20)


def test_moving_dot_centre_of_mass_follows_the_circle() -> None:
    video = moving_dot(n_frames=100, size=32, radius=10, dot_radius=2)[:, 0].astype(np.float64)
    grid = np.arange(32.0)
    mass = video.sum(axis=(1, 2))
    com = np.column_stack([(video * grid[:, None]).sum(axis=(1, 2)) / mass,
                           (video * grid[None, :]).sum(axis=(1, 2)) / mass])
    centres = dot_centres(100, 32, 10)
    assert np.abs(com - centres).max() < 0.5
    np.testing.assert_allclose(np.hypot(*(centres - 15.5).T), 10.0)  # angle 2 pi t / T round the centre
    theta = np.arctan2(centres[:, 0] - 15.5, centres[:, 1] - 15.5)
    np.testing.assert_allclose(np.unwrap(theta), 2 * np.pi * np.arange(100) / 100, atol=1e-12)


def test_moving_dot_changes_smoothly_round_the_loop() -> None:
    video = moving_dot()[:, 0].astype(np.float64)
    looped = np.concatenate([video, video[:1]])  # frame T would be frame 0: include the closing step
    steps = np.linalg.norm(np.diff(looped, axis=0).reshape(100, -1), axis=1)
    assert steps.max() / steps.min() < 1.25  # no jumps: every step, the closing one too, of similar size
    far = np.linalg.norm(video[50] - video[0])
    assert steps.max() < 0.5 * far  # a step is small next to half a loop


@pytest.mark.parametrize("kwargs, match", [
    ({"n_frames": 0}, "n_frames"), ({"size": 0}, "size"), ({"channels": 0}, "channels"),
    ({"dot_radius": 0}, "dot_radius"), ({"radius": 20}, "canvas"), ({"edge": -1.0}, "edge"),
])
def test_moving_dot_rejects_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        moving_dot(**kwargs)


# ---------------------------------------------------------------- edge cases (issue 15 #15)

def test_random_projections_checks_seed_and_k_at_most_m() -> None:
    a = np.random.default_rng(0).normal(size=(5, 4))
    for seed in (-1, 1.5, "0", True):
        with pytest.raises(ValueError, match="seed"):
            random_projections(a, 3, 2, seed=seed)
    with pytest.raises(ValueError, match="need k <= m"):
        random_projections(a, 3, 5)
    assert random_projections(a, 3, 4).shape == (3, 5, 4)
    with pytest.raises(ValueError, match="k: a projection of 3 units onto k = 10 > 3 dimensions"):
        projection_matrices(3, 2, 10)  # issue 25 #11: accepted where random_projections refused
    assert projection_matrices(3, 2, 3).shape == (2, 3, 3)
    with pytest.raises(ValueError, match="complex"):
        random_projections(a + 1j, 3, 2)


def test_action_does_not_overflow_in_half_precision() -> None:
    z = torch.tensor([[0.0, 0.0], [300.0, 0.0], [0.0, 400.0]], dtype=torch.float16)
    assert float(action(z)) == pytest.approx(0.5 * (300.0**2 + 300.0**2 + 400.0**2))
    assert np.isfinite(action(z.numpy()))
