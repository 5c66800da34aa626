"""The `monitor` stage: the scheduled drift check of production data against the reference.

Compares `monitor.data` with `data.reference` (or, without one, the training data), column by
column, with `monitor.drift`, else `validate.drift`, else PSI > 0.2. The monitored data may lack
the target column; the columns it shares with the reference are compared.

Writes `.mlgen/out/monitor/`: drift.json, report.md, junit.xml (one case per column) and
`drifted`, one word, `true` or `false` followed by a newline, which the pipeline reads to decide
whether to retrain. Exit 0 whether or not the data drifted (the file is the result); exit 2 when
the data cannot be read or the spec has no [monitor] section.

`monitor.data` may also be the prediction log of `mlgen serve` (a folder or a glob: see
monitor_log.py): then drift is measured on the recent window of logged requests (the reserved
`mlgen_` columns dropped), predictions that got feedback are scored against evaluate's `min`/`max`
gates (monitor_live.py), and `drifted` is `true` when the data drifted OR a live gate failed;
drift.json's `retrain` and `reasons` say which. A window with fewer than `monitor.min_rows` rows is
a "not enough traffic" result: exit 0, `drifted` false, no verdict either way.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

import pandas as pd

from mlgen_runtime import data, drift, monitor_live, monitor_log
from mlgen_runtime.context import Context
from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import write_json, write_text_atomic
from mlgen_runtime.junit import Case, write_junit
from mlgen_runtime.report_md import Md, bold, code, escape

SUITE = "mlgen.monitor"
DRIFTED_FILE = "drifted"
# defaults of [monitor] window_rows / min_rows (compiler/spec/model.py Monitor says the same)
WINDOW_ROWS, MIN_ROWS = 10_000, 100


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
    if result.get("traffic") == "not enough":
        return _not_enough_markdown(result)
    cols = result["columns"]
    n_drift = len(result["drifted_columns"])
    rule = f"PSI > {result['threshold']:g}" if result["method"] == "psi" else f"p < {result['threshold']:g}"
    head = (f"⚠️ drift in {n_drift} of {len(cols)} columns" if result["drifted"]
            else f"✅ no drift in {len(cols)} columns")
    lines = ["# Drift check", "",
             f"{bold(head)} · {code(result['current'], cell=False)} ({result['current_rows']:,} rows) vs "
             f"{code(result['reference'], cell=False)} ({result['reference_rows']:,} rows)", ""]
    lines += _log_lines(result)
    lines += [escape(f"{result['method']}: a column drifted when {rule}."), "",
              drift.markdown_table(cols)]
    for key, label in (("missing_columns", "Missing from the monitored data"), ("new_columns", "Not in the reference")):
        if result[key]:
            lines += [Md(f"{label}: " + ", ".join(code(c, cell=False) for c in result[key])), ""]
    if result.get("live") is not None:
        lines += _live_lines(result["live"])
    return "\n".join(lines).rstrip("\n") + "\n"


def _log_lines(result: Mapping[str, Any]) -> list[str]:
    """What a prediction-log result adds under the headline: the window and the retrain verdict."""
    window = result.get("window")
    if window is None:
        return []
    versions = ", ".join(str(v) for v in window["model_versions"]) or "none"
    text = (f"Prediction log: the newest {window['rows']:,} rows (window_rows {window['window_rows']:,}"
            + (f", window_days {window['window_days']:g}" if window.get("window_days") else "")
            + f") from {window['from']} to {window['to']}, {window['files_read']} of {window['files']} files read, "
            f"model versions {versions}.")
    verdict = ("Retrain: " + "; ".join(result["reasons"]) + ".") if result["retrain"] else "Retrain: no."
    return [escape(text), "", bold(verdict), ""]


def _live_lines(live: Mapping[str, Any]) -> list[str]:
    from mlgen_runtime.report_md import number, table

    version = live["model_version"]
    head = f"## Live metrics (model version {version if version is not None else '—'}, {live['rows']:,} predictions with feedback)"
    lines = [Md(head), ""]  # numbers only: nothing to escape
    if live.get("note"):
        return lines + [escape(live["note"] + "."), ""]
    rows = [[code(g["name"]), number(g["value"]), Md("✅ pass") if g["passed"] else Md("❌ fail"), g["text"]]
            for g in live["gates"]]
    rows += [[code(m), Md("—"), Md("skipped"), note] for m, note in live["skipped"].items()]
    return lines + [table(["Gate", "Live value", "Verdict", "Detail"], rows, "lrll"), ""]


def _not_enough_markdown(result: Mapping[str, Any]) -> str:
    window = result["window"]
    return "\n".join(["# Drift check", "",
                      f"{bold('⏸️ not enough traffic')} · {code(result['current'], cell=False)}: "
                      f"{window['rows']:,} rows in the window, fewer than monitor.min_rows = {result['min_rows']:,}", "",
                      escape("No drift verdict and no retraining until the log holds enough recent requests."), ""])


def junit_cases(result: Mapping[str, Any]) -> list[Case]:
    if result.get("traffic") == "not enough":
        return [Case("traffic", SUITE, True, f"not enough traffic: {result['window']['rows']} rows "
                     f"< monitor.min_rows {result['min_rows']}", skipped=True)]
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
    live = result.get("live")
    if live is not None:
        cases += [Case(f"live[{g['name']}]", SUITE, g["passed"], g["text"]) for g in live["gates"]]
        cases += [Case(f"live[{m}]", SUITE, True, note, skipped=True) for m, note in live["skipped"].items()]
    return cases


def run(ctx: Context, args: argparse.Namespace) -> int:
    settings = ctx.settings
    monitor = settings.get("monitor")
    if not monitor:
        raise BadInput("the spec has no [monitor] section; add one with `data` and `schedule`")
    current_path = monitor["data"]
    ref_path = reference_source(settings)
    if monitor_log.is_log(ctx.root, current_path):
        result, current = _log_result(ctx, settings, monitor, ref_path)
    else:
        current = data.load_frame(ctx.path(current_path), current_path)
        reference = data.load_frame(ctx.path(ref_path), ref_path)
        for frame, path in ((reference, ref_path), (current, current_path)):
            if len(frame) == 0:  # nothing to compare with: "no drift" would be a false all-clear
                raise BadInput(f"{path} has no rows; the drift check needs data on both sides")
        _common_columns(reference, current, current_path, ref_path)
        result = check(reference, current, settings)
        result.update(current=current_path, current_rows=len(current), reference=ref_path, reference_rows=len(reference))
        result.update(retrain=result["drifted"], reasons=_reasons(result))
    _write(ctx, result)
    _print(ctx, result, len(current))
    return 0


def _common_columns(reference: pd.DataFrame, current: pd.DataFrame, current_path: str, ref_path: str) -> None:
    if not any(c in current.columns for c in reference.columns):
        raise BadInput(f"{current_path}: no column in common with {ref_path}; columns: {', '.join(current.columns[:20])}")


def _log_result(ctx: Context, settings: Mapping[str, Any], monitor: Mapping[str, Any],
                ref_path: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """The result of a prediction-log monitor (see the module docstring)."""
    current_path = monitor["data"]
    window_rows = int(monitor.get("window_rows") or WINDOW_ROWS)
    window_days = monitor.get("window_days")
    min_rows = int(monitor.get("min_rows") or MIN_ROWS)
    files = monitor_log.find_files(ctx.root, current_path)
    window = monitor_log.recent(ctx.root, files, window_rows, window_days)
    described = {**monitor_log.describe_window(window), "window_rows": window_rows, "window_days": window_days}
    current = monitor_log.features(window.frame)
    base = {"current": current_path, "current_rows": len(current), "source": "prediction log",
            "window": described, "min_rows": min_rows}
    if len(current) < min_rows:  # too little to tell drift from noise: neither all-clear nor alarm
        return {**base, "traffic": "not enough", "drifted": False, "retrain": False,
                "reasons": [], "drifted_columns": [], "columns": {}, "live": None}, current
    reference = data.load_frame(ctx.path(ref_path), ref_path)
    if len(reference) == 0:
        raise BadInput(f"{ref_path} has no rows; the drift check needs data on both sides")
    _common_columns(reference, current, current_path, ref_path)
    result = {**check(reference, current, settings), **base, "traffic": "enough",
              "reference": ref_path, "reference_rows": len(reference)}
    live = None
    if monitor_live.absolute_gates(settings):
        labels = monitor_log.feedback(ctx.root, files)
        live = monitor_live.check(monitor_log.labelled(window.frame, labels), settings, min_rows)
    result["live"] = live
    reasons = _reasons(result)
    result.update(retrain=bool(reasons), reasons=reasons)
    return result, current


def _reasons(result: Mapping[str, Any]) -> list[str]:
    """Why the scheduled path retrains: drifted columns, failed live gates (empty: it does not)."""
    reasons = []
    if result["drifted"]:
        reasons.append(f"drift in {len(result['drifted_columns'])} columns ({', '.join(result['drifted_columns'])})")
    live = result.get("live")
    if live and live["failed"]:
        reasons.append(f"live gate failed ({', '.join(live['failed'])})")
    return reasons


def _write(ctx: Context, result: Mapping[str, Any]) -> None:
    out = ctx.out("monitor")
    write_json(out / "drift.json", result)
    write_text_atomic(out / "report.md", markdown(result))
    write_junit(out / "junit.xml", SUITE, junit_cases(result))
    # the pipeline reads this one word: retrain or not (drift.json says why)
    write_text_atomic(out / DRIFTED_FILE, "true\n" if result["retrain"] else "false\n")


def _print(ctx: Context, result: Mapping[str, Any], current_rows: int) -> None:
    written = (ctx.out("monitor") / DRIFTED_FILE).relative_to(ctx.root).as_posix()
    if result.get("traffic") == "not enough":
        print(f"monitor: {result['current']}: not enough traffic ({current_rows:,} rows in the window, "
              f"monitor.min_rows = {result['min_rows']:,}); drifted=false, no retraining; written to {written}")
        return
    cols = result["columns"]
    source = f"prediction log {result['current']}" if result.get("source") else result["current"]
    print(f"monitor: {source} ({current_rows:,} rows) vs {result['reference']} ({result['reference_rows']:,} rows), "
          f"{result['method']} threshold {result['threshold']:g}")
    for name in result["drifted_columns"]:
        r = cols[name]
        print(f"  DRIFT  {name}: {r['test']} statistic {r['statistic']:.4g}"
              + (f", p = {r['p_value']:.3g}" if r["p_value"] is not None else "")
              + (f" ({r['note']})" if r.get("note") else ""))
    if result["missing_columns"]:
        print(f"  warning: missing from the monitored data: {', '.join(result['missing_columns'])}")
    live = result.get("live")
    if live is not None:
        for g in live["gates"]:
            print(f"  LIVE   {g['name']}: {'pass' if g['passed'] else 'FAIL'}: {g['text']}")
        for m, note in live["skipped"].items():
            print(f"  LIVE   {m}: skipped: {note}")
    verdict = "true" if result["drifted"] else "false"
    print(f"monitor: drifted={verdict} ({len(result['drifted_columns'])} of {len(cols)} columns); "
          f"written to {written}")
    if result.get("source"):
        print("monitor: retrain=" + ("true: " + "; ".join(result["reasons"]) if result["retrain"] else "false"))
