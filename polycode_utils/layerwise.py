"""A network measured layer by layer: eigenspectra by depth (Figs. 3 and 5) and a moving dot's actions (Fig. 4).

The measurement pipeline: record each depth's activations with forward hooks (``activations.record_activations``,
eval mode: dropout off, z = mu), then measure them with the instruments of ``spectra`` and ``projections``.
Conventions (book/methods.md): alpha is the signed log-log slope (alpha < 0); the action of z_1..z_T is
1/2 sum ||z_{t+1} - z_t||^2; projections have entries N(0, 1/m).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

from polycode_utils.activations import record_activations
from polycode_utils.capacity import power_law_entropy
from polycode_utils.checks import check_bool, check_choice, check_float_in, check_int, check_sequence
from polycode_utils.models import CONV_DEPTHS, dropout_noise_copy
from polycode_utils.projections import action, random_projections
from polycode_utils.spectra import (FIT_METHODS, FitQuality, PowerLawFit, bootstrap_eigenspectra, bootstrap_interval,
                                    clip_fit_range, cv_spectra, fit_power_law, fit_quality, numerical_rank,
                                    principal_components)

NORMALISATIONS = ("variance", "none")


# ---------------------------------------------------------------------------------------------------------------
# Fig. 3 and Fig. 5: eigenspectra by depth


@dataclass(eq=False)
class LayerSpectrum:
    """One layer's covariance eigenspectrum over the evaluation images, its power-law fit and quality (Fig. 3b-d)."""

    layer: str
    n_images: int
    n_units: int
    eigenvalues: np.ndarray             # min(N, units) values, descending; the rest of the spectrum is 0
    fit: PowerLawFit                    # the chosen method over the clipped fit range
    ci: tuple[float, float]             # bootstrap CI of fit.alpha over images (nan, nan without bootstrap)
    alphas: dict[str, float]            # alpha of huber, ols and wls over the same range
    quality: FitQuality                 # R^2, curvature, worst residual over the range [ours]
    vectors: np.ndarray                 # top principal directions as columns (units x n_vectors)
    cv_eigenvalues: np.ndarray | None   # cvPCA of two dropout-noise repeats (None unless asked for)
    repeat_eigenvalues: np.ndarray | None  # repeat 1's own variance on the same PCs (cv share = cv / this)

    @property
    def alpha(self) -> float:
        return self.fit.alpha

    @property
    def rank(self) -> int:
        """Where the spectrum ends: min(images - 1, eigenvalues above rounding noise)."""
        return min(self.n_images - 1, numerical_rank(self.eigenvalues))

    def reliable_share(self, last: int | None = None) -> float:
        """cvPCA variance / repeat variance over PCs 1..last (default: the fit's last PC) [ours]."""
        if self.cv_eigenvalues is None or self.repeat_eigenvalues is None:
            raise ValueError("cv: this spectrum was measured without cvPCA repeats (cv=False)")
        last = self.fit.fit_range[1] if last is None else last
        return float(self.cv_eigenvalues[:last].sum() / self.repeat_eigenvalues[:last].sum())


def _check_fit_range(fit_range: Sequence[int]) -> tuple[int, int]:
    """Two 1-based PC numbers [first, last], first <= last."""
    first, last = check_sequence(fit_range, "fit_range (two PC numbers: first, last)", min_len=2, max_len=2)
    clip_fit_range(np.ones(3), (first, last), 3)  # validates the pair (1-based, first <= last)
    return int(first), int(last)


def _fit_all(lam: np.ndarray, fit_range: tuple[int, int], n: int, method: str, layer: str
             ) -> tuple[PowerLawFit, dict[str, float]]:
    rng = clip_fit_range(lam, fit_range, n)
    if rng[1] - rng[0] + 1 < 3:
        raise ValueError(f"fit_range: {tuple(fit_range)} leaves {rng[1] - rng[0] + 1} PCs of layer {layer!r} "
                         f"(its rank is below {rng[0] + 2}); lower the first PC, or use more images or units")
    fits = {m: fit_power_law(lam, rng, m) for m in FIT_METHODS}
    return fits[method], {m: f.alpha for m, f in fits.items()}


