"""The note's Fig. 1 with the controls it lacks: does the network trained with dropout *correct erasures*, or only
keep information? Over seeds, at the read-out, by chapter 3's decoder bound.

Per seed: the network trained with dropout (chapter 3's configuration at that seed), its twin trained at p = 0
(the same initial weights, samples and order) measured under the same masks, and the untrained network; masks on
and off. Chapter 3 reads the table, checks that its settings are the chapter's, and judges the claims.

    python studies/error_correction_control.py            # writes studies/error_correction_control.csv (~10 min)
    python studies/error_correction_control.py --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from polycode_utils.networks.error_correction import PassThroughConfig, control_study

HERE = Path(__file__).resolve().parent
TABLE = HERE / "error_correction_control.csv"
# Chapter 3's default parameters (notebooks/03_error_correction.py): the chapter refuses a table made otherwise.
SETTINGS = dict(dropout=0.2, n_samples=300_000, epochs=4, batch_size=100, lr=1e-3, mi_samples=20_000,
                decoder_steps=1500, decoder_components=4, min_std=1e-3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cache-dir", default=str(HERE.parent / "_build" / "cache"),
                        help="trained networks are cached here (chapter 3's seed-0 network is shared)")
    args = parser.parse_args(argv)
    s = SETTINGS
    config = PassThroughConfig(dropout=s["dropout"], n_samples=s["n_samples"], epochs=s["epochs"],
                               batch_size=s["batch_size"], lr=s["lr"])
    start = time.perf_counter()
    torch.set_num_threads(1)
    table = control_study(config, args.seeds, n_samples=s["mi_samples"], cache_dir=args.cache_dir,
                          decoder_options=dict(steps=s["decoder_steps"], components=s["decoder_components"],
                                               min_std=s["min_std"]))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    table = table.assign(**s, commit=commit, machine=platform.processor() or platform.machine(),
                         seconds=round(time.perf_counter() - start))
    tmp = TABLE.with_suffix(".csv.tmp")
    table.to_csv(tmp, index=False, float_format="%.5g")
    tmp.replace(TABLE)  # atomic: an interrupted run leaves the previous table
    print(table.pivot_table(index="seed", columns=["masks", "network"], values="nats").round(3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
