"""Validation of one in-memory frame with the same contract checks by each contender, interleaved
in one process (so every contender sees the same libraries and the same data).

`validate_worker.py --rows N --reps R --contenders mlgen,numpy[,pandera,mlgen-all] [--runtime-path DIR]`
prints {"times": {name: [seconds...]}, "passed": {name: bool}, "versions": {...}}.

The checks: the columns are exactly the contract's (plus the target), types, min/max, allowed
values, no missing values in non-nullable columns, at most 5% missing anywhere. `mlgen-all`
is the whole `validate` stage (adds duplicates, target sanity and train/test leakage).
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import datagen  # noqa: E402
from contract import MAX_NULL_FRACTION, TARGET, contract  # noqa: E402

CONTRACT = contract()
MIN_ROWS = 1000


def mlgen_checks() -> Callable[[pd.DataFrame], bool]:
    from mlgen_runtime import validate as v

    def check(frame: pd.DataFrame) -> bool:
        types, numbers = v.check_types(frame, CONTRACT)
        checks = [v.check_columns(frame, CONTRACT, TARGET, False), types, v.check_ranges(frame, CONTRACT, numbers),
                  v.check_values(frame, CONTRACT), v.check_nulls(frame, CONTRACT, TARGET, MAX_NULL_FRACTION),
                  v.check_min_rows(len(frame), MIN_ROWS)]
        return all(c.passed for c in checks)
    return check


def mlgen_all() -> Callable[[pd.DataFrame], bool]:
    from mlgen_runtime import validate as v

    settings = {"project": {"seed": 42},
                "data": {"target": TARGET, "task": "classification", "test_size": 0.2, "columns": CONTRACT},
                "validate": {"min_rows": MIN_ROWS, "max_null_fraction": MAX_NULL_FRACTION,
                             "max_duplicate_fraction": 0.01, "max_overlap_fraction": 0.01}}
    return lambda frame: all(c.passed for c in v.validate_frame(frame, settings))


def pandera_checks() -> Callable[[pd.DataFrame], bool]:
    import pandera.pandas as pa

    cols = {}
    for name, spec in CONTRACT.items():
        if spec["type"] == "category":  # mlgen checks no type for categories either: only the values
            cols[name] = pa.Column(None, pa.Check.isin(spec["values"]), nullable=spec["nullable"])
        else:
            cols[name] = pa.Column(float if spec["type"] == "float" else int,
                                   pa.Check.in_range(spec["min"], spec["max"]), nullable=spec["nullable"])
    cols[TARGET] = pa.Column(int)
    schema = pa.DataFrameSchema(cols, strict=True, checks=[
        pa.Check(lambda df: bool((df.isna().mean() <= MAX_NULL_FRACTION).all()), name="max_null_fraction"),
        pa.Check(lambda df: len(df) >= MIN_ROWS, name="min_rows"),
    ])

    def check(frame: pd.DataFrame) -> bool:
        try:
            schema.validate(frame, lazy=True)
            return True
        except pa.errors.SchemaErrors:
            return False
    return check


def numpy_checks(frame: pd.DataFrame) -> bool:
    """The same checks written directly against the column arrays."""
    ok = list(frame.columns) == list(CONTRACT) + [TARGET] and len(frame) >= MIN_ROWS
    n = len(frame)
    for name, spec in CONTRACT.items():
        a = frame[name].to_numpy()
        if spec["type"] == "category":
            missing = np.asarray(pd.isna(a)) if a.dtype == object else np.zeros(n, bool)
            allowed = np.zeros(n, bool)
            for value in spec["values"]:
                allowed |= a == value
            ok &= bool((allowed | missing).all())
        else:
            ok &= a.dtype.kind in ("f" if spec["type"] == "float" else "iu") or (spec["type"] == "float" and a.dtype.kind in "iu")
            missing = np.isnan(a) if a.dtype.kind == "f" else np.zeros(n, bool)
            present = a[~missing] if missing.any() else a
            ok &= bool(present.min() >= spec["min"]) and bool(present.max() <= spec["max"])
        nulls = int(missing.sum())
        ok &= nulls <= MAX_NULL_FRACTION * n and (spec["nullable"] or nulls == 0)
    return bool(ok)


FACTORIES: dict[str, Callable[[], Callable[[pd.DataFrame], bool]]] = {
    "mlgen": mlgen_checks, "mlgen-all": mlgen_all, "pandera": pandera_checks, "numpy": lambda: numpy_checks,
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--reps", type=int, required=True)
    p.add_argument("--contenders", required=True)
    p.add_argument("--runtime-path", help="a folder holding the mlgen_runtime package")
    a = p.parse_args()
    if a.runtime_path:
        sys.path.insert(0, a.runtime_path)
    names = a.contenders.split(",")
    checks = {n: FACTORIES[n]() for n in names}
    frame = datagen.frame(a.rows, seed=7)
    passed = {n: fn(frame) for n, fn in checks.items()}  # warm-up: imports, caches
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(a.reps):
        for n, fn in checks.items():
            gc.collect()
            t0 = time.perf_counter()
            fn(frame)
            times[n].append(time.perf_counter() - t0)
    versions = {k: importlib.metadata.version(k) for k in ("numpy", "pandas")}
    if "pandera" in names:
        versions["pandera"] = importlib.metadata.version("pandera")
    print(json.dumps({"times": times, "passed": passed, "versions": versions}))


if __name__ == "__main__":
    main()
