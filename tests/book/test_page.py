"""The page kit: the provenance box, the stand-in figure, glued values, the book's one figure style."""

from __future__ import annotations

import myst_nb

from importlib.metadata import version

import pytest

from polycode_utils.book.page import declared_parameters, glue_values, message_figure, provenance_box, set_style
from polycode_utils.book.paths import book_root
from polycode_utils.book.provenance import code_commit, package_versions


def test_provenance_box_names_data_model_profile_and_every_parameter():
    box = provenance_box(profile="smoke", data="patches", model="ResNet", embedded_default=True,
                         parameters={"seed": 3, "rates": [0.0, 0.25], "lr": 0.001, "mode": "fast"}).data
    assert box.startswith("```{admonition} Provenance of this run\n:class: note\n") and box.endswith("```\n")
    assert "**Data:** patches" in box and "**Model:** ResNet" in box
    assert "**Profile:** `smoke` (the embedded offline default)" in box and "**Seed:** `3`" in box
    assert "| `rates` | `0, 0.25` |" in box and "| `lr` | `0.001` |" in box and "| `mode` | `fast` |" in box
    real = provenance_box(profile="paper", data="CIFAR-10", model="m", embedded_default=False, parameters={}).data
    assert "(real data / weights)" in real and "**Seed:** `n/a`" in real
    commit = code_commit(book_root())  # the tests run in the book's checkout
    assert f"**Code:** commit `{commit[:12]}" in box and commit != "unknown"
    assert ("(with uncommitted changes)" in box) == commit.endswith("+modified")
    assert ", ".join(f"{name} {v}" for name, v in package_versions().items()) in box
    assert f"torch {version('torch')}" in box and "python 3." in box


def test_declared_parameters_are_the_parameters_cell_s_names_with_this_run_s_values():
    """Issue 20: every chapter typed its parameters twice (the parameters cell and the provenance box's dict)."""
    namespace = {"profile": "smoke", "seed": 4, "width": 12, "max_depth": 20, "bits_per_unit": 2, "spread": 2,
                 "dropout_rates": [0.0, 0.5], "n_trials": 10, "unrelated": 1}
    got = declared_parameters("02_capacity", namespace)
    assert list(got) == ["seed", "width", "max_depth", "bits_per_unit", "spread", "dropout_rates", "n_trials"]
    assert got["dropout_rates"] == [0.0, 0.5] and got["seed"] == 4
    with pytest.raises(ValueError, match=r"the parameters \['n_trials'\] of chapter 02_capacity are not defined"):
        declared_parameters("02_capacity", {k: v for k, v in namespace.items() if k != "n_trials"})
    empty = provenance_box(profile="smoke", data="d", model="m", embedded_default=True,
                           parameters={"layers": [], "stats_file": ""}).data
    assert "| `layers` | `[]` |" in empty and '| `stats_file` | `""` |' in empty


def test_message_figure_says_why_a_figure_is_absent():
    fig = message_figure("no cvPCA in this run")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts == ["no cvPCA in this run"] and not fig.axes[0].axison


def test_one_style():
    import matplotlib as mpl

    set_style()
    assert mpl.rcParams["figure.dpi"] == 100 and tuple(mpl.rcParams["figure.figsize"]) == (6.4, 4.0)
    assert mpl.rcParams["axes.grid"]  # seaborn whitegrid


def test_glue_values_glues_each_value_under_its_own_name(monkeypatch):
    glued = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.append((name, value, display)))
    glue_values({"alpha": -1.25, "verdict": "flatter"})
    assert glued == [("alpha", -1.25, False), ("verdict", "flatter", False)]
