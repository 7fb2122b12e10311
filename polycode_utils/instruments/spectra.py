"""Eigenspectra of activation covariances and their power-law exponent alpha (Fig. 3, Fig. 5).

Instruments only: these functions know no network. Conventions (book/methods.md): alpha is the *signed* slope of
log10 lambda_n against log10 n, so alpha < 0 and the critical line is alpha = -1; principal components are
counted from 1. Eigenvalues are returned as numpy float64 arrays in descending order.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
from scipy.stats import t as student_t
from sklearn.linear_model import HuberRegressor
from threadpoolctl import threadpool_limits

from polycode_utils.checks import check_choice, check_float_in, check_int

ArrayLike = np.ndarray | torch.Tensor
FIT_METHODS = ("huber", "ols", "wls")


def _to_tensor(x: ArrayLike, name: str = "X") -> torch.Tensor:
    t = x.detach() if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    if t.is_complex():  # the imaginary part would be dropped silently by the float64 conversion
        raise ValueError(f"{name}: complex values are not supported; pass real activations")
    return t


def _check_no_overflow(t: torch.Tensor, name: str) -> torch.Tensor:
    """t itself, or a ValueError when a product of finite inputs overflowed float64 to inf or NaN."""
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: the covariance overflows float64 (entries too large); rescale the data")
    return t


def _as_samples(X: ArrayLike | Sequence[ArrayLike], name: str, min_samples: int = 2) -> torch.Tensor:
    """Validate a samples-by-dims matrix (or a list of row chunks) and return it as a float64 CPU tensor."""
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{name}: expected at least one chunk of samples, got an empty sequence")
        chunks = [_to_tensor(c, name) for c in X]
        if any(c.ndim != 2 for c in chunks) or len({c.shape[1] for c in chunks}) != 1:
            raise ValueError(f"{name}: chunks must all be 2-D (samples x dims) with the same number of dims, "
                             f"got shapes {[tuple(c.shape) for c in chunks]}")
        X = torch.cat([c.cpu().double() for c in chunks], dim=0)
    t = _to_tensor(X, name).cpu().double()
    if t.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (samples x dims) array, got shape {tuple(t.shape)}")
    if t.shape[0] < min_samples:
        raise ValueError(f"{name}: needs at least {min_samples} samples (rows), got {t.shape[0]}")
    if t.shape[1] < 1:
        raise ValueError(f"{name}: needs at least 1 dimension (column), got 0")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: contains NaN or inf; all entries must be finite")
    return t


class CovarianceAccumulator:
    """Streaming covariance of layer activations in float64, memory O(dim^2), for the eigenspectra of Fig. 3."""

    # Stores n, sum(x - shift) and sum((x - shift)(x - shift)^T), shift = the first batch's mean: a fixed
    # reference point that avoids cancellation when the mean is large. merge() re-bases the other's sums exactly.

    # product_dtype=torch.float32 computes each chunk's products x^T x in float32 (the CPU's GEMM runs about twice
    # as fast, a GPU's far faster) and adds them into the float64 sums: the rounding stays within one chunk of
    # chunk_rows rows, and the centring, the column sums and every merge stay in float64 (chapter 7's measurement).

    def __init__(self, dim: int, dtype: torch.dtype = torch.float64, device: str | torch.device | None = None,
                 product_dtype: torch.dtype | None = None, chunk_rows: int = 4096):
        check_int(dim, "dim")
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ValueError(f"dtype: must be a floating torch dtype (default torch.float64), got {dtype!r}")
        product_dtype = dtype if product_dtype is None else product_dtype
        if not (isinstance(product_dtype, torch.dtype) and product_dtype.is_floating_point):
            raise ValueError(f"product_dtype: must be a floating torch dtype (torch.float32 or the accumulator's "
                             f"dtype), got {product_dtype!r}")
        self.chunk_rows = check_int(chunk_rows, "chunk_rows")
        self.dim = int(dim)
        self.dtype = dtype
        self.product_dtype = product_dtype
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.n = 0
        self._shift = torch.zeros(self.dim, dtype=dtype, device=self.device)
        self._sum = torch.zeros(self.dim, dtype=dtype, device=self.device)
        self._outer = torch.zeros(self.dim, self.dim, dtype=dtype, device=self.device)

    def update(self, batch: ArrayLike) -> CovarianceAccumulator:
        """Add a batch of samples (n x dim, numpy or torch) to the running sums; returns self."""
        t = _to_tensor(batch, "batch")
        if t.ndim != 2 or t.shape[1] != self.dim:
            raise ValueError(f"batch: expected shape (n, {self.dim}), got {tuple(t.shape)}")
        if t.shape[0] == 0:
            return self
        x = t.to(device=self.device)
        shift = x.to(self.dtype).mean(dim=0) if self.n == 0 else self._shift
        xc = x.to(self.product_dtype, copy=True).sub_(shift.to(self.product_dtype))
        col_sums = xc.sum(dim=0, dtype=self.dtype)
        if not bool(torch.isfinite(col_sums).all()):  # a NaN or inf anywhere reaches its column's sum
            raise ValueError("batch: contains NaN or inf (or overflows float64); all entries must be finite")
        if self.product_dtype == self.dtype:
            outer = self._outer.addmm(xc.T, xc)
        else:  # each chunk's products in product_dtype, summed into dtype (type promotion: no float32 copy)
            outer = self._outer
            for chunk in xc.split(self.chunk_rows):
                outer = outer + chunk.T @ chunk
        outer = _check_no_overflow(outer, "batch")  # huge finite entries overflow here
        self._shift = shift
        self._sum += col_sums
        self._outer = outer
        self.n += int(t.shape[0])
        return self

    def merge(self, other: CovarianceAccumulator) -> CovarianceAccumulator:
        """Add another accumulator's samples (e.g. a shard from another process) exactly; returns self."""
        if not isinstance(other, CovarianceAccumulator) or other.dim != self.dim:
            raise ValueError(f"other: must be a CovarianceAccumulator with dim={self.dim}")
        if other.n == 0:
            return self
        s_o = other._sum.to(device=self.device, dtype=self.dtype)
        q_o = other._outer.to(device=self.device, dtype=self.dtype)
        if self.n == 0:
            self._shift = other._shift.to(device=self.device, dtype=self.dtype).clone()
            self._sum, self._outer, self.n = s_o.clone(), q_o.clone(), other.n
            return self
        delta = other._shift.to(device=self.device, dtype=self.dtype) - self._shift  # re-base onto our shift
        self._sum += s_o + other.n * delta
        self._outer += q_o + torch.outer(s_o, delta) + torch.outer(delta, s_o) + other.n * torch.outer(delta, delta)
        self.n += other.n
        return self

    def all_reduce(self) -> CovarianceAccumulator:
        """Sum this accumulator across the default torch.distributed process group, in place (no-op without one)."""
        # Every rank re-bases its sums onto a common shift (the sample-weighted mean of the ranks' shifts), then the
        # sums are added: the result equals one accumulator fed every rank's rows (chapter 7's torchrun tool).
        import torch.distributed as dist  # noqa: PLC0415

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return self
        n = torch.tensor([float(self.n)], dtype=torch.float64, device=self._sum.device)
        dist.all_reduce(n)
        total = int(round(n.item()))
        if total == 0:
            return self
        shift = self._shift * self.n
        dist.all_reduce(shift)
        shift /= total
        delta = self._shift - shift
        s = self._sum + self.n * delta
        q = (self._outer + torch.outer(self._sum, delta) + torch.outer(delta, self._sum)
             + self.n * torch.outer(delta, delta))
        dist.all_reduce(s)
        dist.all_reduce(q)
        self._shift, self._sum, self._outer, self.n = shift, s, q, total
        return self

    def mean(self) -> np.ndarray:
        """Mean activation vector (dim,)."""
        self._require(1)
        return (self._shift + self._sum / self.n).cpu().numpy()

    def _covariance_t(self) -> torch.Tensor:
        self._require(2)
        cov = (self._outer - torch.outer(self._sum, self._sum) / self.n) / (self.n - 1)
        return _check_no_overflow((cov + cov.T) / 2, "accumulator")

    def covariance(self) -> np.ndarray:
        """Unbiased covariance (dim x dim), equal to numpy.cov(X, rowvar=False)."""
        return self._covariance_t().cpu().numpy()

    def eigenvalues(self) -> np.ndarray:
        """Covariance eigenvalues lambda_1 >= lambda_2 >= ... (the eigenspectrum of Fig. 3a/b)."""
        cov = self._covariance_t()
        if cov.device.type == "cpu":  # numpy's LAPACK driver: faster than torch's on this CPU (bench_language.py [2])
            with threadpool_limits(torch.get_num_threads()):   # the thread policy torch follows
                return np.linalg.eigvalsh(cov.numpy())[::-1].copy()
        return torch.linalg.eigvalsh(cov).flip(0).cpu().numpy()

    def eigenvectors(self, k: int) -> np.ndarray:
        """Top-k principal directions as columns (dim x k), descending eigenvalue (Fig. 3d filters)."""
        check_int(k, "k", 1, self.dim)
        cov, k = self._covariance_t(), int(k)
        if cov.device.type == "cpu":  # LAPACK's evr on the top k only: about twice a full eigh at k = 100 of 1536
            with threadpool_limits(torch.get_num_threads()):
                vals, vecs = scipy.linalg.eigh(cov.numpy(), subset_by_index=[self.dim - k, self.dim - 1],
                                               driver="evr")
        else:
            vals, vecs = (t[..., -k:].cpu().numpy() for t in torch.linalg.eigh(cov))
        lam = np.concatenate([vals[::-1], np.zeros(self.dim - k)])   # the rest only for the tolerance's size
        if _n_positive(lam) < k:  # a direction of zero variance is arbitrary: never return one silently
            raise ValueError(f"k: only {_n_positive(lam)} directions have non-zero variance, asked for {k}")
        return vecs[:, ::-1].copy()

    def state_dict(self) -> dict:
        """Plain ints and CPU tensors, to save with torch.save and resume or merge later."""
        return {"dim": self.dim, "n": self.n, "shift": self._shift.cpu().clone(),
                "sum": self._sum.cpu().clone(), "outer": self._outer.cpu().clone()}

    def load_state_dict(self, state: dict) -> CovarianceAccumulator:
        """Restore sums saved by state_dict(); returns self."""
        if set(state) != {"dim", "n", "shift", "sum", "outer"}:
            raise ValueError(f"state: expected keys dim, n, shift, sum, outer, got {sorted(state)}")
        if state["dim"] != self.dim:
            raise ValueError(f"state: dim {state['dim']} does not match accumulator dim {self.dim}")
        if isinstance(state["n"], bool) or not isinstance(state["n"], (int, np.integer)) or int(state["n"]) < 0:
            raise ValueError(f"state: n must be an integer >= 0, got {state['n']!r}")
        tensors = {key: _to_tensor(state[key], f"state[{key!r}]") for key in ("shift", "sum", "outer")}
        for key, shape in (("shift", (self.dim,)), ("sum", (self.dim,)), ("outer", (self.dim, self.dim))):
            if tuple(tensors[key].shape) != shape:
                raise ValueError(f"state: {key} must have shape {shape}, got {tuple(tensors[key].shape)}")
            if not bool(torch.isfinite(tensors[key]).all()):
                raise ValueError(f"state: {key} contains NaN or inf; all entries must be finite")
        self.n = int(state["n"])
        self._shift, self._sum, self._outer = (tensors[key].to(self.device, self.dtype).clone()
                                               for key in ("shift", "sum", "outer"))
        return self

    def _require(self, n_min: int) -> None:
        if self.n < n_min:
            raise ValueError(f"accumulator: needs at least {n_min} samples, has {self.n}")


