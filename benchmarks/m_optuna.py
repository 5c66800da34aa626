"""Grid vs Optuna (TPE) at an equal trial budget: the best CV score each has reached after
8 / 16 / 32 / 64 trials, in the same run, on the same data, folds and seed. Both searches are
the product path: `mlgen compile`, then the runtime's `train` (one process, shards = 1), and the
numbers come from the trials.json it writes. Reported, no goal: a 64-point grid has to spend
its first trials on the first value of its first parameter; TPE samples everywhere from the start.

Size: 5,000 rows x 20, not 200k: 2 x 64 trials x 3 folds of HistGradientBoosting on 200k rows
take hours on this shared 2-core machine (load 15-25 while seven sessions share it); 3-fold CV,
roc_auc, HGB with max_iter = 50.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from common import Row, Size, Tools, bench_env, fresh_dir, run, worker

# 4 x 4 x 4 = 64 grid points, and the same intervals as ranges for Optuna
GRID = ("space = { learning_rate = [0.01, 0.03, 0.1, 0.3], max_leaf_nodes = [4, 15, 31, 63], "
        "min_samples_leaf = [5, 20, 80, 320] }")
RANGES = ("space = { learning_rate = { low = 0.01, high = 0.3, log = true }, max_leaf_nodes = { low = 4, high = 63 }, "
          "min_samples_leaf = { low = 5, high = 320, log = true } }")
SPEC = """
[project]
name = "bench-{name}"
seed = 11

[data]
path = "data.csv"
target = "churned"
task = "classification"
allow_extra = true

[train]
estimator = "sklearn.ensemble.HistGradientBoostingClassifier"
params = {{ max_iter = 50 }}

[train.search]
strategy = "{strategy}"
{space}
n_iter = {budget}
cv = 3
scoring = "roc_auc"

[evaluate]
metrics = ["roc_auc"]
"""


def measure(tools: Tools, size: Size, work: Path) -> list[Row]:
    rows, budget = (5_000, 64) if size.name == "full" else (500, 4)  # small: what CI's smoke test runs
    marks = [k for k in (2, 4, 8, 16, 32, 64) if k <= budget][-4:]
    root = fresh_dir(work / "optuna")
    worker(tools.python, "make_data.py", [root / "data.csv", "--rows", str(rows), "--seed", "5"], root, bench_env())
    best: dict[str, list[float]] = {}
    took: dict[str, float] = {}
    for strategy, space in (("grid", GRID), ("optuna", RANGES)):
        folder = fresh_dir(root / strategy)
        shutil.copyfile(root / "data.csv", folder / "data.csv")
        (folder / "mlproject.toml").write_text(SPEC.format(name=strategy, strategy=strategy, space=space, budget=budget))
        if size.name != "full":  # small: a 4-point grid (2 x 2 x 1)
            (folder / "mlproject.toml").write_text((folder / "mlproject.toml").read_text()
                                                    .replace("[0.01, 0.03, 0.1, 0.3]", "[0.03, 0.3]")
                                                    .replace("[4, 15, 31, 63]", "[4, 31]").replace("[5, 20, 80, 320]", "[20]"))
        run([tools.mlgen, "compile", "--provider", "gitlab"], folder, bench_env())
        took[strategy] = run([tools.python, "-m", "mlgen_runtime", "train", "--plan", ".mlgen/plan.json"], folder, bench_env())
        trials = json.loads((folder / ".mlgen/out/model/trials.json").read_text())["trials"]
        assert len(trials) == budget, f"{strategy}: {len(trials)} trials, expected {budget}"
        means = [t["mean"] if t["mean"] is not None else float("-inf") for t in sorted(trials, key=lambda t: t["index"])]
        best[strategy] = [max(means[:k]) for k in marks]

    def cells(strategy: str) -> str:
        return " · ".join(f"@{k}: {v:.4f}" for k, v in zip(marks, best[strategy]))

    grid_final = best["grid"][-1]
    reached = next((k for k, v in zip(marks, best["optuna"]) if v >= grid_final), None)
    return [Row(f"search, {budget} trials on {rows:,} x 20 (HGB, 3-fold CV roc_auc): best score per trial count, Optuna vs grid",
                f"optuna: {cells('optuna')} ({took['optuna']:.0f} s)", f"grid: {cells('grid')} ({took['grid']:.0f} s)",
                None, "reported", None,
                [f"same run, data, folds and seed; grid in ParameterGrid order; Optuna TPE (10 random start-up trials), "
                 f"shards = 1 (trials one after another); Optuna {'reached' if reached else 'did not reach'} the grid's {budget}-trial best"
                 + (f" by trial {reached}" if reached else "") + f" (difference at {budget}: "
                 f"{best['optuna'][-1] - grid_final:+.4f}); wall times include the refit of the best trial"])]
