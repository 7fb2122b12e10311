"""The real book copied into a scratch folder, so that a test can execute one of its chapters without touching this
checkout's outputs (the smoke networks of its cache come along, read-only)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def run_chapter_in_a_copy(root: Path, tmp_path: Path, chapter_id: str, flags: list[str],
                          timeout: int = 900) -> subprocess.CompletedProcess:
    """`polycode run CHAPTER --profile smoke FLAGS` in a copy of the book at root, made under tmp_path."""
    for name in ("profiles.toml", "_config.yml", "_toc.yml"):
        shutil.copy(root / name, tmp_path / name)
    for name in ("notebooks", "book", "polycode_utils", "studies"):
        shutil.copytree(root / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("_generated", "_static", "__pycache__", "*.ipynb"))
    cache = root / "_build" / "cache"  # the smoke networks, when this checkout has them
    if cache.exists():
        shutil.copytree(cache, tmp_path / "_build" / "cache",
                        ignore=lambda d, names: [n for n in names if "-w2-" not in n and d == str(cache)])
    return subprocess.run([sys.executable, "-m", "polycode_utils.book", "--root", str(tmp_path), "run", chapter_id,
                           "--profile", "smoke", *flags], capture_output=True, text=True, timeout=timeout)
