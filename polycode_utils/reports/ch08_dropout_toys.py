"""Chapter 8's verdicts on the paper's mechanism and on Pona's counter-claim: each measure at the highest dropout
rate against the twins trained without dropout, counted over the conditions (claims.controlled_verdict)."""

from __future__ import annotations

import pandas as pd

from polycode_utils.theory.claims import controlled_verdict
from polycode_utils.networks.dropout_toys import Convergence, dropout_effect
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


def _why_not(c: Convergence) -> str:
    return (f"{c.n_still} of {c.n} models still falling (worst gain over the last quarter {c.worst_gain:.1%}, the "
            f"rule asks < {c.max_gain:.0%}) and {c.n_not_learnt} no better than a constant output")


def mechanism_claims(table: pd.DataFrame, p_max: float, *, trained: Convergence,
                     claims: tuple[tuple[str, str, float, str, str, str], ...] = CLAIMS) -> dict[str, object]:
    """The claims at dropout rate p_max (code_measures' table), each condition a case and the seed its interval's
    unit, and for the paper's two the conditions where dropout raised the measure; testable only when every model
    converged (trained: the rule's counts)."""
    glued: dict[str, object] = {}
    for key, measure, sign, holds, source, says in claims:
        name = measure.replace("_", " ")
        effect, cases = dropout_effect(table, measure, p_max, f"{name}, p = {p_max:g} − p = 0", sign)
        pr = dropout_effect(table, f"{measure}_pr", p_max, "", sign)[0] if measure != "represented" else None
        claim = controlled_verdict(
            key, int((cases > 0).sum()), cases.size, effect, cases="conditions (sparsity × importance)", holds=holds,
            measured=f"{name} at p = {p_max:g}: {table[table.dropout == p_max][measure].mean():.2f} against "
                     f"{table[table.dropout == 0][measure].mean():.2f} at p = 0"
                     + (f"; participation ratio: {pr.mean:+.2f} [{pr.low:+.2f}, {pr.high:+.2f}]" if pr else ""),
            control_holds="the p = 0 twin: the same initial weights, inputs and masks' draws, no dropout",
            testable=trained.converged, why_not=_why_not(trained))
        glued.update(claim_values(claim, source, says))
        if sign > 0:
            glued[f"{key}_up"] = ", ".join(f"S = {S:g} with {_importance(d)} importance ({v:+.2f})"
                                           for (S, d), v in cases[cases > 0].items()) or "none of the conditions"
    return glued


OTHER_HIDDEN = {"relu": "linear", "linear": "relu"}  # the chapter's second model: the hidden layer it does not use


def other_model_claim(table: pd.DataFrame, p_max: float, *, hidden: str, trained: Convergence) -> dict[str, object]:
    """Pona's counter-claim judged in the toy model with the other hidden layer (`hidden`; linear: Elhage et al.'s
    model, Pona's own setting), by the same rule and control, under the key toys_pona_HIDDEN; its four texts also as
    claim_toys_pona_other*, for prose that holds whichever model is the other."""
    key, measure, sign, holds, source, says = CLAIMS[2]
    where = "Elhage et al.'s linear hidden layer, Pona's own setting" if hidden == "linear" else "a ReLU hidden layer"
    glued = mechanism_claims(table, p_max, trained=trained,
                             claims=((f"{key}_{hidden}", measure, sign, holds, source, f"{says}, in {where}"),))
    return {**glued, **{name.replace(f"{key}_{hidden}", f"{key}_other"): value for name, value in glued.items()
                        if name.startswith("claim_")}}
