"""ruamel.yaml's range in pyproject.toml (`>=LOW,<HIGH`) is tested at both ends: .venv holds the
newest allowed version (every other test runs on it), and the venv that scripts/test.sh makes
under $MLGEN_TOOLS_DIR/ruamel-min holds LOW exactly; with it every golden case compiles to its
expected bytes, every scenario and the root example to the same bytes as with the newest.

A missing or stale ruamel-min venv fails these tests (it never skips them): scripts/test.sh
creates it, and recreates it whenever pyproject.toml changes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support import golden, judges

_RANGE = re.compile(r"^ruamel\.yaml>=(\d+(?:\.\d+)*),<(\d+(?:\.\d+)*)$")


def _bounds() -> tuple[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    found = [m.groups() for d in deps if (m := _RANGE.match(d.replace(" ", "")))]
    assert len(found) == 1, f"pyproject.toml must bound ruamel.yaml as >=LOW,<HIGH: {deps}"
    return found[0]


def _key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def test_venv_has_a_ruamel_inside_the_range() -> None:
    low, high = _bounds()
    installed = version("ruamel.yaml")
    assert _key(low) <= _key(installed) < _key(high), f"ruamel.yaml {installed} outside >={low},<{high}"


_PROBE = "import ruamel.yaml, mlgen; print(ruamel.yaml.__version__); print(mlgen.__file__)"

# Compile every golden case and scenario as tests/test_golden.py does (inside its own folder), in one process;
# print the ruamel.yaml that wrote it and every generated file.
_RENDER = """
import json, os, pathlib, sys, tempfile
import ruamel.yaml
from mlgen.cli import main
from tests.support import golden
out = {}
for case in golden.all_specs():
    with tempfile.TemporaryDirectory() as d:
        spec = golden.copy_inputs(case, pathlib.Path(d))
        os.chdir(d)
        if main(["compile", "-q", "--spec", spec.name, "--out", "."]) != 0:
            sys.exit(f"compile failed for {case}")
        tree = golden.tree(pathlib.Path(d), exclude=golden.inputs(case))
        out[case] = {k: v.decode() for k, v in tree.items()}
print(json.dumps({"ruamel": ruamel.yaml.__version__, "cases": out}, sort_keys=True))
"""


def _env() -> dict[str, str]:
    # nothing of .venv may leak into the other interpreter
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


@pytest.fixture(scope="module")
def lowest_python() -> Path:
    """The interpreter of the ruamel-min venv, checked to hold LOW and this checkout's mlgen."""
    low, _ = _bounds()
    where = judges.tools_dir() / "ruamel-min"
    python = where / "bin" / "python"
    if not python.is_file():
        pytest.fail(f"{where} is missing: run scripts/test.sh, which creates it (ruamel.yaml=={low})", pytrace=False)
    res = subprocess.run([str(python), "-c", _PROBE], cwd=ROOT, env=_env(), capture_output=True, text=True)
    lines = res.stdout.split()
    if res.returncode != 0 or len(lines) != 2:
        pytest.fail(f"{python} cannot import ruamel.yaml and mlgen: {res.stderr.strip()[-500:]}; "
                    "rerun scripts/test.sh", pytrace=False)
    got, mlgen_file = lines
    if got != low:
        pytest.fail(f"{where} has ruamel.yaml {got}, pyproject.toml's lower bound is {low}: rerun scripts/test.sh",
                    pytrace=False)
    if Path(mlgen_file).resolve().parent != (ROOT / "compiler").resolve():
        pytest.fail(f"{where} runs mlgen from {mlgen_file}, not this checkout: rerun scripts/test.sh", pytrace=False)
    return python


def test_goldens_are_the_same_bytes_with_the_lowest_ruamel(lowest_python: Path, tmp_path: Path) -> None:
    """Goldens against their expected/, scenarios against .venv's (the newest ruamel's) compile."""
    low, _ = _bounds()
    res = subprocess.run([str(lowest_python), "-c", _RENDER], cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.splitlines()[-1])
    assert got["ruamel"] == low
    assert sorted(got["cases"]) == golden.all_specs()
    for case in golden.all_specs():
        want = {k: v.decode() for k, v in golden.outputs(case, tmp_path / case).items()}
        assert sorted(got["cases"][case]) == sorted(want), f"{case}: a different set of files with ruamel.yaml {low}"
        for rel in want:
            assert got["cases"][case][rel] == want[rel], f"{case}/{rel} differs with ruamel.yaml {low}"


def test_root_example_is_the_same_bytes_with_the_lowest_ruamel(lowest_python: Path, tmp_path: Path) -> None:
    """The root mlproject.toml compiles to the same files with both ends of the range
    (tests/test_golden_judges.py checks the committed files against the newest)."""
    trees = []
    for n, python in enumerate((sys.executable, str(lowest_python))):
        out = tmp_path / str(n)
        res = subprocess.run([python, "-m", "mlgen", "compile", "-q", "--spec", "mlproject.toml", "--out", str(out)],
                             cwd=ROOT, env=_env(), capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
        trees.append(golden.tree(out))
    assert trees[0], "nothing was generated"
    assert sorted(trees[0]) == sorted(trees[1])
    for rel, data in trees[0].items():
        assert trees[1][rel].decode() == data.decode(), f"root example: {rel} differs with the lowest ruamel.yaml"
