"""Figures of the theory chapters (Figs. 1b, 1c and 2): results in, a Matplotlib figure out.

Each function draws one figure from results the theory modules computed (codes, toy models, capacities), adds the
closed-form reference curves it needs from those modules, closes the figure (no pyplot state is left behind) and
returns it: show it as a cell's last expression, or glue it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from polycode_utils.theory.capacity import (CODES, code_capacity, dropout_capacity_bounds, dropout_unit_capacity,
                                     erasure_code_capacity)
from polycode_utils.theory.decoding import SurvivalEstimate
from polycode_utils.theory.codes import dimensions_per_feature, optimal_dims_per_feature
from polycode_utils.plots import finished
from polycode_utils.theory.toy_models import STICKY_FRACTIONS

#: Marker and line style of each code in Fig. 2 (the paper's: circles, stars, squares).
CODE_STYLE = {"monosemantic": dict(marker="o", ls="-"), "polysemantic": dict(marker="*", ls="--", ms=8),
              "repetition": dict(marker="s", ls="-")}
#: How Fig. 2 labels each code: the overlapping code's curve is the per-feature rule's.
CODE_LABEL = {"monosemantic": "monosemantic", "polysemantic": "polysemantic, per-feature rule",
              "repetition": "repetition (redundant monosemantic)"}


def _log_ticks(largest: float) -> list[int]:
    """Round ticks 1, 2, 5, 10, ... up to `largest` (1/(1-S) axes)."""
    return [t for t in (1, 2, 5, 10, 20, 50, 100) if t <= largest * 1.01]


def _draw_code(ax_graph: plt.Axes, ax_matrix: plt.Axes, E: np.ndarray, title: str) -> None:
    """Features (orange, left) wired to neurons (grey, right) by the entries of E; below, E itself."""
    m, n = E.shape
    rows = max(m, n)
    y_feat, y_neur = (0.5 + ((k - 1) / 2 - np.arange(k)) / (rows - 1) for k in (n, m))  # centred columns
    scale = np.abs(E).max()
    for i, j in zip(*np.nonzero(np.abs(E) > 1e-9)):
        ax_graph.plot([0, 1], [y_feat[j], y_neur[i]], lw=0.5 + 3 * abs(E[i, j]) / scale,
                      color=plt.cm.RdBu_r(0.9 if E[i, j] > 0 else 0.1), alpha=0.8, zorder=1)
    ax_graph.scatter(np.zeros(n), y_feat, s=160, color="tab:orange", edgecolor="k", zorder=2)
    ax_graph.scatter(np.ones(m), y_neur, s=220, color="0.75", edgecolor="k", zorder=2)
    ax_graph.set(xlim=(-0.25, 1.25), ylim=(-0.2, 1.1), title=f"{title}\n$n={n}$ features, $m={m}$ neurons")
    ax_graph.text(0, -0.14, "features", ha="center", va="center", fontsize="small")
    ax_graph.text(1, -0.14, "neurons", ha="center", va="center", fontsize="small")
    ax_graph.axis("off")
    ax_matrix.imshow(E, cmap="RdBu_r", vmin=-1, vmax=1)
    ax_matrix.set(xticks=range(n), yticks=range(m), xlabel="feature $j$", ylabel="neuron $i$",
                  title=f"$E$, $D = m/\\|E\\|_F^2 = {dimensions_per_feature(E):.2f}$")
    ax_matrix.grid(False)


def plot_codes(codes: Mapping[str, np.ndarray]) -> Figure:
    """Fig. 1b: each code (name -> encoding matrix E, neurons x features) as a wiring diagram above its matrix."""
    fig, axes = plt.subplots(2, len(codes), figsize=(10 * len(codes) / 3, 6.2), squeeze=False,
                             gridspec_kw=dict(height_ratios=[1.3, 1]))
    for col, (name, E) in enumerate(codes.items()):
        _draw_code(axes[0, col], axes[1, col], np.asarray(E, dtype=float), name)
    fig.tight_layout()
    return finished(fig)


def plot_dimensions_vs_sparsity(sparsities: np.ndarray, d_star: np.ndarray, d_feature: np.ndarray,
                                bits_per_value: float, floor: float | None = None) -> Figure:
    """Fig. 1c: trained D* and per-feature D_i against 1/(1-S), with the optimal D_opt, its limit, sticky fractions.

    floor: the model's m/n, below which D* cannot go while every feature is represented (drawn dash-dotted).
    """
    inv_density = 1.0 / (1.0 - np.asarray(sparsities))
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    green = plt.rcParams["axes.prop_cycle"].by_key()["color"][2]
    ax.scatter(np.repeat(inv_density, d_feature.shape[-1]), d_feature.ravel(), s=6, color="0.55", alpha=0.25,
               lw=0, label="per-feature $D_i$ (trained here)")
    ax.plot(inv_density, d_star, "o-", color="0.15", ms=4, lw=1.5, label="$D^* = m/\\|W\\|_F^2$ (trained here)")
    x_fine = np.geomspace(1.0, inv_density[-1], 300)
    ax.plot(x_fine, optimal_dims_per_feature(1 - 1 / x_fine, bits_per_value), color=green, lw=2,
            label=f"$D_\\mathrm{{opt}}$, $H_\\mathrm{{elem}} = {bits_per_value:g}$ bits (paper's theory)")
    ax.plot(x_fine, 1 / x_fine, ":", color=green, lw=1.5, label="$1-S$ (its limit, $H_\\mathrm{elem} \\to \\infty$)")
    if floor is not None:
        ax.axhline(floor, ls="-.", lw=1.5, color="tab:red", label=f"$m/n = {floor:g}$ (floor of a model of this size)")
    for f in STICKY_FRACTIONS:
        ax.axhline(f, ls="--", lw=0.8, color="0.4", zorder=0)
        ax.text(1.01, f, str(Fraction(f).limit_denominator(8)), transform=ax.get_yaxis_transform(),
                fontsize="small", color="0.3", va={0.4: "bottom", 0.375: "top"}.get(round(f, 3), "center"))
    ticks = _log_ticks(inv_density[-1])
    ax.set(xscale="log", xlabel="$1/(1-S)$, $S$ = sparsity", ylabel="dimensions per feature", ylim=(0, 1.1),
           xticks=ticks, xticklabels=[str(t) for t in ticks])
    ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize="small", frameon=False)
    fig.tight_layout()
    return finished(fig)


def plot_training_losses(losses: np.ndarray, sparsities: np.ndarray) -> Figure:
    """Loss (steps, instances) of each toy model, a running mean over 1/100 of the steps, coloured by 1/(1-S)."""
    inv_density = 1.0 / (1.0 - np.asarray(sparsities))
    steps = losses.shape[0]
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    norm = mpl.colors.LogNorm(1, inv_density[-1])
    window = max(1, steps // 100)
    for k in range(len(inv_density)):
        smooth = np.convolve(losses[:, k], np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, steps + 1), smooth, color=plt.cm.viridis(norm(inv_density[k])), lw=1)
    cbar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=ax, label="$1/(1-S)$")
    ticks = _log_ticks(inv_density[-1])
    cbar.set_ticks(ticks, labels=[str(t) for t in ticks])
    cbar.ax.yaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.set(yscale="log", xlabel="training step", ylabel="loss (running mean)")
    fig.tight_layout()
    return finished(fig)


def plot_theorem_check(check: pd.DataFrame) -> Figure:
    """The theorem checked (theorem_check's table): capacity per unit against p, with the bounds and the exact curve."""
    p_fine = np.linspace(0, 1, 201)
    all_bits, all_units = sorted(check.bits.unique()), sorted(check.units.unique())
    fig, axes = plt.subplots(1, len(all_bits), figsize=(4.5 * len(all_bits), 3.6), squeeze=False)
    for ax, bits in zip(axes[0], all_bits):
        lower, upper = dropout_capacity_bounds(1, bits, p_fine)
        ax.fill_between(p_fine, lower, upper, color="0.85", label="theorem's bounds (paper)")
        ax.plot(p_fine, upper, color="0.5", lw=1)
        ax.plot(p_fine, lower, color="0.5", lw=1)
        ax.plot(p_fine, dropout_unit_capacity(bits, p_fine), color="C0", label="exact capacity (ours)")
        for i, n_units in enumerate(all_units):
            sel = check[(check.bits == bits) & (check.units == n_units)]
            ax.plot(sel.p + 0.02 * (n_units - 2), sel.blahut_arimoto / n_units, "os^Dv<>"[i % 7], ms=6, mfc="none",
                    color=f"C{i + 1}", label=f"Blahut–Arimoto, {n_units} unit{'s' if n_units > 1 else ''} (ours)")
        ax.set(xlabel="dropout rate $p$", ylabel="capacity per unit (bits)",
               title=f"units of $C_b$ = {bits} bit{'s' if bits > 1 else ''}", xlim=(-0.05, 1.05),
               ylim=(-0.05, bits * 1.05))
    fig.tight_layout()
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3,
               fontsize="small")
    return finished(fig)


