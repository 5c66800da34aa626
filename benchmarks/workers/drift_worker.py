"""Drift of a drifted sample against a reference, column by column, by each contender,
interleaved in one process.

`drift_worker.py --rows N --reps R --method psi|ks --contenders mlgen[,evidently] [--runtime-path DIR]`
prints {"times": {name: [seconds...]}, "verdicts": {name: {column: drifted}}, "columns": [...]}.

Both get the same test and threshold: psi with PSI > 0.2 (mlgen's default), or ks
for numbers and chi-squared for categories with p < 0.05. Both get the column kinds from the
contract (Evidently through a DataDefinition), and all 20 columns.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import datagen  # noqa: E402
from contract import CATEGORIES, COLUMNS, FLOATS, INTS, TARGET, contract  # noqa: E402

THRESHOLDS = {"psi": 0.2, "ks": 0.05}
Verdicts = dict[str, bool]


def mlgen_drift(method: str) -> Callable[[pd.DataFrame, pd.DataFrame], Verdicts]:
    from mlgen_runtime import drift

    def run(ref: pd.DataFrame, cur: pd.DataFrame) -> Verdicts:
        kinds = drift.column_kinds(ref, contract())
        columns = drift.column_drift(ref, cur, method, THRESHOLDS[method], kinds)
        drift.summary(columns, method, THRESHOLDS[method])
        return {c: bool(r["drifted"]) for c, r in columns.items()}
    return run


def evidently_drift(method: str) -> Callable[[pd.DataFrame, pd.DataFrame], Verdicts]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=FLOATS + list(INTS) + [TARGET], categorical_columns=list(CATEGORIES))
    if method == "psi":
        preset = DataDriftPreset(method="psi", threshold=THRESHOLDS["psi"])
    else:
        preset = DataDriftPreset(num_method="ks", cat_method="chisquare", threshold=THRESHOLDS["ks"])

    def run(ref: pd.DataFrame, cur: pd.DataFrame) -> Verdicts:
        snapshot = Report([preset], include_tests=True).run(
            current_data=Dataset.from_pandas(cur, data_definition=definition),
            reference_data=Dataset.from_pandas(ref, data_definition=definition))
        # one "Value Drift for column X" test per column; FAIL = drift detected
        return {t.metric_config.params["column"]: t.status.value == "FAIL"
                for t in snapshot.tests_results if "column" in t.metric_config.params}
    return run


FACTORIES = {"mlgen": mlgen_drift, "evidently": evidently_drift}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--reps", type=int, required=True)
    p.add_argument("--method", choices=list(THRESHOLDS), required=True)
    p.add_argument("--contenders", required=True)
    p.add_argument("--runtime-path", help="a folder holding the mlgen_runtime package")
    a = p.parse_args()
    if a.runtime_path:
        sys.path.insert(0, a.runtime_path)
    names = a.contenders.split(",")
    fns = {n: FACTORIES[n](a.method) for n in names}
    ref = datagen.frame(a.rows, seed=11)
    cur = datagen.frame(a.rows, seed=12, drifted=True)
    verdicts = {n: fn(ref, cur) for n, fn in fns.items()}  # warm-up: imports, caches
    times: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(a.reps):
        for n, fn in fns.items():
            gc.collect()
            t0 = time.perf_counter()
            fn(ref, cur)
            times[n].append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "verdicts": verdicts, "columns": COLUMNS}))


if __name__ == "__main__":
    main()
