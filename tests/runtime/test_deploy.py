"""The registry stages through the runtime CLI: deploy, promote, rollback, registry list."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.runtime.conftest import CLASSIFICATION_SPEC, Project
from tests.runtime.test_registry import make_model

SPEC = CLASSIFICATION_SPEC + """
[deploy]
registry = "models"
[[deploy.environments]]
name = "staging"
[[deploy.environments]]
name = "production"
approval = "manual"
"""

Rt = Callable[..., int]


def write_outputs(root: Path, passed: bool | None = True, c: float = 1.0) -> str:
    """What train and evaluate leave in .mlgen/out: a model and (unless None) gate verdicts."""
    model_dir = root / ".mlgen/out/model"
    model_dir.mkdir(parents=True, exist_ok=True)
    for old in model_dir.iterdir():
        old.unlink()
    sha = make_model(model_dir, c=c)
    metrics = root / ".mlgen/out/evaluate/metrics.json"
    metrics.unlink(missing_ok=True)
    if passed is not None:
        metrics.parent.mkdir(parents=True, exist_ok=True)
        gates = [{"metric": "roc_auc", "min": 0.9, "value": 0.97, "passed": True},
                 {"metric": "f1", "min": 0.8, "value": 0.85 if passed else 0.5, "passed": passed}]
        metrics.write_text(json.dumps({"gates": gates, "metrics": {"roc_auc": 0.97}}))
    return sha


@pytest.fixture
def root(project: Project) -> Path:
    return project(SPEC)


def aliases(root: Path) -> dict[str, int]:
    return json.loads((root / "models/aliases.json").read_text())


def test_deploy_promote_rollback_list(root: Path, rt: Rt, capsys: pytest.CaptureFixture[str]) -> None:
    sha1 = write_outputs(root)
    assert rt("deploy", "--env", "staging") == 0
    assert "staging (none) -> 1" in capsys.readouterr().out
    out = json.loads((root / ".mlgen/out/deploy-staging.json").read_text())
    assert out == {"environment": "staging", "version": 1, "previous": None, "changed": True,
                   "model_sha256": sha1, "registry": "models"}

    assert rt("deploy", "--env", "staging") == 0  # a re-run: same version, no-op
    assert "staging already at version 1; nothing to do" in capsys.readouterr().out
    assert json.loads((root / ".mlgen/out/deploy-staging.json").read_text())["changed"] is False

    write_outputs(root, c=0.2)
    assert rt("deploy", "--env", "staging") == 0
    assert rt("promote", "--env", "production", "--version", "1") == 0
    assert rt("promote", "--env", "production", "--version", "2") == 0
    assert aliases(root) == {"staging": 2, "production": 2}
    capsys.readouterr()

    assert rt("rollback", "--env", "production") == 0
    assert "rollback production: production 2 -> 1" in capsys.readouterr().out
    assert aliases(root) == {"staging": 2, "production": 1}

    assert rt("registry", "list") == 0
    text = capsys.readouterr().out
    assert "registry models: 2 version(s)" in text
    # the version records the held-out metrics evaluate judged (not the CV score in model.json)
    assert "sklearn.linear_model.LogisticRegression  roc_auc=0.97  production" in text
    assert "aliases: production -> 1, staging -> 2" in text
    assert "history (last 5 of 5):" in text
    assert "#5 rollback production: 2 -> 1" in text
    history = [json.loads(line) for line in (root / "models/history.jsonl").read_text().splitlines()]
    assert [h["action"] for h in history] == ["promote"] * 4 + ["rollback"]


def test_deploy_refuses_failed_gates(root: Path, rt: Rt, capsys: pytest.CaptureFixture[str]) -> None:
    write_outputs(root, passed=False)
    assert rt("deploy", "--env", "staging") == 1
    assert "gates failed; not deploying (f1)" in capsys.readouterr().err
    assert not (root / "models/versions").exists()
    assert not (root / ".mlgen/out/deploy-staging.json").exists()


def test_deploy_refuses_missing_metrics(root: Path, rt: Rt, capsys: pytest.CaptureFixture[str]) -> None:
    write_outputs(root, passed=None)
    assert rt("deploy", "--env", "staging") == 2
    assert ".mlgen/out/evaluate/metrics.json: not found; run the evaluate stage first" in capsys.readouterr().err
    assert not (root / "models/versions").exists()


def test_deploy_refuses_a_model_evaluate_did_not_judge(root: Path, rt: Rt, capsys: pytest.CaptureFixture[str]) -> None:
    write_outputs(root)
    metrics = root / ".mlgen/out/evaluate/metrics.json"
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()), "model_sha256": "a" * 64}))
    assert rt("deploy", "--env", "staging") == 2
    assert "evaluate judged model aaaaaaaaaaaa" in capsys.readouterr().err


def test_unknown_environment(root: Path, rt: Rt, capsys: pytest.CaptureFixture[str]) -> None:
    write_outputs(root)
    assert rt("deploy", "--env", "prod") == 2
    assert "--env prod: not an environment of [deploy] (known: staging, production)" in capsys.readouterr().err
    assert rt("rollback", "--env", "staging") == 2
    assert "never promoted; nothing to roll back" in capsys.readouterr().err
    assert rt("promote", "--env", "staging", "--version", "9") == 2
    assert "version 9 is not in the registry" in capsys.readouterr().err


def test_tampered_version_is_not_promoted(root: Path, rt: Rt, capsys: pytest.CaptureFixture[str]) -> None:
    write_outputs(root)
    assert rt("deploy", "--env", "staging") == 0
    model = root / "models/versions/1/model.skops"
    model.chmod(0o644)
    model.write_bytes(model.read_bytes() + b"x")
    assert rt("promote", "--env", "production", "--version", "1") == 2
    assert "sha256 mismatch" in capsys.readouterr().err
    assert aliases(root) == {"staging": 1}


def test_no_deploy_section(project: Project, rt: Rt, capsys: pytest.CaptureFixture[str]) -> None:
    project(CLASSIFICATION_SPEC)
    assert rt("registry", "list") == 2
    assert "the spec has no [deploy] section" in capsys.readouterr().err


def test_registry_outside_the_repo_in_a_hand_edited_plan(root: Path, rt: Rt, capsys: pytest.CaptureFixture[str]) -> None:
    plan_path = root / ".mlgen/plan.json"
    plan = json.loads(plan_path.read_text())
    plan["settings"]["deploy"]["registry"] = "../x"
    plan_path.write_text(json.dumps(plan))
    write_outputs(root)
    assert rt("deploy", "--env", "staging") == 2
    assert "outside" in capsys.readouterr().err
    assert not (root.parent / "x").exists()


SCAN_SPEC = CLASSIFICATION_SPEC + """
[scan]

