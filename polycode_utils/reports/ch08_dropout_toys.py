"""Chapter 8's verdicts on the paper's mechanism and on Pona's counter-claim: each measure at the highest dropout
rate against the twins trained without dropout, counted over the conditions (claims.controlled_verdict)."""

from __future__ import annotations

import pandas as pd

from polycode_utils.claims import controlled_verdict
from polycode_utils.dropout_toys import dropout_effect
from polycode_utils.reports.results import claim_values

# (claim key, measure, sign of the claimed change, what holds, where the claim comes from, what it says)
CLAIMS = (
    ("toys_redundant", "neurons_per_feature", 1.0, "more neurons per represented feature than the twin",
     "The paper's mechanism", "Dropout makes a layer's code redundant: more neurons per feature"),
    ("toys_polysemantic", "features_per_neuron", 1.0, "more features per neuron than the twin",
     "The paper's mechanism", "Dropout makes a layer's code polysemantic: more features per neuron"),
    ("toys_pona", "represented", -1.0, "fewer features represented than the twin",
     "Pona 2023, a counter-claim", "Dropout inhibits superposition: fewer features represented"),
)


def _importance(decay: float) -> str:
    return "uniform" if decay == 1 else f"decaying ({decay:g}^i)"


def mechanism_claims(table: pd.DataFrame, p_max: float, *, converged: bool) -> dict[str, object]:
    """The three claims at dropout rate p_max (dropout_toys.measures_by_condition's table), each condition a case
    and the seed its interval's unit, and for the paper's two the conditions where dropout raised the measure."""
    glued: dict[str, object] = {}
    for key, measure, sign, holds, source, says in CLAIMS:
        name = measure.replace("_", " ")
        effect, cases = dropout_effect(table, measure, p_max, f"{name}, p = {p_max:g} − p = 0", sign)
        pr = dropout_effect(table, f"{measure}_pr", p_max, "", sign)[0] if measure != "represented" else None
        claim = controlled_verdict(
            key, int((cases > 0).sum()), cases.size, effect, cases="conditions (sparsity × importance)", holds=holds,
            measured=f"{name} at p = {p_max:g}: {table[table.dropout == p_max][measure].mean():.2f} against "
                     f"{table[table.dropout == 0][measure].mean():.2f} at p = 0"
                     + (f"; participation ratio: {pr.mean:+.2f} [{pr.low:+.2f}, {pr.high:+.2f}]" if pr else ""),
            control_holds="the p = 0 twin: the same initial weights, inputs and masks' draws, no dropout",
            testable=converged, why_not="some models had not converged or learnt less than a constant output")
        glued.update(claim_values(claim, source, says))
        if sign > 0:
            glued[f"{key}_up"] = ", ".join(f"S = {S:g} with {_importance(d)} importance ({v:+.2f})"
                                           for (S, d), v in cases[cases > 0].items()) or "none of the conditions"
    return glued
