"""Mutual information between paired samples of two variables, in nats: MINE and a decoder lower bound.

An instrument: each estimator takes samples x (n, d_x) and y (n, d_y), arrays or tensors, and knows nothing of where
they come from. y may also be a sequence of k arrays measured on the same x (the layers of one network, say, of
any widths): the k estimates are then made side by side by k independent networks trained at once as one stacked
network, which costs a CPU far less than k small ones [ours]. Narrower ys are padded with zero columns to the
widest, which adds no information (a constant carries none). Each estimator standardises its inputs with the
training samples' means and standard deviations, an invertible map that leaves the mutual information unchanged.

MINE {Belghazi et al. 2018} [the note's estimator]: a statistics network T(x, y) is trained to maximise the
Donsker-Varadhan bound I(X; Y) >= E_P[T] - log E_{P_X P_Y}[e^T], the second expectation over x paired with an
independently drawn y. The gradient of log E[e^T] on a batch, E_b[e^T grad T] / E_b[e^T], is biased; MINE replaces
the batch's denominator by an exponential moving average over batches (its bias-corrected gradient; kept in logs
here, so that e^T never overflows). The reported estimate is the bound on held-out samples (the authors too report
it on a validation set), each x paired with the ys of `n_shuffles` random permutations for the second term.

Decoder bound [ours]: I(X; Y) = h(X) - h(X | Y) >= h(X) + E log q(x | y) for every conditional density q (the
variational bound of Barber and Agakov 2003). q is a mixture of `components` Gaussians with diagonal covariances
whose weights, means and standard deviations a network computes from y, trained by maximum likelihood and evaluated
on held-out samples. It needs the input's differential entropy h(X), which the caller knows when it chose the
input distribution. Standard deviations are floored at `min_std` (in x's units), which caps the bound at
decoder_ceiling(h(X), d_x, min_std); a decoder that ignores y scores gaussian_decoder_floor (one component).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike, NDArray
from tqdm.auto import tqdm

from polycode_utils.checks import check_array, check_float_in, check_int, check_positive_float, check_sequence

N_HISTORY = 50  # points of the training curve an estimate keeps


@dataclass(frozen=True)
class InformationEstimate:
    """k mutual-information estimates in nats, one per y, with standard errors over the held-out samples."""

    estimator: str                  # "mine" or "decoder"
    nats: NDArray[np.float64]       # (k,) the estimate on the held-out samples
    stderr: NDArray[np.float64]     # (k,) its standard error (delta method for MINE's log-mean-exp)
    history: NDArray[np.float64]    # (N_HISTORY or fewer, k) mean training-batch estimate over successive windows
    history_steps: NDArray[np.int64]  # the last step of each window
    n_train: int
    n_test: int
    seconds: float


# ---------------------------------------------------------------------------------------------------------------
# known answers


def gaussian_channel(n: int, dim: int, snr: float | Sequence[float], seed: int) -> tuple[NDArray, list[NDArray]]:
    """Samples of X ~ N(0, I_dim) and, for each signal-to-noise ratio, Y = X + N(0, I_dim / snr): (x, [y, ...])."""
    n, dim = check_int(n, "n", 2), check_int(dim, "dim")
    snrs = [check_positive_float(s, "snr") for s in (snr if isinstance(snr, Sequence) else [snr])]
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    x = rng.standard_normal((n, dim))
    return x, [x + rng.standard_normal((n, dim)) / math.sqrt(s) for s in snrs]


def gaussian_channel_information(dim: int, snr: float) -> float:
    """I(X; Y) of gaussian_channel in nats: dim/2 · ln(1 + snr) (the known answer the estimators are tested on)."""
    return 0.5 * check_int(dim, "dim") * math.log1p(check_positive_float(snr, "snr"))


def gaussian_entropy(dim: int, variance: float = 1.0) -> float:
    """Differential entropy in nats of N(0, variance · I_dim): dim/2 · ln(2 pi e variance)."""
    return 0.5 * check_int(dim, "dim") * math.log(2 * math.pi * math.e * check_positive_float(variance, "variance"))


def uniform_entropy(dim: int, low: float = -1.0, high: float = 1.0) -> float:
    """Differential entropy in nats of the uniform distribution on [low, high]^dim: dim · ln(high - low)."""
    if not high > low:
        raise ValueError(f"high: must exceed low = {low!r}, got {high!r}")
    return check_int(dim, "dim") * math.log(high - low)


def decoder_ceiling(entropy_x: float, dim: int, min_std: float) -> float:
    """The largest value the decoder bound can take: h(X) - dim/2 · ln(2 pi min_std^2) (q at x, every std floored)."""
    s = check_positive_float(min_std, "min_std")
    return float(entropy_x) - 0.5 * check_int(dim, "dim") * math.log(2 * math.pi * s * s)


def gaussian_decoder_floor(entropy_x: float, variances: ArrayLike) -> float:
    """The decoder bound of one Gaussian that ignores y: h(X) - sum_j 1/2 ln(2 pi e Var X_j) (<= 0; -0.53 nats for
    U[-1, 1]^3, whose variances are 1/3)."""
    var = check_array(variances, "variances", ndim=1)
    if np.any(var <= 0):
        raise ValueError(f"variances: must be > 0, got {variances!r}")
    return float(entropy_x - 0.5 * np.log(2 * np.pi * np.e * var).sum())


# ---------------------------------------------------------------------------------------------------------------
# MINE's pieces, exposed for the tests


def log_mean_exp(t: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log of the mean of e^t along dim, computed without overflow."""
    return torch.logsumexp(t, dim=dim) - math.log(t.shape[dim])


