"""Random low-dimensional projections of a layer's activity and the action of the trajectories (Fig. 4).

Instruments only: these functions know no network. Conventions (book/methods.md): R in R^{m x k} has entries
N(0, 1/m) and z_t = R^T a_t [paper]; the action of z_1..z_T is A = 1/2 sum_t ||z_{t+1} - z_t||^2 [paper note].
"""

from __future__ import annotations

import math

import numpy as np
import torch

from polycode_utils.checks import check_int

ArrayLike = np.ndarray | torch.Tensor


def _projection_columns(m: int, n_projections: int, k: int, seed: int) -> torch.Tensor:
    """All projections side by side (m x n_projections*k), entries N(0, 1/m), float32, seeded on the CPU."""
    gen = torch.Generator().manual_seed(int(seed))
    # divided in place: one m x (n_projections * k) matrix, not two, at the peak
    return torch.randn(m, n_projections * k, generator=gen, dtype=torch.float32).div_(math.sqrt(m))


def _check_k(k: int, m: int) -> int:
    """k, refused unless 1 <= k <= m: a k-D projection of m < k units adds nothing."""
    k = check_int(k, "k")
    if k > m:
        raise ValueError(f"k: a projection of {m} units onto k = {k} > {m} dimensions adds nothing; need k <= m")
    return k


def projection_matrices(m: int, n_projections: int = 1000, k: int = 3, seed: int = 0) -> torch.Tensor:
    """Random projections R_p (n_projections x m x k), entries N(0, 1/m), float32 (Fig. 4; paper)."""
    m, n_projections = check_int(m, "m"), check_int(n_projections, "n_projections")
    k = _check_k(k, m)
    return _projection_columns(m, n_projections, k, seed).view(m, n_projections, k).permute(1, 0, 2)


def random_projections(activations: ArrayLike, n_projections: int = 1000, k: int = 3,
                       seed: int = 0) -> ArrayLike:
    """Trajectories z_t = R_p^T a_t (n_projections x T x k) of T frames/tokens, one batched matmul (Fig. 4b)."""
    # activations: T x m, or T x ... flattened per frame. Returns the input's array type (torch on its device).
    is_torch = torch.is_tensor(activations)
    a = activations.detach() if is_torch else torch.as_tensor(np.asarray(activations))
    if a.ndim < 2 or a.shape[0] < 1 or a[0].numel() < 1:
        raise ValueError(f"activations: expected shape (T, m) or (T, ...) with T, m >= 1, got {tuple(a.shape)}")
    n_projections = check_int(n_projections, "n_projections")
    check_int(seed, "seed", 0)
    if a.is_complex():
        raise ValueError("activations: complex values are not supported")
    a = a.reshape(a.shape[0], -1)
    k = _check_k(k, a.shape[1])
    if not a.is_floating_point():
        a = a.to(torch.float32)
    if not bool(torch.isfinite(a).all()):
        raise ValueError("activations: contains NaN or inf; all entries must be finite")
    T, m = a.shape
    r = _projection_columns(m, n_projections, k, seed)  # the same R_p as projection_matrices(m, n, k, seed)
    z = a @ r.to(device=a.device, dtype=a.dtype)  # (T, n_projections * k): every projection in one matmul
    z = z.view(T, n_projections, k).permute(1, 0, 2).contiguous()
    return z if is_torch else z.numpy()


def action(trajectories: ArrayLike, closed: bool = False) -> ArrayLike:
    """Action 1/2 sum_t ||z_{t+1} - z_t||^2 of trajectories (..., T, k), batched over leading axes (Fig. 4c/d)."""
    # closed=False (default): the T - 1 steps between the given points. closed=True adds the step z_T -> z_1, for
    # a loop such as the moving dot's T frames (frame T would be frame 0 again).
    is_torch = torch.is_tensor(trajectories)
    z = trajectories.detach() if is_torch else torch.as_tensor(np.asarray(trajectories))
    if z.ndim < 2 or z.shape[-2] < 2:
        raise ValueError(f"trajectories: expected shape (..., T, k) with T >= 2, got {tuple(z.shape)}")
    if z.is_complex():
        raise ValueError("trajectories: complex values are not supported")
    if not z.is_floating_point() or z.dtype in (torch.float16, torch.bfloat16):  # half precision overflows
        z = z.to(torch.float64)
    if not bool(torch.isfinite(z).all()):
        raise ValueError("trajectories: contains NaN or inf; all entries must be finite")
    if closed:
        z = torch.cat([z, z[..., :1, :]], dim=-2)
    out = 0.5 * z.diff(dim=-2).square().sum(dim=(-2, -1))
    return out if is_torch else out.numpy()
