"""Toy models of superposition (Elhage et al. 2022), trained for many sparsities at once (Fig. 1c).

The model maps n features through m < n hidden dimensions and back, x' = ReLU(W^T W x + b), with W of shape
(m, n) (hidden x features). Inputs: x_i = 0 with probability S (the sparsity), else U[0, 1]; loss
sum_i I_i (x_i - x'_i)^2, averaged over the batch and the features. Every sparsity is one *instance* of ONE
batched model: W has shape (instances, m, n); the instances share nothing but the optimiser call, so training
them together is training them one by one (the tests check it). How much faster it is depends on
their size: bench/bench_toy_models.py.

Choices where the sources are silent [ours]: W is initialised Xavier-normal per instance, N(0, 2 / (m + n)), so
that no instance's scale depends on how many are trained with it; b = 0; AdamW (lr 1e-3 as in Elhage et al.) with
torch's default weight decay 0.01. By default all instances see the same uniform draws u ("common random
numbers": instance i uses x = ReLU(1 - u / (1 - S_i)), which is 0 with probability S_i and uniform otherwise):
each instance gets exactly its input distribution, at a fraction of the random-number cost; common_inputs=False
draws independently per instance.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
import torch
from tqdm.auto import tqdm

from polycode_utils.checks import check_array, check_int, check_positive_float

ArrayLike = np.ndarray | torch.Tensor

#: Dimensions per feature at which Elhage et al. 2022 found D* to stick (their Fig. "feature dimensionality").
STICKY_FRACTIONS = (1.0, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8)


@dataclass(frozen=True, eq=False)
class ToyModelResult:
    """A trained batch of toy models: one instance per sparsity (Elhage et al. 2022; Fig. 1c)."""

    weights: np.ndarray      # (instances, m, n): W, hidden x features
    biases: np.ndarray       # (instances, n): b
    losses: np.ndarray       # (steps, instances): each instance's training loss at every step
    sparsities: np.ndarray   # (instances,): S
    importance: np.ndarray   # (instances, n): I
    steps: int
    batch_size: int
    lr: float
    seed: int


@dataclass(frozen=True)
class StickyPlateau:
    """The longest run of consecutive instances whose D* stays within tolerance of one sticky fraction."""

    fraction: Fraction   # the sticky fraction, e.g. Fraction(1, 2)
    first: int           # index of the first instance of the run
    last: int            # index of the last instance of the run (inclusive)
    length: int          # last - first + 1, or 0 when no D* lies within tolerance of any fraction


@dataclass(frozen=True)
class OptimumComparison:
    """Fig. 1c in numbers: trained D* against the optimal D_opt, and the per-feature code of the densest instance.

    Instances are ordered from dense to sparse (as elhage_sparsities gives them). Numbers and verdicts are ours.
    """

    d_star_dense: float            # D* of the densest instance
    d_star_sparsest: float         # D* of the sparsest instance
    d_opt_sparsest: float          # D_opt there
    d_gap_sparsest: float          # D* - D_opt there
    d_ratio_sparsest: float        # D* / D_opt there
    n_above_opt: int               # instances with D* >= D_opt - tolerance
    n_forced: int                  # instances where D_opt <= m/n, the floor of a model representing every feature
    n_above_tested: int            # instances with D* >= D_opt - tolerance among the others (not forced)
    min_ratio: float               # smallest D* / D_opt over the instances
    n_represented_sparsest: int    # features of the sparsest instance with D_i > represented_above
    d_feature_dense_mean: float    # mean D_i of the densest instance
    d_feature_dense_max: float     # largest D_i of the densest instance
    n_half_dense: int              # features of the densest instance with D_i > 1/2
    dense_settled: bool            # verdict: the densest D* is within settled_tolerance of 1
    distributed: bool              # verdict: fewer than m/2 features of the densest instance have D_i > 1/2
    all_above: bool                # verdict: D* >= D_opt - tolerance at every sparsity, as for any lossless code

    def numbers(self) -> dict[str, float | int]:
        """The numeric fields by name (every field but the three verdicts)."""
        return {name: value for name, value in asdict(self).items() if not isinstance(value, bool)}


def compare_with_optimum(d_star: ArrayLike, d_feature: ArrayLike, d_opt: ArrayLike, n_hidden: int, *,
                         tolerance: float = 1e-3, settled_tolerance: float = 0.05,
                         represented_above: float = 0.05) -> OptimumComparison:
    """Trained D* (instances,) and D_i (instances, n) against D_opt (instances,), m = n_hidden (ours; Fig. 1c);
    instances where D_opt <= m/n are forced (D* >= D_opt holds for any model that represents every feature)."""
    d = check_array(d_star, "d_star", ndim=1)
    opt = check_array(d_opt, "d_opt", ndim=1)
    feat = check_array(d_feature, "d_feature", ndim=2)
    if d.size == 0 or opt.shape != d.shape or feat.shape[0] != d.size:
        raise ValueError(f"d_star, d_opt, d_feature: expected (k,), (k,) and (k, n) with k >= 1 instances, got "
                         f"{d.shape}, {opt.shape} and {feat.shape}")
    m = check_int(n_hidden, "n_hidden")
    tol = check_positive_float(tolerance, "tolerance", allow_zero=True)
    settled = check_positive_float(settled_tolerance, "settled_tolerance", allow_zero=True)
    represented = check_positive_float(represented_above, "represented_above", allow_zero=True)
    above, forced = d >= opt - tol, opt <= m / feat.shape[1]
    n_half = int((feat[0] > 0.5).sum())
    return OptimumComparison(
        d_star_dense=float(d[0]), d_star_sparsest=float(d[-1]), d_opt_sparsest=float(opt[-1]),
        d_gap_sparsest=float(d[-1] - opt[-1]), d_ratio_sparsest=float(d[-1] / opt[-1]),
        n_above_opt=int(above.sum()), n_forced=int(forced.sum()), n_above_tested=int((above & ~forced).sum()),
        min_ratio=float((d / opt).min()),
        n_represented_sparsest=int((feat[-1] > represented).sum()), d_feature_dense_mean=float(feat[0].mean()),
        d_feature_dense_max=float(feat[0].max()), n_half_dense=n_half,
        dense_settled=bool(abs(d[0] - 1.0) <= settled), distributed=n_half < m / 2, all_above=bool(np.all(above)))


def elhage_sparsities(n_sparsities: int = 20, max_inverse_density: float = 20.0) -> np.ndarray:
    """Sparsities of Elhage et al.'s dimensionality sweep, 1 - S = r^(-linspace(0, 1, k)), r = 20 (Fig. 1c x axis)."""
    k = check_int(n_sparsities, "n_sparsities", 1)
    r = check_positive_float(max_inverse_density, "max_inverse_density")
    if r < 1:
        raise ValueError(f"max_inverse_density: must be >= 1 (1 / (1 - S) of the sparsest instance), got {r!r}")
    return 1.0 - r ** -np.linspace(0.0, 1.0, k)


