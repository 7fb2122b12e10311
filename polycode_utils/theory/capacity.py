"""Capacity of neural codes under dropout, proved and simulated (the paper's Fig. 2).

Dropout erases a unit's symbol to 0 with probability p, independently per unit: for a receiver that knows which
units were dropped it is an erasure channel (capacity 1 - p per use). The paper's theorem [paper note] bounds the
capacity C of m units of C_b bits each under dropout p by

    (1-p)·m·(C_b + log2(1 - 2^-C_b))  <=  C  <=  (1-p)·m·C_b.

The depth-wise capacities of three codes through L dropout layers of width m are OUR reconstruction from the note's
scratch formulas (the book's methods page, chapter 2); the codes are chapter 1's (polycode_utils.theory.codes builds
their matrices, decoding.code_support gives the same supports):

    monosemantic   C = m·C_b·(1-p)^L                       (one feature per unit)
    polysemantic   C = (m-s+1)·C_b·(1-p)^(s·L)             (chapter 1's overlapping code, feature j on units j..j+s-1,
                                                            read by a PER-FEATURE decoder that needs all s units)
    repetition     C = max_k floor(m/k)·C_b·(1-p^k)^L      (k-fold repetition, redundant monosemantic, re-encoded
                                                            every layer)

The scratch formulas write m/k for the repetition code; we write floor(m/k), the number of features that fit when each
needs k whole units, so that the formula is the one the Monte-Carlo simulation realises (equal when k divides m).
The per-feature curve is a property of that decoder: a JOINT (erasure) decoder of the same overlapping code recovers
a set of features whenever the surviving units' columns have full rank (polycode_utils.theory.decoding simulates it),
and a wide maximum-distance-separable erasure code approaches the Shannon line (1-p)·m·C_b (erasure_code_capacity).
Capacities are in bits; p is the dropout (erasure) probability, never the keep probability.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from polycode_utils.checks import (check_array, check_bool, check_choice, check_float_in, check_int,
                                   check_positive_float, check_sequence)

CODES = ("monosemantic", "polysemantic", "repetition")
DEFAULT_MAX_BYTES = 64 * 2**20  # memory limit of dropout_channel's transition matrix: 64 MiB


# --------------------------------------------------------------------------------------------------------------
# argument checks: every public function validates (with polycode_utils.checks) before any heavy work


def _probabilities(p: ArrayLike, name: str = "p") -> NDArray[np.float64]:
    """Erasure probabilities in [0, 1] as an array (p = 1, everything dropped, is a channel too: capacity 0)."""
    arr = check_array(p, name)
    if arr.size == 0 or np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"{name}: must be dropout probabilities in [0, 1], got {p!r}")
    return arr


def _depths(depth: ArrayLike) -> NDArray[np.float64]:
    """Numbers of dropout layers L >= 0 (real: the closed forms interpolate) as an array."""
    arr = check_array(depth, "depth")
    if arr.size == 0 or np.any(arr < 0):
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


def dropout_capacity_bounds(n_units: int, bits_per_unit: float, p: ArrayLike) -> CapacityBounds:
    """The theorem's bounds (1-p)·m·(C_b + log2(1-2^-C_b)) <= C <= (1-p)·m·C_b for m units of C_b bits [paper note].

    The lower bound is the theorem's formula as written: for C_b < 1 it is negative (trivially true).
    """
    m = check_int(n_units, "n_units")
    cb = check_positive_float(bits_per_unit, "bits_per_unit")
    keep = 1.0 - _probabilities(p)
    upper = keep * m * cb
    lower = keep * m * (cb + np.log2(1.0 - 2.0 ** (-cb)))
    return CapacityBounds(_out(lower), _out(upper))


def dropout_unit_capacity(bits_per_unit: int, p: ArrayLike) -> float | NDArray[np.float64]:
    """Exact capacity in bits of one unit of 2^b symbols whose symbol is erased to 0 w.p. p (ours; checks the theorem).

    With M = 2^b, a = 1-p: C = log2(1 + (M-1)·a·p^(p/a)) while p^(-1/a) >= M-1 (the Z-channel formula for b = 1),
    and C = a·log2(M-1), the theorem's lower bound, beyond that (there the optimal input never sends 0).
    """
    b = check_int(bits_per_unit, "bits_per_unit")
    p_arr = _probabilities(p)
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
    p_val = check_float_in(p, "p", 0.0, 1.0)
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
    upper_bits: float  # max_x D(W_x || q): the capacity lies in [capacity_bits, upper_bits]


def blahut_arimoto(channel_matrix: ArrayLike, tol: float = 1e-9, max_iter: int = 10_000) -> BlahutArimotoResult:
    """Capacity in bits of a discrete memoryless channel W[x, y] = p(y|x) by Blahut–Arimoto (checks the theorem).

    Stops when max_x D(W_x || q) - I(r) < tol, which brackets the capacity: I(r) <= C <= max_x D(W_x || q).
    Returns I(r) for the returned input distribution r (a certified lower bound, within tol of C when converged)
    and the certified upper bound. Warns (RuntimeWarning) when max_iter is reached first.
    """
    W = check_array(channel_matrix, "channel_matrix", ndim=2)
    if W.shape[0] < 1 or W.shape[1] < 1:
        raise ValueError(f"channel_matrix: must be a non-empty 2-D array W[x, y] = p(y|x), got shape {W.shape}")
    if np.any(W < 0):
        raise ValueError("channel_matrix: entries must be probabilities >= 0")
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
    return BlahutArimotoResult(max(mutual, 0.0), r, float(d.max()))


def theorem_check(units: Sequence[int], bits: Sequence[int], p: Sequence[float], tol: float = 1e-9) -> pd.DataFrame:
    """The theorem checked on exact channels: Blahut–Arimoto capacity against the bounds, per size and rate (ours).

    One row per (bits, units, p), in that nesting order: columns bits, units, p, blahut_arimoto (bits),
    lower and upper (the theorem's bounds), exact (units x the exact one-unit capacity) and within (the
    Blahut–Arimoto capacity lies within the bounds, to tol). Channels of 2^(units·bits) symbols: keep them small.
    Blahut–Arimoto converges slowly where the lower bound is tight (p near 1: an input value goes unused), so it is
    run to a fixed number of iterations and its certified bracket [I(r), max_x D(W_x || q)] is judged: within when
    the bracket meets the bounds (to tol), its width in the column ba_gap.
    """
    units = [check_int(n, "units") for n in check_sequence(units, "units")]
    bits = [check_int(b, "bits") for b in check_sequence(bits, "bits")]
    rates = [check_float_in(q, "p", 0.0, 1.0) for q in check_sequence(p, "p")]
    tol = check_positive_float(tol, "tol", allow_zero=True)
    rows = []
    for b in bits:
        for n in units:
            for q in rates:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # not converged: its bracket says by how much
                    ba = blahut_arimoto(dropout_channel(n, b, q))
                bounds = dropout_capacity_bounds(n, b, q)
                rows.append(dict(bits=b, units=n, p=q, blahut_arimoto=ba.capacity_bits, lower=bounds.lower,
                                 upper=bounds.upper, exact=n * dropout_unit_capacity(b, q),
                                 ba_gap=ba.upper_bits - ba.capacity_bits))
    table = pd.DataFrame(rows)
    within = (table.lower - tol <= table.blahut_arimoto + table.ba_gap) & (table.blahut_arimoto <= table.upper + tol)
    return table.assign(within=within)


def theorem_per_unit_table(check: pd.DataFrame) -> pd.DataFrame:
    """theorem_check's capacities per unit: one row per (bits, p), Blahut–Arimoto for each number of units, bounds."""
    per_unit = check.assign(**{c: check[c] / check.units for c in ("lower", "blahut_arimoto", "upper")})
    bounds = (per_unit[per_unit.units == per_unit.units.min()].set_index(["bits", "p"])[["lower", "upper"]]
              .rename(columns={"lower": "lower bound", "upper": "upper bound"}))
    return (per_unit.pivot_table(index=["bits", "p"], columns="units", values="blahut_arimoto")
            .rename(columns=lambda n: f"BA, {n} unit(s), per unit").join(bounds))


