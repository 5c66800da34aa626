"""Where each key of a TOML document is: key path -> (line, column), both 1-based.

`tomllib` gives values but no positions, so error messages could not point at the offending
key. This scanner walks the same text a second time (after tomllib accepted it, so it may be
lenient) and records the position of every key, array element and table header. It does not
build values. Paths use str for keys and int for array / array-of-tables indices, like pydantic
error locations.
"""

from __future__ import annotations

import tomllib
from typing import Union

PathItem = Union[str, int]
Path = tuple[PathItem, ...]
Positions = dict[Path, tuple[int, int]]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.line_start = 0
        self.pos: Positions = {}
        self.aot_count: dict[Path, int] = {}  # array-of-tables: next index per path

    # -- low level --------------------------------------------------------------------------
    def here(self) -> tuple[int, int]:
        return self.line, self.i - self.line_start + 1

    def peek(self, n: int = 0) -> str:
        j = self.i + n
        return self.s[j] if j < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i < len(self.s) and self.s[self.i] == "\n":
                self.line += 1
                self.line_start = self.i + 1
            self.i += 1

    def skip_ws(self, newlines: bool) -> None:
        """Skip blanks and comments (and newlines when inside arrays)."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.advance()
            else:
                return

    def record(self, path: Path, at: tuple[int, int]) -> None:
        self.pos.setdefault(path, at)

    # -- keys -------------------------------------------------------------------------------
    def key_part(self) -> str:
        c = self.peek()
        if c == '"':  # decode escapes so the path matches tomllib's key
            raw = self.string()
            return tomllib.loads(f'k = "{raw}"')["k"] if "\\" in raw else raw
        if c == "'":
            return self.string()
        start = self.i
        while self.peek() in _BARE and self.peek() != "":
            self.advance()
        return self.s[start : self.i]

    def dotted_key(self) -> list[tuple[str, tuple[int, int]]]:
        parts = []
        while True:
            self.skip_ws(newlines=False)
            at = self.here()
            parts.append((self.key_part(), at))
            self.skip_ws(newlines=False)
            if self.peek() == ".":
                self.advance()
                continue
            return parts

    # -- values -----------------------------------------------------------------------------
    def string(self) -> str:
        q = self.peek()
        triple = self.s.startswith(q * 3, self.i)
        delim = q * 3 if triple else q
        self.advance(len(delim))
        start = self.i
        while self.i < len(self.s):
            if q == '"' and self.peek() == "\\":
                self.advance(2)
                continue
            if self.s.startswith(delim, self.i):
                # a closing triple may be followed by up to two more quotes that belong to it
                end = self.i
                self.advance(len(delim))
                if triple:
                    while self.peek() == q:
                        end += 1
                        self.advance()
                # raw text is enough for keys (escapes in quoted keys are rare; tomllib decoded them)
                return self.s[start:end]
            self.advance()
        return self.s[start:]

    def value(self, path: Path) -> None:
        self.skip_ws(newlines=False)
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.array(path)
        elif c == "{":
            self.inline_table(path)
        else:  # number, bool, date: runs to a delimiter
            while self.peek() not in ("", ",", "]", "}", "\n", "#"):
                self.advance()

    def array(self, path: Path) -> None:
        self.advance()  # [
        idx = 0
        while True:
            self.skip_ws(newlines=True)
            if self.peek() in ("]", ""):
                self.advance()
                return
            self.record(path + (idx,), self.here())
            self.value(path + (idx,))
            idx += 1
            self.skip_ws(newlines=True)
            if self.peek() == ",":
                self.advance()

    def inline_table(self, path: Path) -> None:
        self.advance()  # {
        while True:
            self.skip_ws(newlines=True)
            if self.peek() in ("}", ""):
                self.advance()
                return
            self.keyval(path)
            self.skip_ws(newlines=True)
            if self.peek() == ",":
                self.advance()

    def keyval(self, table: Path) -> None:
        full = table
        for part, at in self.dotted_key():
            full = full + (part,)
            self.record(full, at)
        self.skip_ws(newlines=False)
        if self.peek() == "=":
            self.advance()
        self.value(full)

    # -- document ---------------------------------------------------------------------------
    def header(self) -> Path:
        aot = self.s.startswith("[[", self.i)
        self.advance(2 if aot else 1)
        parts = self.dotted_key()
        self.advance(2 if aot else 1)
        path: Path = ()
        for n, (part, at) in enumerate(parts):
            path = path + (part,)
            last = n == len(parts) - 1
            if last and aot:
                idx = self.aot_count.get(path, 0)
                self.aot_count[path] = idx + 1
                self.record(path, at)
                path = path + (idx,)
            elif path in self.aot_count:  # [a.b] under [[a]] refers to the latest element of a
                path = path + (self.aot_count[path] - 1,)
            self.record(path, at)
        return path

    def document(self) -> Positions:
        table: Path = ()
        while self.i < len(self.s):
            self.skip_ws(newlines=True)
            c = self.peek()
            if c == "":
                break
            if c == "[":
                table = self.header()
            else:
                self.keyval(table)
            # the rest of the line is blank or a comment
            self.skip_ws(newlines=False)
            while self.peek() not in ("", "\n"):
                self.advance()
        return self.pos


def key_positions(text: str) -> Positions:
    """Map every key path in `text` (valid TOML) to the line/column where it is written."""
    return _Scanner(text).document()


def locate(positions: Positions, path: Path, base: Path = ()) -> tuple[int, int]:
    """Best position for `path`: itself, else its nearest written ancestor, else 1:1."""
    full = base + tuple(path)
    while full:
        if full in positions:
            return positions[full]
        full = full[:-1]
    return (1, 1)