def _instance_seeds(seed: int) -> tuple[int, int]:
    """Independent 63-bit seeds for the initialisation and the data streams of one run."""
    init, data = np.random.SeedSequence(seed).generate_state(2, dtype=np.uint64)
    return int(init) >> 1, int(data) >> 1


def train_toy_models(n_features: int, n_hidden: int, sparsities: ArrayLike | list[float],
                     importance: ArrayLike | None = None, steps: int = 10_000, batch_size: int = 1024,
                     lr: float = 1e-3, seed: int = 0, *, weight_decay: float = 0.01, common_inputs: bool = True,
                     device: str | torch.device = "cpu", progress: bool = True) -> ToyModelResult:
    """Train x' = ReLU(W^T W x + b) for every sparsity at once, one batched model (Elhage et al. 2022; Fig. 1c).

    importance: None (all 1), shape (n,) or (instances, n), entries >= 0. Returns weights, biases and the loss of
    every instance at every step. The gradient is written out by hand (checked against autograd in the tests)
    so that a step allocates no (instances, batch, n) temporaries; AdamW does the update.
    """
    n = check_int(n_features, "n_features", 1)
    m = check_int(n_hidden, "n_hidden", 1)
    steps = check_int(steps, "steps", 1)
    batch = check_int(batch_size, "batch_size", 1)
    seed = check_int(seed, "seed", 0)
    lr = check_positive_float(lr, "lr")
    weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
    s = check_array(sparsities, "sparsities", ndim=1)
    if s.size == 0:
        raise ValueError("sparsities: expected a non-empty 1-D array (one sparsity per instance), got none")
    if np.any((s < 0.0) | (s >= 1.0)):
        raise ValueError(f"sparsities: every sparsity must lie in [0, 1), got values in [{s.min():g}, {s.max():g}]")
    n_inst = s.size
    if importance is None:
        imp = np.ones((n_inst, n))
    else:
        imp = check_array(importance, "importance")
        if imp.shape not in ((n,), (n_inst, n)):
            raise ValueError(f"importance: expected shape ({n},) or ({n_inst}, {n}), got {imp.shape}")
        if np.any(imp < 0):
            raise ValueError("importance: every entry must be >= 0")
        imp = np.broadcast_to(imp, (n_inst, n)).copy()

    dev = torch.device(device)
    seed_init, seed_data = _instance_seeds(seed)
    gen_init = torch.Generator(device=dev).manual_seed(seed_init)
    gen_data = torch.Generator(device=dev).manual_seed(seed_data)
    # One draw per instance, in order: instance i starts where it would in a run of instances 0..i alone.
    W = torch.stack([torch.randn(m, n, generator=gen_init, device=dev) for _ in range(n_inst)])
    W.mul_(math.sqrt(2.0 / (m + n))).requires_grad_(True)
    b = torch.zeros(n_inst, n, device=dev, requires_grad=True)
    opt = torch.optim.AdamW([W, b], lr=lr, weight_decay=weight_decay)

    neg_inv_density = torch.as_tensor(-1.0 / (1.0 - s), dtype=torch.float32, device=dev).view(n_inst, 1, 1)
    one = torch.ones((), device=dev)
    sqrt_imp = (torch.as_tensor(np.sqrt(imp), dtype=torch.float32, device=dev).view(n_inst, 1, n)
                if np.any(imp != 1.0) else None)
    # Buffers reused at every step: no (instances, batch, n) allocation inside the loop.
    u = torch.empty((1 if common_inputs else n_inst), batch, n, device=dev)
    x = torch.empty(n_inst, batch, n, device=dev)
    buf = _buffers(n_inst, batch, m, n, dev)
    losses = torch.empty(steps, n_inst, device=dev)

    for step in tqdm(range(steps), desc=f"toy models ({n_inst} sparsities)", disable=not progress,
                     mininterval=0.5):
        with torch.no_grad():
            u.uniform_(generator=gen_data)
            # x = ReLU(1 - u / (1 - S)): 0 with probability S, otherwise uniform on (0, 1].
            torch.addcmul(one, u, neg_inv_density, out=x).relu_()
            losses[step], W.grad, b.grad = _loss_and_grad(W.detach(), b.detach(), x, sqrt_imp, buf)
        opt.step()

    return ToyModelResult(weights=W.detach().cpu().numpy(), biases=b.detach().cpu().numpy(),
                          losses=losses.cpu().numpy(), sparsities=s, importance=imp, steps=steps,
                          batch_size=batch, lr=lr, seed=seed)


