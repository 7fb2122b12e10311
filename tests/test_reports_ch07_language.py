"""Chapter 7's report layer: the proxy's reading, the explain-and-score table, and the two claims judged against
their controls on constructed numbers with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from polycode_utils.theory.claims import NOT_TESTABLE
from polycode_utils.networks.language.analysis import SiteSpectrum, depth_trend_difference
from polycode_utils.networks.language.measure import TextMeasurement
from polycode_utils.reports.ch07_language import (coverage_numbers, file_settings, language_claims,
                                                   outlier_token_numbers, proxy_verdict, score_numbers, score_table)
from polycode_utils.instruments.spectra import CovarianceAccumulator, PowerLawFit

DEPTHS = np.linspace(0.0, 1.0, 5)


def _spectra(slope: float, offsets: np.ndarray, kinds=("resid", "mlp")) -> dict[str, SiteSpectrum]:
    """Sites whose alpha is -1 + slope * depth, and whose window groups scatter by the given per-group offsets."""
    out = {}
    for kind in kinds:
        for layer, depth in enumerate(DEPTHS):
            alpha = -1.0 + slope * depth
            fit = PowerLawFit(alpha, 0.0, (1, 10), (1, 10), False, "ols", np.zeros(10))
            groups = alpha + offsets * (1 + layer)   # the groups' scatter differs by layer, so slopes differ by group
            out[f"{kind}.{layer}"] = SiteSpectrum(f"{kind}.{layer}", layer, float(depth), 1000, np.ones(20), fit, 1.0,
                                                  (alpha - 0.1, alpha + 0.1), groups, 0.1)
    return out


OFFSETS = np.array([-0.02, 0.01, 0.02, -0.01])


def test_depth_trend_difference_recovers_planted_slopes():
    spectra = {"main": _spectra(-0.8, OFFSETS), "untrained": _spectra(0.0, -OFFSETS)}
    t = depth_trend_difference(spectra, "untrained", "mlp")
    assert t.slope_main == pytest.approx(-0.8) and t.slope_control == pytest.approx(0.0, abs=1e-12)
    assert t.difference == pytest.approx(-0.8) and t.low < -0.8 < t.high < 0 and t.n_groups == 4 and t.n_layers == 5
    same = depth_trend_difference({"main": spectra["main"], "untrained": _spectra(-0.8, -OFFSETS)}, "untrained", "mlp")
    assert same.difference == pytest.approx(0.0, abs=1e-12) and same.low < 0 < same.high
    with pytest.raises(ValueError, match="control: no run 'shuffled'"):
        depth_trend_difference(spectra, "shuffled", "mlp")
    with pytest.raises(ValueError, match="kind: 'attn' has 0 layers"):
        depth_trend_difference(spectra, "untrained", "attn")


def _layers(main: float, untrained: float, n: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [dict(run=run, kind="mlp", layer=layer, depth=layer / (n - 1), unit=unit, mean=level + 0.01 * rng.normal(),
                 se=0.01, units=100)
            for run, level in (("main", main), ("untrained", untrained)) for layer in range(n)
            for unit in ("neuron", "projection", "pca")]
    return pd.DataFrame(rows)


def test_language_claims_need_the_controls_to_differ():
    trend = {"main": _spectra(-0.8, OFFSETS), "untrained": _spectra(0.0, OFFSETS), "shuffled": _spectra(0.0, OFFSETS)}
    flat = {"main": _spectra(-0.8, OFFSETS), "untrained": _spectra(-0.8, -OFFSETS), "shuffled": _spectra(0.0, OFFSETS)}
    out = language_claims(trend, _layers(0.30, 0.10), model="m")
    assert out["claim_lm_alpha"] == "agrees" and "4 of 4" in out["claim_lm_alpha_reason"]
    assert out["claim_lm_projections"] == "agrees" and "interval over layers" in out["claim_lm_projections_reason"]
    half = language_claims(flat, _layers(0.10, 0.10), model="m")   # the untrained trend equals the trained one
    assert half["claim_lm_alpha"] == "differs" and "2 of 4" in half["claim_lm_alpha_reason"]
    assert half["claim_lm_projections"] in ("differs", "not distinguished from its control")
    alone = language_claims({"main": trend["main"]}, _layers(0.3, 0.1).query("run == 'main'"), model="m")
    assert alone["claim_lm_alpha"] == alone["claim_lm_projections"] == NOT_TESTABLE
    with pytest.raises(ValueError, match="spectra: the main run measured none"):
        language_claims({"main": {}}, _layers(0.3, 0.1), model="m")


def test_score_table_and_numbers():
    layers = _layers(0.30, 0.10)
    table = score_table(layers)
    assert list(table.index) == ["neurons", "random directions", "principal directions"]
    assert list(table.columns) == ["main", "untrained"] and table.loc["neurons", "main"].startswith("0.3")
    numbers = score_numbers(layers)
    assert numbers["score_main_pca"] == pytest.approx(0.30, abs=0.02)
    assert numbers["score_untrained_neuron"] == pytest.approx(0.10, abs=0.02)


def test_proxy_verdict_reads_the_tests():
    def frame(n_hi, p_hi, above):
        return pd.DataFrame(dict(kind=["mlp"] * 4, p_neurons_higher=n_hi, p_projections_higher=p_hi,
                                 p_projections_above_chance=above))
    ok, small = [0.5] * 4, [1e-5] * 4
    assert "Reading: consistent with the paper's claim" in proxy_verdict(frame(ok, ok, small))
    assert "Reading: supports the paper's claim only in part" in proxy_verdict(frame(small, ok, small))
    assert "Reading: does not support" in proxy_verdict(frame(small, ok, ok))
    assert "neurons score higher than random directions in 4, lower in 0" in proxy_verdict(frame(small, ok, small))


def test_coverage_numbers_check_the_interval_at_the_runs_own_size():
    spectra = _spectra(0.0, OFFSETS, kinds=("mlp",))                     # 20 units per site
    m = TextMeasurement("m", np.zeros((8, 10)), 0, 5, {s: CovarianceAccumulator(20) for s in spectra},
                        group_tokens=np.array([400, 400, 400, 400]))
    out = coverage_numbers(m, spectra, (1, 10), 5, "ols", 0)
    assert out["cov_tokens"] == 400 and out["cov_units"] == 20 and out["cov_per_unit"] == 20
    assert 0.5 <= out["cov_coverage"] <= 1 and abs(out["cov_bias"]) < 0.1 and out["cov_draws"] == 5
    alone = TextMeasurement("m", np.zeros((8, 10)), 0, 5, {})
    assert np.isnan(coverage_numbers(alone, spectra, (1, 10), 5, "ols", 0)["cov_coverage"])


def test_a_statistics_files_provenance_is_its_own():
    """Issue 25 #12: a file measured on another corpus, model and controls names those, not the chapter's defaults."""
    main = TextMeasurement("GPT-2 XL (...)", np.zeros((8, 10)), 2, 48, {}, n_projections=5, k=3, seed=7,
                           model_name="gpt2-xl", corpus="the docstrings of Python's standard library")
    got = file_settings({"main": main, "shuffled": main})
    assert got == {"model": "gpt2-xl", "corpus": "the docstrings of Python's standard library", "n_windows": 8,
                   "context": 10, "skip_positions": 2, "controls": ["shuffled"], "n_projections": 5, "k": 3,
                   "seed": 7}
    old = TextMeasurement("m", np.zeros((8, 10)), 0, 5, {})
    assert file_settings({"main": old})["corpus"] == "(not recorded in the file)"


def test_outlier_token_numbers_say_which_token_each_channel_peaks_on():
    tokens = pd.DataFrame([dict(channel=507, layers=30, site="resid.3", ratio=54.2, sign="+", peaks=20,
                                commonest="\n", commonest_share=0.9, tokens=["\n"] * 18 + [",", "."])])
    out = outlier_token_numbers(tokens)
    assert out["outlier_tokens_text"] == "channel 507 peaks on '\\n' in 18 of its 20 strongest windows"
    row = out["outlier_token_table"].loc[507]
    assert row["× median RMS"] == 54 and row["share of its top windows"] == "90%" and row["largest at"] == "resid.3"
    assert outlier_token_numbers(tokens.iloc[:0])["outlier_tokens_text"] == "no outlier channel recurs"
