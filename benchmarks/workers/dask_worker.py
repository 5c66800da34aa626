"""A search's trials on local processes (joblib's loky backend, n_jobs=2) vs on a Dask cluster on
this machine (distributed.LocalCluster, 2 single-threaded worker processes on loopback), through
mlgen's own search code, interleaved in one process. Both must give the same scores.

`dask_worker.py --rows N --trials T --reps R` prints {"times": {...}, "trials": T, ...} last.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

from distributed import LocalCluster
from joblib import parallel_config
from mlgen_runtime import pipeline, search, search_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import datagen  # noqa: E402
from contract import TARGET, contract  # noqa: E402

LEARNING_RATES = [0.03, 0.06, 0.1, 0.2]
LEAVES = [7, 15, 31, 63]
L2 = [0.0, 0.1, 1.0, 10.0]


def space(trials: int) -> dict[str, list[float]]:
    """A grid of exactly `trials` combinations (64 at full size)."""
    combos = list(itertools.product(LEARNING_RATES, LEAVES, L2))[:trials]
    return {"learning_rate": sorted({c[0] for c in combos}), "max_leaf_nodes": sorted({c[1] for c in combos}),
            "l2_regularization": sorted({c[2] for c in combos})}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--trials", type=int, required=True)
    p.add_argument("--reps", type=int, required=True)
    a = p.parse_args()
    frame = datagen.frame(a.rows, seed=9)
    X, y = frame.drop(columns=[TARGET]), frame[TARGET]
    grid = space(a.trials)
    settings = {"project": {"seed": 42}, "data": {"task": "classification"}, "evaluate": {"metrics": ["roc_auc"]},
                "train": {"estimator": "sklearn.ensemble.HistGradientBoostingClassifier", "params": {"max_iter": 10},
                          "search": {"strategy": "grid", "space": grid, "cv": 3, "scoring": "roc_auc"}}}
    cols = pipeline.columns(X, contract())
    X = pipeline.prepare(X, cols)
    all_trials = search.trials(settings["train"]["search"], 42)
    indices = list(range(len(all_trials)))
    sc = search.scoring(settings)
    folds = search.folds("classification", 3, 42, X, y)
    calls = [(settings, cols, X, y, i, all_trials[i], sc, folds) for i in indices]

    def loky() -> list[float | None]:
        with parallel_config(backend="loky"):
            return [r.mean for r, _ in search_engine.parallel(search.run_trial, calls, n_jobs=2)]

    def on_dask() -> list[float | None]:  # the runtime's own path: connect, version check, scatter, joblib
        dask_settings = {**settings, "train": {**settings["train"], "search": {**settings["train"]["search"], "engine": "dask"}}}
        return [r.mean for r in search.run_trials(dask_settings, cols, X, y, indices, all_trials)]

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0")
    cluster_start = time.perf_counter() - start
    os.environ["DASK_SCHEDULER_ADDRESS"] = cluster.scheduler_address
    import dask.config

    dask.config.refresh()  # read the variable set just now, as a train job started with it would
    times: dict[str, list[float]] = {"loky": [], "dask": []}
    scores: dict[str, list[float | None]] = {}
    try:
        for _ in range(a.reps):
            for name, fn in (("loky", loky), ("dask", on_dask)):
                t0 = time.perf_counter()
                scores[name] = fn()
                times[name].append(time.perf_counter() - t0)
                print(f"{name}: {times[name][-1]:.1f} s", file=sys.stderr, flush=True)
    finally:
        cluster.close()
    print(json.dumps({"times": times, "trials": len(all_trials), "cluster_start": cluster_start,
                      "same_scores": scores["loky"] == scores["dask"], "best": max(s for s in scores["dask"] if s is not None)}))


if __name__ == "__main__":
    main()
