"""Spec validation: the pydantic model decides, and its errors become issues.

A refused spec is also repaired into one the model accepts, so the semantic checks report in the
same run as the schema errors. Hints (allowed keys, ranges) and repair placeholders read the
model's own fields and constraints.
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

import annotated_types as at
from pydantic import BaseModel, StringConstraints, ValidationError
from pydantic.fields import FieldInfo

from mlgen.spec import model as m
from mlgen.spec import rules
from mlgen.spec.positions import Path as KeyPath
from mlgen.spec.semantic import Issue

REPAIR_ROUNDS = 6  # a missing table, then its required keys, then theirs...


@dataclass(frozen=True)
class Verdict:
    spec: m.Spec | None  # the valid spec; or, with issues, a repaired one to run the semantic checks on
    settings: dict[str, Any] | None  # JSON-mode dump by alias (valid specs only)
    issues: list[Issue]
    repaired: tuple[KeyPath, ...] = ()  # what the repair removed or filled in: semantic issues there are noise


def validate(data: Any) -> Verdict:
    """Pydantic's verdict on `data`: the spec, or its issues plus a repaired copy when one exists."""
    try:
        spec = m.Spec.model_validate(data)
    except ValidationError as exc:
        repaired, removed = _repair(data, exc)
        return Verdict(repaired, None, _pydantic_issues(exc, data), removed)
    return Verdict(spec, spec.model_dump(mode="json", by_alias=True), [])


def _repair(data: Any, exc: ValidationError) -> tuple[m.Spec | None, tuple[KeyPath, ...]]:
    """Repair `data` until pydantic accepts it, so the semantic checks (cycles, unknown jobs,
    gates) report in the same run as the schema errors: a refused value is removed (its default
    takes its place), a missing required key or a refused list item gets a placeholder of its
    type. Issues under the repaired paths are the repair's, not the file's: the caller drops them.
    None when no repair is found."""
    doc = copy.deepcopy(data)
    repaired: list[KeyPath] = []
    for _ in range(REPAIR_ROUNDS):
        done: set[KeyPath] = set()  # a union value fails once per member: repair it once
        for err in exc.errors(include_url=False):
            missing = err["type"] == "missing"
            path, _ = _data_path(tuple(err["loc"]), doc, missing or err["type"] == "extra_forbidden")
            if path in done:
                continue
            if not path or not _fix(doc, path, missing):
                return None, ()
            done.add(path)
            repaired.append(path)
        try:
            return m.Spec.model_validate(doc), tuple(repaired)
        except ValidationError as again:
            exc = again
    return None, ()


def _fix(doc: Any, path: KeyPath, missing: bool) -> bool:
    """Put a placeholder at `path` (missing, or a list item) or remove the value; False if neither."""
    parent, key = _node(doc, path[:-1]), path[-1]
    if isinstance(parent, dict) and not missing and key in parent:
        del parent[key]
        return True
    in_list = isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent)
    if not (in_list or (isinstance(parent, dict) and missing and key not in parent)):
        return False
    shape = _shape_at(path)
    value = _placeholder(shape, path) if shape is not None else None
    if value is None:
        return False
    parent[key] = value
    return True


# Placeholders for the patterned strings a required key or a list item may hold (a pattern not
# listed here is not repaired); names are made from the key path, so two never collide.
_PLACEHOLDER_TEXT = {
    rules.PATH_PATTERN: "placeholder.csv",
    rules.DOTTED_PATTERN: "placeholder.Estimator",
    rules.CRON_PATTERN: "0 0 * * *",
    rules.BRANCH_PATTERN: "placeholder",
    rules.SECRET_PATTERN: "PLACEHOLDER",
}


