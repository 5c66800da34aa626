"""The whole loop: `mlgen run` (validate, train HistGradientBoosting, evaluate, deploy to an
auto-approved environment) against workers/handwritten.py doing the same work in one process.
Each run is wrapped by workers/maxrss.py, which also gives the peak memory of the run."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import contract
from common import WORKERS, Row, Size, Tools, bench_env, fresh_dir, interleave, median, megabytes, run, seconds, worker

SPEC = """[project]
name = "fullrun"
seed = 42

[data]
path = "data/train.csv"
target = "churned"
task = "classification"
test_size = 0.2

{contract}
[validate]
min_rows = 1000
max_null_fraction = 0.05

[train]
estimator = "sklearn.ensemble.HistGradientBoostingClassifier"
params = {{ max_iter = 100 }}

[evaluate]
metrics = ["f1", "roc_auc", "accuracy"]
gates = {{ roc_auc = {{ min = 0.6 }} }}

[deploy]
registry = "models"
[[deploy.environments]]
name = "staging"
approval = "auto"
"""


def measure(tools: Tools, size: Size, work: Path) -> list[Row]:
    root = fresh_dir(work / "fullrun")
    env = bench_env()
    worker(tools.python, "make_data.py", [root / "data" / "train.csv", "--rows", str(size.fullrun_rows), "--seed", "5"],
           root, env)
    (root / "mlproject.toml").write_text(SPEC.format(contract=contract.contract_toml()))
    script_out = root / "handwritten-out"
    result = root / "maxrss.json"
    peaks: dict[str, list[float]] = {"mlgen": [], "script": []}

    def wrapped(name: str, cmd: list[str | Path], clean: list[Path]) -> Callable[[], float]:
        def go() -> float:
            for p in clean:  # a first run: no stage cache, no outputs, empty registry
                shutil.rmtree(p, ignore_errors=True)
            run([tools.python, WORKERS / "maxrss.py", result, "--", *cmd], root, env, root / f"{name}.log")
            r = json.loads(result.read_text())
            peaks[name].append(r["maxrss_kb"])
            return r["seconds"]
        return go

    mlgen = wrapped("mlgen", [tools.mlgen, "run"], [root / ".mlgen" / "cache", root / ".mlgen" / "out", root / "models"])
    script = wrapped("script", [tools.python, WORKERS / "handwritten.py", "data/train.csv", script_out], [script_out])
    t = interleave({"mlgen": mlgen, "script": script}, size.fullrun_reps)
    _check_deployed(root)

    a, b = median(t["mlgen"]), median(t["script"])
    ma, mb = median(peaks["mlgen"]), median(peaks["script"])
    shape = f"{size.fullrun_rows:,} × 20"
    return [
        Row(f"full `mlgen run`, {shape} (validate, train HGB, evaluate, deploy)", seconds(a),
            f"hand-written scikit-learn script {seconds(b)}", a / b, "≤ 1.10×", a / b <= 1.10,
            [f"{size.fullrun_reps} interleaved runs each, medians; each mlgen run starts cold (no stage cache, "
             "empty registry) and runs the stages in its one runtime worker process (CI: one process per job); "
             "the script does the same checks, pipeline, metrics, gate and plots in one "
             "process and saves with joblib"]),
        Row(f"peak memory of the full run ({shape})", megabytes(ma), f"hand-written script {megabytes(mb)}", ma / mb,
            "≤ 1.2×", ma / mb <= 1.2,
            ["max RSS of the largest process of each run (RUSAGE_CHILDREN), medians"]),
    ]


def _check_deployed(root: Path) -> None:
    aliases = json.loads((root / "models" / "aliases.json").read_text())
    if "staging" not in aliases:
        raise AssertionError(f"mlgen run did not deploy to staging: {aliases}")
