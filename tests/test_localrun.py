"""`mlgen run` mechanics on custom stages (no ML needed): order, cache, failures; and the exit
codes and messages of runtime stages, each run as its own process as in CI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlgen.cli import main
from mlgen.localrun import run_plan, select_jobs

SPEC = """
[project]
name = "local"

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
cmd = "mkdir -p gen && cat src.txt src.txt > gen/out.txt && echo ran >> log.txt"
deps = ["src.txt"]
outs = ["gen"]

[[stages]]
name = "use"
cmd = "wc -l < gen/out.txt > count.txt && echo used >> log.txt"
deps = ["gen/out.txt"]
outs = ["count.txt"]

[[stages]]
name = "boom"
cmd = "exit 3"
needs = ["use"]

[[stages]]
name = "after-boom"
cmd = "echo never"
needs = ["boom"]
"""


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "mlproject.toml").write_text(SPEC)
    (tmp_path / "src.txt").write_text("a\nb\n")
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "-q"]) == 0
    return tmp_path


def statuses(root: Path, *wanted: str, force: bool = False) -> dict[str, str]:
    return {o.name: o.status for o in run_plan(root, wanted, force=force)}


def log(root: Path) -> list[str]:
    return (root / "log.txt").read_text().split()


def test_runs_in_order_then_caches(proj: Path) -> None:
    assert statuses(proj, "use") == {"gen": "ran", "use": "ran"}
    assert (proj / "count.txt").read_text().strip() == "4"
    assert statuses(proj, "use") == {"gen": "cached", "use": "cached"}
    assert log(proj) == ["ran", "used"]


def test_changed_dep_reruns_only_what_depends_on_it(proj: Path) -> None:
    statuses(proj, "use")
    (proj / "src.txt").write_text("a\nb\nc\n")
    assert statuses(proj, "use") == {"gen": "ran", "use": "ran"}
    assert (proj / "count.txt").read_text().strip() == "6"


def test_deleted_or_edited_output_reruns(proj: Path) -> None:
    statuses(proj, "use")
    (proj / "count.txt").unlink()
    assert statuses(proj, "use") == {"gen": "cached", "use": "ran"}
    (proj / "count.txt").write_text("tampered\n")
    assert statuses(proj, "use") == {"gen": "cached", "use": "ran"}


def test_force_reruns_everything(proj: Path) -> None:
    statuses(proj, "use")
    assert statuses(proj, "use", force=True) == {"gen": "ran", "use": "ran"}


def test_failure_stops_dependents(proj: Path) -> None:
    out = {o.name: o for o in run_plan(proj, ["after-boom"])}
    assert out["boom"].status == "failed" and out["boom"].code == 3
    assert out["after-boom"].status == "blocked"
    assert statuses(proj, "use") == {"gen": "cached", "use": "cached"}, "successful jobs stay cached"


def test_cli_exit_code_is_the_failing_jobs(proj: Path) -> None:
    assert main(["run", "boom"]) == 3
    assert main(["run", "nonsense"]) == 2


def test_default_selection_is_what_a_push_runs(proj: Path) -> None:
    from mlgen_runtime.contract import read_plan

    names = [j.name for j in select_jobs(read_plan(proj / ".mlgen/plan.json"), [])]
    assert "validate" in names and "evaluate" in names and "monitor" not in names


def test_evaluate_is_never_cached_with_an_mlflow_registry(tmp_path: Path) -> None:
    """`mlgen run` does not ask an MLflow server for the champion: no key, so evaluate runs."""
    from mlgen_runtime.stagekey import champion

    settings = {"deploy": {"registry": "mlflow+http://127.0.0.1:5000", "environments": [{"name": "staging"}]}}
    assert champion(tmp_path, settings) is None
    settings["deploy"]["registry"] = "models"
    assert champion(tmp_path, settings) == "none"
    (tmp_path / "models").mkdir()
    (tmp_path / "models/aliases.json").write_text('{"staging": 3}')
    assert champion(tmp_path, settings) == "3"


def test_a_mistyped_approval_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`--approve prod` for an environment called production would leave the deploy waiting
    and the run green: it is bad input, named, with a suggestion, and nothing runs."""
    (tmp_path / "mlproject.toml").write_text(SPEC + '\n[deploy]\nenvironments = [{ name = "production", approval = "manual" }]\n')
    (tmp_path / "src.txt").write_text("a\nb\n")
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "-q"]) == 0
    assert main(["run", "gen", "--approve", "prodcution"]) == 2
    err = capsys.readouterr().err
    assert "--approve prodcution: no such environment; did you mean `production`?" in err
    assert not (tmp_path / "log.txt").exists(), "nothing may run"
    (tmp_path / "mlproject.toml").write_text(SPEC)
    assert main(["compile", "-q"]) == 0
    with pytest.raises(ValueError, match="the spec deploys to no environment"):
        run_plan(tmp_path, ["gen"], approve=["staging"])