def plot_capacity_vs_depth(curves: Mapping[tuple[str, float], np.ndarray],
                           sims: Mapping[tuple[str, float], SurvivalEstimate], dropout_rates: Sequence[float],
                           width: int, bits_per_unit: float) -> Figure:
    """Fig. 2b–c: closed-form capacity (lines) and Monte-Carlo (markers, ±1 s.e.) against depth, per code and p.

    curves and sims are keyed by (code, p); the Shannon line (1-p)·m·C_b is dotted.
    """
    palette = sns.color_palette("flare", len(dropout_rates))
    max_depth = max(int(est.depths[-1]) for est in sims.values())
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, codes, panel in zip(axes, (("monosemantic", "polysemantic"), ("repetition",)), "bc"):
        for colour, p in zip(palette, dropout_rates):
            ax.axhline((1 - p) * width * bits_per_unit, color=colour, ls=":", lw=1.2)
            for code in codes:
                st, est = dict(CODE_STYLE[code]), sims[code, p]
                ax.plot(est.depths, curves[code, p], color=colour, ls=st.pop("ls"), lw=1.4)
                ok = est.capacity > 0
                ax.errorbar(est.depths[ok], est.capacity[ok], yerr=est.stderr[ok], color=colour, ls="none",
                            mfc="white", capsize=2, **st)
        ax.set(yscale="log", xlabel="depth $L$ (dropout layers)", xlim=(-0.5, max_depth + 0.5),
               title=f"({panel}) " + "\nand ".join(CODE_LABEL[c] for c in codes))
    axes[0].set_ylabel("capacity (bits)")
    axes[0].set_ylim(1e-3 * width * bits_per_unit, 2 * width * bits_per_unit)
    handles = [plt.Line2D([], [], color=c, lw=2, label=f"$p$ = {p:g}") for c, p in zip(palette, dropout_rates)]
    handles += [plt.Line2D([], [], color="0.3", label=CODE_LABEL[code], **CODE_STYLE[code]) for code in CODES]
    handles += [plt.Line2D([], [], color="0.3", ls=":", label="Shannon line $(1-p)mC_b$")]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    fig.tight_layout()
    return finished(fig)