def update_log_average(log_average: torch.Tensor | None, log_batch_mean: torch.Tensor, rate: float) -> torch.Tensor:
    """The moving average of MINE's denominator E[e^T], in logs: log((1 - rate) · avg + rate · batch); the first
    batch starts it. Never carries a gradient."""
    batch = log_batch_mean.detach()
    if log_average is None:
        return batch
    return torch.logaddexp(log_average + math.log1p(-rate), batch + math.log(rate))


def mine_loss(t_joint: torch.Tensor, t_marginal: torch.Tensor, log_average: torch.Tensor) -> torch.Tensor:
    """MINE's surrogate loss with the bias-corrected gradient, summed over independent estimators (leading axes).

    Its value is -(E_b[T_joint] - E_b[e^T_marginal] / avg); its gradient is that of the Donsker-Varadhan bound with
    the batch's denominator E_b[e^T] replaced by the moving average avg = exp(log_average) (held fixed).
    """
    ratio = torch.exp(log_mean_exp(t_marginal) - log_average.detach())
    return -(t_joint.mean(dim=-1) - ratio).sum()


def donsker_varadhan(t_joint: torch.Tensor, t_marginal: torch.Tensor) -> torch.Tensor:
    """The Donsker-Varadhan bound E[T_joint] - log E[e^T_marginal] along the last axis (nats)."""
    return t_joint.mean(dim=-1) - log_mean_exp(t_marginal)


# ---------------------------------------------------------------------------------------------------------------
# machinery shared by both estimators


class _StackedMLP(torch.nn.Module):
    """k independent ReLU networks evaluated at once: inputs (k, n, sizes[0]) -> outputs (k, n, sizes[-1])."""

    def __init__(self, k: int, sizes: Sequence[int], generator: torch.Generator) -> None:
        super().__init__()
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):  # Glorot-uniform weights, zero biases
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            w = (torch.rand(k, fan_in, fan_out, generator=generator) * 2 - 1) * bound
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(torch.zeros(k, 1, fan_out)))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = F.relu(h)
        return h


@dataclass
class _Samples:
    """The estimators' inputs: standardised, split into training and held-out parts, on the device."""

    x_train: torch.Tensor   # (n_train, d_x), standardised
    x_test: torch.Tensor
    y_train: torch.Tensor   # (k, n_train, d_y), standardised and zero-padded
    y_test: torch.Tensor
    x_mean: torch.Tensor    # (d_x,) of the training samples, in x's units
    x_scale: torch.Tensor   # (d_x,)


