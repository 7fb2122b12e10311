"""Benchmark: the expected time of the `gpu` profile's chapter 4-5 work on one GPU; not a test.

The `gpu` profile (profiles.toml) sits between `default` and `paper`: networks wide and trained long enough that
chapters 4-6 could settle the paper's claims. This script trains one of its networks for a number of steps with the
chapter's own training loop, and the `default` network as the baseline in the same process, then measures one
network's eigenspectra at the profile's evaluation size, and prints the per-step ratio and the projected times.

Run on a CUDA machine: PYTHONPATH=. python bench/bench_gpu_profile.py [--steps 200]
"""

from __future__ import annotations

import argparse
import time
import tomllib
from pathlib import Path

import numpy as np
import torch

from polycode_utils.networks.data import natural_image_patches
from polycode_utils.networks.evaluation import vae_loss
from polycode_utils.layerwise.eigenspectra import layer_spectra
from polycode_utils.networks.training import AutoencoderConfig

ROOT = Path(__file__).resolve().parents[1]


def profile_values(name: str) -> dict:
    """The autoencoder and measurement groups' values of one profile (the notebooks' defaults, then overrides)."""
    spec = tomllib.loads((ROOT / "profiles.toml").read_text())
    default = dict(dropout_rates=[0.0, 0.4, 0.8], n_seeds=3, width=8, latent_dim=32, epochs=4, n_patches=3000,
                   batch_size=50, lr=0.001, n_eval_images=1000, fit_range=[1, 100])  # chapter 4-5 notebooks
    for group in ("autoencoder", "measurement"):
        default.update(spec["groups"][group].get("profile", {}).get(name, {}))
    return default


def step_seconds(values: dict, images: torch.Tensor, steps: int, device: torch.device, warmup: int = 20) -> float:
    """Seconds per Adam step of the chapter's training loop (dropout 0.4) for this profile's network."""
    config = AutoencoderConfig(dropout=0.4, width=values["width"], latent_dim=values["latent_dim"],
                               batch_size=values["batch_size"], n_images=len(images))
    torch.manual_seed(0)
    model = config.build_model().to(device, memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    x_all = images.to(device)
    gen = torch.Generator().manual_seed(0)
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        idx = torch.randint(0, len(images), (config.batch_size,), generator=gen).to(device)
        x = x_all[idx].contiguous(memory_format=torch.channels_last)
        out = model(x)
        loss, _, _ = vae_loss(out.reconstruction, x, out.mu, out.logvar)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--profile", default="gpu")
    ap.add_argument("--synthetic", action="store_true",
                    help="uniform random images instead of patches (where scikit-image is missing; the time per step "
                         "does not depend on the pixels)")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu, base = profile_values(args.profile), profile_values("default")
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {name}; profile {args.profile!r}: width {gpu['width']}, "
          f"{gpu['n_patches']} patches x {gpu['epochs']} epochs, {len(gpu['dropout_rates'])} rates x "
          f"{gpu['n_seeds']} seeds, {gpu['n_eval_images']} evaluation images")
    t0 = time.perf_counter()
    patches = ((lambda n, seed: np.random.default_rng(seed).random((n, 3, 32, 32), dtype=np.float32))
               if args.synthetic else (lambda n, seed: natural_image_patches(n, seed=seed).images))
    images = torch.from_numpy(patches(gpu["n_patches"], 0))
    t_data = time.perf_counter() - t0
    s_base = step_seconds(base, images[:base["n_patches"]], args.steps, device)
    s_gpu = step_seconds(gpu, images, args.steps, device)
    n_nets = len(gpu["dropout_rates"]) * gpu["n_seeds"]
    steps_per_net = gpu["epochs"] * (gpu["n_patches"] // gpu["batch_size"])
    train_s = n_nets * steps_per_net * s_gpu
    print(f"1. patches: {gpu['n_patches']} made in {t_data:.1f} s")
    print(f"2. seconds per step: default network {s_base * 1e3:.2f} ms, {args.profile} network {s_gpu * 1e3:.2f} ms "
          f"(ratio {s_gpu / s_base:.2f})")
    print(f"   projected training: {n_nets} networks x {steps_per_net} steps = {train_s / 60:.1f} min")
    torch.manual_seed(0)
    model = AutoencoderConfig(width=gpu["width"], latent_dim=gpu["latent_dim"]).build_model().to(device).eval()
    evaluation = patches(gpu["n_eval_images"], 1000)
    t0 = time.perf_counter()
    spectra = layer_spectra(model, evaluation, fit_range=gpu["fit_range"], method="huber")
    t_spec = time.perf_counter() - t0
    print(f"3. eigenspectra of one network, {len(spectra)} depths at {gpu['n_eval_images']} images: {t_spec:.1f} s "
          f"(widest layer {max(s.n_units for s in spectra.values())} units); x {n_nets} trained + "
          f"{gpu['n_seeds']} controls = {t_spec * (n_nets + gpu['n_seeds']) / 60:.1f} min per evaluation set")
    print(f"   alphas (untrained, seed 0): {np.round([s.alpha for s in spectra.values()], 2).tolist()}")


if __name__ == "__main__":
    main()
