"""How `mlgen run` shows progress and its closing summary, drawn by rich.

On a terminal rich takes the terminal's width and colours (none with NO_COLOR). Anywhere else
(a pipe, a file, a CI log) the output must not depend on whatever terminal happens to be on
stdin or stderr: a fixed width (COLUMNS when it is set, else 80) and no colour codes.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from mlgen.localrun import Outcome

if TYPE_CHECKING:
    from rich.console import Console

STYLE = {"ran": "green", "cached": "cyan", "failed": "bold red", "waiting": "yellow", "blocked": "dim", "skipped": "dim"}
COLUMNS = ("job", "status", "seconds", "note")
TITLE = "mlgen run"
DEFAULT_WIDTH = 80  # rich's own fallback when it finds no terminal


def _on_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


def _fixed_width() -> int:
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else DEFAULT_WIDTH


def _console() -> Console:
    from rich.console import Console

    if _on_terminal():
        return Console(highlight=False, color_system=None if os.environ.get("NO_COLOR") else "auto")
    # force_terminal=False: FORCE_COLOR / TTY_COMPATIBLE do not turn a pipe into a terminal
    return Console(highlight=False, width=_fixed_width(), color_system=None, force_terminal=False,
                   force_jupyter=False, legacy_windows=False)


def print_start(job: dict[str, Any]) -> None:
    shards = f" ({job['shards']} shards in parallel)" if job["shards"] > 1 else ""
    from rich.text import Text

    _console().rule(Text(job["name"], style="bold") + shards, align="left")


def _rows(outcomes: list[Outcome]) -> list[tuple[str, str, str, str]]:
    rows = []
    for o in outcomes:
        note = o.note or (f"exit {o.code}" if o.status == "failed" else "")
        secs = f"{o.seconds:.1f}" if o.status in ("ran", "failed") else ""
        rows.append((o.name, o.status, secs, note))
    return rows


def print_summary(outcomes: list[Outcome]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=TITLE, title_justify="left")
    for col in COLUMNS:
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for name, status, secs, note in _rows(outcomes):
        # Text, not markup: a job name or note with "[...]" is shown as written
        table.add_row(Text(name), Text(status, style=STYLE[status]), secs, Text(note))
    _console().print(table)
