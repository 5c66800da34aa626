"""`mlgen init --data PATH --target COLUMN`: a spec whose data contract is read off the user's file.

The runtime's own reader and column profile (mlgen_runtime.data, mlgen_runtime.profile) decide
what each column is, so the spec says what `train` will do with it: features get a contract entry
(type, observed range or category values, nullability), ids, free text and empty columns go to
`data.exclude` with a comment saying why. pandas is imported here only, when the command runs:
the compile path never imports it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgen.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

RUNTIME_EXTRA = "pip install 'mlgen[runtime]'"
MAX_LISTED_VALUES = 50  # a category with more values gets no `values` list (it would be a wall of text)
MAX_CLASS_VALUES = 20  # an integer target with at most this many values (and few per row) is classes
ESTIMATORS = {
    "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
    "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
}
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Inferred:
    """What the file says, ready for the template."""

    path: str  # as the spec writes it: relative to the project folder, forward slashes
    target: str
    task: str
    task_why: str
    rows: int
    columns: int
    contract: list[str]  # `name = { ... }` lines and their comment lines, in file order
    exclude: list[str]
    estimator: str


def require_runtime() -> None:
    """Exit 2 in one line when the runtime's packages are missing (init --data reads the file with them)."""
    import importlib.util

    missing = [m for m in ("numpy", "pandas") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"`mlgen init --data` reads the file with {', '.join(missing)}, which is not installed: "
                         f"{RUNTIME_EXTRA}")


def spec_path(data: Path, folder: Path) -> str:
    """The data path as the spec writes it: relative to the project folder. A path that exists
    relative to the project is kept as given; one given from the current folder is rewritten."""
    if not data.is_absolute() and (folder / data).is_file():
        return data.as_posix()
    where = data if data.is_absolute() else Path.cwd() / data
    if not where.is_file():
        raise UsageError(f"--data {data.as_posix()}: file not found")
    try:
        return where.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        raise UsageError(f"--data {data.as_posix()}: the data must be inside the project folder "
                         f"{folder.as_posix()} (the spec and CI read it from there)") from None


def infer(data: Path, target: str, folder: Path) -> Inferred:
    require_runtime()
    from mlgen_runtime import profile
    from mlgen_runtime.data import load_frame
    from mlgen_runtime.errors import BadInput

    rel = spec_path(data, folder)
    if Path(rel).suffix not in (".csv", ".parquet"):
        raise UsageError(f"--data {rel}: expected a .csv or .parquet file")
    try:
        frame = load_frame(folder / rel, rel)
    except BadInput as exc:
        raise UsageError(str(exc)) from None
    if target not in frame.columns:
        raise UsageError(f"--target {target}: not a column of {rel}; columns: {', '.join(frame.columns[:20])}")
    y = frame[target]
    if y.notna().sum() < 2:
        raise UsageError(f"--target {target}: fewer than 2 rows of {rel} have a value")
    if y.nunique() < 2:  # one class, or a constant number: nothing to learn
        raise UsageError(f"--target {target}: every row of {rel} has the same value ({y.dropna().iloc[0]!r}); "
                         "there is nothing to predict")
    task, why = infer_task(y)
    prof = profile.profile(frame[y.notna()], target)
    lines: list[str] = []
    exclude: list[str] = []
    for column in prof.columns:
        if column.kind in profile.FEATURE_KINDS:
            lines += contract_line(column.name, frame[column.name], column.kind, column.why)
        else:
            exclude.append(column.name)
            lines.append(f"# {toml_key(column.name)} {column.why}: left out of the features (data.exclude)")
    lines += contract_line(target, y, "categorical" if task == "classification" else "numeric", "the target")
    return Inferred(rel, target, task, why, len(frame), frame.shape[1], lines, exclude, ESTIMATORS[task])


def infer_task(y: pd.Series) -> tuple[str, str]:
    """(task, why): text, booleans and categories are classes; so are integers with few values."""
    from pandas.api import types as t

    present = y.dropna()
    distinct = int(present.nunique())
    if not t.is_numeric_dtype(y.dtype) or t.is_bool_dtype(y.dtype):
        return "classification", f"`{y.name}` holds labels ({distinct} distinct values)"
    integral = bool((present == present.round()).all())
    if integral and distinct <= MAX_CLASS_VALUES and distinct <= max(2, len(present) // 10):
        return "classification", f"`{y.name}` holds {distinct} distinct whole numbers"
    return "regression", f"`{y.name}` is a number with {distinct:,} distinct values"


def contract_line(name: str, series: pd.Series, kind: str, why: str) -> list[str]:
    """`name = { type = ..., ... }` for a feature or the target, from what the file holds."""
    import numpy as np
    from pandas.api import types as t

    present = series.dropna()
    rule: dict[str, str] = {}
    comment = ""
    if kind == "datetime":
        rule["type"] = '"datetime"'
        comment = "a date/time: used as days since 1970-01-01"
    elif kind == "numeric":
        values = present.to_numpy(dtype="float64")
        finite = values[np.isfinite(values)]
        integral = t.is_integer_dtype(series.dtype) or bool(len(finite) and (finite == np.trunc(finite)).all())
        rule["type"] = '"int"' if integral else '"float"'
        if len(finite):
            rule["min"], rule["max"] = (number(finite.min(), integral), number(finite.max(), integral))
    else:
        rule["type"] = '"bool"' if t.is_bool_dtype(series.dtype) else '"category"'
        if rule["type"] == '"category"':
            distinct = sorted(present.unique().tolist(), key=lambda v: (str(type(v)), v))
            if len(distinct) <= MAX_LISTED_VALUES:
                rule["values"] = "[" + ", ".join(value(v) for v in distinct) + "]"
            else:
                comment = f"{len(distinct):,} values: not listed; train one-hot encodes the 49 most common"
    if len(present) < len(series):
        rule["nullable"] = "true"
        share = 1 - len(present) / len(series)
        comment = (comment + "; " if comment else "") + f"{share:.1%} missing"
    if why == "the target":
        comment = "the target" + (f"; {comment}" if comment else "")
    body = ", ".join(f"{k} = {v}" for k, v in rule.items())
    return [f"{toml_key(name)} = {{ {body} }}" + (f"  # {comment}" if comment else "")]


def number(x: float, integral: bool) -> str:
    return str(int(x)) if integral else repr(float(x))


def value(v: Any) -> str:
    """A category value as a TOML value (numbers stay numbers, everything else a string)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and math.isfinite(v):
        return str(int(v)) if v.is_integer() else repr(v)
    return toml_string(str(v))


def toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def toml_key(name: str) -> str:
    return name if BARE_KEY.fullmatch(name) else toml_string(name)
