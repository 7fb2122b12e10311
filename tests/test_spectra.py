"""Known-answer tests for polycode_utils.instruments.spectra: eigenspectra, power-law fits, cvPCA, intervals over
sets."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from polycode_utils.instruments.spectra import (
    CovarianceAccumulator,
    t_half_width,
    clip_fit_range,
    cv_spectra,
    eigenspectrum,
    fit_power_law,
    fit_quality,
    numerical_rank,
    power_law_samples,
    principal_components,
    score_correlation,
    evaluation_set_alpha,
    evaluation_set_coverage,
    t_interval,
)


def gaussian_with_spectrum(lam: np.ndarray, n: int, seed: int, mean: float = 0.0) -> np.ndarray:
    """n samples of a Gaussian whose covariance has eigenvalues lam in a random orthonormal basis."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((lam.size, lam.size)))
    return mean + (rng.standard_normal((n, lam.size)) * np.sqrt(lam)) @ q.T


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# ---------------------------------------------------------------- fit_power_law


@pytest.mark.parametrize("method", ["huber", "ols", "wls"])
@pytest.mark.parametrize("a", [-0.5, -1.0, -2.0])
def test_fit_recovers_exact_power_law(a: float, method: str) -> None:
    lam = 3.0 * np.arange(1, 1001, dtype=float) ** a
    fit = fit_power_law(lam, (1, 500), method)
    assert fit.alpha == pytest.approx(a, abs=1e-6)
    assert fit.intercept == pytest.approx(np.log10(3.0), abs=1e-6)
    assert fit.fit_range == (1, 500) and not fit.clipped and fit.method == method
    assert np.abs(fit.residuals).max() < 1e-6 and fit.residuals.shape == (500,)


def test_fit_range_is_one_based_inclusive() -> None:
    # PCs 1..11 follow a different law; fitting (12, 500) must see only the n^-1 part (Stringer's range).
    n = np.arange(1, 1001, dtype=float)
    lam = np.where(n < 12, 50.0 * n ** -3.0, n ** -1.0)
    fit = fit_power_law(lam, (12, 500), "ols")
    assert fit.alpha == pytest.approx(-1.0, abs=1e-12)
    assert fit.residuals.shape == (489,)


def test_huber_ignores_outliers_that_move_ols() -> None:
    lam = np.arange(1, 501, dtype=float) ** -1.0
    rng = np.random.default_rng(0)
    lam[rng.choice(np.arange(300, 500), 5, replace=False)] *= 100.0  # five eigenvalues 2 decades off
    huber, ols = fit_power_law(lam, (1, 500), "huber"), fit_power_law(lam, (1, 500), "ols")
    assert huber.alpha == pytest.approx(-1.0, abs=1e-3)
    assert abs(ols.alpha + 1.0) > 0.02


def test_fit_range_clipped_to_positive_eigenvalues() -> None:
    lam = np.concatenate([np.arange(1, 51, dtype=float) ** -1.0, np.zeros(30), [-1e-17]])
    fit = fit_power_law(lam, (1, 500))
    assert fit.clipped and fit.fit_range == (1, 50) and fit.requested_range == (1, 500)
    assert fit.alpha == pytest.approx(-1.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 3"):
        fit_power_law(lam, (49, 500))


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "lasso"}, "method"),
    ({"fit_range": (0, 10)}, "fit_range"),
    ({"fit_range": (10, 5)}, "fit_range"),
    ({"fit_range": (1, 2)}, "at least 3"),
])
def test_fit_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_power_law(np.arange(1, 100, dtype=float) ** -1.0, **kwargs)


def test_fit_rejects_nonfinite_eigenvalues() -> None:
    with pytest.raises(ValueError, match="eigenvalues"):
        fit_power_law(np.array([1.0, 0.5, np.nan, 0.25]), (1, 4))


# ---------------------------------------------------------------- intervals over independent evaluation sets


