"""A moving dot's trajectories layer by layer (Fig. 4): random projections, their action, and chapter 6's numbers.

The action of z_1..z_T is 1/2 sum ||z_{t+1} - z_t||^2; projections have entries N(0, 1/m) (book/methods.md).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy.special import zeta
from scipy.stats import t as student_t
from torch import nn

from polycode_utils.activations import record_activations
from polycode_utils.capacity import expected_projected_action
from polycode_utils.checks import check_choice, check_float_in, check_int, check_sequence
from polycode_utils.models import CONV_DEPTHS, DENSE_DEPTHS, INPUT_DEPTH
from polycode_utils.projections import action, random_projections
from polycode_utils.claims import controlled_verdict
from polycode_utils.layerwise.common import (CONTROL, Key, _check_same_shape, _direction, _spearman, control_effect,
                                             depth_correlations, format_mean_sd, over_seeds, paired_difference,
                                             seed_table)
from polycode_utils.spectra import (FIT_METHODS, FitQuality, PowerLawFit, clip_fit_range, fit_power_law, fit_quality,
                                    principal_components)

NORMALISATIONS = ("variance", "none")
MAX_LOOP_FRAMES = 20_000  # one loop holding every T of the sweep; 20,000 frames of stem activations fit in memory
SMOOTH_BELOW, HASH_ABOVE = -0.5, 0.5   # exponent of action vs T: the midpoints between -1, 0 and +1 [ours]
SMOOTHNESS = ("smooth", "rough", "hash")


def _check_fit_range(fit_range: Sequence[int]) -> tuple[int, int]:
    """Two 1-based PC numbers [first, last], first <= last (as chapter 5's fits)."""
    first, last = check_sequence(fit_range, "fit_range (two PC numbers: first, last)", min_len=2, max_len=2)
    clip_fit_range(np.ones(3), (first, last), 3)  # validates the pair (1-based, first <= last)
    return int(first), int(last)


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
    fit_range = _check_fit_range(fit_range)
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
    _check_fit_range(fit_range)
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
# Summaries of Fig. 4: the numbers and verdicts chapter 6 states, computed from its actions and spectra.
# `actions` is one {layer: LayerAction} per network (depth order); tables are depth_table's (layers x networks).

Actions = Sequence[Mapping[str, LayerAction]]

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


def shown_network(show_dropout: float, rates: Sequence[float]) -> int:
    """The index of the network a figure singles out; show_dropout must be one of the dropout rates."""
    grid = [float(p) for p in rates]
    if show_dropout not in grid:
        raise ValueError(f"show_dropout: must be one of the dropout_rates {list(rates)}, got {show_dropout!r}")
    return grid.index(float(show_dropout))


@dataclass(frozen=True)
class MonteCarloGap:
    """The mean action over random projections against its exact mean (k/m) 1/2 sum ||a_{t+1} - a_t||^2."""

    mc_max_rel_pct: float       # largest |mean - exact| / exact over all layers and networks, in per cent
    mc_max_sem: float           # largest |mean - exact| in standard errors of the mean (nan: no spread anywhere)


def monte_carlo_gap(actions: Actions) -> MonteCarloGap:
    """How far the Monte-Carlo mean action of every layer lies from the exact expectation (Fig. 4c crosses)."""
    results = [r for acts in actions for r in acts.values()]
    if not results:
        raise ValueError("actions: need at least one network with one layer")
    mean, exact = np.array([r.mean for r in results]), np.array([r.expected for r in results])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(mean - exact) / exact
    gaps = [abs(r.mean - r.expected) / r.sem for r in results if r.sem > 0]
    return MonteCarloGap(float(100 * rel.max()), float(max(gaps)) if gaps else float("nan"))


@dataclass(frozen=True)
class ActionOrder:
    """Fig. 4c in words: the mean action against depth in every network, and the extremes of one network."""

    rho_depth_min: float        # Spearman(depth, mean action) over the networks: min and max (nan: < 3 layers)
    rho_depth_max: float
    action_direction: str       # 'rises with depth in every network', 'falls ...' or 'is not ordered ...'
    action_first_layer: str     # the shown network: its first and last layer and their mean actions
    action_last_layer: str
    action_first: float
    action_last: float
    show_min_layer: str         # ... its smoothest and roughest layer
    show_min_action: float
    show_max_layer: str
    show_max_action: float
    overall_min: float          # the range over all networks and layers
    overall_max: float


def action_order(table: pd.DataFrame, show: str) -> ActionOrder:
    """The mean action (layers x networks, depth order) against depth, with the extremes of the network `show`."""
    check_choice(show, "show (a column of the table)", list(table.columns))
    depth = np.arange(len(table.index))
    rho = [_spearman(depth, table[c]) if len(depth) > 2 else np.nan for c in table.columns]
    some = bool(np.isfinite(rho).any())
    direction = _direction(rho, "rises", "falls")
    col = table[show]
    return ActionOrder(
        rho_depth_min=float(np.nanmin(rho)) if some else np.nan,
        rho_depth_max=float(np.nanmax(rho)) if some else np.nan,
        action_direction=("is " + direction) if direction.startswith("not") else direction,
        action_first_layer=str(table.index[0]), action_last_layer=str(table.index[-1]),
        action_first=float(col.iloc[0]), action_last=float(col.iloc[-1]),
        show_min_layer=str(col.idxmin()), show_min_action=float(col.min()),
        show_max_layer=str(col.idxmax()), show_max_action=float(col.max()),
        overall_min=float(table.to_numpy().min()), overall_max=float(table.to_numpy().max()))


@dataclass(frozen=True)
class NoiseLike:
    """Layers that follow the dot about as smoothly as noise: action above half that of i.i.d. frames [ours]."""

    half_iid: float             # the threshold k T / 2
    n_noise_like: int           # layer-network pairs above it
    noise_text: str             # 'p = 0.8: fc2, mu; ...', 'none', or why the comparison does not apply


def noise_like_layers(table: pd.DataFrame, *, k: int, n_frames: int, normalise: str) -> NoiseLike:
    """The (layer, network) pairs of the mean-action table whose action exceeds k T / 2 (needs 'variance')."""
    check_choice(normalise, "normalise", NORMALISATIONS)
    threshold = iid_action(k, n_frames) / 2
    found = {c: [name for name in table.index if normalise == "variance" and table.loc[name, c] > threshold]
             for c in table.columns}
    if normalise != "variance":
        text = "(this comparison needs normalise = 'variance')"
    elif any(found.values()):
        text = "; ".join(f"{c}: {', '.join(names)}" for c, names in found.items() if names)
    else:
        text = "none"
    return NoiseLike(threshold, int(sum(len(v) for v in found.values())), text)


@dataclass(frozen=True)
class ActionAlpha:
    """Fig. 4d in numbers: the mean action against alpha on natural images and against the dot's own alpha."""

    rho_nat: float              # Spearman(alpha on natural images, mean action) over all layer-network pairs
    rho_dot: float              # Spearman(alpha of the dot responses, mean action) where that alpha exists
    n_points: int
    nat_alpha_min: float
    nat_alpha_max: float
    dot_alpha_min: float
    dot_alpha_max: float


def action_alpha(table: pd.DataFrame, alpha_nat: pd.DataFrame, alpha_dot: pd.DataFrame) -> ActionAlpha:
    """Correlations of the mean action with the two exponents (three tables of the same layers and networks)."""
    _check_same_shape(table, alpha_nat=alpha_nat, alpha_dot=alpha_dot)
    x_nat, x_dot, y = alpha_nat.to_numpy().ravel(), alpha_dot.to_numpy().ravel(), table.to_numpy().ravel()
    ok = np.isfinite(x_dot)
    return ActionAlpha(
        rho_nat=_spearman(x_nat, y) if y.size > 2 else np.nan,
        rho_dot=_spearman(x_dot[ok], y[ok]) if ok.sum() > 2 else np.nan, n_points=int(y.size),
        nat_alpha_min=float(x_nat.min()), nat_alpha_max=float(x_nat.max()),
        dot_alpha_min=float(np.nanmin(x_dot)) if ok.any() else np.nan,
        dot_alpha_max=float(np.nanmax(x_dot)) if ok.any() else np.nan)


@dataclass(frozen=True)
class StringerCheck:
    """Which layers' dot responses decay fast enough for a smooth code of a d-dim stimulus (alpha < -(1 + 2/d))."""

    n_dot: int                  # layer-network pairs with a dot exponent, and those below the bound
    n_dot_below: int
    median_action_below: float  # median mean action of the pairs below the bound and of the others
    median_action_above: float
    bound_text: str             # 'no layer's dot spectrum ...', 'every layer's ...', or the two medians


def stringer_check(table: pd.DataFrame, alpha_dot: pd.DataFrame, d: float = 1) -> StringerCheck:
    """Stringer et al.'s bound applied to the dot responses' exponents, and the mean action on either side."""
    _check_same_shape(table, alpha_dot=alpha_dot)
    x, y = alpha_dot.to_numpy().ravel(), table.to_numpy().ravel()
    ok = np.isfinite(x)
    below = ok & (x < stringer_bound(d))
    above = ok & ~below
    med_below = float(np.median(y[below])) if below.any() else np.nan
    med_above = float(np.median(y[above])) if above.any() else np.nan
    criterion = "fast enough for a smooth code by Stringer's criterion"
    if not below.any():
        text = f"no layer's dot spectrum decays {criterion}"
    elif below.all():
        text = f"every layer's dot spectrum decays {criterion}"
    else:
        text = (f"the layers whose dot spectrum passes Stringer's criterion have a median action of "
                f"{med_below:.3g}, against {med_above:.3g} for the others")
    return StringerCheck(int(ok.sum()), int(below.sum()), med_below, med_above, text)


def last_dot_pc(actions: Actions) -> int:
    """The last PC any dot-response fit used (0: no layer had enough PCs to fit)."""
    return int(max((r.dot_fit.fit_range[1] for acts in actions for r in acts.values() if r.dot_fit is not None),
                   default=0))




# ---------------------------------------------------------------------------------------------------------------
# Controls, seeds and the scaling law: tables are seed_table's (layers x (network, seed)), the control 'untrained'.

GROUPS = {"conv stages": CONV_DEPTHS, "dense layers": DENSE_DEPTHS}


def _labels(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table.columns.get_level_values("network")))


