"""Strings that could change meaning on their way to a CI provider's shell are rejected.

Each provider's constraints name the text it evaluates before the shell sees it (`${{ }}` is
GitHub expression syntax, `$[[ ]]` GitLab's input interpolation) and the characters it cannot
carry; a spec is checked against the providers it lists in `ci.providers`. Control characters
(newlines, NUL) would break a single-line command or path out of any YAML/Groovy literal, so
they are refused whatever the providers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mlgen import backends
from mlgen.spec.positions import Path
from mlgen.spec.semantic import Issue

# C0/C1 controls (tab allowed), and the characters YAML 1.1 treats as line breaks (NEL is in
# C1; U+2028/U+2029) or cannot represent in a plain or single-quoted scalar (U+FFFE/U+FFFF).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")


@dataclass(frozen=True)
class Bans:
    """What the providers of one spec refuse in its strings."""

    openers: tuple[tuple[str, str], ...]  # (opener, what it opens)
    characters: tuple[tuple[str, str], ...]  # (character, provider)


def bans(providers: Iterable[str] | None = None) -> Bans:
    """The bans of `providers` (default: every registered provider)."""
    openers: dict[str, str] = {}
    chars: dict[str, str] = {}
    for provider in backends.names() if providers is None else providers:
        c = backends.constraints(provider)
        for token, what in c.expression_openers:
            openers.setdefault(token, what)
        for ch in c.forbidden_characters:
            chars.setdefault(ch, provider)
    return Bans(tuple(openers.items()), tuple(chars.items()))


def string_problem(s: str, banned: Bans | None = None) -> tuple[str, str] | None:
    """(message, hint) when `s` may not pass to a pipeline verbatim, else None."""
    banned = bans() if banned is None else banned
    for token, what in banned.openers:
        if token in s:
            return (
                f"contains `{token}` ({what} syntax), which the CI provider would evaluate",
                "mlgen passes strings to the shell exactly as written; use an environment variable instead",
            )
    for ch, provider in banned.characters:
        if ch in s:
            return (f"contains `{ch}`, which {provider} cannot carry", f"remove it, or leave `{provider}` out of ci.providers")
    bad = _CONTROL.search(s)
    if bad:
        names = {
            "\n": "a newline", "\r": "a carriage return", "\x00": "a NUL byte",
            "\x85": "a line break (U+0085)", "\u2028": "a line break (U+2028)", "\u2029": "a line break (U+2029)",
        }
        what = names.get(bad.group(), f"control character U+{ord(bad.group()):04X}")
        return (f"contains {what}; only single-line text is allowed here", "write it on one line")
    return None


def providers_of(data: Any) -> tuple[str, ...] | None:
    """The known providers the raw spec lists in `ci.providers`; the default ones when it sets none
    (the model's default); None (every provider: the strictest) when the list is malformed."""
    ci = data.get("ci", {}) if isinstance(data, dict) else None
    if not isinstance(ci, dict):
        return None
    listed = ci.get("providers", backends.default_names())
    if not isinstance(listed, list | tuple) or not all(isinstance(p, str) for p in listed):
        return None
    return tuple(p for p in listed if p in backends.names())  # an unknown one is E103 already


def unsafe_strings(data: Any, path: Path = (), banned: Bans | None = None) -> Iterator[Issue]:
    """Every string (key or value) in the raw spec that fails `string_problem` for the
    providers the spec lists."""
    if banned is None:
        banned = bans(providers_of(data))
    if isinstance(data, dict):
        for key, value in data.items():
            problem = string_problem(key, banned)
            if problem:
                yield Issue(path + (key,), "E208", "key " + problem[0], problem[1])
            yield from unsafe_strings(value, path + (key,), banned)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from unsafe_strings(value, path + (i,), banned)
    elif isinstance(data, str):
        problem = string_problem(data, banned)
        if problem:
            yield Issue(path, "E208", problem[0], problem[1])
