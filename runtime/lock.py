"""An exclusive, cross-process lock on a file (POSIX `flock`), with a timeout.

The kernel releases an `flock` when its holder exits, however it exits (even SIGKILL), so a
crashed job never leaves the registry locked. The lock file itself is never deleted: removing it
while another process waits on the old inode would let two processes "hold" the lock at once.
NFS and other network file systems may not honour `flock`; keep the registry on a local disk or
a file system that does.
"""

from __future__ import annotations

import errno
import os
import random
import time
from pathlib import Path
from types import TracebackType

from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import open_regular

try:
    import fcntl
except ImportError:  # Windows: the generated pipelines run POSIX shells, so this is a usage error
    fcntl = None  # type: ignore[assignment]

DEFAULT_TIMEOUT = 60.0
MAX_POLL = 0.1  # seconds between attempts, at most


class FileLock:
    """`with FileLock(path, timeout):` holds an exclusive lock on `path` for the block."""

    def __init__(self, path: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None:
            raise BadInput("the file-system registry needs POSIX file locks (fcntl), not available here")
        if self._fd is not None:
            raise RuntimeError(f"{self.path}: lock already held by this object")
        try:  # never through a symlink, FIFO or hard link: _note_holder truncates the file
            fd = open_regular(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only or full file system, no permission, a file as parent...
            raise BadInput(f"{self.path}: cannot open the lock file: {reason(exc)}") from None
        try:
            self._wait(fd)
        except OSError as exc:  # flock itself failed (e.g. ENOLCK on a network file system)
            os.close(fd)
            raise BadInput(f"{self.path}: cannot lock the file: {reason(exc)}") from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _note_holder(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _wait(self, fd: int) -> None:
        """Try without blocking until the deadline; a blocking flock could not time out."""
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                raise BadInput(
                    f"{self.path}: still locked by another process after {self.timeout:g}s"
                    f"{_holder(fd)}; retry when it has finished"
                )
            # jitter so that many waiters do not retry in lock-step
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, MAX_POLL)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def reason(exc: OSError) -> str:
    """The operating system's reason, e.g. "Read-only file system (errno EROFS)"."""
    name = errno.errorcode.get(exc.errno or 0)
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{text} (errno {name})" if name else text


def _note_holder(fd: int) -> None:
    """Record our pid in the lock file, only to name the holder in a timeout message (best
    effort: the lock is held either way)."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
