"""Parameters and profiles: declarations, coercion and bounds, choices read from the library, groups and routing."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_book import GROUPED, grouped_project

from polycode_utils.book import params
from polycode_utils.book.params import BuildError, Param, Project

ROOT = Path(__file__).resolve().parents[2]


def test_parameters_coerced_and_checked():
    p = Param("rates", "list[float]", min=0.0, max=1.0)
    assert p.coerce("0, 0.2,0.8") == [0.0, 0.2, 0.8]
    with pytest.raises(ValueError):
        p.coerce("0.2,1.5")
    assert Param("n", "int", min=1).coerce("4") == 4
    for bad in ("4.5", "x", "0", 2.0, True):
        with pytest.raises(ValueError):
            Param("n", "int", min=1).coerce(bad)
    pair = Param("fit_range", "list[int]", min=1, min_len=2, max_len=2)
    assert pair.coerce("1,100") == [1, 100] and "exactly 2" in pair.allowed()
    for bad in ("1", "1,2,3", "0,5"):
        with pytest.raises(ValueError):
            pair.coerce(bad)
    assert Param("on", "bool").coerce("false") is False
    with pytest.raises(ValueError):
        Param("x", "float").coerce("nan")


def test_exclusive_upper_bound_is_the_half_open_interval():
    rate = Param("p", "float", min=0.0, below=1.0)
    assert rate.coerce("0") == 0.0 and rate.coerce("0.99") == 0.99
    for bad in ("1", "1.0", "-0.01"):
        with pytest.raises(ValueError):
            rate.coerce(bad)
    assert rate.allowed() == "a number, in [0, 1)"
    rates = Param("rates", "list[float]", min=0.0, below=1.0)
    assert rates.coerce("0,0.5,0.999") == [0.0, 0.5, 0.999]
    with pytest.raises(ValueError):
        rates.coerce("0.2,1")
    assert rates.allowed().endswith("each in [0, 1)")
    assert Param("x", "float", below=2.0).allowed() == "a number, < 2"


def write(root: Path, text: str, name: str = "mod.py") -> None:
    (root / name).write_text(text)


def test_literal_read_from_source_without_import(tmp_path):
    write(tmp_path, 'import torch\nNAMES = ("a", "b")\nOTHER: tuple = (1, 2)\nBAD = make()\nEMPTY = ()\n')
    assert params.literal_from_source(tmp_path, "mod.py:NAMES") == ("a", "b")  # torch is never imported
    assert params.literal_from_source(tmp_path, "mod.py:OTHER") == (1, 2)
    for ref, words in (("mod.py:BAD", "not a literal"), ("mod.py:EMPTY", "non-empty"),
                       ("mod.py:MISSING", "assigns no MISSING"), ("nofile.py:NAMES", "no file nofile.py"),
                       ("mod.py", "not of the form")):
        with pytest.raises(ValueError, match=words):
            params.literal_from_source(tmp_path, ref)


def test_declarations_checked_when_read(tmp_path):
    write(tmp_path, 'NAMES = ("x", "y")\n')
    layer = params.declare(tmp_path, "group g", "layer", {"type": "str", "choices_from": "mod.py:NAMES"})
    assert layer.choices == ("x", "y") and layer.allowed() == "a string, one of x, y"
    for spec, words in (({"type": "str", "choises": ["a"]}, r"unknown key\(s\) choises"),
                        ({"type": "double"}, "allowed types"),
                        ({"type": "float", "max": 1.0, "below": 1.0}, "both max"),
                        ({"type": "str", "choices": ["a"], "choices_from": "mod.py:NAMES"}, "both choices"),
                        ({"type": "str", "choices_from": "mod.py:NOPE"}, "parameter 'p' of group g: choices_from")):
        with pytest.raises(BuildError, match=words):
            params.declare(tmp_path, "group g", "p", spec)


def test_notebook_parameters_read_with_their_source_text(project):
    defaults = params.notebook_parameters(project / "notebooks" / "01_demo.py")
    assert defaults == {"profile": '"default"', "n": "3", "rate": "0.5", "mode": '"fast"', "rates": "[0.0, 0.5]",
                        "fail": "False", "sleep": "0.0"}
    (project / "notebooks" / "01_demo.py").write_text("# %%\nx = 1\n")
    with pytest.raises(BuildError, match="no cell tagged 'parameters'"):
        params.notebook_parameters(project / "notebooks" / "01_demo.py")


def test_real_book_declarations_match_notebooks_and_profiles():
    project = Project.load(ROOT)
    assert list(project.chapters) == ["01_codes", "02_capacity", "03_error_correction", "04_autoencoder",
                                      "05_spectra", "06_projections", "07_gpt2", "08_dropout_toys"]
    toc = (ROOT / "_toc.yml").read_text()
    for profile in project.profiles:
        for chapter in project.chapters.values():
            params.resolve_parameters(project, chapter, profile, [])  # raises on any mismatch or bad value
            assert f"book/_generated/{chapter.id}" in toc


def test_depth_names_and_dropout_range_declared_once():
    project = Project.load(ROOT)
    depth_names = params.literal_from_source(ROOT, "polycode_utils/networks/models.py:DEPTH_NAMES")
    assert depth_names[:2] == ("input", "stem") and all(isinstance(n, str) for n in depth_names)
    spectra, projections = project.chapter("05_spectra"), project.chapter("06_projections")
    assert spectra.params["layers"].choices == spectra.params["fig5_layer"].choices == depth_names
    assert projections.params["layers"].choices == depth_names
    assert '"layer4", "pooled"' not in (ROOT / "profiles.toml").read_text()  # the list is not repeated there
    rates = [project.chapter("02_capacity").params["dropout_rates"], spectra.params["dropout_rates"],
             projections.params["show_dropout"]]
    assert all(p.allowed().endswith("in [0, 1)") for p in rates)


def test_parameter_groups_are_shared_by_chapters(tmp_path):
    project = Project.load(grouped_project(tmp_path))
    chapters = list(project.chapters.values())
    assert all("width" in c.params for c in chapters) and "layers" not in chapters[0].params
    assert [c.uses for c in chapters] == [("net",), ("net",), ()]
    for c in chapters[:2]:  # the group's profile values reach every chapter that uses it
        assert params.resolve_parameters(project, c, "smoke", [])["width"] == 2
    routed = params.split_overrides(project, chapters, [("net.width", "5")])  # GROUP.NAME: the group's chapters
    assert routed == {"01_train": [("width", "5")], "02_measure": [("width", "5")], "03_other": []}
    routed = params.split_overrides(project, chapters, [("width", "5")])  # NAME: every chapter declaring it
    assert all(routed[c] == [("width", "5")] for c in routed)
    routed = params.split_overrides(project, chapters, [("3.width", "0.25")])  # CHAPTER.NAME: that chapter
    assert routed == {"01_train": [], "02_measure": [], "03_other": [("width", "0.25")]}
    with pytest.raises(BuildError, match="unknown parameter 'depth' of group net; its parameters are: width"):
        params.split_overrides(project, chapters, [("net.depth", "5")])
    with pytest.raises(BuildError, match="unknown parameter 'depth'; parameters of the chapters being built"):
        params.split_overrides(project, chapters, [("depth", "5")])
    with pytest.raises(BuildError, match="names chapter 03_other, which is not being built"):
        params.split_overrides(project, chapters[:2], [("03_other.width", "1")])


def test_shared_parameter_defaults_must_agree(tmp_path):
    project = Project.load(grouped_project(tmp_path, second_default="16"))
    with pytest.raises(BuildError, match="shared parameter 'width' .* 8 in chapter 01_train but 16 in chapter 02"):
        params.check_shared_defaults(project)


def test_config_mistakes_named(tmp_path):
    grouped_project(tmp_path)
    for old, new, words in (('uses = ["net"]\n[chapters.02', 'uses = ["nett"]\n[chapters.02', "uses group 'nett'"),
                            ("[groups.net.profile.smoke]", "[groups.net.profile.huge]", "names profile 'huge'"),
                            ('[chapters.02_measure.params]\n', '[chapters.02_measure.params]\nwidth = '
                             '{ type = "int" }\n', "'width' of chapter 02_measure is declared twice")):
        (tmp_path / "profiles.toml").write_text(GROUPED.replace(old, new, 1))
        with pytest.raises(BuildError, match=words):
            Project.load(tmp_path)
    with pytest.raises(BuildError, match="no profiles.toml"):
        Project.load(tmp_path / "notebooks")
    project = Project.load(grouped_project(tmp_path))
    assert project.chapter("2").id == project.chapter("measure").id == "02_measure"
    with pytest.raises(BuildError, match="unknown chapter '7'; chapters are: 01_train, 02_measure, 03_other"):
        project.chapter("7")


@pytest.mark.parametrize("chapter, overrides, words", [
    ("06_projections", [("fit_range", "600,10")], ["fit_range[0] < fit_range[1]", "fit_range = [600, 10]"]),
    ("05_spectra", [("fit_range", "9,5")], ["fit_range[0] < fit_range[1]"]),
    ("06_projections", [("radius", "6"), ("dot_radius", "2")], ["radius + dot_radius <= image_size / 2 - 1",
                                                                "radius = 6.0", "image_size = 16"]),
    ("04_autoencoder", [("dataset", "cifar10"), ("image_size", "16")], ["dataset == 'patches' or image_size == 32"]),
    ("06_projections", [("show_dropout", "0.4"), ("dropout_rates", "0,0.2")], ["show_dropout in dropout_rates"]),
    ("06_projections", [("show_dropout", "0.3")], ["show_dropout in dropout_rates", "show_dropout = 0.3"]),
    ("05_spectra", [("fig5_layer", "stem"), ("layers", "layer1,layer2")], ["fig5_layer in layers"]),
    # issue 25 #8, #11: these failed late, inside the chapter, with status 1
    ("02_capacity", [("dropout_rates", "0")], ["max(dropout_rates) > 0"]),
    ("02_capacity", [("spread", "6"), ("width", "6")], ["spread < width"]),
    ("07_gpt2", [("top_k", "50"), ("n_windows", "16")], ["top_k <= n_windows"]),
    ("07_gpt2", [("skip_positions", "40"), ("context", "32")], ["skip_positions < context"]),
    ("07_gpt2", [("fit_range", "50,10")], ["fit_range[0] < fit_range[1]"]),
    ("05_spectra", [("fig5_layer", "input")], ["fig5_layer != 'input'"]),  # failed after the networks loaded
    ("06_projections", [("sweep_frames", "9999,10000")], ["lcm(n_frames, sweep_frames) <= 20000"]),  # so did this
])
def test_cross_parameter_constraints_of_the_real_book_fail_before_anything_runs(chapter, overrides, words):
    """Issue 15 #9: these were checked only inside the notebooks, after the networks had loaded or trained."""
    project = Project.load(ROOT)
    with pytest.raises(BuildError) as err:
        params.resolve_parameters(project, project.chapter(chapter), "default", overrides)
    for w in words:
        assert w in str(err.value)
    for c in ("02_capacity", "05_spectra", "06_projections", "07_gpt2"):  # the defaults and every profile satisfy them
        for prof in project.profiles:
            params.resolve_parameters(project, project.chapter(c), prof, [])