def _placeholder(shape: tuple[Any, ...], path: KeyPath) -> Any:
    """A value the model accepts for `shape` (None when there is none to offer)."""
    tag = shape[0]
    if tag == "str":
        _, pattern, min_len, _max_len = shape
        if pattern == rules.NAME_PATTERN:
            return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(map(str, path)))[-64:].strip("-_") or "placeholder"
        if pattern is not None:
            return _PLACEHOLDER_TEXT.get(pattern)
        return "x" * max(1, min_len or 0)
    if tag in ("int", "float"):
        _, ge, gt, le, lt = shape
        if ge is not None:
            return ge
        if gt is not None:
            return (gt + lt) / 2 if tag == "float" and lt is not None else gt + 1
        return le if le is not None else (lt - 1 if lt is not None else 0)
    if tag == "bool":
        return False
    if tag == "lit":
        return shape[1][0]
    if tag in ("list", "dict"):
        if not shape[2]:
            return [] if tag == "list" else {}
        item = _placeholder(shape[1], path + (0,))
        return None if item is None else [item] if tag == "list" else {"placeholder": item}
    if tag == "model":
        return {}  # its own required keys are repaired in the next round
    if tag in ("opt", "union"):
        return _placeholder(shape[1] if tag == "opt" else shape[1][0], path)
    return None


def _node(doc: Any, path: KeyPath) -> Any:
    for part in path:
        doc = doc[part]
    return doc


_PATTERN_TEXT = {
    rules.NAME_PATTERN: (
        "must be 1-64 letters, digits, `_` or `-`, starting with a letter or digit",
        "for example `churn-model`",
    ),
    rules.PATH_PATTERN: (
        "must be a relative path inside the repository (no leading `/`, no control, zero-width or bidirectional characters)",
        "for example `data/train.csv` or `data/données 2024.csv`",
    ),
    rules.BRANCH_PATTERN: ("is not a valid branch name", "use letters, digits and `._/-`, for example `main`"),
    rules.DOTTED_PATTERN: (
        "is not a dotted import path",
        "write the full import path, for example `sklearn.ensemble.RandomForestClassifier`",
    ),
    rules.CRON_PATTERN: ("is not a 5-field cron expression", 'for example "0 6 * * 1" (Mondays 06:00 UTC)'),
    r"^3\.[0-9]{1,2}$": ("is not a Python version", 'for example "3.12"'),
    r"^[a-z0-9_]+$": ("is not a scikit-learn scoring name", 'for example "f1" or "roc_auc"'),
    r"^https://[^\s'\"`$\\]+$": ("is not a plain https:// URL", "for example https://models.example.com"),
    rules.SECRET_PATTERN: ("is not a secret name", "use capitals, digits and `_`, for example `AWS_ACCESS_KEY_ID`"),
    rules.REGISTRY_PATTERN: (
        "is neither a registry folder, an object-store URL nor an MLflow registry URI",
        "for example `models`, `s3://my-bucket/models` (also gs://, az://; credentials come from the "
        "environment, never the URL), `mlflow+http://127.0.0.1:5000` or `mlflow+sqlite:///mlflow.db`",
    ),
}

_TYPE_NAMES = {
    "string_type": "a string", "int_type": "an integer", "float_type": "a number",
    "bool_type": "true or false", "list_type": "an array", "dict_type": "a table",
    "model_type": "a table", "model_attributes_type": "a table", "int_from_float": "an integer",
    "int_parsing": "an integer", "float_parsing": "a number",
}


_TYPE_HINTS = {
    "a string": 'put it in quotes, for example "text"',
    "an integer": "write a whole number without quotes, for example 5",
    "a number": "write a number without quotes, for example 0.5",
    "true or false": "write true or false, without quotes",
    "an array": 'write a list in brackets, for example ["a", "b"]',
    "a table": "write a table: a [section] or an inline { key = value }",
}


def _toml_type(value: Any) -> str:
    return {
        bool: "a boolean", int: "an integer", float: "a number", str: "a string",
        list: "an array", dict: "a table",
    }.get(type(value), type(value).__name__)


