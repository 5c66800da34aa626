"""Writing generated files: atomically, never over a file mlgen did not write, or checking only."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlgen.backends.common import GENERATED_MARKER

HEADER_LINES = 5  # the marker must appear this early for a file to count as ours


def is_generated(path: Path) -> bool:
    """True if `path` carries mlgen's header (so it may be replaced)."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            head = [fh.readline() for _ in range(HEADER_LINES)]
    except OSError:
        return False
    return any(GENERATED_MARKER in line for line in head)


@dataclass(frozen=True)
class Change:
    path: str  # relative to the output dir
    # "new" | "changed" | "unchanged" | "foreign" (exists, not ours) | "blocked" (cannot be a
    # file: a folder stands there, or a file stands where a parent folder must be)
    state: str
    blocker: Path | None = None  # for "blocked": what stands in the way ...
    why: str = ""  # ... and why it does


def plan_changes(out_dir: Path, files: dict[str, str]) -> list[Change]:
    """Compare the wanted files with what is on disk, without touching anything."""
    changes = []
    folders: dict[Path, bool] = {}  # parent folder -> usable (missing ones are made)
    for rel in sorted(files):
        target = out_dir / rel
        blocker = _blocker(out_dir, target, folders)
        if blocker:
            changes.append(Change(rel, "blocked", *blocker))
            continue
        if not target.exists():
            changes.append(Change(rel, "new"))
            continue
        try:
            current = target.read_bytes()
        except OSError:
            current = b""
        if current == files[rel].encode("utf-8"):
            changes.append(Change(rel, "unchanged"))
        elif not is_generated(target):
            changes.append(Change(rel, "foreign"))
        else:
            changes.append(Change(rel, "changed"))
    return changes


def obsolete_files(out_dir: Path, files: dict[str, str], folder: str) -> list[Change]:
    """Files under `folder` (a folder mlgen owns, e.g. the runtime bundle) that this compile
    does not write: "obsolete" when they carry mlgen's header (a module an older mlgen bundled),
    else "foreign". The runtime refuses any file its manifest does not list, so they must go."""
    base = out_dir / folder
    if not base.is_dir():
        return []
    out = []
    for here, dirs, names in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")  # the interpreter's, not ours
        for name in names:
            path = Path(here) / name
            rel = path.relative_to(out_dir).as_posix()
            if rel not in files:
                ours = path.is_file() and not path.is_symlink() and is_generated(path)
                out.append(Change(rel, "obsolete" if ours else "foreign"))
    return sorted(out, key=lambda c: c.path)


def _blocker(out_dir: Path, target: Path, folders: dict[Path, bool]) -> tuple[Path, str] | None:
    """What keeps `target` from being written as a file, and why; None when nothing does."""
    for folder in [None, *reversed(target.relative_to(out_dir).parents[:-1])]:
        here = out_dir if folder is None else out_dir / folder
        if here not in folders:
            # a symlinked folder would send writes (and --force's removals) outside the output folder
            folders[here] = folder is None or not here.is_symlink()
            folders[here] = folders[here] and (not here.exists() or here.is_dir())
        if not folders[here]:
            if folder is not None and here.is_symlink():
                return here, "is a symbolic link; mlgen writes only into real folders inside the output folder"
            return here, "is a file, but a folder must stand there"
    if target.exists() and not target.is_file():
        return target, f"is {'a folder' if target.is_dir() else 'not a regular file'}, not a file"
    return None


def write_atomic(path: Path, text: str, durable: bool = False) -> None:
    """Write via a temp file in the same folder + rename: readers never see half a file.

    `durable` fsyncs the data before the rename, so a crash cannot leave an empty file in place
    of the old one: for files a person wrote (`--force` over a hand-written pipeline, `mlgen
    init --force`). Generated files skip it: running mlgen again regenerates them, and an fsync
    per file cost more than the rest of a compile (about 1 ms each, 40+ files)."""
    parent = path.parent
    if not parent.is_dir():
        parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