def _mean_sd(values: Sequence[float], digits: int = 2) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "n/a"
    return f"{v.mean():+.{digits}f}" + (f" ± {v.std(ddof=1):.{digits}f}" if v.size > 1 else "")


def trend_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Spearman(depth, value) within the conv stages and within the dense layers: 'mean ± sd' over seeds per label."""
    rho = depth_correlations(table, GROUPS)
    labels = rho.index.get_level_values("network")
    out = pd.DataFrame({g: [_mean_sd(rho[g][labels == lab], digits) for lab in _labels(table)] for g in GROUPS},
                       index=pd.Index(_labels(table), name="network"))
    return out


def control_ratio_table(table: pd.DataFrame, control: str = CONTROL) -> pd.DataFrame:
    """Trained over untrained (same seed), geometric mean over each group's layers: 'mean ± sd' over seeds [ours]."""
    logs = paired_difference(np.log10(table), control)
    out = {}
    for g, layers in GROUPS.items():
        rows = [layer for layer in logs.index if layer in set(layers)]
        per_net = 10 ** logs.loc[rows].mean(axis=0) if rows else logs.iloc[0] * np.nan
        labels = per_net.index.get_level_values("network")
        out[g] = [_mean_sd(per_net[labels == lab], 2).lstrip("+") for lab in _labels(logs)]
    return pd.DataFrame(out, index=pd.Index(_labels(logs), name="network"))


