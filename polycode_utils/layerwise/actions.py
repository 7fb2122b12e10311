"""A moving dot's trajectories layer by layer (Fig. 4): random projections, their action, and chapter 6's numbers.

The action of z_1..z_T is 1/2 sum ||z_{t+1} - z_t||^2; projections have entries N(0, 1/m) (book/methods.md).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.special import zeta
from scipy.stats import t as student_t
from torch import nn

from polycode_utils.networks.activations import record_activations
from polycode_utils.theory.capacity import expected_projected_action
from polycode_utils.checks import check_choice, check_int, check_sequence
from polycode_utils.instruments.projections import action, random_projections
from polycode_utils.instruments.spectra import (FIT_METHODS, check_fit_range, clip_fit_range, fit_power_law,
                                                fit_quality, FitQuality, PowerLawFit, principal_components)

NORMALISATIONS = ("variance", "none")
MAX_LOOP_FRAMES = 20_000  # one loop holding every T of the sweep; 20,000 frames of stem activations fit in memory
SMOOTH_BELOW, HASH_ABOVE = -0.5, 0.5   # exponent of action vs T: the midpoints between -1, 0 and +1 [ours]
SMOOTHNESS = ("smooth", "rough", "hash")


# ---------------------------------------------------------------------------------------------------------------
# Fig. 4: random projections of a moving dot


@dataclass(eq=False)
class LayerAction:
    """One layer's response to the moving dot: actions of its random 3-D projections, and theory (Fig. 4b-d)."""

    layer: str
    n_units: int
    actions: np.ndarray                 # the action of each random projection
    expected: float                     # exact mean over projections: (k/m) 1/2 sum_t ||a_{t+1} - a_t||^2
    scale: float                        # factor applied to the activations (normalise="variance"), else 1
    trajectories: np.ndarray            # the first n_keep projected trajectories (n_keep, T, k), centred
    dot_fit: PowerLawFit | None         # alpha of the T frames' own eigenspectrum (None: too few frames)
    dot_quality: FitQuality | None
    mean_activation: float              # raw activation averaged over units and frames (Fig. 4b inset; paper)
    k: int = 3
    n_frames: int = 0
    trace: float = float("nan")         # tr Sigma of the raw responses over the T frames (divisor T) [ours]
    top_eigenvalue: float = float("nan")  # lambda_1 of the same covariance
    r2: np.ndarray = field(default_factory=lambda: np.empty(0))  # R^2 of each projection on (cos, sin) [note]

    @property
    def mean(self) -> float:
        return float(self.actions.mean())

    @property
    def sd(self) -> float:
        return float(self.actions.std(ddof=1)) if self.actions.size > 1 else 0.0

    @property
    def sem(self) -> float:
        return self.sd / math.sqrt(self.actions.size)

    @property
    def dot_alpha(self) -> float:
        """Alpha of the dot responses' own eigenspectrum; nan where too few PCs could be fitted [ours]."""
        return self.dot_fit.alpha if self.dot_fit is not None else float("nan")

    @property
    def raw_mean(self) -> float:
        """Mean action of the raw (un-normalised) activations, the paper's definition."""
        return self.mean / self.scale ** 2

    @property
    def raw_expected(self) -> float:
        """Exact mean action over projections of the raw activations."""
        return self.expected / self.scale ** 2

    @property
    def iid_expected(self) -> float:
        """Mean action of T frames drawn i.i.d. with the responses' covariance, loop closed: (k/m) T tr Sigma [ours]."""
        lam = np.full(self.n_units, self.trace / self.n_units)  # only the trace enters (k/2m) tr Sigma
        return 2 * self.n_frames * expected_projected_action(lam, self.k)

    @property
    def r2_mean(self) -> float:
        """Mean over projections of R^2 on (cos theta_t, sin theta_t): how well the projection tracks the dot."""
        return float(self.r2.mean()) if self.r2.size else float("nan")

    @property
    def note_trace(self) -> float:
        """The note's §2.5 approximation of tr Sigma, lambda_1 zeta(-alpha) with the dot responses' alpha; nan
        where alpha >= -1 (the sum diverges) or no alpha was fitted."""
        a = self.dot_alpha
        return float(self.top_eigenvalue * zeta(-a)) if np.isfinite(a) and a < -1 else float("nan")


