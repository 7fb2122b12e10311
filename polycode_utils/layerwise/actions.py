"""A moving dot's trajectories layer by layer (Fig. 4): random projections, their action, and chapter 6's numbers.

The action of z_1..z_T is 1/2 sum ||z_{t+1} - z_t||^2; projections have entries N(0, 1/m) (book/methods.md).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from polycode_utils.activations import record_activations
from polycode_utils.checks import check_choice, check_int
from polycode_utils.projections import action, random_projections
from polycode_utils.layerwise.common import _check_same_shape, _direction, _spearman
from polycode_utils.layerwise.eigenspectra import _check_fit_range
from polycode_utils.spectra import (FIT_METHODS, FitQuality, PowerLawFit, clip_fit_range, fit_power_law, fit_quality,
                                    principal_components)

NORMALISATIONS = ("variance", "none")


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


def dot_actions(model: nn.Module, frames: np.ndarray | torch.Tensor, layers: Sequence[str] | None = None, *,
                n_projections: int = 1000, k: int = 3, seed: int = 0, normalise: str = "variance",
                closed: bool = True, n_keep: int = 3, fit_range: Sequence[int] = (1, 500),
                method: str = "huber") -> OrderedDict[str, LayerAction]:
    """Action of n_projections random k-D projections of each layer's trajectory over the frames (Fig. 4b-d)."""
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
    n_frames = int(torch.as_tensor(frames).shape[0]) if isinstance(frames, (np.ndarray, torch.Tensor)) else 0
    if n_frames < 2:
        raise ValueError(f"frames: need an array (T, C, H, W) with T >= 2 frames, "
                         f"got {getattr(frames, 'shape', frames)!r}")
    acts = record_activations(model, frames, layers)
    out: OrderedDict[str, LayerAction] = OrderedDict()
    for name, a in acts.items():
        a64 = a.astype(np.float64)
        centred = a64 - a64.mean(axis=0)
        m = a64.shape[1]
        variance = float(np.sum(centred ** 2)) / (n_frames * m)  # mean per-unit variance over the frames
        scale = 1.0 / math.sqrt(variance) if normalise == "variance" and variance > 0 else 1.0
        x = centred * scale
        steps = np.diff(np.concatenate([x, x[:1]]) if closed else x, axis=0)
        expected = 0.5 * (k / m) * float(np.sum(steps ** 2))
        z = random_projections(x.astype(np.float32), n_projections, k, seed)
        acts_p = action(z.astype(np.float64), closed=closed)
        dot_fit = dot_q = None
        lam, _ = principal_components(x)
        rng = clip_fit_range(lam, fit_range, n_frames)
        if rng[1] - rng[0] + 1 >= 3 and lam[0] > 0:
            dot_fit = fit_power_law(lam, rng, method)
            dot_q = fit_quality(lam, dot_fit)
        out[name] = LayerAction(name, m, np.asarray(acts_p), expected, scale, np.asarray(z[:n_keep]), dot_fit, dot_q,
                                float(np.mean(a)))
    return out


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


