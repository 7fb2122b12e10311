"""Capacity of neural codes under dropout, proved and simulated (the paper's Fig. 2).

Dropout erases a unit's symbol to 0 with probability p, independently per unit: for a receiver that knows which
units were dropped it is an erasure channel (capacity 1 - p per use). The paper's theorem [paper note] bounds the
capacity C of m units of C_b bits each under dropout p by

    (1-p)·m·(C_b + log2(1 - 2^-C_b))  <=  C  <=  (1-p)·m·C_b.

The depth-wise capacities of the three codes (monosemantic, superposition, polysemantic) through L dropout layers
are OUR reconstruction from the note's scratch formulas (METHODS.md, "Fig 2"):

    monosemantic   C = m·C_b·(1-p)^L
    superposition  C = m·C_b·(1-p)^(s·L)                 (each feature spread over s units, no redundancy)
    polysemantic   C = max_k floor(m/k)·C_b·(1-p^k)^L    (k-fold repetition, re-encoded every layer)

METHODS.md writes m/k for the polysemantic code; we write floor(m/k), the number of features that fit when each
needs k whole units, so that the formula is the one the Monte-Carlo simulation realises (equal when k divides m).
Capacities are in bits; p is the dropout (erasure) probability, never the keep probability.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from polycode_utils.checks import check_int, check_positive_float

CODES = ("monosemantic", "superposition", "polysemantic")
DEFAULT_MAX_BYTES = 64 * 2**20  # memory limit of dropout_channel's transition matrix: 64 MiB


# --------------------------------------------------------------------------------------------------------------
# argument checks: every public function validates before any heavy work


def _as_float_array(value: object, name: str, what: str) -> NDArray[np.float64]:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be {what}, got {value!r}") from None


def _check_p(p: ArrayLike, name: str = "p", scalar: bool = False) -> NDArray[np.float64]:
    what = "a dropout probability in [0, 1]" if scalar else "dropout probabilities in [0, 1]"
    arr = _as_float_array(p, name, what)
    if (scalar and arr.ndim != 0) or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0) \
            or np.any(arr > 1):
        raise ValueError(f"{name}: must be {what}, got {p!r}")
    return arr


def _check_code(code: object) -> str:
    if code not in CODES:
        raise ValueError(f"code: must be one of {', '.join(CODES)}, got {code!r}")
    return str(code)


def _check_depth(depth: ArrayLike) -> NDArray[np.float64]:
    arr = _as_float_array(depth, "depth", "a finite number of layers >= 0")
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"depth: must be a finite number of layers >= 0, got {depth!r}")
    return arr


def _out(x: NDArray) -> float | NDArray:
    return float(x) if np.ndim(x) == 0 else x


# --------------------------------------------------------------------------------------------------------------
# the theorem


class CapacityBounds(NamedTuple):
    """Lower and upper bound on the capacity in bits (the paper's dropout theorem)."""

    lower: float | NDArray[np.float64]
    upper: float | NDArray[np.float64]


def erasure_capacity(p: ArrayLike) -> float | NDArray[np.float64]:
    """Capacity 1 - p, in bits per binary use, of the erasure channel behind the theorem's upper bound."""
    return _out(1.0 - _check_p(p))


def dropout_capacity_bounds(n_units: int, bits_per_unit: float, p: ArrayLike) -> CapacityBounds:
    """The theorem's bounds (1-p)·m·(C_b + log2(1-2^-C_b)) <= C <= (1-p)·m·C_b for m units of C_b bits [paper note].

    The lower bound is the theorem's formula as written: for C_b < 1 it is negative (trivially true).
    """
    m = check_int(n_units, "n_units")
    cb = check_positive_float(bits_per_unit, "bits_per_unit")
    keep = 1.0 - _check_p(p)
    upper = keep * m * cb
    lower = keep * m * (cb + np.log2(1.0 - 2.0 ** (-cb)))
    return CapacityBounds(_out(lower), _out(upper))


def dropout_unit_capacity(bits_per_unit: int, p: ArrayLike) -> float | NDArray[np.float64]:
    """Exact capacity in bits of one unit of 2^b symbols whose symbol is erased to 0 w.p. p (ours; checks the theorem).

    With M = 2^b, a = 1-p: C = log2(1 + (M-1)·a·p^(p/a)) while p^(-1/a) >= M-1 (the Z-channel formula for b = 1),
    and C = a·log2(M-1), the theorem's lower bound, beyond that (there the optimal input never sends 0).
    """
    b = check_int(bits_per_unit, "bits_per_unit")
    p_arr = _check_p(p)
    a = 1.0 - p_arr
    big = float(2**b - 1)  # M - 1 non-zero symbols
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # log of p^(p/a) computed stably; at p = 0 it is 1, at p = 1 the capacity is 0
        log_pp = np.where((p_arr > 0) & (a > 0), p_arr * np.log(np.where(p_arr > 0, p_arr, 1.0))
                          / np.where(a > 0, a, 1.0), 0.0)
        interior = np.log2(1.0 + big * a * np.exp(log_pp))
        # p^(-1/a) >= M-1  <=>  -log(p)/a >= log(M-1)
        neg_log_p_over_a = np.where((p_arr > 0) & (a > 0), -np.log(np.where(p_arr > 0, p_arr, 1.0))
                                    / np.where(a > 0, a, 1.0), np.inf)
    saturated = a * np.log2(big) if big > 1 else np.zeros_like(a)
    cap = np.where(p_arr >= 1.0, 0.0, np.where(neg_log_p_over_a >= np.log(big), interior, saturated))
    return _out(cap)


def lower_bound_tight_above(bits_per_unit: int) -> float:
    """The dropout rate p* above which one unit's exact capacity equals the theorem's lower bound (ours; 1.0 if never).

    It solves p^(-1/(1-p)) = 2^b - 1; since the left side falls from infinity to e as p goes 0 -> 1, the lower bound
    is attained for b >= 2 bits (2^b - 1 > e) and never for b = 1.
    """
    b = check_int(bits_per_unit, "bits_per_unit")
    target = np.log(2.0**b - 1.0)
    if target <= 1.0:
        return 1.0
    from scipy.optimize import brentq  # noqa: PLC0415

    return float(brentq(lambda q: -np.log(q) / (1.0 - q) - target, 1e-300, 1.0 - 1e-12, xtol=1e-14, rtol=1e-14))


def dropout_channel(n_units: int, bits_per_unit: int, p: float,
                    max_bytes: int = DEFAULT_MAX_BYTES) -> NDArray[np.float64]:
    """Exact transition matrix W[x, y] = P(y|x) of n units of b bits, each erased to 0 w.p. p (the theorem's channel).

    Inputs and outputs index the n-tuple of unit symbols in C order (unit 0 most significant). A dropped unit reads
    0, the same as a unit that sent 0: this ambiguity is why the theorem's lower bound loses log2(1-2^-C_b) per unit.
    Refuses (ValueError) when the (2^(n·b))^2 float64 matrix would exceed max_bytes (default 64 MiB).
    """
    n = check_int(n_units, "n_units")
    b = check_int(bits_per_unit, "bits_per_unit")
    p_val = float(_check_p(p, scalar=True))
    limit = check_int(max_bytes, "max_bytes")
    size = 2 ** (n * b)
    need = size * size * 8
    if need > limit:
        raise ValueError(f"dropout_channel: {n} units x {b} bits give a {size} x {size} matrix of {need / 2**20:.1f} "
                         f"MiB, over the limit max_bytes = {limit / 2**20:.1f} MiB; use n_units * bits_per_unit <= "
                         f"{int(np.log2(limit / 8) // 2)} or raise max_bytes")
    m = 2**b
    unit = np.eye(m) * (1.0 - p_val)
    unit[:, 0] += p_val
    unit[0, 0] = 1.0
    out = unit
    for _ in range(n - 1):
        out = np.kron(out, unit)
    return out


class BlahutArimotoResult(NamedTuple):
    """Channel capacity in bits and a capacity-achieving input distribution (Blahut 1972, Arimoto 1972)."""

    capacity_bits: float
    input_distribution: NDArray[np.float64]


def blahut_arimoto(channel_matrix: ArrayLike, tol: float = 1e-9, max_iter: int = 10_000) -> BlahutArimotoResult:
    """Capacity in bits of a discrete memoryless channel W[x, y] = p(y|x) by Blahut–Arimoto (checks the theorem).

    Stops when max_x D(W_x || q) - I(r) < tol, which brackets the capacity: I(r) <= C <= max_x D(W_x || q).
    Returns I(r) for the returned input distribution r (a certified lower bound within tol of C). Warns
    (RuntimeWarning) when max_iter is reached first.
    """
    W = _as_float_array(channel_matrix, "channel_matrix", "a 2-D array of probabilities W[x, y] = p(y|x)")
    if W.ndim != 2 or W.shape[0] < 1 or W.shape[1] < 1:
        raise ValueError(f"channel_matrix: must be a non-empty 2-D array W[x, y] = p(y|x), got shape {W.shape}")
    if not np.all(np.isfinite(W)) or np.any(W < 0):
        raise ValueError("channel_matrix: entries must be finite probabilities >= 0")
    sums = W.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0.0, atol=1e-9):
        bad = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"channel_matrix: each row x must sum to 1 (W[x, y] = p(y|x)); row {bad} sums to "
                         f"{sums[bad]!r}")
    tol = check_positive_float(tol, "tol")
    max_iter = check_int(max_iter, "max_iter")
    support = W > 0
    log_w = np.log2(np.where(support, W, 1.0))
    r = np.full(W.shape[0], 1.0 / W.shape[0])
    for _ in range(max_iter):
        q = r @ W
        log_q = np.log2(np.where(q > 0, q, 1.0))
        d = np.where(support, W * (log_w - log_q), 0.0).sum(axis=1)  # D(W_x || q) in bits
        mutual = float(r @ d)
        gap = float(d.max()) - mutual
        if gap < tol:
            break
        r = r * np.exp2(d - d.max())
        r /= r.sum()
    else:
        warnings.warn(f"blahut_arimoto: not converged after {max_iter} iterations (gap {gap:.3g} bits > tol "
                      f"{tol:g})", RuntimeWarning, stacklevel=2)
    return BlahutArimotoResult(max(mutual, 0.0), r)


