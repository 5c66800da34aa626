"""The happy path of spec validation, without pydantic.

Importing pydantic and building the model's validators costs more than the rest of a compile
together. Most specs a user compiles are valid, so this walks the table generated from the
model (`shapes.py`) and accepts a document only when it can show the model would accept it with
the same values. Anything else, a doubtful input included, returns None and the caller asks
pydantic, which decides and words the errors. Declining is always safe; accepting is tested
against pydantic on every golden and error-corpus spec and on generated documents.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mlgen.spec.record import Record, kind
from mlgen.spec.rules import CHECKS
from mlgen.spec.shapes import MODELS, ROOT

_BIG = 2**53  # ints beyond this are not exact as floats: leave them to pydantic
_PATTERNS: dict[str, re.Pattern[str]] = {}
_CLASS_ESCAPE = re.compile(r"\\[sSwWdDbB]")


class _Decline(Exception):
    """Not provably valid: pydantic decides."""


def check(data: Any) -> tuple[Record, dict[str, Any]] | None:
    """(records, JSON-mode dump by alias) when `data` is a valid spec, else None."""
    try:
        return _model(ROOT, data)
    except _Decline:
        return None


def _model(name: str, value: Any) -> tuple[Record, dict[str, Any]]:
    if type(value) is not dict:
        raise _Decline
    fields = MODELS[name]
    if len(value) > len(fields) or not value.keys() <= {f[1] for f in fields}:
        raise _Decline  # an unknown key (extra=forbid)
    attrs: dict[str, Any] = {}
    dump: dict[str, Any] = {}
    for attr, key, shape, default in fields:
        if key in value:
            attrs[attr], dump[key] = _value(shape, value[key])
        elif default[0] == "value":
            attrs[attr], dump[key] = _copy(default[1]), _copy(default[1])
        elif default[0] == "model":
            attrs[attr], dump[key] = _model(default[1], {})
        else:
            raise _Decline  # a required key is missing
    return kind(name)(attrs), dump


def _value(shape: tuple[Any, ...], value: Any) -> tuple[Any, Any]:
    tag = shape[0]
    t = type(value)
    if tag == "str":
        if t is not str:
            raise _Decline
        _string(shape, value)
        return value, value
    if tag == "int":
        if t is not int or abs(value) > _BIG:
            raise _Decline
        _bounds(shape, value)
        return value, value
    if tag == "float":
        if t is int and abs(value) <= _BIG:
            value = float(value)  # strict mode still takes an int for a float, as a float
        elif t is not float or not math.isfinite(value):
            raise _Decline
        _bounds(shape, value)
        return value, value
    if tag == "bool":
        if t is not bool:
            raise _Decline
        return value, value
    if tag == "lit":
        if t is not str or value not in shape[1]:
            raise _Decline
        return value, value
    if tag == "list":
        if t is not list or (shape[2] is not None and len(value) < shape[2]):
            raise _Decline
        pairs = [_value(shape[1], v) for v in value]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if tag == "dict":
        if t is not dict or (shape[2] is not None and len(value) < shape[2]):
            raise _Decline
        items = {k: _value(shape[1], v) for k, v in value.items()}
        return {k: p[0] for k, p in items.items()}, {k: p[1] for k, p in items.items()}
    if tag == "model":
        return _model(shape[1], value)
    if tag == "opt":
        return (None, None) if value is None else _value(shape[1], value)
    if tag == "union":
        # pydantic's smart union takes the member of the value's exact type; with none, or
        # more than one, the choice is pydantic's to make
        members = [s for s in shape[1] if _exact(s, t)]
        if len(members) != 1:
            raise _Decline
        return _value(members[0], value)
    raise _Decline


_EXACT = {"str": str, "int": int, "float": float, "bool": bool, "lit": str, "list": list, "dict": dict, "model": dict}


def _exact(shape: tuple[Any, ...], t: type) -> bool:
    if shape[0] == "opt":
        return t is type(None) or _exact(shape[1], t)
    return _EXACT.get(shape[0]) is t


def _string(shape: tuple[Any, ...], value: str) -> None:
    _, pattern, min_len, max_len, checks = shape
    if (min_len is not None and len(value) < min_len) or (max_len is not None and len(value) > max_len):
        raise _Decline
    if pattern is not None:
        # pydantic matches with Rust's regex engine. fullmatch keeps Python's `$` from matching
        # before a final newline; then the two agree on every character when the pattern uses
        # only explicit characters and ranges (a path with spaces and accents takes the fast
        # path), and on printable ASCII when it uses a class escape (`\s`, `\w`, `\d` are
        # Unicode classes that the engines draw differently).
        if _CLASS_ESCAPE.search(pattern) and not (value.isascii() and value.isprintable()):
            raise _Decline
        if not _compiled(pattern).fullmatch(value):
            raise _Decline
    for name in checks:
        try:
            CHECKS[name](value)
        except ValueError:
            raise _Decline from None


def _compiled(pattern: str) -> re.Pattern[str]:
    found = _PATTERNS.get(pattern)
    if found is None:
        found = _PATTERNS[pattern] = re.compile(pattern)
    return found


def _bounds(shape: tuple[Any, ...], value: float) -> None:
    _, ge, gt, le, lt = shape
    if (ge is not None and not value >= ge) or (gt is not None and not value > gt) \
            or (le is not None and not value <= le) or (lt is not None and not value < lt):
        raise _Decline


def _copy(value: Any) -> Any:
    """Defaults are shared constants in the table: hand out fresh containers."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value
