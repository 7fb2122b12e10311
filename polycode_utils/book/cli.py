"""The build tool's command line: ``polycode build | run | list`` (also ``python -m polycode_utils.book``).

Usage: ``polycode build [--profile P] [--only CHAPTER ...] [-p NAME VALUE ...] [--force]`` and
``polycode run CHAPTER [-p NAME VALUE ...] [-o OUT.ipynb]``; ``polycode list`` shows chapters and parameters;
``polycode train [--profile P] [-p NAME VALUE ...]`` trains chapter 4's networks once into the shipped store.
It imports no science module (no numpy, no torch): it starts fast and only drives the notebooks.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from polycode_utils import __version__
from polycode_utils.book.execute import (TIMEOUT_FACTOR, TIMEOUT_MIN_EXTRA_S, UNWIND_SIGNALS, Interrupted, Outcome,
                                         cache_key, chapter_timeout, clean_stale, code_digest,
                                         ensure_kernel, execute, exit_status, on_signal, refresh_prose, remember,
                                         restore, stored_key, write_atomic)
from polycode_utils.book.assignment import AssignmentError, Limits, assignment_paths, grade, write_assignment
from polycode_utils.book.html import RenderError, build_html
from polycode_utils.book.lock import checkout_lock
from polycode_utils.book.provenance import code_commit
from polycode_utils.book.params import (BuildError, Project, check_shared_defaults, default_values,
                                        notebook_parameters, resolve_parameters, split_overrides)


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
    chapters = ([project.chapter(c) for c in dict.fromkeys(args.only)] if args.only  # each chapter once
                else list(project.chapters.values()))
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
    outcomes: list[Outcome] = []
    try:
        for i, (chapter, values) in enumerate(plan, 1):
            out = project.generated / f"{chapter.id}.ipynb"
            key = cache_key(chapter, {**default_values(chapter), **values},
                            code_digest(chapter.source, project.library))
            store = project.root / "_build" / "executed" / chapter.id
            if not args.force and (stored_key(out) == key or restore(store, key, out)):
                refresh_prose(out, chapter.source)  # the same code cells: only the prose may be new
                outcome = Outcome(chapter.id, "cached", 0.0)
            else:
                print(f"[{i}/{len(plan)}] executing {chapter.id} (profile {args.profile})", file=sys.stderr,
                      flush=True)
                outcome = execute(chapter, values, out, key, args.profile, project.root,
                                  chapter_timeout(chapter.budget_s.get(args.profile), args.timeout))
                if outcome.status == "executed":
                    remember(store, out, key)
            outcome.budget_s = chapter.budget_s.get(args.profile)
            outcomes.append(outcome)
            if outcome.status == "failed":
                print(f"chapter {chapter.id} FAILED: {outcome.extra.get('error', '')}\n  the notebook with its "
                      f"traceback: {outcome.failed_notebook}\n  the previous executed notebook is untouched: {out}",
                      file=sys.stderr, flush=True)
    except (KeyboardInterrupt, Interrupted) as exc:
        print("interrupted: executed notebooks and HTML are as they were before this chapter started",
              file=sys.stderr)
        return exit_status(exc)
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


def refuse_unsafe_target(out: Path, project: Project, option: str) -> None:
    """An output never replaces what is not a regular file (a device, a pipe: the write is a rename onto it), and
    never lands among the book's sources (a chapter's folder, where jupytext pairs would overwrite the chapter, or
    the library); --force does not lift this."""
    if out.exists() and not out.is_file() and not out.is_dir():
        raise BuildError(f"{option} {out}: not a regular file or folder; refusing to replace it")
    where = out.resolve()
    sources = {c.source.parent.resolve() for c in project.chapters.values()} | {project.library.resolve()}
    for folder in sources:
        if where == folder or folder in where.parents:
            raise BuildError(f"{option} {out}: inside the book's sources ({folder}); write somewhere else")


def output_path(chapter_id: str, output: str, force: bool, project: Project) -> Path:
    """Where `polycode run -o OUTPUT` writes: into OUTPUT when it is a folder; never over a file that is not a
    notebook this tool wrote (a chapter's source, say) unless --force; never over what refuse_unsafe_target
    refuses."""
    out = Path(output)
    if out.is_dir() or output.endswith(("/", "\\")):
        out = out / f"{chapter_id}.ipynb"
    refuse_unsafe_target(out, project, "-o")
    if force:
        return out
    if out.suffix != ".ipynb":
        raise BuildError(f"-o {output}: the output is an executed notebook and must end in .ipynb (or name a "
                         "folder); --force writes it anyway")
    if out.exists() and stored_key(out) is None:
        raise BuildError(f"-o {output}: {out} exists and is not a notebook polycode wrote (or is damaged); refusing "
                         "to overwrite it (--force overwrites)")
    return out


def cmd_run(project: Project, args: argparse.Namespace) -> int:
    chapter = project.chapter(args.chapter)
    routed = split_overrides(project, [chapter], args.param)
    values = resolve_parameters(project, chapter, args.profile, routed[chapter.id])
    check_shared_defaults(project)
    out = output_path(chapter.id, args.output, args.force, project) if args.output else (
        project.root / "_build" / "runs" / f"{chapter.id}.ipynb")
    ensure_kernel()
    key = cache_key(chapter, {**default_values(chapter), **values}, code_digest(chapter.source, project.library))
    try:
        outcome = execute(chapter, values, out.resolve(), key, args.profile, project.root,
                          chapter_timeout(chapter.budget_s.get(args.profile), args.timeout))
    except (KeyboardInterrupt, Interrupted) as exc:
        print("interrupted; nothing was overwritten", file=sys.stderr)
        return exit_status(exc)
    if outcome.status == "failed":
        print(f"chapter {chapter.id} FAILED: {outcome.extra.get('error', '')}; notebook with traceback: "
              f"{outcome.failed_notebook}", file=sys.stderr)
        return 1
    budget = chapter.budget_s.get(args.profile)
    over = (f" (OVER its {budget:.0f} s budget on the {args.profile} profile)"
            if budget and outcome.seconds > budget else "")
    print(f"{chapter.id} executed in {outcome.seconds:.1f} s: {out}{over}")
    return 0


TRAINING_CHAPTER = "04_autoencoder"  # the chapter whose parameters name the networks that `train` ships


def cmd_train(project: Project, args: argparse.Namespace) -> int:
    """Train the dropout grid of chapter 4's parameters (profile, overrides) and write it into networks/ with its
    manifest, in a child process (`python -m polycode_utils.networks.grid`: this tool imports no torch)."""
    chapter = project.chapter(TRAINING_CHAPTER)
    routed = split_overrides(project, [chapter], args.param)
    values = {**default_values(chapter), **resolve_parameters(project, chapter, args.profile, routed[chapter.id])}
    command = " ".join(["polycode train --profile", shlex.quote(args.profile),
                        *(f"-p {shlex.quote(n)} {shlex.quote(v)}" for n, v in args.param)])
    child = [sys.executable, "-m", "polycode_utils.networks.grid", "--parameters", json.dumps(values),
             "--store", str(project.root / "networks"), "--cache-dir", str(project.root / "_build" / "cache"),
             "--data-root", str(project.root / "data"), "--commit", code_commit(project.root), "--command", command]
    return subprocess.run(child, cwd=project.root, check=False).returncode


def cmd_assignment(project: Project, args: argparse.Namespace) -> int:
    chapter = project.chapter(args.chapter)
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise BuildError(f"-o {out_dir}: not a folder; the assignment is three files written into a folder")
    refuse_unsafe_target(out_dir, project, "-o")
    there = [p.name for p in assignment_paths(out_dir, chapter.id).values() if p.exists() or p.is_symlink()]
    if there and not args.force:
        raise BuildError(f"-o {out_dir}: already holds {', '.join(there)} (a student's work, perhaps); refusing to "
                         "overwrite (--force overwrites)")
    try:
        paths = write_assignment(chapter.source, chapter.id, out_dir)
    except AssignmentError as exc:
        raise BuildError(str(exc)) from None
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def cmd_grade(project: Project, args: argparse.Namespace) -> int:
    notebook = Path(args.notebook)
    checks_file = Path(args.checks) if args.checks else notebook.with_name(
        notebook.name.removesuffix(".ipynb").removesuffix(".instructor") + ".checks.json")
    if not notebook.exists() or not checks_file.exists():
        raise BuildError(f"grade: need the notebook and its checks file; missing "
                         f"{', '.join(str(p) for p in (notebook, checks_file) if not p.exists())}")
    try:
        spec = json.loads(checks_file.read_text())
        chapter, checks = project.chapter(spec["chapter"]), spec["checks"]
    except (ValueError, KeyError, TypeError):
        raise BuildError(f"grade: {checks_file} is not a checks file `polycode assignment` wrote") from None
    if not isinstance(checks, dict):
        raise BuildError(f"grade: {checks_file} is not a checks file `polycode assignment` wrote")
    routed = split_overrides(project, [chapter], args.param)
    values = resolve_parameters(project, chapter, args.profile, routed[chapter.id])
    try:
        result = grade(notebook.resolve(), checks_file, chapter.source, values, project.root,
                       Limits(args.cell_timeout, args.timeout, int(args.memory_gb * 2**30)))
    except AssignmentError as exc:
        raise BuildError(str(exc)) from None
    points = result["points"]
    for label, got in points.items():
        print(f"{label}: {got}/1" + (f"  ({result['errors'][label]})" if label in result["errors"] else ""))
    print(f"total: {sum(points.values())}/{len(points)}"
          + (f"\nthe student's run stopped early: {result['stopped']}" if result["stopped"] else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
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


def seconds(text: str) -> float:
    """--timeout's value: a number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds, a finite number >= 0 (0: no limit), got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="polycode", description=__doc__.split("\n")[0])
    ap.add_argument("--version", action="version", version=f"polycode {__version__}")
    ap.add_argument("--root", default=".", help="project root holding profiles.toml (default: .)")
    sub = ap.add_subparsers(dest="command", required=True)
    param = dict(nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                 help="set a parameter (NAME or CHAPTER.NAME; lists comma-separated)")
    b = sub.add_parser("build", help="execute the chapters (cached) and render the HTML book")
    b.add_argument("--profile", default="default")
    b.add_argument("--only", nargs="+", metavar="CHAPTER", help="build only these chapters")
    b.add_argument("-p", "--param", **param)
    b.add_argument(PAIR, dest="param", action="append", type=lambda s: tuple(s.split("=", 1)), help=argparse.SUPPRESS)
    b.add_argument("--force", action="store_true", help="re-execute even when the cache is valid")
    b.add_argument("--no-html", action="store_true", help="execute only; leave the HTML as it is")
    r = sub.add_parser("run", help="execute one chapter with new parameters into a notebook of your choice")
    r.add_argument("chapter")
    r.add_argument("--profile", default="default")
    r.add_argument("-p", "--param", **param)
    r.add_argument(PAIR, dest="param", action="append", type=lambda s: tuple(s.split("=", 1)), help=argparse.SUPPRESS)
    r.add_argument("-o", "--output", help="output notebook, or a folder to write CHAPTER.ipynb into "
                   "(default: _build/runs/CHAPTER.ipynb); never over a file polycode did not write")
    r.add_argument("--force", action="store_true", help="let -o overwrite any file")
    for p in (b, r):
        p.add_argument("--no-wait", action="store_true",
                       help="refuse, instead of waiting, when another build of this checkout is running")
        p.add_argument("--timeout", type=seconds, default=None, metavar="SECONDS",
                       help=f"stop a chapter that executes longer than this (default: {TIMEOUT_FACTOR:g} x its "
                       f"profile's budget, at least {TIMEOUT_MIN_EXTRA_S:.0f} s over it; none without a budget; "
                       "0: no limit)")
    t = sub.add_parser("train", help="train chapter 4's networks for a profile once (long: run it in the "
                       "background; it resumes) and write them with their manifest into networks/, which builds use")
    t.add_argument("--profile", default="default")
    t.add_argument("-p", "--param", **param)
    t.add_argument(PAIR, dest="param", action="append", type=lambda s: tuple(s.split("=", 1)), help=argparse.SUPPRESS)
    sub.add_parser("list", help="chapters, their parameters and the profiles")
    a = sub.add_parser("assignment", help="a chapter as coursework: the student notebook (solutions replaced by "
                       "stubs), the instructor's (nbgrader metadata) and the autograder's checks")
    a.add_argument("chapter")
    a.add_argument("-o", "--output", required=True, help="folder to write the three files into")
    a.add_argument("--force", action="store_true", help="overwrite the three files if the folder holds them")
    g = sub.add_parser("grade", help="execute a student's notebook with the full checks (hidden ones included) "
                       "and print the points per exercise; needs no Jupyter server")
    g.add_argument("notebook")
    g.add_argument("--checks", help="the checks file (default: CHAPTER.checks.json beside the notebook)")
    g.add_argument("--profile", default="smoke", help="the parameters to run the chapter with (default: smoke)")
    g.add_argument("-p", "--param", **param)
    g.add_argument(PAIR, dest="param", action="append", type=lambda s: tuple(s.split("=", 1)), help=argparse.SUPPRESS)
    g.add_argument("--json", help="also write the points and errors to this file")
    g.add_argument("--timeout", type=seconds, default=Limits.total_s, metavar="SECONDS",
                   help=f"the student's run may take this long in all (default {Limits.total_s:.0f})")
    g.add_argument("--cell-timeout", type=seconds, default=Limits.cell_s, metavar="SECONDS",
                   help=f"and this long per cell (default {Limits.cell_s:.0f})")
    g.add_argument("--memory-gb", type=seconds, default=Limits.memory_bytes / 2**30, metavar="GB",
                   help=f"and this much memory (default {Limits.memory_bytes / 2**30:.0f})")
    g.add_argument("--no-wait", action="store_true",
                   help="refuse, instead of waiting, when another build of this checkout is running")
    return ap


PAIR = "--param-pair"


def pair_params(argv: list[str]) -> list[str]:
    """`-p NAME VALUE` as one `--param-pair=NAME=VALUE` token, so that a VALUE starting with "-" (-inf, -0.5) is
    a value to check against its declaration, not taken for an option by argparse."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in ("-p", "--param") and i + 2 < len(argv) and "=" not in argv[i + 1]:
            out.append(f"{PAIR}={argv[i + 1]}={argv[i + 2]}")
            i += 3
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(pair_params(sys.argv[1:] if argv is None else list(argv)))
    try:
        project = Project.load(Path(args.root).resolve())
        if args.command == "list":
            return cmd_list(project, args)
        if args.command == "assignment":
            return cmd_assignment(project, args)
        if args.command == "train":  # no checkout lock: it may run for hours beside builds (the cache is atomic)
            return cmd_train(project, args)
        for signum in UNWIND_SIGNALS:
            signal.signal(signum, on_signal)
        with checkout_lock(project.root, wait=not args.no_wait):
            return {"build": cmd_build, "run": cmd_run, "grade": cmd_grade}[args.command](project, args)
    except (KeyboardInterrupt, Interrupted) as exc:  # e.g. during the HTML phase: one line, no traceback
        print("interrupted: the previous HTML is untouched" if args.command == "build" else "interrupted",
              file=sys.stderr)
        return exit_status(exc)
    except RenderError as exc:
        print(f"polycode: error: {exc}", file=sys.stderr)
        return 1
    except BuildError as exc:
        print(f"polycode: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder without write permission: one line, temporaries removed
        print(f"polycode: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
