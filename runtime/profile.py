"""What each column of the training data is, as the model will use it (train, evaluate, validate,
the split and `mlgen init --data` all ask here, so they agree).

Kinds and what becomes of them:

- `numeric`, `categorical`: features (impute + scale, impute + one-hot);
- `datetime`: a feature, as a number (days since 1970-01-01 UTC, see `pipeline.prepare`);
- `id` (unique per row: integer or short string keys), `text` (free text), `empty` (no value),
  `unsupported` (e.g. timedelta, lists): left out with a warning; a model that learns a row
  number or a sentence per row learns nothing that generalises;
- `excluded`: listed in `data.exclude`, left out.

A column the contract (`data.columns`) types is used as declared: the explicit contract wins
over every guess here. Recognition looks at dtypes, uniqueness and (for strings) the first
SAMPLE values, so it is a pure function of the data and cheap on a million rows.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FEATURE_KINDS = ("numeric", "categorical", "datetime")
LEFT_OUT_KINDS = ("id", "text", "empty", "unsupported", "excluded")
DECLARED = {"int": "numeric", "float": "numeric", "category": "categorical", "str": "categorical",
            "bool": "categorical", "datetime": "datetime"}
MIN_ID_ROWS = 50  # below this a unique column is as likely a feature of a tiny table as a key
SAMPLE = 1000  # string values looked at to recognise dates and free text
DATE_SHARE = 0.95  # share of sampled strings that must look like and parse as dates
TEXT_WORDS = 4  # median words per value of free text (category labels have one to three)
TEXT_DISTINCT = 0.5  # free text rarely repeats: at least half the values are distinct
ID_NAME = re.compile(r"(^|[^a-z])(id|key|uuid|guid)$|^(id|uuid|guid)([^a-z]|$)|[a-z]Id$|ID$|(^|_)(no|num|number)$",
                     re.IGNORECASE)
# an integer column named like this is an ordered quantity (a year, a month), never a key
TIME_NAME = re.compile(r"(^|[^a-z])(year|yr|month|quarter|week|day|hour|date|time|period)s?([^a-z]|$)", re.IGNORECASE)
DATE_TEXT = re.compile(r"\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2}|UTC)?\s*",
                       re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # one of FEATURE_KINDS or LEFT_OUT_KINDS
    why: str  # one clause, for warnings, notes and the comments `mlgen init --data` writes
    declared: str | None = None  # the contract type, when there is one


@dataclass(frozen=True)
class Profile:
    columns: tuple[Column, ...]

    def names(self, *kinds: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.kind in kinds)

    @property
    def features(self) -> tuple[str, ...]:
        """The columns the model reads, in file order."""
        return self.names(*FEATURE_KINDS)

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per column left out for a reason the user may not expect."""
        return tuple(f"column `{c.name}` {c.why}: left out of the features" for c in self.columns
                     if c.kind in ("id", "text", "empty", "unsupported"))

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(f"column `{c.name}` {c.why}" for c in self.columns if c.kind in ("datetime", "excluded"))


def profile(frame: pd.DataFrame, target: str, contract: Mapping[str, Mapping[str, Any]] | None = None,
            exclude: Iterable[str] = ()) -> Profile:
    """Every column but the target, in file order, with its kind."""
    contract = contract or {}
    excluded = set(exclude)
    out = []
    for name in frame.columns:
        if name == target:
            continue
        if name in excluded:
            out.append(Column(name, "excluded", "is listed in data.exclude"))
            continue
        declared = (contract.get(name) or {}).get("type")
        if declared in DECLARED:
            kind = DECLARED[declared]
            why = "is a date/time (data.columns): used as days since 1970-01-01" if kind == "datetime" else "declared"
            out.append(Column(name, kind, why, declared))
            continue
        out.append(infer(frame[name], name))
    return Profile(tuple(out))


def of_settings(frame: pd.DataFrame, settings: Mapping[str, Any]) -> Profile:
    """The profile the stages use: the spec's contract and exclusions, and the split's group
    column left out (every held-out group is new to the model: nothing about it can be learnt)."""
    data = settings["data"]
    group = (data.get("split") or {}).get("group")
    prof = profile(frame, data["target"], data.get("columns") or {}, data.get("exclude") or ())
    if group is None:
        return prof
    return Profile(tuple(Column(c.name, "excluded", "is the data.split.group column") if c.name == group else c
                         for c in prof.columns))


