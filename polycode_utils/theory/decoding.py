"""Codes simulated through dropout layers (the paper's Fig. 2, checked and extended): the Monte-Carlo survival of the
codes whose closed forms polycode_utils.theory.capacity gives (the same survival rule, so it checks the algebra), and a
joint erasure decoder of any code matrix, the capacity the per-feature rule leaves out (ours).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from polycode_utils.theory.capacity import best_redundancy, check_code_args
from polycode_utils.checks import check_array, check_float_in, check_int, check_positive_float, check_sequence

# --------------------------------------------------------------------------------------------------------------
# Monte-Carlo


@dataclass(frozen=True)
class SurvivalEstimate:
    """Monte-Carlo capacity of a code at depths 0..L, with standard errors over trials (ours; checks Fig. 2b–c)."""

    code: str
    width: int
    p: float
    bits_per_unit: float
    depths: NDArray[np.int64]        # 0, 1, ..., depth
    capacity: NDArray[np.float64]    # bits: C_b × mean number of features that survived to that depth
    stderr: NDArray[np.float64]      # standard error of the mean over the n_trials independent trials
    redundancy: NDArray[np.int64]    # repetition k used at each depth (1 for the other codes)
    n_trials: int


def _check_seed(seed: int | Sequence[int]) -> list[int]:
    items = check_sequence([seed] if isinstance(seed, (int, np.integer)) else seed, "seed")
    return [check_int(i, "seed", minimum=0) for i in items]


def code_support(code: str, width: int, spread: int = 2, redundancy: int = 1) -> NDArray[np.bool_]:
    """Which of m units each feature writes onto, (m, n) booleans: the supports of chapter 1's codes (ours; Fig. 2).

    monosemantic: feature i on unit i (n = m); polysemantic: feature j on units j..j+s-1, neighbours overlapping
    (n = m-s+1; codes.polysemantic_code); repetition: feature j on units j·k..j·k+k-1, no overlap (n = floor(m/k);
    codes.repetition_code, the units left over carry nothing).
    """
    code, m, _, s, k = check_code_args(code, width, 1.0, spread, None, redundancy if code == "repetition" else None)
    if code == "monosemantic":
        return np.eye(m, dtype=bool)
    n, step, size = (m - s + 1, 1, s) if code == "polysemantic" else (m // k, k, k)
    rows = np.arange(m)[:, None]
    return (rows >= step * np.arange(n)) & (rows < step * np.arange(n) + size)


def _survival_counts(code: str, width: int, depth: int, p: float, n_trials: int, spread: int, k: int,
                     rng: np.random.Generator) -> NDArray[np.int64]:
    """Number of features alive after 0..depth layers, per trial: shape (depth + 1, n_trials)."""
    support = code_support(code, width, spread, k)
    n_features = support.shape[1]
    alive = np.ones((n_trials, n_features), dtype=bool)
    counts = np.empty((depth + 1, n_trials), dtype=np.int64)
    counts[0] = n_features
    for layer in range(1, depth + 1):
        kept = rng.random((n_trials, width)) >= p  # this layer's dropout mask: a unit is dropped w.p. p
        hits = kept.astype(np.int64) @ support      # surviving units of each feature
        if code == "repetition":  # any copy carries the feature alone; it is then re-encoded to k copies
            ok = hits > 0
        else:                     # the per-feature rule needs every unit of the feature
            ok = hits == support.sum(axis=0)
        alive &= ok
        counts[layer] = alive.sum(axis=1)
    return counts


def simulate_code_survival(code: str, width: int, depth: int, p: float, n_trials: int,
                           seed: int | Sequence[int], bits_per_unit: float = 1.0, spread: int = 2,
                           max_redundancy: int | None = None, redundancy: int | None = None) -> SurvivalEstimate:
    """Monte-Carlo capacity of a code through `depth` dropout layers, with standard errors (ours; checks Fig. 2b–c).

    Each trial draws fresh independent dropout masks at every layer and tracks which features are still recoverable
    by the per-feature rule: a monosemantic feature needs its unit; a polysemantic one all its s units; a k-fold
    repetition one any of its k copies, after which it is re-encoded to k copies for the next layer. Estimator: C_b
    × number of surviving features, averaged over trials. The end-to-end channel of the code is an erasure channel
    whose erasure pattern is independent of the message, so for uniform messages I(X; Y) = C_b · E[#surviving
    features] exactly: this average is an unbiased estimate of the mutual information per use, and its standard
    error is the sample standard deviation over the (independent) trials / sqrt(n_trials). The repetition code uses,
    at each depth, the k that our closed form picks (unless redundancy fixes k); the simulated capacity of that code
    is measured.
    """
    code, m, cb, s, k_fixed = check_code_args(code, width, bits_per_unit, spread, max_redundancy, redundancy)
    L = check_int(depth, "depth", minimum=0)
    p_val = check_float_in(p, "p", 0.0, 1.0)
    trials = check_int(n_trials, "n_trials", minimum=2)
    entropy = _check_seed(seed)
    depths = np.arange(L + 1)
    if code == "repetition":
        ks = (np.full(L + 1, k_fixed) if k_fixed is not None
              else np.asarray(best_redundancy(m, depths, p_val, max_redundancy)).reshape(L + 1))
    else:
        ks = np.ones(L + 1, dtype=np.int64)
    capacity, stderr = np.empty(L + 1), np.empty(L + 1)
    for k in np.unique(ks):  # one simulation per repetition k in use, each with its own stream (seed..., k)
        rng = np.random.default_rng([*entropy, int(k)])
        bits = cb * _survival_counts(code, m, L, p_val, trials, s, int(k), rng)
        use = ks == k
        capacity[use] = bits.mean(axis=1)[use]
        stderr[use] = (bits.std(axis=1, ddof=1) / np.sqrt(trials))[use]
    return SurvivalEstimate(code, m, p_val, cb, depths, capacity, stderr, ks.astype(np.int64), trials)


@dataclass(frozen=True)
class MonteCarloAgreement:
    """How Monte-Carlo capacities agree with the closed forms, over all simulated points (ours; checks Fig. 2b–c).

    A point is one code, dropout rate and depth. Resolved points have a non-zero standard error; the others either
    equal the closed form exactly (no dropout, or depth 0) or are unresolved (no feature survived in any trial).
    """

    mc_points: int                  # simulated points
    mc_resolved: int                # points with a non-zero standard error
    mc_within_3se: int              # resolved points within 3 standard errors of the closed form
    mc_max_abs_z: float             # largest |simulated - closed form| / standard error (0 if none is resolved)
    many_survivors: int             # surviving features over all trials from which a point counts as well measured
    mc_many: int                    # resolved points where the closed form expects at least that many
    mc_many_max_rel_pct: float      # their largest |simulated - closed form| / closed form, in percent (0 if none)
    mc_exact: int                   # unresolved points equal to the closed form
    mc_unresolved: int              # points with no surviving feature in any trial while the closed form is > 0
    mc_unresolved_expected: float   # the most survivors (over all trials) the closed form expects at those (0 if none)


def monte_carlo_agreement(estimates: Sequence[SurvivalEstimate],
                          closed_forms: Sequence[ArrayLike]) -> MonteCarloAgreement:
    """Compare each estimate with its closed-form capacity at the same depths (ours; the Monte-Carlo check of Fig. 2).

    Well measured: at least max(10, n_trials // 2) survivors expected over all trials, half a feature per trial.
    """
    estimates = check_sequence(estimates, "estimates")
    closed_forms = check_sequence(closed_forms, "closed_forms", min_len=len(estimates), max_len=len(estimates))
    trials = {est.n_trials for est in estimates}
    if len(trials) != 1:
        raise ValueError(f"estimates: must all have the same n_trials, got {sorted(trials)}")
    cf = np.concatenate([check_array(c, "closed_forms", ndim=1) for c in closed_forms])
    if cf.size != sum(est.capacity.size for est in estimates):
        raise ValueError("closed_forms: must give one capacity per depth of each estimate")
    mc = np.concatenate([est.capacity for est in estimates])
    se = np.concatenate([est.stderr for est in estimates])
    n_trials = trials.pop()
    survivors = cf / np.concatenate([np.full(est.capacity.size, est.bits_per_unit) for est in estimates]) * n_trials
    resolved = se > 0
    z = (mc[resolved] - cf[resolved]) / se[resolved]
    exact = ~resolved & (mc == cf)
    unresolved = ~resolved & ~exact
    many_survivors = max(10, n_trials // 2)
    many = resolved & (survivors >= many_survivors)
    return MonteCarloAgreement(
        mc_points=int(cf.size), mc_resolved=int(resolved.sum()), mc_within_3se=int((np.abs(z) <= 3).sum()),
        mc_max_abs_z=float(np.abs(z).max()) if z.size else 0.0, many_survivors=many_survivors,
        mc_many=int(many.sum()),
        mc_many_max_rel_pct=float(100 * np.max(np.abs(mc[many] - cf[many]) / cf[many])) if many.any() else 0.0,
        mc_exact=int(exact.sum()), mc_unresolved=int(unresolved.sum()),
        mc_unresolved_expected=float(survivors[unresolved].max()) if unresolved.any() else 0.0)


# --------------------------------------------------------------------------------------------------------------
# joint (erasure) decoding: what the per-feature curve leaves out (ours)


def recoverable_features(W: ArrayLike, kept: ArrayLike, alive: ArrayLike | None = None,
                         tol: float = 1e-8) -> np.ndarray:
    """Which features a joint linear decoder recovers from the kept neurons: erasure decoding of a code W (m, n).

    kept (..., m) marks the surviving neurons, alive (..., n) the features still encoded (default all; the others are
    known to be absent). Feature j is recoverable iff the unit vector e_j lies in the row space of the surviving
    rows of W (restricted to the alive columns), i.e. iff the projector pinv(A) A onto that row space has
    P_jj = 1; all alive features are recoverable iff the surviving columns have full rank. Batched over leading axes.
    """
    E = check_array(W, "W", ndim=2)
    if E.ndim != 2:
        raise ValueError(f"W: expected one code of shape (m, n), got {E.shape}")
    m, n = E.shape
    keep = np.asarray(kept, dtype=bool)
    if keep.shape[-1:] != (m,):
        raise ValueError(f"kept: expected shape (..., {m}), got {keep.shape}")
    live = np.ones(keep.shape[:-1] + (n,), dtype=bool) if alive is None else np.asarray(alive, dtype=bool)
    if live.shape != keep.shape[:-1] + (n,):
        raise ValueError(f"alive: expected shape {keep.shape[:-1] + (n,)}, got {live.shape}")
    A = E * keep[..., :, None] * live[..., None, :]
    proj = np.linalg.pinv(A, rcond=1e-10) @ A
    return live & (np.abs(np.diagonal(proj, axis1=-2, axis2=-1) - 1.0) < tol)


def joint_decode(W: ArrayLike, kept: ArrayLike, activations: ArrayLike) -> np.ndarray:
    """Least-squares estimate of the features from the kept neurons' activations (erasure decoding of W (m, n)).

    Exact for every feature whenever the kept rows of W have full column rank (recoverable_features).
    """
    E = check_array(W, "W", ndim=2)
    keep = np.asarray(kept, dtype=bool)
    y = check_array(activations, "activations")
    if keep.shape != (E.shape[0],) or y.shape[0] != E.shape[0]:
        raise ValueError(f"kept, activations: expected {E.shape[0]} neurons, got {keep.shape} and {y.shape}")
    return np.linalg.lstsq(E[keep], y[keep], rcond=None)[0]


def simulate_joint_decoding(W: ArrayLike, depth: int, p: float, n_trials: int, seed: int | Sequence[int],
                            bits_per_unit: float = 1.0, name: str = "joint") -> SurvivalEstimate:
    """Monte-Carlo capacity of a code W (m, n) read by a joint erasure decoder through `depth` dropout layers (ours).

    Each layer drops each of the m units w.p. p, decodes every feature it can (recoverable_features, given the
    features still alive) and re-encodes those with W for the next layer; features lost are lost for good.
    Estimator as in simulate_code_survival: C_b × surviving features, mean and standard error over trials.
    """
    E = check_array(W, "W", ndim=2)
    L = check_int(depth, "depth", minimum=0)
    p_val = check_float_in(p, "p", 0.0, 1.0)
    trials = check_int(n_trials, "n_trials", minimum=2)
    cb = check_positive_float(bits_per_unit, "bits_per_unit")
    rng = np.random.default_rng(_check_seed(seed))
    m, n = E.shape
    alive = np.ones((trials, n), dtype=bool)
    counts = np.empty((L + 1, trials))
    counts[0] = n
    for layer in range(1, L + 1):
        kept = rng.random((trials, m)) >= p_val
        todo = alive.any(axis=1) & ~kept.all(axis=1)  # nothing to decode without an erasure, or without a feature
        alive[todo] = recoverable_features(E, kept[todo], alive[todo])
        counts[layer] = alive.sum(axis=1)
    bits = cb * counts
    return SurvivalEstimate(name, m, p_val, cb, np.arange(L + 1), bits.mean(axis=1),
                            bits.std(axis=1, ddof=1) / np.sqrt(trials), np.ones(L + 1, dtype=np.int64), trials)


