"""Known-answer tests for polycode_utils.theory.capacity: capacity under dropout, the theorem's check, Fig. 2's
read-outs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from polycode_utils.theory.capacity import (CODES, best_redundancy, blahut_arimoto, code_capacity, depth_at_capacity,
                                     depth_readouts, dropout_capacity_bounds, dropout_channel, dropout_unit_capacity,
                                     erasure_code_capacity, expected_projected_action, lower_bound_tight_above,
                                     power_law_entropy, power_law_spectrum, theorem3_lower_bounds, theorem_check,
                                     theorem_per_unit_table)
from polycode_utils.theory.decoding import (SurvivalEstimate, code_support, joint_decode, monte_carlo_agreement,
                                     recoverable_features, simulate_code_survival, simulate_joint_decoding)


def h2(q: float) -> float:
    return 0.0 if q in (0.0, 1.0) else float(-q * np.log2(q) - (1 - q) * np.log2(1 - q))


def capacity(W: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # must converge
        return blahut_arimoto(W).capacity_bits


# ---------------------------------------------------------------- Blahut–Arimoto, known channels


@pytest.mark.parametrize("q", [0.0, 0.01, 0.11, 0.25, 0.4, 0.5, 0.9])
def test_ba_binary_symmetric_channel(q: float) -> None:
    W = np.array([[1 - q, q], [q, 1 - q]])
    assert capacity(W) == pytest.approx(1 - h2(q), abs=1e-6)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.3, 0.5, 0.77, 1.0])
def test_ba_binary_erasure_channel(p: float) -> None:
    W = np.array([[1 - p, p, 0.0], [0.0, p, 1 - p]])  # outputs 0, erasure, 1
    c, r, _ = blahut_arimoto(W)
    assert c == pytest.approx(1 - p, abs=1e-6)
    assert r.sum() == pytest.approx(1.0) and np.all(r >= 0)


@pytest.mark.parametrize("k", [1, 2, 3, 7, 16])
def test_ba_noiseless_channel(k: int) -> None:
    c, r, _ = blahut_arimoto(np.eye(k))
    assert c == pytest.approx(np.log2(k), abs=1e-6)
    np.testing.assert_allclose(r, 1.0 / k)


def test_ba_asymmetric_channel_z() -> None:
    # Z-channel: 1 -> 0 w.p. e; capacity log2(1 + (1-e) e^(e/(1-e)))
    e = 0.3
    W = np.array([[1.0, 0.0], [e, 1 - e]])
    assert capacity(W) == pytest.approx(np.log2(1 + (1 - e) * e ** (e / (1 - e))), abs=1e-6)


@pytest.mark.parametrize("bad", [np.array([[0.5, 0.6], [0.5, 0.5]]), np.array([[0.5, 0.5], [0.2, 0.2]]),
                                 np.array([[1.2, -0.2], [0.5, 0.5]]), np.array([[np.nan, 1.0]]), np.ones(3),
                                 np.zeros((0, 2))])
def test_ba_rejects_non_stochastic_rows(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="channel_matrix"):
        blahut_arimoto(bad)


def test_ba_warns_when_not_converged() -> None:
    with pytest.warns(RuntimeWarning, match="not converged"):
        blahut_arimoto(dropout_channel(1, 2, 0.5), tol=1e-15, max_iter=2)


# ---------------------------------------------------------------- the dropout channel and the theorem


def test_dropout_channel_structure() -> None:
    W = dropout_channel(2, 1, 0.25)
    np.testing.assert_allclose(W.sum(axis=1), 1.0)
    # input (1, 1) = index 3: both kept 9/16, unit 0 dropped -> (0, 1) = 1 with 3/16, ... both dropped 1/16
    np.testing.assert_allclose(W[3], [1 / 16, 3 / 16, 3 / 16, 9 / 16])
    np.testing.assert_allclose(W[0], [1, 0, 0, 0])  # sending all zeros is never corrupted
    np.testing.assert_allclose(dropout_channel(3, 2, 0.0), np.eye(64))
    assert np.all(dropout_channel(2, 2, 1.0)[:, 0] == 1.0)


def test_dropout_channel_refuses_large_sizes() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        dropout_channel(6, 2, 0.1)  # 4096 x 4096 float64 = 128 MiB > 64 MiB
    with pytest.raises(ValueError, match="max_bytes"):
        dropout_channel(2, 2, 0.1, max_bytes=1000)
    assert dropout_channel(2, 2, 0.1, max_bytes=16 * 16 * 8).shape == (16, 16)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.4, 0.6, 0.8, 0.95])
@pytest.mark.parametrize("bits", [1, 2])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_ba_capacity_of_dropout_channel_within_theorem_bounds(n: int, bits: int, p: float) -> None:
    c = capacity(dropout_channel(n, bits, p))
    lower, upper = dropout_capacity_bounds(n, bits, p)
    assert lower - 1e-9 <= c <= upper + 1e-9
    assert c == pytest.approx(n * dropout_unit_capacity(bits, p), abs=1e-6)  # additive over independent units


def test_unit_capacity_closed_form() -> None:
    p = np.linspace(0, 1, 11)
    np.testing.assert_allclose(dropout_unit_capacity(1, p)[1:-1],
                               np.log2(1 + (1 - p[1:-1]) * p[1:-1] ** (p[1:-1] / (1 - p[1:-1]))))
    assert dropout_unit_capacity(3, 0.0) == 3.0 and dropout_unit_capacity(3, 1.0) == 0.0
    ps = lower_bound_tight_above(2)
    assert 0.82 < ps < 0.83 and lower_bound_tight_above(1) == 1.0
    for q in (ps, 0.9, 0.99):  # at and above p*, the exact capacity is the theorem's lower bound
        assert dropout_unit_capacity(2, q) == pytest.approx(dropout_capacity_bounds(1, 2, q).lower, abs=1e-9)
    assert dropout_unit_capacity(2, ps - 0.05) > dropout_capacity_bounds(1, 2, ps - 0.05).lower + 1e-4


def test_theorem_bounds_values() -> None:
    lo, up = dropout_capacity_bounds(4, 2, 0.25)
    assert up == pytest.approx(0.75 * 4 * 2) and lo == pytest.approx(0.75 * 4 * np.log2(3))
    lo, up = dropout_capacity_bounds(1, 1, np.array([0.0, 0.5]))
    np.testing.assert_allclose(lo, 0.0, atol=1e-12)
    np.testing.assert_allclose(up, [1.0, 0.5])


def test_theorem_check_table() -> None:
    check = theorem_check((1, 2), (1, 2), [0.0, 0.5, 1.0])
    assert list(check.columns) == ["bits", "units", "p", "blahut_arimoto", "lower", "upper", "exact", "ba_gap",
                                  "within"]
    assert len(check) == 12 and check.within.all()
    assert list(check.itertuples(index=False))[0][:3] == (1, 1, 0.0)          # nested bits, units, p
    assert check.loc[(check.bits == 2) & (check.units == 2) & (check.p == 0.0), "blahut_arimoto"].item() \
        == pytest.approx(4.0, abs=1e-9)                                          # no dropout: 2 units x 2 bits
    np.testing.assert_allclose(check.blahut_arimoto, check.exact, atol=1e-8)
    np.testing.assert_allclose(check.upper, (1 - check.p) * check.units * check.bits)
    # An impossible tolerance flags every row whose capacity is not exactly at a bound (here: none at p = 0 or 1).
    strict = theorem_check((1,), (2,), [0.5], tol=0.0)
    assert strict.within.item() and strict.lower.item() < strict.blahut_arimoto.item() < strict.upper.item()


def test_theorem_check_where_the_lower_bound_is_tight_judges_blahut_arimotos_bracket() -> None:
    """Issue 25 #8: at p = 0.99 Blahut-Arimoto had not converged after 10,000 iterations (gap 8.7e-9 bits), so its
    lower end sat below the tight lower bound and the chapter's assert failed; its bracket meets the bounds."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check = theorem_check((1, 2, 3), (1, 2), [0.0, 0.99])
    assert check.within.all()
    slow = check[(check.bits == 2) & (check.p == 0.99)]
    assert (slow.blahut_arimoto < slow.lower).all() and (slow.ba_gap > 1e-9).all()       # the reported case
    assert (slow.blahut_arimoto + slow.ba_gap >= slow.exact - 1e-12).all()               # the bracket holds C
    assert (slow.ba_gap < 1e-7).all()


