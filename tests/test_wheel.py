"""A wheel built from the repository works outside it: templates and schemas are inside."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
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
        "mlgen/backends/jenkins/render.py",
        "mlgen/backends/github/pins.json",
        "mlgen/cli.py",
        "mlgen_runtime/cli.py",
        "mlgen_runtime/requirements.txt",
    ):
        assert needed in names, needed


def test_wheel_installs_and_compiles_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # The dependencies come from this interpreter's site-packages through a .pth line (no network
    # in tests). A path listed in a .pth is not itself scanned for .pth files, so the editable
    # install of mlgen there is invisible: mlgen can only come from the wheel.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "_mlgen_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
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
    assert (work / ".mlgen/runtime/MANIFEST.json").is_file(), "the runtime bundle comes from the wheel"
    init_dir = tmp_path / "fresh"
    init_dir.mkdir()
    assert subprocess.run([mlgen, "init"], cwd=init_dir, env=env).returncode == 0
    assert subprocess.run([mlgen, "compile"], cwd=init_dir, env=env).returncode == 0


def _third_party_imports(package: Path) -> dict[str, set[str]]:
    """Top-level modules imported anywhere in `package` that are neither stdlib nor ours."""
    import ast

    found: dict[str, set[str]] = {}
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("mlgen", "mlgen_runtime", "__future__"):
                    found.setdefault(top, set()).add(source.relative_to(ROOT).as_posix())
    return found


def _normal(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def test_wheel_declares_every_library_the_compiler_imports(wheel: Path) -> None:
    """The install test above borrows this venv's site-packages, so it cannot notice a missing
    dependency; this reads the wheel's own Requires-Dist instead."""
    import importlib.metadata as md
    import re

    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    declared = {_normal(re.split(r"[\s<>=!~;\[(]", line.split(":", 1)[1].strip())[0])
                for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line}
    # what a declared dependency itself requires is installed with it (pydantic brings pydantic-core)
    reachable = set(declared)
    for dist in declared:
        for req in md.requires(dist) or []:
            if "extra ==" not in req:
                reachable.add(_normal(re.split(r"[\s<>=!~;\[(]", req)[0]))
    owners = md.packages_distributions()
    missing = {mod: sorted(files) for mod, files in _third_party_imports(ROOT / "compiler").items()
               if not {_normal(d) for d in owners.get(mod, [mod])} & reachable}
    assert not missing, f"imported by the compiler but not required by the wheel: {missing}"
