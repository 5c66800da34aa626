"""Progress of long work (search trials) on stderr, with no dependency beyond the standard library.

On a terminal: one line, redrawn in place with `\\r` after every step,

    search: 12/40 trials [###-------] 30% 00:14 elapsed

and ended with a newline when the work is done. Anywhere else (CI logs, a file): one line per
step, prefixed with the count, `[12/40] ...`, so a log shows where a long search is and no
control characters end up in it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 10


def is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def clock_text(seconds: float) -> str:
    """mm:ss, or h:mm:ss from an hour on."""
    s = int(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    filled = width if total <= 0 else min(width, done * width // total)
    return "#" * filled + "-" * (width - filled)


class Progress:
    """`total` steps of `label` work. Call `step(line)` after each step; `close()` at the end (or
    use it as a context manager). `line` describes the step: it is the log line off a terminal;
    on a terminal only steps marked `important` (a failed trial) are printed, above the bar."""

    def __init__(self, total: int, label: str, unit: str = "trials", stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.label = label
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = is_tty(self.stream)
        self.clock = clock
        self.started = clock()
        self.done = 0
        self._drawn = 0  # length of the bar line on screen (0: none)
        if self.tty and total > 0:
            self._draw()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def line(self) -> str:
        pct = 100 if self.total <= 0 else self.done * 100 // self.total
        return (f"{self.label}: {self.done}/{self.total} {self.unit} [{bar(self.done, self.total)}] {pct}% "
                f"{clock_text(self.clock() - self.started)} elapsed")

    def step(self, line: str, important: bool = False) -> None:
        self.done += 1
        if not self.tty:
            self.stream.write(f"  [{self.done}/{self.total}] {line}\n")
        else:
            if important:
                self._clear()
                self.stream.write(f"  [{self.done}/{self.total}] {line}\n")
            self._draw()
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0

    def _draw(self) -> None:
        text = self.line()
        pad = " " * max(0, self._drawn - len(text))  # a shorter line must not leave the old tail behind
        self.stream.write(f"\r{text}{pad}")
        self.stream.flush()
        self._drawn = len(text)

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self._drawn = 0
