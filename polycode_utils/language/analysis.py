"""What chapter 7 reads off a measurement: spectra and alpha by layer with window-group intervals, the PC-1 share,
the action of random projections and of neurons, top contexts, and a local interpretability proxy.

Conventions as in METHODS.md: alpha is the signed log-log slope (alpha < 0, critical line -1); a random projection
R_p has entries N(0, 1/width), k columns, and its action over a window is 1/2 sum_t ||R_p^T (a_{t+1} - a_t)||^2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import stats

from polycode_utils.checks import check_choice, check_float_in, check_int, check_sequence
from polycode_utils.claims import count_verdict
from polycode_utils.language.measure import TextMeasurement
from polycode_utils.language.sites import parse_site
from polycode_utils.spectra import FIT_METHODS, PowerLawFit, clip_fit_range, fit_power_law, fit_quality

UNIT_KINDS = ("neuron", "projection")


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
    half = stats.t.ppf((1 + confidence) / 2, g.size - 1) * g.std(ddof=1) / np.sqrt(g.size)
    return float(alpha - half), float(alpha + half)


def site_spectra(m: TextMeasurement, fit_range: Sequence[int] = (1, 500), method: str = "huber",
                 confidence: float = 0.95) -> dict[str, SiteSpectrum]:
    """Every site's spectrum and alpha fitted over PCs fit_range cut at half the rank (Huber [paper]; range [ours])."""
    first, last = (check_int(v, "fit_range") for v in check_sequence(fit_range, "fit_range", min_len=2, max_len=2))
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


def proxy_verdict(frame: pd.DataFrame, level: float = 0.01) -> str:
    """The honest reading of the proxy by layer [ours]: are random directions above chance, and as good as neurons?"""
    level = check_float_in(level, "level", 0.0, 1.0)
    parts, readings = [], []
    for kind, sub in frame.groupby("kind", sort=False):
        n = len(sub)
        neu, pro = int((sub.p_neurons_higher < level).sum()), int((sub.p_projections_higher < level).sum())
        above = int((sub.p_projections_above_chance < level).sum())
        parts.append(f"{kind}: random directions beat chance in {above} of {n} layers; neurons score higher than "
                     f"random directions in {neu}, lower in {pro}, no clear difference in {n - neu - pro}")
        readings.append("below chance" if above <= n / 2 else "neurons ahead" if neu > n / 2 else "at least as good")
    if all(r == "at least as good" for r in readings):
        overall = ("consistent with the paper's claim: by this proxy random directions are above chance and at least "
                   "as explainable as neurons in most layers")
    elif all(r == "below chance" for r in readings):
        overall = "does not support the paper's claim: random projections are not above chance by this proxy"
    elif "below chance" not in readings:
        overall = ("supports the paper's claim only in part: random projections are above chance but, by this proxy, "
                   "less token-specific than neurons in most layers of some sites")
    else:
        overall = "mixed: the reading differs between sites"
    return f"{'; '.join(parts)} (one-sided Mann-Whitney tests at p < {level:g}). Verdict: {overall}."


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
# The numbers the page states


RUNS = ("main", "untrained", "shuffled", "compare")


def control_verdict(frame: pd.DataFrame, kinds: Sequence[str] = ("resid", "mlp")) -> str:
    """How the controls differ from the trained model on its own text [ours]: per kind and control, the mean
    |alpha - alpha_main| over the layers both measured, and in how many of them the control lies outside the
    trained model's window-group interval."""
    parts = []
    for kind in kinds:
        main = frame[(frame.run == "main") & (frame.kind == kind)].set_index("layer")
        for run, what in (("untrained", "the untrained model"), ("shuffled", "shuffled tokens")):
            other = frame[(frame.run == run) & (frame.kind == kind)].set_index("layer")
            both = main.index.intersection(other.index)
            if main.empty or both.empty:
                continue
            a, b = main.loc[both], other.loc[both]
            outside = int(((b.alpha < a.ci_low) | (b.alpha > a.ci_high)).sum())
            steeper = "steeper" if (b.alpha - a.alpha).mean() < 0 else "flatter"
            parts.append(f"{kind}, {what}: mean |difference| {np.abs(b.alpha - a.alpha).mean():.2f} ({steeper} on "
                         f"average), outside the trained model's interval in {outside} of {len(both)} layers")
    return "; ".join(parts) + "." if parts else "no controls were measured in this run."


