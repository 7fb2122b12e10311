"""The memory estimates of profiles.toml (memory = {STEP = "EXPR"}) against the measured peak of the step they
describe (issue 25 #6): each step runs in a fresh process at a size where it needs about a gigabyte, and its peak
resident memory above what the process held before (VmHWM, reset through /proc/self/clear_refs) must lie between
FLOOR and 1 times the estimate: an estimate that undercounts lets the OOM killer in, one far above refuses what fits."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from polycode_utils.book import params
from polycode_utils.book.params import Project

ROOT = Path(__file__).resolve().parents[1]
FLOOR = 0.5  # the stated factor: every estimate is an upper bound within 2x of the measured peak

PEAK = textwrap.dedent("""
    import json, resource, sys
    def rss():
        return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
    def peak():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    def reset():
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    values = json.loads(sys.argv[1])
""")

STEPS = {
    "01_codes": ("training", dict(n_features=2000, n_hidden=20, n_sparsities=20, batch_size=2000, steps=3), """
        from polycode_utils.theory.toy_models import elhage_sparsities, train_toy_models
        import torch; torch.zeros(1)
        reset(); base = rss()
        train_toy_models(values["n_features"], values["n_hidden"], elhage_sparsities(values["n_sparsities"]),
                         steps=values["steps"], batch_size=values["batch_size"], progress=False)
    """),
    "06_projections": ("random projections of one layer", dict(n_frames=200, n_projections=20000), """
        import torch
        from polycode_utils.layerwise.actions import loop_frames, measure_dot
        from polycode_utils.networks.models import ResNetAutoencoder
        from polycode_utils.instruments.stimuli import moving_dot
        torch.manual_seed(0)
        w, s, sweep = 8, 16, [50, 100, 200, 400, 800]   # the notebook's defaults (width, image_size, sweep_frames)
        model = ResNetAutoencoder(width=w, latent_dim=32, image_size=s).eval()
        reset(); base = rss()
        loop = moving_dot(loop_frames(values["n_frames"], sweep), size=s, radius=5.0, dot_radius=2.0)
        measure_dot(model, loop, None, n_frames=values["n_frames"], sweep_frames=sweep,
                    n_projections=values["n_projections"], k=3, fit_range=(1, 50))
    """),
    "08_dropout_toys": ("training", dict(n_features=200, n_hidden=20, batch_size=4096, steps=3, n_seeds=2,
                                         dropout_rates=[0.0, 0.1, 0.2, 0.3, 0.5], sparsities=[0.0, 0.7, 0.9],
                                         decays=[1.0, 0.9]), """
        from polycode_utils.networks.dropout_toys import toy_grid, train_dropout_toys
        import torch; torch.zeros(1)
        grid = toy_grid(values["n_features"], values["dropout_rates"], values["sparsities"], values["decays"],
                        values["n_seeds"])
        reset(); base = rss()
        train_dropout_toys(grid, values["n_hidden"], steps=values["steps"], batch_size=values["batch_size"],
                           progress=False)
    """),
}


def _measured_peak(code: str, values: dict) -> int:
    """Peak resident bytes of the step above the process's memory before it, in a fresh interpreter."""
    script = PEAK + textwrap.dedent(code) + "print(peak() - base)\n"
    out = subprocess.run([sys.executable, "-c", script, json.dumps(values)], capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc/self/clear_refs")
@pytest.mark.parametrize("chapter_id", sorted(STEPS))
def test_memory_estimate_bounds_the_measured_peak_within_its_factor(chapter_id):
    step, values, code = STEPS[chapter_id]
    chapter = Project.load(ROOT).chapter(chapter_id)
    estimate = params.memory_estimates(chapter, values)[step]
    measured = _measured_peak(code, values)
    assert FLOOR * estimate <= measured <= estimate, (
        f"{chapter_id} {step}: measured {measured / 2**30:.2f} GiB, estimated {estimate / 2**30:.2f} GiB")