def eigenspectrum(X: ArrayLike) -> np.ndarray:
    """Descending covariance eigenvalues (min(N, dims) of them) of an in-memory samples x dims matrix (Fig. 3a/b)."""
    return principal_components(X)[0]


@dataclass(frozen=True, eq=False)
class PowerLawFit:
    """Fit of log10 lambda_n = alpha * log10 n + intercept over PCs fit_range (1-based, inclusive)."""

    alpha: float
    intercept: float
    fit_range: tuple[int, int]
    requested_range: tuple[int, int]
    clipped: bool
    method: str
    residuals: np.ndarray


def _as_spectrum(eigenvalues: ArrayLike) -> np.ndarray:
    """Eigenvalues as a non-empty 1-D float64 numpy array, or ValueError."""
    raw = np.asarray(eigenvalues.detach().cpu() if torch.is_tensor(eigenvalues) else eigenvalues)
    if np.iscomplexobj(raw):
        raise ValueError("eigenvalues: complex values are not supported")
    lam = np.asarray(raw, dtype=np.float64)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"eigenvalues: expected a non-empty 1-D array, got shape {lam.shape}")
    return lam


def _n_positive(lam: np.ndarray) -> int:
    """Number of leading eigenvalues that are numerically positive (lambda > lambda_1 * len * eps)."""
    tol = max(float(lam.max()), 0.0) * lam.size * np.finfo(np.float64).eps
    nonpos = np.flatnonzero(~(lam > tol))
    return int(nonpos[0]) if nonpos.size else lam.size


