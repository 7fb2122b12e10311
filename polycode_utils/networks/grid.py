"""The dropout grid of chapter 4's networks as chapters 4-6 use it: the configurations, the networks loaded from the
shipped store or the cache (trained when missing, or refused when training would not fit the budget), and chapter
4's tables of their losses.

The shipped store [ours]: training the `default` grid takes longer than a build may, so it is trained once (``polycode
train --profile default``, which runs ``python -m polycode_utils.networks.grid``) and its networks are committed under
``networks/``: one weights file per network (no optimiser state) and ``manifest.json``, which records for each its
configuration, the data, the commit of the training command's checkout, the command, the machine, the wall time, the
eval-mode loss history and the SHA-256 of the file. ``load_networks`` installs a shipped network into the cache only
when its configuration and data equal the ones asked for and its file matches the checksum.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from polycode_utils.runtime.checkpoints import save_atomic, weights_checksum
from polycode_utils.checks import check_bool, check_choice, check_dropout, check_float_in, check_int, check_sequence
from polycode_utils.networks.data import ImageData
from polycode_utils.networks.evaluation import (bce_floor, evaluate, mean_colour_loss, pca_reconstruction,
                                                recalibrate_batchnorm, reconstruction_losses)
from polycode_utils.networks.models import ResNetAutoencoder
from polycode_utils.networks.training import (BATCHNORM_MODES, CHECKPOINT_FORMAT, N_RECALIBRATE, AutoencoderConfig,
                                              TrainedModel, cache_folder, check_one_grid, checkpoint_problem,
                                              held_out_images, is_cached, load_training_data, train_many)
from polycode_utils.runtime.workers import cpu_workers, intra_op_threads, resolve_device, torch_threads

MANIFEST = "manifest.json"
STORE_FORMAT = 1
# Seconds per training image on one quiet core of this project's 2-core machine, as c0 + c1 * width^2 * size^2
# (fitted to studies/frontier.py's step costs: width 8 at 16 and 32 px, 0.55 and 1.33 ms; it overestimates width
# 12-16 by up to 45 %), eval passes included; a CPU estimate only [ours].
CPU_SECONDS_PER_IMAGE = (2.9e-4, 1.6e-8)
TRAIN_COMMAND = "polycode train"


def rate_label(p: float) -> str:
    """The name of a network of the dropout grid trained at rate p: 'p = 0.2' (a table's row or column label)."""
    return f"p = {p:g}"


def is_rate_label(name: str) -> bool:
    """Whether a label names a network trained at a dropout rate (rate_label), not a control or a baseline."""
    return name.startswith("p = ")


def dropout_grid(dropout_rates: Sequence[float], n_seeds: int = 1, **config: object) -> list[AutoencoderConfig]:
    """n_seeds AutoencoderConfigs per dropout rate (replicates 0..n_seeds-1), rate by rate, the rest shared (the
    paper's grid: 0, 0.2, 0.4, 0.6, 0.8, one network each; several seeds per rate are ours)."""
    rates = check_sequence(dropout_rates, "dropout_rates")
    n_seeds = check_int(n_seeds, "n_seeds", 1)
    return [AutoencoderConfig(dropout=check_dropout(p, "dropout_rates"), replicate=r, **config)
            for p in rates for r in range(n_seeds)]


def describe_networks(config: AutoencoderConfig) -> str:
    """The grid's network in a phrase, for a page's provenance: family, image size, width, latent, placement."""
    kind = "variational autoencoder (BCE + KL)" if config.variational else "plain autoencoder (BCE) [ours]"
    where = ("dropout after every ReLU of the ResNet encoder (the authors' placement)" if config.placement ==
             "every_relu" else "dropout after the ReLU inside each residual branch only [ours]")
    return (f"ResNet-18-family {kind} for {config.image_size}x{config.image_size} images, base width {config.width}, "
            f"latent {config.latent_dim}, {where}, {config.epochs} epochs of {config.n_images:,} images")


@dataclass(eq=False)
class Network:
    """One network of the dropout grid as it is measured: its rate, the model (eval mode), its training record."""

    dropout: float
    model: ResNetAutoencoder        # BatchNorm statistics as `batchnorm` says
    trained: TrainedModel           # the checkpoint's network (BatchNorm as trained) and its loss history
    batchnorm: str
    control: ResNetAutoencoder | None = None  # the same network untrained, with the same BatchNorm treatment

    @property
    def replicate(self) -> int:
        return self.trained.config.replicate


def untrained_network(config: AutoencoderConfig, data: ImageData, *, batchnorm: str = "recalibrated",
                      device: str = "auto") -> ResNetAutoencoder:
    """The control of a trained network: its architecture with the weights its training started from, in eval mode,
    BatchNorm statistics re-estimated the same way ("recalibrated") or as initialised ("as_trained": none learnt)."""
    check_choice(batchnorm, "batchnorm", BATCHNORM_MODES)
    model = config.initial_model().to(resolve_device(device)).eval()
    return recalibrate_batchnorm(model, data.images[:N_RECALIBRATE]).eval() if batchnorm == "recalibrated" else model


def load_networks(configs: Sequence[AutoencoderConfig], *, cache_dir: str | Path, data_root: str | Path | None,
                  device: str = "auto", batchnorm: str = "recalibrated", progress: bool = True,
                  data: ImageData | None = None, controls: bool = False, store: str | Path | None = None,
                  max_train_s: float | None = None, max_epochs: int | None = None) -> list[Network]:
    """The dropout grid's networks in eval mode: from the shipped store (verified, install_shipped) or the checkpoint
    cache, else trained and cached; with controls=True each also carries its untrained control (untrained_network,
    the same BatchNorm treatment). max_train_s: on a CPU, refuse before training when the missing networks would
    take longer than that (training_seconds), naming the command that trains them once. max_epochs: a network not
    converged by chapter 4's rule is trained anew with twice the epochs, while that stays within max_epochs
    (train_until_converged; None: the configurations' epochs, no extension)."""
    # batchnorm="recalibrated": BatchNorm statistics re-estimated on the first N_RECALIBRATE training images with
    # dropout off (recalibrate_batchnorm) [ours]; "as_trained": the checkpoint's running statistics. Training and
    # recalibration run with one thread per process on a CPU (cpu_workers processes side by side).
    check_choice(batchnorm, "batchnorm", BATCHNORM_MODES)
    configs = check_one_grid(configs)
    check_bool(controls, "controls")
    dev = resolve_device(device)
    if data is None:
        data = load_training_data(configs[0], root=data_root)
    elif len(data) != configs[0].n_images:
        raise ValueError(f"data: holds {len(data)} images, the configurations train on {configs[0].n_images}")
    workers = cpu_workers(dev, configs[0].n_images * configs[0].epochs)
    if max_train_s is not None:
        check_float_in(float(max_train_s), "max_train_s", 0.0, float("inf"))
    max_epochs = configs[0].epochs if max_epochs is None else check_int(max_epochs, "max_epochs", configs[0].epochs)

    def train(todo: list[AutoencoderConfig]) -> list[TrainedModel]:
        if store is not None:
            install_shipped(todo, data, store=store, cache_dir=cache_dir)
        missing = [c for c in dict.fromkeys(todo) if not is_cached(c, data, cache_dir)]
        if missing and max_train_s is not None and dev.type == "cpu" and training_seconds(missing,
                                                                                          workers) > max_train_s:
            raise RuntimeError(
                f"max_train_s: training the {len(missing)} network(s) of this configuration that are neither shipped "
                f"nor cached would take about {training_seconds(missing, workers) / 60:.0f} min on this CPU, over "
                f"the budget of {max_train_s:.0f} s; train them once with `{TRAIN_COMMAND}` and the same parameters "
                "(it writes the shipped store), or raise max_train_s")
        return train_many(todo, data, cache_dir=cache_dir, device=device, workers=workers, progress=progress)

    with torch_threads(intra_op_threads(dev)):
        trained = train_until_converged(list(configs), data, train, max_epochs)
        return [Network(t.config.dropout, recalibrate_batchnorm(t.model, data.images[:N_RECALIBRATE]).eval()
                        if batchnorm == "recalibrated" else t.model.eval(), t, batchnorm,
                        untrained_network(t.config, data, batchnorm=batchnorm, device=device) if controls else None)
                for t in trained]


def train_until_converged(configs: Sequence[AutoencoderConfig], data: ImageData,
                          train: Callable[[list[AutoencoderConfig]], list[TrainedModel]], max_epochs: int,
                          max_gain: float | None = None) -> list[TrainedModel]:
    """Chapter 4's networks trained to convergence by its rule [ours]: each configuration is trained (`train`, e.g.
    train_many through the cache); one whose held-out error above the floor still fell by max_gain (MAX_GAIN) or
    more over the last quarter of its epochs (last_quarter_gain, on held_out_images) is trained anew, from scratch,
    with twice the epochs (its schedule stretched with it), as long as that stays within max_epochs. Returns, per
    configuration and in its order, the network of the last length trained (converged, or at the cap)."""
    max_gain = MAX_GAIN if max_gain is None else check_float_in(max_gain, "max_gain", 0.0, 1.0)
    configs = list(configs)
    floor = bce_floor(held_out_images(configs[0], data))
    trained = train(configs)
    while True:
        longer = {i: replace(t.config, epochs=2 * t.config.epochs) for i, t in enumerate(trained)
                  if not last_quarter_gain(t.history.eval_bce, floor) < max_gain
                  and 2 * t.config.epochs <= max_epochs}
        if not longer:
            return trained
        for i, t in zip(longer, train(list(longer.values())), strict=True):
            trained[i] = t


# ---------------------------------------------------------------------------------------------------------------
# The shipped store: networks trained once, committed with a manifest, verified before use


class ShippedError(RuntimeError):
    """A shipped network that must not be used: its file is missing or does not match the manifest."""


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def machine_description() -> dict[str, str | int]:
    """Where a network was trained: the platform, processor, cores, the CPU's vector capability and torch."""
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cores": os.cpu_count() or 1, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch": torch.__version__}


