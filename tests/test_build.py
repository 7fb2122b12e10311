"""The build tool: parameter validation, atomic outputs under failure and signals, the execution cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polycode_utils import build

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
rates = { type = "list[float]", min = 0.0, max = 1.0 }
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
'''


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "profiles.toml").write_text(PROFILES)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_demo.py").write_text(NOTEBOOK)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "science.py").write_text("X = 1\n")
    return tmp_path


def polycode(root: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "polycode_utils.build", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=120, **kw)


def executed(root: Path) -> Path:
    return root / "book" / "_generated" / "01_demo.ipynb"


def started(root: Path) -> Path:
    """The file a demo chapter writes when it starts (chapters run in the folder of their source, as in Jupyter)."""
    return root / "notebooks" / "started"


def statuses(root: Path) -> list[str]:
    timings = json.loads((root / "book" / "_generated" / "timings.json").read_text())
    return [c["status"] for c in timings["chapters"]]


def test_parameters_coerced_and_checked():
    p = build.Param("rates", "list[float]", min=0.0, max=1.0)
    assert p.coerce("0, 0.2,0.8") == [0.0, 0.2, 0.8]
    with pytest.raises(ValueError):
        p.coerce("0.2,1.5")
    assert build.Param("n", "int", min=1).coerce("4") == 4
    for bad in ("4.5", "x", "0", 2.0, True):
        with pytest.raises(ValueError):
            build.Param("n", "int", min=1).coerce(bad)
    pair = build.Param("fit_range", "list[int]", min=1, min_len=2, max_len=2)
    assert pair.coerce("1,100") == [1, 100] and "exactly 2" in pair.allowed()
    for bad in ("1", "1,2,3", "0,5"):
        with pytest.raises(ValueError):
            pair.coerce(bad)
    assert build.Param("on", "bool").coerce("false") is False
    with pytest.raises(ValueError):
        build.Param("x", "float").coerce("nan")


@pytest.mark.parametrize("name, value, words", [
    ("nn", "3", ["unknown parameter 'nn'", "fail, mode, n, profile, rate, rates, sleep"]),
    ("n", "three", ["parameter 'n'", "'three'", "an integer, >= 1 and <= 10"]),
    ("n", "11", ["parameter 'n'", "<= 10"]),
    ("rate", "-0.1", ["parameter 'rate'", "a number, >= 0 and <= 1"]),
    ("mode", "medium", ["parameter 'mode'", "one of fast, slow"]),
    ("rates", "0.1,2", ["parameter 'rates'", "each >= 0 and <= 1"]),
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


def test_declarations_must_match_the_notebook(project):
    (project / "notebooks" / "01_demo.py").write_text(NOTEBOOK.replace("sleep = 0.0\n", ""))
    res = polycode(project, "build", "--no-html")
    assert res.returncode == 2 and "disagree" in res.stderr and "sleep" in res.stderr


def test_failing_chapter_keeps_previous_notebook_and_the_traceback(project):
    assert polycode(project, "build", "--no-html", "-p", "n", "4").returncode == 0
    before = executed(project).read_bytes()
    res = polycode(project, "build", "--no-html", "-p", "fail", "true")
    assert res.returncode == 1
    failed = project / "book" / "_generated" / "01_demo.failed.ipynb"
    assert str(failed) in res.stderr
    assert "the chapter failed on purpose" in failed.read_text()
    assert executed(project).read_bytes() == before
    assert statuses(project) == ["failed"]
    # the next good run replaces the notebook and clears the failure
    assert polycode(project, "build", "--no-html").returncode == 0
    assert executed(project).read_bytes() != before and not failed.exists()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_interrupted_chapter_keeps_previous_notebook(project, sig):
    assert polycode(project, "build", "--no-html").returncode == 0
    before = executed(project).read_bytes()
    started(project).unlink()
    proc = subprocess.Popen([sys.executable, "-m", "polycode_utils.build", "--root", str(project), "build",
                             "--no-html", "-p", "sleep", "60"], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not started(project).exists() and time.time() < deadline:
        time.sleep(0.2)
    assert started(project).exists(), "the chapter never started"
    if sig == signal.SIGKILL:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    if sig == signal.SIGTERM:
        assert proc.returncode == 130 and "interrupted" in err
    if _alive(proc.pid):  # a kernel the killed build left behind
        os.killpg(proc.pid, signal.SIGKILL)
    assert executed(project).read_bytes() == before
    # a later build cleans what the killed one left and still finds its cache valid
    res = polycode(project, "build", "--no-html")
    assert res.returncode == 0 and statuses(project) == ["cached"]
    assert not list((project / "book" / "_generated").glob(".*partial*"))


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_cache_reexecutes_only_on_change(project):
    assert polycode(project, "build", "--no-html").returncode == 0
    assert statuses(project) == ["executed"]
    assert polycode(project, "build", "--no-html").returncode == 0
    assert statuses(project) == ["cached"]
    (project / "lib" / "science.py").write_text("X = 2\n")  # the library changed: jupyter-cache would miss this
    assert polycode(project, "build", "--no-html").returncode == 0
    assert statuses(project) == ["executed"]
    assert polycode(project, "build", "--no-html", "-p", "n", "5").returncode == 0
    assert statuses(project) == ["executed"]
    assert polycode(project, "build", "--no-html", "-p", "n", "5").returncode == 0
    assert statuses(project) == ["cached"]
    assert polycode(project, "build", "--no-html", "-p", "n", "5", "--force").returncode == 0
    assert statuses(project) == ["executed"]
    assert "widget-view" not in executed(project).read_text()  # progress bars are stripped from the record
    meta = json.loads(executed(project).read_text())["metadata"]["polycode"]
    assert meta["parameters"] == {"profile": "default", "n": 5} and meta["profile"] == "default"


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


def test_real_book_declarations_match_notebooks_and_profiles():
    root = Path(__file__).resolve().parents[1]
    project = build.Project.load(root)
    assert list(project.chapters) == ["01_codes", "02_capacity", "03_autoencoder", "04_spectra",
                                      "05_projections", "06_gpt2"]
    toc = (root / "_toc.yml").read_text()
    for profile in project.profiles:
        for chapter in project.chapters.values():
            build.resolve_parameters(project, chapter, profile, [])  # raises on any mismatch or bad value
            assert f"book/_generated/{chapter.id}" in toc


def test_ci_runs_exactly_the_readme_test_command():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    commands = [line.strip() for line in (root / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert commands == ["make test"]


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
    (root / "profiles.toml").write_text(GROUPED)
    (root / "notebooks").mkdir(exist_ok=True)
    (root / "lib").mkdir(exist_ok=True)
    for cid, extra in (("01_train", ""), ("02_measure", "layers = 2\n"), ("03_other", "")):
        width = {"01_train": "8", "02_measure": second_default, "03_other": "0.5"}[cid]  # 03 has its own width
        (root / "notebooks" / f"{cid}.py").write_text(
            f'# %% tags=["parameters"]\nprofile = "default"\nwidth = {width}\n{extra}\n# %%\nprint("width", width)\n')
    return root


def test_parameter_groups_are_shared_by_chapters(tmp_path):
    root = grouped_project(tmp_path)
    project = build.Project.load(root)
    chapters = list(project.chapters.values())
    assert all("width" in c.params for c in chapters) and "layers" not in chapters[0].params
    assert [c.uses for c in chapters] == [("net",), ("net",), ()]
    for c in chapters[:2]:  # the group's profile values reach every chapter that uses it
        assert build.resolve_parameters(project, c, "smoke", [])["width"] == 2
    routed = build.split_overrides(project, chapters, [("net.width", "5")])  # GROUP.NAME: the group's chapters
    assert routed == {"01_train": [("width", "5")], "02_measure": [("width", "5")], "03_other": []}
    routed = build.split_overrides(project, chapters, [("width", "5")])  # NAME: every chapter declaring it
    assert all(routed[c] == [("width", "5")] for c in routed)
    with pytest.raises(build.BuildError, match="unknown parameter 'depth' of group net; its parameters are: width"):
        build.split_overrides(project, chapters, [("net.depth", "5")])
    assert polycode(root, "build", "--no-html", "-p", "net.width", "5").returncode == 0
    for cid in ("01_train", "02_measure"):
        assert "width 5" in (root / "book" / "_generated" / f"{cid}.ipynb").read_text()


def test_shared_parameter_defaults_must_agree(tmp_path):
    root = grouped_project(tmp_path, second_default="16")
    res = polycode(root, "build", "--no-html")
    assert res.returncode == 2 and "shared parameter 'width'" in res.stderr and "16" in res.stderr