def check_fit_range(fit_range: Sequence[int]) -> tuple[int, int]:
    """A fit's range of PCs: two 1-based numbers (first, last), first <= last, both included."""
    try:
        first, last = (int(v) for v in fit_range)
        whole = all(not isinstance(v, bool) and float(v) == int(v) for v in fit_range)  # 1.5 is not truncated to 1
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole:
        raise ValueError(f"fit_range: must be a pair (first, last) of integers, got {fit_range!r}")
    if not 1 <= first <= last:
        raise ValueError(f"fit_range: need 1 <= first <= last (1-based PCs, inclusive), got {fit_range!r}")
    return first, last


def _check_fit_args(fit_range: Sequence[int], method: str) -> tuple[int, int]:
    check_choice(method, "method", FIT_METHODS)
    return check_fit_range(fit_range)


def _fit_line(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, float]:
    """Slope and intercept of y on x by Huber, OLS or Stringer's WLS with weights 1/n."""
    if method == "huber":
        reg = HuberRegressor(epsilon=1.35, alpha=0.0, fit_intercept=True, max_iter=1000, tol=1e-12)
        reg.fit(x[:, None], y)
        return float(reg.coef_[0]), float(reg.intercept_)
    design = np.column_stack([x, np.ones_like(x)])
    if method == "wls":  # minimise sum_n (1/n) r_n^2 (Stringer et al. 2019)
        sw = np.sqrt(1.0 / 10.0 ** x)
        design, y = design * sw[:, None], y * sw
    (slope, intercept), *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(slope), float(intercept)


