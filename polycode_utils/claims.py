"""Verdicts on the paper's claims: each chapter states, from its own numbers, whether a claim of the paper or of
its supplementary note holds in this run, and the book's results page collects the verdicts (glued, never typed).

A claim is tested by counting the cases where it holds (sparsities, codes, estimators, layers, networks): it
*agrees* when it holds in every case, holds *partly* when in more than half, and *differs* otherwise; a run that
cannot test it (networks that learnt too little, say) gives *not testable at this profile* with the reason. A
claim whose printed form is wrong but whose substance holds is capped at *partly* [ours].
"""

from __future__ import annotations

from dataclasses import dataclass

from polycode_utils.checks import check_choice, check_int

VERDICTS = ("agrees", "partly", "differs", "not testable at this profile")


@dataclass(frozen=True)
class Claim:
    """One claim's verdict in this run, what was measured, and why (a row of the results page)."""

    key: str
    verdict: str
    measured: str
    reason: str

    def glued(self) -> dict[str, str]:
        """The glue names the results page reads: claim_KEY, claim_KEY_measured, claim_KEY_reason."""
        return {f"claim_{self.key}": self.verdict, f"claim_{self.key}_measured": self.measured,
                f"claim_{self.key}_reason": self.reason}


def count_verdict(key: str, n_hold: int, n_total: int, *, measured: str, holds: str, cases: str,
                  testable: bool = True, why_not: str = "", cap: str = "agrees", cap_reason: str = "") -> Claim:
    """The verdict from the count of cases where a claim holds: all agrees, more than half partly, else differs."""
    n_total = check_int(n_total, "n_total", 1)
    n_hold = check_int(n_hold, "n_hold", 0, n_total)
    check_choice(cap, "cap", VERDICTS[:2])
    if not testable:
        if not why_not:
            raise ValueError("why_not: say why the run cannot test the claim")
        return Claim(key, VERDICTS[3], measured, why_not)
    verdict = "agrees" if n_hold == n_total else "partly" if n_hold > n_total / 2 else "differs"
    reason = f"{holds} in {n_hold} of {n_total} {cases}"
    if cap == "partly" and verdict == "agrees":
        verdict, reason = "partly", f"{reason}; {cap_reason}" if cap_reason else reason
    return Claim(key, verdict, measured, reason)
