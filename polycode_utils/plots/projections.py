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
from polycode_utils.layerwise.actions import (HASH_ABOVE, SMOOTH_BELOW, ActionScaling, LayerAction, circle_action,
                                              iid_action, stringer_bound)
from polycode_utils.layerwise.common import CONTROL, Key, OverSeeds, over_seeds, seed_table
from polycode_utils.networks.models import DENSE_DEPTHS, INPUT_DEPTH


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


def _colors(labels: Sequence[str], control: str = CONTROL) -> dict[str, object]:
    """Trained networks by dropout rate (flare), the untrained control grey."""
    trained = [lab for lab in labels if lab != control]
    colors = dict(zip(trained, sns.color_palette("flare", len(trained))))
    colors[control] = "0.55"
    return colors


def plot_action_by_depth(stats: OverSeeds, *, k: int, n_frames: int, normalised: bool,
                         control: str = CONTROL) -> Figure:
    """Fig. 4c: mean action against depth, mean ± sd over seeds per dropout rate, the untrained control in grey."""
    labels = list(stats.mean.columns)
    if not labels or stats.mean.empty:
        raise ValueError("stats: need at least one network label and one layer")
    layers = list(stats.mean.index)
    depth = np.arange(len(layers))
    colors = _colors(labels, control)
    offsets = np.linspace(-0.2, 0.2, len(labels)) if len(labels) > 1 else [0.0]
    fig, ax = plt.subplots(figsize=(7.5, 3.9))
    for lab, off in zip(labels, offsets):
        ax.errorbar(depth + off, stats.mean[lab], yerr=stats.sd[lab].fillna(0), fmt="s--" if lab == control else "o-",
                    color=colors[lab], ms=4, lw=1.2, capsize=2, label=f"{lab} (n = {int(stats.n[lab])})")
    if INPUT_DEPTH in layers:
        ax.axhline(float(stats.mean.loc[INPUT_DEPTH].iloc[0]), color="k", ls="-.", lw=0.8, label="the input pixels")
    if normalised:
        for value, ls, label in ((iid_action(k, n_frames), ":", "i.i.d. frames, $kT$"),
                                 (circle_action(k, n_frames), "--", r"plane circle, $2kT\sin^2(\pi/T)$")):
            ax.axhline(value, color="0.4", ls=ls, lw=1, label=label)
    ax.axvline(len([x for x in layers if x not in DENSE_DEPTHS]) - 0.5, color="0.8", lw=0.8)
    ax.set(yscale="log", xticks=depth, xticklabels=layers, xlabel="depth (conv stages | dense layers)",
           ylabel="mean action" + (" (normalised)" if normalised else ""))
    ax.tick_params(axis="x", labelrotation=35)
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return finished(fig)


def _scatter_by_network(ax: plt.Axes, x: pd.DataFrame, y: pd.DataFrame, colors: dict, control: str,
                        label: bool = True, **kw: object) -> None:
    """One marker per layer and network; the untrained controls as grey squares, the input as a black star."""
    done: set[str] = set()
    for lab, seed in y.columns:
        rows = [r for r in y.index if r != INPUT_DEPTH]
        ax.scatter(x.loc[rows, (lab, seed)], y.loc[rows, (lab, seed)], color=colors[lab], s=18,
                   marker="s" if lab == control else "o", label=lab if label and lab not in done else None, **kw)
        done.add(lab)
    if INPUT_DEPTH in y.index:
        first = y.columns[0]
        ax.scatter([x.loc[INPUT_DEPTH, first]], [y.loc[INPUT_DEPTH, first]], color="k", marker="*", s=90,
                   label="input pixels" if label else None, zorder=3)


def plot_action_against_alpha(table: pd.DataFrame, alpha_nat: pd.DataFrame, alpha_dot: pd.DataFrame, *,
                              d: float = 1, control: str = CONTROL) -> Figure:
    """Fig. 4d and a companion: mean action of every layer and network (seed tables) against alpha on natural images
    and against the dot responses' own alpha; untrained controls grey squares, the input a black star."""
    bound = stringer_bound(d)
    colors = _colors(list(dict.fromkeys(table.columns.get_level_values("network"))), control)
    fig, (ax_d, ax_e) = plt.subplots(1, 2, figsize=(11, 3.9), sharey=True)
    _scatter_by_network(ax_d, alpha_nat, table, colors, control)
    _scatter_by_network(ax_e, alpha_dot, table, colors, control, label=False)
    ax_d.axvline(-1, color="k", ls="--", lw=1, label=r"$\alpha = -1$ ($d \to \infty$)")
    ax_e.axvline(bound, color="k", ls="--", lw=1, label=rf"$\alpha = -(1 + 2/d) = {bound:g}$, $d = {d:g}$")
    ax_d.set(yscale="log", xlabel=r"$\alpha$ on natural images (held-out set)", ylabel="mean action",
             title="(d) against the natural-image exponent")
    ax_e.set(xlabel=r"$\alpha$ of the dot responses", title="(e) against the dot's own exponent (ours)")
    ax_d.legend(fontsize="x-small")
    ax_e.legend(fontsize="x-small")
    fig.tight_layout()
    return finished(fig)


