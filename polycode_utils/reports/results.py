"""The results page's rows. Each chapter glues a verdict under claim_KEY names for its own prose and records the
whole row (the claim as the sources state it, what was measured, the control with its effect, the verdict and why)
under results_row_KEY; the build writes the results page from those records (polycode_utils.book.results_page,
which reads the same prefix), so a new claim needs no hand-wired row.
"""

from __future__ import annotations

from polycode_utils.theory.claims import Claim

ROW_PREFIX = "results_row_"  # the glue names of the records the results page is generated from


def claim_values(claim: Claim, source: str, says: str) -> dict[str, object]:
    """The glue values of one verdict: claim_KEY, claim_KEY_measured, claim_KEY_reason and claim_KEY_control for
    the chapter's prose, and the results page's row. source: where the sources make the claim ("Fig. 1c", "Theorem 3
    of the note"); says: the claim in their terms (MyST markdown, math allowed)."""
    if not source.strip() or not says.strip():
        raise ValueError("source, says: name where the sources make the claim and say what it is")
    if "|" in source + says:
        raise ValueError("source, says: a '|' would split the results table's row; write it another way")
    row = {"key": claim.key, "source": source, "says": says, "measured": claim.measured, "control": claim.control,
           "verdict": claim.verdict, "reason": claim.reason}
    return {f"claim_{claim.key}": claim.verdict, f"claim_{claim.key}_measured": claim.measured,
            f"claim_{claim.key}_reason": claim.reason, f"claim_{claim.key}_control": claim.control,
            f"{ROW_PREFIX}{claim.key}": row}
