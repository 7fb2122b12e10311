"""The note's error-correcting demonstration (its Fig. 1): a deep tanh network learns to pass its input through dropout.

The authors' network and task [note code]: x ~ U[-1, 1]^3 and the target is x itself; 40 dense layers of 32 tanh
units and a linear read-out of 3 units; after every 4th dense layer a dropout mask at p = 0.2; mean squared error,
Adam (learning rate 1e-3, Keras' default), 1M samples for 4 epochs in batches of 100. [ours: Adam's epsilon is
PyTorch's 1e-8 (Keras: 1e-7), and every sample is trained on (Keras' fit held 2 % out for validation).]
The authors follow each Keras Dropout layer (which divides the kept units by 1 - p) by a multiplication by 1 - p,
which undoes the rescaling: in training the layer is a plain Bernoulli mask, each unit kept as it is with
probability 1 - p or set to 0. At inference Keras' Dropout is the identity and their multiplication remains, so the
network without dropout scales those layers by 1 - p, the mask's mean; `dropout_on=False` does the same here.

Initialisation: Keras' (Glorot-uniform weights, zero biases) [note code]. PyTorch's default (weights and biases
uniform in +-1/sqrt(fan_in)) multiplies the spread of a 32-unit tanh layer's input by about 1/sqrt(3) per layer, so
that after 40 layers the output no longer depends on the input and Adam stays at the loss of predicting the mean
(activation_spread measures this; the chapter and the tests show it).

Reproducibility [ours]: the weights come from config.seed, the training samples, their order and the dropout masks
from generators seeded by (seed, purpose); the caller's random state is untouched. A trained network is cached in
cache_dir/pass_through-<hash>/network.pt (written atomically, with a checksum of its weights); the hash covers the
whole configuration. A record that cannot be read, fails its checksum or belongs to another configuration is set
aside (network.pt.unreadable, with a warning) and the network trained again.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from tqdm.auto import tqdm

from polycode_utils.theory.capacity import dropout_capacity_bounds
from polycode_utils.runtime.checkpoints import save_atomic, set_aside, weights_checksum
from polycode_utils.checks import check_choice, check_dropout, check_int, check_positive_float, check_sequence
from polycode_utils.theory.claims import Effect
from polycode_utils.instruments.information import decoder_bound, gaussian_decoder_floor, mine, uniform_entropy
from polycode_utils.instruments.spectra import t_interval
from polycode_utils.runtime.workers import torch_threads

INITS = ("keras", "torch")     # Glorot-uniform weights and zero biases (the authors'), or PyTorch's default
ESTIMATORS = ("decoder", "mine")
FORMAT = 2                     # bump when the network, its training or the cached record change meaning
INPUT_LOW, INPUT_HIGH = -1.0, 1.0  # the input's range [note code]


@dataclass(frozen=True)
class PassThroughConfig:
    """Everything that determines one trained network of the demonstration (the authors' values as defaults)."""

    n_inputs: int = 3
    width: int = 32
    depth: int = 40            # dense tanh layers
    dropout: float = 0.2
    dropout_every: int = 4     # a mask after dense layers 4, 8, ...
    init: str = "keras"
    n_samples: int = 1_000_000
    epochs: int = 4
    batch_size: int = 100
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_inputs", "width", "depth", "epochs", "batch_size", "n_samples"):
            check_int(getattr(self, name), name)
        check_int(self.dropout_every, "dropout_every", 1, self.depth)
        check_int(self.seed, "seed", 0)
        check_choice(self.init, "init", INITS)
        object.__setattr__(self, "dropout", check_dropout(self.dropout))
        object.__setattr__(self, "lr", check_positive_float(self.lr, "lr"))

    @property
    def steps(self) -> int:
        """Adam steps of the whole training: epochs x batches per epoch (the last batch may be smaller)."""
        return self.epochs * math.ceil(self.n_samples / self.batch_size)

    def key(self) -> str:
        """Stable hash (hex) of the configuration and the record's format."""
        payload = json.dumps({"format": FORMAT, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def build_model(self) -> PassThroughNet:
        """The network of this configuration, freshly initialised from config.seed (the untrained control)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return PassThroughNet(self.n_inputs, self.width, self.depth, self.dropout, self.dropout_every, self.init)


class PassThroughNet(torch.nn.Module):
    """depth dense tanh layers of `width` units, a plain dropout mask after every dropout_every-th, linear read-out."""

    def __init__(self, n_inputs: int, width: int, depth: int, dropout: float, dropout_every: int, init: str) -> None:
        super().__init__()
        self.dropout, self.dropout_every = dropout, dropout_every
        sizes = [n_inputs] + [width] * depth
        self.dense = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.readout = torch.nn.Linear(width, n_inputs)
        if check_choice(init, "init", INITS) == "keras":
            for layer in [*self.dense, self.readout]:
                torch.nn.init.xavier_uniform_(layer.weight)
                torch.nn.init.zeros_(layer.bias)

    @property
    def depth(self) -> int:
        return len(self.dense)

    def forward(self, x: torch.Tensor, *, dropout_on: bool, generator: torch.Generator | None = None,
                record: Sequence[int] = ()) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """The read-out and the activations of the dense layers in `record` (1..depth, before their mask; depth + 1:
        the read-out). dropout_on: masks drawn from `generator`; off: those layers scaled by 1 - p (Keras' inference).
        """
        recorded: dict[int, torch.Tensor] = {}
        h = x
        for number, layer in enumerate(self.dense, 1):
            h = torch.tanh(layer(h))
            if number in record:
                recorded[number] = h
            if number % self.dropout_every == 0:
                if dropout_on:
                    h = h * (torch.rand(h.shape, generator=generator, device=h.device) >= self.dropout)
                else:
                    h = h * (1.0 - self.dropout)
        out = self.readout(h)
        if self.depth + 1 in record:
            recorded[self.depth + 1] = out
        return out, recorded


@dataclass(eq=False)
class TrainedPassThrough:
    """A trained network (the record of its training beside it)."""

    model: PassThroughNet
    config: PassThroughConfig
    step_loss: NDArray[np.float64]   # training MSE of every batch (dropout on)
    seconds: float                   # training time
    from_cache: bool
    path: Path | None = None


def _seed(config: PassThroughConfig, purpose: str) -> int:
    """A generator seed for one purpose (samples, order, masks) of a configuration's training."""
    return int.from_bytes(hashlib.sha256(f"polycode-ec/{config.seed}/{purpose}".encode()).digest()[:8], "little") >> 1


def uniform_inputs(n: int, n_inputs: int, seed: int) -> torch.Tensor:
    """n samples of x ~ U[-1, 1]^n_inputs (float32), drawn from `seed`."""
    g = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    return torch.rand(check_int(n, "n"), check_int(n_inputs, "n_inputs"), generator=g) * (INPUT_HIGH - INPUT_LOW) \
        + INPUT_LOW


def train_pass_through(config: PassThroughConfig, *, cache_dir: str | Path | None = None,
                       progress: bool = True) -> TrainedPassThrough:
    """Train (or load from cache_dir) the network of a configuration: MSE to the input, Adam, dropout masks on.

    Runs on a CPU with one intra-op thread: for 32-unit layers a second thread only adds overhead (measured on a
    2-core machine: about 4 ms a step with one, over 60 with two). Adam's fused CPU kernel: the same algorithm, about
    half the time of the default implementation at this size.
    """
    if not isinstance(config, PassThroughConfig):
        raise ValueError(f"config: must be a PassThroughConfig, got {type(config).__name__}")
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"pass_through-{config.key()[:16]}" / "network.pt"
        cached = _load_cached(path, config)
        if cached is not None:
            return cached
    start = time.perf_counter()
    model = config.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)
    x_all = uniform_inputs(config.n_samples, config.n_inputs, _seed(config, "samples"))
    order, masks = (torch.Generator().manual_seed(_seed(config, purpose)) for purpose in ("order", "masks"))
    losses = torch.empty(config.steps)
    with torch_threads(1), tqdm(total=config.steps, desc="training", disable=not progress, leave=False) as bar:
        step = 0
        for _ in range(config.epochs):
            for batch in torch.randperm(config.n_samples, generator=order).split(config.batch_size):
                x = x_all[batch]
                loss = F.mse_loss(model(x, dropout_on=True, generator=masks)[0], x)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses[step] = loss.detach()
                step += 1
                bar.update()
    seconds = time.perf_counter() - start
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = model.state_dict()
        save_atomic({"format": FORMAT, "config": asdict(config), "model": state, "checksum": weights_checksum(state),
                     "step_loss": losses, "seconds": seconds}, path)
    return TrainedPassThrough(model.eval(), config, losses.double().numpy(), seconds, False, path)


def _load_cached(path: Path, config: PassThroughConfig) -> TrainedPassThrough | None:
    """The cached network of a configuration, or None: none cached, or a record that must not be used (set aside)."""
    if not path.exists():
        return None
    try:
        record = torch.load(path, weights_only=True)
        model = config.build_model()
        model.load_state_dict(record["model"])  # raises on a missing or misshapen tensor
        problem = (f"format {record['format']!r}, expected {FORMAT}" if record["format"] != FORMAT
                   else "it belongs to another configuration" if record["config"] != asdict(config)
                   else "its weights do not match their checksum" if record["checksum"] != weights_checksum(
                       record["model"])
                   else None)
    except Exception as exc:  # noqa: BLE001 - any unreadable record is set aside, never trusted
        problem = f"unreadable: {type(exc).__name__}"
    if problem is not None:
        set_aside(path, problem)
        return None
    return TrainedPassThrough(model.eval(), config, record["step_loss"].double().numpy(), float(record["seconds"]),
                              True, path)


def init_comparison(config: PassThroughConfig, steps: int, *, cache_dir: str | Path | None = None,
                    progress: bool = True) -> dict[str, TrainedPassThrough]:
    """The network of `config` trained for `steps` batches from each initialisation (INITS), on the same samples."""
    short = replace(config, n_samples=check_int(steps, "steps") * config.batch_size, epochs=1)
    return {init: train_pass_through(replace(short, init=init), cache_dir=cache_dir, progress=progress)
            for init in INITS}


def measured_layers(config: PassThroughConfig) -> list[int]:
    """The layers whose information is measured: every dense layer followed by a mask (4, 8, ..., 40; before the
    mask, as the authors' Keras layer outputs), and the read-out (depth + 1)."""
    return [*range(config.dropout_every, config.depth + 1, config.dropout_every), config.depth + 1]


@torch.no_grad()
def layer_activations(model: PassThroughNet, x: torch.Tensor, layers: Sequence[int], *, seed: int,
                      dropout_on: bool = True) -> dict[int, NDArray[np.float64]]:
    """Activations (n, units) of the given layers for inputs x, masks drawn from `seed` when dropout_on."""
    layers = [check_int(n, "layers", 1, model.depth + 1) for n in check_sequence(layers, "layers")]
    g = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    _, recorded = model(torch.as_tensor(x, dtype=torch.float32), dropout_on=dropout_on, generator=g, record=layers)
    return {n: recorded[n].double().numpy() for n in layers}


@torch.no_grad()
def activation_spread(model: PassThroughNet, x: torch.Tensor, layers: Sequence[int]) -> NDArray[np.float64]:
    """How much each layer still varies with the input: the standard deviation over inputs, averaged over units,
    dropout off (a network whose deep layers no longer vary has forgotten its input before any training)."""
    acts = layer_activations(model, x, layers, seed=0, dropout_on=False)
    return np.array([acts[n].std(axis=0).mean() for n in layers])


@torch.no_grad()
def reconstruction_mse(model: PassThroughNet, x: torch.Tensor, *, seed: int, dropout_on: bool) -> float:
    """Mean squared error of the read-out against the input (per coordinate), masks from `seed` when dropout_on."""
    g = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    return float(F.mse_loss(model(x, dropout_on=dropout_on, generator=g)[0], x))


def information_by_layer(models: dict[str, PassThroughNet], layers: Sequence[int], *, n_samples: int, seed: int,
                         estimators: Sequence[str] = ESTIMATORS, decoder_options: dict | None = None,
                         mine_options: dict | None = None, progress: bool = True,
                         dropout_on: bool = True) -> pd.DataFrame:
    """I(input; layer) in nats for every network and layer, masks on (dropout_on) or off, by each estimator (all
    layers and networks of one estimator trained side by side). One row per (network, layer, estimator): nats,
    stderr, n_train, n_test."""
    estimators = [check_choice(e, "estimators", ESTIMATORS) for e in check_sequence(estimators, "estimators")]
    n_inputs = next(iter(models.values())).readout.out_features
    x = uniform_inputs(n_samples, n_inputs, seed)
    ys, keys = [], []
    for i, (name, model) in enumerate(models.items()):
        acts = layer_activations(model, x, layers, seed=seed + 1 + i, dropout_on=dropout_on)
        ys += [acts[n] for n in layers]
        keys += [(name, n) for n in layers]
    rows = []
    for estimator in estimators:
        if estimator == "decoder":
            est = decoder_bound(x, ys, entropy_x=uniform_entropy(n_inputs, INPUT_LOW, INPUT_HIGH), seed=seed,
                                progress=progress, **(decoder_options or {}))
        else:
            est = mine(x, ys, seed=seed, progress=progress, **(mine_options or {}))
        rows += [dict(network=name, layer=n, estimator=estimator, nats=v, stderr=e, n_train=est.n_train,
                      n_test=est.n_test) for (name, n), v, e in zip(keys, est.nats, est.stderr)]
    return pd.DataFrame(rows)


def with_mask_rate(model: PassThroughNet, dropout: float) -> PassThroughNet:
    """A copy of a network whose masks drop units at rate `dropout` (a network trained at p = 0, measured under the
    masks of another's training: the control that separates learnt error correction from information kept)."""
    twin = PassThroughNet(model.readout.out_features, model.readout.in_features, model.depth,
                          check_dropout(dropout), model.dropout_every, "torch")
    twin.load_state_dict(model.state_dict())
    return twin.eval()


def uniform_decoder_floor(n_inputs: int) -> float:
    """The decoder bound of a decoder that ignores the layer, for x ~ U[-1, 1]^n_inputs (variance 1/3 each)."""
    width = INPUT_HIGH - INPUT_LOW
    return gaussian_decoder_floor(uniform_entropy(n_inputs, INPUT_LOW, INPUT_HIGH), [width**2 / 12] * n_inputs)


def dropout_layer_capacity(config: PassThroughConfig, bits_per_unit: float) -> float:
    """Chapter 2's capacity of one dropout layer of this network, (1 - p) m C_b, in nats: the theorem's upper bound
    for units of C_b bits [paper note; C_b is the caller's choice: the note's code draws its line with 1 bit]."""
    return float(dropout_capacity_bounds(config.width, bits_per_unit, config.dropout).upper) * math.log(2)


@dataclass(frozen=True)
class Demonstration:
    """What the chapter states and asserts about the measured curves (nats; the last layer is the read-out)."""

    first_layer: int
    second_layer: int
    last_layer: int
    learnt_first: float        # decoder bound, learnt network, first measured layer
    learnt_last: float
    untrained_first: float
    untrained_last: float
    learnt_drop: float         # decoder bound lost from the second measured layer to the last, learnt network
    untrained_drop: float
    gap_last: float            # learnt - untrained at the last layer, decoder bound
    mine_learnt_first: float   # the same read-outs by MINE (nan when MINE was not run)
    mine_learnt_last: float
    mine_untrained_first: float
    mine_untrained_last: float
    mine_gap_last: float


def demonstration_summary(table: pd.DataFrame) -> Demonstration:
    """The read-outs the chapter states and asserts, from information_by_layer's table (networks learnt, untrained)."""
    pivot = table.pivot_table(index="layer", columns=["estimator", "network"], values="nats")
    first, second, last = (int(pivot.index[i]) for i in (0, 1, -1))
    dec = pivot["decoder"]
    if "mine" in pivot.columns.get_level_values(0):
        mi = pivot["mine"]
        mine_values = (mi.learnt[first], mi.learnt[last], mi.untrained[first], mi.untrained[last],
                       mi.learnt[last] - mi.untrained[last])
    else:
        mine_values = (float("nan"),) * 5
    return Demonstration(first, second, last, float(dec.learnt[first]), float(dec.learnt[last]),
                         float(dec.untrained[first]), float(dec.untrained[last]),
                         float(dec.learnt[second] - dec.learnt[last]),
                         float(dec.untrained[second] - dec.untrained[last]),
                         float(dec.learnt[last] - dec.untrained[last]), *map(float, mine_values))


CONTROL_NETWORKS = ("dropout", "no dropout", "untrained")  # control_study's networks, in this order


def control_study(config: PassThroughConfig, seeds: Sequence[int], *, n_samples: int,
                  decoder_options: dict | None = None, cache_dir: str | Path | None = None,
                  progress: bool = True) -> pd.DataFrame:
    """The note's Fig. 1 at the read-out, over seeds, with the controls it lacks (ours): per seed, the network
    trained with dropout (config at that seed), its twin trained at p = 0 (the same initial weights, samples and
    order) and the untrained network, I(X; read-out) by the decoder bound with the masks of config.dropout on (the
    p = 0 twin under masks it never saw) and off. One row per (seed, network, masks): nats, stderr."""
    seeds = [check_int(s, "seeds", 0) for s in check_sequence(seeds, "seeds")]
    if config.dropout == 0.0:
        raise ValueError("config: its dropout must be above 0 (the study compares it with training at p = 0)")
    readout, rows = [config.depth + 1], []
    for s in tqdm(seeds, desc="seeds", disable=not progress):
        cfg = replace(config, seed=s)
        trained = train_pass_through(cfg, cache_dir=cache_dir, progress=progress).model
        plain = train_pass_through(replace(cfg, dropout=0.0), cache_dir=cache_dir, progress=progress).model
        nets = dict(zip(CONTROL_NETWORKS, (trained, with_mask_rate(plain, cfg.dropout), cfg.build_model())))
        for masks, models in (("on", nets), ("off", {"dropout": trained, "no dropout": plain})):
            table = information_by_layer(models, readout, n_samples=n_samples, seed=s, estimators=["decoder"],
                                         decoder_options=decoder_options, progress=False, dropout_on=masks == "on")
            rows += [dict(seed=s, network=r.network, masks=masks, nats=r.nats, stderr=r.stderr)
                     for r in table.itertuples()]
    return pd.DataFrame(rows)


def control_effect(table: pd.DataFrame, network: str, control: str, masks: str) -> Effect:
    """I(X; read-out) of `network` minus `control`, with the masks on or off, per seed: the mean over seeds and its
    Student-t 95 % interval (control_study's table)."""
    check_choice(network, "network", CONTROL_NETWORKS)
    check_choice(control, "control", CONTROL_NETWORKS)
    check_choice(masks, "masks", ("on", "off"))
    at = table[table.masks == masks].pivot_table(index="seed", columns="network", values="nats")
    if network not in at or control not in at:
        raise ValueError(f"network, control: the table has {sorted(at.columns)} with the masks {masks}")
    diff = (at[network] - at[control]).dropna().to_numpy()
    low, high = t_interval(diff)
    return Effect(float(diff.mean()), low, high, int(diff.size), f"nats at the read-out, {network} − {control}, "
                  f"masks {masks}")

