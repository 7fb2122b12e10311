"""Execution and cache: what the cache key covers, atomic outputs under failure and signals, the kernel's world."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from demo_book import executed, polycode, started, statuses

from polycode_utils.book import execute
from polycode_utils.book.params import Project
from polycode_utils.book.provenance import package_versions


def test_code_digest_covers_the_chapter_s_import_closure_not_comments_or_the_rest(project):
    """Issue 15 #13: a comment edited anywhere in the library re-executed every chapter."""
    lib = project / "lib"
    (lib / "__init__.py").write_text("")
    (lib / "helper.py").write_text("Y = 2\n")
    (lib / "science.py").write_text("from lib.helper import Y\nX = 1\n")
    (lib / "unused.py").write_text("Z = 3\n")
    (lib / "book" / "page.py").write_text("from . import paths\n")
    source = project / "notebooks" / "01_demo.py"
    source.write_text(source.read_text() + "\n# %%\nfrom lib import science\nfrom lib.book.page import x\n")
    closure = [p.relative_to(lib).as_posix() for p in execute.import_closure(source, lib)]
    assert closure == ["__init__.py", "book/__init__.py", "book/page.py", "book/paths.py", "helper.py",
                       "science.py"]
    before = execute.code_digest(source, lib)
    for untouched in ("unused.py", "book/cli.py"):  # not imported by the chapter: the build tool, another module
        (lib / untouched).write_text((lib / untouched).read_text() + "A = 1\n")
        assert execute.code_digest(source, lib) == before, untouched
    (lib / "helper.py").write_text("# a comment\nY = 2  # and another\n\n")
    assert execute.code_digest(source, lib) == before
    for changed in ("helper.py", "science.py", "book/paths.py"):
        (lib / changed).write_text((lib / changed).read_text() + "W = 0\n")
        assert execute.code_digest(source, lib) != before, changed
        before = execute.code_digest(source, lib)


