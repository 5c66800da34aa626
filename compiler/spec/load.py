"""Load a spec file: TOML -> raw data (with key positions) -> strict model -> semantic checks.

Every problem becomes a Diagnostic with file:line:col, key path, message and hint; all of them
are collected and raised together as one SpecError, so the user fixes a file in one pass.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mlgen.errors import Diagnostic, SpecError, dotted
from mlgen.spec import model as m
from mlgen.spec.positions import Path as KeyPath
from mlgen.spec.positions import Positions, key_positions, locate
from mlgen.spec.safety import unsafe_strings
from mlgen.spec.semantic import Issue, check

PYPROJECT_TABLE: KeyPath = ("tool", "mlgen")


@dataclass(frozen=True)
class LoadedSpec:
    spec: m.Spec
    path: Path  # the file it came from
    raw: bytes  # its bytes (hashed into the plan)
    base: KeyPath  # () for mlproject.toml, ("tool", "mlgen") for pyproject.toml


def load_spec(path: Path, display: str | None = None) -> LoadedSpec:
    """Load and check `path`; raise SpecError with every problem found."""
    shown = display or path.name

    def fail(line: int, col: int, code: str, msg: str, hint: str = "") -> SpecError:
        return SpecError([Diagnostic(shown, line, col, code, "", msg, hint)])

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise fail(1, 1, "E001", "spec file not found", "run `mlgen init` to write a starter spec, or pass --spec PATH") from None
    except OSError as exc:
        raise fail(1, 1, "E001", f"cannot read the spec: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail(line, 1, "E002", "the spec is not valid UTF-8") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col, msg = _toml_error_position(str(exc))
        raise fail(line, col, "E003", f"invalid TOML: {msg}", "see https://toml.io for the syntax") from None

    base: KeyPath = ()
    if path.name == "pyproject.toml":
        base = PYPROJECT_TABLE
        data = doc.get("tool", {}).get("mlgen")
        if not isinstance(data, dict):
            raise fail(1, 1, "E004", "pyproject.toml has no [tool.mlgen] table", "add [tool.mlgen.project] etc., or use mlproject.toml")
    else:
        data = doc

    issues = list(unsafe_strings(data))
    spec: m.Spec | None = None
    try:
        spec = m.Spec.model_validate(data)
    except ValidationError as exc:
        issues.extend(_pydantic_issues(exc, data))
    if spec is not None and not issues:
        issues.extend(check(spec, path.parent))
    if issues:
        positions = key_positions(text)  # only needed to place diagnostics
        raise SpecError([_diagnostic(shown, positions, base, i) for i in _dedupe(issues)])
    return LoadedSpec(spec=spec, path=path, raw=raw, base=base)  # type: ignore[arg-type]


def _diagnostic(file: str, positions: Positions, base: KeyPath, issue: Issue) -> Diagnostic:
    line, col = locate(positions, issue.path, base)
    return Diagnostic(file, line, col, issue.code, dotted(base + issue.path), issue.message, issue.hint)


def _dedupe(issues: list[Issue]) -> list[Issue]:
    """One diagnostic per key path (a union field yields one pydantic error per member)."""
    seen: set[KeyPath] = set()
    out = []
    for i in issues:
        if i.path not in seen:
            seen.add(i.path)
            out.append(i)
    return out


_TOML_POS = re.compile(r"^(.*?) \(at line (\d+), column (\d+)\)$")


def _toml_error_position(text: str) -> tuple[int, int, str]:
    found = _TOML_POS.match(text)
    if found:
        return int(found[2]), int(found[3]), found[1].lower()
    return 1, 1, text.lower()  # "(at end of document)" and similar


# --- pydantic errors -> issues ----------------------------------------------------------------

_PATTERN_TEXT = {
    m.NAME_PATTERN: (
        "must be 1-64 letters, digits, `_` or `-`, starting with a letter or digit",
        "for example `churn-model`",
    ),
    m.PATH_PATTERN: (
        "must be a relative path inside the repository (letters, digits, `._@+=/-`; no `..`, no leading `/`)",
        "for example `data/train.csv`",
    ),
    m.BRANCH_PATTERN: ("is not a valid branch name", "use letters, digits and `._/-`, for example `main`"),
    m.DOTTED_PATTERN: (
        "is not a dotted import path",
        "write the full import path, for example `sklearn.ensemble.RandomForestClassifier`",
    ),
    m.CRON_PATTERN: ("is not a 5-field cron expression", 'for example "0 6 * * 1" (Mondays 06:00 UTC)'),
    r"^3\.[0-9]{1,2}$": ("is not a Python version", 'for example "3.12"'),
    r"^[a-z0-9_]+$": ("is not a scikit-learn scoring name", 'for example "f1" or "roc_auc"'),
    r"^https://[^\s'\"`$\\]+$": ("is not a plain https:// URL", "for example https://models.example.com"),
    m.SECRET_PATTERN: ("is not a secret name", "use capitals, digits and `_`, for example `AWS_ACCESS_KEY_ID`"),
    m.REGISTRY_PATTERN: (
        "is neither a registry folder nor an MLflow registry URI",
        "for example `models`, `mlflow+http://127.0.0.1:5000` or `mlflow+sqlite:///mlflow.db`",
    ),
}

_TYPE_NAMES = {
    "string_type": "a string", "int_type": "an integer", "float_type": "a number",
    "bool_type": "true or false", "list_type": "an array", "dict_type": "a table",
    "model_type": "a table", "model_attributes_type": "a table", "int_from_float": "an integer",
    "int_parsing": "an integer", "float_parsing": "a number",
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
    """Keys accepted by the model at `path` (for "did you mean")."""
    tp: Any = m.Spec
    for part in path:
        tp = _unwrap(tp)
        if isinstance(part, int):
            tp = _unwrap(typing.get_args(tp)[0]) if typing.get_args(tp) else tp
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next((f for n, f in tp.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            tp = field.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    """Optional[X] -> X; Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            tp = args[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            rest = [a for a in args if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


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
    return Issue(issue.path, issue.code, f"expected {', '.join(sorted(set(kinds)))}, got {got}", issue.hint)


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
        return Issue(path, "E104", f"{value!r} {text}", hint)
    if kind == "value_error":  # the model's validators write "message\nhint"
        text, _, hint = err["msg"].removeprefix("Value error, ").partition("\n")
        return Issue(path, "E104", f"{value!r} {text}", hint)
    if kind in _TYPE_NAMES:
        shown = f" {value!r}" if isinstance(value, (str, int, float)) else ""
        return Issue(path, "E105", f"expected {_TYPE_NAMES[kind]}, got {_toml_type(value)}{shown}", "")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return Issue(path, "E106", f"{value!r} is out of range: {err['msg'].lower()}", "")
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        return Issue(path, "E107", f"{err['msg'].lower()}", "")
    return Issue(path, "E100", err["msg"], "")
