"""The book's places on disk: the one module that knows ``_build/cache`` and ``data/``."""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_NAME = "profiles.toml"
ROOT_VARIABLE = "POLYCODE_ROOT"


def book_root() -> Path:
    """The project root: $POLYCODE_ROOT if set (the build tool sets it for its kernels), else the nearest ancestor
    of the current directory holding profiles.toml."""
    env = os.environ.get(ROOT_VARIABLE)
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise FileNotFoundError(f"no {CONFIG_NAME} in {here} or any folder above it, and ${ROOT_VARIABLE} is not set")


def cache_dir() -> Path:
    """Where trained networks and other expensive results are kept between builds: <root>/_build/cache."""
    return book_root() / "_build" / "cache"


def data_dir() -> Path:
    """Where downloaded or shipped data sets live: <root>/data."""
    return book_root() / "data"


def shipped_networks() -> Path:
    """Where the networks trained once by `polycode train` are committed, with their manifest: <root>/networks."""
    return book_root() / "networks"


def network_store() -> dict[str, Path]:
    """The keyword arguments through which chapters 4, 5 and 6 find chapter 4's networks:
    ``load_networks(configs, **network_store(), ...)``: the shipped store, the cache, the data."""
    return {"store": shipped_networks(), "cache_dir": cache_dir(), "data_root": data_dir()}
