"""Strings that could change meaning on their way to a CI provider's shell are rejected.

`${{ }}` is GitHub expression syntax, `$[[ ]]` GitLab's input interpolation: either would be
evaluated by the provider before the shell sees it. Control characters (newlines, NUL) would
break a single-line command or path out of its YAML/Groovy literal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlgen.spec.positions import Path
from mlgen.spec.semantic import Issue

# C0/C1 controls (tab allowed), and the characters YAML 1.1 treats as line breaks (NEL is in
# C1; U+2028/U+2029) or cannot represent in a plain or single-quoted scalar (U+FFFE/U+FFFF).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_TEMPLATES = (("${{", "GitHub expression"), ("$[[", "GitLab input interpolation"))


def string_problem(s: str) -> tuple[str, str] | None:
    """(message, hint) when `s` may not pass to a pipeline verbatim, else None."""
    for token, what in _TEMPLATES:
        if token in s:
            return (
                f"contains `{token}` ({what} syntax), which the CI provider would evaluate",
                "mlgen passes strings to the shell exactly as written; use an environment variable instead",
            )
    bad = _CONTROL.search(s)
    if bad:
        names = {
            "\n": "a newline", "\r": "a carriage return", "\x00": "a NUL byte",
            "\x85": "a line break (U+0085)", "\u2028": "a line break (U+2028)", "\u2029": "a line break (U+2029)",
        }
        what = names.get(bad.group(), f"control character U+{ord(bad.group()):04X}")
        return (f"contains {what}; only single-line text is allowed here", "write it on one line")
    return None


def unsafe_strings(data: Any, path: Path = ()) -> Iterator[Issue]:
    """Every string (key or value) in the raw spec that fails `string_problem`."""
    if isinstance(data, dict):
        for key, value in data.items():
            problem = string_problem(key)
            if problem:
                yield Issue(path + (key,), "E208", "key " + problem[0], problem[1])
            yield from unsafe_strings(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from unsafe_strings(value, path + (i,))
    elif isinstance(data, str):
        problem = string_problem(data)
        if problem:
            yield Issue(path, "E208", problem[0], problem[1])
