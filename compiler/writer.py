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
    state: str  # "new" | "changed" | "unchanged" | "foreign" (exists, not ours)


def plan_changes(out_dir: Path, files: dict[str, str]) -> list[Change]:
    """Compare the wanted files with what is on disk, without touching anything."""
    changes = []
    for rel in sorted(files):
        target = out_dir / rel
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
