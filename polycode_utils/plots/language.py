"""Figures of chapter 7: spectra and alpha by layer of a language model, its controls and a second model, and the
random projections over text (action and interpretability proxy), projections vs neurons.

Results in, a Matplotlib figure out: each function takes what ``polycode_utils.networks.language`` measured (site
spectra, the frames of alpha, actions and proxy scores) and draws it; none computes a number that the text states. Runs
are named by key ("main", "untrained", "shuffled", "compare"); ``labels`` maps keys to legend text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from polycode_utils.networks.language.analysis import SiteSpectrum

KIND_TITLES = {"resid": "residual stream", "mlp": "MLP hidden activation", "attn": "attention output"}
RUN_STYLES = {"main": dict(color="C0", marker="o"), "untrained": dict(color="C7", marker="s", ls="--"),
              "shuffled": dict(color="C1", marker="^", ls=":"), "compare": dict(color="C2", marker="D")}


def _done(fig: Figure) -> Figure:
    fig.tight_layout()
    plt.close(fig)
    return fig


def _kinds(frame: pd.DataFrame) -> list[str]:
    return [k for k in KIND_TITLES if k in set(frame["kind"])]


def _depth_axis(ax: plt.Axes) -> None:
    ax.set_xlabel("relative depth (block / last block)")
    ax.set_xlim(-0.03, 1.03)


def spectra_by_layer(spectra: Mapping[str, SiteSpectrum], title: str = "") -> Figure:
    """Eigenspectra lambda_n / sum lambda of every measured layer, one panel per site kind, coloured by depth."""
    kinds = [k for k in KIND_TITLES if any(s.kind == k for s in spectra.values())]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds) + 1, 4.0), squeeze=False, layout="constrained")
    cmap = plt.get_cmap("viridis")
    for ax, kind in zip(axes[0], kinds):
        for s in (s for s in spectra.values() if s.kind == kind):
            lam = s.eigenvalues[s.eigenvalues > 0]
            ax.loglog(np.arange(1, lam.size + 1), lam / lam.sum(), color=cmap(s.depth), lw=0.9)
        n = np.array([1.0, 1000.0])
        ax.loglog(n, 0.3 * n ** -1.0, color="k", ls=":", lw=1.2, label=r"slope $\alpha = -1$")
        ax.set(xlabel="principal component $n$", ylabel=r"$\lambda_n / \sum \lambda$", title=KIND_TITLES[kind])
        ax.legend(loc="lower left", fontsize="small")
    fig.colorbar(plt.cm.ScalarMappable(cmap=cmap), ax=axes[0].tolist(), label="relative depth (block / last block)")
    if title:
        fig.suptitle(title)
    plt.close(fig)
    return fig


def alpha_by_layer(frame: pd.DataFrame, labels: Mapping[str, str]) -> Figure:
    """alpha by relative depth, one panel per site kind: every run, intervals where measured, the line alpha = -1."""
    kinds = _kinds(frame)
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.6 * len(kinds), 4.0), squeeze=False, sharey=True)
    for ax, kind in zip(axes[0], kinds):
        for run, label in labels.items():
            sub = frame[(frame.run == run) & (frame.kind == kind)].sort_values("depth")
            if sub.empty:
                continue
            style = dict(RUN_STYLES.get(run, {}), ms=3.5, lw=1.2)
            ax.plot(sub.depth, sub.alpha, label=label, **style)
            if sub.ci_low.notna().any():
                ax.fill_between(sub.depth, sub.ci_low, sub.ci_high, color=style.get("color"), alpha=0.25, lw=0)
        ax.axhline(-1.0, color="k", lw=0.9)
        ax.set(ylabel=r"$\alpha$ (power-law exponent)", title=KIND_TITLES[kind])
        _depth_axis(ax)
    axes[0, -1].legend(fontsize="small")
    return _done(fig)


def fit_by_layer(frame: pd.DataFrame, labels: Mapping[str, str]) -> Figure:
    """(a) R^2 of the power-law fit and (b) the share of variance on PC 1, by relative depth, every run and kind."""
    fig, (ax_r2, ax_pc) = plt.subplots(1, 2, figsize=(11.0, 4.6), layout="constrained")
    for run, label in labels.items():
        for kind, ls in zip(_kinds(frame), ("-", "--", ":")):
            sub = frame[(frame.run == run) & (frame.kind == kind)].sort_values("depth")
            if sub.empty:
                continue
            style = dict(color=RUN_STYLES.get(run, {}).get("color"), ls=ls, marker=".", lw=1.1)
            ax_r2.plot(sub.depth, sub.r2, label=f"{label}, {kind}", **style)
            ax_pc.plot(sub.depth, sub.pc1_share, **style)
    ax_r2.set(ylabel=r"$R^2$ of the log-log fit", title="(a) how straight the spectrum is")
    ax_pc.set(ylabel=r"$\lambda_1 / \sum \lambda$", yscale="log", title="(b) share of variance on PC 1")
    for ax in (ax_r2, ax_pc):
        _depth_axis(ax)
    fig.legend(*ax_r2.get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize="small")
    plt.close(fig)
    return fig


def action_by_layer(frame: pd.DataFrame) -> Figure:
    """Relative action (median and quartiles) of neurons and of random projections by layer, per site kind."""
    kinds = _kinds(frame)
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.6 * len(kinds), 3.8), squeeze=False, sharey=True)
    for ax, kind in zip(axes[0], kinds):
        for unit, color in (("neuron", "C3"), ("projection", "C0")):
            sub = frame[(frame.kind == kind) & (frame.unit == unit)].sort_values("depth")
            ax.plot(sub.depth, sub["median"], color=color, marker=".", label=f"{unit}s")
            ax.fill_between(sub.depth, sub.q25, sub.q75, color=color, alpha=0.2, lw=0)
        ax.axhline(1.0, color="k", lw=0.8, ls=":", label="white noise")
        ax.set(ylabel="action per step / variance", title=KIND_TITLES[kind])
        _depth_axis(ax)
    axes[0, 0].legend(fontsize="small")
    return _done(fig)


def proxy_by_layer(frame: pd.DataFrame, chance: Sequence[float] | np.ndarray) -> Figure:
    """Mean interpretability proxy (+- 2 SE) of neurons and random directions by layer, with the chance level."""
    kinds = _kinds(frame)
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.6 * len(kinds), 3.8), squeeze=False, sharey=True)
    level = float(np.mean(chance))
    for ax, kind in zip(axes[0], kinds):
        sub = frame[frame.kind == kind].sort_values("depth")
        for unit, color in (("neuron", "C3"), ("projection", "C0")):
            mean, se = sub[f"{unit}_mean"], sub[f"{unit}_se"]
            ax.plot(sub.depth, mean, color=color, marker=".", label=f"{unit}s" if unit == "neuron" else
                    "random directions")
            ax.fill_between(sub.depth, mean - 2 * se, mean + 2 * se, color=color, alpha=0.2, lw=0)
        ax.axhline(level, color="k", lw=0.9, ls="--", label="chance (noise units)")
        ax.set(ylabel="top-window peak-token concentration", title=KIND_TITLES[kind], ylim=(0, 1))
        _depth_axis(ax)
    axes[0, 0].legend(fontsize="small")
    return _done(fig)


SCORE_UNITS = (("neuron", "C3", "neurons"), ("projection", "C0", "random directions"),
               ("pca", "C2", "principal directions"))


def score_by_layer(layers: pd.DataFrame) -> Figure:
    """Mean held-out explain-and-score correlation (+- 2 SE over units) of neurons, random directions and principal
    directions by depth, the trained model (solid) against the untrained one (dashed)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.9))
    for unit, color, name in SCORE_UNITS:
        for run, ls in (("main", "-"), ("untrained", "--")):
            sub = layers[(layers.unit == unit) & (layers.run == run)].sort_values("depth")
            if sub.empty:
                continue
            ax.plot(sub.depth, sub["mean"], color=color, ls=ls, marker=".",
                    label=f"{name}, {'trained' if run == 'main' else 'untrained'}")
            ax.fill_between(sub.depth, sub["mean"] - 2 * sub.se, sub["mean"] + 2 * sub.se, color=color,
                            alpha=0.15, lw=0)
    ax.axhline(0, color="k", lw=0.8)
    title = ", ".join(KIND_TITLES.get(k, k) for k in dict.fromkeys(layers.kind))
    ax.set(ylabel="held-out correlation, simulation vs activation", title=title)
    _depth_axis(ax)
    ax.legend(fontsize="x-small", ncol=2)
    return _done(fig)


FIT_VARIANTS = (("alpha", "plain fit", dict(color="C0", marker="o")),
                ("alpha_without", "outlier channels removed", dict(color="C3", marker="s", ls="--")),
                ("alpha_from_2", "from PC 2", dict(color="C1", marker="^", ls=":")),
                ("alpha_from_11", "from PC 11 (Stringer et al.)", dict(color="C2", marker="D", ls="-.")))


def alpha_fits_by_layer(outliers: pd.DataFrame) -> Figure:
    """alpha by relative depth of one run: the plain fit, without the outlier channels, and from PC 2 and PC 11."""
    kinds = _kinds(outliers)
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.6 * len(kinds), 3.8), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        sub = outliers[outliers.kind == kind].sort_values("depth")
        for column, label, style in FIT_VARIANTS:
            ax.plot(sub.depth, sub[column], label=label, ms=3, **style)
        ax.axhline(-1, color="k", lw=0.8, ls=":")
        ax.set(ylabel=r"$\alpha$", title=KIND_TITLES[kind])
        _depth_axis(ax)
    axes[0, 0].legend(fontsize="small")
    return _done(fig)
