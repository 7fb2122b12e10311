"""The command line: every value checked before anything runs, one-line errors, build / run / list, a fast start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from demo_book import PROFILES, executed, grouped_project, polycode, started, statuses

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name, value, words", [
    ("nn", "3", ["unknown parameter 'nn'", "fail, mode, n, profile, rate, rates, sleep"]),
    ("n", "three", ["parameter 'n'", "'three'", "an integer, >= 1 and <= 10"]),
    ("n", "11", ["parameter 'n'", "<= 10"]),
    ("rate", "-0.1", ["parameter 'rate'", "a number, >= 0 and <= 1"]),
    ("mode", "medium", ["parameter 'mode'", "one of fast, slow"]),
    ("rates", "0.1,1", ["parameter 'rates'", "each in [0, 1)"]),
    ("01_demo.fail", "maybe", ["parameter 'fail'", "true or false"]),
])
def test_bad_parameter_fails_fast_and_touches_nothing(project, name, value, words):
    assert polycode(project, "build", "--no-html").returncode == 0
    before = executed(project).read_bytes()
    mtime = executed(project).stat().st_mtime_ns
    started(project).unlink()
    res = polycode(project, "build", "--no-html", "--force", "-p", name, value)
    assert res.returncode == 2
    message = res.stderr.strip()
    assert len(message.splitlines()) == 1, message
    for w in words:
        assert w in message
    assert "executing" not in res.stderr
    assert not started(project).exists()  # no notebook ran
    assert executed(project).read_bytes() == before and executed(project).stat().st_mtime_ns == mtime


def test_bad_profile_value_and_unknown_chapter_and_profile(project):
    (project / "profiles.toml").write_text(PROFILES.replace("n = 2", "n = 20"))
    res = polycode(project, "build", "--profile", "smoke", "--no-html")
    assert res.returncode == 2 and "profile 'smoke'" in res.stderr and "<= 10" in res.stderr
    res = polycode(project, "build", "--only", "07_nothing")
    assert res.returncode == 2 and "unknown chapter '07_nothing'" in res.stderr and "01_demo" in res.stderr
    res = polycode(project, "build", "--profile", "huge")
    assert res.returncode == 2 and "unknown profile 'huge'" in res.stderr and "smoke, default" in res.stderr
    assert not started(project).exists()


def test_declarations_must_match_the_notebook(project):
    (project / "notebooks" / "01_demo.py").write_text(
        (project / "notebooks" / "01_demo.py").read_text().replace("sleep = 0.0\n", ""))
    res = polycode(project, "build", "--no-html")
    assert res.returncode == 2 and "disagree" in res.stderr and "sleep" in res.stderr


def test_html_needs_every_chapter_executed(project):
    (project / "profiles.toml").write_text(PROFILES + '[chapters.02_other]\n')
    (project / "notebooks" / "02_other.py").write_text('# %% tags=["parameters"]\nprofile = "default"\n')
    res = polycode(project, "build", "--only", "01_demo")
    assert res.returncode == 2 and "never were: 02_other" in res.stderr and "--no-html" in res.stderr
    assert not started(project).exists()  # refused before anything ran


def test_run_writes_the_chosen_notebook(project, tmp_path):
    out = tmp_path / "mine.ipynb"
    res = polycode(project, "run", "demo", "-p", "n", "7", "-p", "mode", "slow", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "n*rate = 3.5 [0.0, 0.5] slow" in out.read_text()
    assert not executed(project).exists()


def test_run_says_when_a_chapter_ran_over_its_budget(project, tmp_path):
    """Issue 25 #11: chapter 7 at k 100 on the tiny model ran far past its budget and said nothing."""
    res = polycode(project, "run", "demo", "--profile", "smoke", "-o", str(tmp_path / "a.ipynb"))
    seconds = float(res.stdout.split("executed in ")[1].split(" s")[0])
    assert res.returncode == 0 and ("OVER" in res.stdout) == (seconds > 5)   # a loaded machine may take > 5 s
    res = polycode(project, "run", "demo", "--profile", "smoke", "-p", "sleep", "5.5", "-o", str(tmp_path / "b.ipynb"))
    assert res.returncode == 0 and "(OVER its 5 s budget on the smoke profile" in res.stdout, res.stdout


def test_list_shows_parameters_defaults_and_profiles(project):
    res = polycode(project, "list")
    assert res.returncode == 0, res.stderr
    assert "01_demo: demo" in res.stdout and "profile smoke" in res.stdout
    line = next(line for line in res.stdout.splitlines() if line.strip().startswith("rates"))
    assert "[0.0, 0.5]" in line and "each in [0, 1)" in line


def test_group_parameter_reaches_the_group_s_chapters(tmp_path):
    root = grouped_project(tmp_path)
    assert polycode(root, "build", "--no-html", "-p", "net.width", "5").returncode == 0
    for cid in ("01_train", "02_measure"):
        assert "width 5" in executed(root, cid).read_text()
    assert "width 0.5" in executed(root, "03_other").read_text()