def spectrum_of(x: np.ndarray | torch.Tensor, layer: str = "layer", *, fit_range: Sequence[int] = (1, 500),
                method: str = "huber", n_bootstrap: int = 50, seed: int = 0, n_vectors: int = 0,
                repeats: tuple[np.ndarray, np.ndarray] | None = None, confidence: float = 0.95) -> LayerSpectrum:
    """One layer's measurements from its activations x (images x units): spectrum, alpha, CI, quality (Fig. 3b-c)."""
    # Fit range: PCs fit_range[0] .. min(fit_range[1], rank/2) (spectra.clip_fit_range). The CI resamples images
    # (rows) with replacement, the basic bootstrap interval. Layers wider than the number of images use the Gram
    # form, which has the same non-zero eigenvalues as the covariance. repeats: two noisy recordings of the same
    # images for cvPCA (Stringer et al. 2019).
    check_choice(method, "method", FIT_METHODS)
    fit_range = _check_fit_range(fit_range)
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", 0)
    n_vectors = check_int(n_vectors, "n_vectors", 0)
    seed = check_int(seed, "seed", 0)
    xt = torch.as_tensor(x).double()
    if xt.ndim != 2 or xt.shape[0] < 3:
        raise ValueError(f"x: expected activations (images, units) with at least 3 images, got {tuple(xt.shape)}")
    n, m = xt.shape
    lam, vecs = principal_components(xt, min(n_vectors, n - 1, m))
    fit, alphas = _fit_all(lam, fit_range, n, method, layer)
    ci = (float("nan"), float("nan"))
    if n_bootstrap:
        boot = bootstrap_eigenspectra(xt, n_bootstrap, seed)
        ci = bootstrap_interval(fit.alpha, [fit_power_law(b, fit.fit_range, method).alpha for b in boot], confidence)
    cv_lam = rep_lam = None
    if repeats is not None:
        cv_lam, rep_lam = cv_spectra(torch.as_tensor(repeats[0]).double(), torch.as_tensor(repeats[1]).double())
    return LayerSpectrum(layer, n, m, lam, fit, ci, alphas, fit_quality(lam, fit), vecs, cv_lam, rep_lam)


def layer_spectra(model: nn.Module, images: np.ndarray | torch.Tensor, layers: Sequence[str] | None = None, *,
                  fit_range: Sequence[int] = (1, 500), method: str = "huber", n_bootstrap: int = 50, seed: int = 0,
                  n_vectors: int = 0, cv: bool = False, noise_model: nn.Module | None = None,
                  confidence: float = 0.95, batch_size: int = 256) -> OrderedDict[str, LayerSpectrum]:
    """Eigenspectrum, alpha with bootstrap CI, fit quality and top eigenvectors of each layer (Figs. 3b-d, 5)."""
    # Activations recorded in eval mode (dropout off, z = mu). Every layer uses the same bootstrap resamples (seed).
    # cv=True adds cvPCA of two repeats of the same images with dropout left on, each with its own masks [ours],
    # run through noise_model (default: model). Pass the network with its BatchNorm statistics as trained: they
    # were estimated on dropped-out activations, while statistics re-estimated without dropout let the dropout
    # noise grow from layer to layer. For a network trained without dropout the repeats are identical.
    check_choice(method, "method", FIT_METHODS)
    _check_fit_range(fit_range)
    check_bool(cv, "cv")
    acts = record_activations(model, images, layers, batch_size=batch_size)
    repeats = None
    if cv:
        base = model if noise_model is None else noise_model
        repeats = [record_activations(dropout_noise_copy(base, s), images, list(acts), batch_size=batch_size)
                   for s in (2 * check_int(seed, "seed", 0) + 1, 2 * seed + 2)]
    return OrderedDict((name, spectrum_of(x, name, fit_range=fit_range, method=method, n_bootstrap=n_bootstrap,
                                          seed=seed, n_vectors=n_vectors, confidence=confidence,
                                          repeats=None if repeats is None else (repeats[0][name], repeats[1][name])))
                       for name, x in acts.items())


# ---------------------------------------------------------------------------------------------------------------
# Summaries of Figs. 3 and 5: the numbers and verdicts chapter 5 states, computed from its spectra.
# `spectra` is one {layer: LayerSpectrum} per network (depth order), `rates` the networks' dropout rates.

Spectra = Sequence[Mapping[str, LayerSpectrum]]