def _prepare(x: ArrayLike, y: ArrayLike | Sequence[ArrayLike], test_fraction: float, seed: int,
             device: str | torch.device) -> _Samples:
    """Check, stack, split (a seeded permutation) and standardise the samples."""
    xs = check_array(x, "x")
    if xs.ndim == 1:
        xs = xs[:, None]
    if xs.ndim != 2:
        raise ValueError(f"x: must have shape (n, d_x), got {xs.shape}")
    many = isinstance(y, (list, tuple)) or (isinstance(y, np.ndarray | torch.Tensor) and y.ndim == 3)
    ys = [check_array(a, "y") for a in (check_sequence(list(y), "y") if many else [y])]
    ys = [a[:, None] if a.ndim == 1 else a for a in ys]
    if any(a.ndim != 2 or a.shape[0] != xs.shape[0] for a in ys):
        raise ValueError(f"y: each must have shape (n, d_y) with n = {xs.shape[0]} (as x), got "
                         f"{[a.shape for a in ys]}")
    n = xs.shape[0]
    n_test = int(round(check_float_in(test_fraction, "test_fraction", 0.0, 1.0, high_open=True) * n))
    if n_test < 2 or n - n_test < 2:
        raise ValueError(f"test_fraction: leaves {n - n_test} training and {n_test} held-out samples of {n}; "
                         "need at least 2 of each")
    width = max(a.shape[1] for a in ys)
    stacked = np.zeros((len(ys), n, width))
    for i, a in enumerate(ys):
        stacked[i, :, : a.shape[1]] = a
    order = np.random.default_rng([seed, 1]).permutation(n)
    train, test = order[n_test:], order[:n_test]

    def standardise(a: NDArray, axis: int) -> tuple[NDArray, NDArray]:
        mean, std = a.mean(axis=axis, keepdims=True), a.std(axis=axis, keepdims=True)
        return mean, np.where(std > 0, std, 1.0)

    x_mean, x_scale = standardise(xs[train], 0)
    y_mean, y_scale = standardise(stacked[:, train], 1)
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device).contiguous()  # noqa: E731
    return _Samples(as_t((xs[train] - x_mean) / x_scale), as_t((xs[test] - x_mean) / x_scale),
                    as_t((stacked[:, train] - y_mean) / y_scale), as_t((stacked[:, test] - y_mean) / y_scale),
                    as_t(x_mean[0]), as_t(x_scale[0]))


def _check_training(hidden: int, layers: int, steps: int, batch_size: int, lr: float, seed: int,
                    threads: int) -> None:
    check_int(threads, "threads")
    check_int(hidden, "hidden")
    check_int(layers, "layers")
    check_int(steps, "steps")
    check_int(batch_size, "batch_size", 2)
    check_positive_float(lr, "lr")
    check_int(seed, "seed", 0)


