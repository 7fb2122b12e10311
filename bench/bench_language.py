"""Benchmark of chapter 7's language-model measurement (issue 12); not a test. Every ratio is measured within this
one process, against a baseline timed in the same process.

1. CPU: SmolLM2's forward pass (the body, up to the last block) in tokens/s, as a fraction of its FLOP limit:
   the process's measured fp32 GEMM rate / (2 x non-embedding parameters per token)   (target >= 0.5).
2. CPU: the accumulation's overhead relative to the forward: covariances of all 30 residual + 30 MLP sites, then
   the whole measurement (covariances, step moments, top contexts), with float64 and with float32 products
   (target: overhead <= 1x the forward); how far float32 products move the eigenvalues and alpha; eigvalsh in
   numpy against torch.
3. GPU (skipped without CUDA): a randomly initialised model of GPT-2 XL's configuration (its weights cannot be
   downloaded; shapes and cost are the same): forward tokens/s in bfloat16 and float32 as a fraction of the FLOP
   limit at the measured bf16/fp32 GEMM rate (target >= 0.3); the whole measurement of all 48 layers, both sites:
   tokens/s and peak memory; eigvalsh time at widths 1600 and 6400.
4. GPU (skipped without CUDA): alpha on CUDA vs CPU on a small shard, same weights and windows (target <= 1e-3):
   SmolLM2 when it loads, else its architecture at initialisation.

Run: PYTHONPATH=. python bench/bench_language.py [--small] [--only 1 2 3 4] [--cache-dir _build/cache]
Do not time it while the machine is busy: on 2 shared cores, torch's threads wait for each other.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from polycode_utils.networks.language import load_language_model, measure_text, site_spectra, text_windows
from polycode_utils.networks.language.models import LanguageModel, _from_config, byte_tokenizer
from polycode_utils.networks.language.sites import run_sites, site_names


def best_time(fn: Callable[[], object], repeats: int, cuda: bool = False) -> float:
    """Fastest wall time of fn over repeats, after one warm-up (synchronised on CUDA)."""
    fn()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def gemm_rate(dtype: torch.dtype, device: str, n: int, repeats: int) -> float:
    """FLOP/s of an n x n x n matrix product in this dtype on this device."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n ** 3 / best_time(lambda: a @ a, repeats, cuda=device != "cpu")


def forward_only(lm: LanguageModel, windows: torch.Tensor, batch_size: int) -> Callable[[], None]:
    """The body's forward through every block, a no-op hook on the last block (the measurement's own path)."""
    last = [f"resid.{lm.n_layers - 1}"]
    return lambda: run_sites(lm, windows, last, batch_size, lambda site, act, row: None)


def section_cpu(args: argparse.Namespace) -> None:
    lm = load_language_model("smollm2", device="cpu", cache_dir=args.cache_dir)
    n = 16 if args.small else 64
    windows = text_windows(lm.tokenizer, "shakespeare", n, 64, seed=0)
    tokens = windows.numel()
    params = lm.non_embedding_parameters()
    rate = gemm_rate(torch.float32, "cpu", 1024 if args.small else 2048, 3)
    t_fwd = best_time(forward_only(lm, windows, 16), 2)
    limit = rate / (2 * params)
    print(f"\n[1] SmolLM2 forward on the CPU, {tokens} tokens, {torch.get_num_threads()} threads")
    print(f"    fp32 GEMM {rate / 1e9:.1f} GFLOP/s; 2 x {params / 1e6:.1f} M non-embedding parameters per token "
          f"-> limit {limit:.0f} tokens/s")
    print(f"    forward {tokens / t_fwd:.0f} tokens/s = {tokens / t_fwd / limit:.2f} of the limit   (target >= 0.5)")
    if 2 not in args.only:
        return
    kw = dict(progress=False, top_k=min(20, n))
    print(f"\n[2] accumulation on the CPU, all {lm.n_layers} residual + {lm.n_layers} MLP sites, sums in float64")
    for products in ("float64", "float32"):
        light, whole = dict(kw, actions=False, top_k=0, products=products), dict(kw, products=products)
        t_cov = best_time(lambda light=light: measure_text(lm, windows, **light), 1)
        t_all = best_time(lambda whole=whole: measure_text(lm, windows, **whole), 1)
        print(f"    {products} products: covariances {tokens / t_cov:.0f} tokens/s, overhead "
              f"{(t_cov - t_fwd) / t_fwd:.2f}x the forward   (target <= 1); + step moments and top contexts of 1000 "
              f"projections {tokens / t_all:.0f} tokens/s, overhead {(t_all - t_fwd) / t_fwd:.2f}x")
    exact, fast = (site_spectra(measure_text(lm, windows, **dict(kw, actions=False, top_k=0, products=p)), (1, 500))
                   for p in ("float64", "float32"))
    worst = max(float(abs(fast[s].eigenvalues[:500] / exact[s].eigenvalues[:500] - 1).max()) for s in exact)
    print(f"    float32 vs float64 products: eigenvalues 1-500 within {worst:.1e} (relative), alpha within "
          f"{max(abs(fast[s].alpha - exact[s].alpha) for s in exact):.1e}")
    one = dict(kw, layers=[0], sites=["mlp"], actions=False, top_k=0)
    acc = measure_text(lm, windows, **one).covariances["mlp.0"]
    cov = acc.covariance()
    t_np = best_time(lambda: np.linalg.eigvalsh(cov), 2)
    t_torch = best_time(lambda: torch.linalg.eigvalsh(torch.from_numpy(cov)), 2)
    print(f"    eigenvalues of a {acc.dim}-wide covariance: numpy {t_np:.2f} s, torch {t_torch:.2f} s "
          f"(torch / numpy {t_torch / t_np:.2f}: the accumulator uses numpy on a CPU)")


