"""`mlgen run` skips its compile only while the plan is current (runstamp.py), and compiles
again when the spec, a generated file, a required file or the toolchain changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlgen import commands, runstamp
from mlgen.cli import main

SPEC = """
[project]
name = "fast"

[data]
path = "data/train.csv"
target = "y"
task = "regression"
allow_extra = true

[train]
estimator = "sklearn.linear_model.Ridge"

[evaluate]
metrics = ["r2"]

[[stages]]
name = "gen"
cmd = "mkdir -p gen && cp src.txt gen/out.txt && echo ran >> log.txt"
deps = ["src.txt"]
outs = ["gen"]
"""


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "mlproject.toml").write_text(SPEC)
    (tmp_path / "src.txt").write_text("a\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = commands._compile

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(commands, "_compile", counting)
    return calls


def test_run_skips_compile_while_plan_is_current(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_compiles(monkeypatch)
    assert main(["run", "gen"]) == 0
    assert len(calls) == 1 and (proj / runstamp.STAMP).is_file()
    assert main(["run", "gen"]) == 0
    assert main(["run", "gen"]) == 0
    assert len(calls) == 1, "nothing changed: no compile"
    assert (proj / "log.txt").read_text().split() == ["ran"]


def test_run_recompiles_when_spec_changes(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_compiles(monkeypatch)
    assert main(["run", "gen"]) == 0
    plan = json.loads((proj / ".mlgen/plan.json").read_text())
    (proj / "mlproject.toml").write_text(SPEC.replace("cp src.txt", "cat src.txt src.txt >"))
    assert main(["run", "gen"]) == 0
    assert len(calls) == 2
    new_plan = json.loads((proj / ".mlgen/plan.json").read_text())
    assert new_plan["spec_sha256"] != plan["spec_sha256"]
    assert "cat src.txt src.txt" in new_plan["jobs"][0]["commands"][0]
    assert (proj / "log.txt").read_text().split() == ["ran", "ran"], "the changed stage ran again"


def test_run_recompiles_a_stale_plan_after_compile_of_another_version(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_compiles(monkeypatch)
    assert main(["run", "gen"]) == 0
    original = (proj / "mlproject.toml").read_text()
    (proj / "mlproject.toml").write_text(original.replace('name = "fast"', 'name = "other"'))
    assert main(["compile", "-q"]) == 0
    (proj / "mlproject.toml").write_text(original)  # same spec as the stamp, but the files changed
    assert main(["run", "gen"]) == 0
    assert len(calls) == 3
    assert json.loads((proj / ".mlgen/plan.json").read_text())["project"] == "fast"


@pytest.mark.parametrize("change", ["edit-output", "delete-output", "toolchain", "stamp-garbage"])
def test_run_recompiles_when_anything_else_changed(change: str, proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_compiles(monkeypatch)
    assert main(["run", "gen"]) == 0
    if change == "edit-output":
        with (proj / ".gitlab-ci.yml").open("a") as fh:
            fh.write("# hand edit\n")
    elif change == "delete-output":
        (proj / ".mlgen/plan.json").unlink()
    elif change == "toolchain":
        monkeypatch.setattr(runstamp, "toolchain", lambda: "another mlgen")
    else:
        (proj / runstamp.STAMP).write_text("{not json")
    assert main(["run", "gen"]) == 0
    assert len(calls) == 2
    assert main(["compile", "--check"]) == 0


def test_run_recompiles_when_a_required_file_is_gone(proj: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (proj / "reqs.txt").write_text("numpy\n")
    text = SPEC.replace('name = "fast"', 'name = "fast"\nrequirements = ["reqs.txt"]')
    (proj / "mlproject.toml").write_text(text)
    assert main(["run", "gen"]) == 0
    (proj / "reqs.txt").unlink()
    capsys.readouterr()
    assert main(["run", "gen"]) == 2
    assert "E211" in capsys.readouterr().err


def test_toolchain_fingerprint_is_stable() -> None:
    assert runstamp.toolchain() == runstamp.toolchain()
