"""DVC-tracked data against a real DVC (a local directory remote): with `data.dvc = true` the
jobs that read data run `dvc pull` first, so `mlgen run` restores data the working copy lacks.
In CI (CI=true) a missing dvc fails instead of skipping."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
DVC = shutil.which("dvc", path=str(BIN)) or shutil.which("dvc")

if DVC is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("dvc is not installed; CI installs it with the test extra")
    pytest.skip("dvc not installed (pip install dvc)", allow_module_level=True)

SPEC = """
[project]
name = "dvc-demo"
seed = 1

[data]
path = "data/train.csv"
target = "target"
task = "classification"
reference = "data/reference.csv"
allow_extra = true
dvc = true

[validate]
min_rows = 100

[train]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 500 }

[evaluate]
metrics = ["accuracy"]
gates = { accuracy = { min = 0.8 } }
"""


def sh(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{args}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture()
def tracked(tmp_path: Path) -> Path:
    """A project whose data is in a DVC directory remote and absent from the working copy."""
    from sklearn.datasets import load_breast_cancer

    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    frame = load_breast_cancer(as_frame=True).frame
    frame.iloc[:400].to_csv(project / "data" / "train.csv", index=False)
    frame.iloc[400:].to_csv(project / "data" / "reference.csv", index=False)
    (project / "mlproject.toml").write_text(SPEC)
    sh(project, "dvc", "init", "--no-scm", "-q")
    sh(project, "dvc", "config", "core.analytics", "false")
    sh(project, "dvc", "remote", "add", "-d", "store", str(tmp_path / "remote"))
    sh(project, "dvc", "add", "-q", "data/train.csv", "data/reference.csv")
    sh(project, "dvc", "push", "-q")
    for f in ("train.csv", "reference.csv"):
        (project / "data" / f).unlink()
    shutil.rmtree(project / ".dvc" / "cache")  # a fresh runner has neither the files nor the cache
    return project


def test_mlgen_run_pulls_tracked_data_before_validation(tracked: Path) -> None:
    sh(tracked, str(BIN / "mlgen"), "compile", "-q", "--provider", "github")
    assert not (tracked / "data" / "train.csv").exists()
    out = sh(tracked, str(BIN / "mlgen"), "run", "validate")
    assert (tracked / "data" / "train.csv").is_file() and (tracked / "data" / "reference.csv").is_file()
    assert (tracked / ".mlgen" / "out" / "validate" / "junit.xml").is_file(), out.stdout
    workflow = (tracked / ".github" / "workflows" / "mlgen.yml").read_text()
    assert "run: dvc pull data/train.csv data/reference.csv" in workflow


def test_a_missing_remote_object_fails_the_job(tracked: Path) -> None:
    shutil.rmtree(tracked.parent / "remote")
    sh(tracked, str(BIN / "mlgen"), "compile", "-q", "--provider", "github")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(BIN / "mlgen"), "run", "validate"], cwd=tracked, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert not (tracked / ".mlgen" / "out" / "validate" / "junit.xml").exists()
