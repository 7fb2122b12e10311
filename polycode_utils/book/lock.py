"""One build at a time per checkout: a file lock under _build/, with a note saying who holds it."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from polycode_utils.book.params import BuildError

LOCK_NAME = ".polycode.lock"
HOLDER_NAME = ".polycode.lock.holder"


def holder(build: Path) -> str:
    """Who holds the checkout's lock, as its note says (pid, command, since when)."""
    try:
        return (build / HOLDER_NAME).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


@contextmanager
def checkout_lock(root: Path, wait: bool = True) -> Iterator[None]:
    """Hold the checkout's build lock for the duration; wait for it (saying who holds it), or refuse (wait=False)."""
    build = root / "_build"
    build.mkdir(parents=True, exist_ok=True)
    lock = FileLock(build / LOCK_NAME, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise BuildError(f"another build holds this checkout ({holder(build)}); wait for it, or run without "
                             "--no-wait to queue behind it") from None
        print(f"waiting for another build of this checkout to finish: {holder(build)}", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        note = build / HOLDER_NAME
        note.write_text(f"pid {os.getpid()}, `polycode {' '.join(sys.argv[1:])}`, since "
                        f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        yield
    finally:
        (build / HOLDER_NAME).unlink(missing_ok=True)
        lock.release()
