"""One build at a time per checkout (issue 15 #2): a second build refuses (--no-wait) or waits, naming the holder."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from demo_book import executed, polycode

from polycode_utils.book.lock import checkout_lock
from polycode_utils.book.params import BuildError


def test_second_build_refuses_with_no_wait_and_names_the_holder(project):
    with checkout_lock(project):
        res = polycode(project, "build", "--no-html", "--no-wait")
        assert res.returncode == 2
        assert f"pid {os.getpid()}" in res.stderr and "another build holds this checkout" in res.stderr
        assert not executed(project).exists()
    try:
        with checkout_lock(project, wait=False), checkout_lock(project, wait=False):
            raise AssertionError("the lock was taken twice")
    except BuildError as exc:
        assert "another build" in str(exc)
    assert polycode(project, "build", "--no-html", "--no-wait").returncode == 0  # released: the next build runs


def test_second_build_waits_for_the_first(project):
    released = threading.Event()

    def hold() -> None:
        with checkout_lock(project):
            time.sleep(4)
            released.set()

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.5)
    proc = subprocess.run([sys.executable, "-m", "polycode_utils.book", "--root", str(project), "build", "--no-html"],
                          capture_output=True, text=True, timeout=120)
    holder.join()
    assert released.is_set() and proc.returncode == 0, proc.stderr
    assert "waiting for another build" in proc.stderr and f"pid {os.getpid()}" in proc.stderr
    assert executed(project).exists()
