"""Benchmark of chapter-4 training (issue 7); not a test. Numbers depend on the machine and on its other load.

1. Data: time to make the default profile's patches (natural_image_patches), once per chapter run.
2. Training throughput (images/s) of the default network (width 8, latent 32, batch 50) on this CPU, split per
   step into data (batch gather + memory layout) and compute (forward, backward, Adam step), for dropout 0 and
   0.2, with one and two torch threads in one process, and with two one-thread processes side by side (what the
   chapter does through train_many).
3. The resulting share of data loading in a whole default-profile training run.

Run: PYTHONPATH=. python bench/bench_training.py [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from polycode_utils.networks.data import natural_image_patches
from polycode_utils.networks.evaluation import vae_loss
from polycode_utils.networks.training import AutoencoderConfig

DEFAULT = dict(width=8, latent_dim=32, batch_size=50, n_images=3000, epochs=4)  # the default profile


def measure(dropout: float, threads: int, steps: int, warmup: int = 3) -> dict:
    """Seconds of data handling and of compute over `steps` training steps of the default network."""
    torch.set_num_threads(threads)
    images = torch.from_numpy(natural_image_patches(DEFAULT["n_images"], seed=0).images)
    config = AutoencoderConfig(dropout=dropout, **DEFAULT)
    torch.manual_seed(0)
    model = config.build_model().to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(0)
    t_data = t_compute = 0.0
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        idx = torch.randint(0, images.shape[0], (config.batch_size,), generator=gen)
        x = images[idx].contiguous(memory_format=torch.channels_last)
        t1 = time.perf_counter()
        out = model(x)
        loss, _, _ = vae_loss(out.reconstruction, x, out.mu, out.logvar)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        if step >= warmup:
            t_data += t1 - t0
            t_compute += t2 - t1
    n = steps * config.batch_size
    return {"images": n, "data_s": t_data, "compute_s": t_compute, "images_per_s": n / (t_data + t_compute)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps")
    args = ap.parse_args()
    steps = 10 if args.quick else 40

    natural_image_patches(16, seed=0)  # warm imports and caches
    t0 = time.perf_counter()
    natural_image_patches(DEFAULT["n_images"], seed=0)
    t_patches = time.perf_counter() - t0
    print(f"1. data: {DEFAULT['n_images']} default patches made in {t_patches:.2f} s (once per chapter run)")

    print(f"2. training throughput, width {DEFAULT['width']}, batch {DEFAULT['batch_size']}, {steps} steps each "
          f"(torch {torch.__version__}, {torch.get_num_threads()} default threads)")
    print(f"   {'dropout':>7} {'setup':<22} {'images/s':>9} {'data share':>11}")
    results = {}
    for dropout in (0.0, 0.2):
        for threads in (1, 2):
            r = measure(dropout, threads, steps)
            results[(dropout, f"1 process, {threads} thr")] = r
            share = r["data_s"] / (r["data_s"] + r["compute_s"])
            print(f"   {dropout:7g} {f'1 process, {threads} thread(s)':<22} {r['images_per_s']:9.0f} {share:11.2%}")
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            pair = list(pool.map(measure, [dropout] * 2, [1] * 2, [steps] * 2))
        total = sum(r["images_per_s"] for r in pair)
        share = sum(r["data_s"] for r in pair) / sum(r["data_s"] + r["compute_s"] for r in pair)
        results[(dropout, "2 processes")] = {"images_per_s": total}
        print(f"   {dropout:7g} {'2 processes x 1 thread':<22} {total:9.0f} {share:11.2%}  (sum of both)")

    # 3. a default-profile chapter: 5 networks (one without dropout), epochs x n_images each, in 2 processes
    per_net = DEFAULT["epochs"] * DEFAULT["n_images"]
    rate_p0 = results[(0.0, "2 processes")]["images_per_s"] / 2
    rate_p = results[(0.2, "2 processes")]["images_per_s"] / 2
    est = (per_net / rate_p0 + 4 * per_net / rate_p) / 2
    print(f"3. default profile: {per_net} images per network; estimated training {est:.0f} s for the five networks "
          f"in 2 processes (ideal packing); making the patches is {t_patches / (t_patches + est):.1%} of that")
    print("   (data handling inside a step is the batch gather above; the images live in memory, no DataLoader)")


if __name__ == "__main__":
    main()