def section_gpu(args: argparse.Namespace) -> None:
    from transformers import GPT2Config  # noqa: PLC0415

    layers = 4 if args.small else 48
    config = GPT2Config(n_embd=1600, n_layer=layers, n_head=25, n_positions=1024, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0)
    tok = byte_tokenizer()
    windows = text_windows(tok, "shakespeare", 64 if args.small else 512, 64, seed=0)
    tokens = windows.numel()
    print(f"\n[3] GPT-2 XL configuration ({layers} blocks of 1600, MLP 6400) at random init, "
          f"{torch.cuda.get_device_name()}")
    for dtype, name in ((torch.bfloat16, "bfloat16"), (torch.float32, "float32")):
        model = _from_config(config, 0).to("cuda", dtype).eval()
        lm = LanguageModel(model, tok, "GPT-2 XL configuration, random", "gpt2-xl-random", True, torch.device("cuda"))
        rate = gemm_rate(dtype, "cuda", 8192, 5)
        limit = rate / (2 * lm.non_embedding_parameters())
        t_fwd = best_time(forward_only(lm, windows, 64), 3, cuda=True)
        print(f"    {name}: GEMM {rate / 1e12:.0f} TFLOP/s -> limit {limit:.0f} tokens/s; forward {tokens / t_fwd:.0f} "
              f"tokens/s = {tokens / t_fwd / limit:.2f} of the limit   (target >= 0.3)")
        del model, lm
        torch.cuda.empty_cache()
    model = _from_config(config, 0).to("cuda", torch.bfloat16).eval()
    lm = LanguageModel(model, tok, "GPT-2 XL configuration, random", "gpt2-xl-random", True, torch.device("cuda"))
    t_cov = best_time(lambda: measure_text(lm, windows, batch_size=64, actions=False, top_k=0, progress=False), 1,
                      cuda=True)
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    m = measure_text(lm, windows, batch_size=64, progress=False)
    torch.cuda.synchronize()
    t_all = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2 ** 30
    print(f"    {len(site_names(lm))} sites, bfloat16 model: covariances only {tokens / t_cov:.0f} tokens/s; whole "
          f"measurement (+ step moments, top contexts) {tokens / t_all:.0f} tokens/s, peak GPU memory {peak:.1f} GiB")
    for site in (f"resid.{layers - 1}", f"mlp.{layers - 1}"):
        acc = m.covariances[site]
        t_eig = best_time(acc.eigenvalues, 2, cuda=True)
        print(f"    eigvalsh of {site} (width {acc.dim}) on the GPU: {t_eig:.2f} s")


def section_agreement(args: argparse.Namespace) -> None:
    try:
        cpu = load_language_model("smollm2", device="cpu", cache_dir=args.cache_dir)
        which = "SmolLM2"
    except (FileNotFoundError, ImportError, OSError) as exc:  # e.g. a machine without the GGUF file
        from transformers import AutoConfig  # noqa: PLC0415

        print(f"    (SmolLM2 not available here: {exc.__class__.__name__}; using its architecture at initialisation)")
        config = AutoConfig.for_model("llama", vocab_size=49152, hidden_size=576, intermediate_size=1536,
                                      num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                                      max_position_embeddings=8192, tie_word_embeddings=True)
        cpu = LanguageModel(_from_config(config, 0).eval(), byte_tokenizer(), "SmolLM2 architecture, random",
                            "smollm2-architecture", True, torch.device("cpu"))
        which = "the SmolLM2 architecture at initialisation"
    windows = text_windows(cpu.tokenizer, "shakespeare", 16 if args.small else 48, 64, seed=0)
    gpu = LanguageModel(cpu.model.to("cuda"), cpu.tokenizer, cpu.description, cpu.name, True, torch.device("cuda"))
    a = site_spectra(measure_text(gpu, windows, actions=False, top_k=0, progress=False), (1, 500))
    cpu.model.to("cpu")
    cpu.device = torch.device("cpu")
    b = site_spectra(measure_text(cpu, windows, actions=False, top_k=0, progress=False), (1, 500))
    worst = max(abs(a[s].alpha - b[s].alpha) for s in a)
    print(f"\n[4] alpha on CUDA vs CPU, {which}, {windows.numel()} tokens, {len(a)} sites: max |difference| "
          f"{worst:.2e}   (target <= 1e-3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="small sizes: checks that it runs")
    parser.add_argument("--only", nargs="+", type=int, default=[1, 2, 3, 4], choices=[1, 2, 3, 4])
    parser.add_argument("--cache-dir", default="_build/cache", help="where SmolLM2's float32 copy is kept")
    args = parser.parse_args()
    if 1 in args.only or 2 in args.only:
        section_cpu(args)
    if not torch.cuda.is_available():
        print("\n[3, 4] skipped: no CUDA device")
        return
    if 3 in args.only:
        section_gpu(args)
    if 4 in args.only:
        section_agreement(args)


if __name__ == "__main__":
    main()
