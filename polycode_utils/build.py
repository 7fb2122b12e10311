"""The book's build tool: validate parameters, execute chapters with papermill (cached, atomic), render HTML.

Usage: ``polycode build [--profile P] [--only CHAPTER ...] [-p NAME VALUE ...] [--force]`` and
``polycode run CHAPTER [-p NAME VALUE ...] [-o OUT.ipynb]``; ``polycode list`` shows chapters and parameters.
This module imports no science package (no numpy, no torch): it starts fast and only drives the notebooks.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_NAME = "profiles.toml"
KERNEL_NAME = "polycode"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
TYPES = ("int", "float", "str", "bool", "list[int]", "list[float]", "list[str]")


class BuildError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


# --------------------------------------------------------------------------------------------------------------
# Parameter declarations and validation


@dataclass(frozen=True)
class Param:
    """One declared chapter parameter: type, allowed range or choices."""

    name: str
    type: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    min_len: int = 1
    max_len: int | None = None
    help: str = ""

    def allowed(self) -> str:
        """Describe the allowed values in words, for error messages."""
        what = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}.get(
            self.type, f"a comma-separated list of {self.type[5:-1]}s ("
            + (f"exactly {self.min_len}" if self.max_len == self.min_len else f"at least {self.min_len}"
               + (f", at most {self.max_len}" if self.max_len else "")) + ")"
        )
        if self.choices is not None:
            return f"{what}, one of {', '.join(map(str, self.choices))}" if "list" not in self.type else (
                f"{what}, each one of {', '.join(map(str, self.choices))}")
        bounds = []
        if self.min is not None:
            bounds.append(f">= {self.min:g}")
        if self.max is not None:
            bounds.append(f"<= {self.max:g}")
        each = "each " if self.type.startswith("list") else ""
        return what + (f", {each}{' and '.join(bounds)}" if bounds else "")

    def coerce(self, value: Any) -> Any:
        """Convert a command-line string or a TOML value to this type and check it, or raise ValueError."""
        if self.type.startswith("list"):
            items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
            if not isinstance(items, list) or not self.min_len <= len(items) <= (self.max_len or len(items)):
                raise ValueError
            return [self._scalar(self.type[5:-1], v) for v in items]
        return self._scalar(self.type, value)

    def _scalar(self, kind: str, value: Any) -> Any:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes"):
                return True
            if str(value).lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if kind == "str":
            if not isinstance(value, str):
                raise ValueError
            out: Any = value
        elif kind == "int":
            if isinstance(value, bool) or isinstance(value, float):
                raise ValueError
            out = int(value)
        else:
            if isinstance(value, bool):
                raise ValueError
            out = float(value)
            if not math.isfinite(out):
                raise ValueError
        if self.choices is not None and out not in self.choices:
            raise ValueError
        if self.min is not None and out < self.min:
            raise ValueError
        if self.max is not None and out > self.max:
            raise ValueError
        return out


@dataclass(frozen=True)
class Chapter:
    """A chapter: its jupytext source and declared parameters."""

    id: str
    title: str
    source: Path
    params: dict[str, Param]
    budget_s: dict[str, float]
    values: dict[str, dict[str, Any]]  # profile name -> parameter values of that profile
    uses: tuple[str, ...] = ()  # parameter groups it shares with other chapters


@dataclass
class Project:
    """The book's configuration, read from profiles.toml at the project root."""

    root: Path
    library: Path
    generated: Path
    chapters: dict[str, Chapter]
    profiles: dict[str, dict]
    groups: dict[str, frozenset[str]]  # group name -> the parameters it declares

    @classmethod
    def load(cls, root: Path) -> "Project":
        path = root / CONFIG_NAME
        if not path.exists():
            raise BuildError(f"no {CONFIG_NAME} in {root}: run polycode from the project root or pass --root")
        cfg = tomllib.loads(path.read_text())
        book = cfg.get("book", {})
        profiles = cfg.get("profiles", {})
        groups = cfg.get("groups", {})
        chapters = {}
        for cid, spec in cfg.get("chapters", {}).items():
            params = {"profile": Param("profile", "str", choices=tuple(profiles), help="the build profile")}
            values: dict[str, dict[str, Any]] = {}
            for owner, block in _blocks(cid, spec, groups):
                for name, p in block.get("params", {}).items():
                    if name in params:
                        raise BuildError(f"{CONFIG_NAME}: parameter {name!r} of chapter {cid} is declared twice "
                                         f"(again in {owner})")
                    if p.get("type") not in TYPES:
                        raise BuildError(f"{CONFIG_NAME}: parameter {name!r} of {owner} has type "
                                         f"{p.get('type')!r}; allowed types: {', '.join(TYPES)}")
                    choices = tuple(p["choices"]) if "choices" in p else None
                    params[name] = Param(name, p["type"], p.get("min"), p.get("max"), choices,
                                         p.get("min_len", 1), p.get("max_len"), p.get("help", ""))
                for prof, vals in block.get("profile", {}).items():
                    values.setdefault(prof, {}).update(vals)
            budgets = spec.get("budget_s", {})
            for name in [*values, *budgets]:
                if name not in profiles:
                    raise BuildError(f"{CONFIG_NAME}: chapter {cid} names profile {name!r}; profiles are: "
                                     f"{', '.join(profiles)}")
            source = root / book.get("notebooks", "notebooks") / f"{cid}.py"
            chapters[cid] = Chapter(cid, spec.get("title", cid), source, params, budgets, values,
                                    tuple(spec.get("uses", ())))
        return cls(root, root / book.get("library", "polycode_utils"),
                   root / book.get("generated", "book/_generated"), chapters, profiles,
                   {g: frozenset(spec.get("params", {})) for g, spec in groups.items()})

    def chapter(self, name: str) -> Chapter:
        """Find a chapter by id (01_codes), number (1, 01) or name (codes)."""
        for cid in self.chapters:
            number, _, short = cid.partition("_")
            if name in (cid, number, number.lstrip("0"), short):
                return self.chapters[cid]
        raise BuildError(f"unknown chapter {name!r}; chapters are: {', '.join(self.chapters)}")

    def profile(self, name: str) -> dict:
        if name not in self.profiles:
            raise BuildError(f"unknown profile {name!r}; profiles are: {', '.join(self.profiles)}")
        return self.profiles[name]