def _loop_r2(z: np.ndarray) -> np.ndarray:
    """R^2 of each trajectory (n, T, k) regressed on (1, cos theta_t, sin theta_t), theta_t = 2 pi t / T, the k
    coordinates pooled: 1 - residual / total sum of squares about the mean [ours; the note's second metric]."""
    n_frames = z.shape[1]
    theta = 2 * np.pi * np.arange(n_frames) / n_frames
    basis = np.column_stack([np.cos(theta), np.sin(theta)])
    q, _ = np.linalg.qr(basis - basis.mean(axis=0))          # orthonormal, orthogonal to the intercept
    zc = z - z.mean(axis=1, keepdims=True)
    fitted = np.einsum("tq,ntk->nqk", q, zc)
    total = np.sum(zc ** 2, axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, np.sum(fitted ** 2, axis=(1, 2)) / total, np.nan)


def trajectory_actions(acts: Mapping[str, np.ndarray], *, n_projections: int = 1000, k: int = 3, seed: int = 0,
                       normalise: str = "variance", closed: bool = True, n_keep: int = 3,
                       fit_range: Sequence[int] = (1, 500), method: str = "huber") -> OrderedDict[str, LayerAction]:
    """Action of n_projections random k-D projections of each layer's recorded trajectory (T x m) (Fig. 4b-d)."""
    # normalise="variance" [ours]: each layer's activations are scaled so that the mean per-unit variance over the
    # frames is 1; a projection coordinate then has unit variance on average, and the action compares layers of
    # any scale and width: ~ 2 k T sin^2(pi/T) for a circle in two dimensions, ~ k T for i.i.d. frames (closed).
    # "none": the raw activations, as the paper's note defines the action. closed=True adds the step from the last
    # frame back to the first (the dot's loop). Every layer uses projections drawn from the same seed.
    check_choice(normalise, "normalise", NORMALISATIONS)
    check_choice(method, "method", FIT_METHODS)
    n_projections = check_int(n_projections, "n_projections", 1)
    k = check_int(k, "k", 1)
    n_keep = min(check_int(n_keep, "n_keep", 0), n_projections)
    seed = check_int(seed, "seed", 0)
    fit_range = check_fit_range(fit_range)
    out: OrderedDict[str, LayerAction] = OrderedDict()
    for name, a in acts.items():
        a64 = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
        n_frames, m = a64.shape
        if n_frames < 2:
            raise ValueError(f"frames: need T >= 2 frames, got {n_frames}")
        centred = a64 - a64.mean(axis=0)
        trace = float(np.sum(centred ** 2)) / n_frames          # tr Sigma over the loop (divisor T)
        variance = trace / m                                     # mean per-unit variance over the frames
        scale = 1.0 / math.sqrt(variance) if normalise == "variance" and variance > 0 else 1.0
        x = centred * scale
        steps = np.diff(np.concatenate([x, x[:1]]) if closed else x, axis=0)
        expected = 0.5 * (k / m) * float(np.sum(steps ** 2))
        z = random_projections(x.astype(np.float32), n_projections, k, seed)
        z64 = z.astype(np.float64)
        acts_p = action(z64, closed=closed)
        dot_fit = dot_q = None
        lam, _ = principal_components(x)
        rng = clip_fit_range(lam, fit_range, n_frames)
        if rng[1] - rng[0] + 1 >= 3 and lam[0] > 0:
            dot_fit = fit_power_law(lam, rng, method)
            dot_q = fit_quality(lam, dot_fit)
        top = float(lam[0]) * (n_frames - 1) / n_frames / scale ** 2  # raw lambda_1, divisor T like the trace
        out[name] = LayerAction(name, m, np.asarray(acts_p), expected, scale, z[:n_keep].copy(), dot_fit, dot_q,
                                float(np.mean(a)), k, n_frames, trace, top, _loop_r2(z64))
    return out


