"""The bundled example (root mlproject.toml) runs end to end with `mlgen run`, as in the README."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlgen.cli import main
from mlgen.localrun import run_plan

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("demo")
    shutil.copy(ROOT / "mlproject.toml", work)
    shutil.copytree(ROOT / "demo", work / "demo")
    return work


@pytest.mark.slow
def test_demo_pipeline_end_to_end(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(demo)
    assert main(["run"]) == 0
    aliases = json.loads((demo / "models/aliases.json").read_text())
    assert aliases == {"staging": 1}, "production waits for approval"
    metrics = json.loads((demo / ".mlgen/out/evaluate/metrics.json").read_text())
    assert metrics["passed"] and metrics["metrics"]["roc_auc"] > 0.95
    report = (demo / ".mlgen/out/evaluate/report.md").read_text()
    assert "roc\\_auc" in report and "no deployed model yet" in report
    assert (demo / ".mlgen/out/evaluate/junit.xml").read_text().count("<testcase") >= 3
    assert json.loads((demo / ".mlgen/out/validate/validation.json").read_text())

    # nothing changed: every ML job is skipped; approving production deploys the same version
    out = {o.name: o.status for o in run_plan(demo, approve=["production"])}
    assert {out[n] for n in ("get-data", "validate", "train", "select", "evaluate")} == {"cached"}
    assert out["deploy-production"] == "ran"
    assert json.loads((demo / "models/aliases.json").read_text()) == {"production": 1, "staging": 1}


@pytest.mark.slow
def test_demo_monitor_detects_drift(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    monkeypatch.chdir(demo)
    assert main(["run", "monitor"]) == 0
    assert (demo / ".mlgen/out/monitor/drifted").read_text().strip() == "false"
    live = pd.read_csv(demo / "data/live.csv")
    live["mean radius"] = live["mean radius"] * 1.5  # a sensor recalibrated
    live.to_csv(demo / "data/live.csv", index=False)
    # (run the job's command directly: `mlgen run` would first restore data/ from get-data,
    # whose output it is)
    from mlgen_runtime.cli import main as runtime

    assert runtime(["monitor", "--plan", ".mlgen/plan.json"]) == 0
    assert (demo / ".mlgen/out/monitor/drifted").read_text().strip() == "true"
    assert json.loads((demo / ".mlgen/out/monitor/drift.json").read_text())["columns"]["mean radius"]["drifted"]


@pytest.mark.slow
def test_scheduled_run_retrains_only_on_drift(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mlgen run --schedule` is the scheduled pipeline: the monitor, then the retraining chain
    only when it reported drift (as the generated pipelines do on every provider)."""
    monkeypatch.chdir(demo)
    retrain = ("validate", "train", "select", "evaluate", "deploy-staging")
    calm = {o.name: o for o in run_plan(demo, ["@schedule"])}
    assert calm["monitor"].status in ("ran", "cached")
    assert (demo / ".mlgen/out/monitor/drifted").read_text().strip() == "false"
    assert all(calm[n].status == "skipped" and "no drift" in calm[n].note for n in retrain), calm

    spec = demo / "mlproject.toml"
    original = spec.read_text()
    try:
        # a p-value bound no sample passes: every column "drifts"
        spec.write_text(original.replace('drift = { method = "ks", threshold = 0.01 }', 'drift = { method = "ks", threshold = 0.9999 }'))
        assert main(["compile", "-q"]) == 0
        drifted = {o.name: o for o in run_plan(demo, ["@schedule"])}
        assert (demo / ".mlgen/out/monitor/drifted").read_text().strip() == "true"
        assert all(drifted[n].status in ("ran", "cached") for n in retrain), drifted
        assert drifted["deploy-production"].status == "waiting"  # a person still approves production
    finally:
        spec.write_text(original)
        assert main(["compile", "-q"]) == 0
