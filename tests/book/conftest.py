"""Book tests: the demo project every build-tool test starts from."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_book import make_project


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A fresh demo project root in a temporary folder."""
    return make_project(tmp_path)
