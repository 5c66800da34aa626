"""Live metrics: the logged predictions that got feedback, scored against evaluate's absolute gates.

Only `min`/`max` bounds apply (`max_drop` compares two models on the same held-out data, which
live traffic is not). Scored on the rows of the newest model version in the window (the one
serving now: older versions' errors are not a reason to retrain the current one). The log keeps
no probabilities, so metrics that need them (roc_auc, log_loss) are reported as not computable
and skipped; so is every gate when fewer than `min_rows` predictions got a label. Only a gate
that was computed and is out of bounds fails: a live gate never retrains by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mlgen_runtime import gates, metrics
from mlgen_runtime.monitor_log import LABEL, PREDICTION, VERSION


def absolute_gates(settings: Mapping[str, Any]) -> dict[str, dict[str, float | None]]:
    """evaluate.gates with only their min/max bounds (gates with neither are left out)."""
    out = {}
    for metric, gate in (settings["evaluate"].get("gates") or {}).items():
        bounds = {k: gate.get(k) for k in ("min", "max") if gate.get(k) is not None}
        if bounds:
            out[metric] = bounds
    return out


def _predictions(joined: pd.DataFrame, task: str) -> tuple[np.ndarray, metrics.Predictions]:
    y_true = joined[LABEL].to_numpy()
    y_pred = joined[PREDICTION].to_numpy()
    if task != "classification":
        return y_true.astype("float64"), metrics.Predictions(y_pred.astype("float64"), None, None, None)
    classes = np.unique(np.concatenate([y_true, y_pred]))
    return y_true, metrics.Predictions(y_pred, None, None, classes)


def check(joined: pd.DataFrame, settings: Mapping[str, Any], min_rows: int) -> dict[str, Any]:
    """The live result: rows scored, model version, metric values, gate verdicts, skipped gates."""
    bounds = absolute_gates(settings)
    out: dict[str, Any] = {"rows": 0, "model_version": None, "metrics": {}, "gates": [], "failed": [],
                           "skipped": {}, "labelled_rows": int(len(joined))}
    if not bounds:
        out["note"] = "evaluate.gates has no min/max bound to check live"
        return out
    if len(joined):
        version = joined[VERSION].dropna().max() if VERSION in joined.columns else None
        if version is not None and not pd.isna(version):
            out["model_version"] = int(version)
            joined = joined[joined[VERSION] == version]
    out["rows"] = int(len(joined))
    if len(joined) < min_rows:
        note = f"{len(joined)} predictions with feedback, fewer than monitor.min_rows = {min_rows}"
        out["skipped"] = {m: note for m in sorted(bounds)}
        return out
    task = str(settings["data"]["task"])
    y_true, p = _predictions(joined, task)
    values, notes = metrics.compute(sorted(bounds), task, y_true, p)
    out["metrics"] = values
    computed = {m: b for m, b in bounds.items() if values.get(m) is not None}
    out["skipped"] = {m: f"not computable from the log: {notes.get(m, 'no value')}"
                      for m in sorted(bounds) if m not in computed}
    verdicts = gates.check(computed, values)
    out["gates"] = [{**v.as_dict(), "text": gates.describe(v)} for v in verdicts]
    out["failed"] = [v.name for v in verdicts if not v.passed]
    return out
