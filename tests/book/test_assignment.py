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


def test_the_grading_notebook_runs_every_check_through_the_grader():
    nb = a.grading_notebook(a.student_version(chapter()), a.checks(chapter()))
    sources = [c.source for c in nb.cells]
    assert sources[0] == "n = 1" and sources[1].startswith("import json as _json")  # after the parameters
    assert "_polycode_grade('ex-two', 'assert x == 2\\nassert x > 1')" in sources
    assert all("raises-exception" in nb.cells[i].metadata["tags"] for i in (5, 8))  # the grader cell is 1
    namespace: dict = {}
    for cell in nb.cells[1:]:  # run it as a kernel would, cell by cell, a failing cell going on
        if cell.cell_type != "code":
            continue
        try:
            exec(cell.source, namespace)
        except NotImplementedError:
            pass
    assert namespace["_polycode_grades"] == {"ex-two": 0, "ex-list": 0}


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
