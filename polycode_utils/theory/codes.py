"""Codes of a layer (Fig. 1): the three schematic codes of Fig. 1b and the optimal encoding of Fig. 1c.

A code here is an encoding matrix ``E`` of shape (m, n): column ``j`` is the pattern of activity that feature
``j`` writes onto the m neurons (the same layout as the toy model's ``W``, hidden x features; Elhage et al. 2022).
Its dimensions per feature ``m / ||E||_F^2`` is 1 for the monosemantic code, above 1 for a redundant
(polysemantic) code and below 1 for superposition (the quantity ``D*`` of Fig. 1c); the same measures apply to the
toy models' learnt ``W`` (``polycode_utils.theory.toy_models``), one instance or a stack of them.

The optimal encoding (the paper's supplementary note): a feature is zero with probability S, otherwise it carries
H_elem bits, so its entropy is h_b(S) + (1 - S) H_elem; a neuron carries H_elem bits; hence
``D_opt(S) = (1 - S) + h_b(S) / H_elem``. H_elem is not given in the sources: ``bits_per_value``, default 32 [ours].
All functions accept numpy arrays, torch tensors or Python scalars and return numpy values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from polycode_utils.checks import check_array, check_choice, check_int, check_positive_float

ArrayLike = Any  # a numpy array, a torch tensor, a list or a Python scalar


def binary_entropy(p: ArrayLike) -> np.ndarray:
    """Binary entropy h_b(p) = -p log2 p - (1-p) log2 (1-p) in bits, with h_b(0) = h_b(1) = 0 (paper note, Fig. 1c)."""
    arr = check_array(p, "p")
    if np.any((arr < 0.0) | (arr > 1.0)):
        raise ValueError(f"p: must lie in [0, 1], got values in [{arr.min():g}, {arr.max():g}]")
    q = 1.0 - arr
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(arr > 0, arr * np.log2(np.where(arr > 0, arr, 1.0)), 0.0) \
            - np.where(q > 0, q * np.log2(np.where(q > 0, q, 1.0)), 0.0)
    return h + 0.0  # no negative zeros


def optimal_dims_per_feature(sparsity: ArrayLike, bits_per_value: float = 32.0) -> np.ndarray:
    """Optimal-encoding dimensions per feature D_opt(S) = (1-S) + h_b(S)/H_elem (paper note; green curve of Fig. 1c)."""
    bits = check_positive_float(bits_per_value, "bits_per_value")
    s = check_array(sparsity, "sparsity")
    if np.any((s < 0.0) | (s >= 1.0)):
        raise ValueError(f"sparsity: must lie in [0, 1), got values in [{s.min():g}, {s.max():g}]")
    return (1.0 - s) + binary_entropy(s) / bits


def _code_matrix(W: ArrayLike) -> np.ndarray:
    """W as a float64 array of shape (..., m, n), neurons x features, or ValueError."""
    arr = check_array(W, "W")
    if arr.ndim < 2:
        raise ValueError(f"W: expected shape (..., m, n) (neurons x features), got {arr.shape}")
    return arr


def dimensions_per_feature(W: ArrayLike) -> np.ndarray:
    """Dimensions per feature D* = m / ||W||_F^2 of a code or of each instance of W (..., m, n) (Elhage 2022; Fig. 1c).

    1 for the monosemantic code, above 1 for a redundant code, below 1 for superposition; inf where W = 0.
    """
    arr = _code_matrix(W)
    with np.errstate(divide="ignore"):
        return arr.shape[-2] / np.square(arr).sum(axis=(-2, -1))


def feature_dimensionality(W: ArrayLike) -> np.ndarray:
    """Per-feature dimensionality D_i = ||W_i||^2 / sum_j (W^_i . W_j)^2 of W (..., m, n); 0 if W_i = 0 (Fig. 1c).

    The share of a dimension feature i has to itself (Elhage et al. 2022): 1 alone, 1/2 in an antipodal pair,
    2/3 in a triangle.
    """
    arr = _code_matrix(W)
    gram = np.swapaxes(arr, -1, -2) @ arr                # (..., n, n): W_i . W_j
    norms2 = np.diagonal(gram, axis1=-2, axis2=-1)       # ||W_i||^2
    learnt = norms2 > 1e-12 * norms2.max(axis=-1, keepdims=True)  # exactly-zero columns are not features
    # sum_j (W^_i . W_j)^2 = sum_j (W_i . W_j)^2 / ||W_i||^2, so D_i = ||W_i||^4 / sum_j (W_i . W_j)^2.
    denom = np.square(gram).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(learnt, np.square(norms2) / np.where(learnt, denom, 1.0), 0.0)


def neurons_per_feature(W: ArrayLike, threshold: float = 0.0) -> np.ndarray:
    """Number of neurons each feature writes onto: entries of each column of W (..., m, n) with |W_ji| above
    threshold (0: the non-zero ones; Fig. 1b's k), its redundancy."""
    thr = check_positive_float(threshold, "threshold", allow_zero=True)
    return (np.abs(_code_matrix(W)) > thr).sum(axis=-2)


def participation_ratio(W: ArrayLike, axis: int) -> np.ndarray:
    """Threshold-free count (sum_j w_j^2)^2 / sum_j w_j^4 of the entries of W (..., m, n) along axis: -2, the
    neurons each feature is spread over; -1, the features each neuron is spread over (k for k equal entries; 0
    where all are 0) [ours, a cross-check of neurons_per_feature and features_per_neuron]."""
    arr = _code_matrix(W)
    check_choice(axis, "axis", (-2, -1))
    s2, s4 = np.square(arr).sum(axis=axis), np.power(arr, 4).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s4 > 0, np.square(s2) / np.where(s4 > 0, s4, 1.0), 0.0)


