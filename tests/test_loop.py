"""The loop end to end (issue 17): serve the deployed demo model with `mlgen serve` (a real
subprocess on a free loopback port), send it drifted traffic, run the monitor on the prediction log
it wrote, and see the retraining path start: locally with `mlgen run --schedule`, and on
gitlab-ci-local with the log committed in the repository (gitlab-ci-local copies tracked files
only). The container's entry point is run the same way, without Docker (Docker is not available
offline): the image's files laid out as its COPY lines say, its install step in a fresh venv, then
its ENTRYPOINT, asked for /health and one /predict.

One trained project, one served session and one log are shared by every test here (module fixtures).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
MLGEN = [sys.executable, "-m", "mlgen"]
LOG = "predictions/production"

SPEC = f"""\
[project]
name = "loop"
python = "{sys.version_info.major}.{sys.version_info.minor}"
seed = 42

[data]
path = "data/train.csv"
target = "malignant"
task = "classification"
reference = "data/reference.csv"
allow_extra = true

[data.columns]
"mean radius" = {{ type = "float", min = 0 }}
"size" = {{ type = "category", values = ["small", "medium", "large"] }}

[train]
estimator = "sklearn.ensemble.HistGradientBoostingClassifier"
params = {{ max_iter = 50 }}

[evaluate]
metrics = ["roc_auc", "accuracy"]
gates = {{ accuracy = {{ min = 0.9 }} }}

[deploy]
registry = "models"

[[deploy.environments]]
name = "production"
approval = "auto"

[monitor]
schedule = "0 6 * * 1"
data = "{LOG}"
drift = {{ method = "ks", threshold = 0.01 }}
min_rows = 50

[serve]
container = true

[ci]
providers = ["gitlab"]

[[stages]]
name = "get-data"
cmd = "python demo/make_data.py data"
deps = ["demo/make_data.py"]
outs = ["data"]
before = "validate"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_healthy(base: str, proc: subprocess.Popen[str]) -> None:
    """Poll /health until the server answers 200 (a readiness wait, not a timed assertion)."""
    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if http("GET", f"{base}/health")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError("server never became healthy")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)  # graceful: the log is flushed
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def drifted_live(project: Path) -> pd.DataFrame:
    live = pd.read_csv(project / "data/live.csv")
    return live.assign(**{"mean radius": live["mean radius"] * 1.5})


