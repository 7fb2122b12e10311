"""Chapter 7's figures (polycode_utils.plots.language): what each draws, from constructed results."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from polycode_utils.networks.language import SiteSpectrum
from polycode_utils.plots.language import (action_by_layer, alpha_by_layer, alpha_fits_by_layer, fit_by_layer,
                                           proxy_by_layer, score_by_layer, spectra_by_layer)
from polycode_utils.instruments.spectra import fit_power_law

LAYERS = 4


@pytest.fixture(autouse=True)
def no_open_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == []  # every plotting function closes its figure


def spectrum(kind: str, layer: int) -> SiteSpectrum:
    lam = np.arange(1, 51, dtype=float) ** -(1.0 + layer / 10)
    fit = fit_power_law(lam, (1, 20))
    return SiteSpectrum(f"{kind}.{layer}", layer, layer / (LAYERS - 1), 500, lam, fit, 0.99, (fit.alpha - 0.1,
                        fit.alpha + 0.1), np.zeros(2), lam[0] / lam.sum())


def frame() -> pd.DataFrame:
    rows = [dict(run=run, kind=kind, layer=layer, depth=layer / (LAYERS - 1), alpha=-1 - layer / 10 - shift,
                 ci_low=-1.1 - layer / 10 if run == "main" else np.nan, ci_high=-0.9 - layer / 10 if run == "main"
                 else np.nan, r2=0.95, pc1_share=0.1 + layer / 10, n_tokens=500)
            for run, shift in (("main", 0.0), ("untrained", 0.5)) for kind in ("resid", "mlp")
            for layer in range(LAYERS)]
    return pd.DataFrame(rows)


def test_spectra_one_panel_per_site_kind_one_line_per_layer():
    spectra = {f"{k}.{i}": spectrum(k, i) for k in ("resid", "mlp") for i in range(LAYERS)}
    fig = spectra_by_layer(spectra, title="model")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["residual stream", "MLP hidden activation"]
    assert all(len(ax.lines) == LAYERS + 1 for ax in panels)  # every layer and the slope -1
    np.testing.assert_allclose(panels[0].lines[0].get_ydata(), spectra["resid.0"].eigenvalues
                               / spectra["resid.0"].eigenvalues.sum())


def test_alpha_by_layer_draws_every_run_and_the_critical_line():
    fig = alpha_by_layer(frame(), {"main": "trained", "untrained": "at init", "compare": "absent"})
    for ax in fig.axes:
        assert [line.get_label() for line in ax.lines[:2]] == ["trained", "at init"]
        assert any(np.allclose(line.get_ydata(), -1.0) for line in ax.lines[2:])  # alpha = -1
        assert len(ax.collections) == 1  # the interval of the run that has one
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), -1.5 - np.arange(LAYERS) / 10)


def test_fit_by_layer_r2_and_pc1_share():
    fig = fit_by_layer(frame(), {"main": "trained", "untrained": "at init"})
    ax_r2, ax_pc = fig.axes
    assert len(ax_r2.lines) == len(ax_pc.lines) == 4 and ax_pc.get_yscale() == "log"
    np.testing.assert_allclose(ax_pc.lines[0].get_ydata(), 0.1 + np.arange(LAYERS) / 10)


def test_action_and_proxy_by_layer():
    actions = pd.DataFrame([dict(kind=k, layer=i, depth=i / 3, unit=u, median=0.8, q25=0.7, q75=0.9)
                            for k in ("resid", "mlp") for i in range(LAYERS) for u in ("neuron", "projection")])
    fig = action_by_layer(actions)
    assert [line.get_label() for line in fig.axes[0].lines] == ["neurons", "projections", "white noise"]
    proxy = pd.DataFrame([dict(kind=k, layer=i, depth=i / 3, neuron_mean=0.3, neuron_se=0.01, projection_mean=0.2,
                               projection_se=0.01) for k in ("resid", "mlp") for i in range(LAYERS)])
    fig = proxy_by_layer(proxy, np.array([0.1, 0.2]))
    assert np.allclose(fig.axes[0].lines[2].get_ydata(), 0.15)  # the chance level: the noise units' mean
    assert fig.axes[1].get_title() == "MLP hidden activation"


def test_score_by_layer_draws_each_unit_kind_trained_and_untrained():
    rows = [dict(run=run, kind="mlp", layer=layer, depth=layer / 3, unit=unit, mean=level + i / 100, se=0.01,
                 units=10)
            for run, level in (("main", 0.2), ("untrained", 0.01)) for layer in range(LAYERS)
            for i, unit in enumerate(("neuron", "projection", "pca"))]
    fig = score_by_layer(pd.DataFrame(rows))
    ax = fig.axes[0]
    assert ax.get_title() == "MLP hidden activation" and len(ax.lines) == 6 + 1   # and the zero line
    assert ax.lines[0].get_label() == "neurons, trained" and ax.lines[1].get_linestyle() == "--"
    np.testing.assert_allclose(ax.lines[3].get_ydata(), 0.01 + 0.01)            # random directions, untrained


def test_alpha_fits_by_layer_draws_the_four_fits():
    rows = [dict(kind=kind, depth=layer / 3, alpha=-1.0, alpha_without=-1.1, alpha_from_2=-1.2, alpha_from_11=-1.3)
            for kind in ("resid", "mlp") for layer in range(LAYERS)]
    fig = alpha_fits_by_layer(pd.DataFrame(rows))
    assert [ax.get_title() for ax in fig.axes] == ["residual stream", "MLP hidden activation"]
    np.testing.assert_allclose([line.get_ydata()[0] for line in fig.axes[1].lines[:4]], [-1.0, -1.1, -1.2, -1.3])
