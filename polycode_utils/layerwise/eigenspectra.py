"""A network's eigenspectra layer by layer (Figs. 3 and 5): the measurement and the numbers chapter 5 states.

Activations are recorded with forward hooks (``activations.record_activations``, eval mode: dropout off, z = mu)
and measured with the instruments of ``spectra``. alpha is the signed log-log slope (alpha < 0; book/methods.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from polycode_utils.activations import record_activations
from polycode_utils.capacity import power_law_entropy
from polycode_utils.checks import check_bool, check_choice, check_float_in, check_int, check_sequence
from polycode_utils.layerwise.common import _direction, _spearman, depth_table
from polycode_utils.models import CONV_DEPTHS, dropout_noise_copy
from polycode_utils.spectra import (FIT_METHODS, FitQuality, PowerLawFit, bootstrap_eigenspectra, bootstrap_interval,
                                    clip_fit_range, cv_spectra, fit_power_law, fit_quality, numerical_rank,
                                    principal_components)


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


def format_alpha(s: LayerSpectrum) -> str:
    """alpha with its interval, two decimals: '-1.23 [-1.30, -1.15]' (no interval: '-1.23')."""
    return f"{s.alpha:.2f} [{s.ci[0]:.2f}, {s.ci[1]:.2f}]" if np.isfinite(s.ci[0]) else f"{s.alpha:.2f}"


def describe_coverage(ci: tuple[float, float], truth: float) -> str:
    """Whether an interval contains a known exponent, and by how much it misses (the calibration of chapter 5)."""
    if not np.isfinite(ci[0]):
        return "no interval: no bootstrap in this run"
    miss = max(ci[0] - truth, truth - ci[1], 0.0)
    return "it contains the truth" if miss == 0 else f"it misses the truth by {miss:.3f}"


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


