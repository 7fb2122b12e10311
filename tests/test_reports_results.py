"""The results rows (polycode_utils.reports.results): what a chapter glues for one verdict, and the record the build
turns into the results page."""

from __future__ import annotations

import pytest

from polycode_utils.book import results_page
from polycode_utils.theory.claims import NO_CONTROL, Claim
from polycode_utils.reports import results


def test_a_verdict_glues_its_four_texts_and_its_whole_row():
    claim = Claim("fig5", "partly", "3 of 4 | layers", "it holds in 3 of 4 layers", NO_CONTROL)
    out = results.claim_values(claim, "Fig. 5", r"More dropout, $\alpha$ falls")
    assert {k: v for k, v in out.items() if not k.startswith(results.ROW_PREFIX)} == {
        "claim_fig5": "partly", "claim_fig5_measured": "3 of 4 | layers", "claim_fig5_reason": claim.reason,
        "claim_fig5_control": NO_CONTROL}
    assert out["results_row_fig5"] == {"key": "fig5", "source": "Fig. 5", "says": r"More dropout, $\alpha$ falls",
                                       "measured": "3 of 4 | layers", "control": NO_CONTROL, "verdict": "partly",
                                       "reason": claim.reason}
    assert set(results_page.FIELDS) <= set(out["results_row_fig5"])


def test_the_claim_in_the_sources_words_is_required_and_cannot_split_the_table():
    claim = Claim("x", "agrees", "m", "r")
    with pytest.raises(ValueError, match="source, says"):
        results.claim_values(claim, "", "it holds")
    with pytest.raises(ValueError, match="split"):
        results.claim_values(claim, "Fig. 1", r"$|x| < 1$")


def test_the_build_reads_the_prefix_the_report_layer_writes():
    """The book's machinery imports no science, so the prefix is written in both places: they must agree."""
    assert results_page.ROW_PREFIX == results.ROW_PREFIX
