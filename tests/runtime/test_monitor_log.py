"""monitor on the prediction log of `mlgen serve` (files written here with pyarrow in the log format).

One compiled project per spec for the whole module: the log is data, not part of the plan, so each
test rewrites the log folder and runs the monitor stage again.
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgen.cli import main as mlgen_main
from mlgen_runtime import monitor_live, monitor_log
from mlgen_runtime.cli import main as runtime_main
from tests.runtime.conftest import breast_cancer

OUT = Path(".mlgen/out/monitor")
LOG = "predictions/production"
NOW = datetime.now(timezone.utc)


def spec(data: str = LOG, extra: str = "") -> str:
    return f"""
[project]
name = "monlog"
seed = 1

[data]
path = "data/train.csv"
target = "malignant"
task = "classification"
allow_extra = true
reference = "data/reference.csv"

[data.columns]
size = {{ type = "category", values = ["small", "medium", "large"] }}

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[evaluate]
metrics = ["accuracy", "roc_auc"]
gates = {{ accuracy = {{ min = 0.9 }}, roc_auc = {{ min = 0.8 }} }}

[monitor]
schedule = "0 6 * * 1"
data = "{data}"
window_rows = 400
min_rows = 50
{extra}
"""


def cancer() -> pd.DataFrame:
    frame = breast_cancer()
    size = np.where(frame["mean_area"] < 500, "small", np.where(frame["mean_area"] < 1000, "medium", "large"))
    return frame.assign(size=size).sample(frac=1.0, random_state=0).reset_index(drop=True)


FRAME = cancer()
REFERENCE, LIVE = FRAME.iloc[:285], FRAME.iloc[285:].reset_index(drop=True)


def drifted(live: pd.DataFrame) -> pd.DataFrame:
    return live.assign(mean_radius=live["mean_radius"] * 1.3, size="large")


def stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%S%f")


def write_log(folder: Path, frame: pd.DataFrame, *, t: datetime, version: int = 1, seq: int = 0,
              prediction: np.ndarray | None = None, request: str | None = None) -> pd.DataFrame:
    """One predictions-*.parquet file in the log format (LOGFMT): features, then the mlgen_ columns."""
    folder.mkdir(parents=True, exist_ok=True)
    features = frame.drop(columns=["malignant"]).reset_index(drop=True)
    n = len(features)
    meta = {
        "mlgen_request_id": pa.array([request or uuid.uuid4().hex] * n, pa.string()),
        "mlgen_row": pa.array(np.arange(n), pa.int32()),
        "mlgen_time": pa.array([t + timedelta(microseconds=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
        "mlgen_model_version": pa.array(np.full(n, version), pa.int32()),
        "mlgen_model_sha256": pa.array(["0" * 64] * n, pa.string()),
        "mlgen_prediction": pa.array(frame["malignant"].to_numpy() if prediction is None else prediction),
    }
    table = pa.Table.from_pandas(features, preserve_index=False)
    for name, column in meta.items():
        table = table.append_column(name, column)
    pq.write_table(table, folder / f"predictions-{stamp(t)}-4242-{seq:06d}.parquet")
    return table.to_pandas()


def write_feedback(folder: Path, logged: pd.DataFrame, labels: np.ndarray, *, t: datetime) -> None:
    table = pa.table({"mlgen_request_id": pa.array(logged["mlgen_request_id"], pa.string()),
                      "mlgen_row": pa.array(logged["mlgen_row"], pa.int32()),
                      "mlgen_label": pa.array(labels),
                      "mlgen_time": pa.array([t] * len(logged), pa.timestamp("us", tz="UTC"))})
    pq.write_table(table, folder / f"feedback-{stamp(t)}-4242-000000.parquet")


def compiled(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mlproject.toml").write_text(text)
    (root / "data").mkdir(exist_ok=True)
    REFERENCE.to_csv(root / "data/train.csv", index=False)
    REFERENCE.to_csv(root / "data/reference.csv", index=False)
    cwd = Path.cwd()
    try:
        import os

        os.chdir(root)
        assert mlgen_main(["compile", "--provider", "gitlab"]) == 0
    finally:
        os.chdir(cwd)
    return root


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("monlog")
    return {"folder": compiled(base / "folder", spec()),
            "glob": compiled(base / "glob", spec(data=f"{LOG}/predictions-*.parquet")),
            "days": compiled(base / "days", spec(extra="window_days = 7"))}


Run = Callable[..., tuple[int, dict[str, Any], str, str]]


@pytest.fixture
def monitor(projects: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[str], Path]]:
    """monitor('folder') -> the project root with an empty log folder, cwd there."""
    def at(name: str) -> Path:
        root = projects[name]
        shutil.rmtree(root / "predictions", ignore_errors=True)
        shutil.rmtree(root / OUT, ignore_errors=True)
        (root / LOG).mkdir(parents=True)
        monkeypatch.chdir(root)
        capsys.readouterr()
        return root

    yield at


def run_monitor(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str, str]:
    code = runtime_main(["monitor", "--plan", ".mlgen/plan.json"])
    captured = capsys.readouterr()
    result = json.loads((OUT / "drift.json").read_text()) if (OUT / "drift.json").exists() else {}
    verdict = (OUT / "drifted").read_text() if (OUT / "drifted").exists() else ""
    sys.stdout.write(captured.out)
    return code, result, verdict, captured.out + captured.err


def test_same_population_in_the_log_has_not_drifted(monitor, capsys):
    root = monitor("folder")
    write_log(root / LOG, LIVE.iloc[:150], t=NOW - timedelta(hours=2), seq=0)
    write_log(root / LOG, LIVE.iloc[150:], t=NOW - timedelta(hours=1), seq=1)
    (root / LOG / "predictions-99990101T000000000000-1-000002.parquet.tmp").write_bytes(b"half a file")
    code, res, verdict, out = run_monitor(capsys)
    assert (code, verdict) == (0, "false\n")
    assert (res["source"], res["traffic"], res["retrain"], res["reasons"]) == ("prediction log", "enough", False, [])
    assert len(res["columns"]) == 31 and not any(c.startswith("mlgen_") for c in res["columns"])
    assert res["new_columns"] == []  # the reserved columns were dropped before the comparison
    assert (res["window"]["rows"], res["window"]["files"], res["window"]["model_versions"]) == (284, 2, [1])
    assert res["live"] is None or res["live"]["rows"] == 0  # no feedback files
    assert "monitor: prediction log predictions/production (284 rows)" in out
    assert "monitor: retrain=false" in out


def test_drifted_traffic_retrains_and_says_why(monitor, capsys):
    root = monitor("folder")
    write_log(root / LOG, drifted(LIVE), t=NOW - timedelta(minutes=5))
    code, res, verdict, out = run_monitor(capsys)
    assert (code, verdict) == (0, "true\n")
    assert res["drifted"] and {"mean_radius", "size"} <= set(res["drifted_columns"])
    assert res["retrain"] and res["reasons"][0].startswith("drift in ")
    report = (root / OUT / "report.md").read_text()
    assert report.startswith("# Drift check\n\n**⚠️ drift in ")
    assert "**Retrain: drift in " in report
    assert "monitor: retrain=true: drift in " in out


def test_wrong_predictions_fail_the_live_gate_without_drift(monitor, capsys):
    root = monitor("folder")
    truth = LIVE["malignant"].to_numpy()
    logged = write_log(root / LOG, LIVE, t=NOW - timedelta(minutes=5), prediction=1 - truth)
    write_feedback(root / LOG, logged, truth, t=NOW)
    code, res, verdict, out = run_monitor(capsys)
    assert (code, verdict) == (0, "true\n")
    assert res["drifted"] is False
    live = res["live"]
    assert (live["model_version"], live["rows"], live["metrics"]["accuracy"]) == (1, 284, 0.0)
    assert live["failed"] == ["accuracy min 0.9"]
    # roc_auc needs probabilities, which the log does not keep: skipped, never failed
    assert live["skipped"]["roc_auc"].startswith("not computable from the log: ")
    assert res["reasons"] == ["live gate failed (accuracy min 0.9)"]
    cases = {c.get("name"): c for c in ET.parse(root / OUT / "junit.xml").getroot().iter("testcase")}
    assert cases["live[accuracy min 0.9]"].find("failure") is not None
    assert cases["live[roc_auc]"].find("skipped") is not None
    assert "LIVE   accuracy min 0.9: FAIL: accuracy = 0.0000, required >= 0.9000" in out
    assert "## Live metrics (model version 1, 284 predictions with feedback)" in (root / OUT / "report.md").read_text()


def test_live_gates_score_the_newest_model_version_only(monitor, capsys):
    root = monitor("folder")
    truth = LIVE["malignant"].to_numpy()
    old = write_log(root / LOG, LIVE.iloc[:142], t=NOW - timedelta(hours=3), version=1, seq=0,
                    prediction=1 - truth[:142])
    new = write_log(root / LOG, LIVE.iloc[142:], t=NOW - timedelta(hours=1), version=2, seq=1)
    write_feedback(root / LOG, pd.concat([old, new]), truth, t=NOW)
    code, res, verdict, _ = run_monitor(capsys)
    assert (code, verdict) == (0, "false\n")
    assert (res["live"]["model_version"], res["live"]["rows"], res["live"]["metrics"]["accuracy"]) == (2, 142, 1.0)
    assert res["live"]["failed"] == [] and res["window"]["model_versions"] == [1, 2]


def test_the_window_is_the_newest_rows(monitor, capsys):
    """Drifted traffic long ago, then 400 undrifted rows: only recent traffic counts."""
    root = monitor("folder")
    write_log(root / LOG, drifted(LIVE), t=NOW - timedelta(days=30), seq=0)
    recent_rows = pd.concat([LIVE, LIVE.iloc[:116]], ignore_index=True)
    write_log(root / LOG, recent_rows, t=NOW - timedelta(hours=1), seq=1)
    code, res, verdict, _ = run_monitor(capsys)
    assert (code, verdict, res["drifted"]) == (0, "false\n", False)
    assert (res["window"]["rows"], res["window"]["files_read"], res["window"]["files"]) == (400, 1, 2)


def test_too_little_traffic_is_a_result_not_a_retrain(monitor, capsys):
    root = monitor("folder")
    write_log(root / LOG, drifted(LIVE).iloc[:20], t=NOW)
    code, res, verdict, out = run_monitor(capsys)
    assert (code, verdict) == (0, "false\n")
    assert (res["traffic"], res["retrain"], res["window"]["rows"], res["min_rows"]) == ("not enough", False, 20, 50)
    assert (root / OUT / "report.md").read_text().startswith(
        "# Drift check\n\n**⏸️ not enough traffic** · `predictions/production`: 20 rows in the window, "
        "fewer than monitor.min_rows = 50")
    assert "not enough traffic (20 rows in the window, monitor.min_rows = 50); drifted=false, no retraining" in out
    skipped = ET.parse(root / OUT / "junit.xml").getroot().find("testsuite")
    assert skipped.get("skipped") == "1" and skipped.get("failures") == "0"


def test_an_empty_log_folder_is_not_enough_traffic(monitor, capsys):
    monitor("folder")
    code, res, verdict, _ = run_monitor(capsys)
    assert (code, verdict, res["traffic"], res["window"]["files"]) == (0, "false\n", "not enough", 0)


def test_a_missing_log_folder_is_one_line_exit_2(monitor, capsys):
    root = monitor("folder")
    shutil.rmtree(root / "predictions")
    code, _, verdict, out = run_monitor(capsys)
    assert (code, verdict) == (2, "")
    assert out == ("mlgen_runtime monitor: error: predictions/production: prediction-log folder not found "
                   "(monitor.data names a folder or a glob of predictions-*.parquet files; `mlgen serve` "
                   "creates it with its first log file)\n")


def test_a_log_file_linked_from_outside_is_refused(monitor, capsys, tmp_path):
    root = monitor("folder")
    write_log(tmp_path, LIVE, t=NOW)
    outside = next(tmp_path.glob("predictions-*.parquet"))
    (root / LOG / outside.name).symlink_to(outside)
    code, _, verdict, out = run_monitor(capsys)
    assert (code, verdict) == (2, "")
    assert out.startswith(f"mlgen_runtime monitor: error: predictions/production: {LOG}/{outside.name} is a link "
                          "or lies outside the repository")
    assert out.count("\n") == 1


def test_a_glob_of_prediction_files(monitor, capsys):
    root = monitor("glob")
    write_log(root / LOG, drifted(LIVE), t=NOW - timedelta(minutes=1))
    (root / LOG / "other.parquet").write_bytes(b"not matched by the glob")
    code, res, verdict, _ = run_monitor(capsys)
    assert (code, verdict, res["current"]) == (0, "true\n", f"{LOG}/predictions-*.parquet")
    assert res["window"]["files"] == 1


def test_window_days_drops_old_traffic(monitor, capsys):
    root = monitor("days")
    write_log(root / LOG, drifted(LIVE), t=NOW - timedelta(days=8))
    write_log(root / LOG, LIVE.iloc[:30], t=NOW - timedelta(days=1), seq=1)
    code, res, verdict, _ = run_monitor(capsys)
    assert (code, verdict, res["traffic"], res["window"]["rows"]) == (0, "false\n", "not enough", 30)
    assert res["window"]["window_days"] == 7


# --- the spec ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "ok"), [(LOG, True), (f"{LOG}/predictions-*.parquet", True), ("data/live.csv", True),
                                          ("data/live.txt", False), (f"{LOG}/*.json", False)])
def test_monitor_data_forms_in_the_spec(tmp_path, monkeypatch, capsys, data, ok):
    (tmp_path / "mlproject.toml").write_text(spec(data=data))
    monkeypatch.chdir(tmp_path)
    code = mlgen_main(["compile", "--check", "--provider", "gitlab"])
    err = capsys.readouterr().err
    if ok:
        assert "E209" not in err
    else:
        assert code == 2 and "E209" in err and "prediction-log folder" in err


# --- pure parts ----------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=6), window=st.integers(1, 120),
       order=st.randoms(use_true_random=False))
def test_the_window_is_exactly_the_newest_rows_whatever_the_files(tmp_path_factory, sizes, window, order):
    """Rows spread over any number of files of any size: the window is the newest `window` rows by time."""
    folder = tmp_path_factory.mktemp("w")
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    times = [start + timedelta(seconds=i) for i in range(sum(sizes))]
    k = 0
    for seq, n in enumerate(sizes):
        part = times[k:k + n]
        k += n
        table = pa.table({"x": pa.array([t.timestamp() for t in part], pa.float64()),
                          "mlgen_time": pa.array(part, pa.timestamp("us", tz="UTC"))})
        pq.write_table(table,
                       folder / f"predictions-{stamp(part[0] if part else start)}-1-{seq:06d}.parquet")
    files = monitor_log.find_files(folder.parent, folder.name)
    got = monitor_log.recent(folder.parent, files, window, None, now=start + timedelta(days=1)).frame
    want = [t.timestamp() for t in times][-window:]
    assert (list(got["x"]) if len(got) else []) == want


def test_live_gates_without_bounds_or_feedback():
    settings_ = {"evaluate": {"gates": {"roc_auc": {"max_drop": 0.1}}}, "data": {"task": "classification"}}
    assert monitor_live.absolute_gates(settings_) == {}
    assert monitor_live.check(pd.DataFrame(), settings_, 10)["note"].startswith("evaluate.gates has no min/max")
    settings_["evaluate"]["gates"]["accuracy"] = {"min": 0.5, "max_drop": 0.1}
    empty = monitor_live.check(monitor_log.labelled(pd.DataFrame(), pd.DataFrame()), settings_, 10)
    assert empty["failed"] == [] and empty["skipped"] == {"accuracy": "0 predictions with feedback, fewer than "
                                                                       "monitor.min_rows = 10"}