# --------------------------------------------------------------------------------------------------------------
# the three codes through depth (our reconstruction)


def check_code_args(code: object, width: int, bits_per_unit: float, spread: int,
                     max_redundancy: int | None, redundancy: int | None) -> tuple[str, int, float, int, int | None]:
    code = str(check_choice(code, "code", CODES))
    m = check_int(width, "width")
    cb = check_positive_float(bits_per_unit, "bits_per_unit")
    s = check_int(spread, "spread", minimum=2, maximum=m if code == "polysemantic" else None)
    if code == "repetition":
        if max_redundancy is not None:
            check_int(max_redundancy, "max_redundancy", 1, m)
        if redundancy is not None:
            check_int(redundancy, "redundancy", 1, m)
    k = int(redundancy) if code == "repetition" and redundancy is not None else None
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
    """The repetition k in 1..max_redundancy (default m) maximising floor(m/k)·(1-p^k)^L (ours; repetition code)."""
    m = check_int(width, "width")
    if max_redundancy is not None:
        check_int(max_redundancy, "max_redundancy", 1, m)
    L, p_arr = _depths(depth), _probabilities(p)
    ks = _redundancies(m, max_redundancy, None)
    best = ks[np.argmax(_poly_table(m, L, p_arr, ks), axis=0)]
    return int(best) if np.ndim(best) == 0 else best


