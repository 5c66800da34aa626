"""mlgen.lock: per-job install files derived from it, staleness (compile warns, --check and the
first CI step fail), one-line errors leaving the old lock untouched, and (slow, PyPI) a real
`mlgen lock` whose job file installs hash-checked into a fresh venv and refuses a tampered hash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from mlgen import lockfile
from mlgen.compile import compile_spec
from mlgen.spec.load import load_spec

ROOT = Path(__file__).resolve().parent.parent
MLGEN = [sys.executable, "-m", "mlgen"]
SPEC = """
[project]
name = "p"
python = "{python}"
requirements = ["requirements.txt"]

[data]
path = "data/train.csv"
target = "y"
task = "classification"
reference = "data/ref.csv"

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[evaluate]
metrics = ["accuracy"]

[deploy]
registry = "models"
[[deploy.environments]]
name = "staging"
"""


def project(tmp_path: Path, python: str = "3.12", req: str = "joblib\n") -> Path:
    (tmp_path / "mlproject.toml").write_text(SPEC.format(python=python))
    (tmp_path / "requirements.txt").write_text(req)
    return tmp_path / "mlproject.toml"


def fixture_lock(spec_file: Path) -> None:
    """The root lock's pins under a header current for `spec_file` (no resolution needed)."""
    spec = load_spec(spec_file).spec
    body = (ROOT / "mlgen.lock").read_text().split("\n", 4)[4]
    (spec_file.parent / "mlgen.lock").write_text(lockfile.header(spec, spec_file.parent) + body)


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **env})


def test_root_job_files_are_closed_and_minimal() -> None:
    entries = lockfile.parse((ROOT / "mlgen.lock").read_text())
    for path in (ROOT / ".mlgen/install").glob("*.txt"):
        names = set(lockfile.parse(path.read_text()))
        assert names, path
        for name in names:  # every dependency of a package in the file is in the file
            deps = {e.name for e in entries.values() if name in e.via}
            assert deps <= names, (path.name, name, deps - names)
    deploy = set(lockfile.parse((ROOT / ".mlgen/install/deploy-production.txt").read_text()))
    assert "matplotlib" not in deploy and "pyarrow" not in deploy and "scikit-learn" in deploy
    assert "matplotlib" in lockfile.parse((ROOT / ".mlgen/install/evaluate.txt").read_text())
    assert set(lockfile.parse((ROOT / ".mlgen/install/uv.txt").read_text())) == {"uv"}
    text = (ROOT / "mlgen.lock").read_text()
    assert "/tmp" not in text and "--hash=sha256:" in text


def test_unlocked_compile_warns_once_and_installs_ranges(tmp_path: Path) -> None:
    spec_file = project(tmp_path)
    compiled = compile_spec(spec_file, tmp_path)
    lock_lines = [w for w in compiled.warnings if "lock" in w]  # other checks may warn too
    assert lock_lines == ["no mlgen.lock: installs are not pinned; run `mlgen lock`"]
    job = compiled.plan.job("train")
    assert job.setup == ("python -m pip install -r .mlgen/install/train.txt -r requirements.txt",)
    assert job.install_cache is None
    assert "numpy>=" in compiled.files[".mlgen/install/train.txt"]