def fit_power_law(eigenvalues: ArrayLike, fit_range: tuple[int, int] = (1, 500),
                  method: str = "huber") -> PowerLawFit:
    """Signed exponent alpha of lambda_n ~ n^alpha over PCs fit_range (Fig. 3c; Stringer et al. 2019)."""
    first, last = _check_fit_args(fit_range, method)
    lam = _as_spectrum(eigenvalues)
    if not np.all(np.isfinite(lam)):
        raise ValueError("eigenvalues: contains NaN or inf; all entries must be finite")
    used_last = min(last, _n_positive(lam))
    if used_last > first and lam[used_last - 1] > lam[first - 1]:  # reversed: alpha would come out positive
        raise ValueError("eigenvalues: rise over the fit range; an eigenspectrum comes in descending order "
                         "(lambda_1 >= lambda_2 >= ...): reverse it")
    if used_last - first + 1 < 3:
        raise ValueError(f"fit_range: {fit_range!r} leaves {max(used_last - first + 1, 0)} usable points "
                         f"({_n_positive(lam)} positive eigenvalues); need at least 3")
    n = np.arange(first, used_last + 1, dtype=np.float64)
    x, y = np.log10(n), np.log10(lam[first - 1:used_last])
    alpha, intercept = _fit_line(x, y, method)
    return PowerLawFit(alpha=alpha, intercept=intercept, fit_range=(first, used_last),
                       requested_range=(first, last), clipped=used_last < last, method=method,
                       residuals=y - (alpha * x + intercept))


