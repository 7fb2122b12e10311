"""HTML: what the rendered book is made from, offline MathJax, and a failed render leaving the old HTML in place."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from polycode_utils.book import html
from polycode_utils.book.params import BuildError, Project


def test_mathjax_shipped_for_offline_math():
    static = html.mathjax_dir()
    assert static is not None and (static / "MathJax.js").exists()
    assert (static / "config" / "TeX-AMS-MML_HTMLorMML-full.js").exists()  # the config _config.yml asks for


def test_html_inputs_are_config_pages_and_executed_notebooks(project):
    (project / "_config.yml").write_text("title: demo\n")
    (project / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    generated = project / "book" / "_generated"
    generated.mkdir(parents=True)
    (project / "book" / "intro.md").write_text("# Intro\n")
    p = Project.load(project)
    digest = html.html_inputs_digest(p)
    for ignored in ("_generated/timings.json", "_generated/01_demo.failed.ipynb",
                    "_generated/.01_demo.partial-1.ipynb"):
        (project / "book" / ignored).write_text("{}")
        assert html.html_inputs_digest(p) == digest, ignored
    (project / "book" / "_static").mkdir()
    (project / "book" / "_static" / "x.js").write_text("")
    assert html.html_inputs_digest(p) == digest
    for changed in ("book/_generated/01_demo.ipynb", "book/intro.md", "_toc.yml", "_config.yml"):
        (project / changed).write_text((project / changed).read_text() + "\n" if (project / changed).exists() else "{}")
        assert html.html_inputs_digest(p) != digest, changed
        digest = html.html_inputs_digest(p)


def test_failed_render_keeps_the_previous_html(project):
    (project / "_config.yml").write_text("title: demo\nexecute:\n  execute_notebooks: 'off'\n")
    (project / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/missing\n")
    (project / "book").mkdir()
    (project / "book" / "intro.md").write_text("# Intro\n")
    old = project / "_build" / "html"
    old.mkdir(parents=True)
    (old / "index.html").write_text("the previous book")
    with pytest.raises(BuildError, match="jupyter-book build failed .* previous HTML is untouched"):
        html.build_html(Project.load(project), force=False)
    assert (old / "index.html").read_text() == "the previous book"
    assert (project / "_build" / "jupyter-book.log").exists()
    assert (project / "book" / "_static" / "mathjax" / "MathJax.js").exists()  # copied for the offline book


WARNS = '''
# %%
import sys
import warnings
warnings.warn("checkpoint x could not be read; moved aside, training from scratch")
print("a note on stderr", file=sys.stderr)
'''


def test_chapter_stderr_is_a_warning_box_on_the_page_not_a_failed_book(project):
    """Issue 15 #1: stderr under nb_output_stderr remove-warn and -W failed the book; now it is shown as a box."""
    from demo_book import executed, polycode  # noqa: PLC0415

    (project / "notebooks" / "01_demo.py").write_text((project / "notebooks" / "01_demo.py").read_text() + WARNS)
    (project / "_config.yml").write_text("title: demo\nexecute:\n  execute_notebooks: 'off'\nsphinx:\n  config:\n"
                                         "    nb_output_stderr: remove-warn\n")
    (project / "_toc.yml").write_text("format: jb-book\nroot: book/_generated/01_demo\n")
    res = polycode(project, "build")
    assert res.returncode == 0, res.stdout + res.stderr
    nb = executed(project).read_text()
    assert '"stderr"' not in nb and "admonition warning" in nb
    page = (project / "_build" / "html" / "book" / "_generated" / "01_demo.html").read_text()
    assert "training from scratch" in page and "a note on stderr" in page and "admonition warning" in page
    assert "training from scratch" in (project / "_build" / "logs" / "01_demo.stderr.log").read_text()


