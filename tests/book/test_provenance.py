"""What made a page beyond its parameters: the checkout's commit and the computing packages' versions."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import polycode_utils
from polycode_utils.book import provenance


def _git(root, *args):
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_code_commit_names_the_checkout_s_commit_and_says_when_it_is_modified(tmp_path):
    assert provenance.code_commit(tmp_path) == "unknown"  # not a git checkout
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert provenance.code_commit(tmp_path) == head
    (tmp_path / "new.py").write_text("")  # untracked: not a change to the code that ran
    assert provenance.code_commit(tmp_path) == head
    (tmp_path / "a.py").write_text("x = 2\n")
    assert provenance.code_commit(tmp_path) == head + "+modified"


def test_package_versions_are_the_installed_ones(monkeypatch):
    found = provenance.package_versions()
    assert list(found)[:2] == ["python", "polycode"] and found["python"] == platform.python_version()
    assert found["polycode"] == polycode_utils.__version__
    assert {k: found[k] for k in ("torch", "numpy", "scikit-learn")} == {
        k: version(k) for k in ("torch", "numpy", "scikit-learn")}
    monkeypatch.setattr(provenance, "COMPUTING_PACKAGES", ("numpy", "no-such-package-polycode"))
    assert provenance.package_versions()["no-such-package-polycode"] == "absent"


def test_the_version_is_written_once_and_the_installed_metadata_agrees():
    """Issue 26: 0.1.0 was written in pyproject.toml and in the package; now pyproject reads the package's."""
    assert version("polycode") == polycode_utils.__version__
    cli = Path(sys.executable).with_name("polycode")  # the console script of this environment
    out = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"polycode {polycode_utils.__version__}"