[deploy]
registry = "models"
[[deploy.environments]]
name = "staging"
"""


def test_deploy_needs_a_passed_scan_of_this_model(project: Project, rt: Rt, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(SCAN_SPEC)
    sha = write_outputs(root)
    scan = root / ".mlgen/out/scan/scan.json"
    assert rt("deploy", "--env", "staging") == 1  # no scan.json: the scan job did not run
    assert "scan did not run" in capsys.readouterr().err
    scan.parent.mkdir(parents=True)
    scan.write_text(json.dumps({"passed": False, "blocked_by": ["slices"], "model_sha256": sha}))
    assert rt("deploy", "--env", "staging") == 1
    assert "the scan blocked this model" in capsys.readouterr().err
    scan.write_text(json.dumps({"passed": True, "blocked_by": [], "model_sha256": "0" * 64}))
    assert rt("deploy", "--env", "staging") == 1
    assert "about another model" in capsys.readouterr().err
    assert not (root / "models/aliases.json").exists()
    scan.write_text(json.dumps({"passed": True, "blocked_by": [], "model_sha256": sha}))
    assert rt("deploy", "--env", "staging") == 0
    assert aliases(root) == {"staging": 1}


def test_a_planted_version_is_never_promoted_and_never_crashes_evaluate(project: Project, rt: Rt) -> None:
    """A version whose file passes the allow-list but whose KD tree points outside its data
    (the audit's planted version): promote refuses it (exit 2, registry unchanged) and, made
    the champion by hand, evaluate stops with exit 2, not by a signal. Both run as CI runs
    them, in their own process."""
    import subprocess
    import sys

    from mlgen_runtime.fsutil import sha256_file
    from mlgen_runtime.registry import Registry
    from tests.runtime.conftest import breast_cancer
    from tests.runtime.test_model_safety import _tampered_knn, _zoo_data

    root = project(SPEC, {"data/train.csv": breast_cancer()})
    assert rt("train") == 0
    planted = root / "planted"
    planted.mkdir()
    (planted / "model.skops").write_bytes(_tampered_knn(*_zoo_data()[:2]))
    sha = sha256_file(planted / "model.skops")
    (planted / "model.json").write_text(json.dumps({"sha256": sha, "estimator": "sklearn.neighbors.KNeighborsClassifier"}))
    reg = Registry(Path("models"), root)
    assert reg.register(planted) == 1  # registering checks only that it is a skops file
    before = {p.name: p.read_bytes() for p in (root / "models").iterdir() if p.is_file()}

    def stage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mlgen_runtime", *args, "--plan", ".mlgen/plan.json"], cwd=root,
                              capture_output=True, text=True, check=False)

    done = stage("promote", "--env", "production", "--version", "1")
    assert done.returncode == 2, done.stderr
    assert "malformed model (a KDTree whose index array" in done.stderr and "Traceback" not in done.stderr
    assert {p.name: p.read_bytes() for p in (root / "models").iterdir() if p.is_file()} == before
    assert reg.history() == [] and reg.aliases() == {}

    line = {"seq": 1, "action": "promote", "env": "production", "from": None, "to": 1, "reason": "planted"}
    (root / "models/history.jsonl").write_text(json.dumps(line) + "\n")  # someone with write access
    (root / "models/aliases.json").write_text(json.dumps({"production": 1}))
    done = stage("evaluate")
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "malformed model" in done.stderr and "Traceback" not in done.stderr
