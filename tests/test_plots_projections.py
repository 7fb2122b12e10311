"""The moving-dot figures (polycode_utils.plots.projections): what each draws, from known results."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from polycode_utils.layerwise.actions import (ActionScaling, LayerAction, circle_action, iid_action,
                                              trajectory_actions)
from polycode_utils.layerwise.common import CONTROL, over_seeds
from polycode_utils.plots.projections import (plot_action_against_alpha, plot_action_by_depth, plot_action_scaling,
                                              plot_action_theory, plot_dot_frames, plot_trajectories)
from polycode_utils.instruments.stimuli import moving_dot

T, K = 12, 3


@pytest.fixture(autouse=True)
def no_open_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == []  # every plotting function closes its figure


def layer(name: str, mean: float, units: int = 8, mean_activation: float = 0.5) -> LayerAction:
    """A layer whose 4 projections have actions mean-1 .. mean+1 and a circle as its first trajectory."""
    theta = 2 * np.pi * np.arange(T) / T
    z = np.stack([np.cos(theta), np.sin(theta), np.zeros(T)], axis=1)[None]
    return LayerAction(name, units, mean + np.array([-1.0, 0.0, 0.0, 1.0]), mean * 1.01, 1.0, z, None, None,
                       mean_activation)


def network(scale: float) -> dict[str, LayerAction]:
    return {name: layer(name, scale * (i + 1)) for i, name in enumerate(["stem", "fc1", "mu"])}


def test_dot_frames_shows_evenly_spaced_frames() -> None:
    fig = plot_dot_frames(moving_dot(T, size=32, radius=10.0, dot_radius=2.0), n_show=4)
    assert [ax.get_title() for ax in fig.axes] == ["t = 0", "t = 3", "t = 6", "t = 9"]
    assert len(plot_dot_frames(moving_dot(3, size=32, radius=10.0, dot_radius=2.0)).axes) == 3  # at most T
    with pytest.raises(ValueError, match="n_show"):
        plot_dot_frames(moving_dot(3, size=32, radius=10.0, dot_radius=2.0), n_show=0)


def test_trajectories_one_3d_panel_per_layer() -> None:
    fig = plot_trajectories({"stem": layer("stem", 2.0, 16, 0.25), "mu": layer("mu", 5.0, 4)})
    assert [ax.get_title() for ax in fig.axes] == ["stem (m = 16)", "mu (m = 4)"]
    assert all(ax.name == "3d" for ax in fig.axes)
    assert len(fig.axes[0].lines) == T  # the closed loop: T segments
    assert fig.axes[0].texts[0].get_text() == "mean activation 0.25\naction 1"
    bare = layer("mu", 5.0)
    bare.trajectories = np.zeros((0, T, K))
    with pytest.raises(ValueError, match="n_keep"):
        plot_trajectories({"mu": bare})


KEYS = [("p = 0", 0), ("p = 0", 1), (CONTROL, 0), (CONTROL, 1)]
LAYERS = ["input", "stem", "fc1", "mu"]


def seeds(rows: dict[str, list[float]]) -> pd.DataFrame:
    """A seed table: layers x (network, seed) of KEYS."""
    t = pd.DataFrame(np.asarray(list(rows.values()), float), index=pd.Index(list(rows), name="depth"))
    t.columns = pd.MultiIndex.from_tuples(KEYS, names=["network", "seed"])
    return t


@pytest.mark.parametrize("normalised", [True, False])
def test_action_by_depth_lines_controls_and_references(normalised: bool) -> None:
    table = seeds({"input": [5, 5, 5, 5], "stem": [1, 3, 10, 10], "fc1": [2, 2, 20, 20], "mu": [4, 4, 40, 40]})
    fig = plot_action_by_depth(over_seeds(table), k=K, n_frames=T, normalised=normalised)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"p = 0 (n = 2)", "untrained (n = 2)", "the input pixels"} <= set(labels)
    assert len(labels) == (5 if normalised else 3)
    assert [t.get_text() for t in ax.get_xticklabels()] == LAYERS
    levels = sorted(line.get_ydata()[0] for line in ax.lines if line.get_linestyle() in (":", "--")
                    and len(line.get_ydata()) == 2)
    assert levels == ([circle_action(K, T), iid_action(K, T)] if normalised else [])
    trained = ax.containers[0]  # mean over seeds with their sd
    np.testing.assert_allclose(np.asarray(trained.lines[0].get_ydata(), float), [5, 2, 2, 4])
    with pytest.raises(ValueError, match="stats"):
        plot_action_by_depth(over_seeds(table.iloc[:0]), k=K, n_frames=T, normalised=True)


def test_action_against_alpha_controls_and_input() -> None:
    mean = seeds({"input": [5, 5, 5, 5], "stem": [1, 2, 3, 4], "fc1": [2, 3, 4, 5], "mu": [3, 4, 5, 6]})
    nat = seeds({"input": [-1.4] * 4, "stem": [-2, -2, -1, -1], "fc1": [-1.5] * 4, "mu": [-1.0] * 4})
    dot = nat.where(nat > -2)
    fig = plot_action_against_alpha(mean, nat, dot, d=1)
    ax_d, ax_e = fig.axes
    assert ax_d.lines[-1].get_xdata()[0] == -1 and ax_e.lines[-1].get_xdata()[0] == -3.0
    assert [t.get_text() for t in ax_d.get_legend().get_texts()] == ["p = 0", "untrained", "input pixels",
                                                                     r"$\alpha = -1$ ($d \to \infty$)"]
    star = ax_d.collections[-1]
    np.testing.assert_allclose(star.get_offsets(), [[-1.4, 5.0]])  # the input: one star


def scaled(exps: list[float]) -> dict[str, ActionScaling]:
    return {name: ActionScaling(name, (50, 100, 200), (1.0, 0.5, 0.25), (1.0, 0.5, 0.25), e, e - 0.1, e + 0.1, e)
            for name, e in zip(LAYERS, exps)}


def test_action_scaling_panels() -> None:
    fig = plot_action_scaling([scaled([-1, -1, 0, 1])] * 2 + [scaled([-1, 0, 0, 0])] * 2, KEYS, ("p = 0", 0))
    ax_t, ax_e = fig.axes
    assert [t.get_text() for t in ax_t.get_legend().get_texts()][:2] == ["input (-1.00)", "stem (-1.00)"]
    assert [t.get_text() for t in ax_e.texts] == ["smooth", "rough", "hash"]
    np.testing.assert_allclose(np.asarray(ax_e.containers[0].lines[0].get_ydata(), float), [-1, -1, 0, 1])
    with pytest.raises(ValueError, match="show"):
        plot_action_scaling([scaled([0] * 4)] * 4, KEYS, ("p = 0.4", 0))


def test_action_theory_panels() -> None:
    t = 40
    theta = 2 * np.pi * np.arange(t) / t
    circle = np.stack([np.cos(theta), np.sin(theta)], axis=1) @ np.random.default_rng(0).normal(size=(2, 12))
    layers = {"input": circle, "stem": np.random.default_rng(1).normal(size=(t, 12))}
    acts = [trajectory_actions(layers, n_projections=5) for _ in KEYS]
    nat = seeds({"input": [-1.4] * 4, "stem": [-1.0] * 4})
    fig = plot_action_theory(acts, KEYS, nat)
    assert len(fig.axes) == 3
    ratio_star = fig.axes[1].collections[-1].get_offsets()[0]
    assert ratio_star[1] == pytest.approx(circle_action(3, t) / iid_action(3, t))
