"""The model vulnerability scan (issue 7) of 100,000 held-out rows x 20 features with every
detector on (slices with pairs, robustness, overconfidence, leakage): the `scan` stage as a CI job
runs it (`python -m mlgen_runtime scan`, reading the CSV, loading the model, writing the
reports), timed and wrapped by workers/maxrss.py for its peak memory. Compared with the
`evaluate` stage on the same rows and model, in the same session (interleaved)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import contract
from common import WORKERS, Row, Size, Tools, bench_env, fresh_dir, interleave, median, megabytes, run, seconds, worker

# held-out rows scanned, repetitions (kept here so common.Size stays as it is)
ROWS = {"full": 100_000, "small": 5_000}
REPS = {"full": 3, "small": 1}
GOAL_RATIO = 2.0  # "seconds, not minutes": at most twice the evaluate step it follows (ratios, not seconds, survive a shared machine)

SPEC = """[project]
name = "scanbench"
seed = 42

[data]
path = "data/train.csv"
target = "churned"
task = "classification"
test_size = 0.5

{contract}
[train]
estimator = "sklearn.ensemble.HistGradientBoostingClassifier"
params = {{ max_iter = 100 }}

[evaluate]
metrics = ["f1", "roc_auc", "accuracy"]

[scan]
max_rows = {rows}
[scan.slices]
block = false  # timed, not judged: the data's hard groups near the decision boundary are flagged
"""


def measure(tools: Tools, size: Size, work: Path) -> list[Row]:
    rows, reps = ROWS[size.name], REPS[size.name]
    root = fresh_dir(work / "scan")
    env = bench_env({"MLGEN_NO_CACHE": "1"})  # evaluate is a cached stage: time the work, not a restore
    worker(tools.python, "make_data.py", [root / "data" / "train.csv", "--rows", str(2 * rows), "--seed", "11"], root, env)
    (root / "mlproject.toml").write_text(SPEC.format(contract=contract.contract_toml(), rows=rows))
    run([tools.mlgen, "compile", "-q"], root, env)
    stage = [tools.python, "-m", "mlgen_runtime"]
    run([*stage, "train", "--plan", ".mlgen/plan.json"], root, env, root / "train.log")
    result = root / "maxrss.json"
    peaks: dict[str, list[float]] = {"scan": [], "evaluate": []}

    def wrapped(name: str) -> Callable[[], float]:
        def go() -> float:
            cmd = [tools.python, WORKERS / "maxrss.py", result, "--", *stage, name, "--plan", ".mlgen/plan.json"]
            run(cmd, root, env, root / f"{name}.log")
            r = json.loads(result.read_text())
            peaks[name].append(r["maxrss_kb"])
            return r["seconds"]
        return go

    t = interleave({"evaluate": wrapped("evaluate"), "scan": wrapped("scan")}, reps)
    scanned = json.loads((root / ".mlgen/out/scan/scan.json").read_text())
    if scanned["rows"]["scanned"] != rows:
        raise AssertionError(f"the scan covered {scanned['rows']['scanned']} rows, not {rows}")
    slices = next(d for d in scanned["detectors"] if d["name"] == "slices")["details"]
    a, b = median(t["scan"]), median(t["evaluate"])
    return [Row(f"scan stage, {rows:,} held-out rows × 20 (slices + pairs, robustness, overconfidence, leakage)",
                f"{seconds(a)} · peak {megabytes(median(peaks['scan']))}",
                f"evaluate stage on the same rows {seconds(b)} · peak {megabytes(median(peaks['evaluate']))}",
                a / b, f"≤ {GOAL_RATIO:g}× evaluate", a / b <= GOAL_RATIO,
                [f"{reps} interleaved runs each, medians; each run is the whole CI step (read the CSV of "
                 f"{2 * rows:,} rows, split, load the model, scan, write scan.json, report.md, junit.xml); "
                 f"{slices['slices']:,} slices judged; {len(scanned['findings'])} finding(s) on this data; "
                 "peak = max RSS of the stage process"])]
