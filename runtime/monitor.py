"""The `monitor` stage: the scheduled drift check of production data against the reference.

Compares `monitor.data` with `data.reference` (or, without one, the training data), column by
column, with `monitor.drift`, else `validate.drift`, else PSI > 0.2. The monitored data may lack
the target column; the columns it shares with the reference are compared.

Writes `.mlgen/out/monitor/`: drift.json, report.md, junit.xml (one case per column) and
`drifted`, one word, `true` or `false` followed by a newline, which the pipeline reads to decide
whether to retrain. Exit 0 whether or not the data drifted (the file is the result); exit 2 when
the data cannot be read or the spec has no [monitor] section.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

import pandas as pd

from mlgen_runtime import data, drift
from mlgen_runtime.context import Context
from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import write_json, write_text_atomic
from mlgen_runtime.junit import Case, write_junit
from mlgen_runtime.report_md import Md, bold, code, escape

SUITE = "mlgen.monitor"
DRIFTED_FILE = "drifted"


def drift_settings(settings: Mapping[str, Any]) -> tuple[str, float]:
    """monitor.drift, else validate.drift, else psi / 0.2."""
    return drift.settings_drift((settings.get("monitor") or {}).get("drift"), settings["validate"].get("drift"))


def reference_source(settings: Mapping[str, Any]) -> str:
    return settings["data"].get("reference") or settings["data"]["path"]


def check(reference: pd.DataFrame, current: pd.DataFrame, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The drift result of `current` against `reference` (pure: no I/O)."""
    method, threshold = drift_settings(settings)
    kinds = drift.column_kinds(reference, settings["data"].get("columns"))
    columns = drift.column_drift(reference, current, method, threshold, kinds)
    result = drift.summary(columns, method, threshold)
    target = settings["data"]["target"]
    # a reference column absent from production data (the target aside) is worth a look, not a retrain
    result["missing_columns"] = [c for c in reference.columns if c not in current.columns and c != target]
    result["new_columns"] = [c for c in current.columns if c not in reference.columns]
    return result


def markdown(result: Mapping[str, Any]) -> str:
    cols = result["columns"]
    n_drift = len(result["drifted_columns"])
    rule = f"PSI > {result['threshold']:g}" if result["method"] == "psi" else f"p < {result['threshold']:g}"
    head = (f"⚠️ drift in {n_drift} of {len(cols)} columns" if result["drifted"]
            else f"✅ no drift in {len(cols)} columns")
    lines = ["# Drift check", "",
             f"{bold(head)} · {code(result['current'], cell=False)} ({result['current_rows']:,} rows) vs "
             f"{code(result['reference'], cell=False)} ({result['reference_rows']:,} rows)", "",
             escape(f"{result['method']}: a column drifted when {rule}."), "",
             drift.markdown_table(cols)]
    for key, label in (("missing_columns", "Missing from the monitored data"), ("new_columns", "Not in the reference")):
        if result[key]:
            lines += [Md(f"{label}: " + ", ".join(code(c, cell=False) for c in result[key])), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def junit_cases(result: Mapping[str, Any]) -> list[Case]:
    cases = []
    for name, r in result["columns"].items():
        if r["test"] is None:
            cases.append(Case(f"drift[{name}]", SUITE, True, r.get("note", ""), skipped=True))
            continue
        value = f"PSI {r['statistic']:.4g}" if r["test"] == "psi" else f"p = {r['p_value']:.4g}"
        verdict = "drifted" if r["drifted"] else "no drift"
        cases.append(Case(f"drift[{name}]", SUITE, not r["drifted"], f"{r['test']}: {value}: {verdict}"))
    missing = result["missing_columns"]
    cases.append(Case("columns", SUITE, not missing,
                      f"missing from the monitored data: {', '.join(missing)}" if missing else "all reference columns present"))
    return cases


def run(ctx: Context, args: argparse.Namespace) -> int:
    settings = ctx.settings
    monitor = settings.get("monitor")
    if not monitor:
        raise BadInput("the spec has no [monitor] section; add one with `data` and `schedule`")
    current_path = monitor["data"]
    current = data.load_frame(ctx.path(current_path), current_path)
    ref_path = reference_source(settings)
    reference = data.load_frame(ctx.path(ref_path), ref_path)
    for frame, path in ((reference, ref_path), (current, current_path)):
        if len(frame) == 0:  # nothing to compare with: "no drift" would be a false all-clear
            raise BadInput(f"{path} has no rows; the drift check needs data on both sides")
    if not any(c in current.columns for c in reference.columns):
        raise BadInput(f"{current_path}: no column in common with {ref_path}; columns: {', '.join(current.columns[:20])}")

    result = check(reference, current, settings)
    result.update(current=current_path, current_rows=len(current), reference=ref_path, reference_rows=len(reference))

    out = ctx.out("monitor")
    write_json(out / "drift.json", result)
    write_text_atomic(out / "report.md", markdown(result))
    write_junit(out / "junit.xml", SUITE, junit_cases(result))
    write_text_atomic(out / DRIFTED_FILE, "true\n" if result["drifted"] else "false\n")

    cols = result["columns"]
    print(f"monitor: {current_path} ({len(current):,} rows) vs {ref_path} ({len(reference):,} rows), "
          f"{result['method']} threshold {result['threshold']:g}")
    for name in result["drifted_columns"]:
        r = cols[name]
        print(f"  DRIFT  {name}: {r['test']} statistic {r['statistic']:.4g}"
              + (f", p = {r['p_value']:.3g}" if r["p_value"] is not None else "")
              + (f" ({r['note']})" if r.get("note") else ""))
    if result["missing_columns"]:
        print(f"  warning: missing from the monitored data: {', '.join(result['missing_columns'])}")
    verdict = "true" if result["drifted"] else "false"
    print(f"monitor: drifted={verdict} ({len(result['drifted_columns'])} of {len(cols)} columns); "
          f"written to {(out / DRIFTED_FILE).relative_to(ctx.root).as_posix()}")
    return 0
