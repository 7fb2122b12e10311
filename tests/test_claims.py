"""Verdicts on the paper's claims (polycode_utils.claims): the counting rule, the cap, the untestable run."""

from __future__ import annotations

import pytest

from polycode_utils.claims import VERDICTS, Claim, count_verdict


@pytest.mark.parametrize("n_hold, verdict",
                         [(5, "agrees"), (4, "partly"), (3, "partly"), (2, "differs"), (0, "differs")])
def test_the_verdict_follows_the_count(n_hold, verdict):
    claim = count_verdict("c", n_hold, 5, measured="m", holds="it holds", cases="layers")
    assert claim.verdict == verdict and claim.reason == f"it holds in {n_hold} of 5 layers"


def test_a_wrong_printed_form_caps_the_verdict_at_partly():
    claim = count_verdict("t", 4, 4, measured="m", holds="the proof's bound holds", cases="channels", cap="partly",
                          cap_reason="the statement as printed does not")
    assert claim.verdict == "partly" and claim.reason.endswith("; the statement as printed does not")
    assert count_verdict("t", 1, 4, measured="m", holds="h", cases="c", cap="partly").verdict == "differs"


def test_an_untestable_run_says_why_and_the_glue_names():
    claim = count_verdict("fig5", 3, 3, measured="m", holds="h", cases="c", testable=False, why_not="too short")
    assert claim == Claim("fig5", VERDICTS[3], "m", "too short")
    assert claim.glued() == {"claim_fig5": VERDICTS[3], "claim_fig5_measured": "m", "claim_fig5_reason": "too short"}
    with pytest.raises(ValueError, match="why_not"):
        count_verdict("x", 1, 1, measured="m", holds="h", cases="c", testable=False)
    with pytest.raises(ValueError, match="n_hold"):
        count_verdict("x", 3, 2, measured="m", holds="h", cases="c")
