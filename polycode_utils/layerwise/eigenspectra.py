"""A network's eigenspectra layer by layer (Figs. 3 and 5): the measurement and the numbers chapter 5 states.

Activations are recorded with forward hooks (``activations.record_activations``, eval mode: dropout off, z = mu)
and measured with the instruments of ``spectra``. alpha is the signed log-log slope (alpha < 0; book/methods.md).
Every layer is measured on n_sets independent evaluation sets (fresh images): alpha is the mean over the sets and
its interval the t interval over them [ours]. Networks are named by keys (label, seed) as in ``layerwise.common``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from polycode_utils.networks.activations import record_activations
from polycode_utils.checks import check_choice, check_int
from polycode_utils.networks.data import DATASETS, ImageData, evaluation_images
from polycode_utils.networks.models import INPUT_DEPTH, dropout_noise_copy
from polycode_utils.instruments.spectra import (FIT_METHODS, check_fit_range, clip_fit_range, cv_spectra,
                                                evaluation_set_coverage, fit_power_law, fit_quality, FitQuality,
                                                numerical_rank, PowerLawFit, principal_components, score_correlation,
                                                SetCoverage, t_interval)
from polycode_utils.runtime.workers import torch_threads

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
    fit_range = check_fit_range(fit_range)
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
    fit_range = check_fit_range(fit_range)
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
    fit_range = check_fit_range(fit_range)
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
    """The chapter's interval checked on known spectra n^alpha at its own size (spectra.evaluation_set_coverage)."""
    with torch_threads(1):
        return {float(a): evaluation_set_coverage(n_images, n_units, float(a), fit_range, n_sets, n_draws, method,
                                                seed=seed) for a in alphas}
