"""`mlgen registry list|promote|rollback`: people move the registry through the compiler's CLI,
which runs the bundled runtime of the compiled project (exit codes and messages pass through)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgen.cli import main
from mlgen_runtime.registry import Registry
from tests.runtime.test_registry import make_model

SPEC = """[project]
name = "reg"

[data]
path = "data/train.csv"
target = "y"
task = "classification"
allow_extra = true

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[evaluate]
metrics = ["accuracy"]

[deploy]
registry = "models"
environments = [{ name = "staging" }, { name = "production", approval = "manual" }]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "mlproject.toml").write_text(SPEC)
    monkeypatch.chdir(root)
    assert main(["compile", "-q"]) == 0
    reg = Registry(Path("models"), root)
    for i in range(2):  # versions 1 and 2, as two deploys would have registered them
        folder = tmp_path / f"model{i}"
        folder.mkdir()
        make_model(folder, c=0.5 * (i + 1))
        assert reg.register(folder) == i + 1
    return root


def aliases(root: Path) -> dict[str, int]:
    return json.loads((root / "models/aliases.json").read_text())


def test_promote_list_and_rollback(project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["registry", "promote", "--env", "staging", "--version", "1"]) == 0
    assert main(["registry", "promote", "--env", "staging", "--version", "2"]) == 0
    assert main(["registry", "promote", "--env", "production", "--version", "1"]) == 0
    assert aliases(project) == {"production": 1, "staging": 2}
    capfd.readouterr()
    assert main(["registry", "list"]) == 0
    listed = capfd.readouterr().out
    assert "staging" in listed and "production" in listed and "2" in listed
    # rollback: to the version deployed before; then a named version
    assert main(["registry", "rollback", "--env", "staging"]) == 0
    assert aliases(project)["staging"] == 1
    assert main(["registry", "promote", "--env", "staging", "--version", "2"]) == 0
    assert main(["registry", "rollback", "--env", "staging", "--to", "1"]) == 0  # a version deployed there before
    assert aliases(project)["staging"] == 1
    history = [json.loads(line) for line in (project / "models/history.jsonl").read_text().splitlines()]
    assert len(history) >= 5, "every move is in the append-only history"


def test_bad_requests_are_exit_2_and_change_nothing(project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["registry", "promote", "--env", "staging", "--version", "1"]) == 0
    before = (project / "models/aliases.json").read_text()
    assert main(["registry", "promote", "--env", "staging"]) == 2  # no --version
    assert "needs --version" in capfd.readouterr().err
    assert main(["registry", "promote", "--env", "staging", "--version", "9"]) == 2
    assert "9" in capfd.readouterr().err
    assert main(["registry", "rollback", "--env", "production"]) == 2  # nothing deployed there yet
    assert "production" in capfd.readouterr().err
    assert main(["registry", "explode"]) == 2
    assert "unknown registry action" in capfd.readouterr().err
    assert (project / "models/aliases.json").read_text() == before


def test_compile_force_refuses_a_symlinked_runtime_folder(project: Path, tmp_path: Path,
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    """`.mlgen/runtime` as a symlink to a folder outside the repository: compile --force
    refuses (exit 2, one line) and neither deletes nor writes anything there."""
    import shutil

    from mlgen.backends.common import GENERATED_MARKER

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "old_module.py").write_text(f"# {GENERATED_MARKER}\nprecious = True\n")  # would be 'obsolete'
    (outside / "notes.txt").write_text("mine\n")
    shutil.rmtree(project / ".mlgen/runtime")
    (project / ".mlgen/runtime").symlink_to(outside, target_is_directory=True)
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    capfd.readouterr()
    for args in (["compile", "--force"], ["compile"]):
        assert main(args) == 2
        err = capfd.readouterr().err
        assert ".mlgen/runtime is a symbolic link" in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before