def test_cache_key_changes_with_code_cells_parameters_library_and_versions(project, monkeypatch):
    chapter = Project.load(project).chapter("01_demo")
    key = execute.cache_key(chapter, {"n": 1}, "lib")
    assert execute.cache_key(chapter, {"n": 1}, "lib") == key
    assert execute.cache_key(chapter, {"n": 2}, "lib") != key
    assert execute.cache_key(chapter, {"n": 1}, "lib2") != key
    chapter.source.write_text(chapter.source.read_text().replace("# # Demo", "# # Demo, in new words\n#\n# More."))
    assert execute.cache_key(chapter, {"n": 1}, "lib") == key  # prose is not what a chapter computes
    chapter.source.write_text(chapter.source.read_text() + "\n# %%\nprint(1)\n")
    assert execute.cache_key(chapter, {"n": 1}, "lib") != key
    key = execute.cache_key(chapter, {"n": 1}, "lib")
    monkeypatch.setattr(execute, "package_versions", lambda: {"python": "3.11", "torch": "9.9"})
    assert execute.cache_key(chapter, {"n": 1}, "lib") != key  # nor the packages that compute the numbers


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    """Issue 25 #14: a full disk left .tmp-PID files behind, which the cleanup never matched."""
    nb = tmp_path / "a.ipynb"
    nb.write_text("old")

    def full(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(execute.os, "replace", full)
    with pytest.raises(OSError, match="No space left"):
        execute.write_atomic(nb, "new")
    assert nb.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.ipynb"]
    monkeypatch.undo()
    (tmp_path / ".a.ipynb.tmp-99").write_text("left by a killed build")
    execute.clean_stale(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["a.ipynb"]


def test_stored_key_and_atomic_write(tmp_path):
    nb = tmp_path / "a.ipynb"
    assert execute.stored_key(nb) is None
    execute.write_atomic(nb, "not json")
    assert execute.stored_key(nb) is None
    import nbformat
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")], metadata={"polycode": {"cache_key": "abc"}})
    execute.write_atomic(nb, nbformat.writes(good))
    assert execute.stored_key(nb) == "abc" and [p.name for p in tmp_path.iterdir()] == ["a.ipynb"]
    # issue 25, minor: a damaged notebook under a valid key failed the HTML ("First problems: | ===="); now stale
    for damage in ({"cell_type": "bogus"}, {"cell_type": "code", "source": 3}, "not a cell"):
        broken = json.loads(nbformat.writes(good))
        broken["cells"].append(damage)
        execute.write_atomic(nb, json.dumps(broken))
        assert execute.stored_key(nb) is None, damage
    execute.write_atomic(nb, json.dumps({"metadata": {"polycode": {"cache_key": "abc"}}}))  # no cells, no format
    assert execute.stored_key(nb) is None


def test_kernel_registered_in_this_environment_by_ipykernel():
    execute.ensure_kernel()
    spec = json.loads((Path(sys.prefix) / "share" / "jupyter" / "kernels" / "polycode" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable and "ipykernel_launcher" in spec["argv"]
    assert spec["argv"][-1] == "--IPKernelApp.log_level=CRITICAL"  # a build's output shows no kernel chatter
    assert spec["display_name"] == "polycode" and spec["language"] == "python"


def test_chapter_runs_in_its_folder_and_knows_the_project_root(project):
    res = polycode(project, "build", "--no-html")
    assert res.returncode == 0, res.stderr
    assert f"root = {project} cwd = notebooks" in executed(project).read_text()
    assert res.stderr.strip() == "[1/1] executing 01_demo (profile default)"  # no kernel chatter


def test_cache_reexecutes_only_on_change(project):
    assert polycode(project, "build", "--no-html").returncode == 0
    assert statuses(project) == ["executed"]
    assert polycode(project, "build", "--no-html").returncode == 0
    assert statuses(project) == ["cached"]
    source = project / "notebooks" / "01_demo.py"
    source.write_text(source.read_text() + "\n# %%\ntry:\n    from lib import science\nexcept ImportError:\n"
                      "    pass\n")
    assert polycode(project, "build", "--no-html").returncode == 0
    assert statuses(project) == ["executed"]
    (project / "lib" / "science.py").write_text("X = 2\n")  # the library changed: jupyter-cache would miss this
    assert polycode(project, "build", "--no-html").returncode == 0
    assert statuses(project) == ["executed"]
    (project / "lib" / "book" / "cli.py").write_text("# the build tool changed\n")  # re-executes nothing
    assert polycode(project, "build", "--no-html").returncode == 0
    assert statuses(project) == ["cached"]
    assert polycode(project, "build", "--no-html", "-p", "n", "5").returncode == 0
    assert statuses(project) == ["executed"]
    assert polycode(project, "build", "--no-html", "-p", "n", "5").returncode == 0
    assert statuses(project) == ["cached"]
    assert polycode(project, "build", "--no-html", "-p", "n", "5", "--force").returncode == 0
    assert statuses(project) == ["executed"]
    assert "widget-view" not in executed(project).read_text()  # progress bars are stripped from the record
    meta = json.loads(executed(project).read_text())["metadata"]["polycode"]
    assert meta["parameters"] == {"profile": "default", "n": 5} and meta["profile"] == "default"
    assert meta["commit"] == "unknown" and meta["versions"] == package_versions()  # the demo is no git checkout


def test_a_prose_edit_rerenders_the_page_without_executing_and_a_code_edit_executes(project):
    """Issue 26: the cache hashed the whole source, so a markdown edit re-executed the chapter."""
    assert polycode(project, "build", "--no-html").returncode == 0
    runs = [c for c in json.loads(executed(project).read_text())["cells"] if c["cell_type"] == "code"]
    source = project / "notebooks" / "01_demo.py"
    source.write_text(source.read_text().replace("# # Demo", "# # Demo, in new words\n#\n# A new paragraph.")
                      .replace("# %%\nimport os", "# %% tags=[\"remove-input\"]\nimport os"))
    assert polycode(project, "build", "--no-html").returncode == 0
    assert statuses(project) == ["cached"]
    nb = json.loads(executed(project).read_text())
    assert "".join(nb["cells"][0]["source"]) == "# Demo, in new words\n\nA new paragraph."
    assert [c for c in nb["cells"] if c["cell_type"] == "code"][-1]["metadata"]["tags"] == ["remove-input"]
    assert [c["outputs"] for c in nb["cells"] if c["cell_type"] == "code"] == [c["outputs"] for c in runs]
    assert [c["metadata"].get("tags") for c in nb["cells"]][1:3] == [["parameters"],
                                                                     ["injected-parameters", "remove-cell"]]
    source.write_text(source.read_text().replace('print("n*rate ="', 'print("n times rate ="'))
    assert polycode(project, "build", "--no-html").returncode == 0
    assert statuses(project) == ["executed"] and "n times rate = 1.5" in executed(project).read_text()


def test_chapter_timeout_from_the_budget_with_its_margin_or_the_flag():
    assert execute.chapter_timeout(None) is None and execute.chapter_timeout(None, 30) == 30
    assert execute.chapter_timeout(100) == 700 and execute.chapter_timeout(1000) == 4000
    assert execute.chapter_timeout(1000, 0) is None and execute.chapter_timeout(5, 2.5) == 2.5


def test_a_hanging_chapter_is_stopped_at_its_timeout_and_recorded_as_failed(project):
    """Issue 26: budget_s was printed, never enforced; a chapter that hung ran forever."""
    assert polycode(project, "build", "--no-html").returncode == 0
    before = executed(project).read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "polycode_utils.book", "--root", str(project), "build",
                             "--no-html", "-p", "sleep", "120", "--timeout", "3"], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start = time.time()
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 1 and time.time() - start < 60
    assert "chapter 01_demo FAILED: timed out: stopped after 3 s" in err and "--timeout" in err
    failed = json.loads((project / "book" / "_generated" / "01_demo.failed.ipynb").read_text())
    assert "".join(failed["cells"][0]["source"]).startswith("**This run failed: timed out: stopped after 3 s")
    assert executed(project).read_bytes() == before and statuses(project) == ["failed"]
    time.sleep(1)
    alive = _alive(proc.pid)
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not alive, "the stopped chapter's kernel was left running"


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


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_interrupted_chapter_keeps_previous_notebook(project, sig):
    assert polycode(project, "build", "--no-html").returncode == 0
    before = executed(project).read_bytes()
    started(project).unlink()
    proc = subprocess.Popen([sys.executable, "-m", "polycode_utils.book", "--root", str(project), "build",
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
    if sig != signal.SIGKILL:  # SIGTERM and SIGHUP unwind like Ctrl-C, with the shell's 128 + signal number
        assert proc.returncode == 128 + sig and err.strip().splitlines()[-1].startswith("interrupted")
    if _alive(proc.pid):  # a kernel the killed build left behind
        os.killpg(proc.pid, signal.SIGKILL)
    assert executed(project).read_bytes() == before
    # a later build cleans what the killed one left and still finds its cache valid
    res = polycode(project, "build", "--no-html")
    assert res.returncode == 0 and statuses(project) == ["cached"]
    assert not list((project / "book" / "_generated").glob(".*partial*"))


def test_ctrl_c_from_a_terminal_reaches_the_kernel_too_and_prints_one_line(project):
    """Issue 25, minor: Ctrl-C signals the whole foreground process group, the kernel as well, whose ZMQ traceback
    (20 lines) reached the terminal. One line, the shell's 130, the previous notebook kept, no process left."""
    assert polycode(project, "build", "--no-html").returncode == 0
    before = executed(project).read_bytes()
    started(project).unlink()
    proc = subprocess.Popen([sys.executable, "-m", "polycode_utils.book", "--root", str(project), "build",
                             "--no-html", "-p", "sleep", "60"], start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not started(project).exists() and time.time() < deadline:
        time.sleep(0.2)
    assert started(project).exists(), "the chapter never started"
    os.killpg(proc.pid, signal.SIGINT)   # as the terminal does: the build and its kernel
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
    assert err.strip().splitlines()[-1].startswith("interrupted")
    time.sleep(1)
    assert not _alive(proc.pid), "a process of the build outlived it"
    assert executed(project).read_bytes() == before


def test_cache_keys_on_resolved_parameters_and_keeps_a_few_runs_per_chapter(project):
    """Issue 15 #13: an explicit default re-executed; reverting a change re-executed (one entry per chapter)."""
    assert polycode(project, "build", "--no-html").returncode == 0
    assert polycode(project, "build", "--no-html", "-p", "n", "3").returncode == 0  # n = 3 is the default
    assert statuses(project) == ["cached"]
    assert polycode(project, "build", "--no-html", "-p", "n", "5").returncode == 0
    assert statuses(project) == ["executed"] and "n*rate = 2.5" in executed(project).read_text()
    assert polycode(project, "build", "--no-html").returncode == 0  # reverted: the earlier run comes back
    assert statuses(project) == ["cached"] and "n*rate = 1.5" in executed(project).read_text()
    assert polycode(project, "build", "--no-html", "-p", "n", "5").returncode == 0
    assert statuses(project) == ["cached"] and "n*rate = 2.5" in executed(project).read_text()


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_failed_and_interrupted_runs_record_what_stopped_them_and_when(project):
    """Issue 15 #12: an interrupted chapter overwrote an earlier real failure with a notebook saying nothing."""
    generated = project / "book" / "_generated"
    assert polycode(project, "build", "--no-html", "-p", "fail", "true").returncode == 1
    failed = generated / "01_demo.failed.ipynb"
    record = json.loads(failed.read_text())
    first = "".join(record["cells"][0]["source"])
    assert first.startswith("**This run failed") and "the chapter failed on purpose" in first
    assert record["metadata"]["polycode_failure"]["time"][:4] == time.strftime("%Y")
    before = failed.read_bytes()
    started(project).unlink()
    proc = subprocess.Popen([sys.executable, "-m", "polycode_utils.book", "--root", str(project), "build",
                             "--no-html", "-p", "sleep", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.time() + 60
    while not started(project).exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    if _alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
    assert failed.read_bytes() == before  # the real failure's record is kept
    interrupted = json.loads((generated / "01_demo.interrupted.ipynb").read_text())
    assert "".join(interrupted["cells"][0]["source"]).startswith("**This run interrupted by SIGTERM")
    assert polycode(project, "build", "--no-html").returncode == 0  # a good run clears both records
    assert not failed.exists() and not (generated / "01_demo.interrupted.ipynb").exists()
