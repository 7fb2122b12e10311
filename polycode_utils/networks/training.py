"""Training the chapter-4 autoencoders, cached by configuration so that chapters 5-6 measure the same networks.

The authors' recipe [paper code]: loss = BCE(reconstruction, input) + KL(q(z|x) || N(0, I)), summed over pixels and
latent units; Adam, lr 1e-3, batch 50, 200 epochs, dropout p in {0, .2, .4, .6, .8}. We report both terms per
image (the sum over a batch divided by its size: the same optimum, and Adam is insensitive to the scale).

Reproducibility [ours]: the weights are initialised from ``config.seed``; epoch e shuffles and draws its dropout and
latent noise from a seed derived from (seed, e) alone, so a run resumed after epoch e continues exactly as an
uninterrupted one (bit-identical on a CPU). The caller's random state is left untouched. After every epoch the
model, optimiser and loss history are written atomically (temporary file, fsync, rename) to
``cache_dir/<name>-<hash>/checkpoint.pt``; the hash covers the configuration and the data's description.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from polycode_utils.runtime.checkpoints import save_atomic, set_aside, weights_checksum
from polycode_utils.checks import (check_bool, check_choice, check_dropout, check_float_in, check_int,
                                   check_positive_float)
from polycode_utils.networks.data import CIFAR10_N_TRAIN, DATASETS, ImageData, evaluation_images, load_images
from polycode_utils.networks.evaluation import evaluate, recalibrate_batchnorm, vae_loss
from polycode_utils.networks.models import PLACEMENTS, ResNetAutoencoder
from polycode_utils.runtime.workers import resolve_device, worker_pool

CHECKPOINT_FORMAT = 2  # bump when the checkpoint layout or the training loop changes meaning
SCHEDULES = ("constant", "cosine")  # the learning rate over the run: the authors' constant one, or warm-up + cosine
# fields added after the first checkpoints: hashed only when they differ from these, so that older configurations
# keep their keys, and filled in from these when an older checkpoint's configuration lacks them
LATER_FIELDS = {"replicate": 0, "schedule": "constant", "warmup": 0.0, "placement": "every_relu"}
N_EVAL = 512  # held-out images on which the eval-mode loss is tracked after every epoch (held_out_images)
N_RECALIBRATE = 1024  # training images (the first ones) on which BatchNorm statistics are re-estimated [ours]
BATCHNORM_MODES = ("recalibrated", "as_trained")


@dataclass(frozen=True)
class AutoencoderConfig:
    """Everything that determines a trained chapter-4 network; equal configs (and data) share one checkpoint."""

    dropout: float = 0.0
    width: int = 64
    latent_dim: int = 256
    fc_hidden: int | None = None     # None: 16 * width (the authors' 1024 at width 64)
    variational: bool = True
    epochs: int = 200
    batch_size: int = 50
    lr: float = 1e-3
    seed: int = 0
    dataset: str = "patches"
    n_images: int = 5000
    image_size: int = 32
    replicate: int = 0               # which of the seeds of one configuration: weights, order and masks differ [ours]
    schedule: str = "constant"       # learning rate per step: constant (paper) or cosine decay to 0 [ours]
    warmup: float = 0.0              # share of the steps over which the rate rises linearly from 0 [ours]
    placement: str = "every_relu"    # where dropout sits (models.PLACEMENTS): the authors' or the branch only [ours]

    def __post_init__(self) -> None:
        check_dropout(self.dropout)
        check_choice(self.dataset, "dataset", DATASETS)
        for name in ("width", "latent_dim", "epochs"):
            check_int(getattr(self, name), name)
        if self.fc_hidden is not None:
            check_int(self.fc_hidden, "fc_hidden")  # None: 16 * width
        check_int(self.batch_size, "batch_size", 2)  # BatchNorm needs two images per batch
        check_int(self.n_images, "n_images", 2, CIFAR10_N_TRAIN if self.dataset == "cifar10" else None)
        if check_int(self.image_size, "image_size", 8) % 8 or (self.dataset == "cifar10" and self.image_size != 32):
            raise ValueError(f"image_size: must be a multiple of 8 (32 for CIFAR-10), got {self.image_size!r}")
        check_positive_float(self.lr, "lr")
        check_int(self.seed, "seed", 0)
        check_int(self.replicate, "replicate", 0)
        check_bool(self.variational, "variational")
        check_choice(self.schedule, "schedule", SCHEDULES)
        check_choice(self.placement, "placement", PLACEMENTS)
        check_float_in(self.warmup, "warmup", 0.0, 0.5)
        for name, kind in (("dropout", float), ("lr", float), ("width", int), ("latent_dim", int), ("epochs", int),
                           ("batch_size", int), ("seed", int), ("n_images", int), ("image_size", int),
                           ("replicate", int), ("warmup", float)):
            object.__setattr__(self, name, kind(getattr(self, name)) + kind(0))  # 0, 0.0 and -0.0: one configuration

    @property
    def train_seed(self) -> int:
        """The seed of the initial weights, the batch order and the masks: seed itself for replicate 0, else a
        function of (seed, replicate); the training images come from seed alone, the same for every replicate."""
        if self.replicate == 0:
            return self.seed
        return int.from_bytes(hashlib.sha256(f"polycode-ae/{self.seed}/rep{self.replicate}".encode()).digest()[:4],
                              "little")

    def initial_model(self) -> ResNetAutoencoder:
        """The network training starts from: build_model() under train_seed, without touching the global RNG."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.train_seed)
            return self.build_model()

    def build_model(self) -> ResNetAutoencoder:
        """A freshly initialised network of this configuration (uses the global torch RNG)."""
        return ResNetAutoencoder(dropout=self.dropout, width=self.width, latent_dim=self.latent_dim,
                                 variational=self.variational, fc_hidden=self.fc_hidden, image_size=self.image_size,
                                 placement=self.placement)

    def key(self) -> str:
        """Stable hash (hex) of the configuration and the checkpoint format (replicate 0 hashes as before seeds)."""
        fields_ = {k: v for k, v in asdict(self).items() if not (k in LATER_FIELDS and v == LATER_FIELDS[k])}
        payload = json.dumps({"format": CHECKPOINT_FORMAT, **fields_}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def learning_rate(self, step: int, n_steps: int) -> float:
        """The Adam rate at step `step` of `n_steps`: lr throughout (the authors'), or a linear warm-up over the first
        `warmup` share, then (schedule "cosine") half a cosine down to 0 at the last step [ours]."""
        n_warm = int(round(self.warmup * n_steps))
        if step < n_warm:
            return self.lr * (step + 1) / n_warm
        if self.schedule == "constant":
            return self.lr
        t = (step - n_warm) / max(1, n_steps - n_warm)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * t))

    def with_dropout(self, dropout: float) -> AutoencoderConfig:
        """The same configuration at another dropout rate."""
        return AutoencoderConfig(**{**asdict(self), "dropout": dropout})


