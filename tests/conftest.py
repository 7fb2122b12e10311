"""Shared test setup: science tests run torch on one thread; the slow whole-book build starts first."""

from __future__ import annotations

from pathlib import Path

import pytest

BOOK_TESTS = Path(__file__).parent / "book"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first (stable order otherwise): under xdist the whole-book build, the long pole, starts at once."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The science tests' models are tiny: one intra-op thread is faster, and immune to stalls when the machine is
    busy. Book tests need no torch, so it is imported only when science tests were collected."""
    if any(BOOK_TESTS not in Path(item.path).parents for item in session.items):
        import torch

        torch.set_num_threads(1)
