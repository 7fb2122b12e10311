"""Stimuli for the random-projection experiment: a dot moving once round a circle (Fig. 4a).

Instruments only: no network here. T, canvas size, radius and dot size are not given in the sources; the
defaults (T = 100 frames, 32 x 32 canvas) are ours (book/methods.md, Fig. 4).
"""

from __future__ import annotations

import numpy as np


def dot_centres(n_frames: int = 100, size: int = 32, radius: float = 10.0) -> np.ndarray:
    """Dot centre (row, col) in pixels for frame t at angle 2*pi*t/T round the canvas centre (Fig. 4a)."""
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ValueError(f"n_frames: must be an integer >= 1, got {n_frames!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size: must be an integer >= 1, got {size!r}")
    if not (np.isfinite(radius) and radius >= 0):
        raise ValueError(f"radius: must be a finite number >= 0, got {radius!r}")
    theta = 2 * np.pi * np.arange(n_frames) / n_frames
    c = (size - 1) / 2  # the canvas centre; rows grow downwards, so the dot turns clockwise on screen
    return np.column_stack([c + radius * np.sin(theta), c + radius * np.cos(theta)])


def moving_dot(n_frames: int = 100, size: int = 32, radius: float = 10.0, dot_radius: float = 2.0,
               channels: int = 3, edge: float = 1.0) -> np.ndarray:
    """One loop of an anti-aliased white dot round a circle, (T, C, H, W) float32 in [0, 1] (Fig. 4a)."""
    # Pixel value = clip((dot_radius + edge/2 - distance) / edge, 0, 1): a ramp `edge` pixels wide at the rim,
    # so the image changes continuously as the dot moves by sub-pixel steps. Channels are identical (white dot).
    centres = dot_centres(n_frames, size, radius)
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise ValueError(f"channels: must be an integer >= 1, got {channels!r}")
    if not (np.isfinite(dot_radius) and dot_radius > 0):
        raise ValueError(f"dot_radius: must be a finite number > 0, got {dot_radius!r}")
    if not (np.isfinite(edge) and edge > 0):
        raise ValueError(f"edge: must be a finite number > 0, got {edge!r}")
    if radius + dot_radius + edge / 2 > (size - 1) / 2:
        raise ValueError(f"radius + dot_radius + edge/2 = {radius + dot_radius + edge / 2} must be <= "
                         f"(size - 1)/2 = {(size - 1) / 2} so the dot stays on the canvas")
    grid = np.arange(size, dtype=np.float64)
    dr = grid[None, :, None] - centres[:, 0, None, None]  # (T, H, 1)
    dc = grid[None, None, :] - centres[:, 1, None, None]  # (T, 1, W)
    frames = np.clip((dot_radius + edge / 2 - np.hypot(dr, dc)) / edge, 0.0, 1.0)
    return np.repeat(frames[:, None].astype(np.float32), int(channels), axis=1)
