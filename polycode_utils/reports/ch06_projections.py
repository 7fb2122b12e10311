"""Chapter 6's words and numbers: the summaries of Fig. 4, the action's controls, seeds and scaling law, and
the claims it states, from the actions that layerwise.actions measures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from polycode_utils.checks import check_choice, check_float_in
from polycode_utils.theory.claims import controlled_verdict
from polycode_utils.layerwise.actions import (HASH_ABOVE, NORMALISATIONS, SMOOTH_BELOW, SMOOTHNESS, ActionScaling,
                                              LayerAction, iid_action, smoothness, stringer_bound)
from polycode_utils.layerwise.common import (CONTROL, Key, _check_same_shape, _direction, _spearman, control_effect,
                                             depth_correlations, format_mean_sd, mean_sd, over_seeds, paired_difference,
                                             seed_table)
from polycode_utils.networks.models import CONV_DEPTHS, CONV_PART, DENSE_DEPTHS, DEPTH_PARTS, INPUT_DEPTH
from polycode_utils.reports.results import claim_values


# ---------------------------------------------------------------------------------------------------------------
# Summaries of Fig. 4: the numbers and verdicts chapter 6 states, computed from its actions and spectra.
# `actions` is one {layer: LayerAction} per network (depth order); tables are seed_table's (layers x networks).

Actions = Sequence[Mapping[str, LayerAction]]

def shown_network_index(show_dropout: float, rates: Sequence[float]) -> int:
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


def _labels(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table.columns.get_level_values("network")))


def _mean_sd(values: Sequence[float], digits: int = 2) -> str:
    """mean_sd of the finite values, signed ('n/a' without any)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "n/a"
    return mean_sd(v.mean(), v.std(ddof=1) if v.size > 1 else float("nan"), digits, sign=True)


def trend_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Spearman(depth, value) within the conv stages and within the dense layers: 'mean ± sd' over seeds per label."""
    rho = depth_correlations(table, DEPTH_PARTS)
    labels = rho.index.get_level_values("network")
    out = pd.DataFrame({g: [_mean_sd(rho[g][labels == lab], digits) for lab in _labels(table)] for g in DEPTH_PARTS},
                       index=pd.Index(_labels(table), name="network"))
    return out


def control_ratio_table(table: pd.DataFrame, control: str = CONTROL) -> pd.DataFrame:
    """Trained over untrained (same seed), geometric mean over each group's layers: 'mean ± sd' over seeds [ours]."""
    logs = paired_difference(np.log10(table), control)
    out = {}
    for g, layers in DEPTH_PARTS.items():
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
                  control: str = CONTROL, min_rho: float = 0.5) -> dict[str, object]:
    """Figs. 4c and 4d judged on the trained networks against their untrained twins (claim_values, by
    claims.controlled_verdict): the action ordered by depth within the conv stages (|Spearman| >= min_rho), and
    steeper spectra with smoother trajectories (Spearman of alpha with the action > 0 inside each network) [ours:
    the rule; paper: the claims]."""
    min_rho = check_float_in(min_rho, "min_rho", 0.0, 1.0)
    _check_same_shape(table, alpha=alpha)
    trained = table.columns.get_level_values("network") != control
    if not trained.any():
        raise ValueError("table: holds no trained network")
    conv = depth_correlations(table, {CONV_PART: DEPTH_PARTS[CONV_PART]})[CONV_PART]
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
    return {**claim_values(fig4c, "Fig. 4c", "The action of random projections of a moving dot's trajectory changes "
                           "with depth"),
            **claim_values(fig4d, "Fig. 4d", "Steeper spectra go with smoother trajectories (lower action)")}