def test_locked_compile_and_staleness(tmp_path: Path) -> None:
    spec_file = project(tmp_path)
    fixture_lock(spec_file)
    compiled = compile_spec(spec_file, tmp_path)
    assert not [w for w in compiled.warnings if "lock" in w]
    train, deploy = compiled.plan.job("train"), compiled.plan.job("deploy-staging")
    assert train.setup[0] == "python -m mlgen_runtime.lockcheck"
    assert "--require-hashes" in train.setup[2] and train.install_cache == ".mlgen/install/train.txt"
    assert deploy.install_cache is None  # never a cache in deploys
    assert ("UV_CACHE_DIR", ".mlgen/uv-cache") in compiled.plan.env
    assert "matplotlib" not in lockfile.parse(compiled.files[".mlgen/install/deploy-staging.txt"])
    assert run([*MLGEN, "compile", "-q"], tmp_path).returncode == 0
    assert run([*MLGEN, "compile", "--check"], tmp_path).returncode == 0
    check = [sys.executable, "-m", "mlgen_runtime.lockcheck"]
    pythonpath = str(tmp_path / ".mlgen/runtime")
    assert run(check, tmp_path, PYTHONPATH=pythonpath).returncode == 0
    # the project's requirements change without a new lock: stale everywhere
    (tmp_path / "requirements.txt").write_text("joblib\nrich\n")
    res = run([*MLGEN, "compile", "--check"], tmp_path)
    assert res.returncode == 1 and "run `mlgen lock`" in res.stderr
    assert len([ln for ln in res.stderr.splitlines() if "mlgen lock" in ln]) == 1
    assert "mlgen.lock is stale" in run([*MLGEN, "compile", "-q"], tmp_path).stderr
    ci = run(check, tmp_path, PYTHONPATH=pythonpath)
    assert ci.returncode == 1 and "run `mlgen lock`" in ci.stderr


def test_lock_without_network_is_one_line_exit_2_and_keeps_the_old_lock(tmp_path: Path) -> None:
    spec_file = project(tmp_path)
    old = "# an old lock\n"
    (tmp_path / "mlgen.lock").write_text(old)
    res = run([*MLGEN, "lock"], tmp_path, UV_OFFLINE="1", UV_CACHE_DIR=str(tmp_path / "empty-cache"))
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("mlgen: ") and "cannot resolve the lock" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert (tmp_path / "mlgen.lock").read_text() == old
    assert spec_file.exists()


@pytest.mark.slow
def test_real_lock_installs_hash_checked_and_refuses_a_tampered_hash(tmp_path: Path) -> None:
    """Against PyPI: lock for this interpreter's Python, compile, run a job's setup lines in a
    fresh venv (its bin first on PATH, as setup-python / python:3.x images put `python`)."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    spec_file = project(tmp_path, python)
    res = run([*MLGEN, "lock"], tmp_path)
    assert res.returncode == 0, res.stderr
    first = (tmp_path / "mlgen.lock").read_text()
    assert run([*MLGEN, "lock"], tmp_path).returncode == 0  # pins kept: same bytes
    assert (tmp_path / "mlgen.lock").read_text() == first
    assert run([*MLGEN, "compile", "-q"], tmp_path).returncode == 0
    plan = compile_spec(spec_file, tmp_path).plan

    def setup_in_fresh_venv(name: str) -> subprocess.CompletedProcess[str]:
        env_dir = tmp_path / f"venv-{name}"
        venv.create(env_dir, with_pip=True)
        env = {**os.environ, "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": ".mlgen/runtime", "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
        env.pop("VIRTUAL_ENV", None)
        script = " && ".join(plan.job("deploy-staging").setup)
        return subprocess.run(["bash", "-c", script + " && python -c 'import sklearn, joblib; print(sklearn.__version__)'"],
                              cwd=tmp_path, env=env, capture_output=True, text=True)

    ok = setup_in_fresh_venv("ok")
    assert ok.returncode == 0, ok.stderr[-2000:]
    locked = lockfile.parse(first)["scikit-learn"].text.split("==")[1].split()[0]
    assert ok.stdout.strip().splitlines()[-1] == locked  # the lock's exact version
    # a tampered hash: uv refuses to install (even from its warm cache)
    job_file = tmp_path / ".mlgen/install/deploy-staging.txt"
    text = job_file.read_text()
    entry = lockfile.parse(text)["joblib"].text
    job_file.write_text(text.replace(entry, _tamper(entry)))
    bad = setup_in_fresh_venv("bad")
    assert bad.returncode != 0
    assert "hash" in bad.stderr.lower(), bad.stderr[-2000:]


def _tamper(entry: str) -> str:
    import re

    return re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, entry)