def test_constraint_declarations_are_checked_when_read(tmp_path):
    for bad, words in (('["__import__(\'os\')"]', "calls something other"), ('["width < nothing"]', "nothing"),
                       ('["width <"]', "not an expression"), ('["width.real > 0"]', "not an expression")):
        text = GROUPED.replace('[chapters.01_train]\nuses = ["net"]',
                               f'[chapters.01_train]\nuses = ["net"]\nconstraints = {bad}')
        (tmp_path / "profiles.toml").write_text(text)
        with pytest.raises(BuildError, match=words):
            Project.load(tmp_path)


def test_the_hostile_passs_heavy_cases_are_refused_or_estimated_within_memory():
    """Issue 25 #6: chapter 1's batch of 10^6 at 10^4 features tried to allocate 40 GB; chapter 6's n_frames 10000
    (a loop of lcm(10000, 800) = 20,000 frames) was estimated at 13.4 GiB and grew past 22.6 GB (every layer kept
    its projections alive); with that fixed it is estimated at 2.6 GiB."""
    project = Project.load(ROOT)
    codes = project.chapter("01_codes")
    with pytest.raises(BuildError, match=r"chapter 01_codes: training would need about 3\d{3}\.\d GiB"):
        params.check_memory(codes, {"n_features": 10000, "batch_size": 1000000}, total=24 * 2**30)
    dot = project.chapter("06_projections")
    need = params.memory_estimates(dot, {"n_frames": 10000})["random projections of one layer"]
    assert 2.4 * 2**30 < need < 2.8 * 2**30
    assert params.memory_estimates(dot, {"n_frames": 100, "sweep_frames": [7, 11]})[
        "random projections of one layer"] > params.memory_estimates(dot, {"n_frames": 100})[
        "random projections of one layer"]  # lcm(100, 7, 11) = 7,700 frames recorded against 800


def test_known_heavy_steps_are_refused_before_anything_runs_when_memory_is_short():
    """Issue 15 #6: n_projections 100000 with n_frames 10000 met the OOM killer after a minute."""
    project = Project.load(ROOT)
    chapter = project.chapter("06_projections")
    values = params.resolve_parameters(project, chapter, "default", [])  # the defaults fit this machine
    with pytest.raises(BuildError, match=r"random projections of one layer would need about 137\.7 GiB .* this "
                                         r"machine has 16\.0 GiB"):
        params.check_memory(chapter, {**values, "n_projections": 100000, "n_frames": 10000}, total=16 * 2**30)
    params.check_memory(chapter, {**values, "n_projections": 1000, "n_frames": 1000}, total=16 * 2**30)
    if params.machine_memory() < 137 * 2**30:
        with pytest.raises(BuildError, match="would need about 137.7 GiB"):
            params.resolve_parameters(project, chapter, "default", [("n_projections", "100000"),
                                                                     ("n_frames", "10000")])
