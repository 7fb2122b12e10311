"""One streamed pass of a language model over token windows: everything chapter 7 measures, in memory independent
of the number of tokens, on one process or many (``torch.distributed``: windows sharded by rank, sums all-reduced).

Per site it keeps (float64 unless said):
- the covariance of the activations at every position from ``skip_positions`` on (a ``CovarianceAccumulator``),
  and the eigenvalues of each window group's own covariance (groups of whole windows, for alpha's interval);
- the step moments sum_t (a_{t+1} - a_t)(a_{t+1} - a_t)^T within windows, from which the action of every random
  projection and every neuron follows exactly (``analysis.unit_statistics``);
- for every neuron and every random direction, the top_k windows by peak value, both signs (``TopContexts``);
- at the ``explain_sites``, the token tables of the explain-and-score (``explain.TokenTables``).
Products are float32 by default (``products``), each batch's summed into the float64 totals.

Memory: 8 w^2 bytes per site for the covariance, twice that while a window group is open (n_groups > 1), plus
8 w^2 for the step moments, plus 16 (V + w) w per explained site (V = distinct tokens). GPT-2 XL at both sites
of all 48 layers (w = 1600 and 6400): 16.7 GB of covariances (33 GB with a group open, 50 GB with the step
moments); measure a subset of layers or sites to use less.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from polycode_utils.checks import check_bool, check_choice, check_int, check_sequence
from polycode_utils.networks.language.explain import TokenTables
from polycode_utils.networks.language.models import LanguageModel, untrained_copy
from polycode_utils.networks.language.sites import parse_site, run_sites, site_names, site_width
from polycode_utils.networks.language.text import shuffle_tokens
from polycode_utils.instruments.projections import projection_matrices
from polycode_utils.instruments.spectra import CovarianceAccumulator

FILE_FORMAT = 1
PRODUCTS = ("float32", "float64")


def _world() -> tuple[int, int]:
    """(rank, world size) of the default process group, (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@dataclass(eq=False)
class TopContexts:
    """For each unit (the site's neurons, then its random directions), the top_k windows by the unit's peak value
    in the window, for both signs (index 0: largest values, 1: most negative), with the peak's position."""

    values: torch.Tensor     # (2, top_k, units) float32, sign-flipped for index 1 (larger = more extreme)
    window: torch.Tensor     # (2, top_k, units) int64, index into the measurement's windows
    position: torch.Tensor   # (2, top_k, units) int64, token position of the peak within its window
    n_neurons: int

    @classmethod
    def empty(cls, top_k: int, units: int, n_neurons: int, device: torch.device) -> TopContexts:
        shape = (2, top_k, units)
        return cls(torch.full(shape, -math.inf, device=device), torch.zeros(shape, dtype=torch.long, device=device),
                   torch.zeros(shape, dtype=torch.long, device=device), n_neurons)

    def _keep_top(self, values, window, position) -> None:
        top = values.topk(self.values.shape[1], dim=1)
        self.values = top.values
        self.window, self.position = window.gather(1, top.indices), position.gather(1, top.indices)

    def update(self, v: torch.Tensor, window_ids: torch.Tensor, offset: int) -> None:
        """Add a batch of unit values v (B, T, units) of windows window_ids (B,); positions counted from offset."""
        up, down = v.max(dim=1), v.min(dim=1)
        vals = torch.stack([up.values, -down.values])
        pos = torch.stack([up.indices, down.indices]) + offset
        win = window_ids.to(v.device)[None, :, None].expand_as(vals)
        self._keep_top(torch.cat([self.values, vals], 1), torch.cat([self.window, win], 1),
                       torch.cat([self.position, pos], 1))

    def all_gather(self) -> None:
        """Merge the ranks' top windows (every rank ends with the global top_k); no-op without a process group."""
        if _world()[1] == 1:
            return
        parts = []
        for t in (self.values, self.window, self.position):
            gathered = [torch.empty_like(t) for _ in range(_world()[1])]
            dist.all_gather(gathered, t.contiguous())
            parts.append(torch.cat(gathered, 1))
        self._keep_top(*parts)

    def state_dict(self) -> dict:
        return {"values": self.values.cpu(), "window": self.window.cpu(), "position": self.position.cpu(),
                "n_neurons": self.n_neurons}


@dataclass(eq=False)
class TextMeasurement:
    """The statistics of one pass over token windows, per site "kind.layer" (see the module docstring)."""

    description: str
    windows: torch.Tensor                                 # (n_windows, context) token ids, CPU
    skip_positions: int
    n_layers: int                                         # the model's blocks (for relative depth)
    covariances: dict[str, CovarianceAccumulator]
    group_eigenvalues: dict[str, np.ndarray] = field(default_factory=dict)   # (n_groups, width); {} if 1 group
    group_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    steps: dict[str, torch.Tensor] = field(default_factory=dict)             # (width, width), {} if no actions
    contexts: dict[str, TopContexts] = field(default_factory=dict)
    token_text: dict[int, str] = field(default_factory=dict)                 # each token id's text, for tables
    position_norms: dict[str, np.ndarray] = field(default_factory=dict)      # mean L2 norm at every position
    tables: dict[str, TokenTables] = field(default_factory=dict)             # explain-and-score, some sites
    n_projections: int = 0
    k: int = 0
    seed: int = 0
    model_name: str = ""                                  # the name the model was loaded by (LanguageModel.name)
    corpus: str = ""                                      # where the windows come from (corpus_description)

    @property
    def sites(self) -> list[str]:
        return list(self.covariances)

    @property
    def n_windows(self) -> int:
        return int(self.windows.shape[0])

    @property
    def positions(self) -> int:
        """Token positions measured per window (context - skip_positions)."""
        return int(self.windows.shape[1]) - self.skip_positions

    @property
    def n_tokens(self) -> int:
        return self.n_windows * self.positions

    @property
    def n_steps(self) -> int:
        """Steps t -> t+1 between measured positions, summed over windows."""
        return self.n_windows * (self.positions - 1)

    def directions(self, site: str) -> torch.Tensor:
        """The random projections of a site, (n_projections, width, k), entries N(0, 1/width), as drawn."""
        return _projections(self.covariances[site].dim, self.n_projections, self.k, self.seed)


@functools.lru_cache(maxsize=4)
def _projections(width: int, n_projections: int, k: int, seed: int) -> torch.Tensor:
    """projection_matrices, drawn once per width: every site of one width uses the same R (read-only)."""
    return projection_matrices(width, n_projections, k, seed)


def _check_windows(lm: LanguageModel, windows: torch.Tensor, skip_positions: int) -> torch.Tensor:
    if not (torch.is_tensor(windows) and windows.ndim == 2 and not windows.is_floating_point()
            and windows.shape[0] >= 1):
        raise ValueError(f"windows: must be an integer tensor (n_windows x context) from text_windows, got "
                         f"{type(windows).__name__} {tuple(getattr(windows, 'shape', ()))}")
    vocab = lm.model.get_input_embeddings().num_embeddings
    if int(windows.min()) < 0 or int(windows.max()) >= vocab:
        raise ValueError(f"windows: token ids must be in [0, {vocab}) for {lm.name} (made with its tokenizer?)")
    max_pos = getattr(lm.config, "max_position_embeddings", None) or getattr(lm.config, "n_positions", None)
    if max_pos and windows.shape[1] > max_pos:
        raise ValueError(f"windows: context {windows.shape[1]} exceeds {lm.name}'s {max_pos} positions")
    if windows.shape[1] - skip_positions < 2:
        raise ValueError(f"skip_positions: leaves {windows.shape[1] - skip_positions} positions per window of "
                         f"{windows.shape[1]}; need at least 2")
    return windows.cpu().long()


def measure_text(lm: LanguageModel, windows: torch.Tensor, *, sites: Sequence[str] = ("resid", "mlp"),
                 layers: Sequence[int] | None = None, skip_positions: int = 1, batch_size: int = 16,
                 n_groups: int = 1, actions: bool = True, n_projections: int = 1000, k: int = 3, top_k: int = 20,
                 seed: int = 0, products: str = "float32", explain_sites: Sequence[str] = (),
                 corpus: str = "", progress: bool = True) -> TextMeasurement:
    """Stream the windows through the model once and keep, per site, the covariance, the window groups' eigenvalues
    (n_groups > 1), the step moments (actions) and the top windows of neurons and random directions (top_k > 0).
    products: the precision of each batch's covariance products, summed into float64 ("float64": exact);
    explain_sites: the measured sites that also keep the token tables of the explain-and-score (explain.py);
    corpus: where the windows come from, in words, kept with the statistics (their provenance)."""
    # Under torchrun every rank passes the same windows and takes its share of each group; the result (identical on
    # every rank, group eigenvalues on rank 0 only) equals the one-process result. Memory: see the module docstring.
    if not isinstance(corpus, str):
        raise ValueError(f"corpus: must be a description in words (corpus_description), got {corpus!r}")
    names = site_names(lm, sites, layers)
    skip_positions = check_int(skip_positions, "skip_positions", 0)
    windows = _check_windows(lm, windows, skip_positions)
    n = windows.shape[0]
    batch_size, n_groups = check_int(batch_size, "batch_size"), check_int(n_groups, "n_groups", 1, n)
    actions, top_k = check_bool(actions, "actions"), check_int(top_k, "top_k", 0, n)
    n_projections, k, seed = check_int(n_projections, "n_projections"), check_int(k, "k"), check_int(seed, "seed", 0)
    product_dtype = getattr(torch, check_choice(products, "products", PRODUCTS))
    rank, world = _world()
    dev = lm.device
    width = {s: site_width(lm, parse_site(s)[0]) for s in names}

    def accumulator(site: str) -> CovarianceAccumulator:
        return CovarianceAccumulator(width[site], device=dev, product_dtype=product_dtype)

    m = TextMeasurement(lm.description, windows, skip_positions, lm.n_layers, {s: accumulator(s) for s in names},
                        n_projections=n_projections, k=k, seed=seed, model_name=lm.name,
                        corpus=corpus)
    for s in check_sequence(explain_sites, "explain_sites", min_len=0):
        check_choice(s, "explain_sites", names)
        m.tables[s] = TokenTables.empty(windows[:, skip_positions:], width[s], dev)
    if actions:
        m.steps = {s: torch.zeros(width[s], width[s], dtype=torch.float64, device=dev) for s in names}
    norms = {s: torch.zeros(windows.shape[1], dtype=torch.float64, device=dev) for s in names}
    if top_k:
        first = {w: _projections(w, n_projections, k, seed)[:, :, 0].T.contiguous().to(dev)
                 for w in set(width.values())}
        directions = {s: first[width[s]] for s in names}   # (width, P): the projections' first coordinates
        m.contexts = {s: TopContexts.empty(top_k, width[s] + n_projections, width[s], dev) for s in names}
    groups = np.array_split(np.arange(n), n_groups)
    bar = tqdm(total=sum(len(g[rank::world]) for g in groups), desc=f"{lm.name}: windows",
               disable=not progress or rank != 0)
    for g, members in enumerate(groups):
        mine = torch.as_tensor(members[rank::world], dtype=torch.long)
        group = (m.covariances if n_groups == 1 else  # one group: straight into the totals (half the memory)
                 {s: accumulator(s) for s in names})

        def sink(site: str, act: torch.Tensor, row: int, mine=mine, group=group) -> None:
            norms[site] += act.float().norm(dim=-1).sum(dim=0).double()   # every position, the skipped ones too
            a = act[:, skip_positions:, :].float()
            group[site].update(a.reshape(-1, a.shape[-1]))
            if actions:
                d = (a[:, 1:] - a[:, :-1]).reshape(-1, a.shape[-1])
                m.steps[site] += d.T @ d   # float32 products, summed in float64
            ids = mine[row:row + a.shape[0]]
            if top_k:
                values = torch.cat([a, a @ directions[site]], dim=-1)
                m.contexts[site].update(values, ids, skip_positions)
            if site in m.tables:
                m.tables[site].update(a, windows[ids, skip_positions:], ids)

        if len(mine):
            run_sites(lm, windows[mine], names, batch_size, sink, progress=bar)
        for s in names:
            group[s].all_reduce()
            if n_groups > 1 and rank == 0:
                m.group_eigenvalues.setdefault(s, np.zeros((n_groups, width[s])))[g] = group[s].eigenvalues()
            if n_groups > 1:
                m.covariances[s].merge(group[s])
    bar.close()
    if n_groups > 1:
        m.group_tokens = np.array([len(g) * m.positions for g in groups], dtype=np.int64)
    for s in names:
        if world > 1:
            dist.all_reduce(norms[s])
        m.position_norms[s] = (norms[s] / n).cpu().numpy()
        if actions and world > 1:
            dist.all_reduce(m.steps[s])
        if top_k:
            m.contexts[s].all_gather()
        if s in m.tables:
            m.tables[s].all_reduce()
    m.token_text = {int(t): lm.tokenizer.decode([int(t)]) for t in torch.unique(windows).tolist()}
    return m


def record_sites(lm: LanguageModel, windows: torch.Tensor, sites: Sequence[str] = ("resid", "mlp"),
                 layers: Sequence[int] | None = None, skip_positions: int = 1,
                 batch_size: int = 16, products: str = "float32") -> dict[str, CovarianceAccumulator]:
    """Covariance accumulators of the sites "resid.<l>", "mlp.<l>" ("attn.<l>"), over every token position from
    skip_positions on (position 0 carries the massive activations of Sun et al. 2024)."""
    return measure_text(lm, windows, sites=sites, layers=layers, skip_positions=skip_positions,
                        batch_size=batch_size, actions=False, top_k=0, products=products,
                        progress=False).covariances


CONTROLS = ("untrained", "shuffled")


def measure_runs(lm: LanguageModel, windows: torch.Tensor, *, controls: Sequence[str] = CONTROLS,
                 control_stride: int = 1, sites: Sequence[str] = ("resid", "mlp"),
                 layers: Sequence[int] | None = None, seed: int = 0, explain: bool = True,
                 **kwargs) -> dict[str, TextMeasurement]:
    """The measurement ("main") and its controls [ours]: "untrained" (the same architecture at initialisation) and
    "shuffled" (each window's tokens in random order), covariances and window groups only, on every
    control_stride-th measured layer (and the last). explain: the token tables of the explain-and-score at those
    layers' MLP sites (else the first site kind), in the main run and the untrained one. kwargs go to
    measure_text."""
    for name in check_sequence(controls, "controls", min_len=0, max_len=len(CONTROLS)):
        check_choice(name, "controls", CONTROLS)
    stride, explain = check_int(control_stride, "control_stride"), check_bool(explain, "explain")
    measured = sorted({parse_site(s)[1] for s in site_names(lm, sites, layers)})
    control_layers = sorted(set(measured[::stride]) | {measured[-1]})
    kind = "mlp" if "mlp" in sites else sites[0]
    scored = [f"{kind}.{layer}" for layer in control_layers] if explain else []
    runs = {"main": measure_text(lm, windows, sites=sites, layers=layers, seed=seed, explain_sites=scored,
                                 **kwargs)}
    light = dict(kwargs, sites=sites, layers=control_layers, seed=seed, actions=False, top_k=0)
    if "untrained" in controls:
        runs["untrained"] = measure_text(untrained_copy(lm, seed), windows, explain_sites=scored, **light)
    if "shuffled" in controls:
        runs["shuffled"] = measure_text(lm, shuffle_tokens(windows, seed), **light)
    return runs


# ---------------------------------------------------------------------------------------------------------------
# The statistics file (what rank 0 of the command-line tool writes, and what the chapter can read instead).


def _to_state(m: TextMeasurement) -> dict:
    return {"description": m.description, "windows": m.windows, "skip_positions": m.skip_positions,
            "n_layers": m.n_layers,
            "covariances": {s: acc.state_dict() for s, acc in m.covariances.items()},
            "group_eigenvalues": {s: torch.from_numpy(v) for s, v in m.group_eigenvalues.items()},
            "group_tokens": torch.from_numpy(m.group_tokens), "steps": {s: t.cpu() for s, t in m.steps.items()},
            "contexts": {s: c.state_dict() for s, c in m.contexts.items()},
            "token_ids": torch.tensor(list(m.token_text), dtype=torch.long), "token_text": list(m.token_text.values()),
            "position_norms": {s: torch.from_numpy(v) for s, v in m.position_norms.items()},
            "tables": {s: t.state_dict() for s, t in m.tables.items()},
            "n_projections": m.n_projections, "k": m.k, "seed": m.seed, "model_name": m.model_name,
            "corpus": m.corpus}


def _from_state(state: dict) -> TextMeasurement:
    covs = {s: CovarianceAccumulator(int(sd["dim"])).load_state_dict(sd) for s, sd in state["covariances"].items()}
    contexts = {s: TopContexts(c["values"], c["window"], c["position"], int(c["n_neurons"]))
                for s, c in state["contexts"].items()}
    return TextMeasurement(state["description"], state["windows"], int(state["skip_positions"]),
                           int(state["n_layers"]), covs,
                           {s: v.numpy() for s, v in state["group_eigenvalues"].items()},
                           state["group_tokens"].numpy(), dict(state["steps"]), contexts,
                           dict(zip(state["token_ids"].tolist(), state["token_text"])),
                           {s: v.numpy() for s, v in state["position_norms"].items()},
                           {s: TokenTables.from_state(t) for s, t in state.get("tables", {}).items()},
                           int(state["n_projections"]), int(state["k"]), int(state["seed"]),
                           str(state.get("model_name", "")), str(state.get("corpus", "")))  # "": an older file


def save_measurements(runs: Mapping[str, TextMeasurement], path: str | Path) -> Path:
    """Write measurements by run name ("main", "untrained", "shuffled", ...) to one file, atomically."""
    if not runs or not all(isinstance(m, TextMeasurement) for m in runs.values()):
        raise ValueError("runs: must map run names to TextMeasurement objects (at least one)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FILE_FORMAT, "runs": {name: _to_state(m) for name, m in runs.items()}}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # same folder: the rename is atomic
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def load_measurements(path: str | Path) -> dict[str, TextMeasurement]:
    """Measurements by run name from a file written by save_measurements (or the command-line tool)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"stats_file: no such file {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FILE_FORMAT:
        raise ValueError(f"stats_file: {path} is not a statistics file of format {FILE_FORMAT}")
    return {name: _from_state(s) for name, s in state["runs"].items()}