def plot_action_scaling(scaling: Sequence[Mapping[str, ActionScaling]], keys: Sequence[Key], show: Key, *,
                        control: str = CONTROL) -> Figure:
    """The action's scaling law (ours): mean action against T for one network's layers, and the exponent by depth
    (mean ± sd over seeds per dropout rate, the untrained control grey), with the smooth / rough / hash bands."""
    keys = [(str(lab), int(s)) for lab, s in keys]
    if len(scaling) != len(keys) or tuple(show) not in keys:
        raise ValueError(f"show: must be one of the keys {keys}, got {show!r}")
    shown = scaling[keys.index(tuple(show))]
    fig, (ax_t, ax_e) = plt.subplots(1, 2, figsize=(11, 4.0), gridspec_kw=dict(width_ratios=[1, 1.4]))
    colors = sns.color_palette("viridis", len(shown))
    for (name, res), color in zip(shown.items(), colors):
        ax_t.plot(res.n_frames, res.actions, "o-", ms=3, lw=1.2, color="k" if name == INPUT_DEPTH else color,
                  label=f"{name} ({res.exponent:+.2f})")
    t = np.asarray(next(iter(shown.values())).n_frames, float)
    mid = float(np.median([np.median(r.actions) for r in shown.values()]))
    for slope, ls in ((-1, ":"), (0, "--"), (1, "-.")):
        ax_t.plot(t, mid * (t / t[len(t) // 2]) ** slope, color="0.6", ls=ls, lw=0.9)
    ax_t.set(xscale="log", yscale="log", xticks=t, xticklabels=[f"{v:g}" for v in t], xlabel="frames T of one loop",
             ylabel="mean action (exact)",
             title=f"{show[0]}, seed {show[1]}: slopes -1, 0, +1 in grey")
    ax_t.minorticks_off()
    ax_t.legend(fontsize=6, ncol=2)
    exps = seed_table(scaling, keys, lambda r: r.exponent)
    stats = over_seeds(exps)
    layers = list(exps.index)
    depth = np.arange(len(layers))
    cols = _colors(list(stats.mean.columns), control)
    offsets = np.linspace(-0.2, 0.2, len(cols)) if len(cols) > 1 else [0.0]
    for lab, off in zip(stats.mean.columns, offsets):
        ax_e.errorbar(depth + off, stats.mean[lab], yerr=stats.sd[lab].fillna(0), color=cols[lab], ms=4, lw=1.2,
                      capsize=2, fmt="s--" if lab == control else "o-", label=lab)
    for y0, y1, name in ((-2, SMOOTH_BELOW, "smooth"), (SMOOTH_BELOW, HASH_ABOVE, "rough"), (HASH_ABOVE, 2, "hash")):
        ax_e.axhspan(y0, y1, color={"smooth": "C2", "rough": "C1", "hash": "C3"}[name], alpha=0.07)
        ax_e.text(len(layers) - 0.6, (max(y0, -1.4) + min(y1, 1.4)) / 2, name, fontsize="x-small", ha="right")
    ax_e.axvline(len([x for x in layers if x not in DENSE_DEPTHS]) - 0.5, color="0.8", lw=0.8)
    lo = float(np.nanmin(exps.to_numpy())) - 0.2
    hi = float(np.nanmax(exps.to_numpy())) + 0.2
    ax_e.set(xticks=depth, xticklabels=layers, ylim=(min(lo, -1.2), max(hi, 1.2)),
             ylabel="exponent of action vs T", title="exponent by depth (mean ± sd over seeds)")
    ax_e.tick_params(axis="x", labelrotation=35)
    ax_e.legend(fontsize="x-small")
    fig.tight_layout()
    return finished(fig)


def plot_action_theory(actions: Sequence[Mapping[str, LayerAction]], keys: Sequence[Key], alpha_nat: pd.DataFrame,
                       *, control: str = CONTROL) -> Figure:
    """Fig. 4d with theory (ours): the un-normalised mean action against alpha, beside its i.i.d.-frames expectation
    (k/m) T tr Sigma; and the note's lambda_1 zeta(-alpha) against tr Sigma where the dot alpha < -1."""
    raw = seed_table(actions, keys, lambda r: r.raw_expected)
    iid = seed_table(actions, keys, lambda r: r.iid_expected)
    note = seed_table(actions, keys, lambda r: r.note_trace / r.trace)
    dot = seed_table(actions, keys, lambda r: r.dot_alpha)
    colors = _colors(list(dict.fromkeys(raw.columns.get_level_values("network"))), control)
    fig, (ax_a, ax_r, ax_z) = plt.subplots(1, 3, figsize=(13, 3.9))
    _scatter_by_network(ax_a, alpha_nat, raw, colors, control)
    _scatter_by_network(ax_a, alpha_nat, iid, colors, control, label=False, facecolors="none", alpha=0.6)
    ax_a.set(yscale="log", xlabel=r"$\alpha$ on natural images", ylabel="mean action, raw activations",
             title=r"(d') filled: measured; open: i.i.d. $\frac{k}{m}T\,\mathrm{tr}\,\Sigma$")
    _scatter_by_network(ax_r, alpha_nat, raw / iid, colors, control, label=False)
    ax_r.axhline(1, color="k", ls=":", lw=1)
    ax_r.set(yscale="log", xlabel=r"$\alpha$ on natural images", ylabel=r"measured / i.i.d. = $1 - \rho_1$",
             title="how much smoother than independent frames")
    _scatter_by_network(ax_z, dot, note, colors, control, label=False)
    ax_z.axhline(1, color="k", ls=":", lw=1)
    ax_z.set(yscale="log", xlabel=r"$\alpha$ of the dot responses (< -1 only)",
             ylabel=r"$\lambda_1\,\zeta(-\alpha)\,/\,\mathrm{tr}\,\Sigma$", title="the note's approximation")
    ax_a.legend(fontsize="x-small")
    fig.tight_layout()
    return finished(fig)