def code_capacity(code: str, width: int, depth: ArrayLike, p: ArrayLike, bits_per_unit: float, spread: int = 2,
                  max_redundancy: int | None = None, redundancy: int | None = None) -> float | NDArray[np.float64]:
    """Capacity in bits of a code of width m after L dropout layers, per our closed forms for Fig. 2b–c (ours).

    monosemantic m·C_b·(1-p)^L; polysemantic (per-feature rule) (m-s+1)·C_b·(1-p)^(s·L); repetition
    max_k floor(m/k)·C_b·(1-p^k)^L over k = 1..max_redundancy (default m), or the fixed k = redundancy. depth and p
    broadcast; depth may be real.
    """
    code, m, cb, s, k = check_code_args(code, width, bits_per_unit, spread, max_redundancy, redundancy)
    L, p_arr = _depths(depth), _probabilities(p)
    if code == "monosemantic":
        cap = m * cb * np.where(L == 0, 1.0, (1.0 - p_arr) ** L)
    elif code == "polysemantic":
        cap = (m - s + 1) * cb * np.where(L == 0, 1.0, (1.0 - p_arr) ** (s * L))
    else:
        cap = cb * _poly_table(m, L, p_arr, _redundancies(m, max_redundancy, k)).max(axis=0)
    return _out(np.asarray(cap, dtype=float))


