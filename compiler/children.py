"""The processes `mlgen run` starts, so that Ctrl-C stops all of them.

Each child (a job's shell command, a shard) gets its own process group in
the same session (`process_group=0`): a signal to the group reaches what the shell started too
(a pipeline, a `python` under `bash -c`). The terminal's Ctrl-C then only reaches mlgen, which
forwards SIGINT to every live group, waits a little for them to clean up, and kills what is
left; `kill -INT <mlgen>` from elsewhere stops the same tree. Only the standard library.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Any

GRACE_SECONDS = 5.0  # how long an interrupted child may take to exit before SIGKILL

_lock = threading.Lock()
_live: set[subprocess.Popen[Any]] = set()


def popen(argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """subprocess.Popen in its own process group, tracked until it is reaped."""
    proc = subprocess.Popen(argv, process_group=0, **kwargs)
    with _lock:
        _live.add(proc)
    return proc


def forget(proc: subprocess.Popen[Any]) -> None:
    with _lock:
        _live.discard(proc)


def run(argv: list[str], **kwargs: Any) -> int:
    """subprocess.run(...).returncode, tracked (the command's output goes where ours goes)."""
    proc = popen(argv, **kwargs)
    try:
        return proc.wait()
    finally:
        if proc.poll() is not None:
            forget(proc)


def _signal_group(proc: subprocess.Popen[Any], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all() -> None:
    """SIGINT to every live child's group, then SIGKILL to the groups still there after the
    grace period; every child is reaped. Called on Ctrl-C, before anything waits on them."""
    with _lock:
        procs = [p for p in _live if p.poll() is None]
    for proc in procs:
        _signal_group(proc, signal.SIGINT)
    deadline = time.monotonic() + GRACE_SECONDS
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in procs:
        _signal_group(proc, signal.SIGKILL)  # a group leader gone may leave its group behind
        proc.wait()
        forget(proc)
