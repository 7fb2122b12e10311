"""Images for the chapter-4 autoencoder: offline natural-image patches (our default) or CIFAR-10 (the paper's).

The paper trains on CIFAR-10 [paper]. Offline, the book's default [ours] is random 32x32 crops of the colour
photographs shipped inside scikit-learn and scikit-image (no download), rescaled and mirrored for variety.
Every loader returns ``ImageData``: float32 images (N, 3, s, s) in [0, 1] and a ``DataDescription`` that the
provenance box prints and the checkpoint cache hashes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from polycode_utils.checks import check_choice, check_int

# Colour photographs of everyday scenes that load without a network: (package, name) -> loader.
PHOTOGRAPHS: tuple[tuple[str, str], ...] = (
    ("scikit-learn", "china"), ("scikit-learn", "flower"),
    ("scikit-image", "astronaut"), ("scikit-image", "chelsea"), ("scikit-image", "coffee"),
    ("scikit-image", "rocket"), ("scikit-image", "motorcycle_left"), ("scikit-image", "motorcycle_right"),
)
# Colour images that also ship offline but are scientific, mostly uniform background: opt-in only.
EXTRA_IMAGES: tuple[tuple[str, str], ...] = (
    ("scikit-image", "hubble_deep_field"), ("scikit-image", "retina"), ("scikit-image", "immunohistochemistry"),
)
DEFAULT_SCALES = (1.0, 2 ** 0.5, 2.0, 2 ** 1.5, 4.0)  # downscaling factors: a patch covers 32..128 px of a photo
DATASETS = ("patches", "cifar10")
CIFAR10_N_TRAIN, CIFAR10_N_TEST = 50_000, 10_000


@dataclass(frozen=True)
class DataDescription:
    """Where the images came from, for the provenance box and the checkpoint cache key."""

    dataset: str                      # "patches" or "cifar10"
    n: int                            # number of images
    size: int                         # images are size x size RGB
    seed: int | None                  # seed of the crops (None for CIFAR-10)
    sources: tuple[str, ...]          # the photographs (or the CIFAR-10 split)
    details: str                      # how the images were made, in words
    digest: str                       # sha256 of the image array: the data themselves, not only their recipe

    def summary(self) -> str:
        """One sentence for the provenance box."""
        return self.details

    def key(self) -> dict:
        """The fields that identify the data (for the cache key; the prose ``details`` is left out)."""
        return {k: v for k, v in asdict(self).items() if k != "details"}


@dataclass(frozen=True, eq=False)
class ImageData:
    """Images (N, 3, size, size), float32 in [0, 1], with their description."""

    images: np.ndarray
    description: DataDescription

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _digest(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()


def load_photograph(package: str, name: str) -> np.ndarray:
    """One shipped photograph as uint8 (H, W, 3); raises ValueError for names that are not offline colour photos."""
    if package == "scikit-learn" and name in ("china", "flower"):
        from sklearn.datasets import load_sample_image  # noqa: PLC0415

        return np.asarray(load_sample_image(f"{name}.jpg"))
    if package == "scikit-image":
        import skimage.data  # noqa: PLC0415

        if name in ("motorcycle_left", "motorcycle_right"):
            left, right, _ = skimage.data.stereo_motorcycle()
            return np.asarray(left if name == "motorcycle_left" else right)
        if (package, name) in PHOTOGRAPHS + EXTRA_IMAGES:
            return np.asarray(getattr(skimage.data, name)())[..., :3]
    allowed = ", ".join(f"{p}:{n}" for p, n in PHOTOGRAPHS + EXTRA_IMAGES)
    raise ValueError(f"images: unknown photograph {package}:{name}; allowed: {allowed}")


def _downscale(image: np.ndarray, factor: float) -> np.ndarray:
    """Image (H, W, 3) uint8 -> float32 in [0, 1], shrunk by factor with anti-aliasing."""
    from skimage.transform import resize  # noqa: PLC0415

    img = image.astype(np.float32) / 255.0
    if factor == 1.0:
        return img
    shape = (max(1, round(img.shape[0] / factor)), max(1, round(img.shape[1] / factor)), 3)
    return resize(img, shape, order=1, anti_aliasing=True, preserve_range=True).astype(np.float32)


def natural_image_patches(n: int, size: int = 32, seed: int = 0,
                          images: Sequence[tuple[str, str]] = PHOTOGRAPHS,
                          scales: Sequence[float] = DEFAULT_SCALES, flips: bool = True) -> ImageData:
    """n random size x size RGB crops of photographs shipped with scikit-learn/-image: the offline default [ours].

    Each patch: a photograph drawn with probability proportional to its area, a downscaling factor drawn
    uniformly from ``scales`` (the photo is shrunk, anti-aliased, so a patch covers size*factor pixels of it),
    a uniform position, and a horizontal mirror with probability 1/2 (``flips``). Nothing is downloaded.
    """
    n = check_int(n, "n", 1)
    size = check_int(size, "size", 4)
    seed = check_int(seed, "seed", 0)
    images = tuple(tuple(i) for i in images)
    if not images:
        raise ValueError("images: needs at least one (package, name) pair")
    scales = tuple(float(s) for s in scales)
    if not scales or any(not math.isfinite(s) or s < 1.0 for s in scales):
        raise ValueError(f"scales: must be downscaling factors >= 1, got {scales!r}")
    photos = [load_photograph(p, name) for p, name in images]
    pyramids = [[_downscale(photo, f) for f in scales] for photo in photos]
    for (p, name), pyr in zip(images, pyramids):
        if min(pyr[-1].shape[:2]) < size:
            raise ValueError(f"scales: {p}:{name} is smaller than {size} px at downscaling {scales[-1]:g}")
    rng = np.random.default_rng(seed)
    areas = np.array([photo.shape[0] * photo.shape[1] for photo in photos], dtype=float)
    which = rng.choice(len(photos), size=n, p=areas / areas.sum())
    level = rng.integers(0, len(scales), size=n)
    u = rng.random((n, 2))
    mirror = rng.random(n) < 0.5 if flips else np.zeros(n, dtype=bool)
    out = np.empty((n, 3, size, size), dtype=np.float32)
    for k in range(n):
        img = pyramids[which[k]][level[k]]
        top = int(u[k, 0] * (img.shape[0] - size + 1))
        left = int(u[k, 1] * (img.shape[1] - size + 1))
        crop = img[top:top + size, left:left + size]
        out[k] = (crop[:, ::-1] if mirror[k] else crop).transpose(2, 0, 1)
    tiles = sum((photo.shape[0] // size) * (photo.shape[1] // size) for photo in photos)
    names = tuple(f"{p}:{name}" for p, name in images)
    counts = np.bincount(which, minlength=len(photos))
    per_image = ", ".join(f"{name} ({c})" for (_, name), c in zip(images, counts))
    details = (f"{n} random {size}x{size} RGB crops of {len(photos)} photographs shipped with scikit-learn and "
               f"scikit-image ({per_image} patches), each photo downscaled by a factor drawn from "
               f"{{{', '.join(f'{s:.3g}' for s in scales)}}}" + (", mirrored with probability 1/2" if flips else "")
               + f"; the photographs hold {tiles} non-overlapping {size}x{size} tiles at full resolution; seed {seed}")
    desc = DataDescription("patches", n, size, seed, names, details, _digest(out))
    return ImageData(out, desc)


def cifar10(root: str | Path | None, train: bool = True, n: int | None = None) -> ImageData:
    """CIFAR-10 images (the paper's data) through torchvision, never downloaded; the first n if given."""
    if root is None:
        raise ValueError("root: CIFAR-10 needs the folder that holds cifar-10-batches-py (nothing is downloaded)")
    root = Path(root)
    split = "train" if train else "test"
    limit = CIFAR10_N_TRAIN if train else CIFAR10_N_TEST
    if n is not None:
        n = check_int(n, "n", 1, limit)
    from torchvision.datasets import CIFAR10  # noqa: PLC0415

    try:
        ds = CIFAR10(root=str(root), train=train, download=False)
    except RuntimeError as exc:
        folder = root.resolve() / "cifar-10-batches-py"
        if folder.is_dir():  # torchvision checks every file's MD5: present but not the published files
            raise ValueError(f"CIFAR-10 ({split} split) under {folder} is corrupt or incomplete: its files do not "
                             "match the published checksums (data_batch_1..5, test_batch); extract "
                             "cifar-10-python.tar.gz there again") from exc
        raise FileNotFoundError(
            f"CIFAR-10 ({split} split) not found under {root.resolve()}: put the extracted python version there, "
            f"i.e. {folder}/ with data_batch_1..5 and test_batch (from "
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz). Nothing is downloaded automatically. "
            "dataset='patches' does not need it: it trains on the photographs shipped with scikit-learn and "
            "scikit-image."
        ) from exc
    raw = ds.data if n is None else ds.data[:n]
    images = (raw.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    details = (f"{images.shape[0]} CIFAR-10 {split} images (32x32 RGB, the paper's data; the paper upsamples "
               f"them to 224x224, we keep 32x32), read from {root}")
    desc = DataDescription("cifar10", int(images.shape[0]), 32, None, (f"CIFAR-10 {split}",), details,
                           _digest(raw))
    return ImageData(images, desc)


def load_images(dataset: str, n: int, seed: int = 0, size: int = 32, root: str | Path | None = None) -> ImageData:
    """Training images by name: 'patches' (natural_image_patches) or 'cifar10' (the first n, from root)."""
    check_choice(dataset, "dataset", DATASETS)
    if dataset == "cifar10":
        if size != 32:
            raise ValueError(f"size: CIFAR-10 images are 32x32, got size={size}")
        return cifar10(root, train=True, n=n)
    return natural_image_patches(n, size=size, seed=seed)


EVAL_SEED_OFFSET = 1000   # evaluation patches: crops drawn with seed + 1000, not the training crops [ours]


def evaluation_images(dataset: str, n: int, seed: int = 0, size: int = 32, root: str | Path | None = None
                      ) -> ImageData:
    """Images held out from training for Fig. 3: fresh patch crops (seed + 1000) or the CIFAR-10 test split [ours]."""
    # The patches are new random crops of the same shipped photographs (the training crops use `seed`), so they are
    # unseen images, not unseen scenes; CIFAR-10's test split shares no image with its training split.
    check_choice(dataset, "dataset", DATASETS)
    n = check_int(n, "n", 2)
    if dataset == "cifar10":
        return cifar10(root, train=False, n=n)
    return natural_image_patches(n, size=size, seed=check_int(seed, "seed", 0) + EVAL_SEED_OFFSET)
