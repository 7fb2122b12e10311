"""Argument checks shared by the library: bad input fails fast, naming the argument and what is allowed."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def check_int(value: Any, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer in [minimum, maximum], or ValueError naming the argument and the allowed range."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name}: must be an integer >= {minimum}{upper}, got {value!r}")
    return int(value)


def check_positive_float(value: Any, name: str, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0), or ValueError naming the argument."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating)) \
        and math.isfinite(float(value)) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name}: must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)