@dataclass
class LossHistory:
    """Per-image losses (BCE + KL, in nats) of a training run: each step, each epoch, and eval mode per epoch."""

    step_loss: list[float] = field(default_factory=list)   # each training batch, dropout on, z sampled
    epoch_loss: list[float] = field(default_factory=list)  # mean over the epoch's batches
    epoch_bce: list[float] = field(default_factory=list)
    epoch_kl: list[float] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)   # eval mode (no dropout, z = mu, BatchNorm re-estimated),
    #                                                        on the N_EVAL held-out images (held_out_images)
    eval_bce: list[float] = field(default_factory=list)
    eval_kl: list[float] = field(default_factory=list)
    eval_mse: list[float] = field(default_factory=list)    # mean squared error per pixel, eval mode
    epoch_seconds: list[float] = field(default_factory=list)
    steps_per_epoch: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LossHistory:
        return cls(**{f.name: d[f.name] for f in fields(cls)})


@dataclass(eq=False)
class TrainedModel:
    """A trained network (in eval mode) with its configuration, data description and loss history."""

    model: ResNetAutoencoder
    config: AutoencoderConfig
    history: LossHistory
    data: dict
    device: str
    seconds: float                  # training time summed over all sessions that trained it
    epochs_trained_now: int         # epochs this call trained (0: loaded complete from the cache)
    path: Path | None = None        # the checkpoint, when cached

    @property
    def from_cache(self) -> bool:
        return self.epochs_trained_now == 0