def within_network_rho(x: pd.DataFrame, y: pd.DataFrame) -> pd.Series:
    """Spearman(x, y) over the layers of each network (column) of two seed tables of the same shape."""
    _check_same_shape(y, x=x)
    return pd.Series([_spearman(x[c], y[c]) if np.isfinite(x[c]).sum() > 2 else np.nan for c in y.columns],
                     index=y.columns)


@dataclass(frozen=True)
class AlphaRelation:
    """Fig. 4d in numbers: the mean action against alpha (natural images), within each network and pooled."""

    rho_within_text: str        # 'p = 0: +0.77 ± 0.05; ...; untrained: ...' (over seeds)
    rho_pooled_trained: float   # Spearman over every layer of every trained network
    rho_pooled_control: float   # ... of the untrained controls
    rho_pooled_all: float


def alpha_relation(table: pd.DataFrame, alpha: pd.DataFrame, control: str = CONTROL) -> AlphaRelation:
    """Spearman(alpha, mean action) inside each network (mean ± sd over seeds per label) and pooled [ours]."""
    rho = within_network_rho(alpha, table)
    labels = rho.index.get_level_values("network")
    text = "; ".join(f"{lab}: {_mean_sd(rho[labels == lab])}" for lab in _labels(table))
    net = table.columns.get_level_values("network")

    def pooled(mask: np.ndarray) -> float:
        x, y = alpha.loc[:, mask].to_numpy().ravel(), table.loc[:, mask].to_numpy().ravel()
        ok = np.isfinite(x) & np.isfinite(y)
        return _spearman(x[ok], y[ok]) if ok.sum() > 2 else np.nan
    return AlphaRelation(text, pooled(net != control), pooled(net == control), pooled(np.ones(len(net), bool)))