# ---------------------------------------------------------------------------------------------------------------
# Layers wider than the number of images (chapter 5). The covariance of N samples in d > N dimensions has rank
# at most N - 1, and its non-zero eigenvalues are those of the N x N Gram matrix of the centred samples: the
# "Gram form" below gives the same spectrum as the dims x dims covariance at O(N^2 d) cost instead of O(d^3).


def _gram(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centred samples and their Gram matrix xc xc^T / (N - 1), float64."""
    xc = t - t.mean(dim=0)
    return xc, _check_no_overflow((xc @ xc.T) / (t.shape[0] - 1), "X")


def _fix_signs(vecs: np.ndarray) -> np.ndarray:
    """Flip each column so that its largest-magnitude entry is positive (an eigenvector's sign is arbitrary)."""
    if vecs.size == 0:
        return vecs
    idx = np.abs(vecs).argmax(axis=0)
    return vecs * np.where(vecs[idx, np.arange(vecs.shape[1])] < 0, -1.0, 1.0)


def principal_components(X: ArrayLike | Sequence[ArrayLike], k: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Covariance eigenvalues (min(N, dims), descending) and top-k directions (dims x k) of N samples (Fig. 3b, 3d)."""
    # dims <= N: the dims x dims covariance through CovarianceAccumulator; dims > N: the N x N Gram form (the rest
    # of the dims eigenvalues are 0). Directions have unit norm, sign fixed so their largest entry is positive.
    t = _as_samples(X, "X")
    n, d = t.shape
    check_int(k, "k (at most min(samples, dims))", 0, min(n, d))
    if d <= n:
        acc = CovarianceAccumulator(d).update(t)
        vecs = acc.eigenvectors(int(k)) if k else np.empty((d, 0))
        return acc.eigenvalues(), _fix_signs(vecs)
    xc, g = _gram(t)
    w, u = (e.numpy() for e in torch.linalg.eigh(g))  # torch's LAPACK: threads follow torch.set_num_threads
    lam, u = w[::-1].copy(), u[:, ::-1]
    if not k:
        return lam, np.empty((d, 0))
    if np.any(lam[:k] <= 0):
        raise ValueError(f"k: only {_n_positive(lam)} directions have non-zero variance, asked for {k}")
    vecs = (xc.T @ torch.from_numpy(u[:, :k].copy())).numpy() / np.sqrt((n - 1) * lam[:k])
    return lam, _fix_signs(vecs)


def clip_fit_range(eigenvalues: ArrayLike, fit_range: tuple[int, int], n_samples: int) -> tuple[int, int]:
    """The METHODS default fit range [ours]: PCs first .. min(last, rank/2), rank = min(N - 1, non-zero eigenvalues)."""
    # Beyond half the rank, finite sampling bends the tail of a sample spectrum down (Marchenko-Pastur). A layer
    # so narrow that rank/2 leaves fewer than 3 PCs is fitted over first .. first + 2 while its rank allows.
    first, last = _check_fit_args(fit_range, "huber")
    check_int(n_samples, "n_samples", 2)
    lam = _as_spectrum(eigenvalues)
    rank = min(int(n_samples) - 1, _n_positive(lam))
    return first, max(min(last, rank // 2), min(last, first + 2, rank), first)


@dataclass(frozen=True)
class FitQuality:
    """How far a spectrum is from a power law over a fit's range [ours]: R^2, curvature, residuals in decades."""

    r2: float                  # 1 - SS_res / SS_tot of log10 lambda about the fitted line
    curvature: float           # c2 of log10 lambda = c0 + c1 x + c2 x^2, x = log10 n (per decade^2); < 0: concave
    rms_residual: float        # root-mean-square distance of log10 lambda from the fitted line, in decades
    max_abs_residual: float    # largest |log10 lambda - fitted line| in the range, in decades
    cliff: float               # largest one-PC drop log10(lambda_n / lambda_{n+1}) beyond the fit's, in decades
    cliff_at: int              # the n of that drop: a plateau of n similar eigenvalues ends there
    n_points: int


def fit_quality(eigenvalues: ArrayLike, fit: PowerLawFit) -> FitQuality:
    """Goodness of a power-law fit over its range (Fig. 3c, Fig. 5) [ours]: concave = plateau then cliff."""
    # A power law is a straight line in log-log: R^2 = 1, curvature 0, no cliff. The paper's "linear code" (k
    # similar eigenvalues, then a cliff) has a cliff of many decades at n = k; its curvature's sign depends on how
    # much of the tail after the cliff the range holds, so the cliff, not the sign, identifies it.
    if not isinstance(fit, PowerLawFit):
        raise ValueError(f"fit: must be a PowerLawFit (from fit_power_law), got {type(fit).__name__}")
    lam = _as_spectrum(eigenvalues)
    first, last = fit.fit_range
    if lam.ndim != 1 or lam.size < last:
        raise ValueError(f"eigenvalues: need at least {last} values for the fit's range {fit.fit_range}, "
                         f"got shape {lam.shape}")
    x = np.log10(np.arange(first, last + 1, dtype=np.float64))
    y = np.log10(lam[first - 1:last])
    res = y - (fit.alpha * x + fit.intercept)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(res ** 2)) / ss_tot if ss_tot > 0 else float("nan")
    c2 = float(np.polyfit(x, y, 2)[0])
    excess = -np.diff(y) + fit.alpha * np.diff(x)  # each step's drop minus the fitted law's drop
    step = int(np.argmax(excess))
    return FitQuality(r2=r2, curvature=c2, rms_residual=float(np.sqrt(np.mean(res ** 2))),
                      max_abs_residual=float(np.abs(res).max()), cliff=float(excess[step]),
                      cliff_at=first + step, n_points=int(x.size))


def numerical_rank(eigenvalues: ArrayLike) -> int:
    """Number of leading eigenvalues above rounding noise (lambda_n > lambda_1 * len * eps): where a spectrum ends."""
    lam = _as_spectrum(eigenvalues)
    return _n_positive(lam)


def cv_spectra(X1: ArrayLike, X2: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validated PCA (Stringer et al. 2019): the cvPCA spectrum of two repeats and repeat 1's own variance on
    the same PCs, min(N, dims) each; the one cvPCA entry point (covariance or Gram route chosen inside)."""
    # X1, X2: responses (samples x units) to the same stimuli in two independent repeats; entry n is the unbiased
    # covariance across samples of X1 and X2 projected on X1's n-th principal direction. The ratio cv / own variance
    # is the share of each PC's variance that the second repeat reproduces. The smaller of the dims x dims
    # covariance and the N x N Gram form is decomposed, once.
    a, b = _as_samples(X1, "X1"), _as_samples(X2, "X2")
    if a.shape != b.shape:
        raise ValueError(f"X1, X2: must have the same shape (same stimuli, same units), got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    n, d = a.shape
    ac, bc = a - a.mean(dim=0), b - b.mean(dim=0)
    if d <= n:
        w, u = (e.numpy() for e in torch.linalg.eigh((ac.T @ ac) / (n - 1)))
        u = torch.from_numpy(u[:, ::-1].copy())
        cv = ((ac @ u) * (bc @ u)).sum(dim=0).numpy() / (n - 1)
        return cv, w[::-1].copy()
    w, u = (e.numpy() for e in torch.linalg.eigh((ac @ ac.T) / (n - 1)))
    w, u = w[::-1].copy(), torch.from_numpy(u[:, ::-1].copy())
    cv = (u * (((bc @ ac.T) / (n - 1)) @ u)).sum(dim=0).numpy()
    cv[~(w > max(float(w[0]), 0.0) * n * np.finfo(np.float64).eps)] = 0.0
    return cv[:min(n, d)], w[:min(n, d)]


def power_law_samples(n_samples: int, n_units: int, alpha: float, seed: int = 0) -> np.ndarray:
    """Gaussian activations (n_samples x n_units) whose covariance has eigenvalues n^alpha: a known answer [ours]."""
    n_samples, n_units = check_int(n_samples, "n_samples", 2), check_int(n_units, "n_units", 1)
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha < 0):
        raise ValueError(f"alpha: must be a finite number < 0 (signed convention), got {alpha!r}")
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    # A diagonal covariance: eigenvalues do not depend on the basis, so no rotation is needed.
    return rng.standard_normal((n_samples, n_units)) * np.arange(1, n_units + 1) ** (alpha / 2)


# ---------------------------------------------------------------------------------------------------------------
# Intervals from independent evaluation sets, and what a layer's first principal component follows [ours]


def _check_confidence(confidence: float) -> float:
    """A confidence level in (0, 1), or ValueError naming it."""
    c = check_float_in(confidence, "confidence (in (0, 1))", 0.0, 1.0, high_open=True)
    if c == 0.0:
        raise ValueError(f"confidence: must be in (0, 1), got {confidence!r}")
    return c


def t_half_width(values: ArrayLike, confidence: float = 0.95, axis: int = -1) -> float | np.ndarray:
    """Half-width t_{n-1} sd / sqrt(n) of the Student-t interval of a mean of n independent estimates (along axis):
    the one t-interval of the library (evaluation sets, window groups, seeds)."""
    v = np.asarray(values, dtype=np.float64)
    n = v.shape[axis]
    half = student_t.ppf((1 + _check_confidence(confidence)) / 2, n - 1) * v.std(axis=axis, ddof=1) / np.sqrt(n)
    return float(half) if np.ndim(half) == 0 else half


def t_interval(values: ArrayLike, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of independent estimates (one per evaluation set); (nan, nan) with one."""
    v = np.asarray(values.detach().cpu() if torch.is_tensor(values) else values, dtype=np.float64).ravel()
    confidence = _check_confidence(confidence)
    if v.size < 2:
        return float("nan"), float("nan")
    if not np.all(np.isfinite(v)):
        raise ValueError("values: contains NaN or inf; all estimates must be finite")
    half = t_half_width(v, confidence)
    return float(v.mean() - half), float(v.mean() + half)


def evaluation_set_alpha(x: ArrayLike, fit_range: tuple[int, int], method: str = "huber") -> float:
    """alpha of one set of samples as chapter 5 fits it: PCs fit_range cut at half the rank (clip_fit_range)."""
    lam = eigenspectrum(x)
    return fit_power_law(lam, clip_fit_range(lam, fit_range, int(np.shape(x)[0])), method).alpha


@dataclass(frozen=True)
class SetCoverage:
    """How often the t interval over n_sets independent sets contains the true alpha of a known spectrum [ours]."""

    alpha: float                # the true exponent (eigenvalues n^alpha)
    n_samples: int              # samples per set (chapter 5: evaluation images per set), units, sets per interval
    n_units: int
    n_sets: int
    fit_range: tuple[int, int]  # the PCs fitted (after the cut at half the rank)
    n_draws: int                # independent sets drawn; intervals formed from every n_sets-subset of them
    coverage: float             # share of intervals containing the true alpha
    coverage_of_mean: float     # share containing the mean estimate over all draws (the estimator's own centre)
    bias: float                 # mean estimate minus the truth: what the interval does not cover
    sd_one: float               # SD of one set's alpha
    mean_width: float           # mean width of the intervals


def evaluation_set_coverage(n_samples: int, n_units: int, alpha: float, fit_range: Sequence[int], n_sets: int,
                          n_draws: int, method: str = "huber", confidence: float = 0.95, seed: int = 0,
                          max_subsets: int = 20000) -> SetCoverage:
    """Coverage of the independent-sets t interval on Gaussian data with lambda_n = n^alpha (power_law_samples)."""
    # n_draws sets are drawn once; every n_sets-subset of them (at most max_subsets, else a seeded random choice)
    # forms one interval, so the coverage is a U-statistic over the draws, far less noisy than n_draws / n_sets
    # disjoint intervals at the same cost. The estimate of a set of N < d samples is biased (the tail's
    # finite-sample bend); the interval covers the truth only where that bias is small against its width.
    n_sets = check_int(n_sets, "n_sets", 2)
    n_draws = check_int(n_draws, "n_draws", n_sets)
    fit_range = _check_fit_args(tuple(fit_range), method)
    rng_seed = check_int(seed, "seed", 0)
    confidence = _check_confidence(confidence)
    est = np.array([evaluation_set_alpha(power_law_samples(n_samples, n_units, alpha, seed=rng_seed + i), fit_range,
                                         method)
                    for i in range(n_draws)])
    lam = power_law_samples(n_samples, n_units, alpha, seed=rng_seed)
    used = clip_fit_range(eigenspectrum(lam), fit_range, n_samples)
    n_sub = math.comb(n_draws, n_sets)
    if n_sub <= check_int(max_subsets, "max_subsets"):
        idx = np.array(list(itertools.combinations(range(n_draws), n_sets)))
    else:
        rng = np.random.default_rng(rng_seed)
        idx = np.array([rng.choice(n_draws, n_sets, replace=False) for _ in range(max_subsets)])
    sub = est[idx]
    half = t_half_width(sub, confidence, axis=1)
    lo, hi = sub.mean(axis=1) - half, sub.mean(axis=1) + half
    centre = float(est.mean())
    return SetCoverage(alpha=float(alpha), n_samples=int(n_samples), n_units=int(n_units), n_sets=n_sets,
                       fit_range=used, n_draws=n_draws, coverage=float(np.mean((lo <= alpha) & (alpha <= hi))),
                       coverage_of_mean=float(np.mean((lo <= centre) & (centre <= hi))), bias=centre - alpha,
                       sd_one=float(est.std(ddof=1)), mean_width=float(np.mean(hi - lo)))


def score_correlation(X: ArrayLike, direction: ArrayLike, covariate: ArrayLike) -> float:
    """|Pearson r| between the samples' scores on a direction (a PC) and a per-sample covariate (e.g. brightness)."""
    t = _as_samples(X, "X", 3)
    v = np.asarray(direction, dtype=np.float64).ravel()
    c = np.asarray(covariate, dtype=np.float64).ravel()
    if v.size != t.shape[1]:
        raise ValueError(f"direction: expected {t.shape[1]} entries (one per unit), got {v.size}")
    if c.size != t.shape[0] or not np.all(np.isfinite(c)):
        raise ValueError(f"covariate: expected {t.shape[0]} finite values (one per sample), got {c.size}")
    scores = (t @ torch.from_numpy(v)).numpy()
    if scores.std() == 0 or c.std() == 0:
        return float("nan")
    return float(abs(np.corrcoef(scores, c)[0, 1]))
