"""Chapter 3's report: the note's Fig. 1 judged over seeds against its two controls."""

from __future__ import annotations

import pandas as pd

from polycode_utils.theory.claims import NOT_DISTINGUISHED, NOT_TESTABLE
from polycode_utils.networks.error_correction import CONTROL_NETWORKS
from polycode_utils.reports.ch03_error_correction import control_table, note_fig1_verdicts, settings_that_differ

SETTINGS = dict(dropout=0.2, n_samples=300_000)


def study(values: list[tuple[float, float, float]], **settings: float) -> pd.DataFrame:
    """A control study's table: per seed (dropout, no dropout, untrained) nats with the masks on."""
    rows = [dict(seed=s, network=n, masks="on", nats=v, stderr=0.01)
            for s, triple in enumerate(values) for n, v in zip(CONTROL_NETWORKS, triple)]
    return pd.DataFrame(rows).assign(**{**SETTINGS, **settings})


def test_dropout_that_corrects_erasures_agrees_and_information_the_twin_keeps_too_is_not_distinguished() -> None:
    # Known answers: the trained network beats the untrained one by about 2 nats in every seed (agrees on both);
    # then a twin trained without dropout that keeps as much: the correction claim holds in 2 of 3 seeds only by
    # noise, its interval reaches 0.
    kept, corrected = note_fig1_verdicts(study([(2.3, 0.4, 0.1), (2.2, 0.5, 0.2), (2.4, 0.3, 0.1)]), SETTINGS, "t")
    assert (kept.key, kept.verdict, corrected.key, corrected.verdict) == (
        "note_fig1", "agrees", "note_fig1_correction", "agrees")
    _, same = note_fig1_verdicts(study([(2.3, 2.2, 0.1), (2.2, 2.3, 0.2), (2.4, 2.35, 0.1)]), SETTINGS, "t")
    assert same.verdict == NOT_DISTINGUISHED and "2 of 3 seeds" in same.reason


def test_a_study_made_with_other_settings_is_not_testable_naming_them() -> None:
    table = study([(2.3, 0.4, 0.1), (2.2, 0.5, 0.2)], n_samples=1000)
    assert settings_that_differ(table, SETTINGS) == ["n_samples"]
    assert settings_that_differ(table, {"lr": 1e-3}) == ["lr"]  # a setting the table lacks
    claims = note_fig1_verdicts(table, SETTINGS, "the study")
    assert {c.verdict for c in claims} == {NOT_TESTABLE} and all("n_samples" in c.reason for c in claims)
    assert control_table(table).shape == (3, 2)


def test_the_committed_study_was_made_at_chapter_3s_default_settings() -> None:
    """So that the default build can judge both claims: the table's settings are the chapter's declared defaults,
    and it holds every network of every seed with the masks on and off."""
    from pathlib import Path

    from polycode_utils.book.params import Project, default_values
    from polycode_utils.networks.error_correction import PassThroughConfig
    from polycode_utils.reports.ch03_error_correction import study_settings

    root = Path(__file__).resolve().parents[1]
    v = default_values(Project.load(root).chapter("03_error_correction"))
    table = pd.read_csv(root / "studies" / "error_correction_control.csv")
    config = PassThroughConfig(dropout=v["dropout"], n_samples=v["n_samples"], epochs=v["epochs"],
                               batch_size=v["batch_size"], lr=v["lr"], seed=v["seed"])
    options = dict(steps=v["decoder_steps"], components=v["decoder_components"], min_std=v["min_std"])
    assert settings_that_differ(table, study_settings(config, v["mi_samples"], options)) == []
    assert table.seed.nunique() >= 3 and len(table) == 5 * table.seed.nunique()