def load_training_data(config: AutoencoderConfig, root: str | Path | None = None) -> ImageData:
    """The training images a configuration names: n_images shipped-photo patches (seed) or CIFAR-10 images
    (from the folder root, which holds cifar-10-batches-py)."""
    return load_images(config.dataset, config.n_images, seed=config.seed, size=config.image_size, root=root)


def held_out_images(config: AutoencoderConfig, data: ImageData) -> np.ndarray:
    """The N_EVAL images the eval-mode loss is tracked on during training: fresh patch crops, never trained on
    (data.evaluation_images), or for CIFAR-10 the first N_EVAL training images (the test split needs its folder)."""
    if config.dataset == "patches":
        return evaluation_images("patches", N_EVAL, seed=config.seed, size=config.image_size).images
    return np.ascontiguousarray(data.images[:N_EVAL])


def cache_folder(config: AutoencoderConfig, data: ImageData, cache_dir: str | Path) -> Path:
    """Where a configuration's checkpoint lives: cache_dir/autoencoder-p<dropout>-w<width>-<hash of config+data>."""
    payload = json.dumps({"config": config.key(), "data": data.description.key()}, sort_keys=True)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return Path(cache_dir) / f"autoencoder-p{config.dropout:g}-w{config.width}-{digest}"


def checkpoint_problem(ckpt: object, config: AutoencoderConfig | None = None, data_key: object = None) -> str | None:
    """Why a loaded checkpoint must not be used (wrong format, missing key, checksum, non-finite weights, another
    configuration or data, a tensor of the wrong shape), or None when it is sound."""
    if not isinstance(ckpt, dict):
        return f"not a checkpoint ({type(ckpt).__name__})"
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        return f"format {ckpt.get('format')!r}, expected {CHECKPOINT_FORMAT}"
    missing = [k for k in ("config", "data", "epoch", "model", "optimizer", "history", "seconds") if k not in ckpt]
    if missing:
        return f"missing {', '.join(missing)}"
    model = ckpt["model"]
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        return "its weights are not a state dict of tensors"
    # checkpoints written before checksums were stored are checked for everything else
    if "checksum" in ckpt and ckpt["checksum"] != weights_checksum(model):
        return "its weights do not match their checksum (a damaged file)"
    if not all(bool(torch.isfinite(v).all()) for v in model.values() if v.is_floating_point()):
        return "its weights hold NaN or infinite values"
    if config is not None and {**LATER_FIELDS, **ckpt["config"]} != asdict(config):
        return "it belongs to another configuration"
    if data_key is not None and ckpt["data"] != data_key:
        return "it belongs to other data"
    if config is not None:
        expected = {k: tuple(v.shape) for k, v in config.build_model().state_dict().items()}
        got = {k: tuple(v.shape) for k, v in model.items()}
        if got != expected:
            wrong = sorted(set(got) ^ set(expected)) or sorted(k for k in got if got[k] != expected[k])
            return f"its tensors do not fit the network ({', '.join(wrong[:3])})"
    return None


def load_checkpoint(path: Path, device: str | torch.device = "cpu", config: AutoencoderConfig | None = None,
                    data_key: object = None) -> dict | None:
    """A sound checkpoint dict, or None when there is none; one that cannot be read or fails its checks
    (checkpoint_problem) is set aside with a one-line warning, to be retrained."""
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
        problem = checkpoint_problem(ckpt, config, data_key)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is set aside, never trusted
        problem = f"unreadable: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
    if problem is not None:
        set_aside(path, problem)
        return None
    return ckpt


def training_layout(width: int) -> torch.memory_format:
    """The memory layout training uses: channels_last (faster for these small convolutions) from base width 8 up,
    the default layout below. With fewer than 8 input channels, the backward pass of the 1x1 stride-2 shortcut
    convolution in channels_last corrupts the heap on an AVX2 CPU with one thread (oneDNN 3.12 in torch 2.14.1,
    measured on this project's machine); from 8 channels up its gradients equal the default layout's."""
    return torch.channels_last if width >= 8 else torch.contiguous_format


