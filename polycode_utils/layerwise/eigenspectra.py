"""A network's eigenspectra layer by layer (Figs. 3 and 5): the measurement and the numbers chapter 5 states.

Activations are recorded with forward hooks (``activations.record_activations``, eval mode: dropout off, z = mu)
and measured with the instruments of ``spectra``. alpha is the signed log-log slope (alpha < 0; book/methods.md).
Every layer is measured on n_sets independent evaluation sets (fresh images): alpha is the mean over the sets and
its interval the t interval over them [ours]. Networks are named by keys (label, seed) as in ``layerwise.common``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from polycode_utils.activations import record_activations
from polycode_utils.capacity import power_law_entropy
from polycode_utils.checks import check_choice, check_float_in, check_int, check_sequence
from polycode_utils.claims import controlled_verdict, count_verdict
from polycode_utils.data import DATASETS, ImageData, evaluation_images
from polycode_utils.layerwise.common import (CONTROL, Key, _direction, _spearman, control_effect, depth_correlations,
                                             format_mean_sd, over_seeds, paired_difference, rate_label, seed_table)
from polycode_utils.models import CONV_DEPTHS, DENSE_DEPTHS, INPUT_DEPTH, dropout_noise_copy
from polycode_utils.spectra import (FIT_METHODS, FitQuality, PowerLawFit, SetCoverage, clip_fit_range, cv_spectra,
                                    fit_power_law, fit_quality, numerical_rank, principal_components, score_correlation,
                                    set_interval_coverage, t_interval)
from polycode_utils.training import torch_threads

CIFAR10_TEST_IMAGES = 10_000  # the CIFAR-10 test split: the evaluation sets must fit in it


# ---------------------------------------------------------------------------------------------------------------
# Fig. 3 and Fig. 5: eigenspectra by depth, on independent evaluation sets


def evaluation_sets(dataset: str, n_images: int, n_sets: int, seed: int = 0, root: object = None, size: int = 32
                    ) -> tuple[list[np.ndarray], ImageData]:
    """n_sets disjoint sets of n_images held-out images of size x size pixels (fresh patch crops, or CIFAR-10 test
    images) [ours]."""
    check_choice(dataset, "dataset", DATASETS)
    n_images, n_sets = check_int(n_images, "n_eval_images", 3), check_int(n_sets, "n_eval_sets", 1)
    if dataset == "cifar10" and n_images * n_sets > CIFAR10_TEST_IMAGES:
        raise ValueError(f"n_eval_images, n_eval_sets: {n_sets} sets of {n_images} images need {n_images * n_sets}, "
                         f"the CIFAR-10 test split holds {CIFAR10_TEST_IMAGES}; lower n_eval_sets or n_eval_images")
    data = evaluation_images(dataset, n_images * n_sets, seed=seed, size=size, root=root)
    return [data.images[k * n_images:(k + 1) * n_images] for k in range(n_sets)], data


def mean_brightness(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """Each image's mean pixel value over channels and positions: the covariate PC 1 is read against [ours]."""
    x = np.asarray(images.detach().cpu() if torch.is_tensor(images) else images, dtype=np.float64)
    return x.reshape(x.shape[0], -1).mean(axis=1)


@dataclass(eq=False)
class LayerSpectrum:
    """One layer's eigenspectra over independent evaluation sets, alpha (mean over sets, t interval), fit quality."""

    layer: str
    n_images: int                       # images per evaluation set
    n_units: int
    set_eigenvalues: list[np.ndarray]   # one descending spectrum (min(N, units) values) per evaluation set
    fit: PowerLawFit                    # set 1's fit with the chosen method (drawn in the figures)
    set_alphas: np.ndarray              # alpha of every set, the chosen method
    ci: tuple[float, float]             # t interval of the mean over sets (nan, nan with one set)
    alphas: dict[str, float]            # huber, ols and wls over the same PCs, each the mean over sets
    quality: FitQuality                 # set 1: R^2, curvature, cliff over the fit range [ours]
    vectors: np.ndarray                 # set 1's top principal directions as columns (units x n_vectors)
    pc1_corrs: np.ndarray               # per set: |corr| of PC 1's scores with the images' mean brightness (nan: none)

    @property
    def eigenvalues(self) -> np.ndarray:
        return self.set_eigenvalues[0]

    @property
    def alpha(self) -> float:
        return float(np.mean(self.set_alphas))

    @property
    def pc1_share(self) -> float:
        """PC 1's share of the layer's variance, mean over sets."""
        return float(np.mean([lam[0] / lam.sum() for lam in self.set_eigenvalues]))

    @property
    def pc1_corr(self) -> float:
        return float(np.mean(self.pc1_corrs))

    @property
    def rank(self) -> int:
        """Where the spectrum ends: min(images - 1, eigenvalues above rounding noise)."""
        return min(self.n_images - 1, numerical_rank(self.eigenvalues))


