"""Issue 15 #5: every end of chapter 6's declared ranges runs (on the smoke profile), so a declared-valid value
never crashes the chapter late. Slow: it executes the chapter (and trains the smoke networks once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from book_copy import run_chapter_in_a_copy

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
def test_chapter_6_runs_at_the_ends_of_its_declared_ranges(tmp_path, which):
    res = run_chapter_in_a_copy(ROOT, tmp_path, "06_projections", _ends(which))
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