def rate_label(p: float) -> str:
    """The column label of one network of the dropout grid: 'p = 0.2'."""
    return f"p = {p:g}"


def depth_table(results: Sequence[Mapping[str, object]], rates: Sequence[float], value: Callable[[object], object]
                ) -> pd.DataFrame:
    """One quantity of every layer's result (a spectrum, an action): layers (rows) by dropout rate ('p = ...')."""
    if len(results) != len(rates) or not results:
        raise ValueError(f"results, rates: need one rate per network, got {len(results)} and {len(rates)}")
    table = pd.DataFrame({rate_label(p): {name: value(r) for name, r in per_layer.items()}
                          for p, per_layer in zip(rates, results)})
    table.index.name = "depth"
    return table


def format_alpha(s: LayerSpectrum) -> str:
    """alpha with its interval, two decimals: '-1.23 [-1.30, -1.15]' (no interval: '-1.23')."""
    return f"{s.alpha:.2f} [{s.ci[0]:.2f}, {s.ci[1]:.2f}]" if np.isfinite(s.ci[0]) else f"{s.alpha:.2f}"


def describe_coverage(ci: tuple[float, float], truth: float) -> str:
    """Whether an interval contains a known exponent, and by how much it misses (the calibration of chapter 5)."""
    if not np.isfinite(ci[0]):
        return "no interval: no bootstrap in this run"
    miss = max(ci[0] - truth, truth - ci[1], 0.0)
    return "it contains the truth" if miss == 0 else f"it misses the truth by {miss:.3f}"


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    return float(spearmanr(x, y).statistic)


def _direction(rho: Sequence[float], up: str, down: str) -> str:
    """'... in every network' when every correlation has one sign (NaN: no sign), else 'not ordered ...'."""
    r = np.asarray(rho, dtype=float)
    if np.all(r < 0):
        return f"{down} with depth in every network"
    if np.all(r > 0):
        return f"{up} with depth in every network"
    return "not ordered the same way by depth in every network"


@dataclass(frozen=True)
class DepthTrend:
    """How alpha changes with depth across the networks (Fig. 3c); field names are the chapter's glue names."""

    rho_mean: float             # Spearman(depth, alpha) of each network: mean, min, max
    rho_min: float
    rho_max: float
    alpha_direction: str        # 'more negative (steeper) with depth in every network', ...
    n_steeper: int              # networks whose last layer is steeper than their first
    n_networks: int
    alpha_first_layer: str
    alpha_last_layer: str
    alpha_first_p0: float       # alpha at the first and last layer of the first network
    alpha_last_p0: float
    p_first: float
    alpha_conv_min: float       # range of alpha over the convolutional stages and over the dense layers
    alpha_conv_max: float
    alpha_dense_min: float
    alpha_dense_max: float
    dense_units_min: int
    dense_units_max: int
    n_below_m1: int             # estimates below the critical line alpha = -1
    n_alpha: int