def dot_actions(model: nn.Module, frames: np.ndarray | torch.Tensor, layers: Sequence[str] | None = None, *,
                n_projections: int = 1000, k: int = 3, seed: int = 0, normalise: str = "variance",
                closed: bool = True, n_keep: int = 3, fit_range: Sequence[int] = (1, 500),
                method: str = "huber") -> OrderedDict[str, LayerAction]:
    """Action of n_projections random k-D projections of each layer's trajectory over the frames (Fig. 4b-d)."""
    check_choice(normalise, "normalise", NORMALISATIONS)
    check_choice(method, "method", FIT_METHODS)
    check_fit_range(fit_range)
    n_frames = int(torch.as_tensor(frames).shape[0]) if isinstance(frames, (np.ndarray, torch.Tensor)) else 0
    if n_frames < 2:
        raise ValueError(f"frames: need an array (T, C, H, W) with T >= 2 frames, "
                         f"got {getattr(frames, 'shape', frames)!r}")
    return trajectory_actions(record_activations(model, frames, layers), n_projections=n_projections, k=k,
                              seed=seed, normalise=normalise, closed=closed, n_keep=n_keep, fit_range=fit_range,
                              method=method)


# ---------------------------------------------------------------------------------------------------------------
# The action's scaling law: one loop sampled at T frames, T swept [ours]. A differentiable closed curve has action
# ~ 1/T (exponent -1), a Brownian-rough one ~ T^0, a hash (independent frames) ~ T (exponent +1).


def loop_frames(n_frames: int, sweep_frames: Sequence[int], max_frames: int = MAX_LOOP_FRAMES) -> int:
    """The frames T_max of one loop from which every T of the sweep (and the main T) is every (T_max/T)-th frame:
    their least common multiple (800 for the default 100 and 50..800), at most max_frames."""
    n_frames = check_int(n_frames, "n_frames", 2)
    sweep = [check_int(t, "sweep_frames", 2) for t in check_sequence(sweep_frames, "sweep_frames", min_len=2)]
    if len(set(sweep)) != len(sweep):
        raise ValueError(f"sweep_frames: must be distinct frame counts, got {list(sweep_frames)}")
    t_max = math.lcm(n_frames, *sweep)
    if t_max > check_int(max_frames, "max_frames"):
        raise ValueError(f"sweep_frames: with n_frames = {n_frames} one loop would need {t_max} frames (their least "
                         f"common multiple), more than {max_frames}; choose frame counts that divide a common one "
                         f"(e.g. 50, 100, 200, 400, 800), got {list(sweep_frames)}")
    return t_max


