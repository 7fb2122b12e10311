"""The measurement as a tool: ``torchrun --nproc-per-node N -m polycode_utils.networks.language --model gpt2-xl ...``.

Windows are sharded by rank, the sums all-reduced (gloo on CPUs, NCCL on GPUs), and rank 0 writes the statistics file
that chapter 7 reads instead of measuring (its parameter ``stats_file``). Runs on one process too (``python -m
polycode_utils.networks.language``). Point it at any Hugging Face model (name in the local cache, or a folder) and any
folder of .txt files.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import torch
import torch.distributed as dist

from polycode_utils.networks.language.measure import CONTROLS, PRODUCTS, measure_runs, save_measurements
from polycode_utils.networks.language.models import DTYPES, EMBEDDED_DEFAULT, load_language_model
from polycode_utils.networks.language.sites import SITE_KINDS
from polycode_utils.networks.language.text import CORPORA, corpus_description, text_windows
from polycode_utils.runtime.workers import die_with_parent

MEMORY_NOTE = ("Memory: 8 w^2 bytes per site (w = its width) for the float64 covariance, twice that while a "
               "window group is open (--groups > 1), plus 8 w^2 for the step moments (actions). GPT-2 XL at both "
               "sites of all 48 layers: about 16.7 GB of covariances, 50 GB in all; use --layers/--sites for less. The "
               "explain-and-score adds 16 (V + w) w bytes per scored site and run (V = distinct tokens).")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m polycode_utils.networks.language", description=__doc__.split("\n\n")[0],
                                epilog=MEMORY_NOTE)
    p.add_argument("--model", default=EMBEDDED_DEFAULT,
                   help="smollm2 (embedded), minilm, tiny-gpt2, tiny-llama, a Hugging Face name in the local "
                        "cache (gpt2-xl) or a folder")
    p.add_argument("--corpus", default="shakespeare", help=f"{', '.join(CORPORA)} or a folder of .txt files")
    p.add_argument("--windows", type=int, default=128, help="token windows (texts cut to --context tokens)")
    p.add_argument("--context", type=int, default=64, help="tokens per window (paper: 64)")
    p.add_argument("--skip-positions", type=int, default=1, help="leading positions left out (massive activations)")
    p.add_argument("--sites", nargs="+", default=["resid", "mlp"], choices=SITE_KINDS)
    p.add_argument("--layers", nargs="*", type=int, default=[], help="blocks to measure (default: all)")
    p.add_argument("--groups", type=int, default=8, help="window groups for alpha's interval (1: none)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--projections", type=int, default=1000, help="random projections per site (paper: 1000)")
    p.add_argument("--k", type=int, default=3, help="dimensions of each projection (paper: 3)")
    p.add_argument("--top-k", type=int, default=20, help="top windows kept per unit and sign (0: none)")
    p.add_argument("--controls", nargs="*", default=[], choices=CONTROLS,
                   help="also measure the untrained model and/or shuffled-token windows (covariances and window "
                        "groups)")
    p.add_argument("--control-stride", type=int, default=1, help="controls on every n-th measured layer (and the last)")
    p.add_argument("--products", default="float32", choices=PRODUCTS,
                   help="precision of each batch's covariance products, summed in float64 (float64: exact)")
    p.add_argument("--explain", action="store_true",
                   help="also keep the explain-and-score's token tables at the control layers' MLP sites (the "
                        "projection verdict needs them; memory: see below)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--dtype", default="float32", choices=list(DTYPES))
    p.add_argument("--cache-dir", default=None, help="where SmolLM2's float32 copy is kept")
    p.add_argument("--output", required=True, help="statistics file written by rank 0 (torch.save format)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _init_distributed(device: str) -> str:
    """Join the process group torchrun describes (gloo on CPU, NCCL on CUDA); returns this rank's device."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device
    die_with_parent(os.getppid())  # a rank of torchrun: stop when its agent is killed, not run on to the end
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return f"cuda:{torch.cuda.current_device()}" if cuda else "cpu"


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.top_k > args.windows:
        p.error(f"--top-k {args.top_k} is more than the --windows {args.windows}: keep at most as many as there are")
    device = _init_distributed(args.device)
    try:
        lm = load_language_model(args.model, device=None if device == "auto" else torch.device(device),
                                 cache_dir=args.cache_dir, dtype=args.dtype, seed=args.seed)
        windows = text_windows(lm.tokenizer, args.corpus, args.windows, args.context, seed=args.seed)
        runs = measure_runs(lm, windows, controls=args.controls, control_stride=args.control_stride,
                            sites=args.sites, layers=args.layers, skip_positions=args.skip_positions,
                            batch_size=args.batch_size, n_groups=args.groups, n_projections=args.projections,
                            k=args.k, top_k=args.top_k, products=args.products, explain=args.explain,
                            seed=args.seed, corpus=corpus_description(args.corpus), progress=not args.quiet)
        if not dist.is_initialized() or dist.get_rank() == 0:
            path = save_measurements(runs, args.output)
            print(f"wrote {path} ({', '.join(runs)}; {runs['main'].n_tokens} tokens per run)")
    except (ValueError, FileNotFoundError) as exc:  # a bad argument, model or corpus: one line, not a traceback
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0
