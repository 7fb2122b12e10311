"""Toy models of superposition trained with dropout on their hidden units: the paper's mechanism (a noisy channel
favours redundant, polysemantic codes) tested where the features are known (chapter 8).

Two models of n features through m hidden units, W of shape (m, n) (hidden x features; Elhage et al. 2022):

- ``linear``: h = W x, chapter 1's model;
- ``relu``: h = ReLU(W x), so that the hidden units are neurons (a privileged basis) that can be polysemantic;

both read out as x' = ReLU(W^T (mask * h) / (1 - p) + b), mask_j ~ Bernoulli(1 - p) per sample and unit (inverted
dropout, as torch's). Inputs: x_i = 0 with probability S, else U[0, 1]; importance I_i = decay^i; loss
mean over the batch and the features of I_i (x_i - x'_i)^2; AdamW with chapter 1's weight decay.

The grid [ours]: every (seed, sparsity, decay, dropout rate) is one instance of ONE batched model. The instances of
one seed share their initial W and their random streams: the uniforms of the inputs, and those of the masks (unit j
is dropped where its uniform is below p, so a unit dropped at one rate is dropped at every higher rate). An
instance therefore differs from its p = 0 twin by the dropout alone, and seeds are independent of each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from polycode_utils.checks import (check_array, check_choice, check_dropout, check_float_in, check_int,
                                   check_positive_float, check_sequence)
from polycode_utils.theory.capacity import best_redundancy
from polycode_utils.theory.claims import Effect
from polycode_utils.theory.codes import (dimensions_per_feature, features_per_neuron, neurons_per_feature,
                                         participation_ratio)
from polycode_utils.instruments.spectra import cv_spectra, eigenspectrum, fit_power_law, t_interval

HIDDEN = ("relu", "linear")
MEASURES = ("represented", "d_star", "neurons_per_feature", "features_per_neuron", "neurons_per_feature_pr",
            "features_per_neuron_pr", "loss_masks_off", "loss_masks_on", "alpha", "reliable_share")


@dataclass(frozen=True)
class ToyGrid:
    """The instances of a dropout grid: one entry per (seed, sparsity, decay, dropout rate), seed slowest."""

    seed_index: np.ndarray   # (k,) which seed (0 .. n_seeds - 1)
    sparsity: np.ndarray     # (k,) S
    decay: np.ndarray        # (k,) importance I_i = decay^i (1: all features equally important)
    dropout: np.ndarray      # (k,) p
    n_features: int
    n_seeds: int

    @property
    def importance(self) -> np.ndarray:
        """(k, n): I_i = decay^i of every instance."""
        return self.decay[:, None] ** np.arange(self.n_features)[None, :]


def toy_grid(n_features: int, dropout_rates: Sequence[float], sparsities: Sequence[float],
             decays: Sequence[float], n_seeds: int) -> ToyGrid:
    """Every combination of seed, sparsity, importance decay and dropout rate; the rates must include 0 (the
    control of every claim)."""
    n = check_int(n_features, "n_features", 2)
    rates = [check_dropout(p, "dropout_rates") for p in check_sequence(dropout_rates, "dropout_rates")]
    if 0.0 not in rates or len(set(rates)) != len(rates):
        raise ValueError(f"dropout_rates: distinct rates including 0 (the control), got {rates}")
    sparse = [float(s) for s in check_sequence(sparsities, "sparsities")]
    if any(not 0.0 <= s < 1.0 for s in sparse):
        raise ValueError(f"sparsities: each must lie in [0, 1), got {sparse}")
    dec = [float(d) for d in check_sequence(decays, "decays")]
    if any(not 0.0 < d <= 1.0 for d in dec):
        raise ValueError(f"decays: each must lie in (0, 1] (1: uniform importance), got {dec}")
    seeds = check_int(n_seeds, "n_seeds", 1)
    rows = np.array([(i, s, d, p) for i in range(seeds) for s in sparse for d in dec for p in rates], dtype=float)
    return ToyGrid(rows[:, 0].astype(int), rows[:, 1], rows[:, 2], rows[:, 3], n, seeds)


@dataclass(frozen=True, eq=False)
class DropoutToyResult:
    """A trained dropout grid: W (k, m, n), b (k, n), the training loss of every instance at every step."""

    grid: ToyGrid
    weights: np.ndarray
    biases: np.ndarray
    losses: np.ndarray       # (steps, k)
    hidden: str
    seed: int


def _seed_streams(seed: int | tuple[int, ...], n_seeds: int) -> list[tuple[int, int, int]]:
    """Independent (init, inputs, masks) 63-bit seeds for each of a run's seeds."""
    states = np.random.SeedSequence(seed).spawn(n_seeds)
    return [tuple(int(v) >> 1 for v in s.generate_state(3, dtype=np.uint64)) for s in states]


