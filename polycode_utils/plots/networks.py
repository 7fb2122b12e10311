"""Figures of chapters 4 and 5: the autoencoders' data, training and reconstructions; spectra by depth (Figs. 3, 5).

Results in, a Matplotlib figure out: each function takes what the library measured (training records, layer
spectra) and draws it with the book's labels; none computes a number that the text states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from polycode_utils.networks.grid import rate_label
from polycode_utils.layerwise.common import CONTROL, Key, over_seeds, seed_table
from polycode_utils.layerwise.eigenspectra import CrossValidated, LayerSpectrum
from polycode_utils.networks.models import DENSE_DEPTHS, INPUT_DEPTH
from polycode_utils.plots import finished
from polycode_utils.networks.training import TrainedModel

if TYPE_CHECKING:
    import pandas as pd

Spectra = Sequence[Mapping[str, LayerSpectrum]]


def depth_colours(layers: Sequence[str]) -> dict[str, tuple]:
    """One colour per depth, dark (early) to light (late): the book's depth palette."""
    return dict(zip(layers, sns.color_palette("viridis", len(layers))))


def rate_colours(n: int) -> list[tuple]:
    """One colour per network of the dropout grid: the book's dropout palette."""
    return sns.color_palette("flare", n)


def _untick(ax: plt.Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


# ---------------------------------------------------------------------------------------------------------------
# Chapter 4


def image_grid(images: np.ndarray, n: int = 48, cols: int = 12, seed: int = 0) -> Figure:
    """A random sample of n images (N, C, H, W in [0, 1]) in a grid, without axes: the training data."""
    pick = np.sort(np.random.default_rng(seed).choice(len(images), size=min(n, len(images)), replace=False))
    rows = int(np.ceil(len(pick) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.8, rows * 0.8))
    for i, ax in enumerate(np.ravel(axes)):
        if i < len(pick):
            ax.imshow(images[pick[i]].transpose(1, 2, 0), interpolation="nearest")
        ax.axis("off")
    fig.subplots_adjust(wspace=0.05, hspace=0.05, left=0, right=1, top=1, bottom=0)
    return finished(fig)


def training_curves(trained: Sequence[TrainedModel], floor: float, baseline: float | None = None) -> Figure:
    """Loss per image during training (batches, smoothed over a quarter epoch) and in eval mode after each epoch;
    one colour per dropout rate (its seeds share it); baseline: the mean-colour reconstruction's loss (dotted)."""
    rates = sorted({t.config.dropout for t in trained})
    colour = dict(zip(rates, plt.cm.viridis(np.linspace(0.0, 0.9, len(rates)))))
    fig, (ax_train, ax_eval) = plt.subplots(1, 2, figsize=(10, 3.8))
    labelled = set()
    for t in trained:
        h, c = t.history, colour[t.config.dropout]
        steps = np.asarray(h.step_loss)
        window = max(1, h.steps_per_epoch // 4)
        smooth = np.convolve(steps, np.ones(window) / window, mode="valid")
        ax_train.plot(np.arange(window, len(steps) + 1) / h.steps_per_epoch, smooth, color=c, lw=1.0, alpha=0.8)
        label = None if t.config.dropout in labelled else rate_label(t.config.dropout)
        labelled.add(t.config.dropout)
        ax_eval.plot(np.arange(1, len(h.eval_loss) + 1), h.eval_loss, "o-", color=c, ms=3, lw=1.2, alpha=0.8,
                     label=label)
    for ax in (ax_train, ax_eval):
        ax.axhline(floor, ls="--", color="0.4", lw=1)
        if baseline is not None:
            ax.axhline(baseline, ls=":", color="0.2", lw=1.2)
        ax.set_xlabel("epoch")
    ax_eval.text(1.0, floor, " BCE floor", va="bottom", ha="left", fontsize="small", color="0.3")
    if baseline is not None:
        ax_eval.text(1.0, baseline, " mean colour", va="bottom", ha="left", fontsize="small", color="0.2")
    ax_train.set(ylabel="loss per image (BCE + KL, nats)", title="training batches\n(dropout on, z sampled)")
    ax_eval.set(title="eval mode, 512 held-out images\n(no dropout, z = μ, BatchNorm re-estimated)")
    ax_eval.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax_eval.legend(title="dropout", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return finished(fig)


def reconstruction_grid(inputs: np.ndarray, reconstructions: Sequence[np.ndarray], labels: Sequence[str]) -> Figure:
    """Inputs (top row) and each network's reconstructions of them (one row per label)."""
    n = len(inputs)
    rows = [inputs, *reconstructions]
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.95, len(rows) * 1.0), squeeze=False)
    for r, (row, label) in enumerate(zip(rows, ["input", *labels])):
        for c in range(n):
            axes[r, c].imshow(row[c].transpose(1, 2, 0).clip(0, 1), interpolation="nearest")
            _untick(axes[r, c])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize="small")
    fig.subplots_adjust(wspace=0.05, hspace=0.08, left=0.1, right=1, top=1, bottom=0)
    return finished(fig)


