"""What chapter 7 reads off a measurement: spectra and alpha by layer with window-group intervals, the PC-1 share,
the action of random projections and of neurons, top contexts, and a local interpretability proxy.

Conventions as in the book's methods page (book/methods.md): alpha is the signed log-log slope (alpha < 0, critical
line -1); a random projection R_p has entries N(0, 1/width), k columns, and its action over a window is
1/2 sum_t ||R_p^T (a_{t+1} - a_t)||^2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import stats

from polycode_utils.checks import check_choice, check_float_in, check_int, check_sequence
from polycode_utils.networks.language.explain import explain_and_score
from polycode_utils.networks.language.measure import TextMeasurement
from polycode_utils.networks.language.sites import parse_site
from polycode_utils.instruments.spectra import (FIT_METHODS, check_fit_range, clip_fit_range, fit_power_law,
                                                fit_quality, PowerLawFit, t_half_width)

UNIT_KINDS = ("neuron", "projection")
SCORED_UNITS = ("neuron", "projection", "pca")


def _depth(layer: int, n_layers: int) -> float:
    return layer / (n_layers - 1) if n_layers > 1 else 0.0


# ---------------------------------------------------------------------------------------------------------------
# Spectra and alpha


@dataclass(frozen=True, eq=False)
class SiteSpectrum:
    """One site's eigenspectrum, its power-law fit, the fit's R^2, alpha's window-group interval and the PC-1 share."""

    site: str
    layer: int
    depth: float                   # layer / (blocks - 1): 0 first block, 1 last
    n_tokens: int
    eigenvalues: np.ndarray        # descending
    fit: PowerLawFit
    r2: float
    ci: tuple[float, float]        # (nan, nan) without window groups
    group_alphas: np.ndarray
    pc1_share: float               # lambda_1 / sum lambda

    @property
    def alpha(self) -> float:
        return self.fit.alpha

    @property
    def kind(self) -> str:
        return parse_site(self.site)[0]