# --------------------------------------------------------------------------------------------------------------
# the three codes through depth (our reconstruction)


def _check_code_args(code: object, width: int, bits_per_unit: float, spread: int,
                     max_redundancy: int | None, redundancy: int | None) -> tuple[str, int, float, int, int | None]:
    code = _check_code(code)
    m = check_int(width, "width")
    cb = check_positive_float(bits_per_unit, "bits_per_unit")
    s = check_int(spread, "spread", minimum=2, maximum=m if code == "superposition" else None)
    if code == "polysemantic":
        if max_redundancy is not None:
            check_int(max_redundancy, "max_redundancy", 1, m)
        if redundancy is not None:
            check_int(redundancy, "redundancy", 1, m)
    k = int(redundancy) if code == "polysemantic" and redundancy is not None else None
    return code, m, cb, s, k


def _redundancies(width: int, max_redundancy: int | None, redundancy: int | None) -> NDArray[np.int64]:
    if redundancy is not None:
        return np.array([int(redundancy)])
    return np.arange(1, (width if max_redundancy is None else int(max_redundancy)) + 1)


def _poly_table(width: int, depth: NDArray, p: NDArray, ks: NDArray[np.int64]) -> NDArray[np.float64]:
    """floor(m/k)·(1-p^k)^L for every k, stacked on a leading axis (capacity in units of C_b)."""
    ks_b = ks.reshape((-1,) + (1,) * np.broadcast(depth, p).ndim)
    with np.errstate(divide="ignore"):
        survive = np.where(depth == 0, 1.0, (1.0 - p ** ks_b) ** depth)
    return (width // ks_b) * survive


def best_redundancy(width: int, depth: ArrayLike, p: ArrayLike,
                    max_redundancy: int | None = None) -> int | NDArray[np.int64]:
    """The repetition k in 1..max_redundancy (default m) maximising floor(m/k)·(1-p^k)^L (ours; polysemantic code)."""
    m = check_int(width, "width")
    if max_redundancy is not None:
        check_int(max_redundancy, "max_redundancy", 1, m)
    L, p_arr = _check_depth(depth), _check_p(p)
    ks = _redundancies(m, max_redundancy, None)
    best = ks[np.argmax(_poly_table(m, L, p_arr, ks), axis=0)]
    return int(best) if np.ndim(best) == 0 else best


def code_capacity(code: str, width: int, depth: ArrayLike, p: ArrayLike, bits_per_unit: float, spread: int = 2,
                  max_redundancy: int | None = None, redundancy: int | None = None) -> float | NDArray[np.float64]:
    """Capacity in bits of a code of width m after L dropout layers, per our closed forms for Fig. 2b–c (ours).

    monosemantic m·C_b·(1-p)^L; superposition m·C_b·(1-p)^(s·L); polysemantic max_k floor(m/k)·C_b·(1-p^k)^L over
    k = 1..max_redundancy (default m), or the fixed k = redundancy. depth and p broadcast; depth may be real.
    """
    code, m, cb, s, k = _check_code_args(code, width, bits_per_unit, spread, max_redundancy, redundancy)
    L, p_arr = _check_depth(depth), _check_p(p)
    if code == "monosemantic":
        cap = m * cb * np.where(L == 0, 1.0, (1.0 - p_arr) ** L)
    elif code == "superposition":
        cap = m * cb * np.where(L == 0, 1.0, (1.0 - p_arr) ** (s * L))
    else:
        cap = cb * _poly_table(m, L, p_arr, _redundancies(m, max_redundancy, k)).max(axis=0)
    return _out(np.asarray(cap, dtype=float))


def depth_at_capacity(code: str, width: int, p: float, target_bits: float, bits_per_unit: float, spread: int = 2,
                      max_redundancy: int | None = None) -> float:
    """The real depth L >= 0 at which a code's closed-form capacity falls to target_bits (ours; Fig. 2b–c read-outs).

    Each closed form decreases in L, so this is unique: 0 if the code starts at or below the target, inf if it never
    falls (p = 0). For the polysemantic code it is the largest such depth over k (capacity is the max over k).
    """
    code, m, cb, s, _ = _check_code_args(code, width, bits_per_unit, spread, max_redundancy, None)
    p_val = float(_check_p(p, scalar=True))
    target = check_positive_float(target_bits, "target_bits")
    if code == "polysemantic":
        ks = _redundancies(m, max_redundancy, None)
        start, rate = (m // ks) * cb, p_val ** ks
    else:
        start = np.array([m * cb])
        rate = np.array([1.0 - (1.0 - p_val) ** (s if code == "superposition" else 1)])
    depths = np.zeros(start.shape)
    above = start > target
    with np.errstate(divide="ignore"):
        log_keep = np.log1p(-rate)  # log of the per-layer survival factor; -inf when p = 1
    depths[above & (log_keep == 0)] = np.inf
    finite = above & (log_keep < 0) & np.isfinite(log_keep)
    depths[finite] = np.log(target / start[finite]) / log_keep[finite]
    return float(depths.max())


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
    redundancy: NDArray[np.int64]    # repetition k used at each depth (1 for mono- and superposition)
    n_trials: int


def _check_seed(seed: int | Sequence[int]) -> list[int]:
    items = [seed] if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else seed
    try:
        ok = len(items) > 0 and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) and i >= 0
                                    for i in items)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"seed: must be an integer >= 0 or a non-empty sequence of them, got {seed!r}")
    return [int(i) for i in items]


