"""Data validation of an in-memory frame with the same contract checks: mlgen's validate
functions, a pandera DataFrameSchema, and the checks written directly in numpy."""

from __future__ import annotations

from pathlib import Path

from common import Row, Size, Tools, bench_env, fresh_dir, median, seconds, worker
from runtime_path import runtime_path

FASTER = 1.5  # the goal: mlgen at least this many times faster than pandera


def measure(tools: Tools, size: Size, work: Path) -> list[Row]:
    root = fresh_dir(work / "validate")
    env = bench_env()
    args = ["--rows", str(size.validate_rows), "--reps", str(size.validate_reps)]
    notes = [f"{size.validate_reps} interleaved runs each in one process, medians; the frame is in memory "
             "(CSV parsing excluded); checks: exact columns, types, min/max, allowed values, nullability, "
             "max null fraction, min rows"]
    if tools.peer_python:
        # every contender in the peers' venv: the same numpy and pandas for all
        r = worker(tools.peer_python, "validate_worker.py",
                   [*args, "--contenders", "mlgen,pandera,numpy,mlgen-all", "--runtime-path", runtime_path(tools, work)],
                   root, env)
        own = worker(tools.python, "validate_worker.py", [*args, "--contenders", "mlgen"], root, env)
        notes.append(f"run in the peers' venv (pandas {r['versions']['pandas']}, pandera {r['versions']['pandera']}); "
                     f"mlgen in its own venv (pandas {own['versions']['pandas']}): {seconds(median(own['times']['mlgen']))}")
    else:
        r = worker(tools.python, "validate_worker.py", [*args, "--contenders", "mlgen,numpy,mlgen-all"], root, env)
        notes.append(f"run in the mlgen venv (pandas {r['versions']['pandas']})")
    failed = [k for k, ok in r["passed"].items() if not ok]
    if failed:
        raise AssertionError(f"valid data rejected by: {', '.join(failed)}")
    t = {k: median(v) for k, v in r["times"].items()}
    notes.append(f"the whole mlgen validate stage (adds duplicates, target, train/test leakage): {seconds(t['mlgen-all'])}")
    shape = f"{size.validate_rows:,} × 20"
    goal = f"≥ {FASTER}× faster (≤ {1 / FASTER:.2f}×)"
    if "pandera" in t:
        ratio = t["mlgen"] / t["pandera"]
        first = Row(f"validation, {shape}, same checks", seconds(t["mlgen"]), f"pandera DataFrameSchema {seconds(t['pandera'])}",
                    ratio, goal, ratio <= 1 / FASTER, notes)
    else:
        first = Row(f"validation, {shape}, same checks", seconds(t["mlgen"]), "pandera: skipped (--no-peers)", None, goal,
                    None, notes)
    second = Row(f"validation, {shape}, same checks, vs direct numpy", seconds(t["mlgen"]),
                 f"numpy on the column arrays {seconds(t['numpy'])}", t["mlgen"] / t["numpy"])
    return [first, second]
