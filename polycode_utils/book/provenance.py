"""What made a page, beyond its parameters: the code's commit and the versions of the packages that compute it."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from polycode_utils import __version__

# The packages whose versions can change a chapter's numbers or its page (python and the library itself come first).
COMPUTING_PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "transformers", "jupyter-book")


def package_versions() -> dict[str, str]:
    """python, polycode and COMPUTING_PACKAGES with their installed versions ('absent' for one not installed)."""
    found = {"python": platform.python_version(), "polycode": __version__}
    for name in COMPUTING_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found


def code_commit(root: str | Path) -> str:
    """The git commit of the checkout at root, with '+modified' when tracked files differ from it; 'unknown'
    outside a git checkout (an unpacked archive, say)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout

    try:
        head = git("rev-parse", "HEAD").strip()
        return head + ("+modified" if git("status", "--porcelain", "--untracked-files=no").strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
