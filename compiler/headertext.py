"""Strings from outside the spec (the spec's own path, the --out folder, the working folder a
path resolves through) that reach a generated file's header comment.

They pass the same rule as every spec string (`spec.safety.string_problem`: no line breaks or
control characters, no `${{`/`$[[`), plus what a comment in each provider's file cannot hold:
Groovy decodes `\\uXXXX` even inside `//` comments (a `\\u000a` would end the comment), and a
name that is not valid Unicode (undecodable bytes in a file name, as Python's surrogate escapes)
cannot be written as UTF-8. Refused with one line naming the source, exit 2, before anything is
written."""

from __future__ import annotations

import re

from mlgen.errors import UsageError
from mlgen.spec.safety import string_problem

_SURROGATE = re.compile("[\ud800-\udfff]")
_GROOVY_U = re.compile(r"\\u")


def text_problem(s: str) -> str | None:
    """Why `s` may not appear in a generated file's header comment, or None."""
    problem = string_problem(s)
    if problem:
        return problem[0]
    if _SURROGATE.search(s):
        return "is not valid UTF-8 text (a file name with undecodable bytes)"
    if _GROOVY_U.search(s):
        return "contains `\\u`, which Groovy decodes even inside a Jenkinsfile comment"
    return None


def refuse_unsafe(s: str, source: str) -> None:
    """Raise UsageError (exit 2) naming `source` when `s` fails `text_problem`."""
    problem = text_problem(s)
    if problem:
        # ascii(): the message itself stays one printable line
        raise UsageError(f"{source} {ascii(s)} {problem}; rename it or pass a plain one")