def monosemantic_code(n_features: int, n_neurons: int | None = None) -> np.ndarray:
    """Monosemantic code of Fig. 1b (left): feature j drives neuron j alone, one neuron per feature, no overlap.

    Shape (n_neurons, n_features), n_neurons >= n_features (default equal); entries 0 or 1. Invariants: every
    column has exactly one non-zero entry, every row at most one (no neuron is shared), so D* = 1 when m = n.
    """
    n = check_int(n_features, "n_features", 1)
    m = n if n_neurons is None else check_int(n_neurons, "n_neurons", n)
    code = np.zeros((m, n))
    code[np.arange(n), np.arange(n)] = 1.0
    return code


def polysemantic_code(n_features: int, redundancy: int = 2) -> np.ndarray:
    """Polysemantic code of Fig. 1b (middle): feature j drives neurons j..j+k-1, so neighbouring features overlap.

    Shape (n_features + k - 1, n_features) with k = redundancy >= 2; entries 0 or 1/sqrt(k) (unit-norm columns).
    Invariants: every feature is written redundantly onto exactly k neurons; some neurons answer to several
    features (overlap, up to k each); the code stays one-to-one (full column rank n: every feature can be decoded
    linearly); m >= n, so D* = (n + k - 1) / n > 1 measures the redundancy.
    """
    n = check_int(n_features, "n_features", 2)
    k = check_int(redundancy, "redundancy", 2)
    code = np.zeros((n + k - 1, n))
    for j in range(n):
        code[j:j + k, j] = 1.0 / math.sqrt(k)
    return code