def plot_capacity_vs_width(widths: np.ndarray, k_best: Mapping[float, np.ndarray],
                           sims: Mapping[tuple[float, int], SurvivalEstimate], bits_per_unit: float) -> Figure:
    """Capacity per unit of the repetition code at the sims' depth against width (d), and its best k (e).

    k_best: best redundancy per width for each p; sims keyed by (p, width). Lines: closed form; squares:
    Monte-Carlo (±1 s.e.); dash-dotted: the monosemantic code; dotted: the Shannon line per unit (1-p)·C_b.
    """
    rates = list(k_best)
    depth = int(next(iter(sims.values())).depths[-1])
    palette = sns.color_palette("flare", len(rates))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0), gridspec_kw=dict(width_ratios=(3, 2)))
    ax = axes[0]
    for colour, p in zip(palette, rates):
        ax.axhline((1 - p) * bits_per_unit, color=colour, ls=":", lw=1.2)
        mono = code_capacity("monosemantic", int(widths[-1]), depth, p, bits_per_unit) / widths[-1]
        if mono > 0:
            ax.axhline(mono, color=colour, ls="-.", lw=1.2)
        poly = [code_capacity("repetition", int(w), depth, p, bits_per_unit) / w for w in widths]
        ax.plot(widths, poly, color=colour, lw=1.4)
        mc = np.array([sims[p, w].capacity[-1] for w in widths]) / widths
        err = np.array([sims[p, w].stderr[-1] for w in widths]) / widths
        ok = mc > 0
        ax.errorbar(widths[ok], mc[ok], yerr=err[ok], color=colour, marker="s", mfc="white", ls="none", capsize=2)
    ax.set(yscale="log", xlabel="width $m$ (units)", ylabel="capacity per unit (bits)",
           ylim=(1e-3 * bits_per_unit, 2 * bits_per_unit), title=f"(d) capacity per unit at depth {depth}")
    for colour, p in zip(palette, rates):
        axes[1].plot(widths, k_best[p], color=colour, marker="o", ms=4, label=f"$p$ = {p:g}")
    axes[1].set(xlabel="width $m$ (units)", ylabel="best redundancy $k$", title=f"(e) best $k$ at depth {depth}")
    axes[1].legend(fontsize="small")
    fig.tight_layout()
    return finished(fig)


