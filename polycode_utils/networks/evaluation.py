"""How an autoencoder's reconstruction is measured and what it is held against: the authors' loss (BCE + KL), its
floor, eval-mode losses and reconstructions, BatchNorm statistics re-estimated for eval mode [ours], and the
baselines (the mean colour, PCA with the latent's size) that a network must beat to count as having learnt."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from polycode_utils.checks import check_int
from polycode_utils.networks.models import ResNetAutoencoder


@dataclass(frozen=True)
class Losses:
    """Per-image loss of a set of images: total = bce + kl (nats), and the per-pixel squared error."""

    total: float
    bce: float
    kl: float
    mse: float


def vae_loss(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor,
             logvar: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The authors' loss per image: BCE summed over pixels + KL to N(0, I) summed over latents; (total, bce, kl)."""
    n = x.shape[0]
    bce = F.binary_cross_entropy(recon, x, reduction="sum") / n
    if logvar is None:
        kl = torch.zeros((), device=x.device, dtype=bce.dtype)
    else:
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
    return bce + kl, bce, kl


def bce_floor(images: np.ndarray | torch.Tensor) -> float:
    """The smallest BCE any reconstruction can reach, per image: the binary entropy of the pixel values (nats)."""
    x = torch.as_tensor(images, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    return float(-(x * x.log() + (1 - x) * (1 - x).log()).sum() / x.shape[0])


@torch.no_grad()
def evaluate(model: ResNetAutoencoder, images: np.ndarray | torch.Tensor, batch_size: int = 256,
             device: str | torch.device | None = None) -> Losses:
    """Eval-mode losses (no dropout, z = mu) of a network on images, per image; the model's mode is restored."""
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    x_all = torch.as_tensor(images)
    was_training = model.training
    model.eval()
    bce_sum = kl_sum = se = 0.0
    try:
        for start in range(0, x_all.shape[0], batch_size):
            x = x_all[start:start + batch_size].to(dev).contiguous(memory_format=torch.channels_last)
            out = model(x)
            _, bce, kl = vae_loss(out.reconstruction, x, out.mu, out.logvar)
            bce_sum += float(bce) * x.shape[0]
            kl_sum += float(kl) * x.shape[0]
            se += float(F.mse_loss(out.reconstruction, x, reduction="sum"))
    finally:
        model.train(was_training)
    n = x_all.shape[0]
    tot = (bce_sum + kl_sum) / n
    return Losses(tot, bce_sum / n, kl_sum / n, se / x_all[0].numel() / n)


@torch.no_grad()
def recalibrate_batchnorm(model: ResNetAutoencoder, images: np.ndarray | torch.Tensor,
                          batch_size: int = 256) -> ResNetAutoencoder:
    """A copy whose BatchNorm statistics are re-estimated with dropout off and z = mu, the way eval mode runs [ours].

    During training every BatchNorm behind a dropout layer sees dropped-out activations, whose variance differs from
    that of the full activations it receives in eval mode (the dropout/BatchNorm "variance shift"); at high dropout
    rates the eval-mode network then reconstructs far worse than in training. Re-estimating the running statistics
    on training images (exact averages over the batches, no weights change) removes the mismatch.
    """
    m = copy.deepcopy(model)
    m.eval()
    norms = [mod for mod in m.modules() if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over all batches
        bn.train()
    dev = next(m.parameters()).device
    x_all = torch.as_tensor(images)
    for start in range(0, x_all.shape[0], batch_size):
        x = x_all[start:start + batch_size].to(dev).contiguous(memory_format=torch.channels_last)
        if x.shape[0] < 2:
            continue
        mu, _ = m.encode(x)
        m.decode(mu)
    for bn, momentum in zip(norms, momenta):
        bn.momentum = momentum
    return m.eval()


@torch.no_grad()
def reconstruct(model: ResNetAutoencoder, images: np.ndarray | torch.Tensor) -> np.ndarray:
    """Eval-mode reconstructions (N, 3, s, s) in (0, 1) of images, as float32 numpy; the model's mode is restored."""
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = model(torch.as_tensor(images).to(dev).contiguous(memory_format=torch.channels_last))
    finally:
        model.train(was_training)
    return out.reconstruction.float().cpu().contiguous().numpy()


def reconstruction_losses(recon: np.ndarray | torch.Tensor, images: np.ndarray | torch.Tensor) -> Losses:
    """Per-image BCE (KL 0) and pixel MSE of given reconstructions of images (both (N, C, H, W) in [0, 1])."""
    x = torch.as_tensor(images, dtype=torch.float64)
    r = torch.as_tensor(recon, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    if x.ndim != 4 or x.shape[0] == 0 or r.shape != x.shape:
        raise ValueError(f"recon, images: expected two batches (N, C, H, W) of one shape, got {tuple(r.shape)} and "
                         f"{tuple(x.shape)}")
    bce = float(F.binary_cross_entropy(r, x, reduction="sum")) / x.shape[0]
    return Losses(bce, bce, 0.0, float(((r - x) ** 2).mean()))


def mean_colour_loss(images: np.ndarray | torch.Tensor) -> Losses:
    """The loss of the trivial reconstruction, each image as a uniform patch of its mean colour (KL 0): the bar a
    network that learnt anything about its images must clear (the control of chapter 4) [ours]."""
    x = torch.as_tensor(images, dtype=torch.float64)
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"images: expected a batch (N, C, H, W) with N >= 1, got shape {tuple(x.shape)}")
    return reconstruction_losses(x.mean(dim=(2, 3), keepdim=True).expand_as(x), x)


def pca_reconstruction(train_images: np.ndarray, images: np.ndarray, k: int) -> np.ndarray:
    """The best linear code of k dimensions: PCA-k fitted on train_images, images projected and reconstructed, clipped
    to [0, 1] (the linear baseline a network's reconstruction is held against) [ours]."""
    from sklearn.decomposition import PCA  # noqa: PLC0415

    train = np.asarray(train_images, dtype=np.float64).reshape(len(train_images), -1)
    k = check_int(k, "k", 1, min(train.shape))
    x = np.asarray(images, dtype=np.float64)
    pca = PCA(n_components=k, svd_solver="full").fit(train)
    recon = pca.inverse_transform(pca.transform(x.reshape(len(x), -1)))
    return np.clip(recon, 0.0, 1.0).reshape(x.shape)


def excess_share(bce: float, images: np.ndarray | torch.Tensor) -> float:
    """BCE above the images' floor as a share of the mean-colour patch's: 0 perfect, 1 as the mean colour."""
    floor = bce_floor(images)
    return (bce - floor) / (mean_colour_loss(images).bce - floor)
