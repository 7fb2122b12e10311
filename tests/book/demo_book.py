"""A tiny demo book (one chapter; a library of one science module and a book package) and the build tool run on it
as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROFILES = """
[book]
library = "lib"
[profiles.smoke]
[profiles.default]
[chapters.01_demo]
title = "demo"
budget_s = { smoke = 5 }
[chapters.01_demo.params]
n = { type = "int", min = 1, max = 10 }
rate = { type = "float", min = 0.0, max = 1.0 }
mode = { type = "str", choices = ["fast", "slow"] }
rates = { type = "list[float]", min = 0.0, below = 1.0 }
fail = { type = "bool" }
sleep = { type = "float", min = 0.0 }
[chapters.01_demo.profile.smoke]
n = 2
"""

NOTEBOOK = '''# %% [markdown]
# # Demo

# %% tags=["parameters"]
profile = "default"
n = 3
rate = 0.5
mode = "fast"
rates = [0.0, 0.5]
fail = False
sleep = 0.0

# %%
import os
import time
from pathlib import Path
from tqdm.auto import tqdm
Path("started").write_text("yes")
time.sleep(sleep)
if fail:
    raise RuntimeError("the chapter failed on purpose")
for _ in tqdm(range(3), desc="progress"):
    pass
print("n*rate =", n * rate, rates, mode)
print("root =", os.environ.get("POLYCODE_ROOT"), "cwd =", Path.cwd().name)
'''


def make_project(tmp_path: Path) -> Path:
    """A demo project root: profiles.toml, one chapter, and a library with a science module and a book package."""
    (tmp_path / "profiles.toml").write_text(PROFILES)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_demo.py").write_text(NOTEBOOK)
    (tmp_path / "lib" / "book").mkdir(parents=True)
    (tmp_path / "lib" / "science.py").write_text("X = 1\n")
    for name in ("__init__.py", "page.py", "paths.py", "cli.py"):
        (tmp_path / "lib" / "book" / name).write_text(f"# {name}\n")
    return tmp_path


def polycode(root: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    """``python -m polycode_utils.book --root ROOT ARGS``, as a user runs the console script."""
    return subprocess.run([sys.executable, "-m", "polycode_utils.book", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=180, **kw)


def executed(root: Path, chapter: str = "01_demo") -> Path:
    """Where the build puts a chapter's executed notebook."""
    return root / "book" / "_generated" / f"{chapter}.ipynb"


def started(root: Path) -> Path:
    """The file a demo chapter writes when it starts (chapters run in the folder of their source, as in Jupyter)."""
    return root / "notebooks" / "started"


def statuses(root: Path) -> list[str]:
    """Each chapter's status in the last build's timings.json."""
    timings = json.loads((root / "book" / "_generated" / "timings.json").read_text())
    return [c["status"] for c in timings["chapters"]]


GROUPED = """
[book]
library = "lib"
[profiles.smoke]
[profiles.default]
[groups.net.params]
width = { type = "int", min = 1 }
[groups.net.profile.smoke]
width = 2
[chapters.01_train]
uses = ["net"]
[chapters.02_measure]
uses = ["net"]
[chapters.02_measure.params]
layers = { type = "int", min = 1 }
[chapters.03_other.params]
width = { type = "float", min = 0 }
"""


def grouped_project(root: Path, second_default: str = "8") -> Path:
    """Three chapters: two share the group 'net' (width), the third has a width of its own."""
    (root / "profiles.toml").write_text(GROUPED)
    (root / "notebooks").mkdir(exist_ok=True)
    (root / "lib").mkdir(exist_ok=True)
    for cid, extra in (("01_train", ""), ("02_measure", "layers = 2\n"), ("03_other", "")):
        width = {"01_train": "8", "02_measure": second_default, "03_other": "0.5"}[cid]  # 03 has its own width
        (root / "notebooks" / f"{cid}.py").write_text(
            f'# %% tags=["parameters"]\nprofile = "default"\nwidth = {width}\n{extra}\n# %%\nprint("width", width)\n')
    return root