def read_manifest(store: str | Path) -> list[dict]:
    """The entries of a store's manifest.json (none when the store or its manifest does not exist)."""
    path = Path(store) / MANIFEST
    if not path.exists():
        return []
    manifest = json.loads(path.read_text())
    if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
        raise ShippedError(f"{path}: not a manifest of format {STORE_FORMAT}")
    return list(manifest["networks"])


def shipped_entry(config: AutoencoderConfig, data: ImageData, store: str | Path) -> dict | None:
    """The manifest entry of the network of this configuration and data, or None when the store has none."""
    want = json.loads(json.dumps([asdict(config), data.description.key()]))  # as the manifest holds them (lists)
    for entry in read_manifest(store):
        if [entry["config"], entry["data"]] == want:
            return entry
    return None


def load_shipped(entry: dict, store: str | Path, config: AutoencoderConfig, data: ImageData) -> dict:
    """A shipped network's checkpoint, verified: the file's SHA-256 against the manifest's, then the checkpoint's
    own checks (format, weight checksum, configuration, data, shapes); ShippedError naming the file otherwise."""
    path = Path(store) / entry["file"]
    if not path.is_file():
        raise ShippedError(f"shipped network {path} is missing; retrain the store with `{TRAIN_COMMAND}`")
    if file_sha256(path) != entry["sha256"]:
        raise ShippedError(f"shipped network {path} does not match the SHA-256 in its manifest (a damaged or "
                           f"replaced file); restore it from git or retrain the store with `{TRAIN_COMMAND}`")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    problem = checkpoint_problem(ckpt, config, data.description.key())
    if problem is None and ckpt["epoch"] != config.epochs:
        problem = f"it holds {ckpt['epoch']} of {config.epochs} epochs"
    if problem is not None:
        raise ShippedError(f"shipped network {path}: {problem}; retrain the store with `{TRAIN_COMMAND}`")
    return ckpt


