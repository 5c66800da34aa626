"""A wheel built from the repository works outside it: templates and schemas are inside."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import golden

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True,
    )
    (whl,) = out.glob("mlgen-*.whl")
    return whl


def test_wheel_contains_templates_schemas_and_pins(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "mlgen/schemas/mlproject.schema.json",
        "mlgen/templates/init/mlproject.toml.j2",
        "mlgen/backends/jenkins/Jenkinsfile.j2",
        "mlgen/backends/github/pins.json",
        "mlgen/cli.py",
    ):
        assert needed in names, needed


def test_wheel_installs_and_compiles_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # system site-packages provide the dependencies (no network in tests); mlgen itself comes
    # from the wheel, which the venv's own site-packages put ahead of any editable install
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    work = tmp_path / "project"
    work.mkdir()
    golden.copy_inputs("full", work)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([py, "-c", "import mlgen; print(mlgen.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(venv)), f"mlgen imported from {where}, not the wheel"
    mlgen = venv / "bin" / "mlgen"
    res = subprocess.run([mlgen, "compile"], cwd=work, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    for rel, data in golden.expected("full").items():
        assert (work / rel).read_bytes() == data, rel
    init_dir = tmp_path / "fresh"
    init_dir.mkdir()
    assert subprocess.run([mlgen, "init"], cwd=init_dir, env=env).returncode == 0
    assert subprocess.run([mlgen, "compile"], cwd=init_dir, env=env).returncode == 0
