"""Tiny Markdown helpers for reports that end up in PR/MR comments.

Values from data or specs (column names, category values, messages) are untrusted: a `|` would
break a table, `<img>` or `[x](y)` would render, a newline would end the row. `escape` makes any
value inert text; `code` makes it an inline code span; `table` escapes every cell that is not
already `Md` (trusted Markdown built by these helpers or by the caller on purpose).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

# Inline syntax anywhere (`(` needs no escape once `[`/`]` have one; `$` is for math renderers),
# then what only counts at the start of a line: headings, lists, "1." items.
_SPECIALS = re.compile(r"([\\`*_\[\]|~$])")
_LINE_START = re.compile(r"^(\d*)([-+.#])(?=\s|$|#)")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


class Md(str):
    """A string that is already Markdown: `escape` and `table` leave it as it is."""


def _one_line(text: str) -> str:
    # a newline inside a table cell ends the row; tabs and CRs render oddly
    return " ".join(text.split()) if any(c in text for c in "\r\n\t") else text


def escape(value: object) -> Md:
    """Any value as plain, inert Markdown text on one line."""
    if isinstance(value, Md):
        return value
    text = _one_line(str(value))
    text = "".join(_HTML.get(c, c) for c in text)
    text = _SPECIALS.sub(r"\\\1", text)
    text = _LINE_START.sub(r"\1\\\2", text)
    # `@name` would mention someone in a GitHub/GitLab comment; a zero-width joiner stops it
    return Md(text.replace("@", "@\u2060"))


def code(value: object, cell: bool = True) -> Md:
    """An inline code span that survives backticks in the value; `cell`: it goes in a table."""
    text = _one_line(str(value))
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    # GFM splits table cells on `|` even inside code spans; `\|` is the documented escape
    if cell:
        text = text.replace("|", "\\|")
    return Md(f"{fence}{pad}{text}{pad}{fence}")


def inline(text: object) -> Md:
    """Plain text in which `backticked` parts are code (how runtime messages name columns):
    those become code spans, the rest is escaped."""
    parts = re.split(r"`([^`]*)`", _one_line(str(text)))
    return Md("".join(code(p) if i % 2 else escape(p) for i, p in enumerate(parts) if p or i % 2))


def bold(value: object) -> Md:
    return Md(f"**{escape(value)}**")


def number(value: object, digits: int = 4) -> str:
    """Numbers for humans: 4 significant digits, `—` for missing, ints with thousands separators."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    try:
        x = float(value)  # numpy scalars too
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "—"
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.{digits}g}"


def percent(fraction: float, digits: int = 2) -> str:
    return f"{fraction * 100:.{digits}g}%"


def status(passed: bool, skipped: bool = False, warning: bool = False) -> Md:
    if skipped:
        return Md("⏭️ skipped")
    if not passed:
        return Md("❌ fail")
    return Md("⚠️ warn" if warning else "✅ pass")


def table(headers: Sequence[object], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A GFM table. `align` has one letter per column: l, c or r (default: all left)."""
    marks = {"l": ":---", "c": ":---:", "r": "---:"}
    head = [escape(h) for h in headers]
    rule = [marks[a] for a in (align or "l" * len(head))]
    if len(rule) != len(head):
        raise ValueError(f"align has {len(rule)} letters for {len(head)} columns")
    lines = [_row(head), _row(rule)]
    for row in rows:
        cells = [c if isinstance(c, Md) else escape(c) for c in row]
        if len(cells) != len(head):
            raise ValueError(f"row has {len(cells)} cells for {len(head)} columns")
        lines.append(_row([c or " " for c in cells]))
    return "\n".join(lines) + "\n"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
