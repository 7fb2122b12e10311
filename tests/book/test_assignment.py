"""Coursework from a chapter (polycode_utils.book.assignment): the student version, checks, grading notebook."""

from __future__ import annotations

import nbformat
import pytest

from polycode_utils.book import assignment as a


def chapter() -> nbformat.NotebookNode:
    """A chapter with two exercises, marked as the book marks them."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    check = code("assert x == 2\n### BEGIN HIDDEN TESTS\nassert x > 1\n### END HIDDEN TESTS")
    check.metadata["tags"] = ["check"]
    check2 = code("assert y == [1]")
    check2.metadata["tags"] = ["check"]
    params = code("n = 1")
    params.metadata["tags"] = ["parameters"]
    return nbformat.v4.new_notebook(cells=[
        params, code("import math"), md("# Chapter\n\nProse."),
        md("```{exercise} Two\n:label: ex-two\nSet x to 2.\n```\n\n```{solution-start} ex-two\n:class: dropdown\n```"),
        code("### BEGIN SOLUTION\nx = 1 + 1\n### END SOLUTION\nprint(x)"), check,
        md("Because 1 + 1 = 2.\n\n```{solution-end}\n```\n\n```{exercise} A list\n:label: ex-list\nMake y.\n```\n\n"
           "```{solution-start} ex-list\n:class: dropdown\n```"),
        code("def make():\n    ### BEGIN SOLUTION\n    return [1]\n    ### END SOLUTION\ny = make()"), check2,
        md("```{solution-end}\n```\n\nAfter the exercises.")])


def test_exercises_are_found_with_their_solution_and_check_cells():
    assert a.exercises(chapter()) == [a.Exercise("ex-two", (4,), 5), a.Exercise("ex-list", (7,), 8)]


def test_the_student_version_keeps_prose_and_prompts_and_removes_answers():
    student = a.student_version(chapter())
    text = "\n".join(c.source for c in student.cells)
    assert "Set x to 2." in text and "Make y." in text and "After the exercises." in text and "Prose." in text
    assert "1 + 1" not in text and "Because" not in text and "return [1]" not in text  # answers and their prose
    assert "HIDDEN" not in text and "assert x > 1" not in text and "assert x == 2" in text  # visible checks stay
    assert "solution-start" not in text and "solution-end" not in text
    assert text.count("raise NotImplementedError()") == 2
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()" in text  # the stub keeps the indentation
    assert a.exercises(student) == [a.Exercise("ex-two", (4,), 5), a.Exercise("ex-list", (7,), 8)]  # from nbgrader


def test_checks_hold_the_hidden_tests_and_nbgrader_metadata_marks_the_cells():
    assert a.checks(chapter()) == {"ex-two": "assert x == 2\nassert x > 1", "ex-list": "assert y == [1]"}
    inst = a.instructor_version(chapter())
    assert inst.cells[4].metadata["nbgrader"] == {"grade_id": "ex-two-solution-0", "locked": False,
                                                  "schema_version": 3, "solution": True, "grade": False}
    assert inst.cells[5].metadata["nbgrader"]["points"] == 1 and inst.cells[5].metadata["nbgrader"]["locked"]


def _run(nb, namespace):
    """Run a notebook's code cells as a kernel would, cell by cell, a failing cell going on."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            try:
                exec(cell.source, namespace)
            except NotImplementedError:
                pass


def test_answers_leave_the_student_s_run_as_plain_data_and_are_checked_where_no_student_code_ran(tmp_path,
                                                                                                  monkeypatch):
    """Issue 25 #1: the checks ran in the student's namespace, so redefining the grader or `abs` scored full marks."""
    ref = chapter()
    assert [a.answer_names(ref, ex) for ex in a.exercises(ref)] == [["x"], ["y"]]  # `make` is not read by a check
    checking, names = a.checking_notebook(ref, a.checks(ref), tmp_path / "answers")
    assert names == {"ex-two": ["x"], "ex-list": ["y"]}
    student = a.student_version(ref)
    student.cells[4].source = "x = 3\n_polycode_grade = _polycode_check = lambda *a: None\nabs = lambda v: 0"
    run = a.student_run_notebook(student, names)
    assert "assert" not in "".join(c.source for c in run.cells if c.cell_type == "code")  # no check runs there
    monkeypatch.chdir(tmp_path)
    _run(run, {})
    assert sorted(p.name for p in (tmp_path / "answers").iterdir()) == ["ex-list.json", "ex-list.npz",
                                                                        "ex-two.json", "ex-two.npz"]
    monkeypatch.undo()
    namespace: dict = {}
    _run(checking, namespace)
    assert namespace["_polycode_grades"] == {"ex-two": 0, "ex-list": 0}  # the stub left y undefined
    assert "AssertionError" in namespace["_polycode_errors"]["ex-two"]
    assert namespace["_polycode_errors"]["ex-list"] == "RuntimeError: y: not defined"
    assert namespace["x"] == 2  # the reference's value is back for the cells after the check


