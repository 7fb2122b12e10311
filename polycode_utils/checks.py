"""Argument checks shared by the whole library: bad input fails fast, naming the argument and what is allowed.

One validator per kind of value; every module uses these rather than writing its own. Each returns the value in
its canonical form (a Python int, a float, a list) so that equal inputs give equal cache keys.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

DROPOUT_RANGE = "a number in [0, 1) (the paper's grid: 0, 0.2, 0.4, 0.6, 0.8)"  # the one allowed range of a rate


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def check_int(value: Any, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer in [minimum, maximum], or ValueError naming the argument and the allowed range."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name}: must be an integer >= {minimum}{upper}, got {value!r}")
    return int(value)


def check_positive_float(value: Any, name: str, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0), or ValueError naming the argument."""
    ok = _is_number(value) and math.isfinite(float(value)) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name}: must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def check_float_in(value: Any, name: str, low: float, high: float, *, high_open: bool = False) -> float:
    """A finite number in [low, high] (or [low, high) with high_open), or ValueError naming the argument."""
    ok = _is_number(value) and math.isfinite(float(value)) and low <= value and (
        value < high if high_open else value <= high)
    if not ok:
        raise ValueError(f"{name}: must be a number in [{low:g}, {high:g}{')' if high_open else ']'}, got {value!r}")
    return float(value) + 0.0  # + 0.0 turns -0.0 into 0.0: one value, one cache key


def check_dropout(value: Any, name: str = "dropout") -> float:
    """A dropout rate p in [0, 1): the one range every module and the profiles use."""
    if not (_is_number(value) and math.isfinite(float(value)) and 0.0 <= value < 1.0):
        raise ValueError(f"{name}: must be {DROPOUT_RANGE}, got {value!r}")
    return float(value) + 0.0


def check_choice(value: Any, name: str, allowed: Sequence[Any]) -> Any:
    """One of the allowed values, or ValueError listing them."""
    if isinstance(value, (list, dict, set)) or value not in allowed:
        raise ValueError(f"{name}: must be one of {', '.join(map(str, allowed))}, got {value!r}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """True or False (not 0/1, not a string), or ValueError naming the argument."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: must be True or False, got {value!r}")
    return bool(value)


def check_sequence(value: Any, name: str, *, min_len: int = 1, max_len: int | None = None) -> list:
    """A list or tuple (not a string) of min_len..max_len items, returned as a list."""
    ok = isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, (str, bytes))
    if not ok or len(value) < min_len or (max_len is not None and len(value) > max_len):
        size = f"exactly {min_len}" if max_len == min_len else f"at least {min_len}" + (
            f" and at most {max_len}" if max_len is not None else "")
        raise ValueError(f"{name}: must be a list of {size} items, got {value!r}")
    return list(value)


def check_array(x: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """A real, finite float64 numpy array (from a list, numpy or torch), or ValueError naming the argument."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name}: must be real, got a complex array")
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be numeric, got {type(x).__name__}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite (no NaN or inf)")
    return arr
