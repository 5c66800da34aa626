"""Where the time of a full `mlgen run` goes, job by job, in CPU seconds (on a shared machine CPU
time survives a neighbour's load; wall time does not).

    python benchmarks/profile_run.py [--rows 200000] [--mlgen-venv .venv]

Builds the full-run benchmark's project (m_fullrun.SPEC, workers/make_data.py), compiles it and
runs each job command of the plan cold, as `mlgen run` does (one process per job), recording its
wall time and the CPU of the job's process and of its children (the smoke check's interpreter).
Then the fixed costs such a process pays, each in a fresh interpreter: importing pandas,
scikit-learn's pipeline pieces, skops.io, matplotlib; the smoke check of the model file; skops's
save and load against joblib's. And the hand-written script for scale. Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contract  # noqa: E402
import m_fullrun  # noqa: E402
from common import REPO, WORKERS, bench_env  # noqa: E402

IMPORTS = {
    "interpreter only": "pass",
    "pandas": "import pandas",
    "scikit-learn (pipeline, HGB, metrics)": "import sklearn.pipeline, sklearn.compose, sklearn.ensemble, sklearn.metrics",
    "skops.io (imports every scikit-learn estimator for its trusted list)": "import skops.io",
    "matplotlib (Agg)": "import matplotlib; matplotlib.use('Agg'); import matplotlib.figure",
}
SMOKE = """
import hashlib, resource, sys
from pathlib import Path
from mlgen_runtime import modelsmoke
data = Path(sys.argv[1]).read_bytes()
modelsmoke.smoke_check(data, hashlib.sha256(data).hexdigest(), "model.skops", ())
r = resource.getrusage(resource.RUSAGE_CHILDREN); print(r.ru_utime + r.ru_stime)
"""
FILES = """
import io, json, resource, sys
from pathlib import Path
import joblib, skops.io as sio
def cpu(): r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
raw = Path(sys.argv[1]).read_bytes()
trusted = sio.get_untrusted_types(data=raw)
model = sio.loads(raw, trusted=trusted)
buf = io.BytesIO(); joblib.dump(model, buf); dumped = buf.getvalue()
out = {}
for name, fn in (("skops save", lambda: sio.dumps(model)), ("skops load", lambda: sio.loads(raw, trusted=trusted)),
                 ("joblib dump", lambda: joblib.dump(model, io.BytesIO())), ("joblib load", lambda: joblib.load(io.BytesIO(dumped)))):
    c = cpu(); fn(); out[name] = cpu() - c
print(json.dumps(out))
"""


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """wall, CPU of the command and its descendants, stdout."""
    c0, t0 = _cpu_children(), time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _cpu_children() - c0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return wall, cpu, p.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--mlgen-venv", type=Path, default=REPO / ".venv")
    a = ap.parse_args()
    py, mlgen = str(a.mlgen_venv / "bin" / "python"), str(a.mlgen_venv / "bin" / "mlgen")
    env = bench_env({k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    root = Path(tempfile.mkdtemp(prefix="mlgen-profile-"))
    try:
        _timed([py, str(WORKERS / "make_data.py"), "data/train.csv", "--rows", str(a.rows), "--seed", "5"], root, env)
        (root / "mlproject.toml").write_text(m_fullrun.SPEC.format(contract=contract.contract_toml()))
        _timed([mlgen, "compile", "-q"], root, env)
        plan = json.loads((root / ".mlgen" / "plan.json").read_text())
        job_env = {**env, "PYTHONPATH": ".mlgen/runtime",
                   "PATH": f"{a.mlgen_venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
        lines = [f"# Where a cold `mlgen run` spends its time ({a.rows:,} × 20, one process per job)", "",
                 f"load average before: {os.getloadavg()[0]:.2f}", "",
                 "| job | wall | CPU (job + children) |", "| --- | ---: | ---: |"]
        total = 0.0
        for job in plan["jobs"]:
            if job["kind"] in ("rollback", "monitor"):
                continue
            for cmd in job["commands"]:
                wall, cpu, _ = _timed(["bash", "-eo", "pipefail", "-c", cmd], root, job_env)
                total += cpu
                lines.append(f"| {job['name']} | {wall:.2f} s | {cpu:.2f} s |")
        lines.append(f"| **all jobs** | | **{total:.2f} s** |")
        wall, cpu, _ = _timed([py, str(WORKERS / "handwritten.py"), "data/train.csv", "hw"], root, env)
        lines += [f"| hand-written script (one process) | {wall:.2f} s | {cpu:.2f} s |", "",
                  "Fixed costs, each in a fresh interpreter (CPU):", "", "| what | CPU |", "| --- | ---: |"]
        for label, code in IMPORTS.items():
            lines.append(f"| import {label} | {_timed([py, '-c', code], root, env)[1]:.2f} s |")
        model = root / ".mlgen" / "out" / "model" / "model.skops"
        out = _timed([py, "-c", SMOKE, str(model)], root, job_env)[2].split()
        lines.append(f"| smoke check: the child that loads and predicts (once per process that loads a model) | {float(out[-1]):.2f} s |")
        files = json.loads(_timed([py, "-c", FILES, str(model)], root, job_env)[2].strip().splitlines()[-1])
        lines += [f"| {k} of the model file (in process) | {v * 1000:.0f} ms |" for k, v in files.items()]
        print("\n".join(lines) + f"\n\nload average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