def infer(series: pd.Series, name: str) -> Column:
    """The kind of one column from its values (no contract)."""
    import pandas as pd
    from pandas.api import types as t

    dtype = series.dtype
    present = series.dropna()
    if len(present) == 0:
        return Column(name, "empty", "has no values")
    if t.is_datetime64_any_dtype(dtype):
        return Column(name, "datetime", "is a date/time: used as days since 1970-01-01")
    if t.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return Column(name, "categorical", "is categorical")
    if t.is_integer_dtype(dtype):
        if _integer_key(series, present, name):
            return Column(name, "id", f"is an id (a different integer in each of the {len(series):,} rows)")
        return Column(name, "numeric", "is numeric")
    if t.is_numeric_dtype(dtype):  # float: a measurement, never a key
        return Column(name, "numeric", "is numeric")
    if t.is_object_dtype(dtype) or t.is_string_dtype(dtype):
        nested = nested_kind(present)
        if nested is not None:
            return Column(name, "unsupported", f"holds {nested}, which no model reads as a feature")
        return _strings(series, present, name)
    return Column(name, "unsupported", f"has dtype {dtype}, neither numeric, categorical nor a date")


NESTED_TYPES = {list: "lists", tuple: "lists", set: "lists", frozenset: "lists", dict: "records"}


def nested_kind(present: pd.Series) -> str | None:
    """"lists (a Parquet list column)" or "records (a Parquet struct or map column)" when the
    values of an object column are containers (pyarrow hands list columns over as arrays, structs
    as dicts, maps as lists of pairs), else None. Checked on every value only when pandas' own
    type inference (in C) does not already say the values are scalars."""
    import numpy as np
    from pandas.api import types as t

    if not t.is_object_dtype(present.dtype) or len(present) == 0:
        return None
    if t.infer_dtype(present, skipna=True) not in ("mixed", "mixed-integer", "unknown-array"):
        return None  # strings, numbers, bytes, dates, decimals...: scalars
    kinds = {NESTED_TYPES.get(type(v)) or ("lists" if isinstance(v, np.ndarray) else None) for v in present}
    kinds.discard(None)
    if not kinds:
        return None
    return "records (a Parquet struct or map column)" if kinds == {"records"} else "lists (a Parquet list column)"


def nested_mask(series: pd.Series) -> Any:
    """Boolean mask of the list and record values of `series`, or None when it has none."""
    import numpy as np

    if series.dtype != object or nested_kind(series.dropna()) is None:
        return None
    return np.fromiter((isinstance(v, (list, tuple, set, frozenset, dict, np.ndarray)) for v in series),
                       dtype=bool, count=len(series))


def _integer_key(series: pd.Series, present: pd.Series, name: str) -> bool:
    """Unique per row, no gaps in the data, and named like a key or numbering the rows (a
    consecutive run, or increasing in file order): a unique integer income of 200 people is not."""
    n = len(series)
    if n < MIN_ID_ROWS or len(present) < n or TIME_NAME.search(name) or not series.is_unique:
        return False
    if ID_NAME.search(name):
        return True
    span = int(present.max()) - int(present.min()) + 1
    return span <= 2 * n or series.is_monotonic_increasing


def _strings(series: pd.Series, present: pd.Series, name: str) -> Column:
    import numpy as np

    sample = present.iloc[:SAMPLE].astype(str)
    if looks_like_dates(sample):
        return Column(name, "datetime", "holds dates: used as days since 1970-01-01")
    n = len(series)
    words = float(np.median(sample.str.split().str.len()))
    unique = len(present) == n and n >= MIN_ID_ROWS and series.is_unique
    if words >= TEXT_WORDS and (unique or present.nunique() >= TEXT_DISTINCT * len(present)):
        return Column(name, "text", f"is free text (about {int(words)} words a value)")
    if unique:
        return Column(name, "id", f"is an id (a different value in each of the {n:,} rows)")
    return Column(name, "categorical", "is categorical")


def looks_like_dates(sample: pd.Series) -> bool:
    """Most of the strings are spelled like dates (2024-01-31, 31/01/2024 10:00) and parse as
    such. The spelling comes first: pandas reads "12:30" or "5" as a date too."""
    if len(sample) == 0:
        return False
    spelled = sample.str.fullmatch(DATE_TEXT.pattern, case=False).fillna(False).to_numpy(dtype=bool)
    if spelled.mean() < DATE_SHARE:
        return False
    return bool(to_datetime(sample).notna().mean() >= DATE_SHARE)


def to_datetime(series: pd.Series) -> pd.Series:
    """Dates as UTC timestamps (naive ones read as UTC); what does not parse is NaT. One format
    inferred for the whole column first (fast), then value by value for the rest."""
    import pandas as pd

    with warnings.catch_warnings():  # "could not infer format": the per-value pass below handles it
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(series, errors="coerce", utc=True)
        lost = parsed.isna() & series.notna()
        if lost.any():
            parsed[lost] = pd.to_datetime(series[lost].astype(str), errors="coerce", utc=True, format="mixed")
    return parsed


def as_days(series: pd.Series) -> pd.Series:
    """A date/time column as float days since 1970-01-01 UTC (missing or unreadable: NaN)."""
    import pandas as pd

    stamps = series if isinstance(series.dtype, pd.DatetimeTZDtype) else to_datetime(series)
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return (stamps - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