def depth_trend(spectra: Spectra, rates: Sequence[float], conv_layers: Sequence[str] = CONV_DEPTHS) -> DepthTrend:
    """alpha against depth (Fig. 3c): Spearman per network, its direction, and the conv / dense ranges [ours]."""
    alpha = depth_table(spectra, rates, lambda s: s.alpha)
    layers = list(alpha.index)
    depth = np.arange(len(layers))
    rho = [_spearman(depth, alpha[c]) if len(layers) > 2 else np.nan for c in alpha.columns]
    conv = [name for name in layers if name in conv_layers]
    dense = [name for name in layers if name not in conv]
    units = [spectra[0][name].n_units for name in dense] or [0]
    some = np.isfinite(rho).any()

    def span(rows: list[str], f: Callable) -> float:
        return float(f(alpha.loc[rows].to_numpy())) if rows else np.nan

    return DepthTrend(
        rho_mean=float(np.nanmean(rho)) if some else np.nan, rho_min=float(np.nanmin(rho)) if some else np.nan,
        rho_max=float(np.nanmax(rho)) if some else np.nan,
        alpha_direction=_direction(rho, "less negative (flatter)", "more negative (steeper)"),
        n_steeper=int(sum(alpha.iloc[-1] < alpha.iloc[0])), n_networks=len(spectra),
        alpha_first_layer=layers[0], alpha_last_layer=layers[-1], alpha_first_p0=float(alpha.iloc[0, 0]),
        alpha_last_p0=float(alpha.iloc[-1, 0]), p_first=float(rates[0]),
        alpha_conv_min=span(conv, np.min), alpha_conv_max=span(conv, np.max),
        alpha_dense_min=span(dense, np.min), alpha_dense_max=span(dense, np.max),
        dense_units_min=int(min(units)), dense_units_max=int(max(units)),
        n_below_m1=int((alpha < -1).sum().sum()), n_alpha=int(alpha.size))


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
    all_s = [s for spec in spectra for s in spec.values()]
    ols = np.array([abs(s.alphas["huber"] - s.alphas["ols"]) for s in all_s])
    wls = np.array([abs(s.alphas["huber"] - s.alphas["wls"]) for s in all_s])
    if np.isfinite(all_s[0].ci[0]):
        beyond = int(sum(d > s.ci[1] - s.ci[0] for d, s in zip(ols, all_s)))
        text = (f"in {beyond} of the {len(all_s)} spectra the OLS estimate differs from Huber's by more than the "
                f"width of Huber's bootstrap interval")
    else:
        text = "without the bootstrap (n_bootstrap = 0) there is no interval to compare the differences with"
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
    far_text: str               # each far spectrum with its R^2, curvature and cliff
    far_summary: str            # how many of them lie in the later half of the network
    cliff_text: str             # the three largest cliffs
    cliff_early: float          # median cliff in the first and second half of the network (decades)
    cliff_late: float


def power_law_deviations(spectra: Spectra, rates: Sequence[float], min_r2: float) -> PowerLawDeviations:
    """Spectra far from a power law by R^2 and the largest cliffs (the paper's 'later layers deviate') [ours]."""
    min_r2 = check_float_in(min_r2, "min_r2", 0.0, 1.0)
    layers = list(spectra[0])
    far = [(name, p, s) for p, spec in zip(rates, spectra) for name, s in spec.items() if s.quality.r2 < min_r2]
    if far:
        far_text = "; ".join(f"{name} at p = {p:g} (R² {s.quality.r2:.3f}, c₂ {s.quality.curvature:+.2f}, cliff "
                             f"{s.quality.cliff:.2f} decades after PC {s.quality.cliff_at})" for name, p, s in far)
        names = sorted({name for name, _, _ in far}, key=layers.index)
        late = sum(layers.index(name) >= len(layers) / 2 for name, _, _ in far)
        far_summary = f"{late} of them lie in the later half of the network ({', '.join(names)} in all)"
    else:
        far_text, far_summary = "none", "every measured spectrum is close to a power law by this criterion"
    cliffs = sorted(((s.quality.cliff, name, p, s.quality.cliff_at) for p, spec in zip(rates, spectra)
                     for name, s in spec.items()), reverse=True)
    early = [s.quality.cliff for spec in spectra for name, s in spec.items() if layers.index(name) < len(layers) / 2]
    late_c = [s.quality.cliff for spec in spectra for name, s in spec.items() if layers.index(name) >= len(layers) / 2]
    return PowerLawDeviations(
        n_far=len(far), n_spectra=int(sum(len(spec) for spec in spectra)), far_text=far_text,
        far_summary=far_summary,
        cliff_text="; ".join(f"{name} at p = {p:g}, {c:.2f} decades after PC {at}" for c, name, p, at in cliffs[:3]),
        cliff_early=float(np.median(early)) if early else np.nan,
        cliff_late=float(np.median(late_c)) if late_c else np.nan)


@dataclass(frozen=True)
class DropoutShape:
    """Fig. 5's question: does a layer's spectrum deviate more from a power law at higher dropout? [paper; ours]"""

    f5_rms_first: float         # the chosen layer at the lowest and the highest rate: rms residual, R^2, c2, ...
    f5_rms_last: float
    f5_r2_first: float
    f5_r2_last: float
    f5_c2_first: float
    f5_c2_last: float
    f5_alpha_first: float
    f5_alpha_last: float
    f5_cliff_first: float
    f5_cliff_last: float
    p_last: float
    rho_f5: float               # Spearman of that layer's deviation with the rate (a sign with two networks)
    n_layers: int
    n_more_dev: int             # layers deviating more at the highest rate than at the lowest
    n_up: int                   # layers whose deviation correlates positively with the rate (strongly: >= 0.8)
    n_up_strong: int
    cliff_mean_first: float     # the cliff averaged over layers, lowest and highest rate; its Spearman with the rate
    cliff_mean_last: float
    rho_cliff: float
    n_c2_pos: int               # spectra with positive curvature (they flatten after a steep head)
    c2_text: str
    f5_verdict: str             # consistent / partly consistent / not consistent with the paper's claim


