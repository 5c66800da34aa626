"""`mlgen serve` against `mlflow models serve --env-manager local` on the same fitted model
(issue 17): throughput and p50/p99 latency of single-row and 100-row requests from concurrent
keep-alive clients, mlgen's prediction log on (the default folder). Both servers run at once, one
uvicorn worker each, and the load runs alternate (mlgen, MLflow, mlgen, ...) in the same session.
The peer is the same pipeline saved with mlflow.sklearn (pickle: the peer's own format) with an
inferred signature, so both check their input. After the runs mlgen is stopped with SIGINT and
its log must hold every row it answered."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import contract
from common import Row, Size, Tools, bench_env, fresh_dir, interleave, median, run, worker

ROWS = {"full": 20_000, "small": 2_000}  # training rows
REQUESTS = {"full": {1: 1000, 100: 200}, "small": {1: 100, 100: 20}}
REPS = {"full": 3, "small": 1}
CLIENTS = 8
GOAL = 0.5  # mlgen's time per request ÷ MLflow's (2× its throughput), at a lower p99

SPEC = """[project]
name = "servebench"
seed = 42

[data]
path = "data/train.csv"
target = "churned"
task = "classification"

{contract}
[train]
estimator = "sklearn.ensemble.HistGradientBoostingClassifier"
params = {{ max_iter = 100 }}

[evaluate]
metrics = ["accuracy"]

[deploy]
registry = "models"
environments = [{{ name = "production" }}]

[serve]
port = {port}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(1200):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.25)
    raise RuntimeError(f"{what} never answered {url}")


def measure(tools: Tools, size: Size, work: Path) -> list[Row]:
    root = fresh_dir(work / "serve")
    env = bench_env()
    worker(tools.python, "make_data.py", [root / "data" / "train.csv", "--rows", str(ROWS[size.name]), "--seed", "5"],
           root, env)
    ours, theirs = _free_port(), _free_port()
    (root / "mlproject.toml").write_text(SPEC.format(contract=contract.contract_toml(), port=ours))
    run([tools.mlgen, "compile", "-q"], root, env)
    run([tools.python, "-m", "mlgen_runtime", "train", "--plan", ".mlgen/plan.json"], root, env, root / "train.log")
    worker(tools.python, "serve_worker.py", ["prepare", root], root, env)
    mlflow = tools.mlgen_venv / "bin" / "mlflow"
    peer_env = {**env, "PATH": f"{tools.mlgen_venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}  # it execs `uvicorn`
    logs = {n: (root / f"{n}.log").open("wb") for n in ("mlgen-serve", "mlflow-serve")}
    servers = {
        "mlgen": subprocess.Popen([str(tools.mlgen), "serve"], cwd=root, env=env, stdout=logs["mlgen-serve"],
                                  stderr=subprocess.STDOUT),
        "mlflow": subprocess.Popen([str(mlflow), "models", "serve", "-m", "mlflow-model", "--env-manager", "local",
                                    "-h", "127.0.0.1", "-p", str(theirs), "-w", "1"], cwd=root, env=peer_env,
                                   stdout=logs["mlflow-serve"], stderr=subprocess.STDOUT, start_new_session=True),
    }
    urls = {"mlgen": f"http://127.0.0.1:{ours}", "mlflow": f"http://127.0.0.1:{theirs}"}
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    sent_rows = 0
    try:
        _wait(urls["mlgen"] + "/health", servers["mlgen"], "mlgen serve")
        _wait(urls["mlflow"] + "/ping", servers["mlflow"], "mlflow models serve")
        _check_same_answers(root, urls)
        sent_rows = 100  # the check's body
        for n in (1, 100):
            count = REQUESTS[size.name][n]

            def go(name: str, keep: bool = True, n: int = n, count: int = count) -> float:
                nonlocal sent_rows
                path = "/predict" if name == "mlgen" else "/invocations"
                r = worker(tools.python, "serve_worker.py", ["load", urls[name] + path, root / f"{name}-{n}.json",
                                                             "--clients", str(CLIENTS), "--requests", str(count)],
                           root, env)
                if r["errors"]:
                    raise RuntimeError(f"{name}: {r['errors']} of {r['requests']} requests failed")
                if name == "mlgen":
                    sent_rows += n * count
                if keep:
                    results.setdefault((name, n), []).append(r)
                return 1 / r["throughput"]

            go("mlgen", keep=False)  # warm-up: the first requests import and allocate
            go("mlflow", keep=False)
            interleave({"mlgen": lambda: go("mlgen"), "mlflow": lambda: go("mlflow")}, REPS[size.name])
    finally:
        servers["mlgen"].send_signal(signal.SIGINT)
        code = servers["mlgen"].wait(timeout=120)
        try:
            os.killpg(servers["mlflow"].pid, signal.SIGTERM)  # its uvicorn child too
        except ProcessLookupError:
            pass
        servers["mlflow"].wait(timeout=120)
        for f in logs.values():
            f.close()
    logged = _logged_rows(tools, root, env)
    if code != 130 or logged != sent_rows:
        raise RuntimeError(f"mlgen serve exited {code}; its log holds {logged} rows of the {sent_rows} it answered")
    rows = []
    for n in (1, 100):
        a, b = results[("mlgen", n)], results[("mlflow", n)]
        thr_a, thr_b = median([r["throughput"] for r in a]), median([r["throughput"] for r in b])
        p50_a, p50_b = median([r["p50"] for r in a]), median([r["p50"] for r in b])
        p99_a, p99_b = median([r["p99"] for r in a]), median([r["p99"] for r in b])
        ratio = thr_b / thr_a  # time per request, mlgen ÷ MLflow
        rows.append(Row(f"serve, {n}-row requests, {CLIENTS} concurrent clients, prediction log on",
                        f"{thr_a:,.0f} req/s · p50 {p50_a * 1000:.1f} ms · p99 {p99_a * 1000:.1f} ms",
                        f"mlflow models serve {thr_b:,.0f} req/s · p50 {p50_b * 1000:.1f} ms · p99 {p99_b * 1000:.1f} ms",
                        ratio, f"≤ {GOAL:g}× (2× throughput) at a lower p99", ratio <= GOAL and p99_a < p99_b,
                        [f"{REPS[size.name]} interleaved runs of {REQUESTS[size.name][n]:,} requests each after a warm-up, "
                         "medians; HistGradientBoosting (100 iterations) on 20 columns; one uvicorn worker each; "
                         f"mlgen's log had all {sent_rows:,} answered rows after SIGINT"]))
    return rows


def _check_same_answers(root: Path, urls: dict[str, str]) -> None:
    """Both servers predict the same labels for the 100-row body (the same model)."""
    expected = json.loads((root / "expected.json").read_text())
    for name, path in (("mlgen", "/predict"), ("mlflow", "/invocations")):
        body = (root / f"{name}-100.json").read_bytes()
        req = urllib.request.Request(urls[name] + path, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            out = json.loads(resp.read())
        got = out["predictions"]
        if got != expected:
            raise RuntimeError(f"{name} predicted {got[:5]}..., expected {expected[:5]}...")


def _logged_rows(tools: Tools, root: Path, env: dict[str, str]) -> int:
    code = ("import glob, pyarrow.parquet as pq; "
            "print(sum(pq.read_metadata(f).num_rows for f in glob.glob('predictions/production/predictions-*.parquet')))")
    out = subprocess.run([str(tools.python), "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())