@pytest.mark.skipif((__import__("os").cpu_count() or 1) < 2, reason="needs 2 cores to run 2 shards at once")
def test_shards_run_as_parallel_processes(proj: Path) -> None:
    """Like the CI fan-out: shard i of n sees its index and total, and the shards overlap in
    time (each records when it started and ended; no speed is asserted)."""
    from mlgen.localrun import execute
    from mlgen_runtime.contract import Job, read_plan

    plan = read_plan(proj / ".mlgen/plan.json")
    probe = ('python -c "import os, time; s = time.time(); time.sleep(1.0); '
             "open('shard-' + os.environ['MLGEN_SHARD_INDEX'] + '-of-' + os.environ['MLGEN_SHARD_TOTAL'], 'w')"
             '.write(repr((s, time.time())))"')
    job = Job("probe", "custom", (probe,), shards=2)
    assert execute(proj, plan, job) == 0
    (a0, a1), (b0, b1) = (eval((proj / f"shard-{i}-of-2").read_text()) for i in (1, 2))
    assert a0 < b1 and b0 < a1, "the two shards did not run at the same time"


# --- runtime stages: each command is its own process, as in CI; what the user sees ------------

ML_SPEC = """
[project]
name = "bc"
seed = 42

[data]
path = "data/train.csv"
target = "malignant"
task = "classification"
allow_extra = true

[validate]
min_rows = {min_rows}

[train]
estimator = "sklearn.linear_model.LogisticRegression"
params = {{ max_iter = 2000 }}

[evaluate]
metrics = ["accuracy", "f1", "roc_auc"]
gates = {{ roc_auc = {{ min = {gate} }} }}

[deploy]
registry = "models"
[[deploy.environments]]
name = "staging"
approval = "auto"
"""


def breast_cancer() -> Any:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return frame.assign(malignant=(frame.pop("target") == 0).astype(int))


def ml_project(root: Path, monkeypatch: pytest.MonkeyPatch, gate: float = 0.9, min_rows: int = 100) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mlproject.toml").write_text(ML_SPEC.format(gate=gate, min_rows=min_rows))
    (root / "data").mkdir(exist_ok=True)
    breast_cancer().to_csv(root / "data/train.csv", index=False)
    monkeypatch.chdir(root)
    assert main(["compile", "-q"]) == 0
    return root


def outcomes(root: Path, *wanted: str) -> list[tuple[str, str, int]]:
    return [(o.name, o.status, o.code) for o in run_plan(root, wanted)]


def test_failing_gate_stops_deploy_with_its_code_and_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    root = ml_project(tmp_path / "p", monkeypatch, gate=0.99999)
    capfd.readouterr()
    assert outcomes(root) == [("validate", "ran", 0), ("train", "ran", 0), ("evaluate", "failed", 1),
                              ("deploy-staging", "blocked", 0)]
    assert "mlgen_runtime evaluate: failed: 1 of 1 gate(s) failed" in capfd.readouterr().err
    assert not (root / "models").exists()


def test_failed_check_is_exit_1_and_bad_input_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    root = ml_project(tmp_path / "p", monkeypatch, min_rows=100_000)
    assert outcomes(root)[0] == ("validate", "failed", 1)
    breast_cancer().drop(columns=["malignant"]).to_csv(root / "data/train.csv", index=False)
    capfd.readouterr()
    assert outcomes(root, "validate") == [("validate", "failed", 2)]
    assert "target column `malignant` not found" in capfd.readouterr().err
