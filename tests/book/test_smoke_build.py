"""A smoke build of the whole book: every chapter executes and renders to HTML with its figures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory) -> Path:
    """The book's sources copied to a temporary root (the user's own outputs and cached networks stay untouched:
    the build points the chapters at this root through $POLYCODE_ROOT), built with smoke."""
    root = tmp_path_factory.mktemp("book")
    for name in ("profiles.toml", "_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root / name)
    for name in ("notebooks", "book", "polycode_utils", "studies"):
        shutil.copytree(ROOT / name, root / name,
                        ignore=shutil.ignore_patterns("_generated", "mathjax", "__pycache__", "*.ipynb"))
    res = subprocess.run([sys.executable, "-m", "polycode_utils.book", "--root", str(root), "build",
                          "--profile", "smoke"], capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stdout + res.stderr
    return root


def figures_on_page(nb: dict) -> int:
    """Images a notebook puts on its page: PNG outputs shown in place, and glued PNGs placed by {glue:figure}."""
    outputs = [out for cell in nb["cells"] for out in cell.get("outputs", [])]
    shown = sum("image/png" in out.get("data", {}) for out in outputs)
    glued = {out["metadata"]["scrapbook"]["name"] for out in outputs
             if "application/papermill.record/image/png" in out.get("data", {})}
    markdown = "\n".join("".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] == "markdown")
    placed = {name for name in glued if f"{{glue:figure}} {name}" in markdown or f"{{glue:figure}}`{name}`" in markdown}
    return shown + len(placed)


def test_every_chapter_renders_with_its_figures(smoke_book):
    html = smoke_book / "_build" / "html"
    assert (html / "index.html").exists()
    timings = json.loads((smoke_book / "book" / "_generated" / "timings.json").read_text())
    chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9]*.py"))
    assert [c["chapter"] for c in timings["chapters"]] == chapters and len(chapters) == 8
    assert [c["status"] for c in timings["chapters"]] == ["executed"] * len(chapters)
    for nb_path in sorted((smoke_book / "book" / "_generated").glob("[0-9]*.ipynb")):
        nb = json.loads(nb_path.read_text())
        n_figures = figures_on_page(nb)
        assert not any(out.get("output_type") == "error" for cell in nb["cells"] for out in cell.get("outputs", []))
        page = (html / "book" / "_generated" / f"{nb_path.stem}.html").read_text()
        assert "Provenance of this run" in page and "smoke" in page
        images = [line for line in page.split("<img")[1:] if "_images/" in line.split(">")[0]]
        assert len(images) >= n_figures, f"{nb_path.stem}: {len(images)} images for {n_figures} figures"
        if "In preparation" not in json.dumps(nb["cells"]):  # a written chapter draws the paper's figures
            assert n_figures >= 2, f"{nb_path.stem}: only {n_figures} figures on the page"
        for img in images:
            src = img.split('src="')[1].split('"')[0]
            assert (html / "book" / "_generated" / src).resolve().exists(), src
    # math renders offline: the page loads MathJax and its config file from _static, not from a CDN
    src = page.split('src="')[[i for i, s in enumerate(page.split('src="')) if "MathJax.js" in s.split('"')[0]][0]]
    script, _, query = src.split('"')[0].partition("?config=")
    assert not script.startswith("http")
    assert (html / "book" / "_generated" / script).resolve().exists()
    assert (html / "_static" / "mathjax" / "config" / f"{query}.js").exists()


def test_rebuild_with_nothing_changed_executes_nothing(smoke_book):
    res = subprocess.run([sys.executable, "-m", "polycode_utils.book", "--root", str(smoke_book), "build",
                          "--profile", "smoke"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    timings = json.loads((smoke_book / "book" / "_generated" / "timings.json").read_text())
    n = len(list((ROOT / "notebooks").glob("[0-9]*.py")))
    assert [c["status"] for c in timings["chapters"]] == ["cached"] * n and timings["html"] == "cached"


def test_every_chapter_shows_exercises_with_hidden_executed_solutions(smoke_book):
    for nb_path in sorted((smoke_book / "book" / "_generated").glob("[0-9]*.ipynb")):
        page = (smoke_book / "_build" / "html" / "book" / "_generated" / f"{nb_path.stem}.html").read_text()
        n_exercises = page.count('class="exercise admonition')
        assert 3 <= n_exercises <= 6, f"{nb_path.stem}: {n_exercises} exercises"
        assert page.count('class="solution dropdown') == n_exercises, f"{nb_path.stem}: solutions not behind a toggle"


@pytest.mark.parametrize("chapter", sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9]*.py")))
def test_assignments_grade_the_solutions_full_and_the_stubs_zero(smoke_book, chapter, tmp_path):
    cli = [sys.executable, "-m", "polycode_utils.book", "--root", str(smoke_book)]
    made = subprocess.run([*cli, "assignment", chapter, "-o", str(tmp_path)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    labels = json.loads((tmp_path / f"{chapter}.checks.json").read_text())["checks"]
    for version, expected in (("instructor", 1), ("student", 0)):
        notebook = tmp_path / (f"{chapter}.instructor.ipynb" if version == "instructor" else f"{chapter}.ipynb")
        res = subprocess.run([*cli, "grade", str(notebook), "--checks", str(tmp_path / f"{chapter}.checks.json"),
                              "--json", str(tmp_path / f"{version}.json")], capture_output=True, text=True,
                             timeout=900)
        assert res.returncode == 0, res.stdout + res.stderr
        points = json.loads((tmp_path / f"{version}.json").read_text())["points"]
        assert points == {label: expected for label in labels}, f"{chapter} {version}: {res.stdout}"
