"""Diagnostics: every problem with the user's input, with its place, key path and a hint."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field

# Exit codes used by every command.
EXIT_OK = 0
EXIT_FAILED = 1  # a check failed (e.g. `compile --check` found stale files)
EXIT_BAD_INPUT = 2  # bad spec, bad usage, refused write

TAB_STOP = 4  # tabs in a shown source line are expanded to this tab stop, caret line alike


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    col: int
    code: str
    path: str  # dotted key path, e.g. "deploy.environments[1].approval"; "" for the whole file
    message: str
    hint: str = ""
    # the text of line `line`, shown under the message with a caret; not compared (it follows
    # from file and line, and None cannot be ordered against a string)
    source: str | None = field(default=None, compare=False)

    def render(self) -> str:
        where = f"{self.path}: " if self.path else ""
        text = f"{self.file}:{self.line}:{self.col}: error[{self.code}]: {where}{self.message}"
        frame = self.frame()
        if frame:
            text += "\n" + "\n".join(frame)
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def frame(self) -> list[str]:
        """The source line and a caret under the column, as ruff and rustc show them."""
        if self.source is None:
            return []
        return code_frame(self.source, self.line, self.col)


def code_frame(source: str, line: int, col: int) -> list[str]:
    """[gutter, numbered source line, caret line]; `col` counts characters from 1.

    The shown line has its tabs expanded and anything a terminal would not print as one glyph
    replaced, and the caret is placed by display width (East Asian wide characters take two
    cells, combining marks none), so it sits under the character `col` whatever the line holds."""
    shown, offsets = _display(source.rstrip("\r\n"))
    at = offsets[min(max(col, 1), len(offsets)) - 1]
    gutter = " " * len(str(line))
    return [f"{gutter} |", f"{line} | {shown}".rstrip(), f"{gutter} | {' ' * at}^"]


def _display(text: str) -> tuple[str, list[int]]:
    """(the line as shown, display cell where each character starts, plus one past the end)."""
    out: list[str] = []
    offsets: list[int] = []
    width = 0
    for ch in text:
        offsets.append(width)
        if ch == "\t":
            step = TAB_STOP - width % TAB_STOP
            out.append(" " * step)
        elif unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me"):
            step = 0  # drawn on the character before it
            out.append(ch)
        elif not ch.isprintable():
            step = 1  # control and format characters (bidi overrides too): never sent raw
            out.append("\ufffd")
        else:
            step = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
            out.append(ch)
        width += step
    offsets.append(width)
    return "".join(out), offsets


class SpecError(Exception):
    """Raised with all diagnostics found at once; the CLI prints them and exits 2."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(set(diagnostics))
        super().__init__("\n".join(d.render() for d in self.diagnostics))


class UsageError(Exception):
    """Bad command-line use or a refused operation (exit 2), with a one-line message."""


def dotted(path: tuple[object, ...]) -> str:
    """("deploy", "environments", 1, "name") -> "deploy.environments[1].name"."""
    out = ""
    for item in path:
        if isinstance(item, int):
            out += f"[{item}]"
        else:
            key = str(item)
            if not key.replace("_", "").replace("-", "").isalnum():
                key = json.dumps(key)  # quoted, with newlines and control characters escaped
            out += ("." if out else "") + key
    return out