def learnability_frontier(table: pd.DataFrame) -> Figure:
    """Held-out error (share of a mean-colour patch's) against the dropout rate, one line per configuration of the
    frontier study, split by dropout placement; dotted: PCA-k of each configuration's latent size (chapter 4)."""
    placements = list(dict.fromkeys(table["placement"]))
    fig, axes = plt.subplots(1, len(placements), figsize=(5.2 * len(placements), 5.2), sharey=True, squeeze=False)
    for ax, placement in zip(axes[0], placements):
        part = table[table["placement"] == placement]
        for name, rows in part.groupby("config", sort=True):
            r = rows.iloc[0]
            label = (f"{name}: w{r['width']}, {r['image_size']} px, {r['loss']}, {r['lr']:g} {r['schedule']}, "
                     f"{r['steps']:,} steps")
            line, = ax.plot(rows["dropout"], rows["vs_mean_colour"], "o-", label=label)
            ax.axhline(r["pca_vs_mean_colour"], color=line.get_color(), ls=":", lw=1)
        ax.axhline(1.0, color="k", lw=1, ls="--")
        ax.set(xlabel="dropout rate p", title=f"dropout placement: {placement}", yscale="log")
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1, frameon=False)
    axes[0, 0].set_ylabel("held-out error / mean colour's")
    return finished(fig)


# ---------------------------------------------------------------------------------------------------------------
# Chapter 5: Figs. 3b-d and 5, with the untrained control (grey) and the input; seeds as the error bar


CONTROL_COLOUR = "0.55"  # the untrained control, in every figure


def _fit_line(ax: plt.Axes, s: LayerSpectrum, scale: float, **style: object) -> None:
    """The power-law fit of a spectrum (its first evaluation set), drawn over exactly the PCs it was fitted on."""
    nn = np.array(s.fit.fit_range, dtype=float)
    ax.loglog(nn, 10 ** s.fit.intercept * nn ** s.fit.alpha / scale, **style)


def _label_colours(keys: Sequence[Key]) -> dict[str, object]:
    labels = list(dict.fromkeys(label for label, _ in keys))
    trained = [label for label in labels if not label.startswith(CONTROL)]
    colours = dict(zip(trained, rate_colours(len(trained))))
    return {label: colours.get(label, CONTROL_COLOUR) for label in labels}


def spectra_by_depth(spectra: Spectra, titles: Sequence[str], fit_method: str) -> Figure:
    """Fig. 3b: each given network's eigenspectra by depth (divided by the total variance), with their fits."""
    layers = list(spectra[0])
    colours = depth_colours(layers)
    n_nets = len(spectra)
    ncols = min(3, n_nets + 1)
    nrows = int(np.ceil((n_nets + 1) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), sharex=True, sharey=True,
                             squeeze=False)
    axes = axes.ravel()
    for ax, title, spec in zip(axes, titles, spectra):
        for name, s in spec.items():
            lam = s.eigenvalues[:s.rank]
            ax.loglog(np.arange(1, lam.size + 1), lam / lam.sum(), color=colours[name], lw=1.3)
            _fit_line(ax, s, lam.sum(), color="k", ls="--", lw=0.9)
        ax.set_title(title)
    for ax in axes[::ncols]:
        ax.set_ylabel(r"$\lambda_n / \sum \lambda$")
    for ax in axes[:n_nets]:
        ax.set_xlabel("principal component $n$")
        ax.tick_params(labelbottom=True)
    handles = [plt.Line2D([], [], color=c, lw=2, label=name) for name, c in colours.items()]
    handles.append(plt.Line2D([], [], color="k", ls="--", label=f"{fit_method} fit (over its range)"))
    axes[n_nets].legend(handles=handles, loc="center", title="depth", fontsize="small")
    for ax in axes[n_nets:]:
        ax.axis("off")
    fig.tight_layout()
    return finished(fig)


