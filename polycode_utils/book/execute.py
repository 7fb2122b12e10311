"""Execution and cache: run a chapter with papermill into its executed notebook, atomically, keyed by what it reads."""

from __future__ import annotations

import ast
import hashlib
import html
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polycode_utils.book.params import Chapter
from polycode_utils.book.paths import ROOT_VARIABLE
from polycode_utils.book.provenance import code_commit, package_versions

KERNEL_NAME = "polycode"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# The kernel's own warnings (e.g. about its unencrypted local connection) would clutter every build's output, and so
# would its "KeyboardInterrupt caught in kernel", logged at ERROR when the client interrupts it while shutting it
# down (seen now and then in fresh clones); a cell's errors reach the notebook, not this log. The debugger that
# ipykernel loads wants frozen modules off (as `ipykernel install` sets it).
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


def _imported_modules(tree: ast.Module, package: str, current: str) -> set[str]:
    """Dotted names of the package's modules a parsed file imports (absolute and relative imports; a name imported
    from a package may be a submodule, so it is listed too and dropped later if no such file exists)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == package}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = current.split(".")[:len(current.split(".")) - node.level]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] == package:
                found.add(module)
                found |= {f"{module}.{a.name}" for a in node.names}
    return found


def _module_file(library: Path, dotted: str) -> Path | None:
    parts = dotted.split(".")[1:]
    for candidate in (library.joinpath(*parts).with_suffix(".py") if parts else None,
                      library.joinpath(*parts, "__init__.py")):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def import_closure(source: Path, library: Path) -> list[Path]:
    """The library files a chapter can run: the modules it imports, theirs, and so on (with their packages'
    __init__ files), never the rest of the library; the build tool only where a chapter imports it."""
    package = library.name
    todo, seen = [(source, "__chapter__")], {}
    while todo:
        path, dotted = todo.pop()
        for module in _imported_modules(ast.parse(path.read_bytes(), filename=str(path)), package,
                                        dotted if path.name != "__init__.py" else dotted + ".__init__"):
            parts = module.split(".")
            for i in range(1, len(parts) + 1):  # the module and every package above it
                name = ".".join(parts[:i])
                file = _module_file(library, name)
                if file is not None and file not in seen:
                    seen[file] = name
                    todo.append((file, name))
    return sorted(seen)


def code_digest(source: Path, library: Path) -> str:
    """Hash of the code of a chapter's import closure, comments and formatting left out (the syntax tree), so
    that a comment edited in the library re-executes nothing and an edit to a module re-executes only the chapters
    that import it (jupyter-cache misses library changes altogether: jupyter-book #1633)."""
    h = hashlib.sha256()
    for path in import_closure(source, library):
        h.update(str(path.relative_to(library)).encode())
        h.update(ast.dump(ast.parse(path.read_bytes(), filename=str(path))).encode())
    return h.hexdigest()


def code_cells(source: Path) -> list[tuple[str, bool]]:
    """What of a chapter's source runs: each code cell's text and whether it is the parameters cell (papermill
    injects after it); markdown and cell tags that only shape the page are left out."""
    import jupytext  # noqa: PLC0415  (imported here so that validation never waits for it)

    return [(cell.source, "parameters" in cell.metadata.get("tags", []))
            for cell in jupytext.read(source).cells if cell.cell_type == "code"]


def cache_key(chapter: Chapter, values: dict[str, Any], lib_digest: str) -> str:
    """What an executed chapter depends on: its code cells (so a prose edit re-renders the page without executing
    it), its resolved parameters (defaults included, so an explicit default is the same run), the code it imports,
    and the versions of the packages that compute its numbers."""
    h = hashlib.sha256(json.dumps(code_cells(chapter.source)).encode())
    h.update(json.dumps(values, sort_keys=True).encode())
    h.update(lib_digest.encode())
    h.update(json.dumps(package_versions(), sort_keys=True).encode())
    return h.hexdigest()


def _prose(nb: Any) -> list[tuple[str, str, list[str]]]:
    """What of a notebook the source's prose decides: its markdown and raw cells, and every cell's tags (the
    cells papermill or the HTML build add left out)."""
    added = ("injected-parameters", "polycode-assembly")
    return [(c.cell_type, c.source if c.cell_type != "code" else "", list(c.metadata.get("tags", [])))
            for c in nb.cells if not any(t in c.metadata.get("tags", []) for t in added)]


def with_current_prose(executed: Any, source: Path) -> Any:
    """An executed notebook with the prose of the chapter's current source: its markdown and the code cells' tags
    from the source, the outputs from the run (the cache key guarantees the code cells are the same ones)."""
    import jupytext  # noqa: PLC0415

    runs = [c for c in executed.cells if c.cell_type == "code"
            and "injected-parameters" not in c.metadata.get("tags", [])]
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    cells, ran = [], iter(runs)
    for cell in jupytext.read(source).cells:
        if cell.cell_type == "code":
            run = next(ran)
            run.metadata["tags"] = cell.metadata.get("tags", [])
            cells.append(run)
            if "parameters" in run.metadata["tags"]:
                cells.extend(injected)
        else:
            cells.append(cell)
    executed.cells = cells
    return executed


def refresh_prose(out: Path, source: Path) -> None:
    """Rewrite a cached executed notebook with the current source's prose (with_current_prose), only when that
    prose differs from the notebook's (so an unchanged chapter leaves its notebook, and the HTML, as they were)."""
    import jupytext  # noqa: PLC0415
    import nbformat  # noqa: PLC0415

    nb = nbformat.read(out, as_version=4)
    if _prose(nb) != _prose(jupytext.read(source)):
        write_atomic(out, nbformat.writes(with_current_prose(nb, source)))


def write_atomic(path: Path, text: str) -> None:
    """Write a file through a temporary sibling and a rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:  # a full disk, a signal: no half-written temporary left behind
        tmp.unlink(missing_ok=True)
        raise


def stored_key(path: Path) -> str | None:
    """The cache key recorded in an executed notebook's metadata, if any, and only when the notebook is a valid
    one (nbformat's schema): a damaged notebook under a valid key is stale, so it runs again instead of failing
    the HTML."""
    import nbformat  # noqa: PLC0415

    try:
        text = path.read_text()
        key = json.loads(text)["metadata"]["polycode"]["cache_key"]
        nbformat.validate(nbformat.reads(text, as_version=4))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError):
        return None
    return key


KEEP_PER_CHAPTER = 3  # executed notebooks kept per chapter, so that reverting a change executes nothing


def remember(store: Path, out: Path, key: str) -> None:
    """Keep a copy of an executed notebook under its cache key (the newest few per chapter)."""
    store.mkdir(parents=True, exist_ok=True)
    write_atomic(store / f"{key}.ipynb", out.read_text())
    for old in sorted(store.glob("*.ipynb"), key=lambda p: p.stat().st_mtime_ns)[:-KEEP_PER_CHAPTER]:
        old.unlink(missing_ok=True)


def restore(store: Path, key: str, out: Path) -> bool:
    """Put back the executed notebook kept under this key, if there is one; whether it was there."""
    kept = store / f"{key}.ipynb"
    if stored_key(kept) != key:
        return False
    write_atomic(out, kept.read_text())
    os.utime(kept)  # recently used: kept longest
    return True


def ensure_kernel() -> None:
    """Register this interpreter as the 'polycode' Jupyter kernel inside its own environment (ipykernel writes the
    spec, jupyter_client installs it), only when the registered one differs, so that builds running side by side
    never see it half-installed."""
    from ipykernel.kernelspec import write_kernel_spec  # noqa: PLC0415
    from jupyter_client.kernelspec import KernelSpecManager  # noqa: PLC0415

    installed = Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json"
    with tempfile.TemporaryDirectory() as tmp:
        spec = write_kernel_spec(Path(tmp) / KERNEL_NAME, overrides={"display_name": KERNEL_NAME},
                                 extra_arguments=KERNEL_ARGUMENTS, python_arguments=["-Xfrozen_modules=off"])
        if not installed.exists() or json.loads(installed.read_text()) != json.loads(
                (Path(spec) / "kernel.json").read_text()):
            KernelSpecManager().install_kernel_spec(spec, KERNEL_NAME, prefix=sys.prefix)


def stderr_to_page(nb: Any, log: Path | None = None) -> int:
    """What a chapter may print: stdout stays as it is; everything it writes to stderr (warnings, a recovered
    checkpoint's note) becomes a rendered warning box on its page, so the HTML build (stderr is an error there)
    never fails on it and the reader sees it; a text progress bar's carriage-return updates are dropped. Every
    stderr text also goes to the build log `log`. Returns the number of warning boxes made."""
    import nbformat  # noqa: PLC0415

    boxes, logged = 0, []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.outputs:
            if out.get("output_type") != "stream" or out.get("name") != "stderr":
                outputs.append(out)
                continue
            text = "".join(out.get("text", ""))
            logged.append(f"--- cell {i} ---\n{text}")
            lines = [line.rsplit("\r", 1)[-1] for line in text.splitlines()]
            lines = [line for line in lines if line.strip() and "it/s]" not in line and "s/it]" not in line]
            if not lines:
                continue
            boxes += 1
            body = html.escape("\n".join(lines))
            outputs.append(nbformat.v4.new_output("display_data", {
                "text/plain": "\n".join(lines),
                "text/html": '<div class="admonition warning"><p class="admonition-title">The chapter reported'
                             f'</p><pre style="white-space: pre-wrap">{body}</pre></div>'}))
        cell.outputs = outputs
    if log is not None and logged:
        log.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(log, "\n".join(logged))
    return boxes


def record_failure(partial: Path, kept: Path, exc: BaseException) -> None:
    """Keep a run that did not finish as `kept`, with what stopped it (the error and its traceback, or the signal)
    and when, in a first cell and in its metadata; an interrupted run never replaces a failed one's record."""
    import traceback  # noqa: PLC0415

    import nbformat  # noqa: PLC0415

    when = time.strftime("%Y-%m-%d %H:%M:%S %z")
    if isinstance(exc, (KeyboardInterrupt, Interrupted)):
        what = f"interrupted by {exc.args[0] if isinstance(exc, Interrupted) else 'SIGINT'} (Ctrl-C or a signal)"
        detail = ""
    else:
        what = "failed: " + (str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc))
        detail = "".join(traceback.format_exception(exc))
    try:
        nb = nbformat.read(partial, as_version=4)
    except Exception:  # noqa: BLE001 - no partial notebook: the record alone
        nb = nbformat.v4.new_notebook()
    text = f"**This run {what}** at {when}."
    if detail:
        text += "\n\n```text\n" + detail + "\n```"
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
    nb.metadata["polycode_failure"] = {"what": what, "time": when, "traceback": detail}
    write_atomic(kept, nbformat.writes(nb))


class Interrupted(Exception):
    """SIGTERM or SIGHUP received: unwind like Ctrl-C so temporary files are moved aside."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


UNWIND_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # handled like Ctrl-C (a closed terminal, a polite kill)


def on_signal(signum, frame):  # pragma: no cover - exercised through a subprocess in tests
    """Signal handler: turn SIGTERM or SIGHUP into Interrupted."""
    raise Interrupted(signum)


class TimedOut(Exception):
    """A chapter ran past its execution timeout (chapter_timeout)."""


def on_alarm(signum, frame):
    """Signal handler for the execution timeout's timer."""
    raise TimedOut()


# A chapter is stopped after TIMEOUT_FACTOR times its profile's budget, and never sooner than TIMEOUT_MIN_EXTRA_S
# after the budget (a loaded machine, the tests' builds side by side) [ours]; `--timeout` overrides it.
TIMEOUT_FACTOR, TIMEOUT_MIN_EXTRA_S = 4.0, 600.0


def chapter_timeout(budget_s: float | None, override_s: float | None = None) -> float | None:
    """Seconds a chapter may execute: override_s if given (0: no limit), else from its budget (None without one)."""
    if override_s is not None:
        return override_s or None
    return None if budget_s is None else max(TIMEOUT_FACTOR * budget_s, budget_s + TIMEOUT_MIN_EXTRA_S)


def exit_status(exc: BaseException) -> int:
    """The shell's convention for a process ended by a signal: 128 + its number (130 Ctrl-C, 143 SIGTERM)."""
    return 128 + (exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT))


@dataclass
class Outcome:
    """How one chapter's execution went, for the summary table and timings.json."""

    chapter: str
    status: str  # executed | cached | failed
    seconds: float
    budget_s: float | None = None
    failed_notebook: str | None = None
    extra: dict = field(default_factory=dict)


def execute(chapter: Chapter, values: dict[str, Any], out: Path, key: str, profile: str, root: Path,
            timeout_s: float | None = None) -> Outcome:
    """Run one chapter with papermill into out, atomically; on failure keep the partial run as NAME.failed.ipynb.
    The kernel runs in the chapter's folder (as in Jupyter) and finds the project through $POLYCODE_ROOT. A run
    longer than timeout_s seconds is stopped and recorded as failed (in the main thread: a timer signal)."""
    import jupytext  # noqa: PLC0415  (imported here so that validation never waits for it)
    import nbformat  # noqa: PLC0415
    import papermill  # noqa: PLC0415

    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_name(f".{out.stem}.src-{os.getpid()}.ipynb")
    tmp = out.with_name(f".{out.stem}.partial-{os.getpid()}.ipynb")
    failed = out.with_name(f"{out.stem}.failed.ipynb")
    nbformat.write(jupytext.read(chapter.source), src)
    os.environ[ROOT_VARIABLE] = str(root)  # inherited by the kernel papermill starts
    start = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, on_alarm) if timeout_s else None
    try:
        if timeout_s:
            signal.setitimer(signal.ITIMER_REAL, timeout_s)
        papermill.execute_notebook(str(src), str(tmp), parameters=values, kernel_name=KERNEL_NAME,
                                   language="python",
                                   cwd=str(chapter.source.parent), progress_bar=sys.stderr.isatty(), log_output=False)
    except BaseException as exc:
        if timeout_s:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if isinstance(exc, TimedOut):
            exc = TimedOut(f"timed out: stopped after {timeout_s:.0f} s (the chapter's timeout; --timeout SECONDS "
                           "changes it, 0 removes it)")
        interrupted = isinstance(exc, (KeyboardInterrupt, Interrupted))
        kept = out.with_name(f"{out.stem}.interrupted.ipynb") if interrupted else failed  # never over a failure
        try:
            record_failure(tmp if tmp.exists() else src, kept, exc)
        finally:  # a full disk may fail the record too: the temporaries go all the same
            tmp.unlink(missing_ok=True)
        if interrupted:
            raise
        return Outcome(chapter.id, "failed", time.perf_counter() - start,
                       failed_notebook=str(failed) if failed.exists() else None,
                       extra={"error": str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)})
    finally:
        if timeout_s:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        src.unlink(missing_ok=True)
    seconds = time.perf_counter() - start
    nb = nbformat.read(tmp, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:  # parameters are shown once, in the box
            cell.metadata["tags"] = [*tags, "remove-cell"]
        if cell.cell_type == "code":  # tqdm.auto progress widgets mean something only live: keep the page clean
            cell.outputs = [o for o in cell.outputs if WIDGET_MIME not in o.get("data", {})]
    nb.metadata.pop("widgets", None)
    stderr_to_page(nb, root / "_build" / "logs" / f"{chapter.id}.stderr.log")
    nb.metadata["polycode"] = {"cache_key": key, "profile": profile, "parameters": values,
                               "seconds": round(seconds, 2), "commit": code_commit(root),
                               "versions": package_versions()}
    try:
        write_atomic(out, nbformat.writes(nb))
    finally:
        tmp.unlink(missing_ok=True)
    failed.unlink(missing_ok=True)
    out.with_name(f"{out.stem}.interrupted.ipynb").unlink(missing_ok=True)
    return Outcome(chapter.id, "executed", seconds)


def clean_stale(generated: Path) -> None:
    """Remove temporary files left by a run that was killed (never the executed notebooks themselves)."""
    if generated.exists():
        for stale in [*generated.glob(".*.partial-*.ipynb"), *generated.glob(".*.src-*.ipynb"),
                      *generated.glob(".*.tmp-*")]:
            stale.unlink(missing_ok=True)