@dataclass(frozen=True)
class ScalingLaw:
    """The action's exponent against T in words: the input's, the classes of the layers, and what training changed."""

    input_exponent: float       # the pixels (depth 0), with its 95% interval and class
    input_ci_low: float
    input_ci_high: float
    input_regime: str
    smooth_below: float         # the class thresholds: midpoints between -1, 0 and +1
    hash_above: float
    trained_classes: str        # '12 smooth, 33 rough, 0 hash' over the trained networks' layers (input excluded)
    control_classes: str        # ... over the untrained controls' layers
    exponent_min: float         # range of the trained networks' exponents (input excluded)
    exponent_max: float
    conv_change: str            # trained minus untrained (same seed), mean over the conv stages: 'mean ± sd'
    dense_change: str           # ... over the dense layers
    norm_shift_max: float       # largest |exponent normalised - exponent raw| over all layers and networks
    norm_shift_median: float    # ... and its median


def scaling_law(scaling: Sequence[Mapping[str, ActionScaling]], keys: Sequence[Key],
                control: str = CONTROL) -> ScalingLaw:
    """The scaling exponents of every network (seed_table keys) summarised against the input and the controls."""
    exps = seed_table(scaling, keys, lambda s: s.exponent)
    if INPUT_DEPTH not in exps.index:
        raise ValueError(f"scaling: needs the layer {INPUT_DEPTH!r} (the pixels) as the baseline")
    first = scaling[0][INPUT_DEPTH]
    net = exps.columns.get_level_values("network")
    body = exps.drop(index=INPUT_DEPTH)

    def classes(mask: np.ndarray) -> str:
        found = [smoothness(v) for v in body.loc[:, mask].to_numpy().ravel()]
        return ", ".join(f"{found.count(c)} {c}" for c in SMOOTHNESS)
    diff = paired_difference(exps, control)

    def change(layers: Sequence[str]) -> str:
        rows = [layer for layer in diff.index if layer in set(layers)]
        return _mean_sd(diff.loc[rows].mean(axis=0)) if rows else "n/a"
    trained = body.loc[:, net != control].to_numpy()
    shift = [abs(s.exponent - s.raw_exponent) for per in scaling for s in per.values()]
    return ScalingLaw(first.exponent, first.ci_low, first.ci_high, first.regime, SMOOTH_BELOW, HASH_ABOVE,
                      classes(net != control), classes(net == control), float(np.nanmin(trained)),
                      float(np.nanmax(trained)), change(CONV_DEPTHS), change(DENSE_DEPTHS), float(max(shift)),
                      float(np.median(shift)))


@dataclass(frozen=True)
class ActionTheory:
    """The un-normalised action against the note's theory: the i.i.d. expectation (k/m) T tr Sigma, and zeta."""

    ratio_trained_min: float    # measured / i.i.d. mean action (= 1 - lag-1 autocorrelation), trained layers
    ratio_trained_max: float
    ratio_control_median: float
    ratio_trained_median: float
    ratio_input: float
    n_note: int                 # layer-network pairs whose dot alpha < -1, where lambda_1 zeta(-alpha) is defined
    n_pairs: int
    note_ratio_min: float       # lambda_1 zeta(-alpha) / tr Sigma over those pairs
    note_ratio_max: float
    printed_factor_min: float   # the note's 1/2 tr Sigma over the correct (k/2m) tr Sigma: m / k
    printed_factor_max: float


def action_theory(actions: Actions, keys: Sequence[Key], control: str = CONTROL) -> ActionTheory:
    """Measured un-normalised mean action against its i.i.d.-frames expectation and the note's zeta approximation."""
    ratio = seed_table(actions, keys, lambda r: r.raw_expected / r.iid_expected)
    note = seed_table(actions, keys, lambda r: r.note_trace / r.trace)
    net = ratio.columns.get_level_values("network")
    body = ratio.drop(index=INPUT_DEPTH, errors="ignore")
    tr, ct = body.loc[:, net != control].to_numpy(), body.loc[:, net == control].to_numpy()
    ok = np.isfinite(note.to_numpy())
    factors = [r.n_units / r.k for per in actions for r in per.values()]
    return ActionTheory(
        float(np.nanmin(tr)), float(np.nanmax(tr)), float(np.nanmedian(ct)) if ct.size else np.nan,
        float(np.nanmedian(tr)),
        float(ratio.loc[INPUT_DEPTH].iloc[0]) if INPUT_DEPTH in ratio.index else np.nan,
        int(ok.sum()), int(ok.size), float(np.nanmin(note.to_numpy())) if ok.any() else np.nan,
        float(np.nanmax(note.to_numpy())) if ok.any() else np.nan, float(min(factors)), float(max(factors)))