def _forward(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, keep: torch.Tensor | None, relu: bool
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """(hidden activations without masks, reconstruction x' with keep = mask / (1 - p) applied, or none)."""
    h = torch.bmm(x, W.transpose(1, 2))
    if relu:
        h = h.relu()
    return h, torch.baddbmm(b.unsqueeze(1), h if keep is None else h * keep, W).relu()


def _draws(gens: list[torch.Generator], shape: tuple[int, ...], dev: torch.device) -> torch.Tensor:
    """(n_seeds, *shape) uniforms, one stream per seed."""
    return torch.stack([torch.rand(shape, generator=g, device=dev) for g in gens])


def _batch(grid: ToyGrid, gens_x: list[torch.Generator], gens_m: list[torch.Generator], batch: int, m: int,
           dev: torch.device, rate: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs x (k, B, n) and keep = mask / (1 - p) (k, B, m) for every instance, from its seed's streams; p is
    the instance's own rate, or `rate` for all."""
    idx = torch.as_tensor(grid.seed_index, device=dev)
    u = _draws(gens_x, (batch, grid.n_features), dev)[idx]
    inv = torch.as_tensor(1.0 / (1.0 - grid.sparsity), dtype=torch.float32, device=dev).view(-1, 1, 1)
    x = (1.0 - u * inv).relu_()        # 0 with probability S, otherwise uniform on (0, 1] (as chapter 1)
    return x, _keep(grid, gens_m, batch, m, dev, rate)


def _keep(grid: ToyGrid, gens_m: list[torch.Generator], batch: int, m: int, dev: torch.device,
          rate: float | None = None) -> torch.Tensor:
    """keep = mask / (1 - p) (k, B, m) for every instance, from its seed's mask stream (as _batch draws it)."""
    idx = torch.as_tensor(grid.seed_index, device=dev)
    p = torch.as_tensor(grid.dropout if rate is None else np.full(grid.dropout.size, rate), dtype=torch.float32,
                        device=dev).view(-1, 1, 1)
    v = _draws(gens_m, (batch, m), dev)[idx]
    return (v >= p).float() / (1.0 - p)


def train_dropout_toys(grid: ToyGrid, n_hidden: int, *, hidden: str = "relu", steps: int = 5000,
                       batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 0.01, seed: int = 0,
                       device: str | torch.device = "cpu", progress: bool = True) -> DropoutToyResult:
    """Train every instance of the grid at once, with dropout on the hidden units (module docstring; ours)."""
    m = check_int(n_hidden, "n_hidden", 1)
    check_choice(hidden, "hidden", HIDDEN)
    steps, batch = check_int(steps, "steps", 1), check_int(batch_size, "batch_size", 1)
    lr = check_positive_float(lr, "lr")
    weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
    seed = check_int(seed, "seed", 0)
    dev, n, k = torch.device(device), grid.n_features, grid.dropout.size
    streams = _seed_streams(seed, grid.n_seeds)
    init = torch.stack([torch.randn(m, n, generator=torch.Generator().manual_seed(s[0])) for s in streams])
    W = (init[torch.as_tensor(grid.seed_index)] * math.sqrt(2.0 / (m + n))).to(dev).requires_grad_(True)
    b = torch.zeros(k, n, device=dev, requires_grad=True)
    gens_x = [torch.Generator(device=dev).manual_seed(s[1]) for s in streams]
    gens_m = [torch.Generator(device=dev).manual_seed(s[2]) for s in streams]
    imp = torch.as_tensor(grid.importance, dtype=torch.float32, device=dev).unsqueeze(1)
    opt = torch.optim.AdamW([W, b], lr=lr, weight_decay=weight_decay)
    losses = torch.empty(steps, k, device=dev)
    for step in tqdm(range(steps), desc=f"toy models with dropout ({k} instances)", disable=not progress,
                     mininterval=0.5):
        x, keep = _batch(grid, gens_x, gens_m, batch, m, dev)
        loss = (imp * (_forward(W, b, x, keep, hidden == "relu")[1] - x).square()).mean(dim=(1, 2))
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()    # instances share no parameter: the sum's gradient is each instance's own
        opt.step()
        losses[step] = loss.detach()
    return DropoutToyResult(grid, W.detach().cpu().numpy(), b.detach().cpu().numpy(), losses.cpu().numpy(),
                            hidden, seed)


def _evaluate(result: DropoutToyResult, n_samples: int, seed: int, rate: float | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per instance, on n_samples fresh inputs: loss with masks off, loss with masks at `rate` (None: the
    instance's own), hidden activations, and the reliable share of the masked reconstruction (cvPCA of two
    independent mask draws on the same inputs)."""
    n = check_int(n_samples, "n_samples", 2)
    seed = check_int(seed, "seed", 0)
    grid, m = result.grid, result.weights.shape[1]
    streams = _seed_streams((result.seed, seed, 1), grid.n_seeds)   # never the training streams
    gens_x = [torch.Generator().manual_seed(s[1]) for s in streams]
    gens_m = [torch.Generator().manual_seed(s[2]) for s in streams]
    W, b = (torch.as_tensor(a, dtype=torch.float32) for a in (result.weights, result.biases))
    imp = torch.as_tensor(grid.importance, dtype=torch.float32).unsqueeze(1)
    with torch.no_grad():
        x, keep = _batch(grid, gens_x, gens_m, n, m, torch.device("cpu"), rate)
        h, off = _forward(W, b, x, None, result.hidden == "relu")
        on = _forward(W, b, x, keep, result.hidden == "relu")[1]
        again = _forward(W, b, x, _keep(grid, gens_m, n, m, torch.device("cpu"), rate),
                         result.hidden == "relu")[1]  # the same inputs, the masks drawn anew
    shares = [cv.sum() / own.sum() if own.sum() > 0 else np.nan
              for cv, own in (cv_spectra(a, c) for a, c in zip(on.numpy(), again.numpy()))]
    return ((imp * (off - x).square()).mean(dim=(1, 2)).numpy(),
            (imp * (on - x).square()).mean(dim=(1, 2)).numpy(), h.numpy(), np.asarray(shares, dtype=float))


def code_measures(result: DropoutToyResult, *, represented_above: float = 0.5, threshold: float = 0.3,
                  test_dropout: float | None = None, n_samples: int = 2048, seed: int = 1) -> pd.DataFrame:
    """The ground-truth measures of every instance's code, one row per instance (ours):

    Each is measured on the code the units carry (W, or its positive part W+ for ReLU units: the comment below).
    represented: features with ||W_i|| > represented_above; d_star: m / ||W||_F^2 (Fig. 1c); neurons_per_feature:
    mean over represented features of the units with |W_ji| > threshold (redundancy); features_per_neuron: mean
    over the units that carry any feature of the represented features with |W_ji| > threshold (polysemanticity);
    the same two as participation ratios (*_pr: no threshold; over the represented features, and over the units
    whose weights from them have norm > represented_above);
    loss_masks_off, loss_masks_on: the loss on n_samples fresh inputs without dropout and with dropout at
    test_dropout (None: each instance's own rate), the robustness;
    alpha: the power-law exponent of the hidden activations' eigenspectrum, PCs 1..m (NaN under 3 positive);
    reliable_share: cvPCA (Stringer et al. 2019) of the reconstruction under two independent mask draws at the test
    rate on the same inputs, the share of its variance the second draw reproduces (the paper's reliability
    instrument; the hidden units themselves carry no noise).
    """
    rep_above = check_positive_float(represented_above, "represented_above", allow_zero=True)  # strict: > 0 is
    thr = check_positive_float(threshold, "threshold", allow_zero=True)                        # "any weight at all"
    # The code a unit carries: with ReLU units and inputs >= 0, unit j responds to feature i only through W_ji > 0
    # (and a feature alone comes back with gain ||W_i+||^2), so negative weights, and units that never fire, carry
    # nothing; a linear unit carries |W_ji|.
    W = check_array(result.weights, "weights", ndim=3)
    W = np.clip(W, 0.0, None) if result.hidden == "relu" else W
    represented = np.linalg.norm(W, axis=1) > rep_above                          # (k, n)
    strong = (np.abs(W) > thr) & represented[:, None, :]                          # (k, m, n)
    npf = neurons_per_feature(np.where(strong, W, 0.0), thr)                    # (k, n)
    fpn = features_per_neuron(np.where(strong, W, 0.0), thr)                    # (k, m)
    kept = np.where(represented[:, None, :], W, 0.0)
    live = np.linalg.norm(kept, axis=2) > rep_above                              # (k, m)
    rate = None if test_dropout is None else check_dropout(test_dropout, "test_dropout")
    loss_off, loss_on, h, reliable = _evaluate(result, n_samples, seed, rate)
    grid = result.grid
    return pd.DataFrame({
        "seed": grid.seed_index, "sparsity": grid.sparsity, "decay": grid.decay, "dropout": grid.dropout,
        "represented": represented.sum(axis=1), "d_star": dimensions_per_feature(W),
        "neurons_per_feature": _mean_where(npf, represented), "features_per_neuron": _mean_where(fpn, fpn > 0),
        "neurons_per_feature_pr": _mean_where(participation_ratio(W, -2), represented),
        "features_per_neuron_pr": _mean_where(participation_ratio(kept, -1), live),
        "loss_masks_off": loss_off, "loss_masks_on": loss_on, "alpha": [_alpha(a) for a in h],
        "reliable_share": reliable})


def measures_by_condition(table: pd.DataFrame, n_hidden: int, measures: Sequence[str] = (
        "represented", "neurons_per_feature", "features_per_neuron", "d_star", "alpha", "reliable_share")
        ) -> pd.DataFrame:
    """Each measure's mean over seeds by (sparsity, decay, dropout), beside k_opt: the repetition k that keeps the
    most capacity through one dropout layer of m = n_hidden units at that rate (capacity.best_redundancy, ours)."""
    m = check_int(n_hidden, "n_hidden")
    names = [check_choice(name, "measures", MEASURES) for name in measures]
    means = table.groupby(["sparsity", "decay", "dropout"])[names].mean()
    rates = means.index.get_level_values("dropout").to_numpy(dtype=float)
    return means.assign(k_opt=np.asarray(best_redundancy(m, 1, rates), dtype=int).reshape(rates.shape))


def _mean_where(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Row means of values over the entries where `where` holds; NaN for a row with none."""
    count = where.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (values * where).sum(axis=1) / np.maximum(count, 1), np.nan)


def _alpha(h: np.ndarray) -> float:
    """Signed power-law exponent of the eigenspectrum of activations (samples, m), PCs 1..m; NaN if < 3 positive."""
    lam = eigenspectrum(h)
    try:
        return fit_power_law(lam, (1, lam.size)).alpha
    except ValueError:
        return float("nan")


def dropout_effect(table: pd.DataFrame, measure: str, rate: float, what: str, sign: float = 1.0
                   ) -> tuple[Effect, pd.Series]:
    """sign x (the measure at dropout rate `rate` minus its p = 0 twin): per seed, the mean over conditions
    (sparsity, decay) of the difference, with its Student-t 95 % interval over seeds; and the difference of the
    seed means in each condition, indexed by (sparsity, decay) (the cases a claim counts). sign -1: a claim that
    dropout lowers the measure."""
    check_choice(sign, "sign", (1.0, -1.0))
    check_choice(measure, "measure", MEASURES)
    rates = set(table["dropout"])
    if rate not in rates or rate == 0.0:
        raise ValueError(f"rate: one of the table's non-zero dropout rates {sorted(rates - {0.0})}, got {rate!r}")
    key = ["seed", "sparsity", "decay"]
    at = table[table["dropout"] == rate].set_index(key)[measure]
    base = table[table["dropout"] == 0.0].set_index(key)[measure]
    diff = sign * (at - base.reindex(at.index)).dropna()
    per_seed = diff.groupby(level="seed").mean().to_numpy()
    low, high = t_interval(per_seed)
    per_condition = diff.groupby(level=["sparsity", "decay"]).mean()
    return Effect(float(per_seed.mean()), low, high, int(per_seed.size), what), per_condition


def training_gain(result: DropoutToyResult) -> np.ndarray:
    """Per instance, the relative fall of the mean training loss from the third quarter of the steps to the last
    (the convergence rule's statistic; NaN with fewer than 8 steps)."""
    steps = result.losses.shape[0]
    if steps < 8:
        return np.full(result.losses.shape[1], np.nan)
    q = steps // 4
    before, last = result.losses[-2 * q:-q].mean(axis=0), result.losses[-q:].mean(axis=0)
    return (before - last) / before


@dataclass(frozen=True)
class Convergence:
    """The convergence rule's counts [ours]: a model has converged when its mean training loss fell by less than
    max_gain from the third quarter of the steps to the last, and has learnt when its loss without masks is below
    the best constant output's."""

    n: int
    n_still: int        # models still falling by max_gain or more (or trained too few steps to tell)
    worst_gain: float
    n_not_learnt: int   # models no better than the constant output
    max_gain: float

    @property
    def converged(self) -> bool:
        """Every model has converged and learnt."""
        return self.n_still == 0 and self.n_not_learnt == 0


def convergence(result: DropoutToyResult, table: pd.DataFrame, max_gain: float = 0.02) -> Convergence:
    """The convergence rule applied to every instance of a run (code_measures' table of it)."""
    max_gain = check_float_in(max_gain, "max_gain", 0.0, 1.0)
    gain, trivial = training_gain(result), constant_output_loss(result.grid)
    return Convergence(int(gain.size), int((~(gain < max_gain)).sum()), float(gain.max()),  # NaN: too few steps
                       int((table["loss_masks_off"].to_numpy() >= trivial).sum()), max_gain)


def constant_output_loss(grid: ToyGrid) -> np.ndarray:
    """Per instance, the loss of the best constant output x' = E[x] (the trivial baseline): mean_i I_i Var(x_i),
    with Var(x_i) = (1 - S) / 3 - (1 - S)^2 / 4 for x_i = 0 with probability S, else U[0, 1]."""
    density = 1.0 - grid.sparsity
    return (grid.importance * (density / 3.0 - density ** 2 / 4.0)[:, None]).mean(axis=1)
