"""Verdicts on the paper's claims: each chapter states, from its own numbers, whether a claim of the paper or of
its supplementary note holds in this run, and the book's results page collects the verdicts (glued, never typed).

A claim is tested by counting the cases where it holds (sparsities, codes, estimators, layers, networks): it
*agrees* when it holds in every case, holds *partly* when in more than half, and *differs* otherwise; a run that
cannot test it (networks that learnt too little, say) gives *not testable in this run* with the reason [ours].

A claim about a trained system must also fail, or be clearly weaker, in its control (the untrained twin, say):
controlled_verdict counts the independent trained cases where it holds and asks that the trained-minus-control
effect's interval over seeds lie above zero; where it does not, the verdict is *not distinguished from its control*
however many cases hold [ours].
"""

from __future__ import annotations

from dataclasses import dataclass

from polycode_utils.checks import check_int

VERDICTS = ("agrees", "partly", "differs", "not testable in this run", "not distinguished from its control")
NOT_TESTABLE, NOT_DISTINGUISHED = VERDICTS[3], VERDICTS[4]
NO_CONTROL = "none: a closed form or a theorem, not a trained system"


@dataclass(frozen=True)
class Claim:
    """One claim's verdict in this run, what was measured, and why (a row of the results page)."""

    key: str
    verdict: str
    measured: str
    reason: str
    control: str = NO_CONTROL  # what it was checked against, with the effect where there is one


@dataclass(frozen=True)
class Effect:
    """A claim's statistic in the trained system minus its control: the mean over independent units (seeds) and
    its 95 % interval (NaN with fewer than two units)."""

    mean: float
    low: float
    high: float
    n: int
    what: str  # the statistic and the control, e.g. "|Spearman(depth, alpha)|, trained − untrained twin"
    units: str = "seeds"  # the independent units the interval is over (seeds, layers, window groups)

    def text(self) -> str:
        """'WHAT: +0.55 [+0.31, +0.79] (95 %, 3 seeds)'."""
        if self.n < 2:
            return f"{self.what}: {self.mean:+.2f} (one {self.units.removesuffix('s')}: no interval)"
        return f"{self.what}: {self.mean:+.2f} [{self.low:+.2f}, {self.high:+.2f}] (95 %, {self.n} {self.units})"


def count_verdict(key: str, n_hold: int, n_total: int, *, measured: str, holds: str, cases: str,
                  testable: bool = True, why_not: str = "", control: str = NO_CONTROL) -> Claim:
    """The verdict from the count of cases where a claim holds: all agrees, more than half partly, else differs
    (for claims whose control is part of the cases or that need none: control says which)."""
    n_total = check_int(n_total, "n_total", 1)
    n_hold = check_int(n_hold, "n_hold", 0, n_total)
    if not testable:
        if not why_not:
            raise ValueError("why_not: say why the run cannot test the claim")
        return Claim(key, NOT_TESTABLE, measured, why_not, control)
    verdict = "agrees" if n_hold == n_total else "partly" if n_hold > n_total / 2 else "differs"
    return Claim(key, verdict, measured, f"{holds} in {n_hold} of {n_total} {cases}", control)


def controlled_verdict(key: str, n_hold: int, n_total: int, effect: Effect, *, measured: str, holds: str,
                       cases: str, control_holds: str, testable: bool = True, why_not: str = "") -> Claim:
    """The verdict on a claim about a trained system against its control: *agrees* when it holds in every one of
    n_total independent trained cases and the effect's interval lies above 0 (absent, or significantly weaker, in
    the control); *partly* when in more than half and the interval lies above 0; *not distinguished from its
    control* when in more than half but the interval reaches 0; *differs* when in half or fewer. control_holds:
    how the claim fares in the control, in words."""
    n_total = check_int(n_total, "n_total", 1)
    n_hold = check_int(n_hold, "n_hold", 0, n_total)
    control = f"{effect.text()}; in the control: {control_holds}"
    if not testable:
        if not why_not:
            raise ValueError("why_not: say why the run cannot test the claim")
        return Claim(key, NOT_TESTABLE, measured, why_not, control)
    above = bool(effect.n >= 2 and effect.low > 0)
    reason = f"{holds} in {n_hold} of {n_total} {cases}"
    if n_hold <= n_total / 2:
        return Claim(key, "differs", measured, reason, control)
    if not above:
        return Claim(key, NOT_DISTINGUISHED, measured, f"{reason}, but the effect's interval over {effect.units} "
                     "reaches 0: it is not clearly stronger than in the control", control)
    return Claim(key, "agrees" if n_hold == n_total else "partly", measured,
                 f"{reason}, and the effect's interval over {effect.units} lies above 0", control)
