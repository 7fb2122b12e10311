"""Benchmark of the spectral toolkit (issue 6); not a test. Every ratio is measured within this one process.

1. CovarianceAccumulator on N x d float32 batches vs the float64 GEMM X^T X of that shape (target >= 0.7)
   and vs sklearn PCA(svd_solver="full") on the same data (target >= 5x faster).
2. 1000 random projections + action (T = 100, m = 16384): one batched matmul vs a per-projection loop
   (target >= 20x).
3. alpha estimator on synthetic Gaussian spectra n^a: bias, spread and the coverage of the t interval over
   independent sets (chapter 5's interval) for huber/ols/wls, with N > d and N < d (goal at N = 10 d: |bias| <=
   0.02, coverage >= 90%; at N < d the bias of alpha = -1 is what the interval does not cover).

Run: PYTHONPATH=. python bench/bench_spectra.py [--quick] [--only 1 2 3] (the full run takes ~20 min on 2 cores)
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import torch
from sklearn.decomposition import PCA

from polycode_utils.instruments.projections import action, random_projections
from polycode_utils.instruments.spectra import FIT_METHODS, CovarianceAccumulator, evaluation_set_coverage


def best_times(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Fastest wall time of each fn over repeats, runs interleaved so that load from elsewhere hits all alike."""
    for fn in fns:
        fn()  # warm-up
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            start = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - start)
    return [min(ts) for ts in times]


def bench_accumulator(n: int, d: int, batch: int, repeats: int) -> None:
    x32 = torch.randn(n, d, generator=torch.Generator().manual_seed(0)) + 0.5
    x64 = x32.double()

    def stream() -> CovarianceAccumulator:
        acc = CovarianceAccumulator(d)
        for start in range(0, n, batch):
            acc.update(x32[start:start + batch])
        return acc

    t_acc, t_gemm = best_times([stream, lambda: x64.T @ x64], repeats)
    t_acc_eig, t_pca = best_times([lambda: stream().eigenvalues(),
                                   lambda: PCA(svd_solver="full").fit(x32.numpy())], max(1, repeats // 2))
    print(f"\n[1] CovarianceAccumulator, N={n}, d={d}, float32 batches of {batch}, {torch.get_num_threads()} threads")
    print(f"    accumulate {t_acc:.3f} s = {2 * n * d * d / t_acc / 1e9:.1f} GFLOP/s; float64 GEMM X^T X "
          f"{t_gemm:.3f} s = {2 * n * d * d / t_gemm / 1e9:.1f} GFLOP/s")
    print(f"    throughput ratio accumulator/GEMM = {t_gemm / t_acc:.2f}   (target >= 0.7)")
    print(f"    accumulate + eigenvalues {t_acc_eig:.3f} s vs sklearn PCA(full) {t_pca:.3f} s: "
          f"{t_pca / t_acc_eig:.1f}x faster   (target >= 5)")


def bench_projections(T: int, m: int, n_proj: int, k: int, repeats: int) -> None:
    acts = torch.randn(T, m, generator=torch.Generator().manual_seed(1))
    columns = torch.randn(m, n_proj * k, generator=torch.Generator().manual_seed(2)) / math.sqrt(m)
    per_proj = [columns[:, p * k:(p + 1) * k].contiguous() for p in range(n_proj)]

    def batched_end_to_end() -> torch.Tensor:
        return action(random_projections(acts, n_projections=n_proj, k=k, seed=0))

    def loop_end_to_end() -> list:
        gen = torch.Generator().manual_seed(0)
        return [action(acts @ (torch.randn(m, k, generator=gen) / math.sqrt(m))) for _ in range(n_proj)]

    def batched_compute() -> torch.Tensor:
        return action((acts @ columns).view(T, n_proj, k).permute(1, 0, 2))

    def loop_compute() -> list:
        return [action(acts @ r) for r in per_proj]

    t_be, t_le, t_bc, t_lc = best_times([batched_end_to_end, loop_end_to_end, batched_compute, loop_compute],
                                        repeats)
    print(f"\n[2] {n_proj} random projections (k={k}) + action, T={T}, m={m}")
    print(f"    incl. drawing R:  batched {t_be:.3f} s, Python loop {t_le:.3f} s -> {t_le / t_be:.1f}x")
    print(f"    R drawn already:  batched {t_bc:.3f} s, Python loop {t_lc:.3f} s -> {t_lc / t_bc:.1f}x"
          f"   (target >= 20)")


def bench_alpha(d: int, trials: int, n_sets: int, exponents: list[float], ratios: list[float]) -> None:
    fit_range = (1, d // 2)
    print(f"\n[3] alpha estimator: d={d}, fit PCs {fit_range} (cut at half the rank), {trials} independent data sets "
          f"per cell, t intervals over {n_sets} sets (every {n_sets}-subset of the draws), 95%")
    print(f"    {'a':>5} {'N':>7} | " + " | ".join(f"{m:>5} bias    sd    cover truth/mean" for m in FIT_METHODS))
    for a in exponents:
        for ratio in ratios:
            n = max(4, int(ratio * d))
            cells = []
            for m in FIT_METHODS:
                c = evaluation_set_coverage(n, d, a, fit_range, n_sets, trials, method=m, seed=int(1000 * ratio))
                cells.append(f"{c.bias:+.4f} {c.sd_one:.4f} {c.coverage:6.0%}/{c.coverage_of_mean:4.0%}")
            print(f"    {a:5.2f} {f'{ratio:g}d':>7} | " + " | ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--d", type=int, default=100, help="dimension of the synthetic spectra in [3]")
    parser.add_argument("--trials", type=int, default=40, help="data sets per cell in [3]")
    parser.add_argument("--n-sets", type=int, default=3, help="independent sets per interval in [3]")
    parser.add_argument("--only", type=int, nargs="+", choices=(1, 2, 3), default=(1, 2, 3), help="sections to run")
    args = parser.parse_args()
    quick = args.quick
    if 1 in args.only:
        bench_accumulator(n=20_000 if quick else 100_000, d=256 if quick else 1024, batch=10_000,
                          repeats=1 if quick else 5)
    if 2 in args.only:
        bench_projections(T=100, m=2048 if quick else 16384, n_proj=1000, k=3, repeats=1 if quick else 5)
    if 3 in args.only:
        bench_alpha(d=args.d, trials=4 if quick else args.trials, n_sets=args.n_sets,
                    exponents=[-1.0, -1.5, -2.0], ratios=[0.2, 2, 10])


if __name__ == "__main__":
    main()
