"""Chapter 7's words and numbers: the glued summaries of a run, the readings of its controls and proxy, the
explain-and-score table, and the verdicts on the paper's two language-model claims (claims.Claim)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from polycode_utils.checks import check_float_in
from polycode_utils.theory.claims import Claim, Effect, controlled_verdict, count_verdict
from polycode_utils.networks.language.analysis import (UNIT_KINDS, SiteSpectrum, UnitStatistics, action_frame,
                                                       chance_scores, depth_trend_difference, first_position_ratio,
                                                       layer_scores, outlier_frame, outlier_tokens, proxy_frame,
                                                       score_frame, spectra_frame, unit_statistics)
from polycode_utils.networks.language.measure import TextMeasurement
from polycode_utils.reports.results import claim_values
from polycode_utils.instruments.spectra import evaluation_set_coverage, t_interval

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
    return f"{'; '.join(parts)} (one-sided Mann-Whitney tests at p < {level:g}). Reading: {overall}."


UNIT_NAMES = {"neuron": "neurons", "projection": "random directions", "pca": "principal directions"}


def score_table(layers: pd.DataFrame) -> pd.DataFrame:
    """Mean held-out score [interval over layers] of each unit kind (rows) in each run (columns), for the page."""
    def cell(values: pd.Series) -> str:
        low, high = t_interval(values.to_numpy())
        return f"{values.mean():.3f}" + ("" if np.isnan(low) else f" [{low:.3f}, {high:.3f}]")

    table = layers.groupby(["unit", "run"], sort=False)["mean"].apply(cell).unstack("run")
    table.index = [UNIT_NAMES.get(u, u) for u in table.index]
    table.columns.name = None
    return table


def score_numbers(layers: pd.DataFrame) -> dict[str, float]:
    """Glue names score_RUN_UNIT: the mean over scored layers of each run's and unit kind's mean score."""
    means = layers.groupby(["run", "unit"])["mean"].mean()
    return {f"score_{run}_{unit}": float(means.get((run, unit), np.nan))
            for run in ("main", "untrained") for unit in UNIT_NAMES}


def _depth_claim(spectra: Mapping[str, Mapping[str, SiteSpectrum]], model: str, kinds: Sequence[str]) -> Claim:
    """alpha's depth trend (slope on relative depth) in the trained model against each control's."""
    trends = [depth_trend_difference(spectra, control, kind) for control in ("untrained", "shuffled")
              if control in spectra for kind in kinds
              if sum(s.kind == kind for s in spectra[control].values()) >= 3]
    holds = "the slope of alpha on depth differs from the control's beyond its window-group interval"
    control = "; ".join(Effect(t.difference, t.low, t.high, t.n_groups, f"{t.kind}, slope trained − {t.control}",
                               units="window groups").text() for t in trends)
    measured = f"{model}: slope of alpha on relative depth " + "; ".join(
        f"{t.kind} {t.slope_main:+.2f} (trained) vs {t.slope_control:+.2f} ({t.control})" for t in trends)
    testable = bool(trends) and all(t.n_groups >= 2 for t in trends)
    return count_verdict("lm_alpha", sum(t.low > 0 or t.high < 0 for t in trends), max(len(trends), 1),
                         cases="(site, control) pairs", measured=measured if trends else f"{model}: no controls",
                         holds=holds, control=control or "the untrained model and shuffled tokens (not measured)",
                         testable=testable, why_not="the run measured no control with at least 3 layers and 2 "
                                                    "window groups (controls, n_groups)")


def _projection_claim(layers: pd.DataFrame, model: str) -> Claim:
    """Random directions explained better in the trained model than in the untrained one, layer by layer."""
    wide = (layers[layers.unit == "projection"].pivot(index="layer", columns="run", values="mean")
            if not layers.empty else pd.DataFrame())
    means = layers.groupby(["run", "unit"])["mean"].mean() if not layers.empty else pd.Series(dtype=float)
    measured = f"{model}: held-out score (unigram explain-and-score), mean over layers: " + "; ".join(
        f"{run} " + ", ".join(f"{UNIT_NAMES[u]} {means[(run, u)]:.3f}" for u in UNIT_NAMES if (run, u) in means)
        for run in ("main", "untrained") if run in wide)
    if not {"main", "untrained"} <= set(wide.columns):
        effect = Effect(np.nan, np.nan, np.nan, 0, "random directions' score, trained − untrained", units="layers")
        return controlled_verdict("lm_projections", 0, 1, effect, cases="layers", measured=measured or model,
                                  holds="", control_holds="not measured", testable=False,
                                  why_not="the run scored no layers of both the trained and the untrained model "
                                          "(controls must include untrained)")
    diff = (wide["main"] - wide["untrained"]).to_numpy()
    low, high = t_interval(diff)
    effect = Effect(float(diff.mean()), low, high, diff.size, "random directions' mean score, trained − untrained",
                    units="layers")
    return controlled_verdict(
        "lm_projections", int((diff > 0).sum()), diff.size, effect, cases="scored layers", measured=measured,
        holds="the trained model's random directions are explained better on held-out text than the untrained "
              "model's", control_holds=f"the untrained model's random directions score {wide['untrained'].mean():.3f} "
                                       "(the layers of one model are not independent draws: the interval over "
                                       "them describes its spread, not a sampling error)")


def language_claims(spectra: Mapping[str, Mapping[str, SiteSpectrum]], layers: pd.DataFrame, model: str,
                    kinds: Sequence[str] = ("resid", "mlp")) -> dict[str, object]:
    """The paper's two language-model claims judged on this run, against their controls (claim_values): alpha
    depends on depth (its trend differs from the untrained model's and shuffled text's), and random projections can
    be explained (better than the untrained model's, by the explain-and-score)."""
    measured = [k for k in kinds if any(s.kind == k for s in spectra.get("main", {}).values())]
    if not measured:
        raise ValueError(f"spectra: the main run measured none of the sites {list(kinds)}")
    return {**claim_values(_depth_claim(spectra, model, measured), r"Language model, $\alpha$",
                           r"In GPT-2 XL the exponent $\alpha$ depends on depth"),
            **claim_values(_projection_claim(layers, model), "Language model, projections",
                           "Random projections of a layer can be explained, complementing single neurons")}


@dataclass(frozen=True, eq=False)
class LanguagePage:
    """What chapter 7 shows of one run: the frames its figures draw, the legend labels and every glued value."""

    frame: pd.DataFrame                  # alpha by run and site (spectra_frame)
    units: dict[str, UnitStatistics]     # the main run's neurons and projections, by site
    actions: pd.DataFrame
    chance: np.ndarray
    proxy: pd.DataFrame
    layers: pd.DataFrame                 # explain-and-score by run, layer and unit kind (layer_scores)
    outliers: pd.DataFrame               # the main run's outlier channels and alpha's variants (outlier_frame)
    labels: dict[str, str]
    glue: dict[str, object]


def language_page(runs: Mapping[str, TextMeasurement], spectra: Mapping[str, Mapping[str, SiteSpectrum]], *,
                  model: str, compare_model: str, seed: int, n_tokens: int, min_count: int, n_pca: int,
                  outlier_factor: float, fit_method: str, fit_range: Sequence[int], coverage_draws: int,
                  **settings: object) -> LanguagePage:
    """Chapter 7's readings of a run and its controls, with their glue names; settings are glued as given."""
    main = runs["main"]
    frame = spectra_frame(spectra)
    units = {site: unit_statistics(main, site) for site in main.steps}
    actions, chance = action_frame(main, units), chance_scores(main, seed=seed)
    proxy = proxy_frame(main, chance)
    layers = layer_scores(score_frame(runs, n_tokens, min_count, n_pca))
    outliers = outlier_frame(main, spectra["main"], outlier_factor, fit_method)
    names = {"main": model, "untrained": f"{model}, untrained", "shuffled": f"{model}, shuffled tokens",
             "compare": compare_model}
    ratio, ratio_layer = first_position_ratio(main, "resid")
    glued = {**language_claims(spectra, layers, model=model), **headline_numbers(frame, actions, proxy, chance),
             **score_numbers(layers), **tokens_per_unit(spectra), **outlier_numbers(outliers),
             **outlier_token_numbers(outlier_tokens(main, outliers)),
             **coverage_numbers(main, spectra["main"], fit_range, coverage_draws, fit_method, seed),
             "score_table": score_table(layers),
             "model_name": model, "compare_name": compare_model or "none", "verdict": proxy_verdict(proxy),
             "model_layers": main.n_layers,
             "model_width": next((a.dim for s, a in main.covariances.items() if s.startswith("resid.")), 0),
             "controls_text": control_verdict(frame), "first_ratio": ratio, "first_ratio_layer": ratio_layer,
             "context": main.windows.shape[1], "skip_positions": main.skip_positions,
             "n_projections": main.n_projections, "k": main.k, "n_tokens": n_tokens, "min_count": min_count,
             "n_pca": n_pca, "outlier_factor": outlier_factor, **settings}
    return LanguagePage(frame, units, actions, chance, proxy, layers, outliers,
                        {key: name for key, name in names.items() if key in runs}, glued)


def file_settings(runs: Mapping[str, TextMeasurement]) -> dict[str, object]:
    """What a statistics file itself measured (model, corpus, windows, positions, controls, projections, seed), for
    the provenance box: these replace the chapter's parameters of the same names, which it did not use."""
    main = runs["main"]
    return {"model": main.model_name or "(not recorded in the file)",
            "corpus": main.corpus or "(not recorded in the file)", "n_windows": main.n_windows,
            "context": int(main.windows.shape[1]), "skip_positions": main.skip_positions,
            "controls": [name for name in runs if name not in ("main", "compare")],
            "n_projections": main.n_projections, "k": main.k, "seed": main.seed}


def tokens_per_unit(spectra: Mapping[str, Mapping[str, SiteSpectrum]]) -> dict[str, float]:
    """Glue names RUN_KIND_per_unit: the fewest tokens per unit (N/d) over each run's measured sites of a kind."""
    out = {}
    for run in RUNS:
        for kind in ("resid", "mlp"):
            ratios = [s.n_tokens / s.eigenvalues.size for s in spectra.get(run, {}).values() if s.kind == kind]
            out[f"{run}_{kind}_per_unit"] = float(min(ratios)) if ratios else float("nan")
    return out


def outlier_numbers(outliers: pd.DataFrame, kinds: Sequence[str] = ("resid", "mlp")) -> dict[str, float | int | str]:
    """Glue names outliers_KIND_*: layers with outlier channels, the most and the largest, their variance share,
    the channels that recur most, and the mean shift of alpha without them and when fitted from PC 2 or PC 11."""
    out: dict[str, float | int | str] = {}
    for kind in kinds:
        sub = outliers[outliers.kind == kind]
        counts = pd.Series([c for channels in sub.channels for c in channels], dtype=int).value_counts()
        out.update({
            f"outliers_{kind}_layers": int((sub.n_outliers > 0).sum()), f"outliers_{kind}_of": len(sub),
            f"outliers_{kind}_max_n": int(sub.n_outliers.max()) if len(sub) else 0,
            f"outliers_{kind}_max_ratio": float(sub.max_ratio.max()) if len(sub) else float("nan"),
            f"outliers_{kind}_share_max": float(sub.variance_share.max()) if len(sub) else float("nan"),
            f"outliers_{kind}_pc1_without_max": float(sub.pc1_share_without.max()) if len(sub) else float("nan"),
            f"outliers_{kind}_recurring": ", ".join(f"{c} (in {n} layers)" for c, n in counts.head(3).items())
                                          or "none",
            **{f"outliers_{kind}_shift_{name}": float((sub[column] - sub.alpha).mean()) if len(sub) else float("nan")
               for name, column in (("without", "alpha_without"), ("pc2", "alpha_from_2"),
                                    ("pc11", "alpha_from_11"))}})
    return out


def outlier_token_numbers(tokens: pd.DataFrame) -> dict[str, object]:
    """Glue names outlier_token_*: which tokens carry the recurring outlier channels of the residual stream
    (outlier_tokens), as a table and in a sentence."""
    table = pd.DataFrame({
        "channel": tokens.channel, "outlier in (layers)": tokens.layers, "largest at": tokens.site,
        "× median RMS": tokens.ratio.round(0).astype(int) if len(tokens) else [], "sign": tokens.sign,
        "commonest token at its peaks": tokens.commonest.map(repr),
        "share of its top windows": tokens.commonest_share.map(lambda v: f"{v:.0%}"),
        "tokens at its peaks": tokens.tokens.map(lambda ts: " ".join(map(repr, ts)))}).set_index("channel")
    text = "; ".join(f"channel {r.channel} peaks on {r.commonest!r} in {round(r.commonest_share * r.peaks)} of its "
                     f"{r.peaks} strongest windows" for r in tokens.itertuples()) or "no outlier channel recurs"
    return {"outlier_token_table": table, "outlier_tokens_text": text}


def coverage_numbers(main: TextMeasurement, spectra: Mapping[str, SiteSpectrum], fit_range: Sequence[int],
                     n_draws: int, method: str, seed: int) -> dict[str, float | int]:
    """Glue names cov_*: the window-group interval's coverage of a known alpha = -1 at the run's own size (one
    group's tokens, the widest site's units, its groups; spectra.evaluation_set_coverage), as chapter 5 checks its
    own."""
    groups = main.group_tokens.size
    if groups < 2:
        return dict(cov_coverage=float("nan"), cov_bias=float("nan"), cov_width=float("nan"), cov_tokens=0,
                    cov_units=0, cov_per_unit=float("nan"), cov_draws=0, cov_last=0)
    units, tokens = max(s.eigenvalues.size for s in spectra.values()), int(main.group_tokens.min())
    c = evaluation_set_coverage(tokens, units, -1.0, fit_range, groups, n_draws, method, seed=seed)
    return dict(cov_coverage=c.coverage, cov_bias=c.bias, cov_width=c.mean_width, cov_tokens=tokens, cov_units=units,
                cov_per_unit=tokens / units, cov_draws=n_draws, cov_last=c.fit_range[1])