def _blocks(cid: str, spec: dict, groups: dict) -> list[tuple[str, dict]]:
    """A chapter's own declarations and those of the parameter groups it uses (shared by several chapters)."""
    blocks = [(f"chapter {cid}", spec)]
    for group in spec.get("uses", []):
        if group not in groups:
            raise BuildError(f"{CONFIG_NAME}: chapter {cid} uses group {group!r}; groups are: {', '.join(groups)}")
        blocks.insert(0, (f"group {group}", groups[group]))
    return blocks


def check_shared_defaults(project: Project) -> None:
    """A parameter shared by several chapters (a group) must have the same default in every notebook."""
    for group, names in project.groups.items():
        seen: dict[str, tuple[str, str]] = {}
        for chapter in (c for c in project.chapters.values() if group in c.uses):
            defaults = notebook_parameters(chapter.source)
            for name in sorted(names & set(defaults)):
                first = seen.setdefault(name, (chapter.id, defaults[name]))
                if first[1] != defaults[name]:
                    raise BuildError(f"shared parameter {name!r} (group {group}) has default {first[1]} in chapter "
                                     f"{first[0]} but {defaults[name]} in chapter {chapter.id}; make them equal")


def notebook_parameters(source: Path) -> dict[str, str]:
    """Names and default source text of the assignments in the cell tagged 'parameters' of a jupytext file."""
    text = source.read_text()
    cells = text.split("\n# %%")
    for cell in cells:
        header, _, body = cell.partition("\n")
        if "parameters" in header and "tags=" in header:
            tree = ast.parse(body)
            return {t.id: ast.get_source_segment(body, node.value)
                    for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    if isinstance(t, ast.Name)}
    raise BuildError(f"{source}: no cell tagged 'parameters'")


def resolve_parameters(project: Project, chapter: Chapter, profile: str,
                       overrides: list[tuple[str, str]]) -> dict[str, Any]:
    """Profile values then command-line overrides for one chapter, each checked against its declaration."""
    declared = notebook_parameters(chapter.source)
    if set(declared) != set(chapter.params):
        missing = sorted(set(chapter.params) - set(declared))
        extra = sorted(set(declared) - set(chapter.params))
        raise BuildError(f"chapter {chapter.id}: the notebook's parameters cell and {CONFIG_NAME} disagree "
                         f"(declared but not in the notebook: {missing}; in the notebook but not declared: {extra})")
    values: dict[str, Any] = {"profile": profile}
    project.profile(profile)
    profile_values = chapter.values.get(profile, {})
    for origin, items in ((f"profile {profile!r}", list(profile_values.items())), ("command line", overrides)):
        for name, raw in items:
            param = chapter.params.get(name)
            if param is None:
                raise BuildError(f"unknown parameter {name!r} for chapter {chapter.id} ({origin}); its parameters "
                                 f"are: {', '.join(sorted(chapter.params))}")
            try:
                values[name] = param.coerce(raw)
            except (ValueError, TypeError):
                raise BuildError(f"parameter {name!r} of chapter {chapter.id} ({origin}): got {raw!r}; "
                                 f"allowed: {param.allowed()}") from None
    return values


