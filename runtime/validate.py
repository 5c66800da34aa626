"""The `validate` stage: checks the training data before anything is trained on it.

Every check is named and gives one of three outcomes, pass / warn / fail, plus a message that
points at a column and a data row (rows are counted from 1, the header excluded). A warning is
something the pipeline handles but the user should know (missing feature values train imputes,
repeated rows the split keeps together, rows without a target left out, ids and free text left
out of the features); `validate.strict = true` makes every warning a failure. The checks are vectorized (pandas/numpy over
whole columns, one 64-bit hash per row for duplicates and leakage), so a million rows take
seconds. Results go to `.mlgen/out/validate/`: validation.json, report.md, junit.xml.

Exit codes: 0 no check failed (warnings allowed); 1 a check failed; 2 the data is unusable: unreadable, no
target, an empty drift reference, or values that are not of the type the contract declares. The
reports are written in every case, so the job artifact still says what is wrong: when the data
cannot be read at all, report.md and junit.xml hold one failing `data` case with the reason and
every check skipped (validation.json is only written when the checks ran).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlgen_runtime import data, drift, pipeline, profile
from mlgen_runtime.context import Context
from mlgen_runtime.errors import BadInput, CheckFailed
from mlgen_runtime.fsutil import write_json
from mlgen_runtime.junit import Case, write_junit
from mlgen_runtime import report_md as md
from mlgen_runtime.report_md import Md, bold, code, escape, inline, status, table

SUITE = "mlgen.validate"
# every check, in report order (validate_frame returns them so)
CHECKS = ("columns", "types", "ranges", "values", "nulls", "finite", "min_rows", "duplicates", "target", "features",
          "leakage", "drift")
SHOWN = 5  # problems spelled out per message; the rest are counted
BOOL_WORDS = frozenset({"true", "false", "1", "0", "yes", "no", "t", "f", "y", "n"})
Contract = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    bad_input: bool = False  # failed because the data cannot be read as the contract says: exit 2
    warning: bool = False  # passed, with something the user should know (see the module docstring)

    @property
    def status(self) -> str:
        return "skip" if self.skipped else "fail" if not self.passed else "warn" if self.warning else "pass"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "passed": self.passed, "skipped": self.skipped,
                "message": self.message, "details": self.details}


def strict(check: Check) -> Check:
    """validate.strict: a warning fails."""
    if not check.warning or not check.passed:
        return check
    return Check(check.name, False, f"{check.message} (validate.strict: warnings fail)", check.details)


# --- small helpers ----------------------------------------------------------------------------

def count_of(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def rows(n: int) -> str:
    return count_of(n, "row")


def row_of(position: int) -> str:
    return f"data row {position + 1}"


def first(mask: np.ndarray) -> int:
    """Position of the first True (the caller knows there is one)."""
    return int(np.argmax(mask))


def show(value: object) -> str:
    """A data value as a message shows it: strings quoted, numbers plain, long text cut."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)  # shortest exact spelling; 5.0 as 5
        return str(int(x)) if x.is_integer() and abs(x) < 1e16 else repr(x)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return show(str(value))


def listing(items: list[str], sep: str = "; ") -> str:
    more = f"{sep}... and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return sep.join(items[:SHOWN]) + more


def names(columns: list[str]) -> str:
    return listing([f"`{c}`" for c in columns], ", ")