def install_shipped(configs: Sequence[AutoencoderConfig], data: ImageData, *, store: str | Path,
                    cache_dir: str | Path) -> int:
    """Copy the shipped networks of these configurations that the cache lacks into it (verified by load_shipped);
    returns how many were installed. The cache then serves them as if trained there."""
    n = 0
    for config in dict.fromkeys(configs):
        entry = shipped_entry(config, data, store)
        if entry is None or is_cached(config, data, cache_dir):
            continue
        ckpt = load_shipped(entry, store, config, data)
        folder = cache_folder(config, data, cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        save_atomic({**ckpt, "shipped": entry["file"]}, folder / "checkpoint.pt")
        n += 1
    return n


def ship(trained: Sequence[TrainedModel], data: ImageData, store: str | Path, *, commit: str, command: str,
         started: str) -> Path:
    """Write trained networks into a store: one weights file each (state dict, history, no optimiser state) and
    the manifest entry that describes it; entries of other configurations already in the manifest are kept, and so
    is the entry of a network the store already holds with the same weights.
    commit: the checkout's when `polycode train` started; networks found complete in the cache were trained earlier,
    so the test that retrains a shipped network's first epoch is what ties the weights to the code."""
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    machine = machine_description()
    entries = {json.dumps([e["config"], e["data"]], sort_keys=True): e for e in read_manifest(store)}
    for t in trained:
        name = cache_folder(t.config, data, ".").name + ".pt"
        state = {k: v.detach().cpu() for k, v in t.model.state_dict().items()}
        before = entries.get(json.dumps([asdict(t.config), data.description.key()], sort_keys=True))
        if before is not None and (store / before["file"]).is_file() and torch.load(
                store / before["file"], map_location="cpu", weights_only=True)["checksum"] == weights_checksum(state):
            continue  # shipped before (taken from the store to resume): its entry names the run that trained it
        save_atomic({"format": CHECKPOINT_FORMAT, "config": asdict(t.config), "data": data.description.key(),
                     "epoch": t.config.epochs, "model": state, "checksum": weights_checksum(state), "optimizer": {},
                     "history": t.history.to_dict(), "seconds": t.seconds, "device": t.device}, store / name)
        entry = {"file": name, "sha256": file_sha256(store / name), "key": t.config.key(), "config": asdict(t.config),
                 "data": data.description.key(), "commit": commit, "command": command, "started": started,
                 "machine": machine, "device": t.device, "seconds": t.seconds,
                 "eval_bce": t.history.eval_bce, "steps_per_epoch": t.history.steps_per_epoch}
        entries[json.dumps([entry["config"], entry["data"]], sort_keys=True)] = entry
    manifest = {"format": STORE_FORMAT, "networks": sorted(entries.values(), key=lambda e: e["file"])}
    tmp = store / f".{MANIFEST}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, store / MANIFEST)
    return store / MANIFEST


@dataclass(frozen=True)
class StoreSummary:
    """Where a grid's shipped networks came from, from their manifest entries (chapter 4's provenance)."""

    n_shipped: int
    shipped_commits: str        # the commits the training runs started from (10 hex digits each), comma-separated
    shipped_command: str        # the training commands, distinct, joined by "' and '"
    shipped_machine: str        # processor, cores, torch
    shipped_minutes: float      # their training wall time, summed
    shipped_text: str           # the same in a sentence


def store_summary(configs: Sequence[AutoencoderConfig], data: ImageData, store: str | Path) -> StoreSummary:
    """The shipped networks among these configurations and what their manifest says of them."""
    entries = [e for e in (shipped_entry(c, data, store) for c in configs) if e is not None]
    if not entries:
        return StoreSummary(0, "", "", "", 0.0, "none of the networks comes from the shipped store")
    m = entries[0]["machine"]
    commits = ", ".join(sorted({e["commit"][:10] for e in entries}))
    command = "' and '".join(sorted({e["command"] for e in entries}))
    machine = f"{m['processor']}, {m['cores']} cores, torch {m['torch']}"
    minutes = sum(e["seconds"] for e in entries) / 60
    return StoreSummary(len(entries), commits, command, machine, minutes,
                        f"{len(entries)} of the {len(configs)} networks come from the shipped store, written by "
                        f"'{command}' at commit {commits}, trained on {machine}: {minutes:.0f} min of training "
                        "summed over the networks")


def training_seconds(configs: Sequence[AutoencoderConfig], workers: int = 1) -> float:
    """About how long these networks take to train on this kind of CPU, `workers` side by side
    (CPU_SECONDS_PER_IMAGE, ours)."""
    c0, c1 = CPU_SECONDS_PER_IMAGE
    per = [c.epochs * c.n_images * (c0 + c1 * c.width ** 2 * c.image_size ** 2) for c in configs]
    return float(sum(per)) / max(1, min(check_int(workers, "workers"), len(per) or 1))


# ---------------------------------------------------------------------------------------------------------------
# The losses of the trained grid, and the convergence rule's gain

MAX_GAIN = 0.02  # a network has converged when its held-out error fell by less than this over its last quarter [ours]


def last_quarter_gain(eval_bce: Sequence[float], floor: float) -> float:
    """The relative fall of the held-out error above the floor over the last quarter of the epochs,
    (E[n - q] - E[n]) / E[n - q] with q = max(1, round(n / 4)); NaN with fewer than 2 epochs (the convergence rule
    of chapter 4 asks for less than MAX_GAIN) [ours]."""
    e = np.asarray(eval_bce, dtype=np.float64) - floor
    if len(e) < 2:
        return float("nan")
    q = max(1, round(len(e) / 4))
    return float((e[-1 - q] - e[-1]) / e[-1 - q])


def final_losses(networks: Sequence[Network], images: np.ndarray, train_images: np.ndarray | None = None
                 ) -> pd.DataFrame:
    """Per-image losses of each network (rows: dropout rate and seed) at the end of training: with dropout, in eval
    mode with BatchNorm as trained and re-estimated, the BCE above the images' floor and its share of the mean-colour
    reconstruction's, KL, pixel MSE, the last quarter's gain (last_quarter_gain of the recorded held-out history,
    meaningful when `images` are those held-out images), training time; then the untrained controls, the mean colour
    and, given train_images, PCA-k with k the latent size, fitted on them (chapter 4)."""
    floor, base = bce_floor(images), mean_colour_loss(images)
    rows = []
    for net in networks:
        h, ev = net.trained.history, evaluate(net.model, images)
        as_trained = evaluate(net.trained.model, images).total
        rows.append({"network": rate_label(net.dropout), "seed": net.replicate,
                     "train loss (dropout on)": h.epoch_loss[-1], "eval loss, BN as trained": as_trained,
                     "eval loss, BN re-estimated": ev.total, "BCE above floor": ev.bce - floor,
                     "vs mean colour": (ev.bce - floor) / (base.bce - floor), "KL": ev.kl, "pixel MSE": ev.mse,
                     "gain, last quarter": last_quarter_gain(h.eval_bce, floor),
                     "training time (s)": net.trained.seconds})
    controls = {net.replicate: net.control for net in networks if net.control is not None}
    for seed, model in sorted(controls.items()):
        ev = evaluate(model, images)
        rows.append({"network": "untrained", "seed": seed, "eval loss, BN re-estimated": ev.total,
                     "BCE above floor": ev.bce - floor, "vs mean colour": (ev.bce - floor) / (base.bce - floor),
                     "KL": ev.kl, "pixel MSE": ev.mse})
    rows.append({"network": "mean colour", "seed": 0, "eval loss, BN re-estimated": base.total,
                 "BCE above floor": base.bce - floor, "vs mean colour": 1.0, "KL": 0.0, "pixel MSE": base.mse})
    if train_images is not None:
        k = networks[0].trained.config.latent_dim
        pca = reconstruction_losses(pca_reconstruction(train_images, images, k), images)
        rows.append({"network": f"PCA-{k}", "seed": 0, "eval loss, BN re-estimated": pca.total,
                     "BCE above floor": pca.bce - floor, "vs mean colour": (pca.bce - floor) / (base.bce - floor),
                     "KL": 0.0, "pixel MSE": pca.mse})
    return pd.DataFrame(rows).set_index(["network", "seed"])


def grid_losses(networks: Sequence[Network], data: ImageData) -> pd.DataFrame:
    """final_losses on the held-out images that training tracked (held_out_images), PCA-k fitted on the training
    images: the table chapter 4 shows and training_verdict judges."""
    return final_losses(networks, held_out_images(networks[0].trained.config, data), data.images)


# ---------------------------------------------------------------------------------------------------------------
# `polycode train`: the grid trained once into the cache, then written into the shipped store

# chapter 4's parameters (profiles.toml, group "autoencoder") -> AutoencoderConfig's fields
GRID_PARAMETERS = {"seed": "seed", "dataset": "dataset", "width": "width", "latent_dim": "latent_dim",
                   "epochs": "epochs", "n_patches": "n_images", "batch_size": "batch_size", "lr": "lr",
                   "image_size": "image_size", "variational": "variational", "placement": "placement",
                   "schedule": "schedule"}


def grid_configs(parameters: dict) -> list[AutoencoderConfig]:
    """The dropout grid that chapter 4's parameters name (dropout_rates, n_seeds and GRID_PARAMETERS)."""
    return dropout_grid(parameters["dropout_rates"], n_seeds=parameters["n_seeds"],
                        **{field: parameters[name] for name, field in GRID_PARAMETERS.items()})


def main(argv: Sequence[str] | None = None) -> int:
    """Train chapter 4's grid for the given parameters (JSON) into the cache and write it into the shipped store;
    networks the store already holds (verified) are not trained again, so a store written in part resumes."""
    ap = argparse.ArgumentParser(prog="python -m polycode_utils.networks.grid", description=main.__doc__)
    ap.add_argument("--parameters", required=True, help="the autoencoder group's resolved parameters, as JSON")
    ap.add_argument("--store", required=True, help="the shipped store's folder (networks/)")
    ap.add_argument("--cache-dir", required=True, help="the checkpoint cache: training resumes there")
    ap.add_argument("--data-root", default=None, help="the folder holding cifar-10-batches-py (dataset cifar10)")
    ap.add_argument("--commit", default="unknown", help="the code's commit, recorded in the manifest")
    ap.add_argument("--command", default=TRAIN_COMMAND, help="the command recorded in the manifest")
    args = ap.parse_args(argv)
    parameters = json.loads(args.parameters)
    configs = grid_configs(parameters)
    device = resolve_device(parameters.get("device", "auto"))
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    commit = args.commit
    data = load_training_data(configs[0], root=args.data_root)
    workers = cpu_workers(device, configs[0].n_images * configs[0].epochs)
    shipped: list[TrainedModel] = []

    def train(todo: list[AutoencoderConfig]) -> list[TrainedModel]:
        installed = install_shipped(todo, data, store=args.store, cache_dir=args.cache_dir)  # resume from the store
        if installed:
            print(f"{installed} of the {len(todo)} networks taken from {args.store} (verified)", file=sys.stderr)
        print(f"training {len(todo)} networks (about {training_seconds(todo, 2) / 60:.0f} min on a 2-core CPU, less "
              f"what is shipped or cached) into {args.cache_dir}; interrupted, it resumes from the checkpoints",
              file=sys.stderr, flush=True)
        done = train_many(todo, data, cache_dir=args.cache_dir, device=str(device.type), workers=workers)
        shipped.extend(done)  # every length trained is shipped: the chapters read the rule off the shorter ones
        return done

    with torch_threads(intra_op_threads(device)):
        train_until_converged(configs, data, train, parameters.get("max_epochs", configs[0].epochs))
    path = ship(shipped, data, args.store, commit=commit, command=args.command, started=started)
    print(f"{len(shipped)} networks written to {path.parent} ({path.name}: commit {commit})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
