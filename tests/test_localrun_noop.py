"""A `mlgen run` right after a run that deployed, nothing changed: every job is skipped (the
deploy too: its alias already holds the candidate), and retraining on the same inputs gives the
same model bytes, so the registry reuses the version (history unchanged). Staging is the last
environment here, so after the deploy the champion IS the candidate (evaluate counts it as none)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgen.localrun import run_plan
from tests.test_localrun import ml_project


@pytest.mark.slow
def test_second_run_skips_everything_and_retraining_reuses_the_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    root = ml_project(tmp_path / "p", monkeypatch)
    first = {o.name: o.status for o in run_plan(root, [])}
    assert first == {"validate": "ran", "train": "ran", "evaluate": "ran", "deploy-staging": "ran"}
    registry = root / "models"
    history = (registry / "history.jsonl").read_bytes()
    aliases = json.loads((registry / "aliases.json").read_text())
    assert aliases == {"staging": 1}

    second = run_plan(root, [])
    assert {o.name: o.status for o in second} == dict.fromkeys(first, "cached")
    assert "staging already holds this model" in [o.note for o in second if o.name == "deploy-staging"][0]

    capfd.readouterr()
    forced = {o.name: o.status for o in run_plan(root, [], force=True)}  # retrain on the same inputs
    assert forced == dict.fromkeys(first, "ran")
    out = capfd.readouterr().out
    assert "is this candidate (same sha256): compared with none" in out
    assert "is registry version 1 (decided from hashes)" in out and "staging already at version 1; nothing to do" in out
    assert (registry / "history.jsonl").read_bytes() == history
    assert sorted(p.name for p in (registry / "versions").iterdir()) == ["1"]
    metrics = json.loads((root / ".mlgen/out/evaluate/metrics.json").read_text())
    assert metrics["champion"] is None  # the candidate against itself is no comparison

    # the forced run left the same outputs: the next run is a no-op again
    assert {o.name: o.status for o in run_plan(root, [])} == dict.fromkeys(first, "cached")


@pytest.mark.slow
def test_a_different_model_is_deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changed data: a new model, so the deploy runs and registers version 2 (never skipped on
    a stale alias)."""
    root = ml_project(tmp_path / "p", monkeypatch)
    run_plan(root, [])
    data = root / "data/train.csv"
    lines = data.read_text().splitlines(keepends=True)
    data.write_text("".join(lines[:-20]))
    again = {o.name: o.status for o in run_plan(root, [])}
    assert again["train"] == "ran" and again["deploy-staging"] == "ran"
    assert json.loads((root / "models/aliases.json").read_text()) == {"staging": 2}
