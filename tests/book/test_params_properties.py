"""The parameter parser under random input (issue 15 #14): for every declared type and range, any text gives either
a value that satisfies the declaration or a clean BuildError naming the parameter, never a traceback."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from demo_book import polycode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polycode_utils.book import params
from polycode_utils.book.params import BuildError, Param, Project

ROOT = Path(__file__).resolve().parents[2]
BOOK = Project.load(ROOT)
DECLARED = sorted({(c.id, p.name) for c in BOOK.chapters.values() for p in c.params.values() if p.name != "profile"})

texts = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.one_of(st.integers(-5, 300).map(str), st.floats(-2, 2).map(repr), st.sampled_from(
        ["stem", "layer1", "layer4", "resid", "", " ", "-0.0", "nan", "٣"])), max_size=5).map(",".join),
    st.sampled_from(["-0.0", "-inf", "inf", "1e309", "٣", "0x10", "1_000", "true", " 3 ", "-1",
                     "18446744073709551616"]),
)


def satisfies(p: Param, value: object) -> bool:
    """Whether a coerced value meets its declaration."""
    items = value if p.type.startswith("list") else [value]
    if p.type.startswith("list"):
        assert isinstance(value, list) and p.min_len <= len(value) <= (p.max_len or len(value))
        assert len(set(value)) == len(value)
    for v in items:
        kind = p.type[5:-1] if p.type.startswith("list") else p.type
        assert type(v).__name__ == kind, (p.type, v)
        if kind == "float":
            assert math.isfinite(v) and (v != 0.0 or math.copysign(1.0, v) == 1.0)  # no -0.0
        if kind == "int":
            assert -(2**63) <= v < 2**63
        assert p.choices is None or v in p.choices
        assert p.min is None or v >= p.min
        assert p.max is None or v <= p.max
        assert p.below is None or v < p.below
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(DECLARED), text=texts)
def test_any_text_for_any_declared_parameter_is_accepted_correctly_or_refused_by_name(which, text):
    chapter = BOOK.chapters[which[0]]
    param = chapter.params[which[1]]
    try:
        values = params.resolve_parameters(BOOK, chapter, "smoke", [(param.name, text)])
    except BuildError as exc:
        assert f"{param.name!r}" in str(exc) or "must satisfy" in str(exc) or "would need" in str(exc), str(exc)
        return
    assert satisfies(param, values[param.name])


@pytest.mark.parametrize("kind, text", [("float", "-0.0"), ("list[float]", "0,-0.0")])
def test_negative_zero_is_zero(kind, text):
    out = Param("x", kind, min=0.0).coerce(text) if kind == "float" else Param("x", kind, min=0.0).coerce("0.5,-0.0")
    for v in out if isinstance(out, list) else [out]:
        assert math.copysign(1.0, v) == 1.0


@pytest.mark.parametrize("param, text", [
    (Param("seed", "int", min=0), "18446744073709551616"),  # 2**64: overflowed in torch, half a cache folder
    (Param("n", "int", min=0), "٣"),  # an Arabic-Indic three
    (Param("x", "float"), "١٫٥"),
    (Param("rates", "list[float]", min=0.0, below=1.0), "0,,0.2"),
    (Param("rates", "list[float]", min=0.0, below=1.0), "0.2,0.2"),
    (Param("layers", "list[str]", choices=("a", "b"), min_len=0), "a,"),
])
def test_validation_gaps_are_closed(param, text):
    with pytest.raises(ValueError):
        param.coerce(text)


def test_empty_text_is_the_empty_list_where_allowed():
    assert Param("layers", "list[int]", min=0, min_len=0).coerce("") == []


def test_seeds_epochs_steps_and_batch_sizes_are_bounded_in_the_book():
    for chapter in BOOK.chapters.values():
        for name in ("seed", "epochs", "steps", "batch_size"):
            if name in chapter.params and chapter.id in ("01_codes", "02_capacity", "04_autoencoder"):
                assert chapter.params[name].max is not None, (chapter.id, name)


def test_repeated_and_dash_values_are_named(project):
    res = polycode(project, "build", "--no-html", "-p", "n", "3", "-p", "n", "4")
    assert res.returncode == 2 and "'n'" in res.stderr and "more than once" in res.stderr
    res = polycode(project, "build", "--no-html", "-p", "rate", "-inf")
    assert res.returncode == 2 and "parameter 'rate'" in res.stderr and "'-inf'" in res.stderr
    res = polycode(project, "build", "--no-html", "-p", "rate", "-0.0")
    assert res.returncode == 0, res.stderr
