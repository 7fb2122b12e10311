"""Devices, threads and worker processes: where a computation runs and how many cores it takes (the thread policy
for the small convolutions of the autoencoders, measured in bench/bench_training.py), and worker processes that die
with the process that started them."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from polycode_utils.checks import check_int

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str) -> torch.device:
    """'cpu', 'cuda' or 'auto' (CUDA when available) -> a torch.device; ValueError otherwise."""
    if device not in DEVICES:
        raise ValueError(f"device: must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was requested but torch sees no CUDA device; use 'cpu' or 'auto'")
    return torch.device(device)


def die_with_parent(parent: int, poll_s: float = 0.5) -> None:
    """End this process as soon as the process `parent` that started it is gone (SIGKILL, the OOM killer, a
    hang-up), so that no orphan keeps working under PID 1: a daemon thread watches the parent's pid. A worker
    pool's initializer; the language tool's torchrun ranks call it with their agent's pid."""
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def worker_pool(workers: int):  # -> concurrent.futures.ProcessPoolExecutor
    """Spawned one-task worker processes that die with this process."""
    import multiprocessing  # noqa: PLC0415
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_parent, initargs=(os.getpid(),))


def intra_op_threads(device: str | torch.device) -> int:
    """Intra-op threads for the small convolutions of chapter 4: 1 on a CPU (the cores go to networks trained side by
    side in processes, bench/bench_training.py), torch's current setting on a GPU."""
    dev = torch.device(device) if not isinstance(device, str) else resolve_device(device)
    return 1 if dev.type == "cpu" else torch.get_num_threads()


def cpu_workers(device: str | torch.device, images_seen: int, cores: int | None = None) -> int:
    """Training processes to use: on a CPU, one one-thread process per core (at most 2) when there is real training
    to do (>= 10,000 images seen per network), else 1 (bench/bench_training.py measured the crossover) [ours]."""
    dev = torch.device(device) if not isinstance(device, str) else resolve_device(device)
    cores = (os.cpu_count() or 1) if cores is None else check_int(cores, "cores")
    return min(2, cores) if dev.type == "cpu" and images_seen >= 10_000 else 1


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with n intra-op torch threads, restoring the caller's setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(check_int(n, "n"))
    try:
        yield
    finally:
        torch.set_num_threads(before)
