"""`mlgen compile` warns when a folder registry meets runners that discard it (GitHub-hosted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgen.cli import main

SPEC = """[project]
name = "fraud"

[data]
path = "data/tx.csv"
target = "is_fraud"

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[deploy]
{registry}
[[deploy.environments]]
name = "staging"
"""


def compile_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str], registry: str, *providers: str) -> list[str]:
    (tmp_path / "mlproject.toml").write_text(SPEC.format(registry=registry), encoding="utf-8")
    args = ["compile", "--spec", str(tmp_path / "mlproject.toml")]
    for p in providers:
        args += ["--provider", p]
    capsys.readouterr()
    assert main(args) == 0  # a warning never stops the compile
    err = capsys.readouterr().err
    return [line for line in err.splitlines() if "deploy.registry" in line]


@pytest.mark.parametrize("registry", ["", 'registry = "models"', 'registry = "ops/registry"'])
def test_a_folder_registry_on_github_hosted_runners_is_warned_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], registry: str) -> None:
    (line,) = compile_warnings(tmp_path, capsys, registry)  # default providers: all three
    assert line.startswith("mlgen: warning: github: deploy.registry ")
    assert "GitHub-hosted runners (runs-on: ubuntu-24.04)" in line
    assert "repository variable MLGEN_REGISTRY" in line and "s3://" in line and "self-hosted" in line


@pytest.mark.parametrize("registry", ['registry = "s3://bucket/models"', 'registry = "az://models/fraud"',
                                      'registry = "gs://bucket/p"', 'registry = "mlflow+http://mlflow:5000"'])
def test_no_warning_for_registries_that_outlive_the_runner(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], registry: str) -> None:
    assert compile_warnings(tmp_path, capsys, registry) == []


@pytest.mark.parametrize("provider", ["gitlab", "jenkins"])
def test_no_warning_where_runners_may_keep_a_volume(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], provider: str) -> None:
    # whether a GitLab runner or Jenkins agent keeps a shared path is the operator's setup
    assert compile_warnings(tmp_path, capsys, 'registry = "models"', provider) == []


def test_backends_know_the_registry_jobs_lowering_knows() -> None:
    from mlgen.backends.common import REGISTRY_KINDS
    from mlgen.plan.lower import REGISTRY_KINDS as LOWERED

    assert REGISTRY_KINDS == LOWERED
