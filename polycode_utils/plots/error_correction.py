"""Figures of the error-correcting demonstration (the note's Fig. 1): information by layer, and training curves.

Results in, a Matplotlib figure out: the functions draw what polycode_utils.networks.error_correction measured, with the
book's labels, and compute nothing the text states.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from polycode_utils.plots import finished

ESTIMATOR_STYLE = {"decoder": dict(ls="-", marker="o", label="decoder bound"),
                   "mine": dict(ls="--", marker="s", label="MINE")}


def information_by_layer(table: pd.DataFrame, *, necessary: float, capacity: float | None = None) -> Figure:
    """Fig. 1 of the note, regenerated: I(input; layer) in nats against the layer, one colour per network (columns
    network, layer, estimator, nats, stderr), one line style per estimator, layers evenly spaced; the necessary
    information and, when given, the capacity of one dropout layer (drawn as a line, or as an arrow at the top when
    it lies far above the data). The last layer is labelled as the read-out."""
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    networks = list(dict.fromkeys(table.network))
    colours = dict(zip(networks, sns.color_palette("colorblind", len(networks))))
    layers = sorted(set(table.layer))
    position = {layer: i for i, layer in enumerate(layers)}
    for (network, estimator), rows in table.groupby(["network", "estimator"], sort=False):
        rows = rows.sort_values("layer")
        style = ESTIMATOR_STYLE[estimator]
        ax.errorbar(rows.layer.map(position).to_numpy(float), rows.nats.to_numpy(float),
                    yerr=rows.stderr.to_numpy(float), color=colours[network], ms=5, capsize=2, ls=style["ls"],
                    marker=style["marker"], label=f"{network}, {style['label']}")
    ax.axhline(necessary, color="tab:pink", lw=2, label=f"necessary information $h(X)$ = {necessary:.2f} nats")
    ax.axhline(0.0, color="0.3", lw=0.8)
    top = max(float((table.nats + table.stderr).max()), necessary) * 1.1
    if capacity is not None:
        text = f"capacity of one dropout layer, (1 - p) m C_b = {capacity:.1f} nats"
        if capacity <= 1.3 * top:
            ax.axhline(capacity, color="goldenrod", lw=2, ls=":", label=text)
        else:
            ax.annotate(f"\u2191 {text} (off the scale)", xy=(0.99, 0.99), xycoords="axes fraction", ha="right",
                        va="top", color="darkgoldenrod", fontsize="small")
            ax.set_ylim(top=top)
    ax.set_xticks(range(len(layers)), [str(n) for n in layers[:-1]] + ["out"])
    ax.set(xlabel="dense layer (activations before its dropout mask); out: the read-out",
           ylabel="mutual information with the input (nats)")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.tight_layout()
    return finished(fig)


def training_curves(losses: Mapping[str, np.ndarray], *, baseline: float, window: int = 100) -> Figure:
    """Training MSE against the step (a running mean over `window` steps), one line per run, with the MSE of
    predicting the input's mean (`baseline`) as a dashed line."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, values in losses.items():
        values = np.asarray(values, dtype=float)
        w = max(1, min(window, len(values)))
        smooth = np.convolve(values, np.ones(w) / w, mode="valid")
        ax.plot(np.arange(w, len(values) + 1), smooth, label=label)
    ax.axhline(baseline, color="0.3", ls="--", lw=1, label=f"predicting the mean: {baseline:.3f}")
    ax.set(xlabel="training step", ylabel=f"MSE (running mean, {window} steps)", yscale="log")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return finished(fig)
