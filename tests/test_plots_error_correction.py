"""Tests of polycode_utils.plots.error_correction: each figure draws exactly the data it is given, and is closed."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from polycode_utils.plots.error_correction import information_by_layer, training_curves


@pytest.fixture(autouse=True)
def no_open_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == []


def test_information_by_layer_one_line_per_network_and_estimator() -> None:
    table = pd.DataFrame([dict(network=n, layer=layer, estimator=e, nats=v + (e == "mine"), stderr=0.1)
                          for n, values in (("learnt", [5.0, 3.0, 2.5]), ("untrained", [6.0, 1.0, 0.0]))
                          for e in ("decoder", "mine") for layer, v in zip([4, 8, 9], values)])
    ax = information_by_layer(table, necessary=2.08, capacity=8.0).axes[0]
    data = [container.lines[0] for container in ax.containers]  # the errorbar plots, in drawing order
    assert len(data) == 4
    np.testing.assert_allclose(data[0].get_ydata(), [5.0, 3.0, 2.5])  # learnt, decoder bound
    np.testing.assert_allclose(data[1].get_ydata(), [6.0, 4.0, 3.5])  # learnt, MINE
    assert data[1].get_linestyle() == "--"
    levels = sorted(line.get_ydata()[0] for line in ax.lines if line.get_linestyle() != "None" and
                    len(line.get_xdata()) == 2)
    assert levels == [0.0, 2.08, 8.0]
    np.testing.assert_allclose(data[0].get_xdata(), [0, 1, 2])  # evenly spaced
    assert [t.get_text() for t in ax.get_xticklabels()] == ["4", "8", "out"]
    labels = ax.get_legend_handles_labels()[1]
    assert "learnt, decoder bound" in labels and "untrained, MINE" in labels


def test_training_curves_running_mean() -> None:
    ax = training_curves({"a": np.arange(1.0, 11.0)}, baseline=1 / 3, window=4).axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(4, 11))
    np.testing.assert_allclose(ax.lines[0].get_ydata()[:2], [2.5, 3.5])
    assert ax.lines[1].get_ydata()[0] == pytest.approx(1 / 3) and ax.get_yscale() == "log"


def test_a_capacity_far_above_the_data_is_an_arrow() -> None:
    table = pd.DataFrame(dict(network="learnt", layer=[4, 5], estimator="mine", nats=[2.0, 1.0], stderr=0.1))
    ax = information_by_layer(table, necessary=2.0, capacity=50.0).axes[0]
    assert ax.get_ylim()[1] == pytest.approx(2.31) and "50.0 nats (off the scale)" in ax.texts[0].get_text()
