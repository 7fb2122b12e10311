"""The results page's table, written by the build from the verdicts the executed chapters record (glued records
named results_row_KEY, polycode_utils.reports.results), in the order of the chapters and of their records: nothing
in it is typed, and a new claim needs no hand-wired row. book/results.md includes it."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from polycode_utils.book.execute import write_atomic
from polycode_utils.book.params import BuildError, Project

ROW_PREFIX = "results_row_"  # polycode_utils.reports.results.ROW_PREFIX (the machinery imports no science)
TABLE = "results_table.txt"  # in book/_generated; not .md, which Sphinx would take for a page of its own
FIELDS = ("source", "says", "measured", "control", "verdict", "reason")
HEADER = ("| Claim | What the sources say | What this build measured | Control, and the effect over seeds | Verdict "
          "| Why |\n|---|---|---|---|---|---|\n")
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|$~])")


def literal(text: str) -> str:
    """A measured text as one table cell that MyST shows as written: no emphasis, math, links or column breaks."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def recorded_rows(notebook: Path) -> list[dict[str, str]]:
    """The results rows an executed chapter recorded, in the order it glued them."""
    nb = json.loads(notebook.read_text())
    rows = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name", "")
            if not name.startswith(ROW_PREFIX):
                continue
            row = ast.literal_eval(output["data"]["application/papermill.record/text/plain"])
            missing = [f for f in FIELDS if not isinstance(row.get(f), str)]
            if missing:
                raise BuildError(f"{notebook.name}: the results row {name} lacks {missing}")
            rows.append(row)
    return rows


def results_table(project: Project) -> str:
    """The results page's table: a row per recorded claim, the chapter linked, the measured values as written
    (chapters never executed have no rows: the build refuses the HTML before that)."""
    lines = []
    for number, cid in enumerate(project.chapters, 1):
        path = project.generated / f"{cid}.ipynb"
        for row in recorded_rows(path) if path.exists() else []:
            cells = [f"{row['source']} ({{doc}}`chapter {number} <_generated/{cid}>`)", row["says"],
                     literal(row["measured"]), literal(row["control"]), f"**{literal(row['verdict'])}**",
                     literal(row["reason"])]
            lines.append("| " + " | ".join(cells) + " |\n")
    return HEADER + "".join(lines) if lines else "No executed chapter of this build recorded a verdict.\n"


def write_results_table(project: Project) -> Path:
    """Write the table where book/results.md includes it (atomically: an interrupted build leaves the last one)."""
    out = project.generated / TABLE
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, results_table(project))
    return out