def _check_fit_range(fit_range: Sequence[int]) -> tuple[int, int]:
    """Two 1-based PC numbers [first, last], first <= last."""
    first, last = check_sequence(fit_range, "fit_range (two PC numbers: first, last)", min_len=2, max_len=2)
    clip_fit_range(np.ones(3), (first, last), 3)  # validates the pair (1-based, first <= last)
    return int(first), int(last)


def _fit_all(lam: np.ndarray, fit_range: tuple[int, int], n: int, layer: str) -> dict[str, PowerLawFit]:
    rng = clip_fit_range(lam, fit_range, n)
    if rng[1] - rng[0] + 1 < 3:
        raise ValueError(f"fit_range: {tuple(fit_range)} leaves {rng[1] - rng[0] + 1} PCs of layer {layer!r} "
                         f"(its rank is below {rng[0] + 2}); lower the first PC, or use more images or units")
    return {m: fit_power_law(lam, rng, m) for m in FIT_METHODS}


def _fitted(layer: str, n: int, m: int, set_lams: list[np.ndarray], fit_range: tuple[int, int], method: str,
            vectors: np.ndarray, corrs: np.ndarray, confidence: float) -> LayerSpectrum:
    fits = [_fit_all(lam, fit_range, n, layer) for lam in set_lams]
    set_alphas = np.array([f[method].alpha for f in fits])
    alphas = {k: float(np.mean([f[k].alpha for f in fits])) for k in FIT_METHODS}
    return LayerSpectrum(layer, n, m, set_lams, fits[0][method], set_alphas, t_interval(set_alphas, confidence),
                         alphas, fit_quality(set_lams[0], fits[0][method]), vectors, corrs)


def spectrum_of(x: np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor], layer: str = "layer", *,
                fit_range: Sequence[int] = (1, 500), method: str = "huber", n_vectors: int = 0,
                covariate: np.ndarray | Sequence[np.ndarray] | None = None, confidence: float = 0.95
                ) -> LayerSpectrum:
    """One layer's measurements from its activations (images x units), or a list of them, one per independent
    evaluation set: spectra, alpha (mean over sets) with its t interval, quality, PC 1 against a covariate."""
    # Fit range: PCs fit_range[0] .. min(fit_range[1], rank/2) of each set (spectra.clip_fit_range). Layers wider
    # than the number of images use the Gram form, which has the same non-zero eigenvalues as the covariance.
    check_choice(method, "method", FIT_METHODS)
    fit_range = _check_fit_range(fit_range)
    n_vectors = check_int(n_vectors, "n_vectors", 0)
    sets = list(x) if isinstance(x, (list, tuple)) else [x]
    covs = (list(covariate) if isinstance(covariate, (list, tuple)) else [covariate]) if covariate is not None \
        else [None] * len(sets)
    if len(covs) != len(sets):
        raise ValueError(f"covariate: need one per evaluation set ({len(sets)}), got {len(covs)}")
    set_lams, corrs, vectors, shape = [], [], None, None
    for k, (xs, cov) in enumerate(zip(sets, covs)):
        xt = torch.as_tensor(xs).double()
        if xt.ndim != 2 or xt.shape[0] < 3 or xt.shape != (shape or xt.shape):
            raise ValueError(f"x: expected activations (images, units) with at least 3 images, the same shape in "
                             f"every set, got {tuple(xt.shape)}")
        shape = xt.shape
        n, m = shape
        want = min(max(n_vectors if k == 0 else 0, 1 if cov is not None else 0), n - 1, m)
        lam, vecs = principal_components(xt, want)
        if k == 0:
            vectors = vecs[:, :n_vectors]
        set_lams.append(lam)
        corrs.append(score_correlation(xt, vecs[:, 0], cov) if cov is not None and want else np.nan)
    n, m = shape
    return _fitted(layer, n, m, set_lams, fit_range, method, vectors, np.array(corrs), confidence)


