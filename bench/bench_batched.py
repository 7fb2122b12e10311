"""Benchmark of batched training (issue 21); not a test. Numbers depend on the machine and on its other load.

The step cost of training N networks of chapter 4's default architecture (width 8, 16 px, batch 64, one dropout
rate) as one vmapped model (training.train_batched) against N networks one after the other, in the same process:
through the same vmapped code with one network each, and through the plain loop train_autoencoder runs (forward,
backward, Adam, in its memory layout). On CUDA when there is one, else on the CPU with one thread. Prints
milliseconds per step of all N networks and the ratios.

Run: PYTHONPATH=. python bench/bench_batched.py [--networks 3] [--steps 20] [--dropout 0.4]
"""

from __future__ import annotations

import argparse
import time

import torch

from polycode_utils.networks.data import natural_image_patches
from polycode_utils.networks.evaluation import vae_loss
from polycode_utils.networks.training import AutoencoderConfig, train_batched, training_layout

DEFAULT = dict(width=8, latent_dim=32, batch_size=64, n_images=9600, epochs=40, image_size=16, variational=False,
               placement="branch", schedule="cosine")  # the default profile's networks


def seconds_per_step(configs: list[AutoencoderConfig], data, steps: int, device: str, batched: bool) -> float:
    """Wall seconds per step of all configs: one train_batched call, or one call per network."""
    groups = [configs] if batched else [[c] for c in configs]
    for group in groups:  # warm-up: kernels, allocator
        train_batched(group, data, n_steps=2, device=device)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for group in groups:
        train_batched(group, data, n_steps=steps, device=device)
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def plain_seconds_per_step(configs: list[AutoencoderConfig], data, steps: int, device: str) -> float:
    """Wall seconds per step of all configs through train_autoencoder's loop, one network after the other."""
    x_all = torch.from_numpy(data.images).to(device)
    total = 0.0
    for config in configs:
        layout = training_layout(config.width)
        model = config.initial_model().to(device, memory_format=layout).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        for step in range(2 + steps):
            if step == 2:
                if device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
            x = x_all[torch.randint(0, len(x_all), (config.batch_size,))].contiguous(memory_format=layout)
            out = model(x)
            loss = vae_loss(out.reconstruction, x, out.mu, out.logvar)[0]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        total += time.perf_counter() - start
    return total / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--networks", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--dropout", type=float, default=0.4)
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(1)
    data = natural_image_patches(DEFAULT["n_images"], size=DEFAULT["image_size"], seed=0)
    configs = [AutoencoderConfig(dropout=args.dropout, replicate=r, **DEFAULT) for r in range(args.networks)]
    plain = plain_seconds_per_step(configs, data, args.steps, device)
    alone = seconds_per_step(configs, data, args.steps, device, batched=False)
    together = seconds_per_step(configs, data, args.steps, device, batched=True)
    print(f"{device}, {args.networks} networks, p = {args.dropout:g}, ms per step of all of them: plain loop one at "
          f"a time {1000 * plain:.0f}, vmapped one at a time {1000 * alone:.0f}, vmapped together "
          f"{1000 * together:.0f}; batched / plain {together / plain:.2f}, batched / vmapped one at a time "
          f"{together / alone:.2f}")


if __name__ == "__main__":
    main()
