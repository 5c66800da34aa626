"""Cron expressions that GitHub Actions, GitLab and Jenkins all read the same way.

`monitor.schedule` goes into every provider's schedule as written, so it is held to what all
three accept (the intersection of their documented syntax):

- GitHub Actions (docs "Events that trigger workflows", schedule): POSIX cron, 5 fields,
  `*`, `,`, `-`, `/`; day of week 0-6; also JAN-DEC / SUN-SAT.
- GitLab (docs "Cron", parsed by fugit): standard cron, names, plus fugit's extensions.
- Jenkins (core `hudson/scheduler/Crontab.g`, help of "Build periodically"): `*`, `M-N`,
  `M-N/X`, `*/X`, `A,B,...,Z`, `H`; numbers only (the grammar has no month or day names); day
  of week 0-7; a step must be positive and a range must not be reversed.

So: five fields of numbers, ranges, steps on `*` or on a range, lists of those; no names (Jenkins
has none), no `H` or `L`/`W`/`#`/`?` (GitHub has none), no `7` for Sunday (GitHub reads 0-6).
"""

from __future__ import annotations

import re

EXAMPLE = 'for example "0 6 * * 1" (Mondays 06:00 UTC) or "*/30 8-18 * * 1-5" (every 30 minutes, working hours)'
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 6))
_ITEM = re.compile(r"(?P<base>\*|(?P<lo>[0-9]{1,2})(-(?P<hi>[0-9]{1,2}))?)(/(?P<step>[0-9]{1,2}))?")
_NAMES = re.compile(r"[A-Za-z]{3}")
_SYNTAX = "a number, a range (`1-5`), a step (`*/15`, `0-30/10`) or a list of those (`1,15`)"


def problem(value: str) -> str | None:
    """What is wrong with `value` as a cron expression all three providers read alike, or None."""
    fields = value.split(" ")
    if len(fields) != 5:
        return f"has {len(fields)} fields; a cron expression has 5: minute hour day-of-month month day-of-week"
    for text, (name, lo, hi) in zip(fields, FIELDS):
        for item in text.split(","):
            found = _item_problem(item, name, lo, hi)
            if found:
                return found
    return None


def _item_problem(item: str, name: str, lo: int, hi: int) -> str | None:
    m = _ITEM.fullmatch(item)
    if m is None:
        if _NAMES.fullmatch(item) and name in ("month", "day of week"):
            return f"has {name} `{item}`, a name, which Jenkins does not read; write the number ({lo}-{hi})"
        return f"has {name} `{item}`, which is not {_SYNTAX}"
    if m["step"] is not None:
        if m["lo"] is not None and m["hi"] is None:
            return f"has {name} `{item}`, a step on a single number, which Jenkins does not read; write `{m['lo']}-{hi}/{m['step']}`"
        if not 1 <= int(m["step"]) <= hi:
            return f"has {name} `{item}`, whose step is not 1-{hi}"
    for bound in (m["lo"], m["hi"]):
        if bound is not None and not lo <= int(bound) <= hi:
            extra = " (GitHub reads Sunday as 0 only)" if name == "day of week" and int(bound) == 7 else ""
            return f"has {name} `{bound}`, out of range {lo}-{hi}{extra}"
    if m["hi"] is not None and int(m["lo"]) > int(m["hi"]):
        return f"has {name} `{item}`, a reversed range; write `{m['hi']}-{m['lo']}`"
    return None
