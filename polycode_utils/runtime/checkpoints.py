"""Checkpoint files: written atomically, fingerprinted by their weights, and set aside when they must not be used
(the autoencoders' and the error-correction networks' caches)."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import torch


def save_atomic(obj: object, path: Path) -> None:
    """torch.save through a temporary sibling, fsync and rename: readers see the old file or the new, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def weights_checksum(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict's names, shapes, dtypes and bytes: a flipped bit in a checkpoint changes it."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}/{tuple(t.shape)}/{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def set_aside(path: Path, reason: str) -> None:
    """Move a checkpoint that must not be used next to itself (.unreadable) and say so in one line."""
    aside = path.with_name(path.name + ".unreadable")
    os.replace(path, aside)
    warnings.warn(f"checkpoint {path.parent.name}/{path.name} set aside as {aside.name} ({reason}); training "
                  "it again from scratch", stacklevel=3)
