"""The book's paths: the project root from $POLYCODE_ROOT or from profiles.toml above the current folder."""

from __future__ import annotations

import pytest

from polycode_utils.book import paths


def test_root_found_above_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "profiles.toml").write_text("")
    (tmp_path / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.delenv("POLYCODE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path / "notebooks" / "deep")
    assert paths.book_root() == tmp_path.resolve()
    assert paths.cache_dir() == tmp_path.resolve() / "_build" / "cache"
    assert paths.data_dir() == tmp_path.resolve() / "data"
    assert paths.network_store() == {"store": tmp_path.resolve() / "networks",
                                     "cache_dir": tmp_path.resolve() / "_build" / "cache",
                                     "data_root": tmp_path.resolve() / "data"}


def test_root_from_the_environment_first(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "profiles.toml").write_text("")
    monkeypatch.chdir(tmp_path / "a")
    monkeypatch.setenv("POLYCODE_ROOT", str(tmp_path / "b"))
    assert paths.book_root() == (tmp_path / "b").resolve()
    assert paths.network_store()["data_root"] == (tmp_path / "b").resolve() / "data"


def test_no_root_is_an_error_naming_both_ways(tmp_path, monkeypatch):
    monkeypatch.delenv("POLYCODE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    if any((folder / "profiles.toml").exists() for folder in tmp_path.resolve().parents):
        pytest.skip("a profiles.toml above the temporary folder")
    with pytest.raises(FileNotFoundError, match=r"no profiles.toml .* \$POLYCODE_ROOT"):
        paths.book_root()
