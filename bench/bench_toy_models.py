"""Benchmark of the batched toy-model sweep (issue 4); not a test. Every ratio is measured within this one process.

Training all sparsities as ONE batched model (a leading instance axis) vs a Python loop that trains the same
instances one at a time with the same function: same sizes, same steps, same batch, so the same total work.
Reported for the chapter's settings and for smaller models, with shared ("common") and independent inputs
(the batched sweep draws one batch of uniforms for all instances by default; the loop draws one per instance).
Target: batched >= 5x faster.

Run: PYTHONPATH=. python bench/bench_toy_models.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from polycode_utils.toy_models import elhage_sparsities, train_toy_models


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


if __name__ == "__main__":
    main()