def test_shared_parameter_defaults_must_agree(tmp_path):
    root = grouped_project(tmp_path, second_default="16")
    res = polycode(root, "build", "--no-html")
    assert res.returncode == 2 and "shared parameter 'width'" in res.stderr and "16" in res.stderr


def test_the_tool_starts_without_science_torch_or_numpy():
    code = ("import sys, polycode_utils.book.cli; heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'numpy') or (m.startswith('polycode_utils.') and not m.startswith('polycode_utils.book')));"
            " print(heavy)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_console_script_and_module_entry_point():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"polycode": "polycode_utils.book.cli:main"}
    res = subprocess.run([sys.executable, "-m", "polycode_utils.book", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and "build" in res.stdout and "run" in res.stdout and "list" in res.stdout


def test_profile_is_set_only_by_the_profile_flag(project):
    """Issue 15 #10: `-p profile paper` made a run's provenance claim a profile it did not use."""
    for name in ("profile", "01_demo.profile"):
        res = polycode(project, "build", "--no-html", "-p", name, "smoke")
        assert res.returncode == 2 and "--profile" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not started(project).exists()


def test_group_parameter_is_checked_even_when_no_chapter_being_built_uses_it(tmp_path):
    """Issue 15 #8: `--only 03_other -p net.width abc` exited 0 without checking the value."""
    root = grouped_project(tmp_path)
    res = polycode(root, "build", "--no-html", "--only", "03_other", "-p", "net.width", "abc")
    assert res.returncode == 2 and "parameter 'width' of group net" in res.stderr and "'abc'" in res.stderr
    assert not executed(root, "03_other").exists()
    res = polycode(root, "build", "--no-html", "--only", "03_other", "-p", "net.width", "3")
    assert res.returncode == 0, res.stderr
    assert "warning: -p net.width 3 reaches no chapter being built" in res.stderr and "01_train" in res.stderr


def test_run_output_never_overwrites_what_it_did_not_write(project, tmp_path):
    """Issue 15 #4: `run -o notebooks/02_capacity.py` replaced a chapter's source with notebook JSON."""
    source = project / "notebooks" / "01_demo.py"
    text = source.read_text()
    res = polycode(project, "run", "demo", "-o", str(source))
    assert res.returncode == 2 and "inside the book's sources" in res.stderr and source.read_text() == text
    res = polycode(project, "run", "demo", "-o", str(tmp_path / "a.py"))
    assert res.returncode == 2 and "must end in .ipynb" in res.stderr
    foreign = tmp_path / "theirs.ipynb"
    foreign.write_text('{"cells": []}')
    res = polycode(project, "run", "demo", "-o", str(foreign))
    assert res.returncode == 2 and "not a notebook polycode wrote" in res.stderr
    assert foreign.read_text() == '{"cells": []}' and not started(project).exists()  # refused before running
    folder = tmp_path / "runs"
    folder.mkdir()
    assert polycode(project, "run", "demo", "-o", str(folder)).returncode == 0
    assert "n*rate" in (folder / "01_demo.ipynb").read_text()
    assert polycode(project, "run", "demo", "-o", str(folder / "01_demo.ipynb")).returncode == 0  # its own: fine
    assert polycode(project, "run", "demo", "-o", str(foreign), "--force").returncode == 0
    assert "n*rate" in foreign.read_text()


def test_outputs_never_replace_a_device_or_a_pipe_nor_land_among_the_sources(project, tmp_path):
    """Issue 25 #5, #13: `run -o /dev/null --force` (as root) replaced the device node with a regular file; `run -o
    notebooks/` wrote a jupytext pair beside the chapter; `assignment -o DIR` overwrote a student's work."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for target, words in ((pipe, "not a regular file or folder"), (Path("/dev/null"), "not a regular file"),
                          (project / "notebooks", "inside the book's sources"),
                          (project / "lib" / "x.ipynb", "inside the book's sources")):
        res = polycode(project, "run", "demo", "-o", str(target), "--force")
        assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr, target
    assert stat.S_ISFIFO(pipe.stat().st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not started(project).exists() and sorted(p.name for p in (project / "notebooks").iterdir()) == [
        "01_demo.py"]
    work = tmp_path / "class"
    work.mkdir()
    (work / "01_demo.ipynb").write_text("a student's answers")
    res = polycode(project, "assignment", "01_demo", "-o", str(work))
    assert res.returncode == 2 and "already holds 01_demo.ipynb" in res.stderr
    assert (work / "01_demo.ipynb").read_text() == "a student's answers"
    res = polycode(project, "assignment", "01_demo", "-o", str(work / "01_demo.ipynb"))
    assert res.returncode == 2 and "not a folder" in res.stderr


def test_a_chapter_named_twice_runs_once_and_an_unwritable_output_is_one_line(project, tmp_path):
    """Issue 25 #13, #14: `build --only 01 01` ran the chapter twice; a failed write printed a raw traceback."""
    assert polycode(project, "build", "--no-html", "--only", "01_demo", "01_demo").returncode == 0
    assert statuses(project) == ["executed"]
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = polycode(project, "run", "demo", "-o", str(blocker / "sub" / "x.ipynb"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().startswith("polycode: error: ") and len(res.stderr.strip().splitlines()) == 1
