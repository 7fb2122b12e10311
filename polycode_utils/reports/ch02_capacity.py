"""Chapter 2's verdicts: Theorem 3 of the note against the exact capacities, and Fig. 2 split in three claims
(redundancy, the overlapping code read feature by feature, read jointly), each against the monosemantic code."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from polycode_utils.theory.capacity import theorem3_lower_bounds
from polycode_utils.theory.claims import count_verdict
from polycode_utils.reports.results import claim_values

RATES = "dropout rates p > 0"
BY_CONSTRUCTION = "the monosemantic code; closed forms of ours, so true or false by construction"


def theorem3_claim(theorem: pd.DataFrame) -> dict[str, object]:
    """Theorem 3 judged on the proof's form (the capacity within its bounds), with the statement's weaker lower
    bound counted beside it (capacity.theorem_check's table)."""
    n, n_within = len(theorem), int(theorem.within.sum())
    above_statement = sum(row.blahut_arimoto >= theorem3_lower_bounds(row.units, row.bits, row.p).lower - 1e-9
                          for row in theorem.itertuples())
    claim = count_verdict(
        "theorem3", n_within, n, cases="exact channels (Blahut-Arimoto)",
        measured=f"{n_within} of {n} capacities within (1-p) m (C_b + log2(1 - 2^-C_b)) .. (1-p) m C_b, the proof's "
                 f"bounds; {above_statement} of {n} above the statement's weaker (1-p) m C_b (1 - eps)",
        holds="the capacity lies within the proof's bounds",
        control="none: a theorem checked against the exact capacity; the statement's weaker bound holds too")
    return claim_values(claim, "Theorem 3 of the note",
                        r"The capacity of $m$ units of $C_b$ bits under dropout $p$ is about $(1-p)\,m\,C_b$")


def _bits(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.3g}" for v in values)


def fig2_claims(rates: Sequence[float], depth: int, width: int, monosemantic: Sequence[float],
                repetition: Sequence[float], per_feature: Sequence[float], joint: Sequence[float],
                joint_stderr: Sequence[float]) -> dict[str, object]:
    """Fig. 2's three claims after depth layers at each rate p > 0, against the monosemantic code's capacity: the
    repetition code keeps more (closed forms), the overlapping code read feature by feature keeps more (our
    per-feature rule), read jointly keeps more (simulated: counted where mean - 2 SE lies above)."""
    at = f"at p = {', '.join(f'{p:g}' for p in rates)}"
    redundant = count_verdict(
        "fig2", sum(r > m for r, m in zip(repetition, monosemantic)), len(rates), cases=RATES,
        measured=f"after {depth} dropout layers of {width} units: monosemantic {_bits(monosemantic)} bits, "
                 f"repetition (redundant, one feature per unit) {_bits(repetition)} bits {at}",
        holds=f"the redundant code keeps more capacity than the monosemantic one after {depth} layers",
        control=BY_CONSTRUCTION)
    overlapping = []
    for key, name, kept, se in (
            ("fig2_per_feature", "read feature by feature (our closed form)", per_feature, [0.0] * len(rates)),
            ("fig2_joint", "read jointly (erasure decoding, simulated; it counts where mean - 2 SE lies above)",
             joint, joint_stderr)):
        overlapping.append(count_verdict(
            key, sum(c - 2 * s > m for c, s, m in zip(kept, se, monosemantic)), len(rates), cases=RATES,
            measured=f"after {depth} layers: the overlapping code {name} {_bits(kept)} bits against the "
                     f"monosemantic {_bits(monosemantic)} {at}", control="the monosemantic code, at the same width "
            "and rate", holds=f"the polysemantic (overlapping) code keeps more capacity than the monosemantic one "
                              f"after {depth} layers"))
    return {**claim_values(redundant, "Fig. 2", "Redundant codes keep their capacity through many dropout layers "
                           "where monosemantic codes lose it: what the paper's Fig. 2 computes, its \"polysemantic\" "
                           "curve being the repetition code"),
            **claim_values(overlapping[0], "Fig. 2", "... and so do polysemantic codes: the overlapping code, read "
                           "feature by feature (the paper's \"superposition\" formula)"),
            **claim_values(overlapping[1], "Fig. 2", "... the overlapping code read jointly (ours: erasure decoding)")}