def plot_joint_decoding(per_feature: Mapping[float, np.ndarray], joint: Mapping[tuple[str, float], SurvivalEstimate],
                        widths: np.ndarray, bits_per_unit: float) -> Figure:
    """Joint erasure decoding (ours): capacity against depth (f) and a wide MDS erasure code's capacity per unit (g).

    per_feature: the overlapping code's per-feature closed form by p; joint: simulations keyed by (name, p);
    widths: the widths of panel (g), at the simulations' depth. Dotted: the Shannon line, (1-p)·m·C_b or (1-p)·C_b.
    """
    rates = list(per_feature)
    names = sorted({name for name, _ in joint})
    est0 = next(iter(joint.values()))
    width, depth = est0.width, int(est0.depths[-1])
    palette = sns.color_palette("flare", len(rates))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    markers = dict(zip(names, "Dv^<>"))
    for colour, p in zip(palette, rates):
        axes[0].axhline((1 - p) * width * bits_per_unit, color=colour, ls=":", lw=1.2)
        axes[0].plot(est0.depths, per_feature[p], color=colour, ls="--", lw=1.2)
        for name in names:
            est = joint[name, p]
            ok = est.capacity > 0
            axes[0].errorbar(est.depths[ok], est.capacity[ok], yerr=est.stderr[ok], color=colour, ls="-", lw=0.8,
                             marker=markers[name], mfc="white", ms=4, capsize=2)
        axes[1].axhline((1 - p) * bits_per_unit, color=colour, ls=":", lw=1.2)
        axes[1].plot(widths, [erasure_code_capacity(int(w), depth, p, bits_per_unit) / w for w in widths],
                     color=colour, lw=1.6, label=f"$p$ = {p:g}")
    axes[0].set(yscale="log", xlabel="depth $L$ (dropout layers)", ylabel="capacity (bits)",
                ylim=(1e-3 * width * bits_per_unit, 2 * width * bits_per_unit),
                title=f"(f) joint decoding, width {width}")
    axes[1].set(xscale="log", xlabel="width $m$ (units)", ylabel="capacity per unit (bits)",
                ylim=(0, 1.1 * bits_per_unit), title=f"(g) MDS erasure code at depth {depth}")
    handles = [plt.Line2D([], [], color="0.3", ls="none", marker=markers[n], mfc="white", label=f"{n}, joint decoder")
               for n in names]
    handles += [plt.Line2D([], [], color="0.3", ls="--", label="polysemantic, per-feature rule"),
                plt.Line2D([], [], color="0.3", ls=":", label="Shannon line")]
    axes[0].legend(handles=handles, fontsize="small", loc="lower left")
    axes[1].legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    return finished(fig)


def plot_code_spectra(spectra: Mapping[str, np.ndarray]) -> Figure:
    """Fig. 3a's idealised spectra: each code's activation eigenvalues (name -> descending array) by rank, log-log."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, (name, eig) in enumerate(spectra.items()):
        eig = np.asarray(eig, dtype=float)
        rank = np.arange(1, eig.size + 1)
        ok = eig > 1e-12 * eig.max()
        ax.plot(rank[ok], eig[ok], "o-", ms=4, color=f"C{i}", label=name)
        if (~ok).any():  # the cliff: eigenvalues that are zero
            ax.plot([rank[ok][-1], rank[ok][-1]], [eig[ok][-1], eig[ok].min() * 1e-2], color=f"C{i}", ls=":")
    ax.set(xscale="log", yscale="log", xlabel="rank $n$", ylabel="eigenvalue $\\lambda_n$ of the activations")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return finished(fig)


#: The panels of the dropout-toy figure: (column of code_measures' table, axis label).
TOY_PANELS = (("represented", "features represented"), ("d_star", "dimensions per feature D*"),
              ("neurons_per_feature", "neurons per feature (redundancy)"),
              ("features_per_neuron", "features per neuron (polysemanticity)"),
              ("loss_masks_on", "loss with masks at the highest rate"))


def plot_dropout_toys(table: pd.DataFrame) -> Figure:
    """The ground-truth measures of the dropout toy models against the dropout rate: one line per sparsity
    (colour) and importance decay (solid: uniform, dashed: decaying), mean +- SD over seeds (chapter 8)."""
    frame = table.assign(S=table["sparsity"].map("{:g}".format),
                         importance=np.where(table["decay"] == 1.0, "uniform", "decaying"))
    fig, axes = plt.subplots(1, len(TOY_PANELS), figsize=(16.0, 3.4))
    for ax, (column, label) in zip(axes, TOY_PANELS):
        sns.lineplot(frame, x="dropout", y=column, hue="S", style="importance", style_order=["uniform", "decaying"],
                     errorbar="sd", marker="o", ax=ax, legend=ax is axes[-1])
        ax.set(xlabel="dropout rate p", ylabel=label)
    axes[-1].set_yscale("log")
    sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1.02, 1.0), title="sparsity S / importance")
    fig.tight_layout()
    return finished(fig)


def plot_alpha_against_redundancy(table: pd.DataFrame) -> Figure:
    """Each toy model's eigenspectrum exponent alpha of its hidden activations against its neurons per feature,
    coloured by dropout rate (chapter 8)."""
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    sns.scatterplot(table.assign(p=table["dropout"].map("{:g}".format)), x="neurons_per_feature", y="alpha", hue="p",
                    style=np.where(table["decay"] == 1.0, "uniform", "decaying"), palette="viridis", ax=ax)
    ax.set(xlabel="neurons per feature (ground truth)", ylabel=r"$\alpha$ of the hidden activations")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1.0), title="dropout p / importance")
    fig.tight_layout()
    return finished(fig)
