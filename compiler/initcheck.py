"""Can `mlgen init` write every file it means to? Checked for all of them before it writes any,
so a refusal leaves the folder as it was (no spec without its scripts, no scripts without a spec).

What is refused, with one line each: the project folder is a file (or not a folder at all); a
folder init writes into (`scripts/`, `.mlgen/`) is a file; a file init writes is a folder (even
with --force, which replaces files only); a folder that cannot be written into (read-only, or a
pseudo file system such as /proc, where even root cannot create files). Writability is probed by
creating and removing a temporary file: the only answer the kernel gives that holds for root,
read-only mounts and /proc alike.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mlgen.errors import UsageError


def preflight(folder: Path, files: dict[str, str]) -> None:
    """Raise UsageError (one line) when any of `files` (relative to `folder`) cannot be written."""
    shown = folder.as_posix()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{shown} is not a folder; pass the project folder, e.g. `mlgen init my-project`")
    probed: set[Path] = set()
    for rel in sorted(files):
        target = folder / rel
        for parent in reversed(target.relative_to(folder).parents[:-1]):  # scripts, .mlgen, ...
            where = folder / parent
            if where.exists() and not where.is_dir():
                raise UsageError(f"{where.as_posix()} is a file, but init writes {target.as_posix()} into it; "
                                 "move it away or pass another folder")
        if target.is_dir():
            raise UsageError(f"{target.as_posix()} is a folder, not a file; move it away or pass another folder")
        existing = _nearest_existing(target.parent)
        if existing not in probed:
            probed.add(existing)
            problem = _cannot_write(existing)
            if problem:
                raise UsageError(f"cannot write {target.as_posix()}: {existing.as_posix()} {problem}")


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _cannot_write(folder: Path) -> str | None:
    """None when a file can be created in `folder`, else why not (no file is left behind)."""
    if not folder.is_dir():
        return "is a file, not a folder"
    try:
        fd, name = tempfile.mkstemp(prefix=".mlgen-init-", dir=folder)
    except OSError as exc:
        return f"is not writable ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(name)
    return None