def _survival_counts(code: str, width: int, depth: int, p: float, n_trials: int, spread: int, k: int,
                     rng: np.random.Generator) -> NDArray[np.int64]:
    """Number of features alive after 0..depth layers, per trial: shape (depth + 1, n_trials)."""
    n_features = width // k if code == "polysemantic" else width
    alive = np.ones((n_trials, n_features), dtype=bool)
    counts = np.empty((depth + 1, n_trials), dtype=np.int64)
    counts[0] = n_features
    for layer in range(1, depth + 1):
        kept = rng.random((n_trials, width)) >= p  # this layer's dropout mask: a unit is dropped w.p. p
        if code == "monosemantic":  # feature i lives on unit i
            ok = kept
        elif code == "superposition":  # feature i spread over units i, i+1, ..., i+s-1 (mod m); needs all of them
            ok = kept.copy()
            for j in range(1, spread):
                ok &= np.roll(kept, -j, axis=1)
        else:  # k copies of feature j on units j·k .. j·k+k-1: it survives if any copy does, then is re-encoded
            ok = kept[:, : n_features * k].reshape(n_trials, n_features, k).any(axis=2)
        alive &= ok
        counts[layer] = alive.sum(axis=1)
    return counts


def simulate_code_survival(code: str, width: int, depth: int, p: float, n_trials: int,
                           seed: int | Sequence[int], bits_per_unit: float = 1.0, spread: int = 2,
                           max_redundancy: int | None = None, redundancy: int | None = None) -> SurvivalEstimate:
    """Monte-Carlo capacity of a code through `depth` dropout layers, with standard errors (ours; checks Fig. 2b–c).

    Each trial draws fresh independent dropout masks at every layer and tracks which features are still
    recoverable: a monosemantic feature needs its unit; a superposed one all its s units; a k-fold polysemantic one
    any of its k copies, after which it is re-encoded to k copies for the next layer. Estimator: C_b × number of
    surviving features, averaged over trials. The end-to-end channel of the code is an erasure channel whose erasure
    pattern is independent of the message, so for uniform messages I(X; Y) = C_b · E[#surviving features] exactly:
    this average is an unbiased estimate of the mutual information per use, and its standard error is the sample
    standard deviation over the (independent) trials / sqrt(n_trials). The polysemantic code uses, at each depth,
    the k that our closed form picks (unless redundancy fixes k); the simulated capacity of that code is measured.
    """
    code, m, cb, s, k_fixed = _check_code_args(code, width, bits_per_unit, spread, max_redundancy, redundancy)
    L = check_int(depth, "depth", minimum=0)
    p_val = float(_check_p(p, scalar=True))
    trials = check_int(n_trials, "n_trials", minimum=2)
    entropy = _check_seed(seed)
    depths = np.arange(L + 1)
    if code == "polysemantic":
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