def superposition_code(n_features: int, n_neurons: int) -> np.ndarray:
    """Superposition code of Fig. 1b (right): n > m features as unit directions spread evenly over all m neurons.

    A harmonic frame: rows are cos/sin of the first m//2 Fourier frequencies over the features (plus a constant row
    when m is odd), scaled to unit-norm columns; for m = 2 the features sit on a regular n-gon (n = 3: the 120 degree
    triangle). Invariants: m < n (one-to-many: neurons must be shared), unit-norm, pairwise distinct columns, a tight
    frame E E^T = (n/m) I (every neuron carries the same load), hence D* = m / n < 1.
    """
    n = check_int(n_features, "n_features", 3)
    m = check_int(n_neurons, "n_neurons", 2)
    if m >= n:
        raise ValueError(f"n_neurons: must be in [2, n_features - 1] = [2, {n - 1}] for superposition, got {m}")
    j = np.arange(n)
    rows = []
    for freq in range(1, m // 2 + 1):
        angle = 2.0 * math.pi * freq * j / n
        rows += [math.sqrt(2.0 / m) * np.cos(angle), math.sqrt(2.0 / m) * np.sin(angle)]
    if m % 2:
        rows.append(np.full(n, 1.0 / math.sqrt(m)))
    return np.stack(rows)


def repetition_code(n_features: int, copies: int = 2) -> np.ndarray:
    """k-fold repetition code (redundant monosemantic): feature j written k times on its own units j·k .. j·k+k-1.

    Shape (n_features·k, n_features); entries 0 or 1/sqrt(k) (unit-norm columns). Invariants: every feature drives
    exactly k neurons and every neuron answers to exactly one feature (no overlap: redundancy without
    polysemanticity), so D* = k.
    """
    n = check_int(n_features, "n_features", 1)
    k = check_int(copies, "copies", 1)
    code = np.zeros((n * k, n))
    for j in range(n):
        code[j * k:(j + 1) * k, j] = 1.0 / math.sqrt(k)
    return code


def features_per_neuron(W: ArrayLike, threshold: float = 0.0) -> np.ndarray:
    """Number of features each neuron answers to: entries of each row of W (..., m, n) with |W_ji| above threshold
    (0: the non-zero ones), its overlap.

    At most 1 everywhere for a monosemantic or a repetition code; above 1 somewhere for a polysemantic or a
    superposition code (Fig. 1b).
    """
    thr = check_positive_float(threshold, "threshold", allow_zero=True)
    return (np.abs(_code_matrix(W)) > thr).sum(axis=-1)


def sparse_feature_entropy(sparsity: ArrayLike, bits_per_value: float, n_features: int = 1) -> np.ndarray:
    """Entropy in bits of n i.i.d. S-sparse features: n [h_b(S) + (1-S) H_elem] (the note's Lemma 2)."""
    n = check_int(n_features, "n_features", 1)
    bits = check_positive_float(bits_per_value, "bits_per_value")
    s = check_array(sparsity, "sparsity")
    return n * (binary_entropy(s) + (1.0 - s) * bits)


def quantised_sparse_samples(n_samples: int, sparsity: float, bits_per_value: int, seed: int) -> np.ndarray:
    """Samples of one S-sparse feature: 0 w.p. S, else one of 2^H_elem levels of (0, 1], uniformly (Lemma 2)."""
    size = check_int(n_samples, "n_samples", 1)
    bits = check_int(bits_per_value, "bits_per_value", 1, 24)
    s = float(sparsity)
    if not 0.0 <= s < 1.0:
        raise ValueError(f"sparsity: must lie in [0, 1), got {sparsity!r}")
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    levels = (rng.integers(0, 2**bits, size) + 1) / 2**bits
    return np.where(rng.random(size) < s, 0.0, levels)


def plugin_entropy(samples: ArrayLike) -> float:
    """Plug-in (empirical) entropy in bits of discrete samples: -sum f log2 f over the observed frequencies f."""
    arr = check_array(samples, "samples").ravel()
    if arr.size == 0:
        raise ValueError("samples: must not be empty")
    _, counts = np.unique(arr, return_counts=True)
    f = counts / arr.size
    return float(-(f * np.log2(f)).sum())


def code_spectrum(W: ArrayLike, sparsity: float, n_samples: int, seed: int) -> np.ndarray:
    """Eigenvalues (descending) of the activation covariance of a code W (m, n) driven by sparse features (Fig. 3a).

    Features are 0 w.p. S, else U[0, 1], independently; activations a = W x. Known answer: the covariance is
    v W W^T with v = (1-S)/3 - ((1-S)/2)^2 the variance of one feature, so a code with orthonormal columns has n
    equal eigenvalues v and m - n zeros: flat for the monosemantic code, a plateau of n = m/k and a cliff for a
    k-fold repetition code.
    """
    E = _code_matrix(W)
    size = check_int(n_samples, "n_samples", 2)
    s = float(sparsity)
    if not 0.0 <= s < 1.0:
        raise ValueError(f"sparsity: must lie in [0, 1), got {sparsity!r}")
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    x = np.where(rng.random((size, E.shape[1])) < s, 0.0, rng.random((size, E.shape[1])))
    eig = np.linalg.eigvalsh(np.cov(x @ E.T, rowvar=False).reshape(E.shape[0], E.shape[0]))
    return np.clip(eig[::-1], 0.0, None)


def density_at_optimal_dims(target: float, bits_per_value: float = 32.0) -> float:
    """1/(1-S) at which D_opt(S) falls to `target` for S >= 1/2, e.g. to a model's floor m/n (ours; Fig. 1c).

    D_opt decreases from D_opt(1/2) towards 0 as S -> 1, so the crossing is unique; inf if target <= 0 is asked,
    1/(1 - 1/2) = 2 if target >= D_opt(1/2).
    """
    goal = float(target)
    if not np.isfinite(goal):
        raise ValueError(f"target: must be a finite number, got {target!r}")
    bits = check_positive_float(bits_per_value, "bits_per_value")
    if goal <= 0.0:
        return math.inf
    if goal >= float(optimal_dims_per_feature(0.5, bits)):
        return 2.0
    from scipy.optimize import brentq  # noqa: PLC0415

    s = brentq(lambda q: float(optimal_dims_per_feature(q, bits)) - goal, 0.5, 1.0 - 1e-15, xtol=1e-15)
    return 1.0 / (1.0 - s)


def _sparsity_and_d_star(sparsity: ArrayLike, d_star: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Sparsities and trained D*, checked: two 1-d arrays of one equal length >= 1."""
    s, d = check_array(sparsity, "sparsity", ndim=1), check_array(d_star, "d_star", ndim=1)
    if s.shape != d.shape or s.size == 0:
        raise ValueError(f"sparsity, d_star: expected two arrays of one equal length >= 1, got {s.shape} and {d.shape}")
    return s, d


def entropy_at_flip(sparsity: ArrayLike, d_star: ArrayLike) -> float:
    """The smallest element entropy H_elem (bits) at which D* >= D_opt(S) = (1-S) + h_b(S)/H_elem holds at every
    sparsity: max over S of h_b(S) / (D* - (1 - S)); inf when D* <= 1 - S somewhere (no H_elem makes it hold)
    (ours; Fig. 1c: the verdict on D* >= D_opt rests on H_elem, which the sources leave open)."""
    s, d = _sparsity_and_d_star(sparsity, d_star)
    h, margin = binary_entropy(s), d - (1.0 - s)
    if np.any(margin < 0.0) or np.any((margin == 0.0) & (h > 0.0)):
        return math.inf
    return float(np.max(np.where(h > 0.0, h / np.where(margin > 0.0, margin, 1.0), 0.0)))


def optimum_by_entropy(sparsity: ArrayLike, d_star: ArrayLike, floor: float, entropies: ArrayLike,
                       tolerance: float = 1e-3) -> pd.DataFrame:
    """Fig. 1c's test D* >= D_opt at each element entropy H_elem (bits), one row each: the sparsities where it is
    forced (D_opt <= floor, the m/n below which a model that represents every feature cannot go), those tested
    (the rest) and of these the ones where D* >= D_opt - tolerance holds (ours)."""
    s, d = _sparsity_and_d_star(sparsity, d_star)
    base = check_positive_float(floor, "floor", allow_zero=True)
    tol = check_positive_float(tolerance, "tolerance", allow_zero=True)
    rows = []
    for bits in check_array(entropies, "entropies", ndim=1):
        opt = optimal_dims_per_feature(s, float(bits))
        forced = opt <= base
        rows.append({"H_elem (bits)": float(bits), "forced": int(forced.sum()), "tested": int((~forced).sum()),
                     "D* >= D_opt": int(((d >= opt - tol) & ~forced).sum())})
    return pd.DataFrame(rows)