@dataclass
class Loop:
    project: Path
    served: list[dict[str, Any]]  # the /predict responses
    log_rows: int
    server_err: str


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    project = tmp_path_factory.mktemp("loop") / "project"
    project.mkdir()
    (project / "mlproject.toml").write_text(SPEC)
    shutil.copytree(ROOT / "demo", project / "demo")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    push = subprocess.run([*MLGEN, "run"], cwd=project, capture_output=True, text=True, env=env)
    assert push.returncode == 0, push.stdout + push.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([*MLGEN, "serve", "--port", str(port)], cwd=project, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        wait_healthy(base, proc)
        records = json.loads(drifted_live(project).to_json(orient="records"))
        served = []
        for i in range(0, len(records), 40):  # a few requests of production traffic
            status, body = http("POST", f"{base}/predict", records[i:i + 40])
            assert status == 200, body
            served.append(body)
    finally:
        err = stop(proc)
    files = sorted((project / LOG).glob("predictions-*.parquet"))
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    yield Loop(project, served, rows, err)


def test_the_server_logged_every_request(loop: Loop) -> None:
    assert loop.log_rows == len(pd.read_csv(loop.project / "data/live.csv")) == 114
    assert not list((loop.project / LOG).glob("*.tmp"))


def test_local_schedule_retrains_on_the_drifted_log(loop: Loop) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # no --force: the retraining jobs' inputs did not change since the push, so they may be served
    # from the stage cache; what matters is that the drift gate let them through
    run = subprocess.run([*MLGEN, "run", "--schedule"], cwd=loop.project, capture_output=True, text=True, env=env)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    monitor = loop.project / ".mlgen/out/monitor"
    assert (monitor / "drifted").read_text() == "true\n"
    result = json.loads((monitor / "drift.json").read_text())
    assert (result["source"], result["current"], result["window"]["rows"]) == ("prediction log", LOG, 114)
    assert "mean radius" in result["drifted_columns"] and result["reasons"][0].startswith("drift in ")
    assert "no drift: nothing to retrain" not in out
    for job in ("validate", "train", "evaluate", "deploy-production"):
        (row,) = [ln for ln in out.splitlines() if re.match(rf"^│ {re.escape(job)}\s+│", ln)]  # the summary table
        assert re.match(rf"^│ {re.escape(job)}\s+│ (ran|cached) ", row), out


def test_gitlab_schedule_retrains_on_the_committed_log(loop: Loop, tmp_path: Path) -> None:
    from tests.test_exec_gitlab import GATE, RETRAIN, passed, run_pipeline, without_after_script

    project = tmp_path / "project"
    shutil.copytree(loop.project, project, ignore=shutil.ignore_patterns(".mlgen", "models", "data"))
    proc = subprocess.run([*MLGEN, "compile", "--provider", "gitlab"], cwd=project, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for rel in (".gitlab-ci.yml", ".mlgen/gitlab/retrain.yml", ".mlgen/gitlab/no-retrain.yml"):
        without_after_script(project / rel)
    assert list((project / LOG).glob("predictions-*.parquet"))  # committed with the project
    run = run_pipeline(project, tmp_path / "run", tmp_path / "registry", "--variable", "CI_PIPELINE_SOURCE=schedule")
    assert run.rc == 0, run.out
    child = [f"{RETRAIN} -> {j}" for j in ("get-data", "validate", "train", "evaluate", "deploy-production")]
    assert run.results == passed("get-data", "monitor", GATE, RETRAIN, *child), run.out
    assert run.artifact("monitor", ".mlgen/out/monitor/drifted").read_text() == "true\n"
    assert "Retrain: drift in " in run.artifact("monitor", ".mlgen/out/monitor/report.md").read_text()
    assert run.aliases == {"production": 1}


def test_the_container_entry_point_serves_without_docker(loop: Loop, tmp_path: Path) -> None:
    """The image without Docker: its COPY lines laid out in a fresh folder, its install step in a
    fresh venv (from mlgen.lock, hash-checked), its ENTRYPOINT run as written; /health and /predict."""
    import dockerfile

    project = tmp_path / "context"
    shutil.copytree(loop.project, project, ignore=shutil.ignore_patterns(".mlgen", LOG.split("/")[0]))
    for cmd in ([*MLGEN, "lock"], [*MLGEN, "compile", "--provider", "gitlab"]):  # the lock: PyPI, as `mlgen lock` does
        proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    app = tmp_path / "app"  # the image's WORKDIR
    app.mkdir()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin/python")
    env: dict[str, str] = {}
    entry: tuple[str, ...] = ()
    for c in dockerfile.parse_file(str(project / "Dockerfile")):
        if c.cmd == "WORKDIR":
            assert c.value == ("/app",)
        elif c.cmd == "ENV":
            env.update({k: v.replace("/app", str(app)) for k, v in zip(c.value[::2], c.value[1::2])})
        elif c.cmd == "COPY":
            *sources, dest = c.value
            for src in sources:
                target = app / dest if dest.endswith("/") else app / dest
                if (project / src).is_dir():
                    shutil.copytree(project / src, target, dirs_exist_ok=True)
                else:
                    target = target / Path(src).name if dest.endswith("/") else target
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(project / src, target)
        elif c.cmd == "RUN" and "install" in c.value[0]:
            # the image's interpreter is the fresh venv's; uv's --system means "this interpreter";
            # the download caches stay on here (the image turns them off to stay small; every
            # package is hash-checked either way)
            line = (c.value[0].replace("python -m", f"{python} -m").replace("--system", f"--python {python}")
                    .replace(" --no-cache", ""))
            install_env = {**os.environ, **{k: v for k, v in env.items() if k != "PIP_NO_CACHE_DIR"}, "PYTHONPATH": ""}
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", line], cwd=app, capture_output=True, text=True,
                                  env=install_env)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        elif c.cmd == "RUN" and c.value[0].startswith("mkdir -p "):
            subprocess.run(["bash", "-c", c.value[0].split(" && chown")[0]], cwd=app, check=True)
        elif c.cmd == "ENTRYPOINT":
            entry = c.value
    shutil.copytree(project / "models", app / "models")  # the registry volume the header comment mounts
    assert entry[:3] == ("python", "-m", "mlgen_runtime.image_entry") and entry[entry.index("--host") + 1] == "0.0.0.0"
    port = free_port()
    argv = [python, *entry[1:]]
    argv[argv.index("--port") + 1] = str(port)  # a free port here; the image's is serve.port
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    proc = subprocess.Popen(argv, cwd=app, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**clean, **env})
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, proc)
        row = json.loads(drifted_live(project).head(1).to_json(orient="records"))
        status, body = http("POST", f"{base}/predict", row)
        assert status == 200, body
        assert body["model"]["version"] == 1, body
    finally:
        stop(proc)
    assert list((app / LOG).glob("predictions-*.parquet"))  # the entry point logged the request
