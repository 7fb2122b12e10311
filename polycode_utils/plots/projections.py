"""Figures of the moving-dot chapter (Fig. 4a-d): results in, a Matplotlib figure out.

Each function draws one figure from what ``layerwise.dot_actions`` and ``layerwise.layer_spectra`` measured (or
from the tables built of them), closes it (no pyplot state is left behind) and returns it: show it as a cell's
last expression, or glue it. Networks are coloured by dropout rate (seaborn "flare"), depths by "viridis".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from polycode_utils.plots import finished
from polycode_utils.layerwise.actions import LayerAction, circle_action, iid_action, stringer_bound
from polycode_utils.layerwise.common import rate_label


def plot_dot_frames(frames: np.ndarray, n_show: int = 10) -> Figure:
    """Fig. 4a: n_show evenly spaced frames (T, 3, H, W) of the moving dot, titled by their time step."""
    n_show = min(n_show, len(frames))
    if n_show < 1:
        raise ValueError(f"frames, n_show: need at least one frame to show, got {len(frames)} and {n_show}")
    pick = np.linspace(0, len(frames), n_show, endpoint=False).astype(int)
    fig, axes = plt.subplots(1, n_show, figsize=(1.0 * n_show, 1.25))
    for ax, t in zip(np.atleast_1d(axes), pick):
        ax.imshow(frames[t].transpose(1, 2, 0), interpolation="nearest")
        ax.set_title(f"t = {t}", fontsize="x-small")
        ax.set(xticks=[], yticks=[])
        ax.grid(False)
    fig.subplots_adjust(wspace=0.08, left=0.01, right=0.99, top=0.82, bottom=0.02)
    return finished(fig)


def plot_trajectories(actions: Mapping[str, LayerAction], ncols: int = 3) -> Figure:
    """Fig. 4b: the first random 3-D projection of each layer's closed trajectory, coloured by time round the loop."""
    layers = list(actions)
    if not layers or any(r.trajectories.shape[0] < 1 or r.trajectories.shape[2] != 3 for r in actions.values()):
        raise ValueError("actions: need at least one layer, each with a kept 3-D trajectory (n_keep >= 1, k = 3)")
    n_frames = actions[layers[0]].trajectories.shape[1]
    nrows = int(np.ceil(len(layers) / ncols))
    fig = plt.figure(figsize=(3.3 * ncols, 3.1 * nrows))
    depth_colors = dict(zip(layers, sns.color_palette("viridis", len(layers))))
    time_colors = plt.cm.twilight(np.linspace(0, 1, n_frames, endpoint=False))
    for i, (name, res) in enumerate(actions.items()):
        z = res.trajectories[0]
        ax = fig.add_subplot(nrows, ncols, i + 1, projection="3d")
        closed = np.concatenate([z, z[:1]])
        for t in range(n_frames):
            ax.plot(*closed[t:t + 2].T, color=time_colors[t], lw=1.6)
        ax.scatter(*z.T, c=time_colors, s=6, depthshade=False)
        ax.set_title(f"{name} (m = {res.n_units})", color=depth_colors[name], fontsize="small", fontweight="bold")
        ax.text2D(0.02, 0.92, f"mean activation {res.mean_activation:.2f}\naction {res.actions[0]:.3g}",
                  transform=ax.transAxes, fontsize="x-small")
        ax.set(xticklabels=[], yticklabels=[], zticklabels=[])
    fig.tight_layout()
    return finished(fig)


def plot_action_by_depth(actions: Sequence[Mapping[str, LayerAction]], rates: Sequence[float], *, k: int,
                         n_frames: int, normalised: bool) -> Figure:
    """Fig. 4c: mean action ±1 sd over projections against depth, one line per network, the exact mean as crosses."""
    if len(actions) != len(rates) or not actions:
        raise ValueError(f"actions, rates: need one rate per network, got {len(actions)} and {len(rates)}")
    layers = list(actions[0])
    depth = np.arange(len(layers))
    colors = sns.color_palette("flare", len(actions))
    offsets = np.linspace(-0.2, 0.2, len(actions)) if len(actions) > 1 else [0.0]
    fig, ax = plt.subplots(figsize=(7.5, 3.9))
    for p, acts, color, off in zip(rates, actions, colors, offsets):
        ax.errorbar(depth + off, [r.mean for r in acts.values()], yerr=[r.sd for r in acts.values()], fmt="o-",
                    color=color, ms=4, lw=1.2, capsize=2, label=rate_label(p))
        ax.plot(depth + off, [r.expected for r in acts.values()], "x", color="k", ms=5)
    handles, _ = ax.get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="k", marker="x", ls="none", label="theory (k/m)·½·Σ‖Δa‖²"))
    if normalised:
        for value, ls, label in ((iid_action(k, n_frames), ":", "i.i.d. frames, $kT$"),
                                 (circle_action(k, n_frames), "--", r"plane circle, $2kT\sin^2(\pi/T)$")):
            ax.axhline(value, color="0.4", ls=ls, lw=1)
            handles.append(plt.Line2D([], [], color="0.4", ls=ls, label=label))
    ax.set(yscale="log", xticks=depth, xticklabels=layers, xlabel="depth",
           ylabel="action" + (" (normalised)" if normalised else ""))
    ax.legend(handles=handles, fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return finished(fig)


def plot_action_against_alpha(table: pd.DataFrame, sem: pd.DataFrame, alpha_nat: pd.DataFrame,
                              alpha_dot: pd.DataFrame, *, d: float = 1, highlight: str | None = None) -> Figure:
    """Fig. 4d and a companion: mean action (± sem) against alpha on natural images and of the dot responses."""
    # All four tables: layers (rows) x networks (columns, the legend labels). highlight: the column whose points
    # are labelled with their layer names. d: the dot's dimension, for Stringer's bound in panel e.
    bound = stringer_bound(d)
    colors = sns.color_palette("flare", len(table.columns))
    fig, (ax_d, ax_e) = plt.subplots(1, 2, figsize=(11, 3.9), sharey=True)
    for lab, color in zip(table.columns, colors):
        for ax, xs in ((ax_d, alpha_nat[lab]), (ax_e, alpha_dot[lab])):
            ax.errorbar(xs, table[lab], yerr=sem[lab], fmt="o", color=color, ms=5, capsize=2, label=lab)
            for name, xv, yv in zip(table.index, xs, table[lab]):
                if lab == highlight and np.isfinite(xv):
                    ax.annotate(name, (xv, yv), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax_d.axvline(-1, color="k", ls="--", lw=1, label=r"$\alpha = -1$ ($d \to \infty$)")
    ax_e.axvline(bound, color="k", ls="--", lw=1, label=rf"$\alpha = -(1 + 2/d) = {bound:g}$, $d = {d:g}$")
    ax_d.set(yscale="log", xlabel=r"$\alpha$ on natural images (chapter 5)", ylabel="mean action",
             title="(d) against the chapter-5 exponent")
    ax_e.set(xlabel=r"$\alpha$ of the dot responses", title="(e) against the dot's own exponent (ours)")
    ax_d.legend(fontsize="x-small")
    ax_e.legend(fontsize="x-small")
    fig.tight_layout()
    return finished(fig)