def test_ba_bracket_holds_the_capacity_when_stopped_early() -> None:
    e = 0.3
    exact = np.log2(1 + (1 - e) * e ** (e / (1 - e)))
    with pytest.warns(RuntimeWarning, match="not converged"):
        early = blahut_arimoto(np.array([[1.0, 0.0], [e, 1 - e]]), max_iter=3)
    assert early.capacity_bits < exact < early.upper_bits


def test_theorem_per_unit_table() -> None:
    table = theorem_per_unit_table(theorem_check((1, 2, 3), (1, 2), [0.0, 0.4]))
    assert list(table.columns) == [f"BA, {n} unit(s), per unit" for n in (1, 2, 3)] + ["lower bound", "upper bound"]
    assert list(table.index) == [(1, 0.0), (1, 0.4), (2, 0.0), (2, 0.4)]
    per_unit = table.iloc[:, :3].to_numpy()
    np.testing.assert_allclose(per_unit, per_unit[:, :1].repeat(3, axis=1), atol=1e-8)  # independent units
    np.testing.assert_allclose(table["BA, 1 unit(s), per unit"], [1.0, dropout_unit_capacity(1, 0.4), 2.0,
                                                                   dropout_unit_capacity(2, 0.4)], atol=1e-8)
    np.testing.assert_allclose(table["upper bound"], [1.0, 0.6, 2.0, 1.2])
    np.testing.assert_allclose(table["lower bound"], [0.0, 0.0, np.log2(3), 0.6 * np.log2(3)], atol=1e-12)