def test_a_real_render_problem_still_fails_with_status_1(project):
    from demo_book import polycode  # noqa: PLC0415

    (project / "_config.yml").write_text("title: demo\nexecute:\n  execute_notebooks: 'off'\n")
    (project / "_toc.yml").write_text("format: jb-book\nroot: book/_generated/01_demo\nchapters:\n"
                                      "  - file: book/missing\n")
    res = polycode(project, "build")
    assert res.returncode == 1 and "jupyter-book build failed" in res.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_html_phase_exits_cleanly_and_leaves_no_temporaries(project, sig):
    """Issue 15 #11: one line and 143 (SIGTERM) or 130 (Ctrl-C), the old HTML in place, no .staging or .html-old."""
    from demo_book import polycode  # noqa: PLC0415

    (project / "_config.yml").write_text("title: demo\nexecute:\n  execute_notebooks: 'off'\n")
    (project / "_toc.yml").write_text("format: jb-book\nroot: book/_generated/01_demo\n")
    assert polycode(project, "build").returncode == 0
    page = project / "_build" / "html" / "book" / "_generated" / "01_demo.html"
    before = page.read_bytes()
    (project / "_toc.yml").write_text("format: jb-book\nroot: book/_generated/01_demo\n\n")  # the HTML is rebuilt
    # As from a terminal: a test run started in the background (CI, nohup) hands its children SIGINT ignored, and
    # Python then installs no Ctrl-C handler; the child restores the default before it starts.
    proc = subprocess.Popen([sys.executable, "-m", "polycode_utils.book", "--root", str(project), "build"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    # jupyter-book has started writing into this build's staging folder: the build is inside its HTML phase (a
    # leftover folder of an earlier build, or the folder alone, could be seen before the phase or after it)
    while not list((project / "_build").glob(f".staging-{proc.pid}/_build/*")) and time.time() < deadline:
        time.sleep(0.05)
    assert list((project / "_build").glob(f".staging-{proc.pid}/_build/*")), "the HTML phase never started"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("interrupted")
    assert not list((project / "_build").glob(".staging*")) and not list((project / "_build").glob(".html-old*"))
    assert page.read_bytes() == before


def test_damaged_html_is_rebuilt(project):
    """Issue 15 #13: HTML damaged after a build was never detected (the inputs had not changed)."""
    from demo_book import polycode  # noqa: PLC0415

    (project / "_config.yml").write_text("title: demo\nexecute:\n  execute_notebooks: 'off'\n")
    (project / "_toc.yml").write_text("format: jb-book\nroot: book/_generated/01_demo\n")
    assert polycode(project, "build").returncode == 0
    page = project / "_build" / "html" / "book" / "_generated" / "01_demo.html"
    good = page.read_text()
    res = polycode(project, "build")
    assert res.returncode == 0 and "html               cached" in res.stdout
    page.write_text(good[: len(good) // 2])
    res = polycode(project, "build")
    assert res.returncode == 0 and "html               built" in res.stdout and page.read_text() == good


def test_a_book_assembled_from_different_runs_says_so_on_its_pages(tmp_path):
    """Issue 15 #16: --only could leave chapters sharing networks describing different ones, without a word."""
    from demo_book import grouped_project, polycode  # noqa: PLC0415

    root = grouped_project(tmp_path)
    for source in (root / "notebooks").glob("*.py"):
        source.write_text(f"# %% [markdown]\n# # {source.stem}\n\n" + source.read_text())
    (root / "_config.yml").write_text("title: demo\nexecute:\n  execute_notebooks: 'off'\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/_generated/01_train\nchapters:\n"
                                   "  - file: book/_generated/02_measure\n  - file: book/_generated/03_other\n")
    assert polycode(root, "build").returncode == 0
    res = polycode(root, "build", "--only", "01_train", "-p", "net.width", "5")
    assert res.returncode == 0, res.stderr
    assert "pages come from different runs" in res.stderr and "group net, width differs: 01_train 5, 02_measure 8" \
        in res.stderr
    html = root / "_build" / "html" / "book" / "_generated"
    for page in ("01_train", "02_measure", "03_other"):
        assert "assembled from different runs" in (html / f"{page}.html").read_text()
    res = polycode(root, "build", "--only", "03_other", "--profile", "smoke")
    assert "profiles differ" in res.stderr and "03_other smoke" in res.stderr
    res = polycode(root, "build", "--profile", "smoke", "-p", "net.width", "5")  # one consistent book again
    assert res.returncode == 0 and "different runs" not in res.stderr
    for page in ("01_train", "02_measure", "03_other"):
        assert "assembled from different runs" not in (html / f"{page}.html").read_text()


def test_launch_buttons_only_where_the_sources_are_published(project):
    plain = Project.load(project)
    assert plain.repository == ""  # no published location: no repository, no launch buttons
    text = (project / "profiles.toml").read_text()
    (project / "profiles.toml").write_text(text.replace("[book]", '[book]\nrepository_url = "https://github.com/o/r/"'))
    published = Project.load(project)
    config = html.launch_config(published)
    assert "url: https://github.com/o/r\n" in config and "binderhub_url: https://mybinder.org" in config
    (project / "profiles.toml").write_text(text.replace("[book]", '[book]\nrepository_url = "github.com/o/r"'))
    with pytest.raises(BuildError, match="repository_url must be empty or https://HOST/OWNER/REPO"):
        Project.load(project)


def test_the_book_config_names_no_placeholder_repository():
    from pathlib import Path  # noqa: PLC0415

    config = (Path(__file__).resolve().parents[2] / "_config.yml").read_text()
    assert "launch_buttons:" not in config and "\nrepository:" not in config
