"""How `mlgen run` shows progress and its closing summary (rich).

A run where nothing ran (every job cached, waiting or skipped) is the common no-op: importing
rich costs more than the rest of it. When stdout is not a terminal (no colours) and the table
fits, the summary is then written here, character for character as rich lays it out
(tests/test_fastpath.py compares the two); otherwise rich draws it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from mlgen.localrun import Outcome

STYLE = {"ran": "green", "cached": "cyan", "failed": "bold red", "waiting": "yellow", "blocked": "dim", "skipped": "dim"}
COLUMNS = ("job", "status", "seconds", "note")
TITLE = "mlgen run"


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def print_start(job: dict[str, Any]) -> None:
    shards = f" ({job['shards']} shards in parallel)" if job["shards"] > 1 else ""
    _console().rule(f"[bold]{job['name']}[/]{shards}", align="left")


def _rows(outcomes: list[Outcome]) -> list[tuple[str, str, str, str]]:
    rows = []
    for o in outcomes:
        note = o.note or (f"exit {o.code}" if o.status == "failed" else "")
        secs = f"{o.seconds:.1f}" if o.status in ("ran", "failed") else ""
        rows.append((o.name, o.status, secs, note))
    return rows


def print_summary(outcomes: list[Outcome]) -> None:
    rows = _rows(outcomes)
    if not any(o.status in ("ran", "failed") for o in outcomes):
        text = plain_table(rows, _plain_width())
        if text is not None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
    from rich.table import Table

    table = Table(title=TITLE, title_justify="left")
    for col in COLUMNS:
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for name, status, secs, note in rows:
        table.add_row(name, f"[{STYLE[status]}]{status}[/]", secs, note)
    _console().print(table)


def _plain_width() -> int | None:
    """rich's console width when it would write no colour codes to stdout; None otherwise."""
    env = os.environ
    if env.get("TTY_COMPATIBLE") or env.get("FORCE_COLOR") is not None or env.get("JUPYTER_COLUMNS"):
        return None
    try:
        if sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    if sys.platform == "win32" or env.get("TERM", "").lower() in ("dumb", "unknown"):
        return None
    width = None
    for fd in (0, 1, 2):  # rich asks every standard stream for a terminal size
        try:
            width = os.get_terminal_size(fd)[0]
        except (AttributeError, ValueError, OSError):
            continue
        break
    columns = env.get("COLUMNS")
    if columns is not None and columns.isdigit():
        width = int(columns)
    return width or 80


def plain_table(rows: list[tuple[str, str, str, str]], width: int | None) -> str | None:
    """The summary as rich's Table (box HEAVY_HEAD, title left) prints it without colours, or
    None where rich would do something this does not (shrink or wrap columns, wide characters)."""
    if width is None:
        return None
    cells = [COLUMNS, *rows]
    for row in cells:
        for cell in row:
            if not (cell.isascii() and cell.isprintable()) or "[" in cell:
                return None  # rich markup, or a character whose width this does not know
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    total = sum(widths) + 3 * 4 + 1
    if total > width:
        return None

    def line(row: tuple[str, ...], bar: str) -> str:
        parts = [cell.rjust(w) if i == 2 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        return bar + " " + f" {bar} ".join(parts) + " " + bar + "\n"

    def rule(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right + "\n"

    out = [TITLE.ljust(total) + "\n", rule("┏", "━", "┳", "┓"), line(COLUMNS, "┃"), rule("┡", "━", "╇", "┩")]
    out += [line(row, "│") for row in rows]
    out.append(rule("└", "─", "┴", "┘"))
    return "".join(out)