def _pair(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Concatenate x (n, d_x), shared by the k estimators, with y (k, n, d_y): (k, n, d_x + d_y)."""
    return torch.cat([x.expand(y.shape[0], *x.shape), y], dim=-1)


class _History:
    """Mean training-batch estimates over N_HISTORY windows of steps."""

    def __init__(self, steps: int) -> None:
        self.window = max(1, steps // N_HISTORY)
        self.rows: list[NDArray] = []
        self.ends: list[int] = []
        self._sum: NDArray | None = None
        self._count = 0

    def add(self, step: int, values: torch.Tensor) -> None:
        v = values.detach().double().cpu().numpy()
        self._sum = v if self._sum is None else self._sum + v
        self._count += 1
        if self._count == self.window:
            self.rows.append(self._sum / self._count)
            self.ends.append(step + 1)
            self._sum, self._count = None, 0

    def arrays(self) -> tuple[NDArray, NDArray]:
        return np.array(self.rows), np.array(self.ends, dtype=np.int64)


def _train(model: torch.nn.Module, loss_of_batch, steps: int, lr: float, threads: int, desc: str, progress: bool,
           history: _History) -> None:
    """Adam on loss_of_batch(step) -> (loss, per-estimator batch estimates) for `steps` steps, with `threads`
    intra-op torch threads (the caller's setting is restored)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    caller_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for step in tqdm(range(steps), desc=desc, disable=not progress, leave=False):
            loss, estimates = loss_of_batch(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.add(step, estimates)
    finally:
        torch.set_num_threads(caller_threads)


# ---------------------------------------------------------------------------------------------------------------
# the estimators


def mine(x: ArrayLike, y: ArrayLike | Sequence[ArrayLike], *, hidden: int = 64, layers: int = 3, steps: int = 2000,
         batch_size: int = 512, lr: float = 1e-3, average_rate: float = 0.01, test_fraction: float = 0.2,
         n_shuffles: int = 4, seed: int = 0, device: str | torch.device = "cpu", threads: int = 1,
         progress: bool = True) -> InformationEstimate:
    """MINE estimates of I(X; Y) in nats, one per y {Belghazi et al. 2018}, with the bias-corrected gradient.

    T: `layers` hidden ReLU layers of `hidden` units (the authors': 3 of 64); Adam at lr for `steps` batches of
    batch_size joint pairs and as many independent pairs; average_rate: weight of a batch in the moving average.
    threads: intra-op torch threads while training (1 is fastest for networks this small on a CPU).
    """
    _check_training(hidden, layers, steps, batch_size, lr, seed, threads)
    rate = check_float_in(average_rate, "average_rate", 0.0, 1.0)
    if rate == 0:
        raise ValueError("average_rate: must be in (0, 1], got 0")
    shuffles = check_int(n_shuffles, "n_shuffles")
    start = time.perf_counter()
    s = _prepare(x, y, test_fraction, seed, device)
    k, n_train = s.y_train.shape[0], s.x_train.shape[0]
    g = torch.Generator().manual_seed(seed)
    net = _StackedMLP(k, [s.x_train.shape[1] + s.y_train.shape[2], *[hidden] * layers, 1], g).to(device)
    state = {"log_average": None}

    def loss_of_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        joint = torch.randint(n_train, (batch_size,), generator=g).to(device)
        other = torch.randint(n_train, (batch_size,), generator=g).to(device)
        xb = s.x_train[joint]
        t_joint = net(_pair(xb, s.y_train[:, joint])).squeeze(-1)
        t_marginal = net(_pair(xb, s.y_train[:, other])).squeeze(-1)
        state["log_average"] = update_log_average(state["log_average"], log_mean_exp(t_marginal), rate)
        return mine_loss(t_joint, t_marginal, state["log_average"]), donsker_varadhan(t_joint, t_marginal)

    history = _History(steps)
    _train(net, loss_of_batch, steps, lr, threads, "MINE", progress, history)
    with torch.no_grad():
        t_joint = net(_pair(s.x_test, s.y_test)).squeeze(-1).double()
        perms = torch.stack([torch.randperm(s.x_test.shape[0], generator=g) for _ in range(shuffles)]).view(-1)
        t_marginal = net(_pair(s.x_test.repeat(shuffles, 1), s.y_test[:, perms.to(device)])).squeeze(-1).double()
        nats = donsker_varadhan(t_joint, t_marginal)
        weights = torch.exp(t_marginal - t_marginal.max(dim=-1, keepdim=True).values)  # e^T / max, for the delta
        rel_var = weights.var(dim=-1) / weights.mean(dim=-1) ** 2 / t_marginal.shape[-1]  # method: var(log mean)
        stderr = torch.sqrt(t_joint.var(dim=-1) / t_joint.shape[-1] + rel_var)
    rows, ends = history.arrays()
    return InformationEstimate("mine", nats.cpu().numpy(), stderr.cpu().numpy(), rows, ends, n_train,
                               s.x_test.shape[0], time.perf_counter() - start)


def _mixture_log_density(params: torch.Tensor, x: torch.Tensor, components: int, min_std: float,
                         x_mean: torch.Tensor, x_scale: torch.Tensor) -> torch.Tensor:
    """log q(x | y) in x's units: params (k, n, K·(1 + 2 d)) from the network, x (n, d) standardised -> (k, n)."""
    d = x.shape[-1]
    logits, means, raw = params.split([components, components * d, components * d], dim=-1)
    means = means.unflatten(-1, (components, d))
    std = min_std / x_scale + F.softplus(raw.unflatten(-1, (components, d)))  # in standardised units
    z = (x.unsqueeze(-2) - means) / std
    log_normal = -0.5 * z.pow(2) - torch.log(std) - 0.5 * math.log(2 * math.pi)
    log_q = torch.logsumexp(F.log_softmax(logits, dim=-1) + log_normal.sum(dim=-1), dim=-1)
    return log_q - torch.log(x_scale).sum()  # the density of x = mean + scale · (standardised x)


def decoder_bound(x: ArrayLike, y: ArrayLike | Sequence[ArrayLike], *, entropy_x: float, components: int = 1,
                  hidden: int = 64, layers: int = 2, min_std: float = 1e-3, steps: int = 2000, batch_size: int = 256,
                  lr: float = 1e-3, test_fraction: float = 0.2, seed: int = 0, device: str | torch.device = "cpu",
                  threads: int = 1, progress: bool = True) -> InformationEstimate:
    """Lower bounds h(X) + E log q(x | y) on I(X; Y) in nats, one per y, with a Gaussian-mixture decoder q [ours].

    entropy_x: h(X) in nats, known to the caller (uniform_entropy, gaussian_entropy). The decoder has `layers`
    hidden ReLU layers of `hidden` units and `components` mixture components (1: a Gaussian); threads as in mine.
    """
    _check_training(hidden, layers, steps, batch_size, lr, seed, threads)
    h_x = float(check_array(entropy_x, "entropy_x", ndim=0))
    components = check_int(components, "components")
    floor = check_positive_float(min_std, "min_std")
    start = time.perf_counter()
    s = _prepare(x, y, test_fraction, seed, device)
    k, n_train, d = s.y_train.shape[0], s.x_train.shape[0], s.x_train.shape[1]
    g = torch.Generator().manual_seed(seed)
    net = _StackedMLP(k, [s.y_train.shape[2], *[hidden] * layers, components * (1 + 2 * d)], g).to(device)

    def log_q(ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
        return _mixture_log_density(net(ys), xs, components, floor, s.x_mean, s.x_scale)

    def loss_of_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        batch = torch.randint(n_train, (batch_size,), generator=g).to(device)
        mean_log_q = log_q(s.y_train[:, batch], s.x_train[batch]).mean(dim=-1)
        return -mean_log_q.sum(), h_x + mean_log_q

    history = _History(steps)
    _train(net, loss_of_batch, steps, lr, threads, "decoder", progress, history)
    with torch.no_grad():
        test = log_q(s.y_test, s.x_test).double()
    rows, ends = history.arrays()
    return InformationEstimate("decoder", (h_x + test.mean(dim=-1)).cpu().numpy(),
                               (test.std(dim=-1) / math.sqrt(test.shape[-1])).cpu().numpy(), rows, ends, n_train,
                               s.x_test.shape[0], time.perf_counter() - start)


def known_answer_errors(nats: Sequence[float], *, dim: int, n_samples: int, seed: int,
                        decoder_options: dict | None = None, mine_options: dict | None = None,
                        progress: bool = True) -> pd.DataFrame:
    """Both estimators on Gaussian channels of known mutual information (gaussian_channel, one per value in `nats`,
    of `dim` dimensions, sharing x): one row per channel with the true value, each estimate and its error (nats)."""
    true = [check_positive_float(v, "nats") for v in check_sequence(nats, "nats")]
    dim = check_int(dim, "dim")
    x, ys = gaussian_channel(n_samples, dim, [math.expm1(2 * v / dim) for v in true], seed)
    dec = decoder_bound(x, ys, entropy_x=gaussian_entropy(dim), seed=seed, progress=progress, **(decoder_options or {}))
    mi = mine(x, ys, seed=seed, progress=progress, **(mine_options or {}))
    return pd.DataFrame(dict(true=true, decoder=dec.nats, decoder_error=dec.nats - true, decoder_stderr=dec.stderr,
                             mine=mi.nats, mine_error=mi.nats - true, mine_stderr=mi.stderr))
