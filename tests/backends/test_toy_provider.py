"""A fourth provider from a folder of the tests (tests/backends/toyci/), registered as a
third-party package registers one: a `.dist-info` with an `mlgen.backends` entry point on
PYTHONPATH. Compile, `--check`, the spec checks, the schema and the reference pick it up with no
change to mlgen; every command runs in a fresh interpreter, as a user's would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlgen import backends
from tests.backends import toyci
from tests.conftest import ROOT

SPEC = """\
[project]
name = "tiny"

[data]
path = "data/iris.csv"
target = "species"
task = "classification"
allow_extra = true

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[evaluate]
metrics = ["accuracy"]

[ci]
providers = ["toyci"]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder that holds what `pip install toyci-provider` would leave: its metadata."""
    site = tmp_path_factory.mktemp("site")
    info = site / "toyci_provider-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyci-provider\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[mlgen.backends]\ntoyci = tests.backends.toyci\n")
    return site


def run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(site), str(ROOT))), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "mlproject.toml").write_text(SPEC)
    return tmp_path


def test_not_registered_without_its_entry_point() -> None:
    assert "toyci" not in backends.names()
    assert backends.names() == backends.builtin_names()
    assert {"github", "gitlab", "jenkins"} <= set(backends.builtin_names())  # + the opt-in ones


def test_compile_writes_its_file_and_check_sees_an_edit(site: Path, project: Path) -> None:
    res = run(site, project, "-m", "mlgen", "compile", "--quiet")
    assert res.returncode == 0, res.stdout + res.stderr
    text = (project / "toyci.txt").read_text()
    assert not (project / "Jenkinsfile").exists() and not (project / ".gitlab-ci.yml").exists()
    plan = json.loads((project / ".mlgen" / "plan.json").read_text())
    assert plan["providers"] == ["toyci"]
    # the reader inverts the renderer: every plan job with its needs and shell lines
    read = {j.name: j for j in toyci.read({"toyci.txt": text})}
    assert list(read) == [j["name"] for j in plan["jobs"]]
    for job in plan["jobs"]:
        assert read[job["name"]].needs == tuple(job["needs"])
        assert read[job["name"]].commands == (*job["setup"], *job["commands"])

    res = run(site, project, "-m", "mlgen", "compile", "--check")
    assert res.returncode == 0, res.stdout + res.stderr
    (project / "toyci.txt").write_text(text + "job extra\n")
    res = run(site, project, "-m", "mlgen", "compile", "--check")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "toyci.txt (changed)" in res.stdout + res.stderr


def test_spec_checks_ask_its_constraints(site: Path, project: Path) -> None:
    spec = project / "mlproject.toml"
    cases = {
        # reserved job name, id pattern, forbidden character, expression opener, path rule
        '[[stages]]\nname = "run"\ncmd = "echo"\n': "E203",
        '[[stages]]\nname = "Prep"\ncmd = "echo"\n': "E207",
        '[[stages]]\nname = "prep"\ncmd = "echo a | tee b"\n': "E208",
        '[[stages]]\nname = "prep"\ncmd = "echo %{ x }"\n': "E208",
        '[[stages]]\nname = "prep"\ncmd = "echo"\nouts = ["my out"]\n': "E218",
    }
    for extra, code in cases.items():
        spec.write_text(SPEC + "\n" + extra)
        res = run(site, project, "-m", "mlgen", "validate")
        assert res.returncode == 2 and f"error[{code}]" in res.stdout + res.stderr, (extra, res.stdout + res.stderr)
    # GitHub's and GitLab's rules do not apply to a spec that does not use them
    spec.write_text(SPEC + '\n[[stages]]\nname = "variables"\ncmd = "echo ${{ x }} $[[ y ]]"\n')
    res = run(site, project, "-m", "mlgen", "validate")
    assert res.returncode == 0, res.stdout + res.stderr


def test_schema_and_reference_list_it(site: Path, tmp_path: Path) -> None:
    res = run(site, tmp_path, "-m", "mlgen", "schema")
    assert res.returncode == 0, res.stderr
    schema = json.loads(res.stdout)
    enum = schema["$defs"]["CI"]["properties"]["providers"]["items"]["enum"]
    assert enum == [*backends.builtin_names(), "toyci"]
    (tmp_path / "schema.json").write_text(res.stdout)
    out = tmp_path / "reference.md"
    res = run(site, tmp_path, "-m", "mlgen.docgen", "--schema", str(tmp_path / "schema.json"), "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    assert '`"jenkins"`, `"toyci"`' in out.read_text()


def test_unknown_provider_is_an_error_naming_the_known_ones(site: Path, project: Path) -> None:
    (project / "mlproject.toml").write_text(SPEC.replace('["toyci"]', '["toyc"]'))
    res = run(site, project, "-m", "mlgen", "validate")
    assert res.returncode == 2
    assert "error[E103]: ci.providers[0]: invalid value 'toyc'" in res.stdout + res.stderr
    known = ", ".join(f"'{n}'" for n in backends.builtin_names())
    assert f"expected one of: {known} or 'toyci'" in res.stdout + res.stderr


def test_precommit_pattern_names_its_file(site: Path, tmp_path: Path) -> None:
    code = "from mlgen import backends; print(backends.precommit_files_pattern(('toyci',)))"
    res = run(site, tmp_path, "-c", code)
    assert res.stdout.strip() == r"^(mlproject\.toml|pyproject\.toml|\.mlgen/.*|toyci\.txt)$", res.stderr


@pytest.mark.parametrize("provider", backends.builtin_names())
def test_constraints_and_paths_import_only_the_standard_library(provider: str) -> None:
    """The spec checks load them for every spec; a renderer's imports (ruamel) stay out."""
    import ast

    folder = ROOT / "compiler" / "backends" / provider
    for name in ("constraints.py", "paths.py"):
        tree = ast.parse((folder / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for mod in mods:
                    top = mod.split(".")[0]
                    assert top in sys.stdlib_module_names or top == "__future__" or mod == "mlgen.backends", (name, mod)
    assert isinstance(backends.constraints(provider), backends.Constraints)
    assert backends.constraints(provider).outputs