def alpha_by_depth(spectra: Spectra, keys: Sequence[Key]) -> Figure:
    """Fig. 3c: alpha against depth, mean ± SD over seeds per dropout rate (dots: single networks), the untrained
    control in grey, the input at depth 0, the line alpha = -1."""
    table = seed_table(spectra, keys, lambda s: s.alpha)
    stats = over_seeds(table)
    layers = list(table.index)
    depth = np.arange(len(layers))
    colours = _label_colours(keys)
    fig, ax = plt.subplots(figsize=(8, 4))
    offsets = np.linspace(-0.2, 0.2, len(colours)) if len(colours) > 1 else [0.0]
    for (label, colour), off in zip(colours.items(), offsets):
        ctrl = label.startswith(CONTROL)
        for seed in table[label].columns:
            ax.plot(depth + off, table[(label, seed)], ".", color=colour, ms=3, alpha=0.5)
        ax.errorbar(depth + off, stats.mean[label], yerr=stats.sd[label].fillna(0), fmt="s--" if ctrl else "o-",
                    color=colour, ms=4, lw=1.2, capsize=2, label=label, zorder=3)
    ax.axhline(-1, color="k", ls=":", lw=1, label=r"$\alpha = -1$")
    parts = [i for i, name in enumerate(layers) if name in DENSE_DEPTHS]
    if parts:
        ax.axvline(parts[0] - 0.5, color="0.8", lw=0.8)
    ax.set(xticks=depth, xlabel="depth (input | conv stages | dense layers)", ylabel=r"power-law exponent $\alpha$")
    ax.set_xticklabels(layers, rotation=35, ha="right")
    ax.legend(title="network (mean ± SD over seeds)", fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return finished(fig)


def eigenvector_filters(spectra: Spectra, titles: Sequence[str], shapes: Mapping[str, tuple[int, ...]],
                        layers: Sequence[str], networks: Sequence[int], n_filters: int, max_channels: int = 8
                        ) -> Figure:
    """Fig. 3d: the top eigenvectors of conv layers reshaped to (C, H, W), one row each, a tile per channel."""
    rows = [(i, name, r) for name in layers for i in networks for r in range(n_filters)]
    n_ch = min(max_channels, shapes[layers[0]][0])
    fig, axes = plt.subplots(len(rows), n_ch, figsize=(0.8 * n_ch + 2.4, 0.8 * len(rows) + 0.3), squeeze=False)
    shown = {}  # (network, layer) -> the channels shown: all, or those carrying most of the top eigenvectors
    for i, name, _ in rows:
        v = spectra[i][name].vectors.T.reshape(-1, *shapes[name])
        shown[i, name] = np.sort(np.argsort((v ** 2).sum(axis=(0, 2, 3)))[::-1][:n_ch])
    for row, (i, name, r) in enumerate(rows):
        s = spectra[i][name]
        if r >= s.vectors.shape[1]:
            for ax in axes[row]:
                ax.axis("off")
            continue
        v = s.vectors[:, r].reshape(shapes[name])
        vmax = np.abs(v[shown[i, name]]).max()
        for ax, ch in zip(axes[row], shown[i, name]):
            ax.imshow(v[ch], cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
            _untick(ax)
            if row == 0 and n_ch == shapes[name][0]:
                ax.set_title(f"channel {ch}", fontsize="x-small")
            elif n_ch < shapes[name][0]:
                ax.text(1, 1, str(ch), fontsize=6, va="top", ha="left")
        axes[row, 0].set_ylabel(f"{name}, {titles[i]}, PC {r + 1}", rotation=0, ha="right", va="center",
                                fontsize="x-small")
    fig.subplots_adjust(wspace=0.05, hspace=0.08, left=2.3 / (0.8 * n_ch + 2.4), right=0.99,
                        top=1 - 0.3 / (0.8 * len(rows) + 0.3), bottom=0.01)
    return finished(fig)


def dropout_and_shape(spectra: Spectra, keys: Sequence[Key], rates: Sequence[float], layer: str) -> Figure:
    """Fig. 5, extended: one layer's spectra at every rate and untrained (a, first seed), every layer's deviation
    (b) and curvature (c) against the rate, mean ± SD over seeds, the control's for the layer of (a) in grey."""
    layers = [name for name in spectra[0] if name != INPUT_DEPTH]
    colours = depth_colours(layers)
    first_seed = keys[0][1]
    fig, (ax_a, ax_b, ax_c) = plt.subplots(1, 3, figsize=(15, 3.9), gridspec_kw=dict(width_ratios=(1.2, 1, 1)))
    for (label, seed), spec in zip(keys, spectra):
        if seed != first_seed:
            continue
        s = spec[layer]
        colour = _label_colours(keys)[label]
        lam = s.eigenvalues[:s.rank]
        ax_a.loglog(np.arange(1, lam.size + 1), lam / lam[0], color=colour, lw=1.5,
                    ls="--" if label == CONTROL else "-", label=label)
        _fit_line(ax_a, s, lam[0], color=colour, ls=":", lw=0.9)
    ax_a.axvspan(*spectra[0][layer].fit.fit_range, color="0.92", zorder=0)
    ax_a.set(xlabel="principal component $n$", ylabel=r"$\lambda_n / \lambda_1$",
             title=f"(a) {layer}, seed {first_seed}")
    ax_a.legend(fontsize="small")
    labels = [rate_label(p) for p in rates]
    for ax, value in ((ax_b, lambda s: s.quality.rms_residual), (ax_c, lambda s: s.quality.curvature)):
        stats = over_seeds(seed_table(spectra, keys, value).loc[layers])
        for name in layers:
            lw, z = (2.6, 3) if name == layer else (1.2, 2)
            ax.errorbar(rates, stats.mean.loc[name, labels], yerr=stats.sd.loc[name, labels].fillna(0), fmt="o-",
                        color=colours[name], lw=lw, ms=4, capsize=2, zorder=z, label=name)
        if CONTROL in stats.mean.columns:
            ax.axhline(stats.mean.loc[layer, CONTROL], color=CONTROL_COLOUR, ls="--", lw=1.5,
                       label=f"{layer}, {CONTROL}")
    ax_c.axhline(0, color="k", lw=0.8)
    ax_b.set(xlabel="dropout rate $p$", ylabel="rms residual (decades)", title="(b) deviation from a power law")
    ax_c.set(xlabel="dropout rate $p$", ylabel="curvature $c_2$ (per decade²)", title="(c) curvature")
    ax_c.legend(*ax_b.get_legend_handles_labels(), fontsize="x-small", title="depth", loc="upper left",
                bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return finished(fig)


def _log_binned(values: np.ndarray, n_bins: int = 18) -> tuple[np.ndarray, np.ndarray]:
    """Mean of values in log-spaced bins of the PC index (cvPCA spectra are noisy PC by PC)."""
    edges = np.unique(np.geomspace(1, values.size + 1, n_bins + 1).astype(int))
    centres = np.sqrt(edges[:-1] * (edges[1:] - 1).clip(min=edges[:-1]))
    return centres, np.array([values[a - 1:b - 1].mean() for a, b in zip(edges[:-1], edges[1:])])


def cross_validated_spectra(cv: Sequence[Mapping[str, CrossValidated]], keys: Sequence[Key], layer: str) -> Figure:
    """cvPCA before each stage's last dropout mask: one layer's repeat and cvPCA spectra for the first seed at the
    highest rate and its untrained control (a); the reliable share by depth, mean ± SD over seeds (b)."""
    table = seed_table(cv, keys, lambda c: c.reliable_share())
    stats = over_seeds(table)
    layers = list(table.index)
    depth = np.arange(len(layers))
    colours = _label_colours(keys)
    last_rate = [label for label in colours if not label.startswith(CONTROL)][-1]
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(12.5, 3.9))
    first_seed = keys[0][1]
    for (label, seed), res in zip(keys, cv):
        if seed != first_seed or not (label == last_rate or label.endswith(f"({last_rate})")):
            continue
        c = res[layer]
        lam = c.repeat_eigenvalues[c.repeat_eigenvalues > 0]
        ax_a.loglog(np.arange(1, lam.size + 1), lam / lam[0], color=colours[label], lw=1.2)
        centres, means = _log_binned(c.cv_eigenvalues[:lam.size])
        ok = means > 0
        ax_a.loglog(centres[ok], means[ok] / lam[0], "o", color=colours[label], ms=4, mfc="white", label=label)
    ctrl_styles = ["s--", "D--", "^--", "v--"]
    for i, (label, colour) in enumerate(colours.items()):
        fmt = ctrl_styles[i % 4] if label.startswith(CONTROL) else "o-"
        ax_b.errorbar(depth, stats.mean[label], yerr=stats.sd[label].fillna(0), fmt=fmt, color=colour, ms=4,
                      capsize=2, label=label)
    ax_a.set(xlabel="principal component $n$", ylabel=r"$\lambda_n / \lambda_1$",
             title=f"(a) {layer}: repeat 1 (lines), cvPCA (circles)")
    ax_a.legend(fontsize="small")
    ax_b.axhline(1, color="k", lw=0.8)
    ax_b.set(xticks=depth, xticklabels=layers, xlabel="depth", ylabel="reliable share of variance",
             title="(b) variance reproduced across dropout masks")
    ax_b.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return finished(fig)
