"""One `mlgen run` at a time in a project: an exclusive lock for the whole run (compile included).

Two runs at once would write the same files (the run cache, .mlgen/out/, the temp files of the
stages) and mix their outputs: one run's scan reading the other's metrics. The second run does
not wait: it stops at once, exit 2, with one line naming the holder, because a run can take
minutes and a silent wait looks like a hang. The lock is `mlgen_runtime.lock.FileLock` (flock:
the kernel releases it when the holder exits, even on SIGKILL, so a crashed run never leaves
the project locked) on `.mlgen/cache/run.lock`, under the ignored cache folder.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from mlgen.errors import UsageError

LOCK_FILE = ".mlgen/cache/run.lock"


@contextlib.contextmanager
def run_lock(root: Path) -> Iterator[None]:
    """Hold the project's run lock for the block; UsageError when another run holds it."""
    from mlgen_runtime.errors import BadInput
    from mlgen_runtime.lock import FileLock

    path = root / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except BadInput as exc:
        if "still locked" not in str(exc):
            raise UsageError(str(exc)) from None  # the lock file cannot be opened or locked
        raise UsageError(
            f"another `mlgen run`{_holder(path)} holds this project ({_shown(path)}); "
            "wait for it to finish, then run again"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() and int(pid) != os.getpid() else ""


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
