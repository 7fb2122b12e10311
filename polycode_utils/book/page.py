"""The page kit: how every chapter shows itself (one figure style, the provenance box, stand-in figures)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from IPython.display import Markdown

from polycode_utils.book.params import Project, notebook_parameters
from polycode_utils.book.paths import book_root
from polycode_utils.book.provenance import code_commit, package_versions


def set_style() -> None:
    """The one figure style of the book (seaborn whitegrid, colour-blind palette), set in one place."""
    import matplotlib as mpl  # noqa: PLC0415
    import seaborn as sns  # noqa: PLC0415

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (6.4, 4.0),
                         "axes.titlesize": "medium"})


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value) if value else "[]"  # as typed: its help says what empty means
    return str(value) if value != "" else '""'


def declared_parameters(chapter: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """This run's value of each parameter the chapter declares, in the order of its parameters cell (profile aside),
    read from the notebook's namespace (its globals()): the provenance box's table, typed once, in that cell."""
    source = Project.load(book_root()).chapter(chapter).source
    names = [name for name in notebook_parameters(source) if name != "profile"]
    missing = [name for name in names if name not in namespace]
    if missing:
        raise ValueError(f"namespace: the parameters {missing} of chapter {chapter} are not defined; pass the "
                         "notebook's globals() after its parameters cell")
    return {name: namespace[name] for name in names}


def provenance_box(*, profile: str, data: str, model: str, embedded_default: bool,
                   parameters: dict[str, Any]) -> Markdown:
    """A note stating which data, model, profile and parameters made this chapter's figures and numbers, and which
    code: the commit of the book's checkout and the versions of the packages that computed them."""
    source = "the embedded offline default" if embedded_default else "real data / weights"
    rows = "\n".join(f"| `{name}` | `{_fmt(value)}` |" for name, value in parameters.items())
    commit = code_commit(book_root())
    shown = commit[:12] + (" (with uncommitted changes)" if commit.endswith("+modified") else "")
    versions = ", ".join(f"{name} {v}" for name, v in package_versions().items())
    return Markdown(
        "```{admonition} Provenance of this run\n:class: note\n"
        f"**Data:** {data}  \n**Model:** {model}  \n**Profile:** `{profile}` ({source})  \n"
        f"**Seed:** `{parameters.get('seed', 'n/a')}`  \n**Code:** commit `{shown}`; {versions}\n\n"
        f"| parameter | value |\n|---|---|\n{rows}\n```\n"
    )


def message_figure(text: str):
    """A small figure that only says why a figure is absent in this run (so glued figure names always exist)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6, 0.8))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    plt.close(fig)
    return fig


def glue_values(values: Mapping[str, Any]) -> None:
    """Glue every value of a mapping under its own name, for {glue:text} in the page (a summary's fields, say)."""
    from myst_nb import glue  # noqa: PLC0415

    for name, value in values.items():
        glue(name, value, display=False)
