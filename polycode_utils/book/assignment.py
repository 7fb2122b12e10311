"""Coursework from the chapters: student notebooks with stubs, an autograder check per exercise, and grading that
needs no Jupyter server (`polycode assignment`, `polycode grade`).

The chapter sources mark their exercises as nbgrader does, so an instructor who uses nbgrader can take them as they
are: a solution cell holds its answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION``; the cell after it,
tagged ``check``, holds visible asserts and, between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``,
hidden ones. The page's ``{solution-start} LABEL`` ... ``{solution-end}`` directives (sphinx-exercise) gate each
solution: its code runs in every build and is hidden behind a toggle. An exercise is worth one point: its checks,
hidden ones included, pass or they do not.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"  # nbgrader's stub
CHECK_TAG = "check"
GRADES_MARK = "POLYCODE_GRADES "
_START = re.compile(r"^```\{solution-start\}\s+(\S+)")
_END = re.compile(r"^```\{solution-end\}")


class AssignmentError(ValueError):
    """A chapter's exercises are malformed (a check without its exercise, markers that do not pair)."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter: its label, its solution cells and its check cell (indices into the notebook)."""

    label: str
    solution_cells: tuple[int, ...]
    check_cell: int


def _between(text: str, begin: str, end: str, replacement: str | None) -> str:
    """Replace every begin..end region of the lines of text (markers included) by replacement (None: drop)."""
    out, inside = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise AssignmentError(f"{begin!r} twice without {end!r}")
            inside = True
            if replacement is not None:
                indent = line[: len(line) - len(line.lstrip())]
                out += [indent + r for r in replacement.splitlines()]
        elif stripped == end:
            if not inside:
                raise AssignmentError(f"{end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise AssignmentError(f"{begin!r} without {end!r}")
    return "\n".join(out)


def _from_nbgrader(nb: Any) -> list[Exercise]:
    """The exercises of a notebook written by write_assignment, from its cells' nbgrader grade ids."""
    solutions: dict[str, list[int]] = {}
    found = []
    for i, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if "-solution-" in grade_id:
            solutions.setdefault(grade_id.rsplit("-solution-", 1)[0], []).append(i)
        elif grade_id.endswith("-check"):
            label = grade_id.removesuffix("-check")
            found.append(Exercise(label, tuple(solutions.get(label, ())), i))
    return found


def exercises(nb: Any) -> list[Exercise]:
    """The exercises of a notebook, in order: each {solution-start} label (or, in a notebook written by
    write_assignment, each nbgrader grade id) with its solution and check cells."""
    if any("nbgrader" in cell.metadata for cell in nb.cells):
        return _from_nbgrader(nb)
    found, label, solutions = [], None, []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if (m := _START.match(line.strip())) is not None:
                    label, solutions = m.group(1), []
                elif _END.match(line.strip()):
                    label = None
        elif BEGIN_SOLUTION in cell.source:
            if label is None:
                raise AssignmentError(f"cell {i}: a solution outside a {{solution-start}} ... {{solution-end}} block")
            solutions.append(i)
        elif CHECK_TAG in cell.metadata.get("tags", []):
            if label is None or not solutions:
                raise AssignmentError(f"cell {i}: a check cell without an exercise and its solution before it")
            found.append(Exercise(label, tuple(solutions), i))
            solutions = []
    labels = [e.label for e in found]
    if len(set(labels)) != len(labels):
        raise AssignmentError(f"exercise labels must be unique, got {labels}")
    return found


def _nbgrader(cell: Any, grade_id: str, *, solution: bool) -> None:
    """nbgrader's cell metadata (schema 3): a solution cell, or a locked one-point test cell."""
    meta = {"grade_id": grade_id, "locked": not solution, "schema_version": 3, "solution": solution,
            "grade": not solution}
    if not solution:
        meta["points"] = 1
    cell.metadata["nbgrader"] = meta


def instructor_version(nb: Any) -> Any:
    """The chapter with nbgrader metadata on its solution and check cells (nbgrader's source notebook)."""
    out = copy.deepcopy(nb)
    for ex in exercises(out):
        for k, i in enumerate(ex.solution_cells):
            _nbgrader(out.cells[i], f"{ex.label}-solution-{k}", solution=True)
        _nbgrader(out.cells[ex.check_cell], f"{ex.label}-check", solution=False)
    return out


def student_version(nb: Any) -> Any:
    """The chapter for a student: solution code replaced by stubs, hidden tests and solution prose removed."""
    out = instructor_version(nb)
    cells, inside = [], False
    for cell in out.cells:
        if cell.cell_type == "markdown":
            kept, closing = [], False
            for line in cell.source.splitlines():
                if _START.match(line.strip()):
                    inside = True
                elif _END.match(line.strip()):
                    inside, closing = False, True  # the directive's closing fence follows
                elif closing and line.strip() == "```":
                    closing = False
                elif not inside:
                    kept.append(line)
            text = "\n".join(kept).strip()
            if text:
                cell.source = text
                cells.append(cell)
            continue
        if BEGIN_SOLUTION in cell.source:
            cell.source = _between(cell.source, BEGIN_SOLUTION, END_SOLUTION, STUB)
            cell.outputs = []
        elif CHECK_TAG in cell.metadata.get("tags", []):
            cell.source = _between(cell.source, BEGIN_HIDDEN, END_HIDDEN, None).rstrip()
            cell.outputs = []
        cells.append(cell)
    out.cells = cells
    return out


def checks(nb: Any) -> dict[str, str]:
    """The autograder's check of each exercise: the check cell's code, hidden tests included (markers removed)."""
    markers = {BEGIN_HIDDEN, END_HIDDEN}
    return {ex.label: "\n".join(line for line in nb.cells[ex.check_cell].source.splitlines()
                                if line.strip() not in markers) for ex in exercises(nb)}


def assignment_paths(out_dir: Path, chapter_id: str) -> dict[str, Path]:
    """The three files of a chapter's assignment in out_dir: student, instructor, checks."""
    return {"student": out_dir / f"{chapter_id}.ipynb", "instructor": out_dir / f"{chapter_id}.instructor.ipynb",
            "checks": out_dir / f"{chapter_id}.checks.json"}


def write_assignment(source: Path, chapter_id: str, out_dir: Path) -> dict[str, Path]:
    """Write CHAPTER.ipynb (student), CHAPTER.instructor.ipynb (nbgrader source) and CHAPTER.checks.json."""
    import jupytext  # noqa: PLC0415  (the build tool starts without it)
    import nbformat  # noqa: PLC0415

    nb = jupytext.read(source)
    if not exercises(nb):
        raise AssignmentError(f"{chapter_id}: the chapter has no exercises")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = assignment_paths(out_dir, chapter_id)
    for kind, version in (("student", student_version(nb)), ("instructor", instructor_version(nb))):
        version.metadata["polycode"] = {"chapter": chapter_id, "assignment": kind}
        nbformat.write(version, paths[kind])
    paths["checks"].write_text(json.dumps({"chapter": chapter_id, "checks": checks(nb)}, indent=1))
    return paths


def answer_names(nb: Any, ex: Exercise) -> list[str]:
    """The exercise's answer: the names its solution cells assign at top level that its check reads (not what
    they import: the library's functions are the checking run's own)."""
    assigned: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            assigned.append(node.name)
            return
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            assigned.append(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    for i in ex.solution_cells:
        visit(ast.parse(nb.cells[i].source))
    check = ast.parse(nb.cells[ex.check_cell].source)
    read = {n.id for n in ast.walk(check) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return sorted(set(assigned) & read)


# The student's run: each check cell becomes an export of the exercise's answer as plain data (JSON, and .npz for
# arrays, never pickle) into answers/ of the run's throw-away folder; no check and no instructor code runs there.
_EXPORTER = '''def _polycode_export(label, names):
    import json as _json
    from pathlib import Path as _Path

    import numpy as _np

    plain, arrays, problems = {}, {}, {}
    for name in names:
        if name not in globals():
            problems[name] = "not defined"
            continue
        value = globals()[name]
        if isinstance(value, (_np.ndarray, _np.generic)) and value.dtype != object:
            arrays[name] = _np.asarray(value)
            continue
        try:
            _json.dumps(value)
            plain[name] = value
        except (TypeError, ValueError):
            problems[name] = f"not plain data (a {type(value).__name__})"
    folder = _Path("answers")
    folder.mkdir(exist_ok=True)
    _np.savez(folder / f"{label}.npz", **arrays)
    (folder / f"{label}.json").write_text(_json.dumps({"plain": plain, "problems": problems}))
'''

# The checking run: the chapter's own source, reference solutions included, in a fresh kernel where no student code
# ever ran; each check runs on the reference's answers first (as in the book), then on a copy of the namespace with
# the student's answer (plain data) in place of the reference's, so later cells compute what they always do.
_CHECKER = '''import json as _json

_polycode_grades, _polycode_errors = {}, {}


def _polycode_check(label, code, names, folder):
    """One exercise's checks on the student's answer: 1 point if they all pass, else 0 with the reason. The
    reference's own checks run first, in the chapter's namespace, as in every build (what they import, later cells
    use); the student's run in a copy of it, with the student's answer in place of the reference's."""
    from pathlib import Path as _Path

    import numpy as _np

    exec(compile(code, f"<reference checks of {label}>", "exec"), globals())
    try:
        record = _Path(folder) / f"{label}.json"
        if not record.exists():
            raise RuntimeError("the student's notebook stopped before this exercise")
        answer = _json.loads(record.read_text())
        if answer["problems"]:
            raise RuntimeError("; ".join(f"{k}: {v}" for k, v in answer["problems"].items()))
        with _np.load(_Path(folder) / f"{label}.npz", allow_pickle=False) as arrays:
            answer["plain"].update({k: arrays[k] for k in arrays.files})
        space = {k: v for k, v in globals().items() if k not in names}
        space.update({k: v for k, v in answer["plain"].items() if k in names})
        exec(compile(code, f"<checks of {label}>", "exec"), space)
        _polycode_grades[label] = 1
    except Exception as exc:  # noqa: BLE001 - any failure of a student's answer scores 0
        _polycode_grades[label], _polycode_errors[label] = 0, f"{type(exc).__name__}: {exc}"
'''


def _after_parameters(nb: Any) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                and "parameters" not in c.metadata.get("tags", []))


def student_run_notebook(nb: Any, answers: dict[str, list[str]]) -> Any:
    """The student's notebook as the sandbox runs it: solution cells may raise (a stub does), each check cell
    exports the exercise's answer names instead of checking them (keeping only its imports)."""
    import nbformat  # noqa: PLC0415

    out = copy.deepcopy(nb)
    found = exercises(out)
    missing = sorted(set(answers) - {ex.label for ex in found})
    if missing:
        raise AssignmentError(f"the notebook lacks the exercises {missing} of its checks file")
    for ex in found:
        for i in ex.solution_cells:
            out.cells[i].metadata.setdefault("tags", []).append("raises-exception")
        imports = [ast.unparse(node) for node in ast.parse(out.cells[ex.check_cell].source).body
                   if isinstance(node, (ast.Import, ast.ImportFrom))]  # later cells of the chapter may use them
        out.cells[ex.check_cell].source = "\n".join(
            [*imports, f"_polycode_export({ex.label!r}, {answers.get(ex.label, [])!r})"])
        out.cells[ex.check_cell].metadata.setdefault("tags", []).append("raises-exception")
    out.cells.insert(_after_parameters(out), nbformat.v4.new_code_cell(_EXPORTER))
    return out


def checking_notebook(reference: Any, all_checks: dict[str, str], folder: Path) -> tuple[Any, dict[str, list[str]]]:
    """The chapter's source with every check cell running its full check on the student's answer (read from
    folder), and a last cell that reports the points; with each exercise's answer names."""
    import nbformat  # noqa: PLC0415

    out = copy.deepcopy(reference)
    found = exercises(out)
    names = {ex.label: answer_names(out, ex) for ex in found}
    missing = sorted(set(all_checks) - set(names))
    if missing:
        raise AssignmentError(f"the chapter lacks the exercises {missing} of the checks file")
    for ex in found:
        out.cells[ex.check_cell].source = (f"_polycode_check({ex.label!r}, {all_checks.get(ex.label, '')!r}, "
                                           f"{names[ex.label]!r}, {str(folder)!r})")
    out.cells.insert(_after_parameters(out), nbformat.v4.new_code_cell(_CHECKER))
    out.cells.append(nbformat.v4.new_code_cell(
        f"print({GRADES_MARK!r} + _json.dumps({{'points': _polycode_grades, 'errors': _polycode_errors}}))"))
    return out, names


@dataclass(frozen=True)
class Limits:
    """What the student's run may take: seconds per cell and in all, and bytes of memory (address space)."""

    cell_s: float = 600.0
    total_s: float = 1800.0
    memory_bytes: int = 8 << 30


def grade(notebook: Path, checks_file: Path, source: Path, values: dict[str, Any], root: Path,
          limits: Limits = Limits()) -> dict[str, Any]:
    """Grade a returned notebook: run it in a sandbox (a throw-away folder holding only the notebook, a separate
    process with limits, no checks anywhere), export each exercise's answer as plain data, then run the chapter's
    own source (reference solutions) in a fresh kernel with each answer swapped in for its checks, hidden ones
    included. Returns {'points': {label: 0 or 1}, 'errors': {label: reason}, 'stopped': why the student's run
    ended early, or None}."""
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    import jupytext  # noqa: PLC0415
    import nbformat  # noqa: PLC0415

    from polycode_utils.book.execute import ensure_kernel  # noqa: PLC0415

    spec = json.loads(checks_file.read_text())
    reference = jupytext.read(source)
    try:
        returned = nbformat.read(notebook, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds for a file that is no notebook
        raise AssignmentError(f"{notebook}: not a notebook nbformat can read ({type(exc).__name__})") from None
    with tempfile.TemporaryDirectory(prefix="polycode-grade-") as tmp:
        sandbox = Path(tmp) / "run"
        sandbox.mkdir()
        answers = Path(tmp) / "answers"
        checking, names = checking_notebook(reference, spec["checks"], answers)
        student = student_run_notebook(returned, names)
        nbformat.write(student, sandbox / "student.ipynb")
        ensure_kernel()
        job = {"parameters": values, "root": str(root), "cell_s": limits.cell_s, "total_s": limits.total_s,
               "memory_bytes": limits.memory_bytes}
        proc = subprocess.Popen([sys.executable, "-m", "polycode_utils.book.sandbox"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=sandbox,
                                start_new_session=True)
        try:
            _, err = proc.communicate(json.dumps(job), timeout=limits.total_s + 120 if limits.total_s else None)
        except subprocess.TimeoutExpired:  # the sandbox's own timer failed: it goes, with its kernel
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
        except BaseException:  # Ctrl-C or a signal: nothing of the student's run is left behind
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        stopped = (sandbox / "stopped.txt").read_text() if (sandbox / "stopped.txt").exists() else (
            None if proc.returncode == 0 else f"the student's run failed (status {proc.returncode}): {err[-300:]}")
        if (sandbox / "answers").exists():
            os.replace(sandbox / "answers", answers)
        else:
            answers.mkdir()
        reached = {p.stem for p in answers.glob("*.json")}
        result = _run_checks(checking, values, root, source.parent, Path(tmp))
    for label in spec["checks"]:  # an exercise whose check never ran scores 0
        result["points"].setdefault(label, 0)
        if label not in reached and stopped:  # the student's run ended before it: say why
            result["errors"][label] = stopped
    result["stopped"] = stopped
    return result


def _run_checks(checking: Any, values: dict[str, Any], root: Path, cwd: Path, tmp: Path) -> dict[str, Any]:
    """Execute the checking notebook (trusted: the chapter's source) and read the points it prints."""
    import nbformat  # noqa: PLC0415
    import papermill  # noqa: PLC0415

    from polycode_utils.book.execute import KERNEL_NAME  # noqa: PLC0415
    from polycode_utils.book.paths import ROOT_VARIABLE  # noqa: PLC0415

    os.environ[ROOT_VARIABLE] = str(root)
    src, done = tmp / "checking.ipynb", tmp / "checked.ipynb"
    nbformat.write(checking, src)
    papermill.execute_notebook(str(src), str(done), parameters=values, kernel_name=KERNEL_NAME, language="python",
                               cwd=str(cwd), progress_bar=sys.stderr.isatty(), log_output=False)
    executed = nbformat.read(done, as_version=4)
    for out in executed.cells[-1].get("outputs", []):
        text = out.get("text", "")
        if text.startswith(GRADES_MARK):
            return json.loads(text[len(GRADES_MARK):])
    raise AssignmentError("the checking run printed no points")
