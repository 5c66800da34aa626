"""Load a spec file: TOML -> raw data (with key positions) -> what a short spec leaves out
(resolve.py) -> the pydantic model (diagnose.py) -> semantic checks.

Every problem becomes a Diagnostic with file:line:col, key path, message, the source line and a
hint; all of them are collected and raised together as one SpecError, so the user fixes a file
in one pass.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgen.errors import Diagnostic, SpecError, dotted
from mlgen.spec import depth, diagnose
from mlgen.spec.model import Spec
from mlgen.spec.positions import Path as KeyPath
from mlgen.spec.positions import Positions, key_positions, locate
from mlgen.spec.resolve import resolve
from mlgen.spec.safety import unsafe_strings
from mlgen.spec.semantic import Issue, check

PYPROJECT_TABLE: KeyPath = ("tool", "mlgen")
MAX_SPEC_BYTES = 4 * 2**20  # a spec is a few KiB; /dev/zero or a wrong --spec is refused, not read to the end
MAX_DEPTH = 32  # the deepest spec key is 7 levels down ([tool.mlgen.train.search.space] values)


@dataclass(frozen=True)
class LoadedSpec:
    spec: Spec  # the validated pydantic model
    settings: dict[str, Any]  # the whole spec with defaults, by TOML key, JSON values
    path: Path  # the file it came from
    raw: bytes  # its bytes (hashed into the plan)
    base: KeyPath  # () for mlproject.toml, ("tool", "mlgen") for pyproject.toml


def load_spec(path: Path, display: str | None = None) -> LoadedSpec:
    """Load and check `path`; raise SpecError with every problem found."""
    shown = display or path.name

    def fail(line: int, col: int, code: str, msg: str, hint: str = "", source: str | None = None) -> SpecError:
        return SpecError([Diagnostic(shown, line, col, code, "", msg, hint, source)])

    try:
        raw = _read_bounded(path)
    except FileNotFoundError:
        raise fail(1, 1, "E001", "spec file not found", "run `mlgen init` to write a starter spec, or pass --spec PATH") from None
    except OSError as exc:
        raise fail(1, 1, "E001", f"cannot read the spec: {exc.strerror}") from None
    if raw is None:
        raise fail(1, 1, "E005", f"the spec is larger than {MAX_SPEC_BYTES // 2**20} MiB, the most mlgen reads",
                   "a spec is a few KiB; check that --spec names the right file")
    try:
        # a byte-order mark is invisible in editors and harmless: read past it (tomllib refuses it)
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        start = raw.rfind(b"\n", 0, exc.start) + 1
        end = raw.find(b"\n", exc.start)
        shown_line = raw[start : end if end >= 0 else len(raw)].decode("utf-8", "replace")
        line, col = raw[: exc.start].count(b"\n") + 1, len(raw[start : exc.start].decode("utf-8", "replace")) + 1
        raise fail(line, col, "E002", "the spec is not valid UTF-8", "save the file as UTF-8 (your editor's encoding setting)",
                   shown_line) from None
    lines = text.split("\n")
    deep_hint = f"a spec nests tables and arrays a few levels deep; mlgen reads at most {MAX_DEPTH}"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col, msg = _toml_error_position(str(exc), lines)
        raise fail(line, col, "E003", f"invalid TOML: {msg}", "see https://toml.io for the syntax", lines[line - 1]) from None
    except RecursionError:  # tomllib parses nested arrays and inline tables by recursion
        line, col = depth.bracket_position(text, MAX_DEPTH)
        raise fail(line, col, "E006", f"the spec nests deeper than {MAX_DEPTH} levels", deep_hint, lines[line - 1]) from None
    too_deep = depth.deeper_than(doc, MAX_DEPTH)
    if too_deep is not None:  # dotted keys nest without recursion in tomllib, but not in the checks after it
        line, col = depth.key_position(text, too_deep)
        raise fail(line, col, "E006", f"the spec nests deeper than {MAX_DEPTH} levels", deep_hint, lines[line - 1]) from None

    base: KeyPath = ()
    if path.name == "pyproject.toml":
        base = PYPROJECT_TABLE
        data = doc.get("tool", {}).get("mlgen")
        if not isinstance(data, dict):
            raise fail(1, 1, "E004", "pyproject.toml has no [tool.mlgen] table", "add [tool.mlgen.project] etc., or use mlproject.toml")
    else:
        data = doc

    data, issues = resolve(data, path.parent)  # a short spec: data.task, evaluate.metrics
    issues.extend(unsafe_strings(data))
    verdict = diagnose.validate(data)
    issues.extend(verdict.issues)
    if verdict.spec is not None:  # with schema errors too (on the repaired spec): all errors at once
        issues.extend(i for i in check(verdict.spec, path.parent) if not _under(i.path, verdict.repaired))
    if issues:
        positions = key_positions(text)  # only needed to place diagnostics
        raise SpecError([_diagnostic(shown, positions, base, i, lines) for i in _dedupe(issues)])
    assert verdict.spec is not None and verdict.settings is not None  # pydantic returns either issues or the spec
    return LoadedSpec(spec=verdict.spec, settings=verdict.settings, path=path, raw=raw, base=base)


def _read_bounded(path: Path) -> bytes | None:
    """The file's bytes, or None when it holds more than MAX_SPEC_BYTES. Reads at most one byte
    past the limit, whatever the file is (a device, a pipe or a regular file)."""
    # O_NONBLOCK only for the open: a FIFO nobody writes to would block it forever (read then
    # sees end of file); reads block as usual, so a pipe that is being written is read whole
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        raw = f.read(MAX_SPEC_BYTES + 1)
    return raw if len(raw) <= MAX_SPEC_BYTES else None


def _diagnostic(file: str, positions: Positions, base: KeyPath, issue: Issue, lines: list[str]) -> Diagnostic:
    line, col = locate(positions, issue.path, base)
    full = base + issue.path
    placed = any(full[:n] in positions for n in range(1, len(full) + 1))
    # a table missing from the file has no line to show (1:1 is only where the file starts)
    source = lines[line - 1] if placed and 0 < line <= len(lines) else None
    return Diagnostic(file, line, col, issue.code, dotted(base + issue.path), issue.message, issue.hint, source)


def _under(path: KeyPath, removed: tuple[KeyPath, ...]) -> bool:
    """Is `path` on the line of a removed value (it, inside it, or a table holding it)? Issues
    there may come from the removal itself (a gate left without bounds), not from the file."""
    return any(path[: len(r)] == r or r[: len(path)] == path for r in removed)


def _dedupe(issues: list[Issue]) -> list[Issue]:
    """One diagnostic per key path (a union field yields one pydantic error per member)."""
    seen: set[KeyPath] = set()
    out = []
    for i in issues:
        if i.path not in seen:
            seen.add(i.path)
            out.append(i)
    return out


_TOML_POS = re.compile(r"^(.*?) \(at line (\d+), column (\d+)\)$")


def _toml_error_position(text: str, lines: list[str]) -> tuple[int, int, str]:
    found = _TOML_POS.match(text)
    if found:
        line = min(int(found[2]), len(lines))
        return line, int(found[3]), found[1].lower()
    if text.endswith(" (at end of document)"):  # point just past the last character
        last = len(lines) - (len(lines) > 1 and lines[-1] == "")
        return last, len(lines[last - 1].rstrip("\r")) + 1, text.removesuffix(" (at end of document)").lower()
    return 1, 1, text.lower()


