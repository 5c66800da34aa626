"""Diagnostics: every problem with the user's input, with its place, key path and a hint."""

from __future__ import annotations

import json
from dataclasses import dataclass

# Exit codes used by every command.
EXIT_OK = 0
EXIT_FAILED = 1  # a check failed (e.g. `compile --check` found stale files)
EXIT_BAD_INPUT = 2  # bad spec, bad usage, refused write


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    col: int
    code: str
    path: str  # dotted key path, e.g. "deploy.environments[1].approval"; "" for the whole file
    message: str
    hint: str = ""

    def render(self) -> str:
        where = f"{self.path}: " if self.path else ""
        text = f"{self.file}:{self.line}:{self.col}: error[{self.code}]: {where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


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
