"""Issue 15 #5: every end of chapter 6's declared ranges runs (on the smoke profile), so a declared-valid value
never crashes the chapter late. Slow: it executes the chapter (and trains the smoke networks once)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from polycode_utils.book.params import Project

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

LOW = dict(n_frames="min", radius="min", dot_radius="min", n_projections="min", k="min")
# within memory and time; the radius at its end for the default 16-pixel canvas (radius + dot_radius <= 16 / 2 - 1)
HIGH = dict(n_frames="64", radius="6.5", dot_radius="0.5", n_projections="2000", k="max")


def _ends(which: dict[str, str]) -> list[str]:
    params = Project.load(ROOT).chapter("06_projections").params
    out = []
    for name, end in which.items():
        value = getattr(params[name], end) if end in ("min", "max") else end
        out += ["-p", name, f"{value:g}" if isinstance(value, float) else str(value)]
    return out


@pytest.mark.parametrize("which", [LOW, HIGH], ids=["low", "high"])
def test_chapter_5_runs_at_the_ends_of_its_declared_ranges(tmp_path, which):
    for name in ("profiles.toml", "_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("notebooks", "book", "polycode_utils", "studies"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("_generated", "_static", "__pycache__", "*.ipynb"))
    cache = ROOT / "_build" / "cache"  # the smoke networks, when this checkout has them (read-only use: copied)
    if cache.exists():
        shutil.copytree(cache, tmp_path / "_build" / "cache",
                        ignore=lambda d, names: [n for n in names if "-w2-" not in n and d == str(cache)])
    res = subprocess.run([sys.executable, "-m", "polycode_utils.book", "--root", str(tmp_path), "run",
                          "06_projections", "--profile", "smoke", *_ends(which)],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
