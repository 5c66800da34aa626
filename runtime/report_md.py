"""Tiny Markdown helpers for reports that end up in PR/MR comments.

Values from data or specs (column names, category values, messages) are untrusted: a `|` would
break a table, `<img>` or `[x](y)` would render, a newline would end the row. `escape` makes any
value inert text; `code` makes it an inline code span; `table` escapes every cell that is not
already `Md` (trusted Markdown built by these helpers or by the caller on purpose).

Inert also means nothing the forges add after Markdown: GitHub's autolinks (`www.`, `http://`,
`https://`, e-mail addresses), mentions (`@user`), issue and commit references (`#12`, `GH-12`,
a commit SHA) and emoji codes (`:x:`); GitLab's references (`!12`, `~label`, `%milestone`,
`$12`, `&12`, `[vulnerability:12]`). Backslash escapes do not stop these (they are found in the
rendered text), so a WORD JOINER (U+2060, invisible, not a space) is put where it breaks the
pattern: after the sigil, inside `://` and `www.`.

`bounded` keeps a comment under the providers' limits (GitHub 65,536 characters for an issue or
PR comment, GitLab 1,000,000 for a note: the smaller one, in UTF-8 bytes, which count at least
as many as either provider's characters).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

# Inline syntax anywhere (`(` needs no escape once `[`/`]` have one; `$` is for math renderers),
# then what only counts at the start of a line: headings, lists, "1." items.
_SPECIALS = re.compile(r"([\\`*_\[\]|~$])")
_LINE_START = re.compile(r"^(\d*)([-+.#])(?=\s|$|#)")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_JOIN = "\u2060"  # WORD JOINER: invisible, breaks autolinks, mentions and references
# a forge reference or mention: a sigil followed by what the forges read as a name or number
_SIGIL = re.compile(r"([@#!~%$&^:])(?=[\w\"'(\[{])")
_AUTOLINK = re.compile(r"(?i)(?<=www)(?=\.)|(?<=:)(?=//)|(?<=gh)(?=-\d)|(?<=\[)(?=[a-z_]+:)")
# 7 or more hex digits with a letter and a digit may be a commit GitHub links: cut into runs of 6
_SHA = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,}\b", re.IGNORECASE)
COMMENT_LIMIT = 60_000  # UTF-8 bytes: under GitHub's 65,536 characters with room for the marker


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
    text = _inert(text)
    text = "".join(_HTML.get(c, c) for c in text)
    text = _SPECIALS.sub(r"\\\1", text)
    return Md(_LINE_START.sub(r"\1\\\2", text))


def _inert(text: str) -> str:
    """Word joiners where GitHub or GitLab would make a link, mention or reference of plain text."""
    text = _SIGIL.sub(r"\1" + _JOIN, text)
    text = _AUTOLINK.sub(_JOIN, text)
    text = _SHA.sub(lambda m: _JOIN.join(m[0][i:i + 6] for i in range(0, len(m[0]), 6)), text)
    return text.replace("\x00", "\ufffd")  # as CommonMark renders NUL (and a NUL ends C strings)


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


def bounded(text: str, full_name: str, limit: int = COMMENT_LIMIT) -> str:
    """`text` when it fits a PR/MR comment, else its first lines and a note that the whole
    report is `full_name` in the job's artifacts. Cut at a line end (a table row stays whole)."""
    size = len(text.encode("utf-8"))
    if size <= limit:
        return text
    note = (f"\n\n---\n\n_This report is cut to fit a pull/merge request comment ({size:,} bytes, more than "
            f"{limit:,}): the whole report is `{full_name}` in this job's artifacts._\n")
    budget = limit - len(note.encode("utf-8"))
    head = text.encode("utf-8")[:budget].decode("utf-8", "ignore")
    cut = head.rfind("\n")
    return (head[:cut] if cut > 0 else head).rstrip("\n") + note


def write_report(folder: Any, text: str, name: str = "report.md", full_name: str = "report-full.md") -> None:
    """report.md bounded for a comment; the whole report beside it when it had to be cut."""
    from mlgen_runtime.fsutil import write_text_atomic

    shown = bounded(text, full_name)
    write_text_atomic(folder / name, shown)
    if shown != text:
        write_text_atomic(folder / full_name, text)
    else:
        (folder / full_name).unlink(missing_ok=True)  # no stale whole report from an earlier run
