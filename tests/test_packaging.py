"""The package as users install it: ranges in pyproject.toml, the tested set in constraints.txt, licence, citation."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {canonicalize_name(r.name): str(r.specifier).removeprefix("==")
            for r in (Requirement(line) for line in lines if line)}


PINS = _pins(ROOT / "constraints.txt")


def test_every_declared_range_holds_its_tested_pin():
    """A range that excluded the tested release, or a package the tested set lacks, would make `make` and
    `pip install -e .` disagree."""
    declared = [Requirement(r) for r in PROJECT["dependencies"]]
    declared += [Requirement(r) for extra in PROJECT["optional-dependencies"].values() for r in extra]
    assert len(declared) > 25
    for req in declared:
        pin = PINS.get(canonicalize_name(req.name))
        assert pin is not None, f"{req.name} is declared but constraints.txt does not pin it"
        assert req.specifier.contains(pin, prereleases=True), f"{req.name} {req.specifier} excludes the tested {pin}"
        assert "==" not in str(req.specifier) or req.name == "ruff", f"{req.name} is pinned in pyproject.toml"
    names = [canonicalize_name(r.name) for r in declared]
    assert len(names) == len(set(names)), "a package declared twice"


def test_the_environment_is_the_tested_set():
    """make installs with constraints.txt: every pinned package present here has the pinned version."""
    wrong = {}
    for name, pin in PINS.items():
        try:
            got = version(name)
        except PackageNotFoundError:
            continue
        if got != pin:
            wrong[name] = (got, pin)
    assert not wrong
    for name, pin in _pins(ROOT / "offline-data.txt").items():  # chapter 7's data, installed --no-deps
        assert PINS[name] == pin and version(name) == pin


def test_licence_and_citation():
    assert PROJECT["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT" and "version" not in cff  # one place
    paper = cff["references"][0]
    assert [a["family-names"] for a in paper["authors"]] == ["Marshall", "Kirchner"]
    assert paper["identifiers"][0]["value"] == "arXiv:2401.17975"