def pct(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def _floats(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype="float64", na_value=np.nan)


def _is_number_dtype(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)


# --- data contract ----------------------------------------------------------------------------

def check_columns(frame: pd.DataFrame, contract: Contract, target: str, allow_extra: bool,
                  exclude: frozenset[str] = frozenset()) -> Check:
    """Every contract column is in the data; no other column unless allow_extra (the target and
    the data.exclude columns are named by the spec, so they are known)."""
    if not contract:
        return Check("columns", True, "no data contract (data.columns is empty)", skipped=True)
    missing = [c for c in contract if c not in frame.columns]
    unknown = [] if allow_extra else [c for c in frame.columns if c not in contract and c != target and c not in exclude]
    problems = []
    if missing:
        problems.append(f"not in the data: {names(missing)}")
    if unknown:
        problems.append(f"not in the contract: {names(unknown)} "
                        "(add them to data.columns or set data.allow_extra = true)")
    details = {"missing": missing, "unknown": unknown}
    if problems:
        return Check("columns", False, listing(problems), details)
    return Check("columns", True, f"all {len(contract)} contract columns present", details)


def type_problems(series: pd.Series, ctype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(mask of present values that are not of `ctype`, values as float64 for int/float columns
    with the bad ones as NaN)."""
    none = np.zeros(len(series), dtype=bool)
    nested = profile.nested_mask(series)
    if nested is not None:  # lists or records (Parquet): no contract type holds them, no model reads them
        return nested, None
    if ctype not in ("int", "float", "bool", "datetime"):
        return none, None  # category and str hold any value (no null scan: it is the costly part)
    present = series.notna().to_numpy()
    is_bool = pd.api.types.is_bool_dtype(series.dtype)
    if ctype in ("int", "float"):
        if is_bool:
            return present, None
        if pd.api.types.is_integer_dtype(series.dtype):
            return none, _floats(series)
        values = _floats(series) if _is_number_dtype(series) else _floats(pd.to_numeric(series, errors="coerce"))
        bad = present & np.isnan(values)
        if ctype == "int":  # 3.0 is an int (a CSV int column with blanks reads as float); 3.5 and inf are not
            with np.errstate(invalid="ignore"):
                bad |= ~np.isnan(values) & ~(np.isfinite(values) & (values == np.trunc(values)))
        values = np.where(bad, np.nan, values)
        return bad, values
    if ctype == "bool":
        if is_bool:
            return none, None
        if _is_number_dtype(series):
            return present & ~np.isin(_floats(series), [0.0, 1.0]), None
        words = series.astype("string").str.strip().str.lower()
        return present & ~words.isin(BOOL_WORDS).fillna(False).to_numpy(dtype=bool), None
    if ctype == "datetime":
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return none, None
        if _is_number_dtype(series) or is_bool:
            return present, None
        with warnings.catch_warnings():  # "could not infer format": per-element parsing, still correct
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(series, errors="coerce")
        return present & parsed.isna().to_numpy(), None
    return none, None  # category and str hold any value


def check_types(frame: pd.DataFrame, contract: Contract) -> tuple[Check, dict[str, np.ndarray]]:
    """Values of the contract type; also returns the float values of int/float columns."""
    problems, details, numbers = [], {}, {}
    for name, spec in contract.items():
        if name not in frame.columns:
            continue
        series = frame[name]
        bad, values = type_problems(series, spec["type"])
        if values is not None:
            numbers[name] = values
        if bad.any():
            pos = first(bad)
            count = int(bad.sum())
            extra = f" ({rows(count)} in all)" if count > 1 else ""
            problems.append(f"column `{name}`: expected {spec['type']}, {row_of(pos)} has {show(series.iloc[pos])}{extra}")
            details[name] = {"expected": spec["type"], "rows": count, "first_row": pos + 1, "value": show(series.iloc[pos])}
    if not contract:
        return Check("types", True, "no data contract", skipped=True), numbers
    if problems:
        return Check("types", False, listing(problems), details, bad_input=True), numbers
    return Check("types", True, "every value has its contract type"), numbers


def check_ranges(frame: pd.DataFrame, contract: Contract, numbers: Mapping[str, np.ndarray]) -> Check:
    """min/max of int and float contract columns (values of the wrong type are left to `types`)."""
    bounded = {n: s for n, s in contract.items() if n in numbers and (s.get("min") is not None or s.get("max") is not None)}
    if not bounded:
        return Check("ranges", True, "no min/max in the contract", skipped=True)
    problems, details = [], {}
    for name, spec in bounded.items():
        values = numbers[name]
        for bound, label in (("min", "below"), ("max", "above")):
            limit = spec.get(bound)
            if limit is None:
                continue
            with np.errstate(invalid="ignore"):
                bad = values < limit if bound == "min" else values > limit
            if bad.any():
                pos, count = first(bad), int(bad.sum())
                problems.append(f"column `{name}`: {rows(count)} {label} {bound} {limit:g} "
                                f"(first: {row_of(pos)} has {show(frame[name].iloc[pos])})")
                details.setdefault(name, {})[bound] = {"limit": limit, "rows": count, "first_row": pos + 1}
    if problems:
        return Check("ranges", False, listing(problems), details)
    return Check("ranges", True, f"{count_of(len(bounded), 'column')} within min/max")


def _allowed_mask(series: pd.Series, allowed: list[Any]) -> np.ndarray:
    """Present values outside `allowed`; 1, 1.0 and "1" count as the same value."""
    bad = ~series.isin(allowed).to_numpy()
    if bad.any():  # nulls are not "outside": scan only the rows isin rejected
        bad[bad] = series[bad].notna().to_numpy()
    if bad.any():  # maybe the file read them with another type: compare their text
        keys = {drift.category_key(v) for v in allowed}
        candidates = series[bad]
        ok = [v for v in candidates.unique() if drift.category_key(v) in keys]
        if ok:
            bad[bad] = ~candidates.isin(ok).to_numpy()
    return bad


def check_values(frame: pd.DataFrame, contract: Contract) -> Check:
    """Columns with `values` hold nothing else."""
    listed = {n: s for n, s in contract.items() if n in frame.columns and s.get("values") is not None}
    if not listed:
        return Check("values", True, "no `values` lists in the contract", skipped=True)
    problems, details = [], {}
    for name, spec in listed.items():
        series = frame[name]
        bad = _allowed_mask(series, spec["values"])
        if bad.any():
            pos, count = first(bad), int(bad.sum())
            unexpected = series[bad].value_counts().index[:SHOWN]
            problems.append(f"column `{name}`: {rows(count)} not in the allowed values "
                            f"(first: {row_of(pos)} has {show(series.iloc[pos])}; "
                            f"unexpected: {', '.join(show(v) for v in unexpected)})")
            details[name] = {"rows": count, "first_row": pos + 1, "unexpected": [show(v) for v in unexpected]}
    if problems:
        return Check("values", False, listing(problems), details)
    return Check("values", True, f"{count_of(len(listed), 'column')} with only allowed values")


# --- data quality -----------------------------------------------------------------------------

def check_nulls(frame: pd.DataFrame, contract: Contract, target: str, max_fraction: float,
                features: frozenset[str] | None = None) -> Check:
    """Null share per feature column <= max_null_fraction (fail above, warn below: train imputes
    them); none at all in non-nullable contract columns. Columns left out of the features
    (`features` given) are only held to the contract."""
    counts = frame.isna().sum()
    n = len(frame)
    problems, details = [], {}
    for name, count in counts.items():
        if name == target or count == 0:
            continue
        if features is not None and name not in features and name not in contract:
            continue
        count = int(count)
        fraction = count / n
        details[name] = {"nulls": count, "fraction": fraction}
        strict = name in contract and not contract[name].get("nullable", False)
        if not strict and fraction <= max_fraction:
            continue
        pos = first(frame[name].isna().to_numpy())
        if strict:
            problems.append(f"column `{name}`: {count_of(count, 'missing value')} (first: {row_of(pos)}) "
                            "but the contract does not allow any (nullable = false)")
        else:
            problems.append(f"column `{name}`: {pct(fraction)} missing ({rows(count)}, first: {row_of(pos)}) "
                            f"> max_null_fraction {pct(max_fraction)}")
        details[name]["first_row"] = pos + 1
    if problems:
        return Check("nulls", False, listing(problems), details)
    worst = max(details.items(), key=lambda kv: kv[1]["fraction"], default=None)
    if worst is None:
        return Check("nulls", True, "no missing values", details)
    return Check("nulls", True, f"{count_of(len(details), 'column')} with missing values (train imputes them), "
                 f"all <= max_null_fraction {pct(max_fraction)}; most: `{worst[0]}` {pct(worst[1]['fraction'])}",
                 details, warning=True)


def numeric_features(frame: pd.DataFrame, contract: Contract, target: str) -> list[str]:
    """The feature columns train scales as numbers: int/float in the contract, else a numeric
    (not bool) dtype when the contract does not type the column (see pipeline.columns)."""
    return [c for c in frame.columns if c != target
            and (contract[c]["type"] in ("int", "float") if c in contract else _is_number_dtype(frame[c]))]


def check_finite(frame: pd.DataFrame, contract: Contract, target: str, numbers: Mapping[str, np.ndarray],
                 features: frozenset[str] | None = None) -> Check:
    """No +-inf in numeric feature columns: no model can fit them (NaN is a missing value: `nulls`).
    `features`: the columns the model reads (others, left out, cannot hurt it)."""
    columns = [c for c in numeric_features(frame, contract, target) if features is None or c in features]
    if not columns:
        return Check("finite", True, "no numeric feature columns", skipped=True)
    problems, details = [], {}
    for name in columns:
        series = frame[name]
        if name not in numbers and pd.api.types.is_integer_dtype(series.dtype):
            continue  # integers are always finite
        values = numbers[name] if name in numbers else _floats(series)  # contract types: wrong values are NaN
        bad = np.isinf(values)
        if bad.any():
            pos, count = first(bad), int(bad.sum())
            problems.append(f"column `{name}`: {count_of(count, 'infinite value')} "
                            f"(first: {row_of(pos)} has {show(values[pos])})")
            details[name] = {"rows": count, "first_row": pos + 1, "value": show(values[pos])}
        elif pipeline.overflows(values):  # finite, but train's scaling would turn them into NaN
            problems.append(pipeline.overflow_message(name, values))
            details[name] = {"overflow": True, "largest": float(np.nanmax(np.abs(values)))}
    if problems:
        return Check("finite", False, listing(problems), details)
    return Check("finite", True, f"no infinite or unscalably large values in {count_of(len(columns), 'numeric feature column')}")


def check_min_rows(n: int, min_rows: int) -> Check:
    if n < min_rows:
        return Check("min_rows", False, f"{rows(n)} < min_rows {min_rows:,}", {"rows": n, "min_rows": min_rows})
    return Check("min_rows", True, f"{rows(n)} >= min_rows {min_rows:,}", {"rows": n, "min_rows": min_rows})


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One uint64 per row over all its values: equal rows, equal hashes (collisions: ~n²/2⁶⁵)."""
    return data.hash_rows(frame)


def check_duplicates(hashes: np.ndarray, max_fraction: float) -> Check:
    """Share of rows that repeat an earlier row <= max_duplicate_fraction."""
    dup = pd.Series(hashes).duplicated(keep="first").to_numpy()
    count, n = int(dup.sum()), len(hashes)
    fraction = count / n
    details: dict[str, Any] = {"rows": count, "fraction": fraction, "max_fraction": max_fraction}
    where = ""
    if count:
        pos = first(dup)
        original = first(hashes == hashes[pos])
        where = f"; first: {row_of(pos)} repeats {row_of(original)}"
        details["first_row"] = pos + 1
    verdict = f"{count_of(count, 'duplicate row')} ({pct(fraction)})"
    if fraction > max_fraction:
        return Check("duplicates", False, f"{verdict} > max_duplicate_fraction {pct(max_fraction)}{where}", details)
    if not count:
        return Check("duplicates", True, "no repeated rows", details)
    return Check("duplicates", True, f"{verdict} <= max_duplicate_fraction {pct(max_fraction)}{where}; "
                 "the split keeps equal rows on one side", details, warning=True)


def check_target(y: pd.Series, task: str, dropped: str | None = None) -> Check:
    """Classification: >= 2 classes, each with >= 2 rows. Regression: finite numbers, not constant.
    `dropped`: what data.load_training says about rows left out for a missing target (a warning)."""
    result = _target(y, task)
    if dropped is None or not result.passed:
        return result
    return Check("target", True, f"{result.message}; {dropped}", result.details, warning=True)


def check_split_classes(frame: pd.DataFrame, settings: Mapping[str, Any], target_check: Check) -> Check:
    """A split by group or time can hold out classes the training split never shows (the latest
    rows, or whole groups, of one class): the model could not predict them and its metrics would
    mislead. The random split is stratified, so it never does; only group/time splits are checked."""
    d = settings["data"]
    how = d.get("split") or {}
    if d["task"] != "classification" or not target_check.passed or not (how.get("group") or how.get("time")):
        return target_check
    try:
        parts = data.split_positions(frame, dict(settings))
    except (ValueError, BadInput):
        return target_check  # the leakage check reports a split that cannot be made
    y = frame[d["target"]]
    trained = set(y.iloc[parts.train].unique())
    unseen = y.iloc[parts.test][~y.iloc[parts.test].isin(trained)].value_counts()
    if unseen.empty:
        return target_check
    by = f"`{how['time']}` (time)" if how.get("time") else f"`{how['group']}` (group)"
    items = [f"{show(k)} ({rows(int(n))})" for k, n in unseen.head(SHOWN).items()]
    more = f" and {len(unseen) - SHOWN} more" if len(unseen) > SHOWN else ""
    details = {**target_check.details, "unseen_classes": [drift.category_key(k) for k in unseen.index[:100]]}
    return Check("target", False, f"target `{d['target']}`: the split by {by} holds out "
                 f"{len(unseen)} {'class' if len(unseen) == 1 else 'classes'} the training split never shows: {', '.join(items)}{more}; "
                 "the model cannot learn them (split differently, or leave those rows out)", details)


def _target(y: pd.Series, task: str) -> Check:
    name = y.name
    if task == "classification":
        if pd.api.types.is_float_dtype(y.dtype):
            values = _floats(y)
            fractional = values != np.trunc(values)
            if fractional.any():
                pos = first(fractional)
                return Check("target", False, f"target `{name}` has continuous values ({row_of(pos)} has "
                             f"{show(y.iloc[pos])}); a continuous target needs a regressor as train.estimator "
                             "(the task follows the estimator)", {"task": task})
        counts = y.value_counts(sort=True)
        # the 100 largest classes are enough to see the balance; a float target may have thousands
        classes = {drift.category_key(k): int(v) for k, v in counts.head(100).items()}
        details: dict[str, Any] = {"task": task, "class_count": len(counts), "classes": classes}
        if len(counts) < 2:
            return Check("target", False, f"target `{name}` has a single class ({show(counts.index[0])}); "
                         "classification needs at least 2", details)
        rare = counts[counts < 2]
        if len(rare):
            items = [f"{show(k)} ({row_of(first((y == k).to_numpy()))})" for k in rare.index[:SHOWN]]
            more = f" and {len(rare) - SHOWN} more" if len(rare) > SHOWN else ""
            return Check("target", False, f"target `{name}`: every class needs at least 2 rows; "
                         f"{len(rare)} {'class has' if len(rare) == 1 else 'classes have'} 1: "
                         f"{', '.join(items)}{more}", details)
        return Check("target", True, f"{len(counts)} classes; the smallest, {show(counts.index[-1])}, "
                     f"has {rows(int(counts.iloc[-1]))}", details)
    values = _floats(y) if _is_number_dtype(y) else _floats(pd.to_numeric(y, errors="coerce"))
    bad = np.isnan(values) & y.notna().to_numpy()
    if bad.any() or pd.api.types.is_bool_dtype(y.dtype):
        pos = first(bad) if bad.any() else 0
        return Check("target", False, f"target `{name}`: expected numbers for regression, {row_of(pos)} has "
                     f"{show(y.iloc[pos])}", {"task": task})
    infinite = np.isinf(values)
    if infinite.any():
        pos = first(infinite)
        return Check("target", False, f"target `{name}`: {count_of(int(infinite.sum()), 'infinite value')} "
                     f"(first: {row_of(pos)} has {show(values[pos])})", {"task": task})
    lo, hi = float(values.min()), float(values.max())
    details = {"task": task, "min": lo, "max": hi}
    if lo == hi:
        return Check("target", False, f"target `{name}` is constant ({show(lo)}); nothing to learn", details)
    return Check("target", True, f"numeric, finite, from {show(lo)} to {show(hi)}", details)


def check_leakage(frame: pd.DataFrame, settings: Mapping[str, Any], max_fraction: float) -> Check:
    """Share of held-out rows whose features (what the model reads) also occur in the training
    split <= max_overlap_fraction. The shared split keeps equal rows together, so this is 0 by
    construction unless the split is by time: there identical rows at different times are
    recurrences, not copies (the future repeating the past), and they warn instead."""
    try:
        parts = data.split_positions(frame, dict(settings))
    except (ValueError, BadInput) as exc:
        return Check("leakage", False, f"cannot split the data into train and test: {exc}")
    keys = parts.keys if parts.keys is not None else data.feature_keys(frame, dict(settings))
    train_keys, test_keys = keys[parts.train], keys[parts.test]
    shared = pd.Series(test_keys).isin(pd.Index(train_keys)).to_numpy()  # hashed: faster than np.isin's sort
    count, n = int(shared.sum()), len(test_keys)
    fraction = count / n if n else 0.0
    by_time = parts.how.get("method") == "time"
    details: dict[str, Any] = {"rows": count, "test_rows": n, "fraction": fraction, "max_fraction": max_fraction,
                               "split": parts.how}
    where = ""
    if count:
        rows_in_file = frame.index.to_numpy()  # positions in the file (rows without a target are left out)
        mine = parts.test[shared]
        pos = int(mine[np.argmin(rows_in_file[mine])])
        twin = int(parts.train[first(train_keys == keys[pos])])
        where = f"; first: held-out {row_of(int(rows_in_file[pos]))} equals training {row_of(int(rows_in_file[twin]))}"
        details["first_row"] = int(rows_in_file[pos]) + 1
    verdict = f"{count:,} of {n:,} held-out rows ({pct(fraction)}) have features that also occur in the training split"
    if by_time and count:
        return Check("leakage", True, f"{verdict}, at an earlier time (split by `{parts.how['time']}`: recurrences, "
                     f"not copies){where}", details, warning=True)
    if fraction > max_fraction:
        return Check("leakage", False, f"{verdict} > max_overlap_fraction {pct(max_fraction)}{where}", details)
    return Check("leakage", True, f"{verdict} <= max_overlap_fraction {pct(max_fraction)}{where}", details)


def check_features(prof: profile.Profile) -> Check:
    """What the model will read; a warning for each column left out that the spec did not name."""
    kinds = {k: prof.names(k) for k in (*profile.FEATURE_KINDS, *profile.LEFT_OUT_KINDS)}
    details: dict[str, Any] = {k: list(v) for k, v in kinds.items() if v}
    details["why"] = {c.name: c.why for c in prof.columns if c.kind not in ("numeric", "categorical")}
    parts = [f"{len(kinds[k])} {label}" for k, label in (("numeric", "numeric"), ("categorical", "categorical"),
                                                          ("datetime", "date/time")) if kinds[k]]
    if not prof.features:
        return Check("features", False, "no usable feature columns: " + (listing(list(prof.warnings)) or
                     "every column is the target or excluded"), details)
    head = f"{count_of(len(prof.features), 'feature column')} ({', '.join(parts)})"
    if kinds["excluded"]:
        head += f"; excluded: {names(list(kinds['excluded']))}"
    if prof.warnings:
        return Check("features", True, f"{head}; {listing(list(prof.warnings))}", details, warning=True)
    return Check("features", True, head, details)


def check_drift(frame: pd.DataFrame, reference: pd.DataFrame | None, settings: Mapping[str, Any]) -> Check:
    """No column drifted between the reference and the training data."""
    config = settings["validate"].get("drift")
    if config is None or reference is None:
        return Check("drift", True, "no validate.drift in the spec", skipped=True)
    method, threshold = drift.settings_drift(config)
    kinds = drift.column_kinds(reference, settings["data"]["columns"])
    columns = drift.column_drift(reference, frame, method, threshold, kinds)
    result = drift.summary(columns, method, threshold)
    result["reference"] = settings["data"]["reference"]
    result["not_in_reference"] = [c for c in frame.columns if c not in reference.columns]
    result["not_in_data"] = [c for c in reference.columns if c not in frame.columns]
    rule = f"p < {threshold:g}" if method != "psi" else f"PSI > {threshold:g}"
    skipped = drift.not_compared(columns)
    unseen = [f"{names(result['not_in_reference'])} (not in the reference)"] if result["not_in_reference"] else []
    unseen += [f"`{c}` ({why})" for c, why in skipped.items()]
    # the columns that were not compared are part of the verdict: "no drift" says nothing about them
    not_seen = f"; not compared: {listing(unseen)}" if unseen else ""
    drifted = result["drifted_columns"]
    if drifted:
        items = [f"`{c}` ({columns[c]['test']} {_stat(columns[c])})" for c in drifted]
        return Check("drift", False, f"{len(drifted)} of {len(columns)} columns drifted from the reference "
                     f"({rule}): {listing(items, ', ')}{not_seen}", result)
    compared = len(columns) - len(skipped)
    if compared == 0:
        return Check("drift", False, f"no column could be compared with the reference{not_seen}", result)
    return Check("drift", True, f"no drift in {count_of(compared, 'column')} ({method}, drift when {rule}){not_seen}",
                 result)


def _stat(r: Mapping[str, Any]) -> str:
    return f"PSI {r['statistic']:.3g}" if r["test"] == "psi" else f"p = {r['p_value']:.3g}"


# --- the stage --------------------------------------------------------------------------------

def validate_frame(frame: pd.DataFrame, settings: Mapping[str, Any], reference: pd.DataFrame | None = None,
                   training: data.Training | None = None) -> list[Check]:
    """Every check on the training data, in report order. Pure: no I/O. `frame` is the whole
    file; `training` (data.load_training) says which rows have a target (all, when None)."""
    d, v = settings["data"], settings["validate"]
    contract: Contract = d.get("columns") or {}
    target = d["target"]
    training = training or data.with_target(frame, target)
    kept = training.frame
    prof = profile.of_settings(kept, settings)
    types, numbers = check_types(frame, contract)
    checks = [
        check_columns(frame, contract, target, bool(d.get("allow_extra")), frozenset(d.get("exclude") or ())),
        types,
        check_ranges(frame, contract, numbers),
        check_values(frame, contract),
        check_nulls(frame, contract, target, float(v["max_null_fraction"]), frozenset(prof.features)),
        check_finite(frame, contract, target, numbers, frozenset(prof.features)),
        check_min_rows(len(kept), int(v["min_rows"])),
        check_duplicates(row_hashes(frame), float(v["max_duplicate_fraction"])),
        check_split_classes(kept, settings, check_target(kept[target], d["task"], training.note(target))),
        check_features(prof),
        check_leakage(kept, settings, float(v["max_overlap_fraction"])),
        check_drift(kept, reference, settings),
    ]
    return [strict(c) for c in checks] if v.get("strict") else checks


def report(checks: list[Check], source: str, shape: tuple[int, int] | None,
           dropped: int = 0) -> dict[str, Any]:
    """`shape` None: the data could not be read (see `unusable`). `dropped`: rows left out for a
    missing target."""
    failed = [c.name for c in checks if not c.passed]
    warned = [c.name for c in checks if c.status == "warn"]
    rows_, cols = shape if shape is not None else (None, None)
    return {"passed": not failed, "failed": failed, "warnings": warned,
            "data": {"path": source, "rows": rows_, "columns": cols, "missing_target_rows": dropped},
            "checks": [c.to_json() for c in checks]}


def markdown(result: Mapping[str, Any]) -> str:
    checks = result["checks"]
    failed = result["failed"]
    src = result["data"]
    if src["rows"] is None:
        head, size = "❌ the data cannot be used", ""
    else:
        warned = result.get("warnings") or []
        head = "✅ all checks passed" if not failed else f"❌ {len(failed)} of {len(checks)} checks failed"
        if warned:
            head += f", {count_of(len(warned), 'warning')}"
        size = f" · {src['rows']:,} rows × {src['columns']} columns"
        if src.get("missing_target_rows"):
            size += f" · {rows(src['missing_target_rows'])} without a target left out"
    lines = ["# Data validation", "",
             f"{bold(head)} · {code(src['path'], cell=False)}{size}", "",
             table(["Check", "Result", "Details"],
                   [[code(c["name"]), status(c["passed"], c["skipped"], c.get("status") == "warn"), inline(c["message"])]
                    for c in checks], "lll")]
    d = next(c for c in checks if c["name"] == "drift")
    if not d["skipped"]:
        info = d["details"]
        lines += [f"## Drift vs {code(info['reference'], cell=False)}", "",
                  escape(f"{info['method']}, threshold {info['threshold']:g}: "
                         f"{len(info['drifted_columns'])} of {len(info['columns'])} columns drifted."), "",
                  drift.markdown_table(info["columns"])]
        for key, label in (("not_in_reference", "Not in the reference"), ("not_in_data", "Not in the data")):
            if info[key]:
                lines += [Md(f"{label}: " + ", ".join(code(c, cell=False) for c in info[key])), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def junit_cases(checks: list[Check]) -> list[Case]:
    return [Case(name=c.name, classname=SUITE, passed=c.passed, message=c.message, skipped=c.skipped,
                 warning=c.status == "warn") for c in checks]


def load(ctx: Context) -> tuple[data.Training, pd.DataFrame | None]:
    """The training data and the drift reference (None without validate.drift); BadInput when unusable."""
    settings = ctx.settings
    frame = data.load_training(settings, ctx.root)
    if settings["validate"].get("drift") is None:
        return frame, None
    ref_path = settings["data"].get("reference")
    if not ref_path:
        raise BadInput("validate.drift is set but data.reference is not; run `mlgen compile`")
    reference = data.load_frame(ctx.path(ref_path), ref_path)
    if len(reference) == 0:  # a header alone: every column would "not drift"
        raise BadInput(f"{ref_path}: data.reference has no rows; drift needs a sample to compare with")
    return frame, reference


def unusable(message: str) -> list[Check]:
    """What the reports say when the data cannot be checked at all: the `data` case fails with
    the reason, every check is skipped."""
    return [Check("data", False, message, bad_input=True),
            *(Check(name, True, "not run: the data cannot be used", skipped=True) for name in CHECKS)]


def write_reports(out: Path, checks: list[Check], source: str, shape: tuple[int, int] | None,
                  dropped: int = 0) -> None:
    """report.md and junit.xml always; validation.json only when the checks ran (no stale one stays)."""
    result = report(checks, source, shape, dropped)
    if shape is None:
        (out / "validation.json").unlink(missing_ok=True)
    else:
        write_json(out / "validation.json", result)
    md.write_report(out, markdown(result))  # bounded for a PR/MR comment (report-full.md: all of it)
    write_junit(out / "junit.xml", SUITE, junit_cases(checks))


def run(ctx: Context, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    settings = ctx.settings
    source = settings["data"]["path"]
    out = ctx.out("validate")
    try:
        training, reference = load(ctx)
    except BadInput as exc:  # no target, unreadable file, empty reference...: the job artifact still says so
        write_reports(out, unusable(str(exc)), source, None)
        raise
    frame = training.raw
    checks = validate_frame(frame, settings, reference, training)
    write_reports(out, checks, source, frame.shape, training.dropped)

    print(f"validate: {source}: {rows(len(frame))} x {frame.shape[1]} columns")
    for c in checks:
        print(f"  {c.status.upper()}  {c.name:<10}  {c.message}")
    failed = [c for c in checks if not c.passed]
    warned = sum(1 for c in checks if c.status == "warn")
    print(f"validate: {len(checks) - len(failed)} of {len(checks)} checks passed"
          + (f" ({count_of(warned, 'warning')})" if warned else "")
          + f" in {time.perf_counter() - started:.1f}s; reports in {out.relative_to(ctx.root).as_posix()}/")
    mistyped = next((c for c in failed if c.bad_input), None)
    if mistyped:
        raise BadInput(f"{source}: {mistyped.message}")
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(checks)} checks failed: {', '.join(c.name for c in failed)}")
    return 0
