"""Parameters and profiles: each chapter's declared parameters (profiles.toml), checked before anything runs."""

from __future__ import annotations

import ast
import math
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polycode_utils.book.paths import CONFIG_NAME

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # every int parameter fits a C long long, declared bounds or not
TYPES = ("int", "float", "str", "bool", "list[int]", "list[float]", "list[str]")
DECLARATION_KEYS = ("type", "min", "max", "below", "choices", "choices_from", "min_len", "max_len", "help")


class BuildError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _num(value: float) -> str:
    """A bound as a person writes it: 4294967295, not 4.29497e+09; 0.5 as 0.5."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else f"{value:g}"


@dataclass(frozen=True)
class Param:
    """One declared chapter parameter: type, allowed range (min, max inclusive; below exclusive) or choices."""

    name: str
    type: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    min_len: int = 1
    max_len: int | None = None
    help: str = ""
    below: float | None = None

    def allowed(self) -> str:
        """Describe the allowed values in words, for error messages."""
        what = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}.get(
            self.type, f"a comma-separated list of {self.type[5:-1]}s ("
            + (f"exactly {self.min_len}" if self.max_len == self.min_len else f"at least {self.min_len}"
               + (f", at most {self.max_len}" if self.max_len else "")) + ", distinct)"
        )
        each = "each " if self.type.startswith("list") else ""
        if self.choices is not None:
            return f"{what}, {each}one of {', '.join(map(str, self.choices))}"
        if self.min is not None and self.below is not None:
            return f"{what}, {each}in [{_num(self.min)}, {_num(self.below)})"
        bounds = []
        if self.min is not None:
            bounds.append(f">= {_num(self.min)}")
        if self.max is not None:
            bounds.append(f"<= {_num(self.max)}")
        if self.below is not None:
            bounds.append(f"< {_num(self.below)}")
        return what + (f", {each}{' and '.join(bounds)}" if bounds else "")

    def coerce(self, value: Any) -> Any:
        """Convert a command-line string or a TOML value to this type and check it, or raise ValueError."""
        if self.type.startswith("list"):
            if isinstance(value, str):  # "" is the empty list; an empty item ("0,,1", "0,") is a mistake
                items = [v.strip() for v in value.split(",")] if value.strip() else []
                if any(not v for v in items):
                    raise ValueError
            else:
                items = value
            if not isinstance(items, list) or not self.min_len <= len(items) <= (self.max_len or len(items)):
                raise ValueError
            out = [self._scalar(self.type[5:-1], v) for v in items]
            if len(set(out)) != len(out):  # the same item twice (a duplicate network, a layer measured twice)
                raise ValueError
            return out
        return self._scalar(self.type, value)

    def _scalar(self, kind: str, value: Any) -> Any:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes"):
                return True
            if str(value).lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if kind == "str":
            if not isinstance(value, str):
                raise ValueError
            out: Any = value
        elif kind == "int":
            if isinstance(value, (bool, float)) or (isinstance(value, str) and not value.strip().isascii()):
                raise ValueError  # Unicode digits ("٣") are not numbers here
            out = int(value)
            if not INT64_MIN <= out <= INT64_MAX:  # a seed of 2**64 overflowed deep in torch
                raise ValueError
        else:
            if isinstance(value, bool) or (isinstance(value, str) and not value.strip().isascii()):
                raise ValueError
            out = float(value) + 0.0  # -0.0 is 0.0 (it would label a duplicate network "-0")
            if not math.isfinite(out):
                raise ValueError
        if self.choices is not None and out not in self.choices:
            raise ValueError
        if self.min is not None and out < self.min:
            raise ValueError
        if self.max is not None and out > self.max:
            raise ValueError
        if self.below is not None and out >= self.below:
            raise ValueError
        return out


def literal_from_source(root: Path, reference: str) -> tuple:
    """The literal tuple or list assigned to NAME at the top level of FILE, for a reference "FILE:NAME" (a path
    relative to the project root); read with ast, without importing the module (no torch for the build tool)."""
    file, sep, name = reference.rpartition(":")
    path = root / file
    if not sep or not file or not name:
        raise ValueError(f"{reference!r} is not of the form 'path/to/module.py:NAME'")
    if not path.is_file():
        raise ValueError(f"{reference!r}: there is no file {file}")
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) and node.value is not None else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                value = None
            if not isinstance(value, (tuple, list)) or not value:
                raise ValueError(f"{reference!r}: {name} is not a literal, non-empty tuple or list")
            return tuple(value)
    raise ValueError(f"{reference!r}: {file} assigns no {name} at its top level")


def declare(root: Path, owner: str, name: str, spec: dict) -> Param:
    """A Param from its declaration in profiles.toml, the declaration itself checked first."""
    where = f"{CONFIG_NAME}: parameter {name!r} of {owner}"
    unknown = sorted(set(spec) - set(DECLARATION_KEYS))
    if unknown:
        raise BuildError(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(DECLARATION_KEYS)}")
    if spec.get("type") not in TYPES:
        raise BuildError(f"{where} has type {spec.get('type')!r}; allowed types: {', '.join(TYPES)}")
    if "max" in spec and "below" in spec:
        raise BuildError(f"{where} has both max (inclusive) and below (exclusive); keep one")
    if "choices" in spec and "choices_from" in spec:
        raise BuildError(f"{where} has both choices and choices_from; keep one")
    choices = tuple(spec["choices"]) if "choices" in spec else None
    if "choices_from" in spec:
        try:
            choices = literal_from_source(root, spec["choices_from"])
        except (ValueError, SyntaxError) as exc:
            raise BuildError(f"{where}: choices_from {exc}") from None
    return Param(name, spec["type"], spec.get("min"), spec.get("max"), choices, spec.get("min_len", 1),
                 spec.get("max_len"), spec.get("help", ""), spec.get("below"))


@dataclass(frozen=True)
class Chapter:
    """A chapter: its jupytext source and declared parameters."""

    id: str
    title: str
    source: Path
    params: dict[str, Param]
    budget_s: dict[str, float]
    values: dict[str, dict[str, Any]]  # profile name -> parameter values of that profile
    uses: tuple[str, ...] = ()  # parameter groups it shares with other chapters
    constraints: tuple[str, ...] = ()  # expressions over its parameters that must hold (profiles.toml)
    memory: tuple[tuple[str, str], ...] = ()  # (step, expression of its peak bytes) of its known-heavy steps


@dataclass
class Project:
    """The book's configuration, read from profiles.toml at the project root."""

    root: Path
    library: Path
    generated: Path
    chapters: dict[str, Chapter]
    profiles: dict[str, dict]
    groups: dict[str, frozenset[str]]  # group name -> the parameters it declares
    repository: str = ""              # where the sources are published ([book] repository_url): launch buttons
    branch: str = "main"

    @classmethod
    def load(cls, root: Path) -> Project:
        """Read and check profiles.toml: every declaration, every profile a chapter names, every group it uses."""
        path = root / CONFIG_NAME
        if not path.exists():
            raise BuildError(f"no {CONFIG_NAME} in {root}: run polycode from the project root or pass --root")
        cfg = tomllib.loads(path.read_text())
        book = cfg.get("book", {})
        profiles = cfg.get("profiles", {})
        groups = cfg.get("groups", {})
        chapters = {}
        for cid, spec in cfg.get("chapters", {}).items():
            params = {"profile": Param("profile", "str", choices=tuple(profiles), help="the build profile")}
            values: dict[str, dict[str, Any]] = {}
            constraints: list[str] = []
            for owner, block in _blocks(cid, spec, groups):
                constraints += [(owner, c) for c in block.get("constraints", [])]
                for name, p in block.get("params", {}).items():
                    if name in params:
                        raise BuildError(f"{CONFIG_NAME}: parameter {name!r} of chapter {cid} is declared twice "
                                         f"(again in {owner})")
                    params[name] = declare(root, owner, name, p)
                for prof, vals in block.get("profile", {}).items():
                    values.setdefault(prof, {}).update(vals)
            budgets = spec.get("budget_s", {})
            for name in [*values, *budgets]:
                if name not in profiles:
                    raise BuildError(f"{CONFIG_NAME}: chapter {cid} names profile {name!r}; profiles are: "
                                     f"{', '.join(profiles)}")
            source = root / book.get("notebooks", "notebooks") / f"{cid}.py"
            for owner, text in constraints:
                constraint_names(f"{CONFIG_NAME}: {owner}", text, params)
            memory = tuple(spec.get("memory", {}).items())
            for step, text in memory:
                constraint_names(f"{CONFIG_NAME}: chapter {cid}, memory of {step}", text, params)
            chapters[cid] = Chapter(cid, spec.get("title", cid), source, params, budgets, values,
                                    tuple(spec.get("uses", ())), tuple(text for _, text in constraints), memory)
        repository = book.get("repository_url", "")
        if repository and not re.match(r"^https://[\w.-]+/[\w.-]+/[\w.-]+/?$", repository):
            raise BuildError(f"{CONFIG_NAME}: [book] repository_url must be empty or https://HOST/OWNER/REPO, got "
                             f"{repository!r}")
        return cls(root, root / book.get("library", "polycode_utils"),
                   root / book.get("generated", "book/_generated"), chapters, profiles,
                   {g: frozenset(spec.get("params", {})) for g, spec in groups.items()}, repository.rstrip("/"),
                   book.get("repository_branch", "main"))

    def chapter(self, name: str) -> Chapter:
        """Find a chapter by id (01_codes), number (1, 01) or name (codes)."""
        for cid in self.chapters:
            number, _, short = cid.partition("_")
            if name in (cid, number, number.lstrip("0"), short):
                return self.chapters[cid]
        raise BuildError(f"unknown chapter {name!r}; chapters are: {', '.join(self.chapters)}")

    def profile(self, name: str) -> dict:
        """A profile's table, or a BuildError naming the profiles there are."""
        if name not in self.profiles:
            raise BuildError(f"unknown profile {name!r}; profiles are: {', '.join(self.profiles)}")
        return self.profiles[name]