def _data_path(loc: tuple[Any, ...], data: Any, absent_key: bool) -> tuple[KeyPath, Any]:
    """Keep the parts of a pydantic location that exist in the data, dropping union member tags
    (e.g. "bool", "list[...]"); for missing/extra keys (`absent_key`) the last part is kept.

    Returns (path, value at path)."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif absent_key and i == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str):
            return tuple(path) + (part,), None
    return tuple(path), node


def _fields_at(path: KeyPath) -> list[str]:
    """Keys accepted by the table at `path` (for "did you mean"), from the model."""
    shape = _shape_at(path)
    return list(_fields(shape[1])) if shape is not None and shape[0] == "model" else []


def _pydantic_issues(exc: ValidationError, data: Any) -> list[Issue]:
    issues: list[Issue] = []
    union_types: dict[KeyPath, list[str]] = {}  # a union value fails once per member type
    for err in exc.errors(include_url=False):
        path, value = _data_path(tuple(err["loc"]), data, err["type"] in ("missing", "extra_forbidden"))
        if err["type"] in _TYPE_NAMES and path in union_types:
            union_types[path].append(_TYPE_NAMES[err["type"]])
            continue
        issue = _issue_for(err, path, value)
        if err["type"] in _TYPE_NAMES:
            union_types[path] = [_TYPE_NAMES[err["type"]]]
        issues.append(issue)
    return [_merge_union(i, union_types.get(i.path, [])) for i in issues]


def _merge_union(issue: Issue, kinds: list[str]) -> Issue:
    if issue.code != "E105" or len(kinds) < 2:
        return issue
    got = issue.message.split(", got ", 1)[1]
    expected = ", ".join(sorted(set(kinds)))
    return Issue(issue.path, issue.code, f"expected {expected}, got {got}", f"write one of: {expected}")


def _issue_for(err: Any, path: KeyPath, value: Any) -> Issue:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    key = path[-1] if path else ""
    if kind == "extra_forbidden":
        allowed = _fields_at(path[:-1])
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"did you mean `{close[0]}`?" if close else "allowed keys: " + ", ".join(f"`{a}`" for a in sorted(allowed))
        return Issue(path, "E101", f"unknown key `{key}`", hint)
    if kind == "missing":
        return Issue(path, "E102", f"missing required key `{key}`", "add it; see `mlgen schema` for every key")
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        return Issue(path, "E103", f"invalid value {value!r}", f"expected one of: {expected}")
    if kind == "string_pattern_mismatch":
        text, hint = _PATTERN_TEXT.get(ctx.get("pattern", ""), ("has an invalid format", ""))
        if isinstance(value, str) and re.search(r"://[^/]*@", value):  # a URL with user:secret@
            value = re.sub(r"://[^/]*@", "://***@", value)
            hint = "credentials never go in the URL (each SDK reads them from the environment); for example `s3://my-bucket/models`"
        return Issue(path, "E104", f"{value!r} {text}", hint)
    if kind == "value_error":  # the model's validators write "message\nhint"
        text, _, hint = err["msg"].removeprefix("Value error, ").partition("\n")
        if isinstance(value, str):  # never echo a URL's user:secret@ (train.search.storage)
            value = re.sub(r"://[^/]*@", "://***@", value)
        return Issue(path, "E104", f"{value!r} {text}", hint)
    if kind in _TYPE_NAMES:
        shown = f" {value!r}" if isinstance(value, (str, int, float)) else ""
        expected = _TYPE_NAMES[kind]
        return Issue(path, "E105", f"expected {expected}, got {_toml_type(value)}{shown}", _TYPE_HINTS[expected])
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return Issue(path, "E106", f"{value!r} is out of range: {err['msg'].lower()}", _range_hint(path))
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        what = "characters" if kind.startswith("string") else "entries"
        if kind.endswith("short"):
            hint = f"give at least {ctx.get('min_length')} {what}"
        else:
            hint = f"give at most {ctx.get('max_length')} {what}"
        return Issue(path, "E107", f"{err['msg'].lower()}", hint.replace(" 1 entries", " one entry").replace(" 1 characters", " one character"))
    return Issue(path, "E100", err["msg"], "see `mlgen schema` for what this key takes")


def _range_hint(path: KeyPath) -> str:
    """The whole allowed range of the number at `path`, from the model."""
    shape = _shape_at(path)
    if shape is None or shape[0] not in ("int", "float"):
        return ""
    _, ge, gt, le, lt = shape
    if ge is not None and le is not None:
        return f"use a value from {ge} to {le}"
    parts = [f"at least {ge}" if ge is not None else f"above {gt}" if gt is not None else "",
             f"at most {le}" if le is not None else f"below {lt}" if lt is not None else ""]
    return "use a value " + " and ".join(p for p in parts if p)


# The type of a spec value, read from the model's annotations as a tuple that is cheap to walk:
#   ("str", pattern, min_len, max_len)    ("int" | "float", ge, gt, le, lt)    ("bool",)
#   ("lit", values)    ("list" | "dict", item, min_len)    ("model", class)    ("opt", inner)
#   ("union", members)
Shape = tuple[Any, ...]


def _shape_at(path: KeyPath) -> Shape | None:
    """The shape of the value at `path` (None where the model has no such key)."""
    shape: Shape = ("model", m.Spec)
    for part in path:
        while shape[0] == "opt":
            shape = shape[1]
        if shape[0] == "model":
            found = _fields(shape[1]).get(part) if isinstance(part, str) else None
            if found is None:
                return None
            shape = found
        elif shape[0] in ("list", "dict"):
            shape = shape[1]
        else:
            return None
    while shape[0] == "opt":
        shape = shape[1]
    return shape


@functools.cache
def _fields(cls: type[BaseModel]) -> dict[str, Shape]:
    """TOML key -> shape, for each field of a model class, in the model's order."""
    return {f.alias or name: _shape(f.annotation, list(f.metadata)) for name, f in cls.model_fields.items()}


