"""The verdicts chapters 1, 2 and 8 state (polycode_utils.reports.ch01_codes, ch02_capacity, ch08_dropout_toys):
each from constructed numbers whose verdict is known, and each with its results row."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from polycode_utils.theory.claims import NOT_DISTINGUISHED, NOT_TESTABLE
from polycode_utils.networks.dropout_toys import Convergence
from polycode_utils.reports.ch01_codes import STICKY_MARGIN, fig1c_claims
from polycode_utils.reports.ch02_capacity import fig2_claims
from polycode_utils.reports.ch08_dropout_toys import mechanism_claims, other_model_claim
from polycode_utils.theory.toy_models import StickyPlateau, compare_with_optimum


def test_fig1c_leaves_the_forced_sparsities_out_and_needs_a_plateau_longer_than_the_smooth_curve():
    sparsities = np.array([0.0, 0.5, 0.8, 0.9])
    d_star = np.array([1.0, 0.6, 0.3, 0.05])
    d_opt = np.array([1.0, 0.55, 0.35, 0.05])    # below at S = 0.8; the last sits on the m/n = 0.1 floor
    comparison = compare_with_optimum(d_star, np.ones((4, 10)), d_opt, n_hidden=1)
    plateau = StickyPlateau(Fraction(1, 2), 1, 3, 3)
    out = fig1c_claims(comparison, d_star, d_opt, sparsities, plateau, StickyPlateau(Fraction(1, 2), 1, 1, 1), 32.0)
    assert comparison.n_forced == 1 and out["n_tested"] == 3
    assert out["claim_fig1c"] == "partly" and "in 2 of 3 sparsities" in out["claim_fig1c_reason"]
    assert out["claim_fig1c_sticky"] == "agrees"          # 3 >= 1 + 2
    short = fig1c_claims(comparison, d_star, d_opt, sparsities, plateau,
                         StickyPlateau(Fraction(1, 2), 1, 2, 3 - STICKY_MARGIN + 1), 32.0)
    assert short["claim_fig1c_sticky"] == "differs"
    assert out["results_row_fig1c"]["source"] == "Fig. 1c" and out["results_row_fig1c"]["verdict"] == "partly"


def test_fig2_counts_each_code_against_the_monosemantic_one_the_simulated_one_by_two_standard_errors():
    mono = [1.0, 0.1, 0.01]
    out = fig2_claims([0.2, 0.5, 0.8], 20, 12, mono, repetition=[2.0, 0.5, 0.1], per_feature=[0.5, 0.01, 0.0],
                      joint=[1.5, 0.2, 0.05], joint_stderr=[0.1, 0.06, 0.01])
    assert out["claim_fig2"] == "agrees" and out["claim_fig2_per_feature"] == "differs"
    assert out["claim_fig2_joint"] == "partly"            # 0.2 - 2 * 0.06 = 0.08 is not above 0.1: 2 of 3
    assert [k for k in out if k.startswith("results_row_")] == [
        "results_row_fig2", "results_row_fig2_per_feature", "results_row_fig2_joint"]


SETTLED = Convergence(16, 0, 0.001, 0, 0.02)


def _toy_table(effect: float, noise: float, seeds: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for s in range(seeds):
        for S in (0.0, 0.9):
            for p in (0.0, 0.5):
                shift = p * (effect + noise * rng.standard_normal())
                rows.append(dict(seed=s, sparsity=S, decay=1.0, dropout=p, neurons_per_feature=2 + shift,
                                 neurons_per_feature_pr=2 + shift, features_per_neuron=3 - shift,
                                 features_per_neuron_pr=3 - shift, represented=20 - 10 * shift))
    return pd.DataFrame(rows)


def test_the_mechanism_agrees_only_where_dropout_moves_the_measure_beyond_the_seeds_spread():
    out = mechanism_claims(_toy_table(1.0, 0.1), 0.5, trained=SETTLED)
    assert out["claim_toys_redundant"] == "agrees" and out["claim_toys_pona"] == "agrees"
    assert out["claim_toys_polysemantic"] == "differs" and out["toys_polysemantic_up"] == "none of the conditions"
    assert out["toys_redundant_up"].startswith("S = 0 with uniform importance (+0.")
    for key, verdict in mechanism_claims(_toy_table(0.0, 1.0), 0.5, trained=SETTLED).items():  # no planted effect
        assert not key.startswith("claim_") or key.endswith(("_measured", "_reason", "_control")) or \
            verdict in (NOT_DISTINGUISHED, "differs"), (key, verdict)
    still = mechanism_claims(_toy_table(1.0, 0.1), 0.5, trained=Convergence(16, 1, 0.025, 0, 0.02))
    assert still["claim_toys_pona"] == NOT_TESTABLE
    assert still["claim_toys_pona_reason"] == ("1 of 16 models still falling (worst gain over the last quarter 2.5%, "
                                               "the rule asks < 2%) and 0 no better than a constant output")


def test_the_other_model_states_pona_under_its_own_key_and_under_the_prose_alias():
    out = other_model_claim(_toy_table(1.0, 0.1), 0.5, hidden="linear", trained=SETTLED)
    assert out["claim_toys_pona_linear"] == out["claim_toys_pona_other"] == "agrees"
    assert out["claim_toys_pona_other_control"] == out["claim_toys_pona_linear_control"]
    row = out["results_row_toys_pona_linear"]
    assert "Pona's own setting" in row["says"] and "results_row_toys_pona_other" not in out
    assert "claim_toys_redundant" not in out