def split_overrides(project: Project, chapters: list[Chapter],
                    pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Route each -p NAME VALUE: CHAPTER.NAME to one chapter, GROUP.NAME to the chapters sharing that group,
    NAME to every chapter being built that declares it."""
    routed: dict[str, list[tuple[str, str]]] = {c.id: [] for c in chapters}
    for name, value in pairs:
        prefix, _, pname = name.partition(".")
        if prefix in project.groups:
            if pname not in project.groups[prefix]:
                raise BuildError(f"unknown parameter {pname!r} of group {prefix}; its parameters are: "
                                 f"{', '.join(sorted(project.groups[prefix]))}")
            for c in chapters:
                if prefix in c.uses:
                    routed[c.id].append((pname, value))
            continue
        if "." in name:
            cname, _, pname = name.partition(".")
            target = project.chapter(cname)
            if target.id not in routed:
                raise BuildError(f"parameter {name!r} names chapter {target.id}, which is not being built")
            routed[target.id].append((pname, value))
            continue
        takers = [c for c in chapters if name in c.params]
        if not takers:
            known = sorted({p for c in chapters for p in c.params})
            raise BuildError(f"unknown parameter {name!r}; parameters of the chapters being built: "
                             f"{', '.join(known)}")
        for c in takers:
            routed[c.id].append((name, value))
    return routed


# --------------------------------------------------------------------------------------------------------------
# Hashing, atomic files, execution


def library_digest(library: Path) -> str:
    """Content hash of every Python file of the library (jupyter-cache alone misses these; jupyter-book #1633)."""
    h = hashlib.sha256()
    for path in sorted(library.rglob("*.py")):
        h.update(str(path.relative_to(library)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(chapter: Chapter, values: dict[str, Any], lib_digest: str) -> str:
    """What an executed chapter depends on: its source, its parameters, the library's source."""
    h = hashlib.sha256(chapter.source.read_bytes())
    h.update(json.dumps(values, sort_keys=True).encode())
    h.update(lib_digest.encode())
    return h.hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write a file through a temporary sibling and a rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def stored_key(path: Path) -> str | None:
    """The cache key recorded in an executed notebook's metadata, if any."""
    try:
        return json.loads(path.read_text())["metadata"]["polycode"]["cache_key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure_kernel() -> None:
    """Register this interpreter as the 'polycode' Jupyter kernel inside its own environment."""
    spec_dir = Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": "polycode", "language": "python"}
    target = spec_dir / "kernel.json"
    if not target.exists() or json.loads(target.read_text()) != spec:
        spec_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(target, json.dumps(spec, indent=1))


class Interrupted(Exception):
    """SIGTERM received: unwind like Ctrl-C so temporary files are moved aside."""


def _on_sigterm(signum, frame):  # pragma: no cover - exercised through a subprocess in tests
    raise Interrupted()


@dataclass
class Outcome:
    chapter: str
    status: str  # executed | cached | failed
    seconds: float
    budget_s: float | None = None
    failed_notebook: str | None = None
    extra: dict = field(default_factory=dict)


def execute(chapter: Chapter, values: dict[str, Any], out: Path, key: str, profile: str) -> Outcome:
    """Run one chapter with papermill into out, atomically; on failure keep the partial run as NAME.failed.ipynb."""
    import jupytext  # noqa: PLC0415  (imported here so that validation never waits for it)
    import nbformat  # noqa: PLC0415
    import papermill  # noqa: PLC0415

    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_name(f".{out.stem}.src-{os.getpid()}.ipynb")
    tmp = out.with_name(f".{out.stem}.partial-{os.getpid()}.ipynb")
    failed = out.with_name(f"{out.stem}.failed.ipynb")
    nbformat.write(jupytext.read(chapter.source), src)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(src), str(tmp), parameters=values, kernel_name=KERNEL_NAME,
                                   language="python",
                                   cwd=str(chapter.source.parent), progress_bar=sys.stderr.isatty(), log_output=False)
    except BaseException as exc:
        if tmp.exists():
            os.replace(tmp, failed)
        if isinstance(exc, (KeyboardInterrupt, Interrupted)):
            raise
        return Outcome(chapter.id, "failed", time.perf_counter() - start,
                       failed_notebook=str(failed) if failed.exists() else None,
                       extra={"error": str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)})
    finally:
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
    nb.metadata["polycode"] = {"cache_key": key, "profile": profile, "parameters": values,
                               "seconds": round(seconds, 2)}
    nbformat.write(nb, tmp)
    os.replace(tmp, out)
    failed.unlink(missing_ok=True)
    return Outcome(chapter.id, "executed", seconds)


def clean_stale(generated: Path) -> None:
    """Remove temporary files left by a run that was killed (never the executed notebooks themselves)."""
    if generated.exists():
        for stale in list(generated.glob(".*.partial-*.ipynb")) + list(generated.glob(".*.src-*.ipynb")):
            stale.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------------------
# HTML


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
                    and not p.name.startswith(".") and not p.name.endswith(".failed.ipynb")
                    and p.name != "timings.json")
    for path in files:
        h.update(str(path.relative_to(project.root)).encode())
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()


def build_html(project: Project, force: bool) -> str:
    """jupyter-book build with warnings as errors into a staging folder, then swap it in for _build/html."""
    build = project.root / "_build"
    html = build / "html"
    stamp = build / ".html-inputs"
    static = project.root / "book" / "_static" / "mathjax"
    digest = html_inputs_digest(project)
    if not force and html.exists() and stamp.exists() and stamp.read_text() == digest:
        return "cached"
    source = mathjax_dir()
    if source is None:
        raise BuildError("the package jupyter-server-mathjax is not installed: it provides MathJax for offline math")
    if not static.exists():
        static.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, static.with_name(".mathjax-tmp"), dirs_exist_ok=True)
        os.replace(static.with_name(".mathjax-tmp"), static)
    staging = build / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(project.root), "--path-output", str(staging),
           "-W", "--keep-going", "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not (staging / "_build" / "html" / "index.html").exists():
        log = build / "jupyter-book.log"
        build.mkdir(exist_ok=True)
        write_atomic(log, proc.stdout + proc.stderr)
        tail = [line for line in (proc.stdout + proc.stderr).splitlines() if "WARNING" in line or "ERROR" in line]
        raise BuildError("jupyter-book build failed (warnings are errors); the previous HTML is untouched. "
                         f"Full log: {log}. First problems: " + " | ".join(tail[:5]))
    old = build / ".html-old"
    shutil.rmtree(old, ignore_errors=True)
    if html.exists():
        os.replace(html, old)
    os.replace(staging / "_build" / "html", html)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    write_atomic(stamp, digest)
    return "built"


# --------------------------------------------------------------------------------------------------------------
# Commands


def summary(outcomes: list[Outcome], extra_lines: list[str]) -> str:
    """The per-chapter timing table printed at the end of a build."""
    lines = [f"{'chapter':<18} {'status':<9} {'seconds':>8} {'budget':>8}"]
    for o in outcomes:
        budget = f"{o.budget_s:8.0f}" if o.budget_s else f"{'-':>8}"
        flag = "  OVER BUDGET" if o.budget_s and o.status == "executed" and o.seconds > o.budget_s else ""
        lines.append(f"{o.chapter:<18} {o.status:<9} {o.seconds:8.1f} {budget}{flag}")
    return "\n".join(lines + extra_lines)


def cmd_build(project: Project, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    project.profile(args.profile)
    chapters = [project.chapter(c) for c in args.only] if args.only else list(project.chapters.values())
    routed = split_overrides(project, chapters, args.param)
    plan = [(c, resolve_parameters(project, c, args.profile, routed[c.id])) for c in chapters]  # all checked first
    check_shared_defaults(project)
    missing = [cid for cid in project.chapters if cid not in routed
               and not (project.generated / f"{cid}.ipynb").exists()]
    if missing and not args.no_html:
        raise BuildError(f"the HTML needs every chapter executed, and these never were: {', '.join(missing)}; "
                         "build them too (drop --only) or pass --no-html")
    ensure_kernel()
    project.generated.mkdir(parents=True, exist_ok=True)
    clean_stale(project.generated)
    lib = library_digest(project.library)
    outcomes: list[Outcome] = []
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        for i, (chapter, values) in enumerate(plan, 1):
            out = project.generated / f"{chapter.id}.ipynb"
            key = cache_key(chapter, values, lib)
            if not args.force and stored_key(out) == key:
                outcome = Outcome(chapter.id, "cached", 0.0)
            else:
                print(f"[{i}/{len(plan)}] executing {chapter.id} (profile {args.profile})", file=sys.stderr,
                      flush=True)
                outcome = execute(chapter, values, out, key, args.profile)
            outcome.budget_s = chapter.budget_s.get(args.profile)
            outcomes.append(outcome)
            if outcome.status == "failed":
                print(f"chapter {chapter.id} FAILED: {outcome.extra.get('error', '')}\n  the notebook with its "
                      f"traceback: {outcome.failed_notebook}\n  the previous executed notebook is untouched: {out}",
                      file=sys.stderr, flush=True)
    except (KeyboardInterrupt, Interrupted):
        print("interrupted: executed notebooks and HTML are as they were before this chapter started",
              file=sys.stderr)
        return 130
    failed = [o for o in outcomes if o.status == "failed"]
    extra = []
    html_status = "skipped"
    if not failed and not args.no_html:
        t0 = time.perf_counter()
        html_status = build_html(project, args.force)
        extra.append(f"{'html':<18} {html_status:<9} {time.perf_counter() - t0:8.1f}")
    total = time.perf_counter() - started
    extra.append(f"{'total':<18} {'':<9} {total:8.1f} {sum(o.budget_s or 0 for o in outcomes):8.0f}")
    print(summary(outcomes, extra), flush=True)
    timings = {"profile": args.profile, "total_s": round(total, 2), "html": html_status,
               "chapters": [{"chapter": o.chapter, "status": o.status, "seconds": round(o.seconds, 2),
                             "budget_s": o.budget_s} for o in outcomes]}
    write_atomic(project.generated / "timings.json", json.dumps(timings, indent=1))
    if failed:
        print(f"{len(failed)} chapter(s) failed; HTML not rebuilt", file=sys.stderr)
        return 1
    if html_status != "skipped":
        print(f"book: {project.root / '_build' / 'html' / 'index.html'}")
    return 0


def cmd_run(project: Project, args: argparse.Namespace) -> int:
    chapter = project.chapter(args.chapter)
    routed = split_overrides(project, [chapter], args.param)
    values = resolve_parameters(project, chapter, args.profile, routed[chapter.id])
    check_shared_defaults(project)
    out = Path(args.output) if args.output else project.root / "_build" / "runs" / f"{chapter.id}.ipynb"
    ensure_kernel()
    signal.signal(signal.SIGTERM, _on_sigterm)
    lib = library_digest(project.library)
    try:
        outcome = execute(chapter, values, out.resolve(), cache_key(chapter, values, lib), args.profile)
    except (KeyboardInterrupt, Interrupted):
        print("interrupted; nothing was overwritten", file=sys.stderr)
        return 130
    if outcome.status == "failed":
        print(f"chapter {chapter.id} FAILED: {outcome.extra.get('error', '')}; notebook with traceback: "
              f"{outcome.failed_notebook}", file=sys.stderr)
        return 1
    print(f"{chapter.id} executed in {outcome.seconds:.1f} s: {out}")
    return 0


def cmd_list(project: Project, args: argparse.Namespace) -> int:
    for chapter in project.chapters.values():
        print(f"{chapter.id}: {chapter.title}")
        defaults = notebook_parameters(chapter.source)
        for p in chapter.params.values():
            print(f"    {p.name:<16} default {defaults.get(p.name, '?'):<14} {p.allowed()}"
                  + (f"  ({p.help})" if p.help else ""))
    for name, prof in project.profiles.items():
        print(f"profile {name}: {prof.get('description', '')}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="polycode", description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".", help="project root holding profiles.toml (default: .)")
    sub = ap.add_subparsers(dest="command", required=True)
    param = dict(nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                 help="set a parameter (NAME or CHAPTER.NAME; lists comma-separated)")
    b = sub.add_parser("build", help="execute the chapters (cached) and render the HTML book")
    b.add_argument("--profile", default="default")
    b.add_argument("--only", nargs="+", metavar="CHAPTER", help="build only these chapters")
    b.add_argument("-p", "--param", **param)
    b.add_argument("--force", action="store_true", help="re-execute even when the cache is valid")
    b.add_argument("--no-html", action="store_true", help="execute only; leave the HTML as it is")
    r = sub.add_parser("run", help="execute one chapter with new parameters into a notebook of your choice")
    r.add_argument("chapter")
    r.add_argument("--profile", default="default")
    r.add_argument("-p", "--param", **param)
    r.add_argument("-o", "--output", help="output notebook (default: _build/runs/CHAPTER.ipynb)")
    sub.add_parser("list", help="chapters, their parameters and the profiles")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        project = Project.load(Path(args.root).resolve())
        return {"build": cmd_build, "run": cmd_run, "list": cmd_list}[args.command](project, args)
    except BuildError as exc:
        print(f"polycode: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
