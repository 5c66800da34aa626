"""The cost of safe model files: mlgen's skops save/load (with its sha256 and type checks)
against joblib for the full run's HistGradientBoosting pipeline. Reported, no goal."""

from __future__ import annotations

from pathlib import Path

from common import Row, Size, Tools, bench_env, fresh_dir, median, seconds, worker


def measure(tools: Tools, size: Size, work: Path) -> list[Row]:
    root = fresh_dir(work / "skops")
    r = worker(tools.python, "skops_worker.py", ["--rows", str(size.skops_rows), "--reps", str(size.skops_reps), root],
               root, bench_env())
    t = {k: median(v) for k, v in r["times"].items()}
    size_mb = {k: v / 1e6 for k, v in r["bytes"].items()}
    ratio = (t["mlgen save"] + t["mlgen load"]) / (t["joblib dump"] + t["joblib load"])
    return [Row(f"model file of the HGB pipeline ({size.skops_rows:,} rows): skops vs joblib",
                f"save {seconds(t['mlgen save'])} · load {seconds(t['mlgen load'])} · {size_mb['skops']:.2f} MB",
                f"joblib: dump {seconds(t['joblib dump'])} · load {seconds(t['joblib load'])} · {size_mb['joblib']:.2f} MB",
                ratio, "reported", None,
                [f"{size.skops_reps} interleaved runs each, medians; ratio = (save + load) / (dump + load); mlgen's load "
                 f"verifies the sha256 and audits the types first; a bare skops load takes {seconds(t['skops load'])}"])]
