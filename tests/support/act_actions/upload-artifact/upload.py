"""Stand-in for actions/upload-artifact (tests only): copy the matched files into the run's
artifact folder ACT_STANDIN_ARTIFACTS/<name>, rooted the way upload-artifact roots them.

`path` lines are @actions/glob patterns relative to the workspace (`*`, `?`, `[...]`, `**`,
`\\` escapes the next character; `!` excludes; `#` comments). The artifact's root is the
search path of a single pattern (its parent when that pattern is one file), else the least
common ancestor of all search paths (a pattern's search path is its literal prefix up to the
first segment with a wildcard).
Hidden files (a path segment starting with `.` below the search path) are left out unless
include-hidden-files is true. Artifacts are immutable: a second upload of a name fails unless
overwrite is true.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from pathlib import Path

MAGIC = set("*?[")


def inp(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper()}", default).strip()


def segments(pattern: str) -> list[tuple[str, str | None]]:
    """Each `/` segment as (Python glob, its literal text or None when it has a wildcard).

    @actions/glob on Linux reads `\\` as an escape: `\\[` is a literal `[` (the generator
    escapes `[ ] * ?` in paths that way); Python's glob escapes with `[[]` instead."""
    out = []
    for seg in pattern.split("/"):
        py, text, magic, i = "", "", False, 0
        while i < len(seg):
            c = seg[i]
            if c == "\\" and i + 1 < len(seg):
                py, text, i = py + glob.escape(seg[i + 1]), text + seg[i + 1], i + 2
                continue
            if c in MAGIC:
                magic = True
            py, text, i = py + c, text + c, i + 1
        out.append((py, None if magic else text))
    return out


def to_glob(pattern: str) -> str:
    return "/".join(py for py, _ in segments(pattern))


def search_path(pattern: str) -> str:
    """The pattern's literal prefix: its segments up to the first one with a wildcard."""
    literal = []
    for _, text in segments(pattern):
        if text is None:
            break
        literal.append(text)
    return os.path.normpath("/".join(literal)) if literal else "."


def lca(paths: list[str]) -> str:
    return os.path.commonpath([os.path.abspath(p) for p in paths])


def hidden(rel: str) -> bool:
    return any(part.startswith(".") and part not in (".", "..") for part in Path(rel).parts)


def main() -> int:
    ws = Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
    os.chdir(ws)
    name = inp("name", "artifact") or "artifact"
    raw = [ln.strip() for ln in inp("path").splitlines()]
    patterns = [ln for ln in raw if ln and not ln.startswith("#")]
    includes = [p for p in patterns if not p.startswith("!")]
    excludes = [p[1:] for p in patterns if p.startswith("!")]
    with_hidden = inp("include-hidden-files", "false") == "true"
    if not includes:
        print("::error::Input required and not supplied: path")
        return 1
    files: dict[str, None] = {}
    for pat in includes:
        base = search_path(pat)
        for hit in sorted(glob.glob(to_glob(pat), recursive=True, include_hidden=True)):
            found = [hit] if os.path.isfile(hit) else sorted(
                str(p) for p in Path(hit).rglob("*") if p.is_file()
            )
            for f in found:
                below = os.path.relpath(f, base) if os.path.isdir(base) else os.path.basename(f)
                if not with_hidden and hidden(below):
                    continue
                files[os.path.normpath(f)] = None
    for pat in excludes:
        for hit in glob.glob(to_glob(pat), recursive=True, include_hidden=True):
            hit = os.path.normpath(hit)
            for f in list(files):
                if f == hit or f.startswith(hit + os.sep):
                    del files[f]
    if not files:
        how = inp("if-no-files-found", "warn")
        msg = f"No files were found with the provided path: {inp('path')}. No artifacts will be uploaded."
        if how == "error":
            print(f"::error::{msg}")
            return 1
        print(f"::warning::{msg}" if how == "warn" else msg)
        return 0
    searches = [search_path(p) for p in includes]
    if len(searches) == 1:
        only = searches[0]
        root = os.path.dirname(os.path.abspath(only)) if list(files) == [os.path.normpath(only)] else os.path.abspath(only)
    else:
        root = lca(searches)
    store = Path(os.environ["ACT_STANDIN_ARTIFACTS"])
    dest = store / name
    if dest.exists():
        if inp("overwrite", "false") != "true":
            print(f"::error::Failed to CreateArtifact: an artifact with this name already exists on the workflow run: {name}")
            return 1
        shutil.rmtree(dest)
    for f in files:
        target = dest / os.path.relpath(os.path.abspath(f), root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    print(f"Artifact {name} has been successfully uploaded! Final size is {len(files)} files")
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
        out.write(f"artifact-id={sum(1 for p in store.iterdir() if p.is_dir())}\n")
        out.write(f"artifact-url=file://{dest}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