def refit_from(s: LayerSpectrum, first: int, confidence: float = 0.95) -> LayerSpectrum:
    """The same spectra fitted from PC `first` on (e.g. 2: after PC 1), to the same last PC; no new measurement."""
    first = check_int(first, "first", 1)
    last = max(first + 2, s.fit.requested_range[1])
    return _fitted(s.layer, s.n_images, s.n_units, s.set_eigenvalues, (first, last), s.fit.method, s.vectors,
                   s.pc1_corrs, confidence)


def layer_spectra(model: nn.Module, images: np.ndarray | torch.Tensor | Sequence[np.ndarray], layers: Sequence[str]
                  | None = None, *, fit_range: Sequence[int] = (1, 500), method: str = "huber", n_vectors: int = 0,
                  confidence: float = 0.95, batch_size: int = 256,
                  shared: Mapping[str, LayerSpectrum] | None = None) -> OrderedDict[str, LayerSpectrum]:
    """Eigenspectra, alpha with its interval over evaluation sets, fit quality, top eigenvectors and PC 1's
    correlation with the images' mean brightness, layer by layer (Figs. 3b-d, 5)."""
    # images: one array (one set) or a list of equal-sized independent sets. Activations recorded in eval mode
    # (dropout off, z = mu). shared: layers already measured on the same images (the input, identical in every
    # network), reused instead of recorded again.
    check_choice(method, "method", FIT_METHODS)
    fit_range = _check_fit_range(fit_range)
    sets = list(images) if isinstance(images, (list, tuple)) else [images]
    shared = dict(shared or {})
    todo = [name for name in (layers or []) if name not in shared] if layers is not None else None
    acts = record_activations(model, torch.cat([torch.as_tensor(s) for s in sets]), todo, batch_size=batch_size) \
        if todo is None or todo else OrderedDict()
    bounds = np.cumsum([0] + [len(s) for s in sets])
    bright = [mean_brightness(s) for s in sets]
    out = OrderedDict()
    with torch_threads(1):  # one thread: multi-threaded LAPACK stalls when the cores are shared (ours, measured)
        for name in (layers if layers is not None else list(acts)):
            if name in shared:
                out[name] = shared[name]
                continue
            x = acts[name]
            out[name] = spectrum_of([x[a:b] for a, b in zip(bounds[:-1], bounds[1:])], name, fit_range=fit_range,
                                    method=method, n_vectors=n_vectors, covariate=bright, confidence=confidence)
    return out


def grid_spectra(models: Sequence[nn.Module], images: np.ndarray | Sequence[np.ndarray], layers: Sequence[str],
                 **kwargs: object) -> list[OrderedDict[str, LayerSpectrum]]:
    """layer_spectra of every network on the same images, the input measured once (it is the images) [ours]."""
    out: list[OrderedDict[str, LayerSpectrum]] = []
    for model in models:
        shared = {INPUT_DEPTH: out[0][INPUT_DEPTH]} if out and INPUT_DEPTH in out[0] else None
        out.append(layer_spectra(model, images, layers, shared=shared, **kwargs))
    return out


@dataclass(eq=False)
class CrossValidated:
    """cvPCA of one layer (Stringer et al. 2019): two dropout-noise repeats, recorded before the layer's own last
    dropout mask [ours]."""

    layer: str
    cv_eigenvalues: np.ndarray          # cvPCA variance on repeat 1's PCs
    repeat_eigenvalues: np.ndarray      # repeat 1's own variance on the same PCs
    last: int                           # the last PC of the share: the fit range cut at half the rank

    def reliable_share(self) -> float:
        """cvPCA variance / repeat variance over PCs 1..last: 1 when the second repeat reproduces the first."""
        return float(self.cv_eigenvalues[:self.last].sum() / self.repeat_eigenvalues[:self.last].sum())


