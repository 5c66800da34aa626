"""Lowering of the ecosystem settings: DVC pulls, CI secrets per command, MLflow/DVC tools in
the setup line, the scan job between evaluate and deploy, and which job posts the review report."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgen.compile import build_plan
from mlgen_runtime.contract import Plan

BASE = """
[project]
name = "p"

[data]
path = "data/train.csv"
target = "y"
task = "classification"
reference = "data/ref.csv"
{data}

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[evaluate]
metrics = ["accuracy"]

{rest}
"""


def installs(tmp_path: Path, job: str) -> list[str]:
    """The packages `job` installs (its .mlgen/install file, unlocked: one range a line)."""
    from mlgen.compile import compile_spec

    text = compile_spec(tmp_path / "mlproject.toml", tmp_path).files[f".mlgen/install/{job}.txt"]
    return [ln.split(">")[0] for ln in text.splitlines() if ln and not ln.startswith("#")]


def plan_of(tmp_path: Path, data: str = "", rest: str = "") -> Plan:
    spec = tmp_path / "mlproject.toml"
    spec.write_text(BASE.format(data=data, rest=rest))
    return build_plan(spec, tmp_path)


DEPLOY = """
[deploy]
registry = "mlflow+http://127.0.0.1:5000"
secrets = ["MLFLOW_TRACKING_TOKEN"]
[[deploy.environments]]
name = "staging"
"""


def test_without_dvc_no_pull_and_no_secrets(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)
    assert all(not c.startswith("dvc ") for j in plan.jobs for c in j.commands)
    assert all(j.command_secrets == () for j in plan.jobs)
    assert plan.secrets_environment is None
    assert all("dvc" not in installs(tmp_path, j.name) for j in plan.jobs)


def test_dvc_pull_precedes_the_runtime_in_jobs_that_read_data(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, 'dvc = true\ndvc_secrets = ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"]', DEPLOY)
    validate = plan.job("validate")
    assert validate.commands[0] == "dvc pull data/train.csv data/ref.csv"
    assert validate.command_secrets == (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), ())
    for name in ("train", "evaluate"):
        assert plan.job(name).commands[0] == "dvc pull data/train.csv"
    # deploys read no data: no pull, the registry's secret on the runtime command only
    deploy = plan.job("deploy-staging")
    assert deploy.commands == ("python -m mlgen_runtime deploy --plan .mlgen/plan.json --env staging",)
    assert deploy.command_secrets == (("MLFLOW_TRACKING_TOKEN",),)
    # evaluate opens the registry (champion) and pulls the data: each command its own secrets
    assert plan.job("evaluate").command_secrets == (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), ("MLFLOW_TRACKING_TOKEN",))
    assert plan.job("rollback-staging").command_secrets == (("MLFLOW_TRACKING_TOKEN",),)
    assert plan.job("train").secrets == ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    assert plan.secrets_environment == "ci-secrets"
    # each job installs only what it uses: dvc where it pulls, the registry client where it opens it
    assert {"dvc", "mlflow-skinny"} <= set(installs(tmp_path, "evaluate"))
    assert "mlflow-skinny" not in installs(tmp_path, "train") and "dvc" in installs(tmp_path, "train")
    assert "dvc" not in installs(tmp_path, "deploy-staging") and "mlflow-skinny" in installs(tmp_path, "deploy-staging")


def test_files_written_by_a_stage_are_not_pulled(tmp_path: Path) -> None:
    stage = '\n[[stages]]\nname = "fetch"\ncmd = "python fetch.py"\nouts = ["data/train.csv"]\n'
    plan = plan_of(tmp_path, "dvc = true", stage)
    assert plan.job("validate").commands[0] == "dvc pull data/ref.csv"
    assert plan.job("train").commands == ("python -m mlgen_runtime train --plan .mlgen/plan.json",)


def test_scan_sits_between_evaluate_and_deploy_and_owns_the_review(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "", "[scan]\n" + DEPLOY)
    scan = plan.job("scan")
    assert scan.kind == "scan"
    assert scan.needs == ("evaluate", "train")
    assert set(scan.consumes) == {"evaluate", "train"}
    assert scan.produces is not None and scan.produces.paths == (".mlgen/out/scan",)
    assert scan.reports == (".mlgen/out/scan/junit.xml",) and scan.summary == ".mlgen/out/scan/report.md"
    assert "scan" in plan.job("deploy-staging").needs and "scan" in plan.job("deploy-staging").consumes
    assert plan.review_jobs() == (plan.job("evaluate"), scan)  # the scan's report is the fuller one
    names = [j.name for j in plan.jobs]
    assert names.index("evaluate") < names.index("scan") < names.index("deploy-staging")


def test_without_scan_evaluate_owns_the_review(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "", DEPLOY)
    assert [j.kind for j in plan.review_jobs()] == ["evaluate"]
    assert "scan" not in plan.job("deploy-staging").needs


def test_scan_retrains_on_drift(tmp_path: Path) -> None:
    monitor = '\n[monitor]\nschedule = "0 6 * * 1"\ndata = "data/live.csv"\n'
    plan = plan_of(tmp_path, "", "[scan]\n" + DEPLOY + monitor)
    assert plan.job("scan").on_drift


@pytest.mark.parametrize("registry", ["models", "mlflow+sqlite:///reg/mlflow.db", "mlflow+https://mlflow.example.com:8443/base"])
def test_registry_forms_are_accepted(tmp_path: Path, registry: str) -> None:
    plan = plan_of(tmp_path, "", f'[deploy]\nregistry = "{registry}"\n[[deploy.environments]]\nname = "staging"\n')
    assert plan.settings["deploy"]["registry"] == registry
    tools = set(installs(tmp_path, "deploy-staging")) & {"mlflow", "mlflow-skinny"}
    assert tools == (set() if registry == "models" else {"mlflow"} if "sqlite" in registry else {"mlflow-skinny"})
