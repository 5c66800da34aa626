"""What safe model files cost: mlgen's skops save/load (sha256 + type audit) against joblib, for
the HistGradientBoosting pipeline the full run trains. Interleaved in one process.

`skops_worker.py --rows N --reps R OUT_DIR` prints {"times": {op: [seconds...]}, "bytes": {...}}.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import joblib
import skops.io as sio
from mlgen_runtime import modelio, pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import datagen  # noqa: E402
from contract import TARGET, contract  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--reps", type=int, required=True)
    p.add_argument("out", type=Path)
    a = p.parse_args()
    frame = datagen.frame(a.rows, seed=9)
    X, y = frame.drop(columns=[TARGET]), frame[TARGET]
    settings = {"project": {"seed": 42}, "data": {"task": "classification"},
                "train": {"estimator": "sklearn.ensemble.HistGradientBoostingClassifier", "params": {"max_iter": 100}}}
    cols = pipeline.columns(X, contract())
    model = pipeline.build(settings, cols).fit(pipeline.prepare(X, cols), y)

    skops_dir, jl = a.out / "skops", a.out / "model.joblib"
    sha = modelio.save_model(model, skops_dir)
    skops_file = skops_dir / modelio.MODEL_FILE
    trusted = sio.get_untrusted_types(file=skops_file)
    ops = {
        "mlgen save": lambda: modelio.save_model(model, a.out / "skops-save"),  # skops bytes differ per save
        "joblib dump": lambda: joblib.dump(model, jl),
        "mlgen load": lambda: modelio.load_model(skops_file, sha, ("sklearn",)),
        "skops load": lambda: sio.load(skops_file, trusted=trusted),  # without mlgen's checks
        "joblib load": lambda: joblib.load(jl),
    }
    for fn in ops.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in ops}
    for _ in range(a.reps):
        for k, fn in ops.items():
            gc.collect()
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "bytes": {"skops": skops_file.stat().st_size, "joblib": jl.stat().st_size}}))


if __name__ == "__main__":
    main()