def cross_validated(noise_model: nn.Module, images: np.ndarray | torch.Tensor, layers: Sequence[str], *,
                    fit_range: Sequence[int] = (1, 500), seed: int = 0, batch_size: int = 256
                    ) -> OrderedDict[str, CrossValidated]:
    """cvPCA of two repeats of the same images with dropout left on (each with its own masks), recorded before
    each stage's own last dropout mask (pre_dropout), so that a mask does not zero the recorded units [ours]."""
    # Pass the network with its BatchNorm statistics as trained (estimated on dropped-out activations); for a
    # network without dropout the repeats are identical. The input has no dropout and is left out.
    fit_range = _check_fit_range(fit_range)
    seed = check_int(seed, "seed", 0)
    names = [name for name in layers if name != INPUT_DEPTH]
    reps = [record_activations(dropout_noise_copy(noise_model, s), images, names, batch_size=batch_size,
                               pre_dropout=True) for s in (2 * seed + 1, 2 * seed + 2)]
    out = OrderedDict()
    with torch_threads(1):
        for name in names:
            cv, own = cv_spectra(torch.as_tensor(reps[0][name]).double(), torch.as_tensor(reps[1][name]).double())
            out[name] = CrossValidated(name, cv, own, clip_fit_range(own, fit_range, len(reps[0][name]))[1])
    return out


def interval_coverage(n_images: int, n_units: int, fit_range: Sequence[int], n_sets: int, n_draws: int,
                      method: str = "huber", seed: int = 0, alphas: Sequence[float] = (-1.0, -2.0)
                      ) -> dict[float, SetCoverage]:
    """The chapter's interval checked on known spectra n^alpha at its own size (spectra.set_interval_coverage)."""
    with torch_threads(1):
        return {float(a): set_interval_coverage(n_images, n_units, float(a), fit_range, n_sets, n_draws, method,
                                                seed=seed) for a in alphas}


# ---------------------------------------------------------------------------------------------------------------
# Summaries of Figs. 3 and 5: the numbers and verdicts chapter 5 states, computed from its spectra. `spectra` is one
# {layer: LayerSpectrum} per network (depth order), `keys` the networks' (label, seed): rate_label(p) or CONTROL.
# Every comparison is over seeds: mean and SD of each label's networks; "beyond the seed spread" means by more than
# `k` (2) SDs of the seed-paired differences [ours].

Spectra = Sequence[Mapping[str, LayerSpectrum]]
PARTS = {"conv": CONV_DEPTHS, "dense": DENSE_DEPTHS}  # depth trends are stated per part, the input left out


def format_alpha(s: LayerSpectrum) -> str:
    """alpha with its interval over evaluation sets, two decimals: '-1.23 [-1.30, -1.15]' (one set: '-1.23')."""
    return f"{s.alpha:.2f} [{s.ci[0]:.2f}, {s.ci[1]:.2f}]" if np.isfinite(s.ci[0]) else f"{s.alpha:.2f}"


def seed_summary(results: Sequence[Mapping[str, object]], keys: Sequence[Key], value: Callable[[object], float],
                 digits: int = 2) -> pd.DataFrame:
    """'mean ± SD over seeds' of one quantity, layers by label (the chapter's tables)."""
    return format_mean_sd(over_seeds(seed_table(results, keys, value)), digits)


def _labels(keys: Sequence[Key]) -> list[str]:
    return list(dict.fromkeys(label for label, _ in keys))


def _trained(keys: Sequence[Key]) -> list[str]:
    return [label for label in _labels(keys) if label != CONTROL]


def _mean_sd_text(mean: pd.Series, sd: pd.Series, fmt: str = "+.2f") -> str:
    return "; ".join(f"{label} {m:{fmt}}" + (f" ± {d:.2f}" if np.isfinite(d) else "")
                     for label, m, d in zip(mean.index, mean, sd))


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
    rho = depth_correlations(body, PARTS)
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
        rho_conv_text=_mean_sd_text(mean["conv"], sd["conv"]), rho_dense_text=_mean_sd_text(mean["dense"], sd["dense"]),
        conv_direction=direction("conv", trained), dense_direction=direction("dense", trained),
        conv_direction_control=direction("conv", control), n_trained=len(trained),
        n_seeds=int(stats.n.max()), alpha_input=float(alpha.loc[INPUT_DEPTH].iloc[0]) if INPUT_DEPTH in alpha.index
        else np.nan, alpha_conv_min=span(conv, np.min), alpha_conv_max=span(conv, np.max),
        alpha_dense_min=span(dense, np.min), alpha_dense_max=span(dense, np.max),
        dense_units_min=int(min(units)), dense_units_max=int(max(units)),
        n_below_m1=int((tr < -1).sum().sum()), n_alpha=int(tr.size))


