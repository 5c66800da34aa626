"""`mlgen run`'s summary is rich's table; off a terminal its bytes depend on nothing but the
outcomes and COLUMNS (fixed width, no colour codes, even with FORCE_COLOR), and job names and
notes are shown as written (never read as rich markup)."""

from __future__ import annotations

import io

import pytest

from mlgen import runview
from mlgen.localrun import Outcome

OUTCOMES = [
    Outcome("prepare", "cached", note="inputs unchanged"),
    Outcome("train", "ran", seconds=3.21),
    Outcome("deploy-production", "waiting", note="needs approval: --approve production"),
    Outcome("score", "failed", seconds=1.0, code=3),
]

EXPECTED = "mlgen run".ljust(80) + "\n" + """\
┏━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ job               ┃ status  ┃ seconds ┃ note                                 ┃
┡━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ prepare           │ cached  │         │ inputs unchanged                     │
│ train             │ ran     │     3.2 │                                      │
│ deploy-production │ waiting │         │ needs approval: --approve production │
│ score             │ failed  │     1.0 │ exit 3                               │
└───────────────────┴─────────┴─────────┴──────────────────────────────────────┘
"""


@pytest.fixture(autouse=True)
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COLUMNS", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "JUPYTER_COLUMNS"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize("env", [{}, {"FORCE_COLOR": "1"}, {"TTY_COMPATIBLE": "1"}, {"TERM": "dumb"}])
def test_summary_off_a_terminal_is_fixed(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    runview.print_summary(OUTCOMES)
    assert capsys.readouterr().out == EXPECTED


def test_columns_sets_the_width_off_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "50")
    runview.print_summary(OUTCOMES)
    out = capsys.readouterr().out
    assert "\x1b" not in out and max(len(line) for line in out.splitlines()) == 50
    runview.print_start({"name": "train", "shards": 2})
    rule = capsys.readouterr().out
    assert rule.startswith("train (2 shards in parallel) ─") and len(rule.rstrip("\n")) == 50


def test_names_and_notes_are_not_markup(capsys: pytest.CaptureFixture[str]) -> None:
    runview.print_summary([Outcome("fit[bold]", "ran", seconds=1.0, note="[red]x[/]")])
    runview.print_start({"name": "fit[bold]", "shards": 1})
    out = capsys.readouterr().out
    assert "fit[bold]" in out and "[red]x[/]" in out and out.count("fit[bold]") == 2


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("no_color", "coloured"), [("", True), ("1", False)])
def test_a_terminal_gets_colour_unless_no_color(no_color: str, coloured: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    tty = _Tty()
    monkeypatch.setattr("sys.stdout", tty)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "100")
    if no_color:
        monkeypatch.setenv("NO_COLOR", no_color)
    runview.print_summary(OUTCOMES)
    out = tty.getvalue()
    assert ("\x1b[" in out) is coloured
    assert "deploy-production" in out