def every_nth_frame(acts: Mapping[str, np.ndarray], n_frames: int) -> OrderedDict[str, np.ndarray]:
    """The loop at T = n_frames from a recording of T_max frames (frame t at angle 2 pi t / T_max)."""
    t_max = len(next(iter(acts.values())))
    n_frames = check_int(n_frames, "n_frames", 2)
    if t_max % n_frames:
        raise ValueError(f"n_frames: {n_frames} does not divide the {t_max} recorded frames")
    return OrderedDict((name, a[::t_max // n_frames]) for name, a in acts.items())


def scaling_exponent(n_frames: Sequence[float], actions: Sequence[float], confidence: float = 0.95
                     ) -> tuple[float, float, float]:
    """Slope of log(action) against log(T) by least squares, with its t-interval (nan with two T) [ours]."""
    t, a = np.asarray(n_frames, float), np.asarray(actions, float)
    if t.size < 2 or t.size != a.size or not (np.all(a > 0) and np.all(np.isfinite(a)) and np.all(t > 0)):
        raise ValueError(f"actions: need positive finite actions at >= 2 values of T, got {list(actions)}")
    x, y = np.log(t), np.log(a)
    slope, intercept = np.polyfit(x, y, 1)
    if x.size < 3:
        return float(slope), float("nan"), float("nan")
    resid = y - (slope * x + intercept)
    se = math.sqrt(float(resid @ resid) / (x.size - 2) / float(np.sum((x - x.mean()) ** 2)))
    half = float(student_t.ppf(0.5 + confidence / 2, x.size - 2)) * se
    return float(slope), float(slope - half), float(slope + half)


def smoothness(exponent: float) -> str:
    """'smooth' (exponent ~ -1), 'rough' (~ 0) or 'hash' (~ +1), cut at the midpoints -1/2 and +1/2 [ours]."""
    if not np.isfinite(exponent):
        return "undetermined"
    return "smooth" if exponent < SMOOTH_BELOW else "hash" if exponent > HASH_ABOVE else "rough"


@dataclass(frozen=True)
class ActionScaling:
    """One layer's exact mean action at each T of the sweep, its exponent against T and the class it implies."""

    layer: str
    n_frames: tuple[int, ...]
    actions: tuple[float, ...]          # as normalised (normalise): what the exponent is fitted to
    raw_actions: tuple[float, ...]      # un-normalised, for the check that the normalisation leaves the law
    exponent: float
    ci_low: float
    ci_high: float
    raw_exponent: float

    @property
    def regime(self) -> str:
        return smoothness(self.exponent)


def action_scaling(acts: Mapping[str, np.ndarray], sweep_frames: Sequence[int], *, k: int = 3,
                   normalise: str = "variance", closed: bool = True) -> OrderedDict[str, ActionScaling]:
    """Exact mean action (k/m) 1/2 sum ||a_{t+1} - a_t||^2 of each layer at every T of the sweep, and its exponent."""
    # acts: {layer: (T_max, m)} of one loop; T = every (T_max/T)-th frame. With normalise="variance" each T is
    # scaled by its own variance over its frames (that variance converges as T grows: see the chapter's check).
    check_choice(normalise, "normalise", NORMALISATIONS)
    k = check_int(k, "k", 1)
    t_max = len(next(iter(acts.values())))
    sweep = sorted(check_int(t, "sweep_frames", 2) for t in check_sequence(sweep_frames, "sweep_frames", min_len=2))
    loop_frames(t_max, sweep)
    out: OrderedDict[str, ActionScaling] = OrderedDict()
    for name, a in acts.items():
        raw, norm = [], []
        for t in sweep:
            x = np.asarray(a[::t_max // t], dtype=np.float64).reshape(t, -1)
            x = x - x.mean(axis=0)
            steps = np.diff(np.concatenate([x, x[:1]]) if closed else x, axis=0)
            raw.append(0.5 * k / x.shape[1] * float(np.sum(steps ** 2)))
            variance = float(np.sum(x ** 2)) / x.size
            norm.append(raw[-1] / variance if normalise == "variance" and variance > 0 else raw[-1])
        slope, low, high = scaling_exponent(sweep, norm)
        out[name] = ActionScaling(name, tuple(sweep), tuple(norm), tuple(raw), slope, low, high,
                                  scaling_exponent(sweep, raw)[0])
    return out


@dataclass(eq=False)
class DotMeasurement:
    """A network's responses to the moving dot: the projections at T frames and the exact action's sweep over T."""

    actions: OrderedDict[str, LayerAction]
    scaling: OrderedDict[str, ActionScaling]


def measure_dot(model: nn.Module, frames: np.ndarray, layers: Sequence[str] | None = None, *, n_frames: int,
                sweep_frames: Sequence[int], n_projections: int = 1000, k: int = 3, seed: int = 0,
                normalise: str = "variance", fit_range: Sequence[int] = (1, 500), method: str = "huber"
                ) -> DotMeasurement:
    """One forward pass of the T_max frames of one loop: projections at n_frames, the exact action at every T."""
    t_max = loop_frames(n_frames, sweep_frames)
    if not isinstance(frames, np.ndarray) or len(frames) != t_max:
        raise ValueError(f"frames: need the {t_max} frames of one loop (moving_dot(loop_frames(...))), "
                         f"got {getattr(frames, 'shape', frames)!r}")
    acts = record_activations(model, frames, layers)
    main = trajectory_actions(every_nth_frame(acts, n_frames), n_projections=n_projections, k=k, seed=seed,
                              normalise=normalise, fit_range=fit_range, method=method)
    return DotMeasurement(main, action_scaling(acts, sweep_frames, k=k, normalise=normalise))


# ---------------------------------------------------------------------------------------------------------------
# Closed forms of the action [ours]


def circle_action(k: int, n_frames: int) -> float:
    """Action of a plane circle traced once in T steps, normalised and closed: 2 k T sin^2(pi/T) [ours]."""
    k, n_frames = check_int(k, "k"), check_int(n_frames, "n_frames", 2)
    return float(2 * k * n_frames * np.sin(np.pi / n_frames) ** 2)


def iid_action(k: int, n_frames: int) -> float:
    """Mean action of T frames drawn independently, normalised and closed: k T [ours]."""
    k, n_frames = check_int(k, "k"), check_int(n_frames, "n_frames", 2)
    return float(k * n_frames)


def stringer_bound(d: float) -> float:
    """Stringer et al.'s smoothness bound for a d-dimensional stimulus: a smooth code needs alpha < -(1 + 2/d)."""
    if not d > 0:
        raise ValueError(f"d: the stimulus dimension must be positive, got {d!r}")
    return -(1 + 2 / d)