def depth_at_capacity(code: str, width: int, p: float, target_bits: float, bits_per_unit: float, spread: int = 2,
                      max_redundancy: int | None = None) -> float:
    """The real depth L >= 0 at which a code's closed-form capacity falls to target_bits (ours; Fig. 2b–c read-outs).

    Each closed form decreases in L, so this is unique: 0 if the code starts at or below the target, inf if it never
    falls (p = 0). For the repetition code it is the largest such depth over k (capacity is the max over k).
    """
    code, m, cb, s, _ = check_code_args(code, width, bits_per_unit, spread, max_redundancy, None)
    p_val = check_float_in(p, "p", 0.0, 1.0)
    target = check_positive_float(target_bits, "target_bits")
    if code == "repetition":
        ks = _redundancies(m, max_redundancy, None)
        start, rate = (m // ks) * cb, p_val ** ks
    else:
        poly = code == "polysemantic"
        start = np.array([(m - s + 1 if poly else m) * cb])
        rate = np.array([1.0 - (1.0 - p_val) ** (s if poly else 1)])
    depths = np.zeros(start.shape)
    above = start > target
    with np.errstate(divide="ignore"):
        log_keep = np.log1p(-rate)  # log of the per-layer survival factor; -inf when p = 1
    depths[above & (log_keep == 0)] = np.inf
    finite = above & (log_keep < 0) & np.isfinite(log_keep)
    depths[finite] = np.log(target / start[finite]) / log_keep[finite]
    return float(depths.max())


class DepthReadout(NamedTuple):
    """Where one code's closed-form capacity stands through depth at one dropout rate (ours; Fig. 2b–c read-outs)."""

    half_depth: float            # depth at which it falls to half the full m·C_b bits
    half_shannon_depth: float    # depth at which it falls to half the Shannon line (1-p)·m·C_b
    pct_of_shannon: float        # percent of the Shannon line it keeps at the given depth


def depth_readouts(width: int, p: float, bits_per_unit: float, spread: int, depth: float) -> dict[str, DepthReadout]:
    """For each code, the half-capacity depths and the share of the Shannon line kept at `depth` (ours; Fig. 2b–c)."""
    full = check_int(width, "width") * check_positive_float(bits_per_unit, "bits_per_unit")
    shannon = (1 - check_float_in(p, "p", 0.0, 1.0, high_open=True)) * full
    return {code: DepthReadout(depth_at_capacity(code, width, p, full / 2, bits_per_unit, spread),
                               depth_at_capacity(code, width, p, shannon / 2, bits_per_unit, spread),
                               float(100 * code_capacity(code, width, depth, p, bits_per_unit, spread) / shannon))
            for code in CODES}


def erasure_code_capacity(width: int, depth: ArrayLike, p: float, bits_per_unit: float,
                          n_features: int | None = None) -> float | NDArray[np.float64]:
    """Capacity in bits of an MDS erasure code of m units through L layers: max_n n·C_b·P(Bin(m, 1-p) >= n)^L (ours).

    Any n of the m units recover all n features (a Reed–Solomon code over 2^C_b symbols when 2^C_b >= m; a random
    real code almost surely), decoded and re-encoded in every layer, so all n survive iff every layer keeps n units.
    As m grows this approaches the Shannon line (1-p)·m·C_b at any fixed depth. n_features fixes n.
    """
    from scipy.stats import binom  # noqa: PLC0415

    m = check_int(width, "width")
    cb = check_positive_float(bits_per_unit, "bits_per_unit")
    q = check_float_in(p, "p", 0.0, 1.0)
    L = _depths(depth)
    ns = np.arange(1, m + 1) if n_features is None else np.array([check_int(n_features, "n_features", 1, m)])
    survive = binom.sf(ns - 1, m, 1.0 - q)  # P(at least n of m units kept)
    table = ns[:, None] * cb * survive[:, None] ** L.reshape(1, -1)
    return _out(table.max(axis=0).reshape(L.shape))


# --------------------------------------------------------------------------------------------------------------
# the note's other theorems, as formulas (the book's errata page lists where they depart from the printed note)


def theorem3_lower_bounds(n_units: int, bits_per_unit: float, p: ArrayLike) -> CapacityBounds:
    """Theorem 3's two lower bounds: (proof's form, statement's form) [paper note; the book uses the proof's].

    Proof: (1-p)·m·(C_b + log2(1-2^-C_b)), additive. Statement: (1-p)·m·C_b·(1-eps) with eps = -log2(1-2^-C_b),
    multiplicative (the note writes log; base 2 read here). Equal for C_b = 1; the statement's is lower above.
    Returned as CapacityBounds(lower=statement, upper=proof), the statement's being the smaller.
    """
    m = check_int(n_units, "n_units")
    cb = check_positive_float(bits_per_unit, "bits_per_unit")
    keep = 1.0 - _probabilities(p)
    eps = -np.log2(1.0 - 2.0 ** (-cb))
    return CapacityBounds(_out(keep * m * cb * (1.0 - eps)), _out(keep * m * (cb + np.log2(1.0 - 2.0 ** (-cb)))))


class PowerLawEntropy(NamedTuple):
    """Theorem 4's entropy in bits for m units of n bits under a power-law spectrum: exact, corrected, printed."""

    exact: float     # sum_i log2(2^n sigma_i) = m n + a log2(m!)
    closed: float    # m n + a m log2(m/e) (Stirling), the corrected closed form
    printed: float   # m n - a m log2(m/e), the note's printed form (exceeds m n for a < 0: impossible)


def power_law_entropy(n_units: int, bits: float, alpha: float, variance_exponent: bool = False) -> PowerLawEntropy:
    """Bits m units of n bits can carry when unit i's scale is sigma_i = i^a, a = alpha (ours; the note's Theorem 4).

    With variance_exponent the eigenvalues (variances) follow i^alpha, so sigma_i = i^(alpha/2): a = alpha/2.
    """
    from scipy.special import gammaln  # noqa: PLC0415

    m = check_int(n_units, "n_units")
    n = check_positive_float(bits, "bits")
    a = float(alpha) / (2.0 if check_bool(variance_exponent, "variance_exponent") else 1.0)
    stirling = m * np.log2(m / np.e)
    return PowerLawEntropy(float(m * n + a * gammaln(m + 1) / np.log(2)), float(m * n + a * stirling),
                           float(m * n - a * stirling))


def power_law_spectrum(n_units: int, alpha: float) -> NDArray[np.float64]:
    """Eigenvalues lambda_i = i^alpha, i = 1..m (lambda_1 = 1), of a layer with a power-law spectrum (note §2.5)."""
    return np.arange(1, check_int(n_units, "n_units") + 1, dtype=float) ** float(alpha)


def expected_projected_action(eigenvalues: ArrayLike, n_columns: int = 3) -> float:
    """Mean action 1/2 E||R^T a||^2 of a step a ~ N(0, Sigma) under R (m x k) of N(0, 1/m) entries: (k/2m) tr Sigma.

    The note's §2.5 prints 1/2 tr Sigma, which drops the projection's factor k/m (ours; the book's correction).
    """
    lam = check_array(eigenvalues, "eigenvalues", ndim=1)
    k = check_int(n_columns, "n_columns")
    return float(k / (2 * lam.size) * lam.sum())
