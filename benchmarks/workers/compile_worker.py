"""In-process compile times, for the scaling measure: the interpreter's start-up and imports
are paid once, so what is timed is only the work that grows with the spec.

`compile_worker.py --reps R SPEC...` compiles each spec (load, check, lower, render every
provider; nothing written) R times, interleaved, after one warm-up each, and prints
{"times": {spec: [seconds...]}}.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

from mlgen.commands import compile_files


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, required=True)
    ap.add_argument("specs", nargs="+", type=Path)
    args = ap.parse_args()
    times: dict[str, list[float]] = {str(s): [] for s in args.specs}
    for spec in args.specs:
        compile_files(spec, spec.parent, None)  # warm-up: imports, regex and template caches
    for _ in range(args.reps):
        for spec in args.specs:
            gc.collect()
            gc.disable()  # as `mlgen compile` runs (commands.py): no collector pauses mid-compile
            t0 = time.perf_counter()
            compile_files(spec, spec.parent, None)
            times[str(spec)].append(time.perf_counter() - t0)
            gc.enable()
    print(json.dumps({"times": times}))


if __name__ == "__main__":
    main()