def _shape(tp: Any, meta: list[Any]) -> Shape:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _shape(args[0], [*meta, *tp.__metadata__])
    c = _constraints(meta)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        inner = _shape(members[0], []) if len(members) == 1 else ("union", tuple(_shape(a, []) for a in members))
        return ("opt", inner) if len(members) < len(args) else inner
    if origin is typing.Literal:
        return ("lit", args)
    if origin in (list, dict):
        return (origin.__name__, _shape(args[-1], []), c.get("min_len"))
    if tp is str:
        return ("str", c.get("pattern"), c.get("min_len"), c.get("max_len"))
    if tp in (int, float):
        return (tp.__name__, c.get("ge"), c.get("gt"), c.get("le"), c.get("lt"))
    if tp is bool:
        return ("bool",)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return ("model", tp)
    return ("other",)  # nothing to offer for it: no placeholder, no range


def _constraints(meta: list[Any]) -> dict[str, Any]:
    """Pattern, lengths and bounds from a field's metadata (value checks need no placeholder)."""
    out: dict[str, Any] = {}
    for item in meta:
        if isinstance(item, FieldInfo):  # Annotated[int, Field(ge=0)]
            out.update(_constraints(list(item.metadata)))
        elif isinstance(item, StringConstraints):
            for attr, key in (("pattern", "pattern"), ("min_length", "min_len"), ("max_length", "max_len")):
                if getattr(item, attr) is not None:
                    out[key] = getattr(item, attr)
        elif isinstance(item, (at.Ge, at.Gt, at.Le, at.Lt)):
            name = type(item).__name__.lower()
            out[name] = getattr(item, name)
        elif isinstance(item, at.MinLen):
            out["min_len"] = item.min_length
        elif isinstance(item, at.MaxLen):
            out["max_len"] = item.max_length
    return out
