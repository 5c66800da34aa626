"""One served project for the serve tests: penguins (palmerpenguins, a real data set) trained
twice by the real runtime (two registry versions), and a real `mlgen serve` subprocess on a
free loopback port following the `production` alias. Session-scoped: the trains and the server
start once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.realdata.datasets import by_name

MLGEN = Path(sys.executable).with_name("mlgen")
TOKEN_VAR = "MLGEN_SERVE_TEST_TOKEN"
TOKEN = "s3cret-token-for-tests"
ENV = "production"

SPEC = """[project]
name = "penguins"
seed = 7

[data]
path = "data/penguins.csv"
target = "species"
task = "classification"

[data.columns]
species = {{ type = "category", values = ["Adelie", "Chinstrap", "Gentoo"] }}
island = {{ type = "category", values = ["Biscoe", "Dream", "Torgersen"] }}
bill_length_mm = {{ type = "float", min = 0, max = 100, nullable = true }}
bill_depth_mm = {{ type = "float", min = 0, max = 50, nullable = true }}
flipper_length_mm = {{ type = "float", min = 0, max = 300, nullable = true }}
body_mass_g = {{ type = "float", min = 0, max = 10000, nullable = true }}
sex = {{ type = "category", values = ["female", "male"], nullable = true }}
year = {{ type = "int", min = 2000, max = 2100 }}

[train]
estimator = "sklearn.linear_model.LogisticRegression"
params = {{ max_iter = 2000, C = {c} }}

[evaluate]
metrics = ["accuracy"]

[deploy]
registry = "models"
environments = [{{ name = "staging" }}, {{ name = "production" }}]

[serve]
token_env = "{token_var}"
max_rows = 500
max_body_bytes = 200000
poll_seconds = 0.2
log_rotate_rows = 1000
"""


@dataclass
class Served:
    root: Path
    url: str
    proc: subprocess.Popen[bytes]
    versions: dict[int, str]  # version -> model sha256
    frame: Any  # the training data (pandas)
    ids: dict[str, int] = field(default_factory=dict)  # request id -> rows, of every answered /predict
    feedback: int = 0  # feedback rows stored
    models: dict[int, Any] = field(default_factory=dict)  # version -> (model, meta), loaded once

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json",
                token: str | None = TOKEN, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        h = {"Content-Type": content_type, **(headers or {})}
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw, status, ctype = resp.read(), resp.status, resp.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            raw, status, ctype = exc.read(), exc.code, exc.headers.get("content-type", "")
        return status, json.loads(raw) if "json" in ctype else raw.decode()

    def predict(self, records: Any, **kw: Any) -> tuple[int, Any]:
        return self.request("POST", "/predict", json.dumps(records).encode(), **kw)


def run(root: Path, *args: str) -> None:
    proc = subprocess.run([str(MLGEN), *args] if args[0] != "-m" else [sys.executable, *args], cwd=root,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{args}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def train_first(root: Path) -> str:
    """Compile and train (the real runtime, as CI does), register the model: its sha256."""
    from mlgen_runtime.registry import Registry

    (root / "mlproject.toml").write_text(SPEC.format(c=1.0, token_var=TOKEN_VAR))
    run(root, "compile", "-q", "--provider", "gitlab")
    run(root, "-m", "mlgen_runtime", "train", "--plan", ".mlgen/plan.json")
    Registry(Path("models"), root).register(root / ".mlgen/out/model")
    return json.loads((root / ".mlgen/out/model/model.json").read_text())["sha256"]


def train_second(root: Path, folder: Path, c: float) -> str:
    """A second version: the same pipeline refitted with C = c (runtime APIs, in this process,
    to spare a second train job), saved and described like train does, registered."""
    from mlgen_runtime import data, modelio, pipeline
    from mlgen_runtime.context import load_context
    from mlgen_runtime.registry import Registry

    ctx = load_context(root / ".mlgen/plan.json", root)
    meta = json.loads((root / ".mlgen/out/model/model.json").read_text())
    cols = pipeline.Columns.from_dict(meta["features"])
    frame = data.load_training(ctx.settings, root).frame
    train, _ = data.split(frame, ctx.settings)
    X, y = data.features(train, ctx.settings)
    pipe = pipeline.build(ctx.settings, cols, extra={"C": c})
    pipeline.fit(pipe, pipeline.prepare(X, cols), y)
    sha = modelio.save_model(pipe, folder)
    (folder / modelio.META_FILE).write_text(json.dumps({**meta, "sha256": sha, "params": {**meta["params"], "C": c}}))
    Registry(Path("models"), root).register(folder)
    return sha


def start_server(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`mlgen serve --port 0 ...` in `root`; (the process, its base URL) once it answers /health."""
    proc = subprocess.Popen([str(MLGEN), "serve", "--port", "0", *args], cwd=root, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    match = re.search(r"http://([0-9.]+):([0-9]+)", line)
    assert match, f"no address in {line!r}"
    url = f"http://{match.group(1)}:{match.group(2)}"
    os.set_blocking(proc.stderr.fileno(), False)
    for _ in range(600):  # until the lifespan has loaded the first model (not a timed assertion: a bound)
        try:
            with urllib.request.urlopen(url + "/health", timeout=5):
                break
        except urllib.error.HTTPError:
            break  # 503 "no model" also means it is up
        except OSError:
            time.sleep(0.1)
    return proc, url


def stop(proc: subprocess.Popen[bytes]) -> int:
    import signal

    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from mlgen_runtime.registry import Registry

    root = tmp_path_factory.mktemp("serve") / "project"
    (root / "data").mkdir(parents=True)
    frame = by_name("penguins").frame()
    frame.to_csv(root / "data/penguins.csv", index=False)
    versions = {1: train_first(root)}
    versions[2] = train_second(root, root.parent / "model2", 0.01)
    Registry(Path("models"), root).promote(ENV, 1, "serve tests")
    proc, url = start_server(root, env={TOKEN_VAR: TOKEN})
    s = Served(root, url, proc, versions, frame)
    try:
        yield s
    finally:
        if proc.poll() is None:
            stop(proc)
