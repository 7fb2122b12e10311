"""Verdicts on the paper's claims (polycode_utils.theory.claims): the counting rule, the control, the untestable run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from polycode_utils.theory.claims import (NO_CONTROL, NOT_DISTINGUISHED, VERDICTS, Claim, Effect, controlled_verdict,
                                   count_verdict)
from polycode_utils.layerwise.common import CONTROL, control_effect


@pytest.mark.parametrize("n_hold, verdict",
                         [(5, "agrees"), (4, "partly"), (3, "partly"), (2, "differs"), (0, "differs")])
def test_the_verdict_follows_the_count(n_hold, verdict):
    claim = count_verdict("c", n_hold, 5, measured="m", holds="it holds", cases="layers")
    assert claim.verdict == verdict and claim.reason == f"it holds in {n_hold} of 5 layers"


def test_an_untestable_run_says_why():
    claim = count_verdict("fig5", 3, 3, measured="m", holds="h", cases="c", testable=False, why_not="too short")
    assert claim == Claim("fig5", VERDICTS[3], "m", "too short", NO_CONTROL)
    with pytest.raises(ValueError, match="why_not"):
        count_verdict("x", 1, 1, measured="m", holds="h", cases="c", testable=False)
    with pytest.raises(ValueError, match="n_hold"):
        count_verdict("x", 3, 2, measured="m", holds="h", cases="c")


def _per_network(trained: list[list[float]], control: list[float]) -> pd.Series:
    """A statistic per network: trained[r][s] for rate r and seed s, control[s] for the untrained twin of seed s."""
    index = [(f"p = {r}", s) for r in range(len(trained)) for s in range(len(control))]
    index += [(CONTROL, s) for s in range(len(control))]
    values = [v for row in trained for v in row] + list(control)
    return pd.Series(values, index=pd.MultiIndex.from_tuples(index, names=["network", "seed"]))


def test_a_claim_that_holds_as_well_in_its_control_does_not_agree_and_one_only_in_the_trained_does():
    """Issue 22: the rule counted cases and never asked whether an untrained network would 'hold' too."""
    rng = np.random.default_rng(0)
    strong = (0.9 + 0.02 * rng.standard_normal((3, 4))).tolist()  # |Spearman| near 0.9 in 3 rates x 4 seeds
    same = _per_network(strong, [0.9 + 0.02 * x for x in rng.standard_normal(4)])
    absent = _per_network(strong, [0.1 + 0.02 * x for x in rng.standard_normal(4)])
    for per_network, verdict in ((same, NOT_DISTINGUISHED), (absent, "agrees")):
        effect = control_effect(per_network, "|rho|, trained − untrained")
        claim = controlled_verdict("x", 12, 12, effect, measured="m", holds="it holds", cases="trained networks",
                                   control_holds="?")
        assert claim.verdict == verdict, (effect, claim)
    effect = control_effect(absent, "|rho|")
    assert effect.n == 4 and effect.mean == pytest.approx(np.mean(strong) - absent[CONTROL].mean())
    assert effect.low > 0.7 and effect.text().startswith("|rho|: +0.")
    partly = controlled_verdict("x", 9, 12, effect, measured="m", holds="h", cases="c", control_holds="?")
    assert partly.verdict == "partly" and "lies above 0" in partly.reason
    assert controlled_verdict("x", 6, 12, effect, measured="m", holds="h", cases="c",
                              control_holds="?").verdict == "differs"
    one_seed = Effect(0.8, float("nan"), float("nan"), 1, "|rho|")
    alone = controlled_verdict("x", 3, 3, one_seed, measured="m", holds="h", cases="c", control_holds="holds in 0")
    assert alone.verdict == NOT_DISTINGUISHED and alone.control == "|rho|: +0.80 (one seed: no interval); in the " \
        "control: holds in 0"
    groups = Effect(-0.5, -0.9, -0.1, 4, "slope, trained − untrained", units="window groups")
    assert groups.text() == "slope, trained − untrained: -0.50 [-0.90, -0.10] (95 %, 4 window groups)"
    assert "interval over window groups reaches 0" in controlled_verdict(
        "x", 3, 3, groups, measured="m", holds="h", cases="c", control_holds="?").reason


@pytest.mark.parametrize("noise, low, high", [("normal", 0.93, 0.97), ("skewed", 0.86, 0.93)])
def test_the_seed_interval_of_an_effect_covers_as_stated(noise, low, high):
    """The effect's interval is a Student-t interval over seeds: with normal seed-to-seed noise its coverage at 3
    seeds (the default grid's) is 95 % within Monte-Carlo error; with strongly skewed noise (a centred exponential)
    about 90 %, as the results page says."""
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(2000):
        noise_draw = rng.standard_normal((1, 3)) if noise == "normal" else rng.exponential(size=(1, 3)) - 1.0
        trained = (0.5 + 0.1 * noise_draw).tolist()
        effect = control_effect(_per_network(trained, [0.0, 0.0, 0.0]), "d")
        hits += effect.low <= 0.5 <= effect.high
    assert low < hits / 2000 < high