def _epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch `epoch`'s shuffling, dropout masks and latent noise: a function of (seed, epoch) only."""
    return int.from_bytes(hashlib.sha256(f"polycode-ae/{seed}/{epoch}".encode()).digest()[:8], "little") >> 1


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A shuffled split of range(n) into batches; a last batch of one image is dropped (BatchNorm needs two)."""
    perm = torch.randperm(n, generator=generator)
    return [b for b in perm.split(batch_size) if b.numel() >= 2]


def train_autoencoder(config: AutoencoderConfig, data: ImageData, *, cache_dir: str | Path | None = None,
                      device: str = "auto", progress: bool = True,
                      callback: Callable[[int, LossHistory], None] | None = None) -> TrainedModel:
    """Train one network of chapter 4 (Adam, BCE + KL); with cache_dir, checkpoint every epoch and resume.

    callback(epoch, history) runs after each epoch's checkpoint is written (an exception there stops training
    with that checkpoint intact: this is how the tests interrupt a run).
    """
    if not isinstance(config, AutoencoderConfig):
        raise ValueError(f"config: must be an AutoencoderConfig, got {type(config).__name__}")
    dev = resolve_device(device)
    desc = data.description
    if (desc.dataset, len(data), desc.size) != (config.dataset, config.n_images, config.image_size):
        raise ValueError(f"data: {desc.dataset} with {len(data)} images of {desc.size} px does not match the config "
                         f"(dataset={config.dataset!r}, n_images={config.n_images}, image_size={config.image_size})")
    path = None
    ckpt = None
    if cache_dir is not None:
        folder = cache_folder(config, data, cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "checkpoint.pt"
        info = folder / "config.json"
        if not info.exists():
            tmp = info.with_name(f".config.json.tmp-{os.getpid()}")
            tmp.write_text(json.dumps({"config": asdict(config), "data": asdict(desc)}, indent=1))
            os.replace(tmp, info)
        ckpt = load_checkpoint(path, dev, config, desc.key())

    fork_devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(config.train_seed)  # the RNG state initial_model() reproduces
        layout = training_layout(config.width)
        model = config.build_model().to(dev, memory_format=layout)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        history = LossHistory()
        start_epoch, seconds = 0, 0.0
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            if ckpt["optimizer"]:  # a shipped network keeps none (grid.ship): it is complete, never resumed
                optimizer.load_state_dict(ckpt["optimizer"])
            history = LossHistory.from_dict(ckpt["history"])
            start_epoch, seconds = int(ckpt["epoch"]), float(ckpt["seconds"])
        x_all = torch.from_numpy(np.ascontiguousarray(data.images)).to(dev)
        x_eval = torch.from_numpy(held_out_images(config, data)).to(dev)
        bar = None
        if progress and start_epoch < config.epochs:
            from tqdm.auto import tqdm  # noqa: PLC0415

            n_steps = len(_batches(config.n_images, config.batch_size, torch.Generator()))
            bar = tqdm(total=(config.epochs - start_epoch) * n_steps, unit="batch", leave=False,
                       desc=f"dropout {config.dropout:g}, epochs {start_epoch + 1}-{config.epochs}")
        try:
            for epoch in range(start_epoch, config.epochs):
                t0 = time.perf_counter()
                seed = _epoch_seed(config.train_seed, epoch)
                torch.manual_seed(seed)  # dropout masks and latent noise of this epoch (CPU and CUDA)
                batches = _batches(config.n_images, config.batch_size, torch.Generator().manual_seed(seed))
                model.train()
                losses = []
                for i, idx in enumerate(batches):
                    for group in optimizer.param_groups:
                        group["lr"] = config.learning_rate(epoch * len(batches) + i, config.epochs * len(batches))
                    x = x_all[idx.to(dev)].contiguous(memory_format=layout)
                    out = model(x)
                    loss, bce, kl = vae_loss(out.reconstruction, x, out.mu, out.logvar)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    losses.append(torch.stack([loss.detach(), bce.detach(), kl.detach()]))
                    if bar is not None:
                        bar.update(1)
                per_step = torch.stack(losses).cpu().double().numpy()
                ev = evaluate(recalibrate_batchnorm(model, x_all[:N_RECALIBRATE]), x_eval, device=dev)
                elapsed = time.perf_counter() - t0
                seconds += elapsed
                history.step_loss += per_step[:, 0].tolist()
                history.epoch_loss.append(float(per_step[:, 0].mean()))
                history.epoch_bce.append(float(per_step[:, 1].mean()))
                history.epoch_kl.append(float(per_step[:, 2].mean()))
                history.eval_loss.append(ev.total)
                history.eval_bce.append(ev.bce)
                history.eval_kl.append(ev.kl)
                history.eval_mse.append(ev.mse)
                history.epoch_seconds.append(elapsed)
                history.steps_per_epoch = len(batches)
                if path is not None:
                    state = model.state_dict()
                    save_atomic({"format": CHECKPOINT_FORMAT, "config": asdict(config), "data": desc.key(),
                                 "epoch": epoch + 1, "model": state, "checksum": weights_checksum(state),
                                 "optimizer": optimizer.state_dict(), "history": history.to_dict(),
                                 "seconds": seconds, "device": str(dev)}, path)
                if callback is not None:
                    callback(epoch + 1, history)
        finally:
            if bar is not None:
                bar.close()
    model.eval()
    return TrainedModel(model, config, history, desc.key(), str(dev), seconds, config.epochs - start_epoch, path)


def load_or_train(config: AutoencoderConfig, data: ImageData, *, cache_dir: str | Path,
                  device: str = "auto", progress: bool = True) -> TrainedModel:
    """The network of this configuration and data: from its cached checkpoint, or trained (resumed) and cached."""
    return train_autoencoder(config, data, cache_dir=cache_dir, device=device, progress=progress)


def is_cached(config: AutoencoderConfig, data: ImageData, cache_dir: str | Path) -> bool:
    """Whether a complete checkpoint (all epochs) of this configuration and data is in the cache."""
    path = cache_folder(config, data, cache_dir) / "checkpoint.pt"
    if not path.exists():
        return False
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - unreadable: not cached (load_or_train sets it aside)
        return False
    return checkpoint_problem(ckpt, config, data.description.key()) is None and ckpt.get("epoch") == config.epochs


def _train_in_worker(config: AutoencoderConfig, data: ImageData, cache_dir: str, threads: int) -> int:
    """Body of one worker process: train (or resume) one network into the cache; returns the epochs it trained."""
    torch.set_num_threads(threads)
    return train_autoencoder(config, data, cache_dir=cache_dir, device="cpu", progress=False).epochs_trained_now


def train_many(configs: list[AutoencoderConfig], data: ImageData, *, cache_dir: str | Path,
               device: str = "auto", workers: int = 1, progress: bool = True) -> list[TrainedModel]:
    """Several networks (the dropout grid) through the cache; on a CPU, `workers` one-thread processes side by side.

    Small convolutions use several cores far better as separate processes than as threads of one process
    (bench/bench_training.py), so with workers > 1 the networks missing from the cache are trained in spawned
    processes of one thread each, then every network is loaded from its checkpoint. The result does not depend
    on `workers` as long as the calling process also uses one thread (the chapter sets that).
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: must be an integer >= 1, got {workers!r}")
    dev = resolve_device(device)
    todo = [c for c in dict.fromkeys(configs) if not is_cached(c, data, cache_dir)]
    for c in todo:  # a damaged checkpoint is set aside here, so its warning reaches the caller (the chapter's page)
        load_checkpoint(cache_folder(c, data, cache_dir) / "checkpoint.pt", "cpu", c, data.description.key())
    trained_now: dict[AutoencoderConfig, int] = {}
    if workers > 1 and dev.type == "cpu" and len(todo) > 1:
        from concurrent.futures import as_completed  # noqa: PLC0415

        from tqdm.auto import tqdm  # noqa: PLC0415

        pool = worker_pool(min(workers, len(todo)))
        try:
            futures = {pool.submit(_train_in_worker, c, data, str(cache_dir), 1): c for c in todo}
            done = as_completed(futures)
            if progress:
                done = tqdm(done, total=len(futures), unit="network", desc=f"training in {workers} processes")
            for future in done:
                trained_now[futures[future]] = future.result()
        except BaseException:
            for proc in list(getattr(pool, "_processes", {}).values()):  # interrupted: stop now, checkpoints are safe
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    out = [load_or_train(c, data, cache_dir=cache_dir, device=device, progress=progress) for c in configs]
    for t in out:  # report the epochs a worker trained in this call, as if trained here
        t.epochs_trained_now = max(t.epochs_trained_now, trained_now.get(t.config, 0))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Batched training: the networks of a grid as one vmapped model, one launch per layer for all of them


