"""Small file helpers: hashing, atomic writes (temp file + rename), stable JSON, and opening a
file without following links (the registry's files: a symlink, FIFO, folder or hard-linked file
where one of them must be is refused, never written through)."""

from __future__ import annotations

import hashlib
import json
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename, fsync the folder: readers see the old file
    or the new one, never a part; world-readable like files in a git checkout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    commit_atomic(prepare_atomic(path, data), path)


def prepare_atomic(path: Path, data: bytes) -> Path:
    """The first half of an atomic write: `data` in a durable temp file next to `path` (the
    step that needs disk space). `commit_atomic` renames it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    os.close(fd)
    return Path(tmp)


def commit_atomic(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class NotRegular(OSError):
    """A path that must be a regular file of ours is something else."""


def open_regular(path: Path, flags: int, mode: int = 0o644) -> int:
    """os.open that never follows a symlink (O_NOFOLLOW), never blocks on a FIFO (O_NONBLOCK)
    and refuses anything but a regular file with a single link (a hard link would let a write
    land in another file): NotRegular, an OSError naming the path."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) or (exc.errno == errno.ENXIO and _is_fifo(path)):
            raise _not_regular(path) from None
        if exc.errno == errno.EISDIR:
            raise _not_regular(path) from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(fd)
        raise _not_regular(path)
    return fd


def read_regular(path: Path) -> bytes | None:
    """The bytes of `path` (opened as open_regular does); None when it does not exist."""
    try:
        fd = open_regular(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        chunks = []
        while chunk := os.read(fd, CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def check_regular_or_missing(path: Path) -> None:
    """NotRegular unless `path` is missing or a regular file with one link (not followed)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        raise _not_regular(path)


def real_dir(path: Path, create: bool = False) -> None:
    """NotRegular unless `path` is a folder itself, not a symlink to one (made when `create`)."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        if not create:
            return  # nothing there (or a file above it: reading finds nothing, writing fails clearly)
        path.mkdir(exist_ok=True)
        info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise NotRegular(errno.ENOTDIR, "not a folder (a symbolic link or a file); refusing to follow it", str(path))


def _is_fifo(path: Path) -> bool:
    try:
        return stat.S_ISFIFO(os.lstat(path).st_mode)
    except OSError:
        return False


def _not_regular(path: Path) -> NotRegular:
    try:
        info = os.lstat(path)
        kind = ("a symbolic link" if stat.S_ISLNK(info.st_mode) else "a folder" if stat.S_ISDIR(info.st_mode)
                else "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a hard-linked file" if stat.S_ISREG(info.st_mode)
                else "not a regular file")
    except OSError:
        kind = "not a regular file"
    return NotRegular(errno.EPERM, f"{kind}, not a regular file of its own; refusing to open it", str(path))


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def dumps(data: Any) -> str:
    """Stable JSON: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=_default) + "\n"


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, dumps(data))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _default(obj: Any) -> Any:
    # numpy scalars and arrays end up in metrics; JSON gets plain Python numbers
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 0) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return obj.as_posix()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