def test_t_interval_is_the_student_t_interval() -> None:
    v = np.array([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / np.sqrt(3)  # t(0.975, 2 df) * sd / sqrt(n)
    assert t_interval(v) == pytest.approx((2.0 - half, 2.0 + half))
    assert np.isnan(t_interval([1.0])[0])
    with pytest.raises(ValueError, match="confidence"):
        t_interval(v, confidence=0.0)
    with pytest.raises(ValueError, match="values"):
        t_interval([1.0, np.nan])


@pytest.mark.parametrize("alpha", [-1.0, -2.0])
def test_set_interval_covers_what_it_claims_in_the_chapter_regime(alpha: float) -> None:
    # The chapter's regime at a fifth of its size: N = 200 < d = 1640 (the default's 1000 images and 8192 units),
    # fit PCs 1..20 (its 1..100), 3 sets per interval. The interval covers the estimator's own mean at N (>= 90 %);
    # it covers the true alpha only where the finite-sample bias is small against its width: at alpha = -2, not
    # at alpha = -1, whose heavy tail flattens the measured slope by ~0.13 (the chapter states both).
    c = evaluation_set_coverage(200, 1640, alpha, (1, 20), n_sets=3, n_draws=15, seed=0)
    assert c.n_sets == 3 and c.fit_range == (1, 20) and c.n_draws == 15
    assert c.coverage_of_mean >= 0.9
    if alpha == -2.0:
        assert c.coverage >= 0.9 and abs(c.bias) < 0.02
    else:
        assert c.coverage < 0.1 and 0.08 < c.bias < 0.2
    assert 0 < c.sd_one < 0.05 and c.mean_width > 0


def test_evaluation_set_coverage_is_seeded_and_checks_its_arguments() -> None:
    a = evaluation_set_coverage(60, 200, -1.5, (1, 10), n_sets=2, n_draws=4, seed=3)
    assert a == evaluation_set_coverage(60, 200, -1.5, (1, 10), n_sets=2, n_draws=4, seed=3)
    assert evaluation_set_alpha(power_law_samples(60, 200, -1.5, seed=3), (1, 10)) == pytest.approx(
        fit_power_law(eigenspectrum(power_law_samples(60, 200, -1.5, seed=3)), (1, 10)).alpha)
    with pytest.raises(ValueError, match="n_sets"):
        evaluation_set_coverage(60, 200, -1.5, (1, 10), n_sets=1, n_draws=4)
    with pytest.raises(ValueError, match="n_draws"):
        evaluation_set_coverage(60, 200, -1.5, (1, 10), n_sets=3, n_draws=2)


def test_score_correlation_finds_a_planted_brightness_direction() -> None:
    rng = np.random.default_rng(0)
    brightness = rng.uniform(0, 1, 300)
    x = np.outer(brightness, np.ones(50)) + 0.05 * rng.standard_normal((300, 50))  # every unit follows brightness
    lam, vecs = principal_components(x, 1)
    assert lam[0] / lam.sum() > 0.9
    assert score_correlation(x, vecs[:, 0], brightness) > 0.99
    assert score_correlation(x, vecs[:, 0], rng.standard_normal(300)) < 0.2
    with pytest.raises(ValueError, match="covariate"):
        score_correlation(x, vecs[:, 0], brightness[:10])
    with pytest.raises(ValueError, match="direction"):
        score_correlation(x, vecs[:3, 0], brightness)


# ---------------------------------------------------------------- accumulator


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    # Mean 5 with unit-scale spread: naive sum(x x^T) - n mu mu^T would lose digits here.
    return gaussian_with_spectrum(np.linspace(2.0, 0.1, 24), 1000, seed=3, mean=5.0)


def test_accumulator_matches_numpy_cov_in_every_order(data: np.ndarray) -> None:
    reference = np.cov(data, rowvar=False)
    one_go = CovarianceAccumulator(24).update(data)

    streamed, rng, start = CovarianceAccumulator(24), np.random.default_rng(5), 0
    while start < len(data):
        stop = start + int(rng.integers(1, 97))
        streamed.update(torch.from_numpy(data[start:stop]))  # torch input too
        start = stop

    bounds = [0, 137, 652, len(data)]
    shards = [CovarianceAccumulator(24).update(data[a:b]) for a, b in zip(bounds, bounds[1:])]
    merged = CovarianceAccumulator(24).merge(shards[0]).merge(shards[1]).merge(shards[2])

    for acc in (one_go, streamed, merged):
        assert acc.n == len(data)
        assert rel(acc.covariance(), reference) < 1e-10
        assert rel(acc.mean(), data.mean(axis=0)) < 1e-10
        assert rel(acc.eigenvalues(), np.linalg.eigvalsh(reference)[::-1]) < 1e-10


def test_eigenspectrum_equals_accumulator_and_vectors_are_eigenvectors(data: np.ndarray) -> None:
    acc = CovarianceAccumulator(24).update(data)
    assert np.array_equal(eigenspectrum(data), acc.eigenvalues())
    lam, vecs, cov = acc.eigenvalues(), acc.eigenvectors(5), acc.covariance()
    assert np.all(np.diff(lam) <= 0) and vecs.shape == (24, 5)
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(5), atol=1e-12)
    np.testing.assert_allclose(cov @ vecs, vecs * lam[:5], atol=1e-12)


def test_accepts_float32_torch_and_sums_in_float64(data: np.ndarray) -> None:
    x32 = torch.from_numpy(data).float()
    acc = CovarianceAccumulator(24).update(x32)
    assert acc.covariance().dtype == np.float64
    assert rel(acc.covariance(), np.cov(x32.double().numpy(), rowvar=False)) < 1e-10


def test_state_dict_round_trip_continues_exactly(data: np.ndarray) -> None:
    first = CovarianceAccumulator(24).update(data[:400])
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = CovarianceAccumulator(24).load_state_dict(torch.load(buffer))
    first.update(data[400:])
    resumed.update(data[400:])
    assert resumed.n == first.n == len(data)
    assert np.array_equal(resumed.covariance(), first.covariance())
    assert np.array_equal(resumed.mean(), first.mean())


def test_accumulator_rejects_bad_input() -> None:
    acc = CovarianceAccumulator(3)
    with pytest.raises(ValueError, match="batch"):
        acc.update(np.ones((4, 2)))
    with pytest.raises(ValueError, match="NaN or inf"):
        acc.update(np.array([[1.0, np.inf, 0.0]]))
    acc.update(np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        acc.covariance()
    with pytest.raises(ValueError, match="k"):
        acc.update(np.zeros((1, 3))).eigenvectors(4)
    with pytest.raises(ValueError, match="dim"):
        CovarianceAccumulator(0)
    with pytest.raises(ValueError, match="other"):
        acc.merge(CovarianceAccumulator(4))
    with pytest.raises(ValueError, match="dim"):
        CovarianceAccumulator(4).load_state_dict(acc.state_dict())
    with pytest.raises(ValueError, match="at least 2 samples"):
        eigenspectrum(np.ones((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        eigenspectrum(np.array([[0.0, np.nan], [1.0, 2.0]]))


# ---------------------------------------------------------------- cvPCA


def test_cv_spectrum_recovers_signal_while_plain_spectrum_is_inflated() -> None:
    d, n, noise = 40, 4000, 0.05
    lam = np.arange(1, d + 1, dtype=float) ** -1.0
    signal = gaussian_with_spectrum(lam, n, seed=6)
    rng = np.random.default_rng(7)
    x1, x2 = (signal + np.sqrt(noise) * rng.standard_normal((n, d)) for _ in range(2))
    cv, plain = cv_spectra(x1, x2)[0], eigenspectrum(x1)
    np.testing.assert_allclose(cv, lam, rtol=0.15)
    assert np.all(plain > lam) and np.all(plain[d // 2:] > 2 * lam[d // 2:])  # noise floor lambda + 0.05
    assert fit_power_law(cv, (1, d), "ols").alpha == pytest.approx(-1.0, abs=0.05)
    assert fit_power_law(plain, (1, d), "ols").alpha > -0.8


def test_cv_spectrum_rejects_mismatched_repeats() -> None:
    with pytest.raises(ValueError, match="same shape"):
        cv_spectra(np.zeros((10, 3)), np.zeros((10, 4)))


# ---------------------------------------------------------------- the Gram form equals the covariance (N < dims)


def gaussian(n: int, d: int, alpha: float, seed: int) -> np.ndarray:
    """n samples in d dims, eigenvalues n^alpha in a random basis, mean 3 (tests centring)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return 3.0 + (rng.standard_normal((n, d)) * np.arange(1, d + 1) ** (alpha / 2)) @ q.T


@pytest.mark.parametrize("n, d", [(60, 150), (200, 30)])
def test_principal_components_match_covariance(n: int, d: int) -> None:
    x = gaussian(n, d, -1.0, seed=0)
    lam, vecs = principal_components(x, 4)
    ref = eigenspectrum(x)
    m = min(n, d)
    assert lam.shape == (m,)
    np.testing.assert_allclose(lam[:m - 1], ref[:m - 1], rtol=1e-9, atol=1e-12)
    ref_vecs = CovarianceAccumulator(d).update(x).eigenvectors(4)
    np.testing.assert_allclose(np.abs(vecs.T @ ref_vecs), np.eye(4), atol=1e-8)  # same directions (sign free)
    assert np.all(vecs[np.abs(vecs).argmax(axis=0), np.arange(4)] > 0)  # sign fixed: largest entry positive


@pytest.mark.parametrize("n, d", [(50, 120), (150, 20)])
def test_cv_spectra_is_cross_validated_pca(n: int, d: int) -> None:
    x1 = gaussian(n, d, -1.0, seed=2)
    x2 = x1 + 0.3 * np.random.default_rng(5).standard_normal(x1.shape)
    cv, own = cv_spectra(x1, x2)
    m = min(n, d) - 1
    _, u = np.linalg.eigh(np.cov(x1, rowvar=False))
    u = u[:, ::-1]
    ref = np.sum(((x1 - x1.mean(0)) @ u) * ((x2 - x2.mean(0)) @ u), axis=0) / (n - 1)  # Stringer's definition
    np.testing.assert_allclose(cv[:m], ref[:m], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(own[:m], eigenspectrum(x1)[:m], rtol=1e-8, atol=1e-11)
    same, own_same = cv_spectra(x1, x1)  # identical repeats: every PC reproduced exactly
    np.testing.assert_allclose(same[:m], own_same[:m], rtol=1e-9)


def test_clip_fit_range() -> None:
    lam = np.arange(1, 201, dtype=float) ** -1.0
    assert clip_fit_range(lam, (1, 500), n_samples=1000) == (1, 100)   # half the rank (200 units)
    assert clip_fit_range(lam, (1, 500), n_samples=51) == (1, 25)      # rank limited by the samples: 50
    assert clip_fit_range(lam, (1, 30), n_samples=1000) == (1, 30)
    assert clip_fit_range(lam[:4], (1, 500), n_samples=100) == (1, 3)  # narrow layer: at least 3 PCs
    assert numerical_rank(np.concatenate([lam[:10], [0.0, -1e-18]])) == 10
    with pytest.raises(ValueError, match="fit_range"):
        clip_fit_range(lam, (0, 10), 100)
    with pytest.raises(ValueError, match="n_samples"):
        clip_fit_range(lam, (1, 10), 1)


def test_fit_quality_tells_power_law_from_linear_code() -> None:
    n = np.arange(1, 101, dtype=float)
    power = n ** -1.3
    q = fit_quality(power, fit_power_law(power, (1, 100)))
    assert q.r2 == pytest.approx(1.0, abs=1e-9) and abs(q.curvature) < 1e-6 and q.rms_residual < 1e-6
    assert abs(q.cliff) < 1e-9
    # A linear code: 10 similar eigenvalues (a plateau), then a cliff of three decades, then a power-law tail.
    code = np.where(n <= 10, 1.0 - 0.01 * n, 1e-3 * n ** -1.0)
    qc = fit_quality(code, fit_power_law(code, (1, 100), "ols"))
    assert qc.r2 < 0.9 and qc.max_abs_residual > 0.5
    assert qc.cliff_at == 10 and qc.cliff > 2.5
    # Plateau then cliff at the end of the range: concave.
    qe = fit_quality(code[:12], fit_power_law(code[:12], (1, 12), "ols"))
    assert qe.curvature < -1.0 and qe.cliff_at == 10
    with pytest.raises(ValueError, match="fit"):
        fit_quality(power, (1, 100))



def test_power_law_samples_have_the_planted_spectrum() -> None:
    x = power_law_samples(20000, 30, -2.0, seed=1)
    np.testing.assert_allclose(eigenspectrum(x), np.arange(1, 31) ** -2.0, rtol=0.1)
    with pytest.raises(ValueError, match="alpha"):
        power_law_samples(10, 10, 0.5)


# ---------------------------------------------------------------- edge cases (issue 15 #15)

def test_load_state_dict_refuses_wrong_shapes_nan_and_bad_counts() -> None:
    from polycode_utils.instruments.spectra import CovarianceAccumulator  # noqa: PLC0415

    good = CovarianceAccumulator(3).update(np.random.default_rng(0).normal(size=(10, 3))).state_dict()
    for key, bad, words in (("outer", torch.zeros(2, 2), "outer must have shape (3, 3)"),
                            ("sum", torch.zeros(4), "sum must have shape (3,)"),
                            ("shift", torch.tensor([0.0, float("nan"), 0.0]), "shift contains NaN"),
                            ("n", 2.5, "n must be an integer"), ("n", -1, "n must be an integer >= 0")):
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            CovarianceAccumulator(3).load_state_dict({**good, key: bad})
    assert CovarianceAccumulator(3).load_state_dict(good).n == 10


def test_huge_finite_inputs_are_refused_not_turned_into_inf() -> None:
    from polycode_utils.instruments.spectra import CovarianceAccumulator, eigenspectrum  # noqa: PLC0415

    x = np.array([[1e200, 0.0], [-1e200, 1.0], [3e200, 2.0]])
    with pytest.raises(ValueError, match="overflows float64"):
        CovarianceAccumulator(2).update(x)
    acc = CovarianceAccumulator(2)
    with pytest.raises(ValueError, match="overflows float64"):
        acc.update(x)
    assert acc.n == 0  # a refused batch leaves the accumulator as it was
    with pytest.raises(ValueError, match="overflows float64"):
        eigenspectrum(np.column_stack([x, x, x]).T)  # dims > samples: the Gram form


def test_constant_data_have_no_principal_direction() -> None:
    from polycode_utils.instruments.spectra import CovarianceAccumulator, principal_components  # noqa: PLC0415

    x = np.ones((20, 4))
    with pytest.raises(ValueError, match="only 0 directions have non-zero variance"):
        CovarianceAccumulator(4).update(x).eigenvectors(1)
    with pytest.raises(ValueError, match="non-zero variance"):
        principal_components(x, 1)


def test_complex_input_is_refused() -> None:
    from polycode_utils.instruments.spectra import CovarianceAccumulator, eigenspectrum  # noqa: PLC0415

    z = np.random.default_rng(0).normal(size=(8, 3)) * (1 + 1j)
    with pytest.raises(ValueError, match="complex"):
        eigenspectrum(z)
    with pytest.raises(ValueError, match="complex"):
        CovarianceAccumulator(3).update(torch.as_tensor(z))
    with pytest.raises(ValueError, match="complex"):
        fit_power_law(np.arange(1, 20) ** -1.0 + 0j, (1, 10), "ols")


def test_fit_power_law_refuses_ascending_spectra_and_fractional_ranges() -> None:
    lam = np.arange(1, 101, dtype=float) ** -1.0
    with pytest.raises(ValueError, match="rise over the fit range"):
        fit_power_law(lam[::-1], (1, 50), "ols")  # was alpha = +1, silently
    for bad in ((1.5, 50), (1, 49.9), (True, 50)):
        with pytest.raises(ValueError, match="pair \\(first, last\\) of integers"):
            fit_power_law(lam, bad, "ols")
    assert fit_power_law(lam, (1.0, 50.0), "ols").fit_range == (1, 50)


def test_float32_products_keep_a_wide_spectrum_with_a_large_mean() -> None:
    """Products in float32 (chunked, summed in float64) against float64: a spectrum over six decades, mean 1e3."""
    rng = np.random.default_rng(3)
    d, n = 64, 20_000
    scales = np.logspace(0, -3, d)                           # sd: eigenvalues from 1 to 1e-6
    x = 1e3 + rng.standard_normal((n, d)) * scales
    exact = np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1]
    acc = CovarianceAccumulator(d, product_dtype=torch.float32, chunk_rows=1000)
    for part in np.array_split(x.astype(np.float32), 7):
        acc.update(torch.from_numpy(part))
    got = acc.eigenvalues()
    assert got[0] == pytest.approx(exact[0], rel=1e-3)
    assert np.abs(got / exact - 1).max() < 0.05     # the float32 input's own rounding of 1e3 + 1e-3 noise dominates
    f64 = CovarianceAccumulator(d)
    for part in np.array_split(x.astype(np.float32), 7):
        f64.update(torch.from_numpy(part))
    assert np.abs(got / f64.eigenvalues() - 1).max() < 1e-3  # same input: products only
    with pytest.raises(ValueError, match="product_dtype: must be a floating torch dtype"):
        CovarianceAccumulator(4, product_dtype=torch.int32)


def test_the_one_t_interval_has_the_textbook_half_width_along_any_axis():
    """Issue 20: three Student-t intervals (evaluation sets, their coverage, window groups) are now one."""
    assert t_half_width([1.0, 2.0, 3.0]) == pytest.approx(4.302652729911275 / np.sqrt(3))   # t_{2, 0.975}, sd 1
    rows = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_allclose(t_half_width(rows, 0.9, axis=1), [t_half_width(r, 0.9) for r in rows])
    with pytest.raises(ValueError, match="confidence"):
        t_half_width([1.0, 2.0], 1.0)
