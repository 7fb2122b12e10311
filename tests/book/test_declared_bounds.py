"""Every declared value runs or is refused up front (issue 25): values at and next to every declared bound of every
chapter are accepted exactly when they lie inside it (then refused only by a declared constraint or memory
estimate, with status 2 and before anything runs), and each cheap chapter runs on the smoke profile with all its
numeric parameters at their declared lower ends at once, and at the hostile pass's cases (chapter 6's ends:
test_declared_ends.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from book_copy import run_chapter_in_a_copy

from polycode_utils.book import params
from polycode_utils.book.params import BuildError, Param, Project

ROOT = Path(__file__).resolve().parents[2]
BOOK = Project.load(ROOT)
BOUNDED = sorted((c.id, p.name) for c in BOOK.chapters.values() for p in c.params.values()
                 if p.type in ("int", "float", "list[int]", "list[float]") and p.choices is None
                 and (p.min is not None or p.max is not None or p.below is not None))


def _near(p: Param) -> list[tuple[float, float, bool]]:
    """(value, the direction that leads inside, whether inside the declaration) at and beside each bound."""
    d_int = 1 if "int" in p.type else None
    out = []
    for end, inward, beyond in ((p.min, +1, False), (p.max, -1, False), (p.below, -1, True)):
        if end is None:
            continue
        d = d_int or max(abs(end) * 1e-6, 1e-9)
        out += [(end - inward * d, inward, False), (end + inward * d, inward, True), (end, inward, not beyond)]
    lo = p.min if p.min is not None else -math.inf
    hi = p.max if p.max is not None else math.inf
    return [(v, inward, inside and lo <= v <= hi and (p.below is None or v < p.below)) for v, inward, inside in out]


def _text(p: Param, value: float, inward: float) -> str:
    """The value as typed: a list holds its shortest allowed length, the value first and the rest further in."""
    d = 1 if "int" in p.type else max(abs(value) * 1e-6, 1e-9)
    items = [value + inward * d * i for i in range(max(p.min_len, 1) if p.type.startswith("list") else 1)]
    return ",".join(str(int(v)) if "int" in p.type else repr(float(v)) for v in items)


def test_a_value_at_or_beside_any_declared_bound_is_accepted_exactly_when_inside():
    """Every point at and beside every bound (636 for 111 bounded parameters, exhaustive: the random texts are
    test_params_properties.py's)."""
    checked = 0
    for chapter_id, name in BOUNDED:
        chapter = BOOK.chapters[chapter_id]
        p = chapter.params[name]
        for value, inward, inside in _near(p):
            checked += 1
            try:
                got = params.resolve_parameters(BOOK, chapter, "smoke", [(p.name, _text(p, value, inward))])
            except BuildError as exc:
                said = str(exc)
                if inside:  # inside the declaration: only a cross-parameter constraint or a memory estimate refuses
                    assert "must satisfy" in said or "would need" in said, (chapter_id, name, value, said)
                else:
                    assert repr(p.name) in said and "allowed" in said, (chapter_id, name, value, said)
                continue
            assert inside, f"{chapter_id} {name}: {value!r} accepted outside {p.allowed()}"
            kept = got[p.name][0] if p.type.startswith("list") else got[p.name]
            assert kept == pytest.approx(value), (chapter_id, name, value, kept)
    assert checked > 400


def _low_ends(chapter_id: str) -> list[tuple[str, str]]:
    """Every numeric parameter of a chapter at its declared lower end (lists: their shortest, distinct)."""
    out = []
    for p in BOOK.chapter(chapter_id).params.values():
        if p.choices is not None or p.min is None or p.name == "seed":
            continue
        if p.type.startswith("list"):
            n = max(p.min_len, 1)
            items = [p.min + i for i in range(n)] if "int" in p.type else [p.min + 0.01 * i for i in range(n)]
            out.append((p.name, ",".join(map(str, items))))
        else:
            out.append((p.name, str(p.min)))
    return out


# (chapter, what the lower ends need to satisfy the chapter's constraints, the hostile pass's own cases)
LOW = {
    "01_codes": {},
    "02_capacity": {"width": "3", "dropout_rates": "0,0.5"},   # spread < width; max(dropout_rates) > 0
    "03_error_correction": {},
    "08_dropout_toys": {"dropout_rates": "0,0.5"},            # 0 and max > 0 in dropout_rates
}
CASES = [(cid, "low ends", fix) for cid, fix in LOW.items()] + [
    ("02_capacity", "dropout_rates 0,0.99", {"dropout_rates": "0,0.99"}),  # #8: Blahut-Arimoto not converged
    ("05_spectra", "layers layer4", {"layers": "layer4", "fig5_layer": "layer4"}),  # #7: KeyError 'fc1'
    ("06_projections", "sweep_frames 2,3", {"sweep_frames": "2,3"}),  # #10: an exercise's check failed
]


def _overrides(chapter_id: str, what: str, fix: dict[str, str]) -> list[tuple[str, str]]:
    base = dict(_low_ends(chapter_id)) if what == "low ends" else {}
    return list({**base, **fix}.items())


@pytest.mark.parametrize("chapter_id, what, fix", CASES, ids=[f"{c}-{w}" for c, w, _ in CASES])
def test_the_overrides_are_accepted_up_front(chapter_id, what, fix):
    params.resolve_parameters(BOOK, BOOK.chapter(chapter_id), "smoke", _overrides(chapter_id, what, fix))


@pytest.mark.slow
@pytest.mark.parametrize("chapter_id, what, fix", CASES, ids=[f"{c}-{w}" for c, w, _ in CASES])
def test_a_chapter_runs_at_its_declared_lower_ends(tmp_path, chapter_id, what, fix):
    flags = [a for name, value in _overrides(chapter_id, what, fix) for a in ("-p", name, value)]
    res = run_chapter_in_a_copy(ROOT, tmp_path, chapter_id, flags)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
