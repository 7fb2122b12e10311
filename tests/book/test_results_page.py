"""The results page's table (polycode_utils.book.results_page): written from the rows the executed chapters record,
in their order, each measured text shown as written."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from polycode_utils.book import results_page
from polycode_utils.book.params import BuildError, Project

TRICKY = "|Spearman| = 0.9 for D* and D_opt; $5 <b> [x](y) `code` 2 * 3 \\ ~"


def _output(name: str, value: object) -> dict:
    """A cell output as myst_nb's glue writes it (display=False)."""
    return {"output_type": "display_data", "data": {"application/papermill.record/text/plain": repr(value)},
            "metadata": {"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}}}


def _row(key: str, **fields: str) -> dict[str, str]:
    return {"key": key, "source": f"Fig. {key}", "says": f"the claim {key}", "measured": f"m {key}",
            "control": f"c {key}", "verdict": "agrees", "reason": f"r {key}", **fields}


def _executed(path: Path, outputs: list[list[dict]]) -> None:
    cells = [{"cell_type": "code", "source": "", "metadata": {}, "outputs": out, "execution_count": 1}
             for out in outputs]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def _cells(markdown: str) -> list[list[str]]:
    """The table's body cells as a reader sees them (CommonMark with tables, as MyST parses it)."""
    page = MarkdownIt("commonmark").enable("table").render(markdown)
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)[1:]
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td>(.*?)</td>", r, re.S)]
            for r in rows]


def test_rows_come_in_the_order_recorded_with_the_chapter_linked_and_the_texts_as_written(project):
    p = Project.load(project)
    p.generated.mkdir(parents=True)
    _executed(p.generated / "01_demo.ipynb", [
        [_output("claim_b", "agrees"), _output("results_row_b", _row("b", measured=TRICKY))],
        [_output("other", 1.0), _output("results_row_a", _row("a", verdict="not distinguished from its control"))]])
    table = results_page.results_table(p)
    assert "{doc}`chapter 1 <_generated/01_demo>`" in table
    cells = _cells(table.replace("{doc}`chapter 1 <_generated/01_demo>`", "ch1"))
    assert [row[0] for row in cells] == ["Fig. b (ch1)", "Fig. a (ch1)"]
    assert cells[0][2] == TRICKY and len(cells[0]) == 6  # no pipe split the row, no markup took effect
    assert cells[1][4] == "not distinguished from its control"
    results_page.write_results_table(p)
    assert (p.generated / results_page.TABLE).read_text() == table


def test_a_row_without_its_fields_names_itself_and_no_rows_say_so(project):
    p = Project.load(project)
    p.generated.mkdir(parents=True)
    assert results_page.results_table(p).startswith("No executed chapter")  # not executed: no rows
    _executed(p.generated / "01_demo.ipynb", [[_output("results_row_x", {"key": "x", "verdict": "agrees"})]])
    with pytest.raises(BuildError, match=r"results_row_x lacks \['source', 'says', 'measured'"):
        results_page.results_table(p)