@pytest.mark.parametrize("cells, problem", [
    (lambda nb: nb.cells[:4] + nb.cells[5:], "a check cell without an exercise"),
    (lambda nb: [nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")], "a solution outside"),
])
def test_malformed_exercises_are_refused_with_the_cell(cells, problem):
    nb = chapter()
    nb.cells = cells(nb)
    with pytest.raises(a.AssignmentError, match=problem):
        a.student_version(nb)


def test_unpaired_markers_are_refused():
    with pytest.raises(a.AssignmentError, match="without"):
        a._between("### BEGIN SOLUTION\nx = 1", a.BEGIN_SOLUTION, a.END_SOLUTION, a.STUB)


HOSTILE = {  # the returned notebook's two solution cells (ex-two, ex-list) -> the points it must score
    "honest": (("x = 2", "def make():\n    return [1]\ny = make()"), {"ex-two": 1, "ex-list": 1}),
    "patches the grader and builtins": (
        ("x = 3\nimport builtins\nbuiltins.abs = lambda v: 0\n_polycode_grade = _polycode_check = lambda *a: None\n"
         "_polycode_grades = {'ex-two': 1}",
         "y = [1]"), {"ex-two": 0, "ex-list": 1}),
    "looks for the instructor's files": (
        ("import os\nseen = os.listdir('.') + [open(f'/proc/{os.getppid()}/cmdline').read()]\n"
         "x = 3 if any('checks' in s or s.endswith('.py') for s in seen) else 2", "y = [1]"),
        {"ex-two": 1, "ex-list": 1}),
    "hangs": (("x = 2", "while True:\n    pass"), {"ex-two": 1, "ex-list": 0}),
    "kills its kernel": (("x = 2", "import os\nos._exit(3)"), {"ex-two": 1, "ex-list": 0}),
}


def test_grading_a_hostile_notebook_scores_what_its_answers_earned(tmp_path):
    """Issue 25 #1-#3: a student who redefined the grader or patched builtins scored full marks; one who read the
    checks file's path from the grader's arguments could read the hidden tests; `while True: pass` hung grading."""
    import json
    import subprocess
    import sys

    import jupytext

    nb = chapter()
    nb.cells[0].source = 'profile = "default"\nn = 1'
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_demo.py").write_text(jupytext.writes(nb, fmt="py:percent"))
    (tmp_path / "profiles.toml").write_text('[book]\nlibrary = "lib"\n[profiles.smoke]\n[profiles.default]\n'
                                            '[chapters.01_demo]\ntitle = "demo"\n[chapters.01_demo.params]\n'
                                            'n = { type = "int", min = 1, max = 10 }\n')
    (tmp_path / "lib").mkdir()
    cli = [sys.executable, "-m", "polycode_utils.book", "--root", str(tmp_path)]
    hw = tmp_path / "hw"
    assert subprocess.run([*cli, "assignment", "01_demo", "-o", str(hw)], capture_output=True).returncode == 0
    student = nbformat.read(hw / "01_demo.ipynb", as_version=4)
    cells = [i for i, c in enumerate(student.cells) if "YOUR CODE HERE" in c.source]
    for case, (answers, expected) in HOSTILE.items():
        returned = nbformat.from_dict(json.loads(nbformat.writes(student)))
        for i, text in zip(cells, answers):
            returned.cells[i].source = text
        path = tmp_path / f"{case.replace(' ', '-')}.ipynb"
        nbformat.write(returned, path)
        res = subprocess.run([*cli, "grade", str(path), "--checks", str(hw / "01_demo.checks.json"), "--profile",
                              "default", "--cell-timeout", "5", "--json", str(tmp_path / "out.json")],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        result = json.loads((tmp_path / "out.json").read_text())
        assert result["points"] == expected, (case, result)
        if case == "hangs":
            assert "longer than 5 s" in result["errors"]["ex-list"]
        if case == "kills its kernel":
            assert "kernel died" in result["errors"]["ex-list"]