def _buffers(n_inst: int, batch: int, m: int, n: int, dev: torch.device) -> dict[str, torch.Tensor]:
    """Preallocated work arrays of one training step."""
    return {"z": torch.empty(n_inst, batch, n, device=dev), "r": torch.empty(n_inst, batch, n, device=dev),
            "h": torch.empty(n_inst, batch, m, device=dev), "g_h": torch.empty(n_inst, batch, m, device=dev)}


def _loss_and_grad(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, sqrt_imp: torch.Tensor | None,
                   buf: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-instance loss mean_(batch, i) I_i (x'_i - x_i)^2 and its exact gradients in W and b (Elhage et al. 2022).

    Written out by hand into preallocated buffers (checked against autograd in the tests): with h = W x,
    x' = ReLU(W^T h + b), r = I (x' - x) ReLU'(.), dL/db = c sum_batch r, dL/dW = c (h^T r + (r W^T)^T x), c = 2/(B n).
    """
    z, r, h, g_h = buf["z"], buf["r"], buf["h"], buf["g_h"]
    n_inst, batch, n = x.shape
    torch.bmm(x, W.transpose(1, 2), out=h)                  # h = W x
    torch.baddbmm(b.unsqueeze(1), h, W, out=z).relu_()      # x' = ReLU(W^T h + b)
    torch.sub(z, x, out=r)                                  # r = x' - x
    if sqrt_imp is not None:
        r.mul_(sqrt_imp)
    loss = torch.linalg.vector_norm(r.view(n_inst, -1), dim=1).square_().div_(batch * n)
    if sqrt_imp is not None:
        r.mul_(sqrt_imp)                                    # I (x' - x)
    r.mul_(torch.sign(z, out=z))                            # times ReLU' = sign(x'), as x' >= 0
    g_W = torch.bmm(h.transpose(1, 2), r)                   # through the decoder W^T ...
    torch.bmm(r, W.transpose(1, 2), out=g_h)
    g_W.baddbmm_(g_h.transpose(1, 2), x)                    # ... and through the encoder W
    scale = 2.0 / (batch * n)
    return loss, g_W.mul_(scale), r.sum(dim=1).mul_(scale)


def smooth_plateau(d_star: ArrayLike, sparsity: ArrayLike, degree: int = 3, tolerance: float = 0.03,
                   skip_first: int = 1) -> StickyPlateau:
    """sticky_plateau of a smooth curve through the same D*: the least-squares polynomial of `degree` in
    log 1/(1-S), the control of Fig. 1c's stickiness (a smooth fall also lingers near some fraction for a while)
    (ours)."""
    d = check_array(d_star, "d_star", ndim=1)
    s = check_array(sparsity, "sparsity", ndim=1)
    k = check_int(degree, "degree", 0)
    if s.shape != d.shape or d.size <= k:
        raise ValueError(f"d_star, sparsity: expected equal lengths above degree {k}, got {d.shape} and {s.shape}")
    x = -np.log1p(-s)
    return sticky_plateau(np.polynomial.Polynomial.fit(x, d, k)(x), tolerance, skip_first)


def sticky_plateau(d_star: ArrayLike, tolerance: float = 0.03, skip_first: int = 1) -> StickyPlateau:
    """Longest run of consecutive D* values near one sticky fraction (the plateaus of Fig. 1c; Elhage et al. 2022).

    The fraction 1 is left out (dense models sit there trivially), and so are the first skip_first instances.
    """
    d = check_array(d_star, "d_star", ndim=1)
    tol = check_positive_float(tolerance, "tolerance", allow_zero=True)
    skip = check_int(skip_first, "skip_first", 0)
    fractions = [Fraction(f).limit_denominator(8) for f in STICKY_FRACTIONS if f != 1.0]
    best = StickyPlateau(fraction=fractions[0], first=0, last=-1, length=0)
    for frac in fractions:
        near = np.abs(d - float(frac)) <= tol
        near[:skip] = False
        run_start = None
        for i, ok in enumerate(np.append(near, False)):
            if ok and run_start is None:
                run_start = i
            elif not ok and run_start is not None:
                if i - run_start > best.length:
                    best = StickyPlateau(fraction=frac, first=run_start, last=i - 1, length=i - run_start)
                run_start = None
    return best
