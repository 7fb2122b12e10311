"""The house rules of the repository: CI runs the README's command, the science knows no book, chapters stay thin,
no block of code is written twice, the book's pages are all in its table of contents."""

from __future__ import annotations

import ast
import re
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "polycode_utils"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
MAX_CHAPTER_MEAN = 110  # code lines per chapter outside the parameters cell, averaged over the chapters
MAX_CELL = 20  # code lines in one cell
MIN_REPEAT = 6  # a block of this many code lines may not appear twice


def science_files() -> list[Path]:
    return sorted(p for p in LIBRARY.rglob("*.py") if "book" not in p.relative_to(LIBRARY).parts)


def code_lines(lines: list[str]) -> list[str]:
    """Non-blank, non-comment lines."""
    return [line for line in lines if line.strip() and not line.strip().startswith("#")]


def cells(path: Path) -> list[tuple[str, list[str], int]]:
    """(header, lines, first line number) of each cell of a jupytext percent file."""
    out: list[tuple[str, list[str], int]] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("# %%"):
            out.append((line, [], number + 1))
        elif out:
            out[-1][1].append(line)
    return out


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert commands == ["make test"]
    make = (ROOT / "Makefile").read_text()
    recipe = make.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert [line.split()[0] for line in recipe.strip().splitlines()[1:]] == [
        "$(BIN)/ruff", "$(BIN)/lint-imports", "$(BIN)/python"]  # house checks, then every test


def test_science_holds_no_path_into_the_book():
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in science_files()
                 for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"_build|\.\./data", line)]
    assert offenders == [], "paths into the book belong to polycode_utils.book.paths"


# No science module's strings (docstrings aside) name a chapter, a profile or a glue key: those words belong in the
# report layer (polycode_utils/reports/).
WORDS = re.compile(r"\bchapters?\b|\bprofiles?\b|\bclaim_|\bglue", re.IGNORECASE)


def _worded_strings(path: Path) -> list[int]:
    """Line numbers of the string literals of a module, docstrings aside, that name a chapter, profile or glue key."""
    tree = ast.parse(path.read_text())
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docs and WORDS.search(node.value)]


def test_science_strings_name_no_chapter_profile_or_glue_key():
    science = [p for p in science_files() if "reports" not in p.relative_to(LIBRARY).parts]
    worded = {str(p.relative_to(LIBRARY)): lines for p in science if (lines := _worded_strings(p))}
    assert worded == {}, "string literals (module: line numbers) that belong in the report layer"


def test_chapters_are_thin():
    sizes, long_cells = {}, []
    for path in CHAPTERS:
        total = 0
        for header, lines, start in cells(path):
            if "[markdown]" in header or "parameters" in header:
                continue
            n = len(code_lines(lines))
            total += n
            if n > MAX_CELL:
                long_cells.append(f"{path.name}:{start} ({n} lines)")
        sizes[path.name] = total
    assert sum(sizes.values()) / len(sizes) <= MAX_CHAPTER_MEAN, sizes
    assert long_cells == [], f"code cells longer than {MAX_CELL} lines"


def test_every_chapter_shows_its_provenance_box():
    """provenance_box returns the note: it shows only as the last expression of its cell."""
    shown = {}
    for path in CHAPTERS:
        for header, lines, _ in cells(path):
            if "[markdown]" in header or "provenance_box(" not in "\n".join(lines):
                continue
            last = ast.parse("\n".join(lines)).body[-1]
            shown[path.name] = (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                                and getattr(last.value.func, "id", None) == "provenance_box")
    assert shown == dict.fromkeys((p.name for p in CHAPTERS), True)


def statement_lines(path: Path) -> list[tuple[int, str]]:
    """(number, stripped text) of the code lines of a file, leaving out imports and a chapter's parameters cell
    (the shared parameters must repeat there: each notebook runs on its own in Jupyter)."""
    text = path.read_text()
    skip: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            skip.update(range(node.lineno, node.end_lineno + 1))
    if path.parent.name == "notebooks":
        for header, lines, start in cells(path):
            if "parameters" in header:
                skip.update(range(start, start + len(lines)))
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
            if n not in skip and line.strip() and not line.strip().startswith("#")]


def test_no_block_of_code_is_written_twice():
    seen: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for path in science_files() + CHAPTERS:
        lines = statement_lines(path)
        for i in range(len(lines) - MIN_REPEAT + 1):
            block = tuple(text for _, text in lines[i:i + MIN_REPEAT])
            seen[block].append(f"{path.relative_to(ROOT)}:{lines[i][0]}")
    repeated = sorted(places for places in seen.values() if len(places) > 1)
    assert repeated == [], f"blocks of {MIN_REPEAT} lines written more than once (first lines): {repeated}"


def test_every_page_is_in_the_table_of_contents_and_the_intro_links_the_methods():
    toc = (ROOT / "_toc.yml").read_text()
    pages = sorted(p.stem for p in (ROOT / "book").glob("*.md"))
    assert all(f"book/{page}" in toc for page in pages), pages
    for chapter in CHAPTERS:
        assert f"book/_generated/{chapter.stem}" in toc
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "{doc}`methods`" in intro and "METHODS.md" not in intro


MAX_MODULE_LINES = 560  # "about 500": the largest module, spectra.py, is 553


def test_the_folders_are_the_layers_of_the_import_contract():
    """polycode_utils holds one package per layer of the import contract (checks, the bottom layer, is one module),
    and the book's machinery beside them: no flat science module."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c.get("type") == "layers")
    named = {name.strip().strip("()") for layer in layers for name in re.split(r"[:|]", layer)}
    entries = {p.stem for p in LIBRARY.iterdir() if p.name not in ("__init__.py", "__pycache__")}
    assert entries == named | {"book"}
    assert all((LIBRARY / name).is_dir() for name in named - {"checks"}) and (LIBRARY / "checks.py").is_file()


def test_no_module_is_much_over_500_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in LIBRARY.rglob("*.py")}
    assert {k: v for k, v in sizes.items() if v > MAX_MODULE_LINES} == {}
