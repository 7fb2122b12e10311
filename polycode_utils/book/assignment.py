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

import copy
import json
import os
import re
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


_GRADER = '''import json as _json

_polycode_grades, _polycode_errors = {}, {}


def _polycode_grade(label, code):
    """One exercise's checks, run in the notebook's namespace: 1 point if they all pass, else 0."""
    try:
        exec(compile(code, f"<checks of {label}>", "exec"), globals())
        _polycode_grades[label] = 1
    except Exception as exc:  # noqa: BLE001 - any failure of a student's answer scores 0
        _polycode_grades[label], _polycode_errors[label] = 0, f"{type(exc).__name__}: {exc}"
'''


def grading_notebook(nb: Any, all_checks: dict[str, str]) -> Any:
    """The notebook to execute for grading: each check cell runs its full check through the grader, solution cells
    may raise (a stub does), and a last cell reports the points."""
    import nbformat  # noqa: PLC0415

    out = copy.deepcopy(nb)
    found = exercises(out)
    missing = sorted(set(all_checks) - {ex.label for ex in found})
    if missing:
        raise AssignmentError(f"the notebook lacks the exercises {missing} of its checks file")
    for ex in found:
        for i in ex.solution_cells:
            out.cells[i].metadata.setdefault("tags", []).append("raises-exception")
        out.cells[ex.check_cell].source = f"_polycode_grade({ex.label!r}, {all_checks.get(ex.label, '')!r})"
    first_code = next(i for i, c in enumerate(out.cells) if c.cell_type == "code"
                      and "parameters" not in c.metadata.get("tags", []))
    out.cells.insert(first_code, nbformat.v4.new_code_cell(_GRADER))
    out.cells.append(nbformat.v4.new_code_cell(
        f"print({GRADES_MARK!r} + _json.dumps({{'points': _polycode_grades, 'errors': _polycode_errors}}))"))
    return out


def grade(notebook: Path, checks_file: Path, values: dict[str, Any], root: Path, cwd: Path) -> dict[str, Any]:
    """Execute a student's (or the instructor's) notebook with the full checks and the chapter's parameter values;
    return {'points': {label: 0 or 1}, 'errors': {label: message}}."""
    import nbformat  # noqa: PLC0415
    import papermill  # noqa: PLC0415

    from polycode_utils.book.execute import KERNEL_NAME, ensure_kernel  # noqa: PLC0415
    from polycode_utils.book.paths import ROOT_VARIABLE  # noqa: PLC0415

    spec = json.loads(checks_file.read_text())
    nb = grading_notebook(nbformat.read(notebook, as_version=4), spec["checks"])
    ensure_kernel()
    os.environ[ROOT_VARIABLE] = str(root)
    src = notebook.with_name(f".{notebook.stem}.grading-{os.getpid()}.ipynb")
    done = notebook.with_name(f".{notebook.stem}.graded-{os.getpid()}.ipynb")
    nbformat.write(nb, src)
    try:
        try:
            papermill.execute_notebook(str(src), str(done), parameters=values, kernel_name=KERNEL_NAME,
                                       language="python", cwd=str(cwd), progress_bar=sys.stderr.isatty(),
                                       log_output=False)
        except papermill.PapermillExecutionError:  # a stub raised (its cell may): the run went on to the end
            if not done.exists():
                raise
        executed = nbformat.read(done, as_version=4)
    finally:
        src.unlink(missing_ok=True)
        done.unlink(missing_ok=True)
    for out in executed.cells[-1].get("outputs", []):
        text = out.get("text", "")
        if text.startswith(GRADES_MARK):
            result = json.loads(text[len(GRADES_MARK):])
            for label in spec["checks"]:  # an exercise whose check never ran scores 0
                result["points"].setdefault(label, 0)
            return result
    raise AssignmentError(f"{notebook}: the grading run printed no points")