def dropout_shape(spectra: Spectra, rates: Sequence[float], layer: str) -> DropoutShape:
    """The deviation from a power law against the dropout rate, for one layer and all (Fig. 5), with a verdict."""
    layers = list(spectra[0])
    check_choice(layer, "fig5_layer (one of the measured layers)", layers)
    f5 = [spec[layer].quality for spec in spectra]
    n = len(spectra)
    rms = {name: [spec[name].quality.rms_residual for spec in spectra] for name in layers}
    rho_dev = {name: _spearman(rates, r) if n >= 3 else float(np.sign(r[-1] - r[0])) for name, r in rms.items()}
    n_more = sum(r[-1] > r[0] for r in rms.values())
    mean_cliff = [float(np.mean([s.quality.cliff for s in spec.values()])) for spec in spectra]
    n_pos = int(sum(s.quality.curvature > 0 for spec in spectra for s in spec.values()))
    n_all = sum(len(spec) for spec in spectra)
    if n_more == len(layers) and f5[-1].rms_residual > f5[0].rms_residual:
        verdict = ("consistent with the paper's claim: every layer deviates more from a power law at the highest "
                   "dropout rate than without dropout")
    elif n_more > len(layers) / 2:
        verdict = ("partly consistent with the paper's claim: most layers, but not all, deviate more from a power "
                   "law at the highest dropout rate than at the lowest, and the deviation does not always grow "
                   "steadily with the rate")
    else:
        verdict = ("not consistent with the paper's claim: most layers do not deviate more from a "
                   "power law at the highest dropout rate than at the lowest")
    return DropoutShape(
        f5_rms_first=f5[0].rms_residual, f5_rms_last=f5[-1].rms_residual, f5_r2_first=f5[0].r2,
        f5_r2_last=f5[-1].r2, f5_c2_first=f5[0].curvature, f5_c2_last=f5[-1].curvature,
        f5_alpha_first=spectra[0][layer].alpha, f5_alpha_last=spectra[-1][layer].alpha,
        f5_cliff_first=f5[0].cliff, f5_cliff_last=f5[-1].cliff, p_last=float(rates[-1]),
        rho_f5=float(rho_dev[layer]), n_layers=len(layers), n_more_dev=int(n_more),
        n_up=int(sum(r > 0 for r in rho_dev.values())), n_up_strong=int(sum(r >= 0.8 for r in rho_dev.values())),
        cliff_mean_first=mean_cliff[0], cliff_mean_last=mean_cliff[-1],
        rho_cliff=_spearman(rates, mean_cliff) if n >= 3 else np.nan, n_c2_pos=n_pos,
        c2_text="where our spectra bend, most flatten after a steep head" if n_pos > n_all / 2 else
        "where our spectra bend, most bend down", f5_verdict=verdict)


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


@dataclass(frozen=True)
class ReliableShares:
    """The extremes of the cvPCA reliable share at the highest dropout rate [ours, beyond the paper]."""

    cv_rel_min: float
    cv_rel_min_layer: str
    cv_rel_max: float
    cv_rel_max_layer: str


def reliable_shares(spectra: Spectra, rates: Sequence[float]) -> ReliableShares:
    """Where the highest-rate network's layers keep the least and the most of their variance across repeats."""
    last = depth_table(spectra, rates, lambda s: s.reliable_share()).iloc[:, -1]
    return ReliableShares(float(last.min()), str(last.idxmin()), float(last.max()), str(last.idxmax()))


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


def _check_same_shape(table: pd.DataFrame, **others: pd.DataFrame) -> None:
    for name, other in others.items():
        if other.shape != table.shape or list(other.index) != list(table.index):
            raise ValueError(f"{name}: expected the layers and networks of the action table {table.shape}, "
                             f"got {other.shape}")
