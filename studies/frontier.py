"""The learnability frontier of chapter 4's autoencoders: which (configuration, dropout rate) pairs learn on a CPU.

Short runs over the choices that matter (base width, image size, latent size, the KL term, the recipe) at the
paper's dropout rates; per run, the held-out reconstruction error above the BCE floor as a share of the mean-colour
patch's and against PCA-k with k the latent size (the best linear code of the same size), the relative improvement
over the last quarter of the run, and the cost. Resumable: rows already in the table are not trained again.

    python studies/frontier.py                # writes studies/frontier.csv (for chapter 4; not on its page yet)
    python studies/frontier.py --workers 2 --only A B
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from polycode_utils.networks.data import evaluation_images, load_images
from polycode_utils.networks.evaluation import (evaluate, excess_share, pca_reconstruction, recalibrate_batchnorm,
                                       reconstruction_losses)
from polycode_utils.networks.training import N_EVAL, N_RECALIBRATE, AutoencoderConfig, train_autoencoder
from polycode_utils.runtime.workers import worker_pool

HERE = Path(__file__).resolve().parent
TABLE = HERE / "frontier.csv"
N_IMAGES = 4800
IMAGES_SEEN = 38_400  # per run: 600 steps of 64 images
# name: (width, image size, latent, variational, lr, schedule, warm-up share, batch, rates[, placement, images seen])
CONFIGS = {
    "A": (8, 32, 32, True, 1e-3, "constant", 0.0, 50, (0.0, 0.4, 0.8)),     # today's recipe
    "B": (8, 32, 32, False, 3e-3, "cosine", 0.05, 64, (0.0, 0.4, 0.8)),     # no KL term
    "C": (16, 16, 32, False, 3e-3, "cosine", 0.05, 64, (0.0, 0.4, 0.6, 0.8)),
    "D": (16, 16, 32, True, 3e-3, "cosine", 0.05, 64, (0.0, 0.4, 0.8)),      # the KL term at 16 px
    "E": (8, 16, 32, False, 3e-3, "cosine", 0.05, 64, (0.0, 0.4, 0.6, 0.8)),
    "F": (8, 16, 16, False, 3e-3, "cosine", 0.05, 64, (0.0, 0.4, 0.8)),      # a smaller latent
    "G": (12, 16, 32, False, 3e-3, "cosine", 0.05, 64, (0.0, 0.4, 0.6, 0.8)),
    # A-G learn nothing at p >= 0.4 (worse than the mean colour, and no longer improving). The identity path of every
    # residual block carries a mask in the authors' placement; inside the branches only, it does not [ours]:
    "H": (8, 16, 32, False, 1e-3, "constant", 0.0, 64, (0.0, 0.4, 0.6, 0.8), "every_relu", 96_000),
    "I": (8, 16, 32, False, 1e-3, "constant", 0.0, 64, (0.0, 0.4, 0.6, 0.8), "branch", 96_000),
    "J": (8, 16, 32, True, 1e-3, "constant", 0.0, 64, (0.4, 0.8), "branch", 96_000),  # ... with the KL term
}


def config_of(name: str, p: float) -> AutoencoderConfig:
    """The AutoencoderConfig of study row (name, dropout rate p)."""
    w, s, z, var, lr, sched, warm, batch, _, *rest = CONFIGS[name]
    placement, seen = rest if rest else ("every_relu", IMAGES_SEEN)
    epochs = max(1, round(seen / N_IMAGES))
    return AutoencoderConfig(dropout=p, width=w, latent_dim=z, variational=var, epochs=epochs, batch_size=batch, lr=lr,
                             seed=0, n_images=N_IMAGES, image_size=s, schedule=sched, warmup=warm, placement=placement)


def run_one(name: str, p: float) -> dict:
    """Train one study network on one thread and measure it on held-out patches."""
    torch.set_num_threads(1)
    config = config_of(name, p)
    data = load_images("patches", config.n_images, seed=0, size=config.image_size)
    t0 = time.perf_counter()
    trained = train_autoencoder(config, data, device="cpu", progress=False)
    seconds = time.perf_counter() - t0
    held = evaluation_images("patches", N_EVAL, seed=0, size=config.image_size).images
    model = recalibrate_batchnorm(trained.model, data.images[:N_RECALIBRATE])
    ev = evaluate(model, held)
    pca = reconstruction_losses(pca_reconstruction(data.images, held, config.latent_dim), held)
    curve = np.asarray(trained.history.eval_bce)
    q = max(1, len(curve) // 4)
    floor_share = [excess_share(b, held) for b in curve]
    improvement = (floor_share[-q - 1] - floor_share[-1]) / floor_share[-q - 1] if len(curve) > q else float("nan")
    n_steps = trained.history.steps_per_epoch * config.epochs
    return {"config": name, "placement": config.placement,
            "width": config.width, "image_size": config.image_size, "latent": config.latent_dim,
            "loss": "BCE + KL" if config.variational else "BCE", "lr": config.lr, "schedule": config.schedule,
            "batch": config.batch_size, "dropout": p, "steps": n_steps, "vs_mean_colour": excess_share(ev.bce, held),
            "pca_vs_mean_colour": excess_share(pca.bce, held), "kl": ev.kl,
            "last_quarter_improvement": improvement, "seconds": seconds, "ms_per_step": 1e3 * seconds / n_steps,
            "curve": ";".join(f"{v:.4f}" for v in floor_share)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGS), default=sorted(CONFIGS))
    args = parser.parse_args(argv)
    done = pd.read_csv(TABLE) if TABLE.exists() else pd.DataFrame(columns=["config", "dropout"])
    if "placement" not in done:
        done.insert(1, "placement", "every_relu")  # rows written before the placement was a choice
    have = set(zip(done["config"], done["dropout"].astype(float)))
    todo = [(n, p) for n in args.only for p in CONFIGS[n][8] if (n, float(p)) not in have]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout
    print(f"{len(todo)} runs to train ({len(have)} in {TABLE.name}); {args.workers} one-thread workers", flush=True)
    rows = done.to_dict("records")
    pool = worker_pool(args.workers)
    try:
        futures = {pool.submit(run_one, n, p): (n, p) for n, p in todo}
        from concurrent.futures import as_completed  # noqa: PLC0415

        for fut in as_completed(futures):
            row = {**fut.result(), "commit": commit.strip(), "machine": platform.processor() or platform.machine()}
            rows.append(row)
            table = pd.DataFrame(rows).sort_values(["config", "dropout"])
            tmp = TABLE.with_suffix(".csv.tmp")
            table.to_csv(tmp, index=False, float_format="%.4g")
            os.replace(tmp, TABLE)
            print(f"{row['config']} p={row['dropout']:g}: {row['vs_mean_colour']:.3f} of the mean colour "
                  f"(PCA-{row['latent']} {row['pca_vs_mean_colour']:.3f}), {row['seconds']:.0f} s", flush=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