def _blocks(cid: str, spec: dict, groups: dict) -> list[tuple[str, dict]]:
    """A chapter's own declarations and those of the parameter groups it uses (shared by several chapters)."""
    blocks = [(f"chapter {cid}", spec)]
    for group in spec.get("uses", []):
        if group not in groups:
            raise BuildError(f"{CONFIG_NAME}: chapter {cid} uses group {group!r}; groups are: {', '.join(groups)}")
        blocks.insert(0, (f"group {group}", groups[group]))
    return blocks


def _lcm(*values: int | list[int]) -> int:
    """The least common multiple of integers and lists of integers (a declaration's `lcm(n_frames, sweep_frames)`)."""
    return math.lcm(*(v for value in values for v in (value if isinstance(value, list) else [value])))


CONSTRAINT_FUNCTIONS = {"len": len, "min": min, "max": max, "abs": abs, "lcm": _lcm}
CONSTRAINT_NODES = (ast.Expression, ast.Compare, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
                    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Name, ast.Load, ast.Constant, ast.Subscript,
                    ast.Call, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.In, ast.NotIn)


def constraint_names(where: str, text: Any, params: dict[str, Param]) -> list[str]:
    """The parameters a declared constraint reads; a BuildError unless it is a plain expression over parameters
    (comparisons, arithmetic, `in`, and/or/not, indexing, len/min/max/abs/lcm)."""
    try:
        tree = ast.parse(text, mode="eval") if isinstance(text, str) else None
    except SyntaxError:
        tree = None
    if tree is None or any(not isinstance(n, CONSTRAINT_NODES) for n in ast.walk(tree)):
        raise BuildError(f"{where}: constraint {text!r} is not an expression over parameters (comparisons, "
                         "arithmetic, in, and/or/not, [i], len/min/max/abs/lcm)")
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    if any(isinstance(n, ast.Call) and not isinstance(n.func, ast.Name) for n in ast.walk(tree)) or (
            called - set(CONSTRAINT_FUNCTIONS)):
        raise BuildError(f"{where}: constraint {text!r} calls something other than {', '.join(CONSTRAINT_FUNCTIONS)}")
    names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called)
    unknown = [n for n in names if n not in params]
    if unknown:
        raise BuildError(f"{where}: constraint {text!r} names {', '.join(unknown)}, not a parameter of the chapter")
    return names