@dataclass(frozen=True)
class TrackingR2:
    """The authors' second metric: R^2 of the projected trajectory on (cos theta_t, sin theta_t), by layer."""

    r2_input: float
    r2_trained_min: float       # over the trained networks' layers (mean over projections, input excluded)
    r2_trained_max: float
    r2_control_min: float
    r2_control_max: float
    r2_noise: float             # what independent frames give on average: 2 / (T - 1)


def tracking_r2(actions: Actions, keys: Sequence[Key], control: str = CONTROL) -> TrackingR2:
    """The range of the mean R^2 over trained and control layers, the input's, and the noise level 2/(T - 1)."""
    r2 = seed_table(actions, keys, lambda r: r.r2_mean)
    net = r2.columns.get_level_values("network")
    body = r2.drop(index=INPUT_DEPTH, errors="ignore")
    tr, ct = body.loc[:, net != control].to_numpy(), body.loc[:, net == control].to_numpy()
    n_frames = next(iter(actions[0].values())).n_frames
    return TrackingR2(float(r2.loc[INPUT_DEPTH].iloc[0]) if INPUT_DEPTH in r2.index else np.nan,
                      float(np.nanmin(tr)), float(np.nanmax(tr)), float(np.nanmin(ct)) if ct.size else np.nan,
                      float(np.nanmax(ct)) if ct.size else np.nan, 2 / (n_frames - 1))


def exponent_table(scaling: Sequence[Mapping[str, ActionScaling]], keys: Sequence[Key]) -> pd.DataFrame:
    """The exponent of action vs T by layer (rows) and label (columns): 'mean ± sd (class of the mean)' [ours]."""
    stats = over_seeds(seed_table(scaling, keys, lambda s: s.exponent))
    text = format_mean_sd(stats)
    return text + stats.mean.map(lambda v: f" ({smoothness(v)})")


def action_claims(table: pd.DataFrame, alpha: pd.DataFrame, *, testable: bool, why_not: str = "",
                  control: str = CONTROL, min_rho: float = 0.5) -> dict[str, str]:
    """Figs. 4c and 4d judged on the trained networks against their untrained twins (glue names of claims.Claim,
    by claims.controlled_verdict): the action ordered by depth within the conv stages (|Spearman| >= min_rho), and
    steeper spectra with smoother trajectories (Spearman of alpha with the action > 0 inside each network) [ours:
    the rule; paper: the claims]."""
    min_rho = check_float_in(min_rho, "min_rho", 0.0, 1.0)
    _check_same_shape(table, alpha=alpha)
    trained = table.columns.get_level_values("network") != control
    if not trained.any():
        raise ValueError("table: holds no trained network")
    conv = depth_correlations(table, {"conv": GROUPS["conv stages"]})["conv"]
    ordered = conv.abs() >= min_rho
    trend = "; ".join(f"{lab}: {_mean_sd(conv[conv.index.get_level_values('network') == lab])}"
                      for lab in _labels(table))
    rho = within_network_rho(alpha, table)
    n_trained, n_control = int(trained.sum()), int((~trained).sum())
    fig4c = controlled_verdict(
        "fig4c", int(ordered[trained].sum()), n_trained,
        control_effect(conv.abs(), "|Spearman(depth, action)| over the conv stages, trained − untrained", control),
        cases="trained networks", testable=testable, why_not=why_not,
        measured=f"Spearman(depth, action) over the conv stages: {trend}",
        holds=f"the action is ordered by depth within the conv stages (|Spearman| >= {min_rho:g})",
        control_holds=f"ordered so in {int(ordered[~trained].sum())} of {n_control} untrained networks")
    fig4d = controlled_verdict(
        "fig4d", int((rho[trained] > 0).sum()), n_trained,
        control_effect(rho, "Spearman(alpha, action) within each network, trained − untrained", control),
        cases="trained networks", testable=testable, why_not=why_not,
        measured=("Spearman(alpha, action) within each network: "
                  + alpha_relation(table, alpha, control).rho_within_text),
        holds="layers with steeper spectra have smoother trajectories inside the network",
        control_holds=f"so in {int((rho[~trained] > 0).sum())} of {n_control} untrained networks")
    return {**fig4c.glued(), **fig4d.glued()}
