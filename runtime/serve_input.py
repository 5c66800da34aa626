"""`mlgen serve`: a request body (JSON records or CSV) to the model's input frame, checked
against the spec's data contract the way validate checks the training data (validate.py's
type and allowed-values checks, the contract's min/max and nullable). Every problem is a
RequestError naming the row (0-based, as `mlgen_row` in the log) and the column: a 422, never
a 500."""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlgen_runtime import validate
from mlgen_runtime.pipeline import Columns
from mlgen_runtime.profile import as_days


class RequestError(Exception):
    """A bad request: status (413 / 415 / 422), a message, and where (row, column) if known."""

    def __init__(self, message: str, status: int = 422, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.status, self.row, self.column = status, row, column

    def body(self) -> dict[str, Any]:
        return {"error": str(self), "row": self.row, "column": self.column}


@dataclass(frozen=True)
class Schema:
    """What a request must hold: the model's input columns (training order), the contract."""

    features: tuple[str, ...]  # the model's input columns, in training order
    used: tuple[str, ...]  # those it reads (the rest, left out by train, may be absent)
    cols: Columns  # numeric / categorical / dates as model.json lists them
    contract: dict[str, dict[str, Any]]
    target: str
    exclude: frozenset[str]
    allow_extra: bool
    max_rows: int

    def kind(self, name: str) -> str:
        """The contract type of a feature, else what the model's columns make of it."""
        spec = self.contract.get(name)
        if spec is not None:
            return str(spec["type"])
        if name in self.cols.dates:
            return "datetime"
        return "float" if name in self.cols.numeric else "str"


def records(body: bytes, content_type: str, max_rows: int) -> pd.DataFrame:
    """The rows of a body: `[{...}, ...]`, `{"records": [...]}` or CSV with a header."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return _csv(body, max_rows)
    if kind not in ("", "application/json"):
        raise RequestError(f"unsupported content type {kind!r}; send application/json records or text/csv", 415)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise RequestError(f"the body is not valid JSON: {str(exc)[:200]}") from None
    if isinstance(data, dict) and set(data) == {"records"}:
        data = data["records"]
    if not isinstance(data, list) or not data:
        raise RequestError('expected a non-empty JSON list of records ([{"column": value, ...}]) or {"records": [...]}')
    if len(data) > max_rows:
        raise RequestError(f"{len(data):,} rows; at most {max_rows:,} a request (serve.max_rows)")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise RequestError(f"row {i}: expected a JSON object of column: value", row=i)
        for key, value in row.items():
            if isinstance(value, (dict, list)):
                raise RequestError(f"row {i}: column `{key}`: expected one value, got a JSON {type(value).__name__}",
                                   row=i, column=key)
    return pd.DataFrame.from_records(data)


def _csv(body: bytes, max_rows: int) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.BytesIO(body), engine="c", low_memory=False, nrows=max_rows + 1)
    except Exception as exc:  # noqa: BLE001 - pandas' parser raises several kinds for bad text
        raise RequestError(f"the body is not valid CSV: {' '.join(str(exc).split())[:200]}") from None
    if len(frame) == 0:
        raise RequestError("the CSV body has a header but no rows")
    if len(frame) > max_rows:
        raise RequestError(f"more than {max_rows:,} rows; at most {max_rows:,} a request (serve.max_rows)")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names) or any(n.startswith("Unnamed: ") or "." in n and n.rsplit(".", 1)[0] in names
                                             for n in names):
        raise RequestError("the CSV header names a column twice or has an empty name")
    frame.columns = names
    return frame


def model_input(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The request's rows as the model reads them: the feature columns in training order, each
    coerced to its contract type; RequestError on the first problem."""
    _check_columns(frame, schema)
    out = {}
    for name in schema.features:
        if name in schema.used:
            out[name] = _coerce(frame[name], name, schema)
        else:  # an id or a column train left out: the model's preprocessor drops it
            out[name] = frame[name].reset_index(drop=True) if name in frame.columns else pd.Series([None] * len(frame))
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _check_columns(frame: pd.DataFrame, schema: Schema) -> None:
    missing = [c for c in schema.used if c not in frame.columns]
    if missing:
        raise RequestError(f"row 0: column `{missing[0]}` is missing (the model reads {len(schema.used)} columns)",
                           row=0, column=missing[0])
    known = set(schema.features) | set(schema.contract) | schema.exclude | {schema.target}
    unknown = [c for c in frame.columns if c not in known]
    if unknown and not schema.allow_extra:
        present = frame[unknown[0]].notna().to_numpy()
        row = int(np.argmax(present)) if present.any() else 0
        raise RequestError(f"row {row}: column `{unknown[0]}` is not in the data contract (data.allow_extra = false)",
                           row=row, column=unknown[0])


def _coerce(series: pd.Series, name: str, schema: Schema) -> pd.Series:
    series = series.reset_index(drop=True)
    if series.dtype == object:  # JSON null and NaN alike are missing; so is a float NaN in CSV
        series = series.where(series.notna(), None)
    kind = schema.kind(name)
    spec = schema.contract.get(name, {})
    null = series.isna().to_numpy()
    if null.any() and spec and not spec.get("nullable", False):
        row = int(np.argmax(null))
        raise RequestError(f"row {row}: column `{name}` is missing but the contract does not allow nulls "
                           "(nullable = false)", row=row, column=name)
    bad, numbers = validate.type_problems(series, kind)
    if bad.any():
        row = int(np.argmax(bad))
        raise RequestError(f"row {row}: column `{name}`: expected {kind}, got {validate.show(series.iloc[row])}",
                           row=row, column=name)
    if kind in ("int", "float"):
        values = numbers if numbers is not None else series.to_numpy(dtype="float64", na_value=np.nan)
        _check_numbers(values, name, spec)
        return pd.Series(values, dtype="float64")
    if kind == "bool":
        return _bools(series)
    if kind == "datetime":
        return pd.to_datetime(series, errors="coerce", utc=True).dt.tz_localize(None)
    allowed = spec.get("values")
    if allowed is not None and (~series.isin(allowed) & series.notna()).any():  # then validate's own rule decides
        check = validate.check_values(pd.DataFrame({name: series}), {name: spec})
        if not check.passed:
            row = int(check.details[name]["first_row"]) - 1
            raise RequestError(f"row {row}: column `{name}`: {validate.show(series.iloc[row])} is not one of the "
                               "contract's values", row=row, column=name)
    return series.astype(object).where(series.notna(), None)  # as sent: train saw the file's own values


def _check_numbers(values: np.ndarray, name: str, spec: dict[str, Any]) -> None:
    with np.errstate(invalid="ignore"):
        inf = np.isinf(values)
        if inf.any():
            row = int(np.argmax(inf))
            raise RequestError(f"row {row}: column `{name}`: {values[row]} is not a finite number", row=row, column=name)
        for bound, label in (("min", "below"), ("max", "above")):
            limit = spec.get(bound)
            if limit is None or (isinstance(limit, float) and math.isnan(limit)):
                continue
            out = values < limit if bound == "min" else values > limit
            if out.any():
                row = int(np.argmax(out))
                raise RequestError(f"row {row}: column `{name}`: {values[row]:g} is {label} the contract's {bound} "
                                   f"{limit:g}", row=row, column=name)


def _bools(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("boolean")
    words = series.astype("string").str.strip().str.lower()
    truth = words.isin(["true", "1", "1.0", "yes", "t", "y"])
    return truth.astype("boolean").where(series.notna(), pd.NA)


def for_model(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The coerced frame in the form train fitted on (pipeline.prepare's conventions): dates as
    days, missing values as NaN."""
    out = frame.copy()
    for name in schema.used:
        kind = schema.kind(name)
        if name in schema.cols.dates or kind == "datetime":
            if name in schema.cols.numeric or name in schema.cols.dates:
                out[name] = as_days(out[name]).astype("float64")
        elif kind == "bool" and name in schema.cols.numeric:
            out[name] = out[name].astype("float64")
        elif out[name].dtype == object or str(out[name].dtype) == "boolean":
            s = out[name].astype(object)
            out[name] = s.where(s.notna(), np.nan)
    return out
