"""An offline explain-and-score of units over text [ours], in place of the hosted explainer the paper used (GPT-4
explains, text-davinci-003 simulates; the second is withdrawn, so that step cannot be re-run).

A unit is any direction u of a site's activations a_t (a neuron: a basis vector; a random direction; a principal
direction). Its *explanation* is a short list of tokens, learnt on one half of the windows (the even-numbered
ones): the n_tokens tokens, among those seen at least min_count times there, whose mean activation u.a_t lies
farthest from the unit's overall mean. The explanation *simulates* the unit on the other half (the odd-numbered
windows): the explained token's mean from the first half, the overall mean for any other token. The *score* is the
correlation of simulation and activation over the held-out tokens, as the neuron explainer's correlation score
does: 1 for a unit that is the indicator of one token, near 0 for a unit of noise. It is a unigram explainer: a unit
that responds to contexts rather than tokens scores low here though a language model might explain it.

Everything follows, for every direction at once, from per-half tables streamed once: per token id the count and the
sum of the activation vectors, and the half's second moment sum_t a_t a_t^T.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from polycode_utils.checks import check_int


@dataclass(eq=False)
class TokenTables:
    """Per half of the windows (0: even-numbered, where units are explained; 1: odd, where they are scored): the
    count and the sum of a site's activation vectors per token id, and the half's uncentred second moment."""

    token_ids: torch.Tensor   # (V,) ascending: every token id of the measured windows
    counts: torch.Tensor      # (2, V) float64
    sums: torch.Tensor        # (2, V, width) float64
    moments: torch.Tensor     # (2, width, width) float64: sum_t a_t a_t^T

    @classmethod
    def empty(cls, token_ids: torch.Tensor, width: int, device: torch.device | str = "cpu") -> TokenTables:
        ids = torch.unique(torch.as_tensor(token_ids).long()).to(device)
        f64 = dict(dtype=torch.float64, device=device)
        return cls(ids, torch.zeros(2, ids.numel(), **f64), torch.zeros(2, ids.numel(), width, **f64),
                   torch.zeros(2, width, width, **f64))

    @property
    def width(self) -> int:
        return int(self.sums.shape[2])

    def update(self, act: torch.Tensor, tokens: torch.Tensor, window_ids: torch.Tensor) -> None:
        """Add a batch: activations (B, T, width), their token ids (B, T) and the windows' indices (B,) (even: half
        0, odd: half 1). Products in float32, sums in float64."""
        if act.ndim != 3 or act.shape[2] != self.width or tuple(tokens.shape) != tuple(act.shape[:2]):
            raise ValueError(f"act, tokens: expected (B, T, {self.width}) and (B, T), got {tuple(act.shape)} and "
                             f"{tuple(tokens.shape)}")
        index = torch.searchsorted(self.token_ids, tokens.to(self.token_ids.device).long())
        half = window_ids.to(act.device).long() % 2
        for h in (0, 1):
            rows = half == h
            if not bool(rows.any()):
                continue
            x = act[rows].reshape(-1, self.width).float()
            i = index[rows].reshape(-1)
            self.sums[h].index_add_(0, i, x.double())
            self.counts[h].index_add_(0, i, torch.ones_like(i, dtype=torch.float64))
            self.moments[h] += (x.T @ x).double()

    def all_reduce(self) -> None:
        """Sum the tables across the default torch.distributed process group (no-op without one)."""
        import torch.distributed as dist  # noqa: PLC0415

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            for t in (self.counts, self.sums, self.moments):
                dist.all_reduce(t)

    def state_dict(self) -> dict:
        return {"token_ids": self.token_ids.cpu(), "counts": self.counts.cpu(), "sums": self.sums.cpu(),
                "moments": self.moments.cpu()}

    @classmethod
    def from_state(cls, state: dict) -> TokenTables:
        return cls(state["token_ids"], state["counts"], state["sums"], state["moments"])


@dataclass(frozen=True, eq=False)
class ExplainScores:
    """Each unit's held-out score (correlation of simulation and activation; 0 where the simulation is constant)
    and its explanation (token ids, -1 where fewer than n_tokens were eligible)."""

    scores: np.ndarray        # (U,)
    tokens: np.ndarray        # (U, n_tokens)


def explain_and_score(tables: TokenTables, directions: np.ndarray | torch.Tensor | None = None, n_tokens: int = 5,
                      min_count: int = 3) -> ExplainScores:
    """Explain every unit (a column of directions, width x U; None: the neurons) by its n_tokens most deviating
    tokens on half 0 and score the explanation on half 1 (module docstring)."""
    n_tokens, min_count = check_int(n_tokens, "n_tokens"), check_int(min_count, "min_count")
    if directions is not None:
        u = torch.as_tensor(directions, dtype=torch.float64)
        if u.ndim != 2 or u.shape[0] != tables.width:
            raise ValueError(f"directions: expected (width={tables.width}, units), got {tuple(u.shape)}")
    counts, sums, moments = (t.cpu() for t in (tables.counts, tables.sums, tables.moments))
    if float(counts[0].sum()) < 1 or float(counts[1].sum()) < 2:
        raise ValueError("tables: both halves need tokens (at least 2 windows measured)")
    if directions is None:                                             # the neurons: no products needed
        y_a, y_b, a_sq = sums[0], sums[1], moments[1].diagonal()
    else:
        y_a, y_b, a_sq = sums[0] @ u, sums[1] @ u, ((moments[1] @ u) * u).sum(0)   # (V, U): sums of u.a per token
    n_a, n_b = counts[0], counts[1]
    mu_a = y_a.sum(0) / n_a.sum()                                      # (U,) the unit's mean on half 0
    mean_a = y_a / n_a.clamp(min=1)[:, None]
    deviation = (mean_a - mu_a).abs().masked_fill((n_a < min_count)[:, None], -1.0)
    k = min(n_tokens, deviation.shape[0])
    top = deviation.topk(k, dim=0)
    chosen = torch.zeros_like(deviation, dtype=torch.bool).scatter_(0, top.indices, top.values >= 0)
    sim = torch.where(chosen, mean_a, mu_a.expand_as(mean_a))          # (V, U) the simulation per token
    n = n_b.sum()
    s_sum, s_sq = (n_b[:, None] * sim).sum(0), (n_b[:, None] * sim ** 2).sum(0)
    a_sum = y_b.sum(0)
    cross = (sim * y_b).sum(0)
    var_s, var_a = n * s_sq - s_sum ** 2, n * a_sq - a_sum ** 2
    ok = (var_s > 1e-12 * s_sq.abs().clamp(min=1e-300) * n) & (var_a > 0)
    score = torch.where(ok, (n * cross - s_sum * a_sum) / (var_s * var_a).clamp(min=1e-300).sqrt(),
                        torch.zeros_like(cross))
    ids = tables.token_ids.cpu()[top.indices].masked_fill(top.values < 0, -1)
    return ExplainScores(score.numpy(), ids.T.numpy())