def default_values(chapter: Chapter) -> dict[str, Any]:
    """The chapter's defaults, from its notebook's parameters cell (the literal ones)."""
    out = {}
    for name, text in notebook_parameters(chapter.source).items():
        try:
            out[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            continue
    return out


def check_constraints(chapter: Chapter, values: dict[str, Any]) -> None:
    """Every declared constraint of the chapter on its values (defaults, then the profile's and the command
    line's), before anything runs: a BuildError naming the constraint and the values it saw."""
    full = {**default_values(chapter), **values}
    for text in chapter.constraints:
        names = constraint_names(f"chapter {chapter.id}", text, chapter.params)
        try:
            ok = bool(eval(compile(text, "<constraint>", "eval"), {"__builtins__": {}},  # noqa: S307 - checked AST
                           {**CONSTRAINT_FUNCTIONS, **{n: full[n] for n in names if n in full}}))
        except (IndexError, TypeError, ValueError, NameError, ZeroDivisionError):
            ok = False
        if not ok:
            raise BuildError(f"chapter {chapter.id}: the parameters must satisfy {text} ({CONFIG_NAME}); got "
                             + ", ".join(f"{n} = {full.get(n)!r}" for n in names))


def machine_memory() -> int:
    """This machine's physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _evaluate(chapter: Chapter, text: str, full: dict[str, Any]) -> Any:
    names = constraint_names(f"chapter {chapter.id}", text, chapter.params)
    return eval(compile(text, "<declaration>", "eval"), {"__builtins__": {}},  # noqa: S307 - checked AST
                {**CONSTRAINT_FUNCTIONS, **{n: full[n] for n in names if n in full}})


def memory_estimates(chapter: Chapter, values: dict[str, Any]) -> dict[str, float]:
    """The peak bytes of each of the chapter's known-heavy steps (profiles.toml: memory = {STEP = "EXPR"}) at
    these values (the notebook's defaults for the rest)."""
    full = {**default_values(chapter), **values}
    return {step: float(_evaluate(chapter, text, full)) for step, text in chapter.memory}


def check_memory(chapter: Chapter, values: dict[str, Any], total: int | None = None) -> None:
    """Refuse, before anything runs, parameters whose known-heavy steps would need more memory than the machine
    has (memory_estimates)."""
    total = machine_memory() if total is None else total
    for (step, text), need in zip(chapter.memory, memory_estimates(chapter, values).values(), strict=True):
        if need > total:
            raise BuildError(f"chapter {chapter.id}: {step} would need about {need / 2**30:.1f} GiB ({text}, "
                             f"{CONFIG_NAME}) and this machine has {total / 2**30:.1f} GiB; lower the parameters")


def notebook_parameters(source: Path) -> dict[str, str]:
    """Names and default source text of the assignments in the cell tagged 'parameters' of a jupytext file."""
    for cell in source.read_text().split("\n# %%"):
        header, _, body = cell.partition("\n")
        if "parameters" in header and "tags=" in header:
            tree = ast.parse(body)
            return {t.id: ast.get_source_segment(body, node.value)
                    for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    if isinstance(t, ast.Name)}
    raise BuildError(f"{source}: no cell tagged 'parameters'")


def check_shared_defaults(project: Project) -> None:
    """A parameter shared by several chapters (a group) must have the same default in every notebook."""
    for group, names in project.groups.items():
        seen: dict[str, tuple[str, str]] = {}
        for chapter in (c for c in project.chapters.values() if group in c.uses):
            defaults = notebook_parameters(chapter.source)
            for name in sorted(names & set(defaults)):
                first = seen.setdefault(name, (chapter.id, defaults[name]))
                if first[1] != defaults[name]:
                    raise BuildError(f"shared parameter {name!r} (group {group}) has default {first[1]} in chapter "
                                     f"{first[0]} but {defaults[name]} in chapter {chapter.id}; make them equal")


def resolve_parameters(project: Project, chapter: Chapter, profile: str,
                       overrides: list[tuple[str, str]]) -> dict[str, Any]:
    """Profile values then command-line overrides for one chapter, each checked against its declaration."""
    declared = notebook_parameters(chapter.source)
    if set(declared) != set(chapter.params):
        missing = sorted(set(chapter.params) - set(declared))
        extra = sorted(set(declared) - set(chapter.params))
        raise BuildError(f"chapter {chapter.id}: the notebook's parameters cell and {CONFIG_NAME} disagree "
                         f"(declared but not in the notebook: {missing}; in the notebook but not declared: {extra})")
    values: dict[str, Any] = {"profile": profile}
    project.profile(profile)
    given = [name for name, _ in overrides]
    twice = sorted({n for n in given if given.count(n) > 1})
    if twice:
        raise BuildError(f"parameter {twice[0]!r} of chapter {chapter.id} is given more than once on the command line "
                         "(directly or through its group); give it once")
    profile_values = chapter.values.get(profile, {})
    for origin, items in ((f"profile {profile!r}", list(profile_values.items())), ("command line", overrides)):
        for name, raw in items:
            param = chapter.params.get(name)
            if param is None:
                raise BuildError(f"unknown parameter {name!r} for chapter {chapter.id} ({origin}); its parameters "
                                 f"are: {', '.join(sorted(chapter.params))}")
            try:
                values[name] = param.coerce(raw)
            except (ValueError, TypeError):
                raise BuildError(f"parameter {name!r} of chapter {chapter.id} ({origin}): got {raw!r}; "
                                 f"allowed: {param.allowed()}") from None
    check_constraints(chapter, values)
    check_memory(chapter, values)
    return values


def check_group_value(project: Project, group: str, name: str, value: str) -> None:
    """Check a group parameter's value against its declaration, even when no chapter being built uses the group."""
    for chapter in project.chapters.values():
        if group in chapter.uses:
            try:
                chapter.params[name].coerce(value)
            except (ValueError, TypeError):
                raise BuildError(f"parameter {name!r} of group {group} (command line): got {value!r}; allowed: "
                                 f"{chapter.params[name].allowed()}") from None
            return


def split_overrides(project: Project, chapters: list[Chapter],
                    pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Route each -p NAME VALUE: CHAPTER.NAME to one chapter, GROUP.NAME to the chapters sharing that group,
    NAME to every chapter being built that declares it."""
    routed: dict[str, list[tuple[str, str]]] = {c.id: [] for c in chapters}
    for name, value in pairs:
        prefix, _, pname = name.partition(".")
        if (pname or prefix) == "profile":
            raise BuildError("'profile' is set only by --profile (it names the profile the whole run is), not by -p")
        if prefix in project.groups:
            if pname not in project.groups[prefix]:
                raise BuildError(f"unknown parameter {pname!r} of group {prefix}; its parameters are: "
                                 f"{', '.join(sorted(project.groups[prefix]))}")
            users = [c for c in chapters if prefix in c.uses]
            for c in users:
                routed[c.id].append((pname, value))
            if not users:  # checked all the same, then said to reach nothing
                check_group_value(project, prefix, pname, value)
                print(f"polycode: warning: -p {name} {value} reaches no chapter being built (group {prefix} is used "
                      f"by: {', '.join(c.id for c in project.chapters.values() if prefix in c.uses) or 'none'})",
                      file=sys.stderr)
            continue
        if "." in name:
            cname, _, pname = name.partition(".")
            target = project.chapter(cname)
            if target.id not in routed:
                raise BuildError(f"parameter {name!r} names chapter {target.id}, which is not being built")
            routed[target.id].append((pname, value))
            continue
        takers = [c for c in chapters if name in c.params]
        if not takers:
            known = sorted({p for c in chapters for p in c.params})
            raise BuildError(f"unknown parameter {name!r}; parameters of the chapters being built: "
                             f"{', '.join(known)}")
        for c in takers:
            routed[c.id].append((name, value))
    return routed

