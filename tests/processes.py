"""Process helpers of the tests that kill a parent and require its children gone (workers, torchrun ranks)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path


def running(pid: int) -> bool:
    """Whether a process exists and is neither a zombie nor dead (Linux's /proc)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def gone_within(pids: Sequence[int], seconds: float) -> bool:
    """Whether every one of the processes has ended within the given seconds."""
    deadline = time.monotonic() + seconds
    while any(running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not any(running(p) for p in pids)
