"""Benchmark of the batched toy-model sweep (issue 4); not a test. Every ratio is measured within this one process.

Training all sparsities as ONE batched model (a leading instance axis) vs a Python loop that trains the same
instances one at a time with the same function: same sizes, same steps, same batch, so the same total work.
Reported for the chapter's settings and for smaller models, with shared ("common") and independent inputs
(the batched sweep draws one batch of uniforms for all instances by default; the loop draws one per instance).
Target: batched >= 5x faster.

Second, the step's arithmetic rate as a share of this machine's fp32 GEMM rate, both measured here (issue 23's
target: >= 0.6): a step of chapter 1's model and of chapter 8's dropout toys does five products of B x n x m
multiply-adds per instance (two forward, three backward), 10 B n m flops; a lone bmm of the step's own shapes is
printed beside it, the ceiling of any step built from such products.

Run: PYTHONPATH=. python bench/bench_toy_models.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from polycode_utils.networks.dropout_toys import toy_grid, train_dropout_toys
from polycode_utils.theory.toy_models import elhage_sparsities, train_toy_models


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Fastest wall time of fn() over repeats."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench(label: str, n: int, m: int, n_sparsities: int, batch: int, steps: int, repeats: int) -> None:
    sparsities = elhage_sparsities(n_sparsities)
    common = dict(n_features=n, n_hidden=m, steps=steps, batch_size=batch, seed=0, progress=False)
    train_toy_models(sparsities=sparsities, **{**common, "steps": 5})  # warm-up

    def batched(shared: bool) -> Callable[[], object]:
        return lambda: train_toy_models(sparsities=sparsities, common_inputs=shared, **common)

    def loop() -> list:
        return [train_toy_models(sparsities=[s], **common) for s in sparsities]

    t_shared, t_indep, t_loop = (best_time(batched(True), repeats), best_time(batched(False), repeats),
                                 best_time(loop, repeats))
    per_step = 1e3 / steps
    print(f"{label:<34} n={n:<4} m={m:<3} I={n_sparsities:<3} B={batch:<5} steps={steps:<5} | "
          f"batched {t_shared * per_step:7.2f} ms/step (indep. inputs {t_indep * per_step:7.2f}) | "
          f"loop {t_loop * per_step:7.2f} ms/step | ratio {t_loop / t_shared:5.1f}x "
          f"(indep. inputs {t_loop / t_indep:5.1f}x)", flush=True)


def gemm_rate(size: int = 1024, repeats: int = 3) -> float:
    """fp32 flop/s of a square matrix product on this machine, in this process."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    c = torch.empty(size, size)
    torch.mm(a, b, out=c)
    return 10 * 2 * size ** 3 / best_time(lambda: [torch.mm(a, b, out=c) for _ in range(10)], repeats)


def bmm_share(n_inst: int, batch: int, n: int, m: int, gemm: float) -> float:
    """A lone batched product (instances, batch, n) x (n, m), as a share of the GEMM rate."""
    x, w, h = torch.rand(n_inst, batch, n), torch.randn(n_inst, m, n), torch.empty(n_inst, batch, m)
    t = best_time(lambda: [torch.bmm(x, w.transpose(1, 2), out=h) for _ in range(20)], 3)
    return 20 * 2 * n_inst * batch * n * m / t / gemm


def step_share(label: str, run: Callable[[int], object], n_inst: int, batch: int, n: int, m: int, steps: int,
               gemm: float) -> None:
    """A training step's flop rate (10 B n m flops per instance: five products) as a share of the GEMM rate."""
    run(5)  # warm-up
    t = best_time(lambda: run(steps), 2)
    share = 10 * n_inst * batch * n * m * steps / t / gemm
    print(f"{label:<42} {t / steps * 1e3:7.2f} ms/step | step {share:5.2f} of GEMM (target >= 0.6) | a lone bmm "
          f"of its shapes {bmm_share(n_inst, batch, n, m, gemm):5.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, for a smoke run")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: the chapter's setting on a shared 2-core CPU)")
    parser.add_argument("--repeats", type=int, default=1, help="timed repeats per measurement (best is kept)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scale = 0.2 if args.quick else 1.0
    steps = lambda k: max(5, int(k * scale))  # noqa: E731
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), numpy {np.__version__}; "
          f"batched = one train_toy_models call, loop = one call per sparsity; ratio = loop / batched")
    bench("paper setting (Elhage et al.)", 200, 20, 20, 1024, steps(100), args.repeats)
    bench("chapter default profile", 200, 20, 20, 256, steps(300), args.repeats)
    bench("chapter smoke profile", 40, 5, 6, 64, steps(1000), args.repeats)
    bench("small model (Elhage's n=20, m=5)", 20, 5, 20, 256, steps(1000), args.repeats)
    bench("tiny model (Elhage's n=5, m=2)", 5, 2, 20, 64, steps(1000), args.repeats)
    gemm = gemm_rate()
    print(f"fp32 GEMM 1024^3: {gemm / 1e9:.1f} GFLOP/s")
    sparsities = elhage_sparsities(20)
    step_share("chapter 1, paper setting (I=20, B=1024)", lambda k: train_toy_models(
        200, 20, sparsities, steps=k, batch_size=1024, progress=False), 20, 1024, 200, 20, steps(100), gemm)
    grid = toy_grid(40, [0.0, 0.1, 0.25, 0.5], [0.0, 0.7, 0.9], [1.0, 0.9], 5)
    step_share(f"chapter 8, default (I={grid.dropout.size}, B=256, ReLU)", lambda k: train_dropout_toys(
        grid, 16, steps=k, batch_size=256, progress=False), grid.dropout.size, 256, 40, 16, steps(200), gemm)


if __name__ == "__main__":
    main()