# ---------------------------------------------------------------- the three codes: closed forms


def test_closed_forms() -> None:
    L = np.arange(6)
    np.testing.assert_allclose(code_capacity("monosemantic", 8, L, 0.3, 2), 16 * 0.7**L)
    np.testing.assert_allclose(code_capacity("polysemantic", 8, L, 0.3, 2, spread=3), 12 * 0.7 ** (3 * L))  # 6 features
    np.testing.assert_allclose(code_capacity("repetition", 8, L, 0.3, 2, redundancy=2), 8 * 0.91**L)
    poly = code_capacity("repetition", 8, L, 0.3, 2)
    np.testing.assert_allclose(poly, np.max([(8 // k) * 2 * (1 - 0.3**k) ** L for k in range(1, 9)], axis=0))
    assert code_capacity("repetition", 7, 3, 0.5, 1, redundancy=3) == pytest.approx(2 * 0.875**3)  # floor(7/3)
    assert best_redundancy(12, 0, 0.2) == 1 and best_redundancy(12, 20, 0.2) == 3
    assert code_capacity("monosemantic", 5, 4, 0.0, 3) == 15.0 and code_capacity("repetition", 5, 2, 1.0, 3) == 0.0


@pytest.mark.parametrize("p", [0.05, 0.2, 0.4, 0.6, 0.8, 1.0])
def test_repetition_at_least_monosemantic(p: float) -> None:
    L = np.arange(1, 41)
    for m in (1, 2, 5, 12):
        mono = code_capacity("monosemantic", m, L, p, 2)
        poly = code_capacity("repetition", m, L, p, 2)
        assert np.all(poly >= mono)
        assert np.all(mono <= (1 - p) * m * 2 + 1e-12) and np.all(poly <= (1 - p) * m * 2 + 1e-12)  # Shannon line
    assert np.all(code_capacity("repetition", 12, L[4:], 0.4, 2) > code_capacity("monosemantic", 12, L[4:], 0.4, 2))


def test_depth_at_capacity() -> None:
    assert depth_at_capacity("monosemantic", 12, 0.2, 12.0, 2) == pytest.approx(np.log(2) / -np.log(0.8))
    # 11 overlapping features of 2 bits, each lost with any of its 2 units: 22·0.64^L = 12
    assert depth_at_capacity("polysemantic", 12, 0.2, 12.0, 2) == pytest.approx(np.log(12 / 22) / np.log(0.64))
    # the polysemantic half-life equals the monosemantic one: every k >= 2 starts at <= half capacity
    assert depth_at_capacity("repetition", 12, 0.2, 12.0, 2) == pytest.approx(np.log(2) / -np.log(0.8))
    d = depth_at_capacity("repetition", 12, 0.2, 0.4 * 24, 2)
    assert d == pytest.approx(np.log(0.8) / np.log(0.96))
    assert code_capacity("repetition", 12, d, 0.2, 2) == pytest.approx(0.4 * 24)
    assert depth_at_capacity("monosemantic", 12, 0.0, 1.0, 2) == np.inf
    assert depth_at_capacity("monosemantic", 12, 1.0, 1.0, 2) == 0.0
    assert depth_at_capacity("monosemantic", 12, 0.5, 30.0, 2) == 0.0


def test_depth_readouts() -> None:
    half_life = np.log(2) / -np.log(0.8)  # (1-p)^L = 1/2 at p = 0.2
    out = depth_readouts(12, 0.2, 2, 2, 20)
    assert list(out) == list(CODES)
    assert out["monosemantic"].half_depth == pytest.approx(half_life)
    assert out["polysemantic"].half_depth == pytest.approx(np.log(12 / 22) / np.log(0.64))  # 11 features, spread 2
    assert out["repetition"].half_depth == pytest.approx(half_life)          # k = 1 until half capacity
    # half the Shannon line (1-p)·m·C_b: 24·0.8^L = 9.6, so L = log(0.4)/log(0.8)
    assert out["monosemantic"].half_shannon_depth == pytest.approx(np.log(0.4) / np.log(0.8))
    assert out["monosemantic"].pct_of_shannon == pytest.approx(100 * 0.8**20 / 0.8)
    assert out["polysemantic"].pct_of_shannon == pytest.approx(100 * 22 * 0.8**40 / (0.8 * 24))
    assert out["repetition"].pct_of_shannon == pytest.approx(100 * 4 * (1 - 0.2**3) ** 20 / (0.8 * 12))  # k = 3
    assert depth_readouts(4, 0.0, 1, 2, 5)["monosemantic"] == (np.inf, np.inf, 100.0)  # nothing is ever lost


# ---------------------------------------------------------------- Monte-Carlo against the closed forms


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_monte_carlo_agrees_with_closed_form(code: str, p: float) -> None:
    est = simulate_code_survival(code, 8, 6, p, 4000, seed=1, bits_per_unit=2, spread=2)
    cf = code_capacity(code, 8, est.depths, p, 2, spread=2)
    assert est.depths.tolist() == list(range(7)) and est.capacity[0] == cf[0] and est.stderr[0] == 0.0
    assert np.all(est.stderr[1:] > 0)
    np.testing.assert_array_less(np.abs(est.capacity - cf), 3 * est.stderr + 1e-12)
    if code == "repetition":
        np.testing.assert_array_equal(est.redundancy, best_redundancy(8, est.depths, p))


def test_monte_carlo_fixed_redundancy_and_extremes() -> None:
    est = simulate_code_survival("repetition", 9, 5, 0.6, 4000, seed=3, redundancy=3)
    cf = code_capacity("repetition", 9, est.depths, 0.6, 1, redundancy=3)
    np.testing.assert_array_less(np.abs(est.capacity - cf), 3 * est.stderr + 1e-12)
    assert set(est.redundancy.tolist()) == {3}
    for code in CODES:
        assert np.all(simulate_code_survival(code, 4, 3, 0.0, 10, seed=0).capacity == code_capacity(code, 4, 0, 0, 1))
        assert np.all(simulate_code_survival(code, 4, 3, 1.0, 10, seed=0).capacity[1:] == 0.0)


def test_monte_carlo_repetition_at_least_monosemantic() -> None:
    for p in (0.2, 0.6):
        mono = simulate_code_survival("monosemantic", 12, 10, p, 3000, seed=(5, 0), bits_per_unit=2)
        poly = simulate_code_survival("repetition", 12, 10, p, 3000, seed=(5, 1), bits_per_unit=2)
        assert np.all(poly.capacity[1:] >= mono.capacity[1:] - 3 * np.hypot(poly.stderr[1:], mono.stderr[1:]))


def test_monte_carlo_is_reproducible() -> None:
    a = simulate_code_survival("polysemantic", 6, 4, 0.3, 500, seed=7)
    b = simulate_code_survival("polysemantic", 6, 4, 0.3, 500, seed=7)
    c = simulate_code_survival("polysemantic", 6, 4, 0.3, 500, seed=8)
    np.testing.assert_array_equal(a.capacity, b.capacity)
    assert not np.array_equal(a.capacity, c.capacity)


def estimate(capacity: list[float], stderr: list[float], n_trials: int = 100, bits: float = 2.0) -> SurvivalEstimate:
    size = len(capacity)
    return SurvivalEstimate("monosemantic", 4, 0.5, bits, np.arange(size), np.array(capacity), np.array(stderr),
                            np.ones(size, dtype=np.int64), n_trials)


def test_monte_carlo_agreement_known_answers() -> None:
    # 100 trials of 2-bit features: a point is well measured from max(10, 50) = 50 expected survivors, i.e. a
    # closed form of at least 50 / 100 * 2 = 1 bit.
    a = estimate([8.0, 4.2, 1.0, 0.0], [0.0, 0.1, 0.5, 0.0])
    b = estimate([8.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    agreement = monte_carlo_agreement([a, b], [[8.0, 4.0, 0.5, 0.02], [8.0, 0.0, 0.1]])
    assert vars(agreement) == dict(
        mc_points=7, mc_resolved=2, mc_within_3se=2, mc_max_abs_z=pytest.approx(2.0), many_survivors=50,
        mc_many=1, mc_many_max_rel_pct=pytest.approx(5.0), mc_exact=3, mc_unresolved=2,
        mc_unresolved_expected=pytest.approx(5.0))  # 0.1 bits / 2 bits x 100 trials
    none = monte_carlo_agreement([b], [[8.0, 0.0, 0.0]])
    assert (none.mc_resolved, none.mc_max_abs_z, none.mc_many_max_rel_pct, none.mc_unresolved_expected) == \
        (0, 0.0, 0.0, 0.0)
    assert monte_carlo_agreement([estimate([1.0], [0.0], n_trials=4)], [[1.0]]).many_survivors == 10


def test_monte_carlo_agreement_on_a_simulation() -> None:
    est = simulate_code_survival("repetition", 8, 6, 0.5, 4000, seed=1, bits_per_unit=2)
    agreement = monte_carlo_agreement([est], [code_capacity("repetition", 8, est.depths, 0.5, 2)])
    assert agreement.mc_points == 7 and agreement.mc_resolved == 6 and agreement.mc_exact == 1
    assert agreement.mc_within_3se == 6 and agreement.mc_unresolved == 0


@pytest.mark.parametrize("estimates, closed_forms, name", [
    ([], [], "estimates"),
    ([estimate([1.0], [0.0])], [], "closed_forms"),
    ([estimate([1.0, 0.5], [0.0, 0.1])], [[1.0]], "closed_forms"),
    ([estimate([1.0], [0.0]), estimate([1.0], [0.0], n_trials=50)], [[1.0], [1.0]], "estimates"),
])
def test_monte_carlo_agreement_rejects_mismatches(estimates: list, closed_forms: list, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}:"):
        monte_carlo_agreement(estimates, closed_forms)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, name", [
    (lambda: dropout_unit_capacity(2, 1.5), "p"),
    (lambda: dropout_unit_capacity(2, [-0.1, 0.5]), "p"),
    (lambda: simulate_code_survival("monosemantic", 4, 2, 0.1, 100, (1, -2)), "seed"),
    (lambda: simulate_code_survival("monosemantic", 4, 2, 0.1, 100, "seed"), "seed"),
    (lambda: simulate_code_survival("monosemantic", 4, 2, 0.1, 100, ()), "seed"),
    (lambda: theorem_check([1], [0], [0.5]), "bits"),
    (lambda: theorem_check([1], [1], [1.5]), "p"),
    (lambda: theorem_check(1, [1], [0.5]), "units"),
    (lambda: depth_readouts(12, 1.0, 2, 2, 10), "p"),
    (lambda: depth_readouts(0, 0.2, 2, 2, 10), "width"),
    (lambda: dropout_capacity_bounds(0, 2, 0.1), "n_units"),
    (lambda: dropout_capacity_bounds(2, -1, 0.1), "bits_per_unit"),
    (lambda: dropout_capacity_bounds(2, 2, np.nan), "p"),
    (lambda: dropout_channel(2, 0, 0.1), "bits_per_unit"),
    (lambda: dropout_channel(2, 1, 2.0), "p"),
    (lambda: dropout_unit_capacity(1.5, 0.1), "bits_per_unit"),
    (lambda: code_capacity("holographic", 4, 1, 0.1, 2), "code"),
    (lambda: code_capacity("monosemantic", 0, 1, 0.1, 2), "width"),
    (lambda: code_capacity("monosemantic", 4, -1, 0.1, 2), "depth"),
    (lambda: code_capacity("monosemantic", 4, 1, 1.1, 2), "p"),
    (lambda: code_capacity("polysemantic", 4, 1, 0.1, 2, spread=5), "spread"),
    (lambda: code_capacity("repetition", 4, 1, 0.1, 2, max_redundancy=5), "max_redundancy"),
    (lambda: simulate_code_survival("mono", 4, 2, 0.1, 100, 0), "code"),
    (lambda: simulate_code_survival("monosemantic", 4, 2, 0.1, 0, 0), "n_trials"),
    (lambda: simulate_code_survival("monosemantic", -4, 2, 0.1, 100, 0), "width"),
    (lambda: simulate_code_survival("monosemantic", 4, 2, -0.1, 100, 0), "p"),
    (lambda: simulate_code_survival("monosemantic", 4, 2, 0.1, 100, -1), "seed"),
    (lambda: simulate_code_survival("repetition", 4, 2, 0.1, 100, 0, redundancy=0), "redundancy"),
    (lambda: simulate_code_survival("monosemantic", 4, 2, [0.1, 0.2], 100, 0), "p"),
    (lambda: code_capacity("monosemantic", 4, 1, "high", 2), "p"),
    (lambda: dropout_channel(1, 1, [0.1, 0.2]), "p"),
    (lambda: blahut_arimoto("not a matrix"), "channel_matrix"),
    (lambda: blahut_arimoto(np.eye(2), tol=0.0), "tol"),
    (lambda: depth_at_capacity("monosemantic", 4, 0.1, 0.0, 2), "target_bits"),
])
def test_bad_input_names_the_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call()


def test_unknown_code_lists_the_allowed_names() -> None:
    with pytest.raises(ValueError, match="monosemantic, polysemantic, repetition"):
        code_capacity("Monosemantic", 4, 1, 0.1, 2)


# ---------------------------------------------------------------- codes named as chapter 1 names them (issue: overlap)


def test_code_supports_are_chapter_one_codes_with_the_overlap_their_names_say() -> None:
    from polycode_utils.theory.codes import features_per_neuron, polysemantic_code, repetition_code  # noqa: PLC0415

    poly = code_support("polysemantic", 12, spread=2)
    rep = code_support("repetition", 12, redundancy=3)
    np.testing.assert_array_equal(poly, polysemantic_code(11, 2) > 0)
    np.testing.assert_array_equal(rep, repetition_code(4, 3) > 0)
    assert features_per_neuron(poly).max() == 2        # polysemantic: units shared by neighbouring features
    assert features_per_neuron(rep).max() == 1         # repetition: every unit carries one feature
    assert poly.sum(axis=0).tolist() == [2] * 11 and rep.sum(axis=0).tolist() == [3] * 4


def test_joint_decoder_recovers_every_feature_whenever_the_kept_columns_have_full_rank() -> None:
    from polycode_utils.theory.codes import polysemantic_code  # noqa: PLC0415

    rng = np.random.default_rng(0)
    for E in (polysemantic_code(6, 2), polysemantic_code(5, 3), rng.normal(size=(8, 5))):
        x = rng.random(E.shape[1])
        for _ in range(200):
            kept = rng.random(E.shape[0]) >= 0.3
            full = np.linalg.matrix_rank(E[kept]) == E.shape[1] if kept.any() else False
            rec = recoverable_features(E, kept)
            assert rec.all() == full
            if full:
                np.testing.assert_allclose(joint_decode(E, kept, E @ x), x, atol=1e-9)
            elif kept.any():  # the recoverable ones are decoded exactly even when others are not
                np.testing.assert_allclose(joint_decode(E, kept, E @ x)[rec], x[rec], atol=1e-9)


def test_recoverable_features_known_cases() -> None:
    E = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])  # banded, invertible
    assert recoverable_features(E, [True, False, True]).tolist() == [True, False, False]
    assert recoverable_features(E, [True, True, False]).tolist() == [True, True, False]
    # a feature known to be absent (not alive) frees the others
    assert recoverable_features(E, [False, True, True], alive=[False, True, True]).tolist() == [False, True, True]


def test_joint_decoding_beats_the_per_feature_decoder_and_matches_the_erasure_code_formula() -> None:
    from polycode_utils.theory.codes import polysemantic_code  # noqa: PLC0415

    joint = simulate_joint_decoding(polysemantic_code(11, 2), 8, 0.2, 3000, seed=0, bits_per_unit=2)
    per_feature = code_capacity("polysemantic", 12, joint.depths, 0.2, 2, spread=2)
    assert joint.capacity[0] == 22.0 and np.all(joint.capacity[4:] > per_feature[4:])
    # one layer, known answer: feature j of the chain is recoverable iff units 0..j or units j+1..11 all survive
    q, j = 0.8, np.arange(11)
    expected = 2 * np.sum(q ** (j + 1) + q ** (11 - j) - q**12)
    assert abs(joint.capacity[1] - expected) < 3 * joint.stderr[1]
    G = np.random.default_rng(1).normal(size=(12, 6))  # any 6 rows invertible: an MDS code
    est = simulate_joint_decoding(G, 6, 0.3, 4000, seed=2, bits_per_unit=2)
    cf = erasure_code_capacity(12, est.depths, 0.3, 2, n_features=6)
    np.testing.assert_array_less(np.abs(est.capacity - cf), 3 * est.stderr + 1e-9)


def test_erasure_code_capacity_approaches_the_shannon_line() -> None:
    assert erasure_code_capacity(10, 1, 0.0, 2) == 20.0
    assert erasure_code_capacity(3, 2, 0.5, 1, n_features=3) == pytest.approx(3 * 0.125**2)
    per_unit = [erasure_code_capacity(m, 10, 0.2, 1) / m for m in (10, 100, 1000, 10000)]
    assert np.all(np.diff(per_unit) > 0) and 0.78 < per_unit[-1] < 0.8


# ---------------------------------------------------------------- the note's theorems as formulas


def test_theorem3_forms() -> None:
    statement, proof = theorem3_lower_bounds(10, 1, 0.2)
    assert statement == pytest.approx(0.0) and proof == pytest.approx(0.0)
    statement, proof = theorem3_lower_bounds(1, 2, 0.0)
    assert proof == pytest.approx(np.log2(3)) and statement == pytest.approx(2 * (1 + np.log2(0.75)))
    assert proof == pytest.approx(dropout_capacity_bounds(1, 2, 0.0).lower)


def test_power_law_entropy_known_answers() -> None:
    exact, closed, printed = power_law_entropy(1000, 32, -1)
    assert round(exact) == 23471 and round(closed) == 23477 and round(printed) == 40523
    assert power_law_entropy(1, 8, -2).exact == 8.0                    # log2(1!) = 0
    half = power_law_entropy(1000, 32, -2, variance_exponent=True)     # eigenvalues i^-2: sigma_i = i^-1
    assert half.exact == pytest.approx(exact)
    assert power_law_entropy(4, 1, -1).exact == pytest.approx(4 - np.log2(24))


def test_expected_projected_action() -> None:
    lam = power_law_spectrum(500, -2)
    assert lam[0] == 1.0 and lam[1] == 0.25
    assert expected_projected_action(lam, 3) == pytest.approx(3 / 1000 * lam.sum())
    assert round(expected_projected_action(lam, 3), 5) == 0.00493  # the (k/2m) tr Sigma at alpha = -2
    assert expected_projected_action(np.ones(4), 4) == pytest.approx(2.0)
