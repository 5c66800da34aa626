"""How `mlgen run` shows progress and its closing summary (rich)."""

from __future__ import annotations

from typing import Any

from mlgen.localrun import Outcome

STYLE = {"ran": "green", "cached": "cyan", "failed": "bold red", "waiting": "yellow", "blocked": "dim", "skipped": "dim"}


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def print_start(job: dict[str, Any]) -> None:
    shards = f" ({job['shards']} shards in parallel)" if job["shards"] > 1 else ""
    _console().rule(f"[bold]{job['name']}[/]{shards}", align="left")


def print_summary(outcomes: list[Outcome]) -> None:
    from rich.table import Table

    table = Table(title="mlgen run", title_justify="left")
    for col in ("job", "status", "seconds", "note"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for o in outcomes:
        note = o.note or (f"exit {o.code}" if o.status == "failed" else "")
        secs = f"{o.seconds:.1f}" if o.status in ("ran", "failed") else ""
        table.add_row(o.name, f"[{STYLE[o.status]}]{o.status}[/]", secs, note)
    _console().print(table)