def headline_numbers(frame: pd.DataFrame, actions: pd.DataFrame | None = None, proxy: pd.DataFrame | None = None,
                     chance: np.ndarray | None = None, runs: Sequence[str] = RUNS,
                     kinds: Sequence[str] = ("resid", "mlp")) -> dict[str, float | int]:
    """Named summary numbers of a chapter run: per run and kind, alpha's range, first and last layer, interval
    half-width, layers below -1, the worst R^2 and the largest PC-1 share; action and proxy medians. Every name
    exists for every run and kind listed (NaN where that run or kind was not measured)."""
    out: dict[str, float | int] = {}
    ordered = frame.sort_values("layer")
    for run in runs:
        for kind in kinds:
            sub = ordered[(ordered.run == run) & (ordered.kind == kind)]
            out.update(_alpha_numbers(f"{run}_{kind}", sub))
    for kind in kinds:
        for unit in UNIT_KINDS:
            sub = actions[(actions.kind == kind) & (actions.unit == unit)] if actions is not None else []
            out[f"action_{kind}_{unit}"] = float(sub["median"].median()) if len(sub) else float("nan")
        wide = (actions[actions.kind == kind].pivot(index="layer", columns="unit", values="median")
                if actions is not None else pd.DataFrame(columns=list(UNIT_KINDS)))
        out[f"action_{kind}_neurons_smoother"] = int((wide.neuron < wide.projection).sum())
        out[f"action_{kind}_layers"] = len(wide)
        sub = proxy[proxy.kind == kind] if proxy is not None else pd.DataFrame()
        out[f"proxy_{kind}_neuron"] = float(sub.neuron_mean.mean()) if len(sub) else float("nan")
        out[f"proxy_{kind}_projection"] = float(sub.projection_mean.mean()) if len(sub) else float("nan")
        share = frame[(frame.run == "main") & (frame.kind == kind)].set_index("layer").pc1_share
        rho = stats.spearmanr(share.reindex(sub.layer), sub.projection_mean).statistic if len(sub) > 2 else np.nan
        out[f"proxy_{kind}_pc1_rho"] = float(rho)
    out["proxy_chance"] = float(np.mean(chance)) if chance is not None else float("nan")
    return out


def _alpha_numbers(key: str, sub: pd.DataFrame) -> dict[str, float | int]:
    names = ("alpha_min", "alpha_max", "alpha_first", "alpha_last", "alpha_mean", "halfwidth", "r2_min", "pc1_max")
    if sub.empty:
        return {**{f"{key}_{n}": float("nan") for n in names}, f"{key}_below": 0, f"{key}_layers": 0,
                f"{key}_pc1_max_layer": -1, f"{key}_tokens": 0}
    top = sub.loc[sub.pc1_share.idxmax()]
    return {f"{key}_alpha_min": float(sub.alpha.min()), f"{key}_alpha_max": float(sub.alpha.max()),
            f"{key}_alpha_first": float(sub.alpha.iloc[0]), f"{key}_alpha_last": float(sub.alpha.iloc[-1]),
            f"{key}_alpha_mean": float(sub.alpha.mean()),
            f"{key}_halfwidth": float(((sub.ci_high - sub.ci_low) / 2).mean()), f"{key}_r2_min": float(sub.r2.min()),
            f"{key}_pc1_max": float(top.pc1_share), f"{key}_below": int((sub.alpha < -1).sum()),
            f"{key}_layers": len(sub), f"{key}_pc1_max_layer": int(top.layer),
            f"{key}_tokens": int(sub.n_tokens.iloc[0])}


def language_claims(frame: pd.DataFrame, proxy: pd.DataFrame | None, model: str, level: float = 0.01,
                    kinds: Sequence[str] = ("resid", "mlp")) -> dict[str, str]:
    """The paper's two language-model claims judged on this run (glue names of claims.Claim): alpha depends on depth
    (first and last block's intervals apart), and random projections are explainable (proxy above chance)."""
    level = check_float_in(level, "level", 0.0, 1.0)
    main = frame[frame.run == "main"].sort_values("layer")
    measured = [k for k in kinds if (main.kind == k).any()]
    if not measured:
        raise ValueError(f"frame: the main run measured none of the sites {list(kinds)}")
    apart, parts = 0, []
    for kind in measured:
        first, last = (main[main.kind == kind].iloc[i] for i in (0, -1))
        apart += bool(first.ci_high < last.ci_low or last.ci_high < first.ci_low)
        parts.append(f"{kind} {first.alpha:.2f} (block {int(first.layer)}) to {last.alpha:.2f} (block "
                     f"{int(last.layer)})")
    depth = count_verdict("lm_alpha", apart, len(measured), cases="sites", measured=f"{model}: " + "; ".join(parts),
                          holds="alpha of the first and the last measured block differ beyond their intervals",
                          control="none in this verdict: the untrained model and shuffled tokens are measured on "
                                  "the chapter's page, but the rule does not yet ask them to differ")
    if proxy is None or proxy.empty:
        explain = count_verdict("lm_projections", 0, 1, cases="layers", measured=f"{model}: no proxy measured",
                                holds="", testable=False, why_not="this run measured no projections (top_k = 0)",
                                control="chance: the proxy of Gaussian-noise activations of the same shape")
    else:
        above = int((proxy.p_projections_above_chance < level).sum())
        ahead = int((proxy.p_neurons_higher < level).sum())
        explain = count_verdict(
            "lm_projections", above, len(proxy), cases="layer-sites",
            measured=f"{model}: random directions above chance in {above} of {len(proxy)} layer-sites, neurons "
                     f"ahead of them in {ahead} (token-concentration proxy; the paper used GPT-4 explanations)",
            holds="random projections are more token-specific than chance (one-sided test, p < "
                  f"{level:g})", control="chance: the proxy of Gaussian-noise activations of the same shape")
    return {**depth.glued(), **explain.glued()}