def window_group_interval(alpha: float, group_alphas: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """alpha +- t_{K-1} sd(group alphas) / sqrt(K): batch means over K disjoint groups of whole windows [ours]."""
    # Tokens within a window are correlated; windows are drawn independently, so groups of windows are the
    # independent units. Each group's alpha has about K times the variance of the all-window alpha.
    confidence = check_float_in(confidence, "confidence", 0.0, 1.0)
    g = np.asarray(group_alphas, dtype=np.float64)
    if g.size < 2:
        return float("nan"), float("nan")
    half = t_half_width(g, confidence)
    return float(alpha - half), float(alpha + half)


def site_spectra(m: TextMeasurement, fit_range: Sequence[int] = (1, 500), method: str = "huber",
                 confidence: float = 0.95) -> dict[str, SiteSpectrum]:
    """Every site's spectrum and alpha fitted over PCs fit_range cut at half the rank (Huber [paper]; range [ours])."""
    first, last = check_fit_range(fit_range)
    check_choice(method, "method", FIT_METHODS)
    check_float_in(confidence, "confidence", 0.0, 1.0)
    out = {}
    for site, acc in m.covariances.items():
        lam = acc.eigenvalues()
        fit = fit_power_law(lam, clip_fit_range(lam, (first, last), acc.n), method)
        groups = m.group_eigenvalues.get(site, np.zeros((0, lam.size)))
        group_alphas = np.array([fit_power_law(g, clip_fit_range(g, fit.fit_range, int(n)), method).alpha
                                 for g, n in zip(groups, m.group_tokens)])
        layer = parse_site(site)[1]
        out[site] = SiteSpectrum(site, layer, _depth(layer, m.n_layers), acc.n, lam, fit,
                                 fit_quality(lam, fit).r2, window_group_interval(fit.alpha, group_alphas, confidence),
                                 group_alphas, float(lam[0] / lam[lam > 0].sum()))
    return out


def spectra_frame(runs: Mapping[str, Mapping[str, SiteSpectrum]]) -> pd.DataFrame:
    """One row per run and site: alpha, its interval, R^2, PC-1 share, depth (the table behind the alpha figures)."""
    rows = [dict(run=run, site=s.site, kind=s.kind, layer=s.layer, depth=s.depth, alpha=s.alpha, ci_low=s.ci[0],
                 ci_high=s.ci[1], r2=s.r2, pc1_share=s.pc1_share, fit_last=s.fit.fit_range[1], n_tokens=s.n_tokens)
            for run, spectra in runs.items() for s in spectra.values()]
    return pd.DataFrame(rows)


def alpha_table(frame: pd.DataFrame, run: str) -> pd.DataFrame:
    """alpha [interval] by layer (rows) and site kind (columns) of one run, formatted for the page."""
    sub = frame[frame.run == run]
    text = sub.apply(lambda r: f"{r.alpha:.2f}" + ("" if np.isnan(r.ci_low) else f" [{r.ci_low:.2f}, {r.ci_high:.2f}]")
                     + f" (R² {r.r2:.3f})", axis=1)
    table = sub.assign(text=text).pivot(index="layer", columns="kind", values="text")
    table.columns.name = None
    return table


# ---------------------------------------------------------------------------------------------------------------
# Actions of random projections and neurons, exactly from the covariance and the step moments


@dataclass(frozen=True, eq=False)
class UnitStatistics:
    """Variance and action of every neuron and random projection of a site; "relative" action is the action per
    step divided by the variance, 1 for white noise, 0 for a constant, and comparable across k [ours]."""

    site: str
    neuron_variance: np.ndarray       # (width,)
    neuron_action: np.ndarray         # (width,) mean over windows of 1/2 sum_t (a_{t+1,i} - a_{t,i})^2
    neuron_relative: np.ndarray
    projection_action: np.ndarray     # (P,) mean over windows of the k-dimensional action [paper's quantity]
    projection_relative: np.ndarray
    direction_variance: np.ndarray    # (P,) the projections' first coordinates: random directions
    direction_relative: np.ndarray


def _quadratic_forms(matrix: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """r_j^T M r_j for every column r_j (float32 products: these are summaries, not spectra)."""
    return ((matrix.float() @ columns) * columns).sum(dim=0).double()


def unit_statistics(m: TextMeasurement, site: str) -> UnitStatistics:
    """Actions and variances of all neurons and all n_projections random projections of one site, from the step
    moments D = sum (a_{t+1} - a_t)(a_{t+1} - a_t)^T and the covariance C: action_p = 1/2 tr(R_p^T D R_p) / windows."""
    if site not in m.steps:
        raise ValueError(f"site: {site!r} has no step moments in this measurement (measured sites with actions: "
                         f"{', '.join(m.steps) or 'none'})")
    cov = torch.from_numpy(m.covariances[site].covariance())
    steps = m.steps[site].cpu()
    r = m.directions(site)                                   # (P, width, k)
    cols = r.permute(1, 0, 2).reshape(r.shape[1], -1)       # (width, P * k)
    q_cov = _quadratic_forms(cov, cols).view(r.shape[0], r.shape[2]).numpy()
    q_steps = _quadratic_forms(steps, cols).view(r.shape[0], r.shape[2]).numpy()
    per_step = 0.5 / m.n_steps
    var_n, steps_n = np.diag(cov.numpy()), np.diag(steps.numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        return UnitStatistics(site, var_n, 0.5 * steps_n / m.n_windows, per_step * steps_n / var_n,
                              0.5 * q_steps.sum(1) / m.n_windows, per_step * q_steps.sum(1) / q_cov.sum(1),
                              q_cov[:, 0], per_step * q_steps[:, 0] / q_cov[:, 0])


def action_frame(m: TextMeasurement, units: Mapping[str, UnitStatistics]) -> pd.DataFrame:
    """Per site and unit kind: quartiles of the relative action (neurons vs k-dimensional projections) by layer."""
    rows = []
    for site, u in units.items():
        kind, layer = parse_site(site)
        for unit, rel in (("neuron", u.neuron_relative), ("projection", u.projection_relative)):
            q25, q50, q75 = np.nanquantile(rel, [0.25, 0.5, 0.75])
            rows.append(dict(site=site, kind=kind, layer=layer, depth=_depth(layer, m.n_layers), unit=unit,
                             median=q50, q25=q25, q75=q75))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------
# Top contexts and the interpretability proxy


@dataclass(frozen=True)
class Unit:
    """A neuron (a basis direction of the site) or a random projection's first coordinate (a random direction)."""

    site: str
    kind: str       # "neuron" or "projection"
    index: int
    label: str


def select_units(m: TextMeasurement, u: UnitStatistics) -> list[Unit]:
    """The smoothest random direction (least relative action), the highest-variance random direction and the
    highest-variance neuron of a site: the units whose contexts the page shows."""
    smooth = int(np.nanargmin(u.direction_relative))
    wide = int(np.nanargmax(u.direction_variance))
    top = int(np.nanargmax(u.neuron_variance))
    return [Unit(u.site, "projection", smooth, f"smoothest projection (#{smooth})"),
            Unit(u.site, "projection", wide, f"highest-variance projection (#{wide})"),
            Unit(u.site, "neuron", top, f"top neuron (#{top}, highest variance)")]


def _column(m: TextMeasurement, unit: Unit) -> int:
    check_choice(unit.kind, "unit.kind", UNIT_KINDS)
    return unit.index + (m.contexts[unit.site].n_neurons if unit.kind == "projection" else 0)


def peak_token_ids(m: TextMeasurement, site: str) -> np.ndarray:
    """Token id at the peak of each top window, (2 signs, top_k, units)."""
    c = m.contexts[site]
    return m.windows[c.window.cpu(), c.position.cpu()].numpy()


def token_concentration(peak_ids: np.ndarray) -> np.ndarray:
    """Share of a unit's top windows whose peak is the unit's most common peak token (last axis: the top windows)."""
    ids = np.asarray(peak_ids)
    if ids.ndim < 1 or ids.shape[-1] < 1:
        raise ValueError(f"peak_ids: expected (..., top_k) with top_k >= 1, got shape {ids.shape}")
    counts = (ids[..., :, None] == ids[..., None, :]).sum(axis=-1)
    return counts.max(axis=-1) / ids.shape[-1]


def proxy_scores(m: TextMeasurement, site: str) -> tuple[np.ndarray, np.ndarray]:
    """The interpretability proxy [ours] of every neuron and random direction: the token concentration of its top
    windows' peaks, the better of its two signs (one number, computed the same way for both kinds of unit)."""
    scores = token_concentration(np.moveaxis(peak_token_ids(m, site), 1, -1)).max(axis=0)
    n = m.contexts[site].n_neurons
    return scores[:n], scores[n:]


def chance_scores(m: TextMeasurement, n_units: int = 200, seed: int = 0) -> np.ndarray:
    """The proxy of units that are pure noise (i.i.d. Gaussian per token) on the same windows: the chance level."""
    n_units, seed = check_int(n_units, "n_units"), check_int(seed, "seed", 0)
    top_k = next(iter(m.contexts.values())).values.shape[1] if m.contexts else 20
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(m.n_windows, m.positions, n_units, generator=gen)
    peaks = []
    for v in (noise, -noise):
        best, pos = v.max(dim=1)                               # (windows, units)
        top = best.topk(top_k, dim=0).indices                  # (top_k, units)
        peaks.append(m.windows[top, pos.gather(0, top) + m.skip_positions].numpy())
    return token_concentration(np.moveaxis(np.stack(peaks), 1, -1)).max(axis=0)


def proxy_frame(m: TextMeasurement, chance: np.ndarray) -> pd.DataFrame:
    """Per site: mean proxy of neurons and of random directions, and one-sided Mann-Whitney p-values for neurons >
    directions, directions > neurons, and each > chance."""
    rows = []
    for site in m.contexts:
        kind, layer = parse_site(site)
        neurons, directions = proxy_scores(m, site)

        def p_greater(a, b):
            return float(stats.mannwhitneyu(a, b, alternative="greater").pvalue)

        rows.append(dict(site=site, kind=kind, layer=layer, depth=_depth(layer, m.n_layers),
                         neuron_mean=neurons.mean(), neuron_se=neurons.std(ddof=1) / np.sqrt(neurons.size),
                         projection_mean=directions.mean(),
                         projection_se=directions.std(ddof=1) / np.sqrt(directions.size),
                         p_neurons_higher=p_greater(neurons, directions),
                         p_projections_higher=p_greater(directions, neurons),
                         p_neurons_above_chance=p_greater(neurons, chance),
                         p_projections_above_chance=p_greater(directions, chance)))
    return pd.DataFrame(rows)


def first_position_ratio(m: TextMeasurement, kind: str = "resid") -> tuple[float, int]:
    """The largest ratio, over the measured layers of one site kind, of the mean activation norm at a window's
    first position to the mean norm at the other positions (massive activations, Sun et al. 2024), and its layer."""
    ratios = {parse_site(s)[1]: norms[0] / norms[1:].mean() for s, norms in m.position_norms.items()
              if parse_site(s)[0] == kind}
    if not ratios:
        return float("nan"), -1
    layer = max(ratios, key=ratios.get)
    return float(ratios[layer]), layer


def layers_at_depths(m: TextMeasurement, depths: Sequence[float]) -> list[int]:
    """The measured layers nearest to relative depths (0: first block, 1: last), e.g. early, middle and late."""
    measured = sorted({parse_site(s)[1] for s in m.sites})
    values = [check_float_in(d, "depths", 0.0, 1.0) for d in check_sequence(depths, "depths")]
    return [min(measured, key=lambda layer: abs(_depth(layer, m.n_layers) - d)) for d in values]


def context_table(m: TextMeasurement, units: Sequence[Unit], n_contexts: int = 3, before: int = 12,
                  after: int = 4) -> pd.DataFrame:
    """The top windows of each unit, both signs, as text around the peak token, which is marked «like this»."""
    n_contexts = check_int(n_contexts, "n_contexts")
    rows = []
    for unit in units:
        c, col = m.contexts[unit.site], _column(m, unit)
        for sign, label in ((0, "+"), (1, "−")):
            for rank in range(min(n_contexts, c.values.shape[1])):
                w, p = int(c.window[sign, rank, col]), int(c.position[sign, rank, col])
                ids = m.windows[w].tolist()
                text = [m.token_text.get(t, "?").replace("\n", " ↵ ") for t in ids]
                context = "".join(text[max(0, p - before):p]) + f"«{text[p]}»" + "".join(text[p + 1:p + 1 + after])
                value = float(c.values[sign, rank, col]) * (1 if sign == 0 else -1)
                rows.append({"unit": unit.label, "sign": label, "peak": round(value, 3), "context": context})
    return pd.DataFrame(rows).set_index(["unit", "sign"])


# ---------------------------------------------------------------------------------------------------------------
# Outlier dimensions (the massive-activation channels of Sun et al. 2024), found by their magnitude


def outlier_tokens(m: TextMeasurement, outliers: pd.DataFrame, kind: str = "resid", n_channels: int = 3
                   ) -> pd.DataFrame:
    """Which tokens carry the outlier channels that recur most (outlier_frame's, with their RMS ratios, of one site
    kind): for each of the
    n_channels found in the most layers, at the layer where it is largest, the token at each of its top_k peaks
    (the sign of its larger peak), the commonest of them and its share (Sun et al. 2024 find massive activations
    on a few tokens: the first, delimiters) [ours]."""
    n_channels = check_int(n_channels, "n_channels")
    sub = outliers[(outliers.kind == kind) & outliers.site.isin(list(m.contexts))]
    counts = pd.Series([c for channels in sub.channels for c in channels], dtype=int).value_counts()
    rows = []
    for channel, n_layers in counts.head(n_channels).items():
        ratios = {site: ratio[channels.index(channel)]
                  for site, channels, ratio in zip(sub.site, sub.channels, sub.ratios) if channel in channels}
        site = max(ratios, key=ratios.get)
        c = m.contexts[site]
        sign = 0 if float(c.values[0, 0, channel]) >= float(c.values[1, 0, channel]) else 1
        tokens = [m.token_text.get(int(m.windows[int(w), int(p)]), "?")
                  for w, p, v in zip(c.window[sign, :, channel], c.position[sign, :, channel],
                                     c.values[sign, :, channel]) if np.isfinite(float(v))]
        common = pd.Series(tokens, dtype=object).value_counts()
        rows.append(dict(channel=int(channel), layers=int(n_layers), site=site, ratio=ratios[site],
                         sign="+" if sign == 0 else "−", peaks=len(tokens),
                         commonest=str(common.index[0]) if tokens else "",
                         commonest_share=float(common.iloc[0] / len(tokens)) if tokens else float("nan"),
                         tokens=tokens))
    return pd.DataFrame(rows, columns=["channel", "layers", "site", "ratio", "sign", "peaks", "commonest",
                                       "commonest_share", "tokens"])


def outlier_frame(m: TextMeasurement, spectra: Mapping[str, SiteSpectrum], factor: float = 10.0,
                  method: str = "huber") -> pd.DataFrame:
    """Per site: the outlier channels, those whose root-mean-square activation exceeds factor x the median channel's
    (the rule is ours; Sun et al. compare magnitudes with the median), their share of the variance, and alpha
    fitted plainly, with those channels' rows and columns removed from the covariance, and from PC 2 and PC 11
    (Stringer et al.) to the plain fit's last PC, beside the PC-1 share with and without them."""
    factor = check_float_in(factor, "factor", 1.0, float("inf"))
    check_choice(method, "method", FIT_METHODS)
    rows = []
    for site, spec in spectra.items():
        acc = m.covariances[site]
        cov = acc.covariance()
        rms = np.sqrt(np.diag(cov) * (acc.n - 1) / acc.n + acc.mean() ** 2)
        ratio = rms / np.median(rms)
        out = np.flatnonzero(ratio > factor)
        out = out[np.argsort(-ratio[out])]
        keep = np.setdiff1d(np.arange(cov.shape[0]), out)
        lam = spec.eigenvalues
        last = spec.fit.fit_range[1]
        rest = np.linalg.eigvalsh(cov[np.ix_(keep, keep)])[::-1] if out.size else lam
        without = fit_power_law(rest, clip_fit_range(rest, (spec.fit.fit_range[0], last), acc.n), method)
        later = {first: fit_power_law(lam, clip_fit_range(lam, (first, last), acc.n), method).alpha
                 if first < last else float("nan") for first in (2, 11)}
        rows.append(dict(site=site, kind=spec.kind, layer=spec.layer, depth=spec.depth, n_outliers=out.size,
                         channels=out.tolist(), ratios=ratio[out].tolist(), max_ratio=float(ratio.max()),
                         variance_share=float(np.diag(cov)[out].sum() / np.trace(cov)), alpha=spec.alpha,
                         alpha_without=without.alpha, alpha_from_2=later[2], alpha_from_11=later[11],
                         pc1_share=spec.pc1_share, pc1_share_without=float(rest[0] / rest[rest > 0].sum())))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------
# The explain-and-score of neurons, random directions and principal directions (explain.py)


def score_frame(runs: Mapping[str, TextMeasurement], n_tokens: int = 5, min_count: int = 3,
                n_pca: int = 100) -> pd.DataFrame:
    """One row per run, scored site and unit: the held-out score of every neuron, every random direction (the
    projections' first coordinates) and the top n_pca principal directions of the site's covariance."""
    n_pca = check_int(n_pca, "n_pca")
    rows = []
    for run, m in runs.items():
        for site, tables in m.tables.items():
            kind, layer = parse_site(site)
            units = {"neuron": None, "projection": m.directions(site)[:, :, 0].T.double().numpy(),
                     "pca": m.covariances[site].eigenvectors(min(n_pca, tables.width))}
            for unit, directions in units.items():
                scores = explain_and_score(tables, directions, n_tokens, min_count).scores
                rows.append(pd.DataFrame(dict(run=run, site=site, kind=kind, layer=layer,
                                              depth=_depth(layer, m.n_layers), unit=unit,
                                              index=np.arange(scores.size), score=scores)))
    columns = ["run", "site", "kind", "layer", "depth", "unit", "index", "score"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def layer_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean score per run, layer and unit kind (the layer-level summaries the verdict compares: units of one layer
    are not independent), with the standard error over the layer's units."""
    g = scores.groupby(["run", "kind", "layer", "depth", "unit"], sort=True).score
    return pd.DataFrame({"mean": g.mean(), "se": g.sem(), "units": g.size()}).reset_index()


# ---------------------------------------------------------------------------------------------------------------
# alpha's depth trend against a control


@dataclass(frozen=True)
class TrendDifference:
    """The least-squares slope of alpha on relative depth over the layers both runs measured, in the main run and
    in a control, and main - control with its window-group interval (the same windows' groups in both runs)."""

    kind: str
    control: str
    slope_main: float
    slope_control: float
    difference: float
    low: float
    high: float
    n_groups: int
    n_layers: int


def _slope(depth: np.ndarray, alpha: np.ndarray) -> float:
    return float(np.polyfit(depth, alpha, 1)[0])


def depth_trend_difference(spectra: Mapping[str, Mapping[str, SiteSpectrum]], control: str, kind: str,
                           confidence: float = 0.95) -> TrendDifference:
    """How much more (or less) alpha changes with depth in the trained model on its text than in a control: slope
    of alpha on depth, main - control, with the batch-means interval over the window groups [ours]."""
    for run in ("main", control):
        if run not in spectra:
            raise ValueError(f"control: no run {run!r} in spectra (runs: {', '.join(spectra)})")
    main, other = (spectra[r] for r in ("main", control))
    both = sorted((s for s in other if s in main and main[s].kind == kind), key=lambda s: main[s].layer)
    if len(both) < 3:
        raise ValueError(f"kind: {kind!r} has {len(both)} layers measured by both runs; the trend needs 3")
    depth = np.array([main[s].depth for s in both])
    slope_main, slope_control = (_slope(depth, np.array([run[s].alpha for s in both])) for run in (main, other))
    groups = min(main[both[0]].group_alphas.size, other[both[0]].group_alphas.size)
    per_group = [_slope(depth, np.array([main[s].group_alphas[g] for s in both]))
                 - _slope(depth, np.array([other[s].group_alphas[g] for s in both])) for g in range(groups)]
    low, high = window_group_interval(slope_main - slope_control, per_group, confidence)
    return TrendDifference(kind, control, slope_main, slope_control, slope_main - slope_control, low, high, groups,
                           len(both))