def check_one_grid(configs: Sequence[AutoencoderConfig]) -> list[AutoencoderConfig]:
    """Configurations of one dropout grid: a non-empty list of AutoencoderConfig differing only in their dropout
    rate and replicate (one architecture, one recipe, one training set); ValueError otherwise."""
    configs = list(configs)
    if not configs or any(not isinstance(c, AutoencoderConfig) for c in configs):
        raise ValueError("configs: must be a non-empty list of AutoencoderConfig (see dropout_grid)")
    base = {k: v for k, v in asdict(configs[0]).items() if k not in ("dropout", "replicate")}
    if any({k: v for k, v in asdict(c).items() if k not in ("dropout", "replicate")} != base for c in configs):
        raise ValueError("configs: must differ only in their dropout rate and replicate (one training set for all)")
    return configs


def train_batched(configs: Sequence[AutoencoderConfig], data: ImageData, *, n_steps: int | None = None,
                  device: str = "auto") -> tuple[list[ResNetAutoencoder], np.ndarray]:
    """Train several networks of one architecture, recipe and training set at once (torch.func.stack_module_state
    + vmap [ours]): each with its own initial weights, batch order and BatchNorm statistics, as train_autoencoder
    would; one Adam over the stacked weights is Adam per network (it acts element by element). The dropout masks and
    latent noise come from vmap's generator, so with p > 0 the runs differ from train_autoencoder's in their masks
    (with p = 0 and no latent noise they agree to float rounding: tested). n_steps: stop after that many steps (all
    of them by default). Returns the trained networks (eval mode) and the step losses, (networks, steps)."""
    from torch.func import functional_call, grad_and_value, stack_module_state, vmap  # noqa: PLC0415

    configs = check_one_grid(configs)
    if len({c.dropout for c in configs}) > 1:
        raise ValueError("configs: must share one dropout rate (vmap runs one module: the rate is part of it)")
    if len(data) != configs[0].n_images or data.description.size != configs[0].image_size:
        raise ValueError(f"data: {len(data)} images of {data.description.size} px, the configurations train on "
                         f"{configs[0].n_images} of {configs[0].image_size} px")
    dev = resolve_device(device)
    config = configs[0]
    models = [c.initial_model().to(dev).train() for c in configs]
    params, buffers = stack_module_state(models)
    base = config.build_model().to("meta").train()
    x_all = torch.from_numpy(np.ascontiguousarray(data.images)).to(dev)

    def loss(p: dict, b: dict, x: torch.Tensor) -> torch.Tensor:
        out = functional_call(base, (p, b), (x,))
        return vae_loss(out.reconstruction, x, out.mu, out.logvar)[0]

    step = vmap(grad_and_value(loss), randomness="different")
    leaves = list(params.values())
    optimizer = torch.optim.Adam(leaves, lr=config.lr)
    per_epoch = len(_batches(config.n_images, config.batch_size, torch.Generator()))
    total = config.epochs * per_epoch if n_steps is None else check_int(n_steps, "n_steps")
    losses = []
    for epoch in range(math.ceil(total / per_epoch)):
        orders = [_batches(config.n_images, config.batch_size,
                           torch.Generator().manual_seed(_epoch_seed(c.train_seed, epoch))) for c in configs]
        for i in range(min(per_epoch, total - epoch * per_epoch)):
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate(epoch * per_epoch + i, config.epochs * per_epoch)
            x = torch.stack([x_all[order[i].to(dev)] for order in orders])
            grads, value = step(params, buffers, x)
            for name, leaf in params.items():
                leaf.grad = grads[name]
            optimizer.step()
            losses.append(value.detach())
    out = []
    for n, model in enumerate(models):
        model.load_state_dict({k: v[n] for k, v in {**params, **buffers}.items()})
        out.append(model.eval())
    return out, torch.stack(losses, dim=1).cpu().double().numpy()
