"""Known-answer tests for polycode_utils.theory.codes: optimal encoding D_opt, the three codes of Fig. 1b, D* and
D_i."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from polycode_utils.theory import codes

from polycode_utils.theory.codes import (binary_entropy, dimensions_per_feature, feature_dimensionality,
                                         monosemantic_code, neurons_per_feature, optimal_dims_per_feature,
                                         polysemantic_code, superposition_code)

# ---------------------------------------------------------------- binary entropy and D_opt


def test_binary_entropy_known_values() -> None:
    assert binary_entropy(0.5) == 1.0
    assert binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    assert binary_entropy(0.25) == pytest.approx(0.8112781244591328, abs=1e-12)  # 2 - 3/4 log2 3
    p = np.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(binary_entropy(p), binary_entropy(1.0 - p), atol=1e-12)  # symmetric
    assert not np.any(np.signbit(binary_entropy(p)))  # no negative zeros at the ends


def test_d_opt_paper_check_value() -> None:
    # The methods' check value: D_opt(0.9, 32) = 0.1147.
    assert round(float(optimal_dims_per_feature(0.9, 32)), 4) == 0.1147
    assert float(optimal_dims_per_feature(0.9)) == pytest.approx(0.1 + 0.4689955935892812 / 32, abs=1e-12)


def test_d_opt_limits() -> None:
    s = np.array([0.0, 0.3, 0.9, 0.95, 0.999])
    np.testing.assert_allclose(optimal_dims_per_feature(s, 1e12), 1.0 - s, atol=1e-12)  # H_elem -> infinity
    assert optimal_dims_per_feature(0.0, 3.0) == 1.0  # dense features need one dimension each, any H_elem
    # More bits per value -> the sparsity pattern's entropy costs relatively less -> fewer dimensions.
    by_bits = [optimal_dims_per_feature(s, bits) for bits in (1.0, 8.0, 32.0, 1e6)]
    for lo_bits, hi_bits in itertools.pairwise(by_bits):
        assert np.all(hi_bits[1:] < lo_bits[1:])
    # In the sparsity, D_opt falls monotonically from 1 (for H_elem >= 1).
    grid = optimal_dims_per_feature(np.linspace(0, 0.99, 200), 32.0)
    assert np.all(np.diff(grid) < 0)


def test_d_opt_array_and_tensor_in_array_out() -> None:
    s = np.array([[0.0, 0.5], [0.9, 0.95]])
    out = optimal_dims_per_feature(s)
    assert isinstance(out, np.ndarray) and out.shape == (2, 2)
    np.testing.assert_allclose(optimal_dims_per_feature(torch.tensor(s)), out)
    np.testing.assert_allclose(optimal_dims_per_feature([0.9]), [0.11465611229966502])


@pytest.mark.parametrize("kwargs, name", [
    (dict(sparsity=1.0), "sparsity"), (dict(sparsity=-0.1), "sparsity"),
    (dict(sparsity=[0.1, float("nan")]), "sparsity"), (dict(sparsity=0.5, bits_per_value=0.0), "bits_per_value"),
    (dict(sparsity=0.5, bits_per_value=-3), "bits_per_value"),
    (dict(sparsity=0.5, bits_per_value=float("inf")), "bits_per_value"),
])
def test_d_opt_rejects_bad_input(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        optimal_dims_per_feature(**kwargs)


def test_binary_entropy_rejects_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match=r"p: must lie in \[0, 1\]"):
        binary_entropy([0.2, 1.5])


# ---------------------------------------------------------------- the three codes of Fig. 1b


@pytest.mark.parametrize("n, m", [(1, 1), (4, 4), (5, 7)])
def test_monosemantic_one_neuron_per_feature_no_overlap(n: int, m: int) -> None:
    code = monosemantic_code(n, m)
    assert code.shape == (m, n)
    assert np.all((code != 0).sum(axis=0) == 1)   # one neuron per feature
    assert np.all((code != 0).sum(axis=1) <= 1)   # no neuron shared (no overlap)
    assert set(np.unique(code)) <= {0.0, 1.0}
    if m == n:
        assert dimensions_per_feature(code) == 1.0


@pytest.mark.parametrize("n, k", [(2, 2), (4, 2), (6, 3), (10, 4)])
def test_polysemantic_redundant_overlapping_and_decodable(n: int, k: int) -> None:
    code = polysemantic_code(n, k)
    m = n + k - 1
    assert code.shape == (m, n)
    assert np.all((code != 0).sum(axis=0) == k)               # each feature on k neurons (redundancy)
    assert (code != 0).sum(axis=1).max() == min(k, n) >= 2    # neurons shared by several features (overlap)
    np.testing.assert_allclose(np.linalg.norm(code, axis=0), 1.0)
    assert np.linalg.matrix_rank(code) == n                   # one-to-one: every feature decodable
    assert dimensions_per_feature(code) == pytest.approx(m / n) and m / n > 1


@pytest.mark.parametrize("n, m", [(3, 2), (5, 2), (4, 3), (7, 3), (10, 4), (200, 20), (21, 20)])
def test_superposition_fewer_neurons_tight_unit_frame(n: int, m: int) -> None:
    code = superposition_code(n, m)
    assert code.shape == (m, n) and m < n
    np.testing.assert_allclose(np.linalg.norm(code, axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(code @ code.T, (n / m) * np.eye(m), atol=1e-9)  # every neuron the same load
    cos = code.T @ code
    assert np.abs(cos[~np.eye(n, dtype=bool)]).max() < 1 - 1e-9              # no two features coincide
    assert dimensions_per_feature(code) == pytest.approx(m / n)


def test_superposition_m2_is_the_regular_polygon() -> None:
    tri = superposition_code(3, 2)
    cos = tri.T @ tri
    np.testing.assert_allclose(cos[~np.eye(3, dtype=bool)], -0.5, atol=1e-12)  # 120 degrees apart
    assert dimensions_per_feature(tri) == pytest.approx(2 / 3)


def test_dimensions_per_feature_orders_the_three_codes() -> None:
    assert dimensions_per_feature(polysemantic_code(6, 2)) > dimensions_per_feature(monosemantic_code(6)) \
        > dimensions_per_feature(superposition_code(6, 3))


@pytest.mark.parametrize("call, name", [
    (lambda: monosemantic_code(0), "n_features"), (lambda: monosemantic_code(4, 3), "n_neurons"),
    (lambda: monosemantic_code(2.0), "n_features"), (lambda: polysemantic_code(4, 1), "redundancy"),
    (lambda: polysemantic_code(1, 2), "n_features"), (lambda: superposition_code(4, 4), "n_neurons"),
    (lambda: superposition_code(4, 1), "n_neurons"), (lambda: dimensions_per_feature(np.ones(3)), "W"),
])
def test_code_constructors_reject_bad_sizes(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


# ---------------------------------------------------------------- geometry of a code or of learnt weights: D*, D_i


def identity_like(m: int, n: int) -> np.ndarray:
    """m features each on its own neuron, the other n - m features not represented."""
    return np.eye(m, n)


TRIANGLE = superposition_code(3, 2)          # 3 unit features at 120 degrees in 2 dimensions
ANTIPODAL = np.array([[1.0, -1.0]])          # 2 features on one neuron, opposite signs


def test_dimensions_per_feature_known_answers() -> None:
    assert dimensions_per_feature(identity_like(4, 6)) == 1.0
    assert dimensions_per_feature(TRIANGLE) == pytest.approx(2 / 3)
    assert dimensions_per_feature(ANTIPODAL) == 0.5
    assert dimensions_per_feature(superposition_code(5, 2)) == pytest.approx(2 / 5)  # the pentagon


def test_dimensions_per_feature_is_per_instance() -> None:
    rot = np.array([[0.0, -1.0], [1.0, 0.0]])
    batch = np.stack([TRIANGLE, rot @ TRIANGLE, 2.0 * TRIANGLE])           # (3, m, n)
    np.testing.assert_allclose(dimensions_per_feature(batch), [2 / 3, 2 / 3, 1 / 6])
    np.testing.assert_allclose(dimensions_per_feature(torch.tensor(batch)), [2 / 3, 2 / 3, 1 / 6])
    assert dimensions_per_feature(np.zeros((2, 3, 5))).tolist() == [math.inf, math.inf]  # nothing learnt


def test_feature_dimensionality_known_answers() -> None:
    np.testing.assert_allclose(feature_dimensionality(identity_like(4, 6)), [1, 1, 1, 1, 0, 0])
    np.testing.assert_allclose(feature_dimensionality(TRIANGLE), [2 / 3] * 3)
    np.testing.assert_allclose(feature_dimensionality(ANTIPODAL), [0.5, 0.5])
    np.testing.assert_allclose(feature_dimensionality(superposition_code(5, 2)), [0.4] * 5)
    # An antipodal pair on neuron 0 next to a feature alone on neuron 1: 1/2, 1/2, 1.
    np.testing.assert_allclose(feature_dimensionality(np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]])), [0.5, 0.5, 1.0])


def test_feature_dimensionality_scale_invariant_bounded_batched() -> None:
    W = np.random.default_rng(0).standard_normal((4, 5, 12))
    d = feature_dimensionality(W)
    assert d.shape == (4, 12) and np.all((d > 0) & (d <= 1))
    np.testing.assert_allclose(feature_dimensionality(3.0 * W), d)
    np.testing.assert_allclose(feature_dimensionality(torch.tensor(W)), d)
    # Per instance, the per-feature dimensionalities of a generic W sum to at most m (sum = m for a tight frame).
    assert np.all(d.sum(axis=-1) <= 5 + 1e-9)
    assert feature_dimensionality(superposition_code(9, 4)).sum() == pytest.approx(4.0)


def test_neurons_per_feature_counts_each_column() -> None:
    assert neurons_per_feature(polysemantic_code(5, 3)).tolist() == [3] * 5
    assert neurons_per_feature(monosemantic_code(4, 6)).tolist() == [1] * 4
    assert neurons_per_feature(np.array([[1.0, 0.0, -2.0], [0.0, 0.0, 1.0]])).tolist() == [1, 0, 2]
    assert neurons_per_feature(np.stack([-np.ones((2, 3)), identity_like(2, 3)])).tolist() == [[2, 2, 2], [1, 1, 0]]


@pytest.mark.parametrize("fn", [dimensions_per_feature, feature_dimensionality, neurons_per_feature])
def test_geometry_rejects_bad_W(fn) -> None:
    with pytest.raises(ValueError, match="^W:"):
        fn(np.ones(3))
    with pytest.raises(ValueError, match="^W:"):
        fn(np.array([[1.0, np.nan]]))


def test_repetition_code_is_redundant_and_monosemantic() -> None:
    from polycode_utils.theory.codes import features_per_neuron, repetition_code  # noqa: PLC0415

    E = repetition_code(4, 3)
    assert E.shape == (12, 4) and features_per_neuron(E).tolist() == [1] * 12
    assert neurons_per_feature(E).tolist() == [3] * 4 and dimensions_per_feature(E) == pytest.approx(3.0)
    assert features_per_neuron(polysemantic_code(4, 2)).max() == 2  # the overlapping code shares neurons


def test_lemma2_sparse_entropy_against_plugin_entropy() -> None:
    from polycode_utils.theory.codes import (plugin_entropy, quantised_sparse_samples, sparse_feature_entropy)  # noqa: PLC0415

    assert plugin_entropy([0, 1, 2, 3]) == pytest.approx(2.0) and plugin_entropy([5, 5]) == 0.0
    assert sparse_feature_entropy(0.0, 4) == pytest.approx(4.0)
    assert sparse_feature_entropy(0.5, 3, n_features=2) == pytest.approx(2 * (1 + 1.5))
    x = quantised_sparse_samples(400_000, 0.8, 3, seed=0)
    assert np.mean(x == 0) == pytest.approx(0.8, abs=0.003) and len(np.unique(x)) == 9
    assert plugin_entropy(x) == pytest.approx(sparse_feature_entropy(0.8, 3), abs=0.01)


def test_code_spectrum_flat_plateau_and_cliff() -> None:
    from polycode_utils.theory.codes import code_spectrum, repetition_code  # noqa: PLC0415

    v = 0.5 / 3 - 0.25**2  # variance of a feature at S = 0.5
    mono = code_spectrum(monosemantic_code(6), 0.5, 40_000, seed=0)
    np.testing.assert_allclose(mono, v, rtol=0.05)
    rep = code_spectrum(repetition_code(3, 2), 0.5, 40_000, seed=0)
    np.testing.assert_allclose(rep[:3], v, rtol=0.05)
    np.testing.assert_allclose(rep[3:], 0.0, atol=1e-10)


def test_density_at_optimal_dims() -> None:
    from polycode_utils.theory.codes import density_at_optimal_dims  # noqa: PLC0415

    assert density_at_optimal_dims(float(optimal_dims_per_feature(0.9, 32))) == pytest.approx(10.0)
    s = 1 - 1 / density_at_optimal_dims(0.1, 32)                   # m/n = 20/200: D_opt = 0.1 there
    assert optimal_dims_per_feature(s, 32) == pytest.approx(0.1) and 11 < 1 / (1 - s) < 12
    assert density_at_optimal_dims(0.9, 32) == 2.0 and density_at_optimal_dims(0.0) == math.inf
    with pytest.raises(ValueError, match="^target:"):
        density_at_optimal_dims(float("nan"))


def test_entropy_at_flip_is_the_element_entropy_whose_optimum_the_curve_touches():
    s = 1.0 - 20.0 ** -np.linspace(0.0, 1.0, 20)
    for bits in (1.0, 5.0, 32.0):
        assert codes.entropy_at_flip(s, codes.optimal_dims_per_feature(s, bits)) == pytest.approx(bits, rel=1e-12)
    d = codes.optimal_dims_per_feature(s, 5.0)
    d[3] = 1.0 - s[3]  # on the limit 1 - S: no finite H_elem puts D_opt below it
    assert codes.entropy_at_flip(s, d) == np.inf


def test_optimum_by_entropy_leaves_out_the_forced_sparsities_and_counts_the_rest():
    s = 1.0 - 20.0 ** -np.linspace(0.0, 1.0, 20)
    d = codes.optimal_dims_per_feature(s, 8.0) + 1e-6  # just above the optimum at 8 bits, below it at fewer
    table = codes.optimum_by_entropy(s, d, 0.1, [4.0, 8.0, 32.0], tolerance=0.0)
    for bits, row in zip((4.0, 8.0, 32.0), table.itertuples(index=False), strict=True):
        forced = int((codes.optimal_dims_per_feature(s, bits) <= 0.1).sum())
        assert (row[1], row[2]) == (forced, 20 - forced)
    # at S = 0, h_b = 0 and D_opt = 1 at every H_elem: the one sparsity that holds at 4 bits
    assert list(table["D* >= D_opt"]) == [1, 20 - table["forced"][1], 20 - table["forced"][2]]
    assert table["forced"][2] > table["forced"][0] >= 0
