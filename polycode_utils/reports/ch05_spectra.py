"""Chapter 5's words and numbers: the summaries of Figs. 3 and 5 and the claims it states, from the spectra
that layerwise.eigenspectra measures."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from polycode_utils.theory.capacity import power_law_entropy
from polycode_utils.checks import check_choice, check_float_in
from polycode_utils.theory.claims import controlled_verdict, count_verdict
from polycode_utils.networks.grid import rate_label
from polycode_utils.layerwise.common import (CONTROL, Key, _direction, _spearman, control_effect, depth_correlations,
                                             format_mean_sd, mean_sd, over_seeds, paired_difference, seed_table)
from polycode_utils.layerwise.eigenspectra import CrossValidated, LayerSpectrum
from polycode_utils.networks.models import CONV_DEPTHS, CONV_PART, DENSE_DEPTHS, DENSE_PART, DEPTH_PARTS, INPUT_DEPTH
from polycode_utils.reports.results import claim_values
from polycode_utils.instruments.spectra import FIT_METHODS


# ---------------------------------------------------------------------------------------------------------------
# Summaries of Figs. 3 and 5: the numbers and verdicts chapter 5 states, computed from its spectra. `spectra` is one
# {layer: LayerSpectrum} per network (depth order), `keys` the networks' (label, seed): rate_label(p) or CONTROL.
# Every comparison is over seeds: mean and SD of each label's networks; "beyond the seed spread" means by more than
# `k` (2) SDs of the seed-paired differences [ours].

Spectra = Sequence[Mapping[str, LayerSpectrum]]


def seed_summary(results: Sequence[Mapping[str, object]], keys: Sequence[Key], value: Callable[[object], float],
                 digits: int = 2) -> pd.DataFrame:
    """'mean ± SD over seeds' of one quantity, layers by label (the chapter's tables)."""
    return format_mean_sd(over_seeds(seed_table(results, keys, value)), digits)


def _labels(keys: Sequence[Key]) -> list[str]:
    return list(dict.fromkeys(label for label, _ in keys))


def _trained(keys: Sequence[Key]) -> list[str]:
    return [label for label in _labels(keys) if label != CONTROL]


def _mean_sd_text(mean: pd.Series, sd: pd.Series) -> str:
    return "; ".join(f"{label} {mean_sd(m, d, sign=True)}" for label, m, d in zip(mean.index, mean, sd))


@dataclass(frozen=True)
class DepthTrend:
    """How alpha changes with depth (Fig. 3c), per part (conv stages, dense layers), the input left out [ours]."""

    rho_conv_text: str          # Spearman(depth, alpha) per label: mean ± SD over seeds
    rho_dense_text: str
    conv_direction: str         # over every trained network: 'more negative (steeper) with depth in every network'
    dense_direction: str
    conv_direction_control: str  # the same over the untrained controls
    n_trained: int
    n_seeds: int
    alpha_input: float          # the pixels themselves (layer 0)
    alpha_conv_min: float       # range of the seed-mean alpha of the trained networks, per part
    alpha_conv_max: float
    alpha_dense_min: float
    alpha_dense_max: float
    dense_units_min: int
    dense_units_max: int
    n_below_m1: int             # seed-mean estimates of trained layers below the critical line alpha = -1
    n_alpha: int


def depth_trend(spectra: Spectra, keys: Sequence[Key]) -> DepthTrend:
    """alpha against depth (Fig. 3c): Spearman per network within each part, over seeds, trained and control."""
    alpha = seed_table(spectra, keys, lambda s: s.alpha)
    body = alpha.drop(index=[INPUT_DEPTH], errors="ignore")
    rho = depth_correlations(body, DEPTH_PARTS)
    by_label = rho.groupby(level="network", sort=False)
    mean, sd = by_label.mean(), by_label.std(ddof=1)
    trained = [k for k in rho.index if k[0] != CONTROL]
    control = [k for k in rho.index if k[0] == CONTROL]
    stats = over_seeds(body)
    tr = stats.mean[_trained(keys)]
    conv = [name for name in tr.index if name in CONV_DEPTHS]
    dense = [name for name in tr.index if name in DENSE_DEPTHS]
    units = [spectra[0][name].n_units for name in dense] or [0]

    def span(rows: list[str], f: Callable) -> float:
        return float(f(tr.loc[rows].to_numpy())) if rows else np.nan

    def direction(part: str, nets: list) -> str:
        return _direction(rho.loc[nets, part], "less negative (flatter)", "more negative (steeper)") if nets else "n/a"

    return DepthTrend(
        rho_conv_text=_mean_sd_text(mean[CONV_PART], sd[CONV_PART]),
        rho_dense_text=_mean_sd_text(mean[DENSE_PART], sd[DENSE_PART]),
        conv_direction=direction(CONV_PART, trained), dense_direction=direction(DENSE_PART, trained),
        conv_direction_control=direction(CONV_PART, control), n_trained=len(trained),
        n_seeds=int(stats.n.max()), alpha_input=float(alpha.loc[INPUT_DEPTH].iloc[0]) if INPUT_DEPTH in alpha.index
        else np.nan, alpha_conv_min=span(conv, np.min), alpha_conv_max=span(conv, np.max),
        alpha_dense_min=span(dense, np.min), alpha_dense_max=span(dense, np.max),
        dense_units_min=int(min(units)), dense_units_max=int(max(units)),
        n_below_m1=int((tr < -1).sum().sum()), n_alpha=int(tr.size))


def _beyond_seed_spread(diff: pd.DataFrame, k: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Mean and SD over seeds of paired differences, and where |mean| > k SD (False where SD is undefined)."""
    stats = over_seeds(diff)
    return stats.mean, stats.sd, (stats.mean.abs() > k * stats.sd) & stats.sd.notna()


@dataclass(frozen=True)
class ClaimResolution:
    """Whether this run can test the paper's claims: are its effects larger than its seed spread? [ours]"""

    n_training_beyond: int      # (layer, rate) cells where training moved alpha beyond k seed SDs
    n_cells: int
    n_dropout_beyond: int       # layers where the highest rate moved alpha from p = lowest beyond k seed SDs
    n_resolved_layers: int     # layers compared for the dropout effect
    training_effect_text: str   # the largest training effect: 'training steepened fc1 by 0.35 ± 0.05 (p = 0.8)'
    dropout_effect_text: str    # the largest dropout effect, the same way
    can_test_text: str          # the verdict stated at the top of the chapter


def _effect_text(mean: pd.DataFrame, sd: pd.DataFrame, what: str) -> str:
    if mean.size == 0:
        return f"no {what} effect could be measured"
    layer, label = mean.abs().stack().idxmax()
    m, d = float(mean.loc[layer, label]), float(sd.loc[layer, label])
    spread = f" ± {d:.2f}" if np.isfinite(d) else ""
    return f"{what} {'steepened' if m < 0 else 'flattened'} {layer} by {abs(m):.2f}{spread} ({label})"


def claim_resolution(spectra: Spectra, keys: Sequence[Key], k: float = 2.0) -> ClaimResolution:
    """Trained minus untrained (same seed) and highest minus lowest dropout rate (same seed: the same initial
    weights), per layer, against k seed SDs of those differences: what this run can and cannot resolve [ours]."""
    k = check_float_in(k, "k", 0.0, 100.0)
    alpha = seed_table(spectra, keys, lambda s: s.alpha).drop(index=[INPUT_DEPTH], errors="ignore")
    trained = _trained(keys)
    t_mean, t_sd, t_beyond = _beyond_seed_spread(paired_difference(alpha), k)
    if len(trained) >= 2:
        d = paired_difference(alpha, control=trained[0])
        d = d.loc[:, [c for c in d.columns if c[0] == trained[-1]]]
        r_mean, r_sd, r_beyond = _beyond_seed_spread(d, k)
        r_mean.columns = r_sd.columns = [f"{trained[-1]} minus {trained[0]}"]
    else:
        r_mean = r_sd = r_beyond = pd.DataFrame(index=alpha.index)
    n_t, n_r, cells, layers = int(t_beyond.sum().sum()), int(r_beyond.sum().sum()), t_beyond.size, len(alpha)
    n_seeds = int(over_seeds(alpha).n.min())
    if n_seeds < 2:
        verdict = ("With one seed per network this run has no seed spread, so it cannot tell an effect of training "
                   "or dropout from the variation between networks: it cannot test the paper's claims.")
    else:
        verdict = (f"Training moved alpha by more than {k:g} seed SDs in {n_t} of {cells} (layer, rate) cells, and "
                   f"the highest dropout rate moved it from the lowest by more than {k:g} seed SDs in {n_r} of "
                   f"{layers} layers. " + (
                       "The spectra can resolve effects of dropout in those layers only (whether they say anything "
                       "about trained codes depends on how well the networks learnt)."
                       if n_r else "This run therefore cannot test the paper's claims about dropout: its effects on "
                                   "alpha are within the seed-to-seed spread.")
                   + ("" if n_t else " Nor can it tell its trained layers from untrained ones."))
    return ClaimResolution(n_training_beyond=n_t, n_cells=cells, n_dropout_beyond=n_r, n_resolved_layers=layers,
                       training_effect_text=_effect_text(t_mean, t_sd, "training"),
                       dropout_effect_text=_effect_text(r_mean, r_sd, "dropout"), can_test_text=verdict)


@dataclass(frozen=True)
class LeadingComponent:
    """What PC 1 is: its share of each layer's variance and its |correlation| with the images' mean brightness."""

    pc1_share_max: float        # seed-mean share over trained (layer, rate) cells, input excluded: largest, where
    pc1_share_max_where: str
    pc1_share_min: float
    pc1_share_min_where: str
    pc1_corr_min: float         # seed-mean |corr| with brightness over the same cells
    pc1_corr_max: float
    n_bright: int               # trained cells whose PC 1 follows brightness (|corr| >= threshold)
    n_pc1_cells: int
    n_bright_control: int       # the same in the untrained control, per layer
    n_control_layers: int
    pc1_input_share: float      # the pixels themselves
    pc1_input_corr: float
    brightness_threshold: float


def leading_component(spectra: Spectra, keys: Sequence[Key], threshold: float = 0.7) -> LeadingComponent:
    """PC 1 per layer: share of variance and |corr| with mean brightness, seed means, trained vs control [ours]."""
    threshold = check_float_in(threshold, "threshold", 0.0, 1.0)
    share = over_seeds(seed_table(spectra, keys, lambda s: s.pc1_share)).mean
    corr = over_seeds(seed_table(spectra, keys, lambda s: s.pc1_corr)).mean
    body = [name for name in share.index if name != INPUT_DEPTH]
    trained = _trained(keys)
    sh, co = share.loc[body, trained], corr.loc[body, trained]
    (hi_l, hi_p), (lo_l, lo_p) = sh.stack().idxmax(), sh.stack().idxmin()
    ctrl = corr.loc[body, CONTROL] if CONTROL in corr.columns else pd.Series(dtype=float)
    has_input = INPUT_DEPTH in share.index
    return LeadingComponent(
        pc1_share_max=float(sh.loc[hi_l, hi_p]), pc1_share_max_where=f"{hi_l} at {hi_p}",
        pc1_share_min=float(sh.loc[lo_l, lo_p]), pc1_share_min_where=f"{lo_l} at {lo_p}",
        pc1_corr_min=float(np.nanmin(co.to_numpy())), pc1_corr_max=float(np.nanmax(co.to_numpy())),
        n_bright=int((co >= threshold).sum().sum()), n_pc1_cells=int(co.size),
        n_bright_control=int((ctrl >= threshold).sum()), n_control_layers=int(ctrl.size),
        pc1_input_share=float(share.loc[INPUT_DEPTH].iloc[0]) if has_input else np.nan,
        pc1_input_corr=float(corr.loc[INPUT_DEPTH].iloc[0]) if has_input else np.nan,
        brightness_threshold=threshold)


@dataclass(frozen=True)
class MethodSpread:
    """How much the fitting method moves alpha over the same PCs (Huber against OLS and WLS) [ours]."""

    diff_ols: float             # largest |Huber - OLS| and |Huber - WLS| over all spectra, and their medians
    diff_wls: float
    med_ols: float
    med_wls: float
    ols_beyond_text: str        # in how many spectra OLS differs by more than Huber's interval width


def method_spread(spectra: Spectra) -> MethodSpread:
    """The spread of alpha between Huber, OLS and WLS fits of the same spectra (chapter 5's methods table)."""
    all_s = list({id(s): s for spec in spectra for s in spec.values()}.values())  # the shared input counted once
    ols = np.array([abs(s.alphas["huber"] - s.alphas["ols"]) for s in all_s])
    wls = np.array([abs(s.alphas["huber"] - s.alphas["wls"]) for s in all_s])
    if np.isfinite(all_s[0].ci[0]):
        beyond = int(sum(d > s.ci[1] - s.ci[0] for d, s in zip(ols, all_s)))
        text = (f"in {beyond} of the {len(all_s)} spectra the OLS estimate differs from Huber's by more than the "
                f"width of Huber's interval over evaluation sets")
    else:
        text = "with one evaluation set there is no interval to compare the differences with"
    return MethodSpread(float(ols.max()), float(wls.max()), float(np.median(ols)), float(np.median(wls)), text)


def format_quality(s: LayerSpectrum, min_r2: float) -> str:
    """R^2 / curvature / cliff@PC of one spectrum, starred below min_r2: '0.981 / +0.12 / 0.35@7 ✱'."""
    q = s.quality
    return f"{q.r2:.3f} / {q.curvature:+.2f} / {q.cliff:.2f}@{q.cliff_at}" + (" ✱" if q.r2 < min_r2 else "")


@dataclass(frozen=True)
class PowerLawDeviations:
    """Which spectra are far from a power law (R^2 < min_r2) and where the largest cliffs are [ours]."""

    n_far: int
    n_spectra: int
    far_text: str               # per layer: in how many networks it is far
    far_summary: str            # how many of them lie in the dense layers
    cliff_text: str             # the three largest cliffs
    cliff_conv: float           # median cliff over the conv stages and over the dense layers (decades)
    cliff_dense: float


def power_law_deviations(spectra: Spectra, keys: Sequence[Key], min_r2: float) -> PowerLawDeviations:
    """Spectra far from a power law by R^2 and the largest cliffs (the paper's 'later layers deviate') [ours]."""
    min_r2 = check_float_in(min_r2, "min_r2", 0.0, 1.0)
    if len(spectra) != len(keys):
        raise ValueError(f"keys: need one (label, seed) per network, got {len(keys)} for {len(spectra)}")
    cells = [(name, f"{label} #{seed}", s) for (label, seed), spec in zip(keys, spectra) for name, s in spec.items()
             if name != INPUT_DEPTH]
    far = [(name, net, s) for name, net, s in cells if s.quality.r2 < min_r2]
    layers = list(dict.fromkeys(name for name, _, _ in cells))
    if far:
        far_text = "; ".join(f"{name} in {n} of {len(spectra)} networks" for name in layers
                             if (n := sum(f[0] == name for f in far)))
        dense = sum(name in DENSE_DEPTHS for name, _, _ in far)
        far_summary = f"{dense} of them are dense layers, {len(far) - dense} convolutional stages"
    else:
        far_text, far_summary = "none", "every measured spectrum is close to a power law by this criterion"
    cliffs = sorted(((s.quality.cliff, name, net, s.quality.cliff_at) for name, net, s in cells), reverse=True)
    conv = [s.quality.cliff for name, _, s in cells if name in CONV_DEPTHS]
    dense_c = [s.quality.cliff for name, _, s in cells if name in DENSE_DEPTHS]
    return PowerLawDeviations(
        n_far=len(far), n_spectra=len(cells), far_text=far_text, far_summary=far_summary,
        cliff_text="; ".join(f"{name} in {net}, {c:.2f} decades after PC {at}" for c, name, net, at in cliffs[:3]),
        cliff_conv=float(np.median(conv)) if conv else np.nan,
        cliff_dense=float(np.median(dense_c)) if dense_c else np.nan)


@dataclass(frozen=True)
class DropoutShape:
    """Fig. 5's question over seeds: does a layer's spectrum deviate more from a power law at higher dropout?"""

    f5_rms_first: float         # the chosen layer, seed means at the lowest and highest rate (SDs beside)
    f5_rms_first_sd: float
    f5_rms_last: float
    f5_rms_last_sd: float
    f5_rms_control: float       # the untrained control's (seed mean)
    f5_c2_first: float
    f5_c2_last: float
    f5_alpha_first: float
    f5_alpha_last: float
    f5_cliff_first: float
    f5_cliff_last: float
    p_first: float
    p_last: float
    rho_f5: float               # Spearman of that layer's seed-mean deviation with the rate
    n_layers: int               # layers compared (the input, which dropout cannot touch, left out)
    n_more_dev: int             # layers deviating more (seed means) at the highest rate than at the lowest
    n_more_beyond: int          # ... by more than k SDs of the seed-paired difference
    n_up: int                   # layers whose seed-mean deviation correlates positively with the rate (>= 0.8)
    n_up_strong: int
    cliff_mean_first: float     # the cliff averaged over layers and seeds, lowest and highest rate
    cliff_mean_last: float
    n_c2_pos: int               # trained spectra with positive curvature (they flatten after a steep head)
    n_c2: int
    f5_verdict: str             # consistent / partly consistent / not settled / not consistent


def dropout_shape(spectra: Spectra, keys: Sequence[Key], rates: Sequence[float], layer: str, k: float = 2.0
                  ) -> DropoutShape:
    """The deviation from a power law against the dropout rate, seed means, for one layer and all (Fig. 5)."""
    trained = [rate_label(p) for p in rates]
    if trained != _trained(keys):
        raise ValueError(f"rates: expected the trained labels of keys {_trained(keys)}, got {trained}")
    layers = [name for name in spectra[0] if name != INPUT_DEPTH]
    check_choice(layer, "fig5_layer (one of the measured layers, not the input)", layers)

    def table(value: Callable[[LayerSpectrum], float]) -> pd.DataFrame:
        return seed_table(spectra, keys, value).loc[layers]

    rms, c2, cliff = table(lambda s: s.quality.rms_residual), table(lambda s: s.quality.curvature), \
        table(lambda s: s.quality.cliff)
    stats = over_seeds(rms)
    mean = stats.mean[trained]
    first, last = trained[0], trained[-1]
    n = len(trained)
    rho = {name: _spearman(rates, mean.loc[name]) if n >= 3 else float(np.sign(mean.loc[name, last] -
                                                                                mean.loc[name, first]))
           for name in layers}
    n_more = int((mean[last] > mean[first]).sum())
    n_beyond = int(_deviation_grows_beyond_seeds(spectra, keys, rates, k).loc[layers].sum())
    if n_more <= len(layers) / 2:
        verdict = ("not consistent with the paper's claim: most layers do not deviate more from a power law at the "
                   "highest dropout rate than at the lowest (seed means)")
    elif n_beyond == len(layers):
        verdict = ("consistent with the paper's claim: every layer deviates more from a power law at the highest "
                   f"dropout rate than at the lowest, beyond {k:g} seed SDs")
    elif n_beyond > len(layers) / 2:
        verdict = ("partly consistent with the paper's claim: most layers deviate more from a power law at the "
                   f"highest dropout rate than at the lowest, beyond {k:g} seed SDs")
    else:
        verdict = ("not settled by this run: most layers deviate more at the highest dropout rate on average, but in "
                   f"only {n_beyond} of {len(layers)} by more than {k:g} seed SDs")
    c2_tr = c2[[c for c in c2.columns if c[0] != CONTROL]]
    alpha = over_seeds(table(lambda s: s.alpha)).mean
    cm = over_seeds(cliff).mean
    q = over_seeds(c2).mean
    return DropoutShape(
        f5_rms_first=float(mean.loc[layer, first]), f5_rms_first_sd=float(stats.sd.loc[layer, first]),
        f5_rms_last=float(mean.loc[layer, last]), f5_rms_last_sd=float(stats.sd.loc[layer, last]),
        f5_rms_control=float(stats.mean.loc[layer, CONTROL]) if CONTROL in stats.mean.columns else np.nan,
        f5_c2_first=float(q.loc[layer, first]), f5_c2_last=float(q.loc[layer, last]),
        f5_alpha_first=float(alpha.loc[layer, first]), f5_alpha_last=float(alpha.loc[layer, last]),
        f5_cliff_first=float(cm.loc[layer, first]), f5_cliff_last=float(cm.loc[layer, last]),
        p_first=float(rates[0]), p_last=float(rates[-1]), rho_f5=float(rho[layer]), n_layers=len(layers),
        n_more_dev=n_more, n_more_beyond=n_beyond, n_up=int(sum(r > 0 for r in rho.values())),
        n_up_strong=int(sum(r >= 0.8 for r in rho.values())), cliff_mean_first=float(cm[first].mean()),
        cliff_mean_last=float(cm[last].mean()), n_c2_pos=int((c2_tr > 0).sum().sum()), n_c2=int(c2_tr.size),
        f5_verdict=verdict)


def bits_lost(s: LayerSpectrum) -> tuple[float, float]:
    """Bits per unit a layer loses to its decaying spectrum over its fit range, measured and by Theorem 4 (corrected).

    With unit i's scale sigma_i = sqrt(lambda_i / lambda_1), n bits at the top unit leave n + log2 sigma_i at unit i
    (the note's Theorem 4); the loss over PCs 1..m is -1/2 sum log2(lambda_i / lambda_1) measured, and
    -(alpha/2) log2(m!) for an exact power law of eigenvalue exponent alpha (capacity.power_law_entropy) [ours].
    """
    m = s.fit.fit_range[1]
    lam = s.eigenvalues[:m]
    measured = -0.5 * float(np.sum(np.log2(lam / lam[0])))
    predicted = m - power_law_entropy(m, 1.0, s.alpha, variance_exponent=True).exact  # n = 1 bit: it cancels
    return measured / m, predicted / m


def cv_label(p: float) -> str:
    """The label of an untrained control measured with dropout noise at rate p: 'untrained (p = 0.8)'."""
    return f"{CONTROL} ({rate_label(p)})"


@dataclass(frozen=True)
class ReliableShares:
    """The cvPCA reliable share at the highest dropout rate, trained against untrained (seed means) [ours]."""

    cv_rel_min: float
    cv_rel_min_layer: str
    cv_rel_max: float
    cv_rel_max_layer: str
    cv_ctrl_min: float          # the untrained control with the same dropout noise
    cv_ctrl_max: float
    n_cv_above: int             # layers where training raised the share beyond k seed SDs (seed-paired)
    n_cv_below: int             # ... lowered it
    n_cv_layers: int
    cv_p: float


def reliable_shares(cv: Sequence[Mapping[str, CrossValidated]], keys: Sequence[Key], p: float, k: float = 2.0
                    ) -> ReliableShares:
    """Where the rate-p networks keep the least and the most of their variance across repeats, and how they
    differ from their untrained controls at the same rate (keys: rate_label(p) and cv_label(p))."""
    table = seed_table(cv, keys, lambda c: c.reliable_share())
    trained, control = rate_label(p), cv_label(p)
    labels = _labels(keys)
    if trained not in labels or control not in labels:
        raise ValueError(f"p: need networks labelled {trained!r} and {control!r} in keys, got {labels}")
    mean = over_seeds(table).mean
    d = paired_difference(table, control=control)
    d_mean, _, beyond = _beyond_seed_spread(d.loc[:, [c for c in d.columns if c[0] == trained]], k)
    return ReliableShares(
        cv_rel_min=float(mean[trained].min()), cv_rel_min_layer=str(mean[trained].idxmin()),
        cv_rel_max=float(mean[trained].max()), cv_rel_max_layer=str(mean[trained].idxmax()),
        cv_ctrl_min=float(mean[control].min()), cv_ctrl_max=float(mean[control].max()),
        n_cv_above=int((beyond & (d_mean > 0)).sum().sum()), n_cv_below=int((beyond & (d_mean < 0)).sum().sum()),
        n_cv_layers=len(mean), cv_p=float(p))


def spectra_claims(spectra: Spectra, spectra_pc2: Spectra, keys: Sequence[Key], rates: Sequence[float], layer: str,
                   *, testable: bool, why_not: str = "", min_rho: float = 0.5, k: float = 2.0) -> dict[str, object]:
    """Figs. 3c and 5 judged on the trained networks (claim_values: glue names and results rows) [ours: the rule;
    paper: the claims]. Fig. 3c: alpha ordered by depth (|Spearman| >= min_rho) within each part of each trained
    network, against the untrained twins (claims.controlled_verdict).
    Fig. 5: a layer deviates more from a power law at the highest rate than at the lowest by more than k seed SDs,
    in fits from PC 1 and still in fits after PC 1 (spectra_pc2: refit_from), since PC 1 alone can make the change."""
    min_rho = check_float_in(min_rho, "min_rho", 0.0, 1.0)
    body = seed_table(spectra, keys, lambda s: s.alpha).drop(index=[INPUT_DEPTH], errors="ignore")
    rho = depth_correlations(body, DEPTH_PARTS)
    held = ((rho.abs() >= min_rho) | rho.isna()).all(axis=1) & rho.notna().any(axis=1)  # in every part
    trained = np.array([key[0] != CONTROL for key in rho.index])
    trend = depth_trend(spectra, keys)
    fig3c = controlled_verdict(
        "fig3c", int(held[trained].sum()), max(int(trained.sum()), 1),
        control_effect(rho.abs().mean(axis=1), "mean |Spearman(depth, alpha)| over the parts, trained − untrained"),
        cases="trained networks", testable=testable, why_not=why_not,
        holds=f"alpha is ordered by depth (|Spearman| >= {min_rho:g}) within every part",
        control_holds=f"ordered so in {int(held[~trained].sum())} of {int((~trained).sum())} untrained networks",
        measured=f"Spearman(depth, alpha), conv stages: {trend.rho_conv_text}; dense layers: "
                 f"{trend.rho_dense_text} (mean ± SD over seeds; untrained: the control)")
    d1, d2 = (dropout_shape(s, keys, rates, layer, k) for s in (spectra, spectra_pc2))
    both = (_deviation_grows_beyond_seeds(spectra, keys, rates, k)
            & _deviation_grows_beyond_seeds(spectra_pc2, keys, rates, k))
    fig5 = count_verdict("fig5", int(both.sum()), len(both), cases="layers", testable=testable, why_not=why_not,
                         control=f"the lowest rate, p = {rates[0]:g}, seed by seed (layers of the same networks, "
                                 "so the layers are not independent cases)",
                         holds=f"the deviation from a power law grows from p = {rates[0]:g} to p = {rates[-1]:g} by "
                               f"more than {k:g} seed SDs, fitted from PC 1 and from PC 2",
                         measured=f"layers deviating more at p = {rates[-1]:g} beyond {k:g} seed SDs: "
                                  f"{d1.n_more_beyond} of {d1.n_layers} fitted from PC 1, {d2.n_more_beyond} from "
                                  f"PC 2; {layer}: rms {d1.f5_rms_first:.3f} → {d1.f5_rms_last:.3f} decades "
                                  f"(untrained {d1.f5_rms_control:.3f})")
    return {**claim_values(fig3c, "Fig. 3b–c", r"The eigenspectrum's exponent $\alpha$ changes with depth in the "
                           "trained autoencoder"),
            **claim_values(fig5, "Fig. 5", "More dropout makes a layer's spectrum deviate more from a power law: a "
                           "more redundant code")}


def _deviation_grows_beyond_seeds(spectra: Spectra, keys: Sequence[Key], rates: Sequence[float], k: float) -> pd.Series:
    """Per layer (the input left out): does the rms deviation grow from the lowest to the highest rate by more
    than k SDs of the seed-paired difference?"""
    first, last = rate_label(rates[0]), rate_label(rates[-1])
    rms = seed_table(spectra, keys, lambda s: s.quality.rms_residual).drop(index=[INPUT_DEPTH], errors="ignore")
    diff = paired_difference(rms, control=first)
    mean, _, beyond = _beyond_seed_spread(diff.loc[:, [c for c in diff.columns if c[0] == last]], k)
    return (beyond & (mean > 0)).iloc[:, 0]


# ---------------------------------------------------------------------------------------------------------------
# The chapter's tables: a cell per layer and network, several numbers in one cell, as the page has room for [ours].


def methods_table(spectra: Spectra, keys: Sequence[Key]) -> pd.DataFrame:
    """'huber / ols / wls': alpha by each fitting method over the same PCs, seed means, layers by label."""
    means = [over_seeds(seed_table(spectra, keys, lambda s, m=m: s.alphas[m])).mean.map("{:.2f}".format)
             for m in FIT_METHODS]
    table = means[0] + " / " + means[1] + " / " + means[2]
    table.index.name = "depth: " + " / ".join(FIT_METHODS)
    return table


def pc1_table(spectra: Spectra, keys: Sequence[Key]) -> pd.DataFrame:
    """'share / |r|': PC 1's share of the variance and the |correlation| of its scores with the images' mean
    brightness, mean ± SD over seeds, layers by label."""
    table = (seed_summary(spectra, keys, lambda s: s.pc1_share) + " / "
             + seed_summary(spectra, keys, lambda s: s.pc1_corr))
    table.index.name = "depth: PC 1 share / |r| with brightness"
    return table


def bits_lost_table(spectra: Spectra, keys: Sequence[Key]) -> tuple[pd.DataFrame, np.ndarray]:
    """'measured / Theorem 4': bits per unit lost to the spectrum's decay (bits_lost), seed means, layers by label;
    and the ratio measured / predicted of every layer of every network."""
    lost = [over_seeds(seed_table(spectra, keys, lambda s, j=j: bits_lost(s)[j])).mean.map("{:.2f}".format)
            for j in (0, 1)]
    table = lost[0] + " / " + lost[1]
    table.index.name = "depth: measured / Theorem 4 (bits per unit)"
    ratio = np.array([bits_lost(s)[0] / bits_lost(s)[1] for spec in spectra for s in spec.values()])
    return table, ratio
