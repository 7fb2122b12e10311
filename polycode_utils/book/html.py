"""HTML: jupyter-book renders the executed notebooks into _build/html, offline math included (MathJax shipped)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from polycode_utils.book.execute import write_atomic
from polycode_utils.book.params import BuildError, Project, default_values
from polycode_utils.book.results_page import write_results_table


class RenderError(BuildError):
    """jupyter-book failed on the executed chapters: not a bad parameter (exit status 1, not 2)."""


def mathjax_dir() -> Path | None:
    """MathJax shipped by the jupyter-server-mathjax package, so the book renders math offline."""
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.find_spec("jupyter_server_mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    return static if (static / "MathJax.js").exists() else None


def html_inputs_digest(project: Project) -> str:
    """Hash of everything the HTML is made from: config, hand-written pages, executed notebooks."""
    h = hashlib.sha256()
    files = [project.root / "_config.yml", project.root / "_toc.yml"]
    files += sorted(p for p in (project.root / "book").rglob("*") if p.is_file() and "_static" not in p.parts
                    and not p.name.startswith(".") and not p.name.endswith((".failed.ipynb", ".interrupted.ipynb"))
                    and p.name != "timings.json")
    for path in files:
        h.update(str(path.relative_to(project.root)).encode())
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()


def html_digest(html: Path) -> str:
    """Hash of the rendered book: every page's content, and the name and size of every other file."""
    h = hashlib.sha256()
    for path in sorted(p for p in html.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(html)).encode())
        h.update(path.read_bytes() if path.suffix == ".html" else str(path.stat().st_size).encode())
    return h.hexdigest()


ASSEMBLY_TAG = "polycode-assembly"


def assembly_mismatches(project: Project) -> list[str]:
    """Where the executed pages of the book come from different runs: different profiles, or different values of a
    parameter group shared by several chapters (chapters 4-6 describing different networks), one line each."""
    runs = {}
    for cid, chapter in project.chapters.items():
        try:
            meta = json.loads((project.generated / f"{cid}.ipynb").read_text())["metadata"]["polycode"]
        except (OSError, ValueError, KeyError):
            continue
        runs[cid] = (meta.get("profile"), {**default_values(chapter), **meta.get("parameters", {})})
    lines = []
    if len({profile for profile, _ in runs.values()}) > 1:
        lines.append("profiles differ: " + ", ".join(f"{cid} {profile}" for cid, (profile, _) in runs.items()))
    for group, names in project.groups.items():
        users = [cid for cid in runs if group in project.chapters[cid].uses]
        for name in sorted(names):
            seen = {cid: runs[cid][1].get(name) for cid in users}
            if len({json.dumps(v, sort_keys=True) for v in seen.values()}) > 1:
                lines.append(f"group {group}, {name} differs: " + ", ".join(f"{c} {v}" for c, v in seen.items()))
    return lines


def mark_assembly(project: Project, lines: list[str]) -> None:
    """Put a warning at the top of every executed page saying which runs the book mixes (none when it mixes
    none), replacing the previous one; the build prints the same lines."""
    for cid in project.chapters:
        path = project.generated / f"{cid}.ipynb"
        if not path.exists():
            continue
        nb = json.loads(path.read_text())
        cells = [c for c in nb["cells"] if ASSEMBLY_TAG not in c.get("metadata", {}).get("tags", [])]
        if lines:
            text = ("```{warning}\nThis book was assembled from different runs (built with `--only`): "
                    + "; ".join(lines) + ". Rebuild without `--only` for one consistent book.\n```")
            cells.insert(0, {"cell_type": "markdown", "id": ASSEMBLY_TAG, "metadata": {"tags": [ASSEMBLY_TAG]},
                             "source": text})
        if cells != nb["cells"]:
            nb["cells"] = cells
            write_atomic(path, json.dumps(nb, indent=1))


def launch_config(project: Project) -> str:
    """The _config.yml lines that give the pages Binder launch buttons, when the book's sources are published
    ([book] repository_url in profiles.toml); without it the book has none (the download button stays)."""
    return (f"\nrepository:\n  url: {project.repository}\n  branch: {project.branch}\n"
            "launch_buttons:\n  notebook_interface: jupyterlab\n  binderhub_url: https://mybinder.org\n")


def build_html(project: Project, force: bool) -> str:
    """jupyter-book build with warnings as errors into a staging folder, then swap it in for _build/html."""
    build = project.root / "_build"
    html = build / "html"
    stamp = build / ".html-inputs"
    static = project.root / "book" / "_static" / "mathjax"
    mixed = assembly_mismatches(project)
    mark_assembly(project, mixed)
    if mixed:
        print("polycode: warning: the book's pages come from different runs: " + "; ".join(mixed), file=sys.stderr)
    write_results_table(project)  # from the verdicts the executed chapters recorded
    digest = html_inputs_digest(project)
    if not force and html.exists() and stamp.exists() and stamp.read_text() == f"{digest}\n{html_digest(html)}":
        return "cached"  # the same inputs, and the HTML as it was written (a damaged page is rebuilt)
    source = mathjax_dir()
    if source is None:
        raise BuildError("the package jupyter-server-mathjax is not installed: it provides MathJax for offline math")
    if not static.exists():
        static.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, static.with_name(".mathjax-tmp"), dirs_exist_ok=True)
        os.replace(static.with_name(".mathjax-tmp"), static)
    for stale in [*build.glob(".staging*"), *build.glob(".html-old*")]:  # left by a killed build (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    staging = build / f".staging-{os.getpid()}"  # this build's own temporaries: cleanup never touches another's
    old = build / f".html-old-{os.getpid()}"
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(project.root), "--path-output", str(staging),
           "-W", "--keep-going", "-q"]
    if project.repository:  # published: Binder launch buttons (binder/postBuild makes the chapters' notebooks)
        staging.mkdir(parents=True, exist_ok=True)
        config = staging / "_config.yml"
        config.write_text((project.root / "_config.yml").read_text() + launch_config(project))
        cmd += ["--config", str(config)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not (staging / "_build" / "html" / "index.html").exists():
            log = build / "jupyter-book.log"
            build.mkdir(exist_ok=True)
            write_atomic(log, proc.stdout + proc.stderr)
            lines = (proc.stdout + proc.stderr).splitlines()
            said = [line for line in lines if any(ch.isalnum() for ch in line)]  # not the "====" rules
            tail = [line for line in said if "WARNING" in line or "ERROR" in line] or said[-3:]
            raise RenderError("jupyter-book build failed (warnings are errors); the previous HTML is untouched. "
                              f"Full log: {log}. First problems: " + " | ".join(tail[:5]))
        if html.exists():
            os.replace(html, old)
        os.replace(staging / "_build" / "html", html)
    finally:
        if old.exists() and not html.exists():  # interrupted between the two renames: the old book goes back
            os.replace(old, html)
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
    write_atomic(stamp, f"{digest}\n{html_digest(html)}")
    return "built"
