"""Tests of polycode_utils.plots.theory: each figure draws exactly the data it is given, labelled, and is closed."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from polycode_utils.theory.capacity import code_capacity, theorem_check
from polycode_utils.theory.decoding import simulate_code_survival
from polycode_utils.theory.codes import monosemantic_code, optimal_dims_per_feature, superposition_code
from polycode_utils.plots.theory import (TOY_PANELS, plot_alpha_against_redundancy, plot_capacity_vs_depth,
                                         plot_capacity_vs_width, plot_codes, plot_dimensions_vs_sparsity,
                                         plot_dropout_toys, plot_theorem_check, plot_training_losses)
from polycode_utils.theory.toy_models import STICKY_FRACTIONS


@pytest.fixture(autouse=True)
def no_open_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == []  # every plotting function closes its figure


def test_plot_codes_one_column_per_code() -> None:
    codes = {"monosemantic": monosemantic_code(3), "superposition": superposition_code(5, 2)}
    fig = plot_codes(codes)
    assert len(fig.axes) == 4
    graph, matrix = fig.axes[0], fig.axes[2]                      # row 1: wiring; row 2: matrices
    assert len(graph.lines) == 3                                  # one wire per non-zero entry of the identity
    assert matrix.get_xlabel() == "feature $j$" and matrix.get_ylabel() == "neuron $i$"
    np.testing.assert_array_equal(matrix.images[0].get_array(), monosemantic_code(3))
    assert "D = m/\\|E\\|_F^2 = 1.00" in matrix.get_title()
    assert "0.40" in fig.axes[3].get_title()                      # 2 neurons for 5 features
    assert len(fig.axes[1].lines) == 9                            # non-zero entries: all but sin(0) of feature 0


def test_plot_dimensions_vs_sparsity_draws_the_data_and_the_theory() -> None:
    s = np.array([0.0, 0.5, 0.9])
    d_star, d_feature = np.array([1.0, 0.6, 0.3]), np.full((3, 4), 0.5)
    ax = plot_dimensions_vs_sparsity(s, d_star, d_feature, 32.0).axes[0]
    trained, d_opt = ax.lines[0], ax.lines[1]
    np.testing.assert_allclose(trained.get_xdata(), [1.0, 2.0, 10.0])
    np.testing.assert_allclose(trained.get_ydata(), d_star)
    np.testing.assert_allclose(d_opt.get_ydata(), optimal_dims_per_feature(1 - 1 / d_opt.get_xdata(), 32.0))
    assert len(ax.collections[0].get_offsets()) == 12             # one dot per feature and sparsity
    assert sorted(line.get_ydata()[0] for line in ax.lines[3:]) == sorted(STICKY_FRACTIONS)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "5", "10"]
    assert ax.get_ylabel() == "dimensions per feature"


def test_plot_training_losses_running_mean() -> None:
    losses = np.outer(np.arange(1, 201, dtype=float), [1.0, 2.0])  # (steps, instances)
    ax = plot_training_losses(losses, np.array([0.0, 0.5])).axes[0]
    assert len(ax.lines) == 2 and ax.get_xlabel() == "training step"
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(2, 201))
    np.testing.assert_allclose(ax.lines[1].get_ydata()[:2], [3.0, 5.0])  # window 200 // 100 = 2: (2+4)/2, (4+6)/2


def test_plot_theorem_check_one_panel_per_unit_size() -> None:
    fig = plot_theorem_check(theorem_check((1, 2), (1, 2), [0.0, 0.5]))
    assert [ax.get_title() for ax in fig.axes] == ["units of $C_b$ = 1 bit", "units of $C_b$ = 2 bits"]
    ax = fig.axes[1]
    markers = ax.lines[3:]                                        # after the two bounds and the exact curve
    assert len(markers) == 2
    np.testing.assert_allclose(markers[1].get_xdata(), [0.0, 0.5])  # 2 units: not shifted
    np.testing.assert_allclose(markers[1].get_ydata()[0], 2.0, atol=1e-8)  # per unit, no dropout
    assert ax.get_xlabel() == "dropout rate $p$" and ax.get_ylabel() == "capacity per unit (bits)"


def test_plot_capacity_vs_depth_and_width() -> None:
    rates, width, depth = [0.2, 0.5], 4, 3
    curves, sims = {}, {}
    for i, p in enumerate(rates):
        for j, code in enumerate(("monosemantic", "polysemantic", "repetition")):
            curves[code, p] = code_capacity(code, width, np.arange(depth + 1), p, 2)
            sims[code, p] = simulate_code_survival(code, width, depth, p, 50, seed=(i, j), bits_per_unit=2)
    fig = plot_capacity_vs_depth(curves, sims, rates, width, 2)
    b, c = fig.axes
    assert b.get_title() == "(b) monosemantic\nand polysemantic, per-feature rule"
    assert c.get_title() == "(c) repetition (redundant monosemantic)"
    # per rate: the Shannon line, then per code its curve and error bars (markers and two caplines)
    assert len(b.lines) == 2 * (1 + 2 * (1 + 3)) and b.get_ylabel() == "capacity (bits)"
    np.testing.assert_allclose(b.lines[0].get_ydata(), [0.8 * 8] * 2)  # the Shannon line at p = 0.2
    np.testing.assert_allclose(b.lines[1].get_ydata(), curves["monosemantic", 0.2])
    widths = np.arange(1, width + 1)
    k_best = {p: np.ones(width, dtype=int) for p in rates}
    width_sims = {(p, int(w)): simulate_code_survival("repetition", int(w), depth, p, 50, seed=0, redundancy=1)
                  for p in rates for w in widths}
    d, e = plot_capacity_vs_width(widths, k_best, width_sims, 2).axes
    assert d.get_title() == "(d) capacity per unit at depth 3" and e.get_ylabel() == "best redundancy $k$"
    np.testing.assert_allclose(e.lines[0].get_ydata(), 1)
    poly = [line for line in d.lines if len(line.get_xdata()) == width][0]
    np.testing.assert_allclose(poly.get_ydata(), 2 * 0.8**3)      # k = 1 is monosemantic: C_b (1-p)^L per unit


def test_plot_dimensions_floor_joint_decoding_and_code_spectra() -> None:
    from polycode_utils.theory.decoding import simulate_joint_decoding  # noqa: PLC0415
    from polycode_utils.theory.codes import polysemantic_code  # noqa: PLC0415
    from polycode_utils.plots.theory import (plot_code_spectra, plot_dimensions_vs_sparsity,  # noqa: PLC0415
                                             plot_joint_decoding)

    s = np.array([0.0, 0.5, 0.9])
    fig = plot_dimensions_vs_sparsity(s, np.array([1.0, 0.6, 0.3]), np.ones((3, 4)), 32, floor=0.1)
    assert any(np.allclose(line.get_ydata(), 0.1) and "m/n" in line.get_label() for line in fig.axes[0].lines)
    joint = {("overlapping", p): simulate_joint_decoding(polysemantic_code(3, 2), 2, p, 50, seed=0, bits_per_unit=2)
             for p in (0.2, 0.5)}
    per_feature = {p: code_capacity("polysemantic", 4, np.arange(3), p, 2) for p in (0.2, 0.5)}
    f, g = plot_joint_decoding(per_feature, joint, np.array([4, 40, 400]), 2).axes
    assert f.get_title() == "(f) joint decoding, width 4" and g.get_title() == "(g) MDS erasure code at depth 2"
    np.testing.assert_allclose(g.lines[0].get_ydata(), 0.8 * 2)  # the Shannon line per unit at p = 0.2
    ax = plot_code_spectra({"monosemantic": np.ones(4), "repetition": np.array([1.0, 1.0, 0.0, 0.0])}).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 1.0)
    assert len(ax.lines[1].get_xdata()) == 2 and ax.get_yscale() == "log"  # the zeros are not drawn: a cliff


def toy_table() -> pd.DataFrame:
    rows = [dict(seed=s, sparsity=S, decay=d, dropout=p, represented=10 - 10 * p + s, neurons_per_feature=1 + p,
                 features_per_neuron=2 - p, d_star=0.4 + p, loss_masks_on=0.1 - 0.1 * p + 0.01 * s, alpha=-1 - p)
            for s in range(2) for S in (0.0, 0.9) for d in (1.0, 0.9) for p in (0.0, 0.5)]
    return pd.DataFrame(rows)


def test_plot_dropout_toys_one_panel_per_measure_mean_over_seeds() -> None:
    fig = plot_dropout_toys(toy_table())
    assert [ax.get_ylabel() for ax in fig.axes] == [label for _, label in TOY_PANELS]
    ax = fig.axes[0]
    assert ax.get_xlabel() == "dropout rate p" and len(ax.lines) >= 4      # 2 sparsities x 2 importances
    np.testing.assert_allclose(sorted(ax.lines[0].get_ydata()), [5.5, 10.5])  # the mean over the 2 seeds


def test_plot_alpha_against_redundancy_one_point_per_model() -> None:
    fig = plot_alpha_against_redundancy(toy_table())
    ax = fig.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 16
    assert "neurons per feature" in ax.get_xlabel() and "alpha" in ax.get_ylabel()
