"""Drift of a drifted sample against a reference, 20 columns: mlgen's drift module against
Evidently's DataDriftPreset with the same test and threshold, and whether they agree per column."""

from __future__ import annotations

from pathlib import Path

from common import Row, Size, Tools, bench_env, fresh_dir, median, seconds, worker
from contract import COLUMNS, DRIFTED
from runtime_path import runtime_path

FASTER = 10.0
LABELS = {"psi": "PSI > 0.2", "ks": "KS / chi² p < 0.05"}


def measure(tools: Tools, size: Size, work: Path) -> list[Row]:
    root = fresh_dir(work / "drift")
    env = bench_env()
    rows = []
    for method in ("psi", "ks"):
        args = ["--rows", str(size.drift_rows), "--reps", str(size.drift_reps), "--method", method]
        if tools.peer_python:
            r = worker(tools.peer_python, "drift_worker.py",
                       [*args, "--contenders", "mlgen,evidently", "--runtime-path", runtime_path(tools, work)], root, env)
        else:
            r = worker(tools.python, "drift_worker.py", [*args, "--contenders", "mlgen"], root, env)
        rows.append(_row(size, method, r))
    return rows


def _row(size: Size, method: str, r: dict) -> Row:
    t = {k: median(v) for k, v in r["times"].items()}
    mine = r["verdicts"]["mlgen"]
    flagged = sorted(c for c, d in mine.items() if d)
    moved = [c for c in COLUMNS if c in DRIFTED]
    notes = [f"{size.drift_reps} interleaved runs each in one process, medians; frames in memory; "
             f"drifted by construction: {', '.join(moved)}; mlgen flags: {', '.join(flagged) or 'none'}"]
    label = f"drift, {size.drift_rows:,} vs {size.drift_rows:,} × 20, {LABELS[method]}"
    goal = f"≥ {FASTER:g}× faster (≤ {1 / FASTER:g}×), same verdicts"
    if "evidently" not in t:
        return Row(label, seconds(t["mlgen"]), "Evidently: skipped (--no-peers)", None, goal, None, notes)
    theirs = r["verdicts"]["evidently"]
    agree = [c for c in COLUMNS if mine.get(c) == theirs.get(c)]
    differ = [f"{c} (mlgen {mine.get(c)}, Evidently {theirs.get(c)})" for c in COLUMNS if c not in agree]
    notes.append(f"same verdict on {len(agree)} of {len(COLUMNS)} columns" + (f"; differ: {', '.join(differ)}" if differ else ""))
    ratio = t["mlgen"] / t["evidently"]
    return Row(label, seconds(t["mlgen"]), f"Evidently DataDriftPreset {seconds(t['evidently'])}; verdicts agree "
               f"{len(agree)}/{len(COLUMNS)}", ratio, goal, ratio <= 1 / FASTER and not differ, notes)
