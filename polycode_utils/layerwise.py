"""A network measured layer by layer: eigenspectra by depth (Figs. 3 and 5) and a moving dot's actions (Fig. 4).

The measurement pipeline: record each depth's activations with forward hooks (``activations.record_activations``,
eval mode: dropout off, z = mu), then measure them with the instruments of ``spectra`` and ``projections``. Conventions as in METHODS.md: alpha is
the signed log-log slope (alpha < 0); the action of z_1..z_T is 1/2 sum ||z_{t+1} - z_t||^2; projections have
entries N(0, 1/m).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from polycode_utils.activations import record_activations
from polycode_utils.checks import check_bool, check_choice, check_int, check_sequence
from polycode_utils.models import dropout_noise_copy
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

    @property
    def mean(self) -> float:
        return float(self.actions.mean())

    @property
    def sd(self) -> float:
        return float(self.actions.std(ddof=1)) if self.actions.size > 1 else 0.0

    @property
    def sem(self) -> float:
        return self.sd / math.sqrt(self.actions.size)


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
        out[name] = LayerAction(name, m, np.asarray(acts_p), expected, scale, np.asarray(z[:n_keep]), dot_fit, dot_q)
    return out
