"""The student's run of ``polycode grade``: ``python -m polycode_utils.book.sandbox``, started in a throw-away folder
holding only the student's notebook, with the job (parameters, limits) on stdin, so that no path of the instructor's
material is in its arguments or its folder. Its limits: seconds per cell and in all, and an address-space limit
that the kernel inherits. It writes what stopped the run, if anything, to ``stopped.txt``; the answers the
notebook exports land in ``answers/``."""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from pathlib import Path


def _stopped_at_an_untagged_cell(path: Path) -> bool:
    """Whether a run stopped at an error of a cell not tagged raises-exception (papermill reports the errors of
    tagged cells too, after running to the end)."""
    import nbformat  # noqa: PLC0415

    for cell in nbformat.read(path, as_version=4).cells:
        failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        if failed and "raises-exception" not in cell.metadata.get("tags", []):
            return True
    return False


def main() -> int:
    import papermill  # noqa: PLC0415
    from nbclient.exceptions import CellTimeoutError, DeadKernelError  # noqa: PLC0415

    from polycode_utils.book.execute import KERNEL_NAME, TimedOut, on_alarm  # noqa: PLC0415
    from polycode_utils.book.paths import ROOT_VARIABLE  # noqa: PLC0415

    job = json.loads(sys.stdin.read())
    if job["memory_bytes"]:  # 0: no limit, as for the times
        resource.setrlimit(resource.RLIMIT_AS, (job["memory_bytes"], job["memory_bytes"]))
    os.environ[ROOT_VARIABLE] = job["root"]
    signal.signal(signal.SIGALRM, on_alarm)
    if job["total_s"]:
        signal.setitimer(signal.ITIMER_REAL, job["total_s"])
    stopped = None
    try:
        papermill.execute_notebook("student.ipynb", "student.out.ipynb", parameters=job["parameters"],
                                   kernel_name=KERNEL_NAME, language="python", cwd=".", progress_bar=False,
                                   log_output=False, execution_timeout=job["cell_s"] or None)
    except TimedOut:
        stopped = f"the student's notebook ran longer than {job['total_s']:.0f} s in all and was stopped"
    except CellTimeoutError:
        stopped = f"a cell of the student's notebook ran longer than {job['cell_s']:.0f} s and was stopped"
    except DeadKernelError:
        stopped = ("the student's kernel died (it exited, crashed, or passed the memory limit of "
                   f"{job['memory_bytes'] / 2**30:.1f} GiB)")
    except papermill.PapermillExecutionError as exc:  # also raised at the end when a stub raised in its cell
        if _stopped_at_an_untagged_cell(Path("student.out.ipynb")):
            stopped = f"a cell of the student's notebook failed: {exc.ename}: {exc.evalue}"[:500]
    except MemoryError:
        stopped = f"the student's run passed the memory limit of {job['memory_bytes'] / 2**30:.1f} GiB"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if stopped:
        Path("stopped.txt").write_text(stopped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