def _beyond(diff: pd.DataFrame, k: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
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
    t_mean, t_sd, t_beyond = _beyond(paired_difference(alpha), k)
    if len(trained) >= 2:
        d = paired_difference(alpha, control=trained[0])
        d = d.loc[:, [c for c in d.columns if c[0] == trained[-1]]]
        r_mean, r_sd, r_beyond = _beyond(d, k)
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
    n_beyond = int(_more_beyond(spectra, keys, rates, k).loc[layers].sum())
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
    d_mean, _, beyond = _beyond(d.loc[:, [c for c in d.columns if c[0] == trained]], k)
    return ReliableShares(
        cv_rel_min=float(mean[trained].min()), cv_rel_min_layer=str(mean[trained].idxmin()),
        cv_rel_max=float(mean[trained].max()), cv_rel_max_layer=str(mean[trained].idxmax()),
        cv_ctrl_min=float(mean[control].min()), cv_ctrl_max=float(mean[control].max()),
        n_cv_above=int((beyond & (d_mean > 0)).sum().sum()), n_cv_below=int((beyond & (d_mean < 0)).sum().sum()),
        n_cv_layers=len(mean), cv_p=float(p))


def spectra_claims(spectra: Spectra, spectra_pc2: Spectra, keys: Sequence[Key], rates: Sequence[float], layer: str,
                   *, testable: bool, why_not: str = "", min_rho: float = 0.5, k: float = 2.0) -> dict[str, str]:
    """Figs. 3c and 5 judged on the trained networks (glue names of claims.Claim) [ours: the rule; paper: the
    claims]. Fig. 3c: alpha ordered by depth (|Spearman| >= min_rho) within each part of each trained network,
    against the untrained twins (claims.controlled_verdict).
    Fig. 5: a layer deviates more from a power law at the highest rate than at the lowest by more than k seed SDs,
    in fits from PC 1 and still in fits after PC 1 (spectra_pc2: refit_from), since PC 1 alone can make the change."""
    min_rho = check_float_in(min_rho, "min_rho", 0.0, 1.0)
    body = seed_table(spectra, keys, lambda s: s.alpha).drop(index=[INPUT_DEPTH], errors="ignore")
    rho = depth_correlations(body, PARTS)
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
    both = _more_beyond(spectra, keys, rates, k) & _more_beyond(spectra_pc2, keys, rates, k)
    fig5 = count_verdict("fig5", int(both.sum()), len(both), cases="layers", testable=testable, why_not=why_not,
                         control=f"the lowest rate, p = {rates[0]:g}, seed by seed (layers of the same networks, "
                                 "so the layers are not independent cases)",
                         holds=f"the deviation from a power law grows from p = {rates[0]:g} to p = {rates[-1]:g} by "
                               f"more than {k:g} seed SDs, fitted from PC 1 and from PC 2",
                         measured=f"layers deviating more at p = {rates[-1]:g} beyond {k:g} seed SDs: "
                                  f"{d1.n_more_beyond} of {d1.n_layers} fitted from PC 1, {d2.n_more_beyond} from "
                                  f"PC 2; {layer}: rms {d1.f5_rms_first:.3f} → {d1.f5_rms_last:.3f} decades "
                                  f"(untrained {d1.f5_rms_control:.3f})")
    return {**fig3c.glued(), **fig5.glued()}


def _more_beyond(spectra: Spectra, keys: Sequence[Key], rates: Sequence[float], k: float) -> pd.Series:
    """Per layer (the input left out): does the rms deviation grow from the lowest to the highest rate by more
    than k SDs of the seed-paired difference?"""
    first, last = rate_label(rates[0]), rate_label(rates[-1])
    rms = seed_table(spectra, keys, lambda s: s.quality.rms_residual).drop(index=[INPUT_DEPTH], errors="ignore")
    diff = paired_difference(rms, control=first)
    mean, _, beyond = _beyond(diff.loc[:, [c for c in diff.columns if c[0] == last]], k)
    return (beyond & (mean > 0)).iloc[:, 0]
