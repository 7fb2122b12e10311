"""The moving-dot figures (polycode_utils.plots.projections): what each draws, from known results."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from polycode_utils.layerwise.actions import LayerAction, circle_action, iid_action
from polycode_utils.plots.projections import (plot_action_against_alpha, plot_action_by_depth, plot_dot_frames,
                                              plot_trajectories)
from polycode_utils.stimuli import moving_dot

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


@pytest.mark.parametrize("normalised", [True, False])
def test_action_by_depth_lines_theory_and_references(normalised: bool) -> None:
    fig = plot_action_by_depth([network(1.0), network(10.0)], [0.0, 0.5], k=K, n_frames=T, normalised=normalised)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == ["p = 0", "p = 0.5", "theory (k/m)·½·Σ‖Δa‖²"]
    assert len(labels) == (5 if normalised else 3)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["stem", "fc1", "mu"]
    crosses = [line for line in ax.lines if line.get_marker() == "x"]
    np.testing.assert_allclose(crosses[1].get_ydata(), [10.1, 20.2, 30.3])  # the exact means of network 2
    levels = sorted(line.get_ydata()[0] for line in ax.lines if line.get_linestyle() in (":", "--"))
    assert levels == ([circle_action(K, T), iid_action(K, T)] if normalised else [])
    assert ax.get_ylabel() == ("action (normalised)" if normalised else "action")
    with pytest.raises(ValueError, match="rates"):
        plot_action_by_depth([network(1.0)], [0.0, 0.5], k=K, n_frames=T, normalised=True)


def test_action_against_alpha_panels_bounds_and_labels() -> None:
    index = pd.Index(["stem", "fc1", "mu"], name="depth")
    mean = pd.DataFrame({"p = 0": [1.0, 2.0, 3.0], "p = 0.5": [4.0, 5.0, 6.0]}, index=index)
    sem = mean / 10
    nat = pd.DataFrame({"p = 0": [-2.0, -1.5, -1.0], "p = 0.5": [-3.0, -2.0, -1.2]}, index=index)
    dot = pd.DataFrame({"p = 0": [-4.0, np.nan, -2.0], "p = 0.5": [-3.5, -2.5, -1.5]}, index=index)
    fig = plot_action_against_alpha(mean, sem, nat, dot, d=1, highlight="p = 0")
    ax_d, ax_e = fig.axes
    assert ax_d.lines[-1].get_xdata()[0] == -1 and ax_e.lines[-1].get_xdata()[0] == -3.0
    assert [t.get_text() for t in ax_d.texts] == ["stem", "fc1", "mu"]
    assert [t.get_text() for t in ax_e.texts] == ["stem", "mu"]  # no dot exponent for fc1: no point, no label
    assert [t.get_text() for t in ax_e.get_legend().get_texts()] == [r"$\alpha = -(1 + 2/d) = -3$, $d = 1$",
                                                                     "p = 0", "p = 0.5"]
    two = plot_action_against_alpha(mean, sem, nat, dot, d=2)
    assert two.axes[1].lines[-1].get_xdata()[0] == -2.0 and not two.axes[0].texts
    assert two.axes[1].get_legend().get_texts()[0].get_text() == r"$\alpha = -(1 + 2/d) = -2$, $d = 2$"
