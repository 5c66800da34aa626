"""monitor: production data against the reference; `drifted` says whether to retrain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from tests.runtime.conftest import breast_cancer, wine

OUT = Path(".mlgen/out/monitor")


def spec(*, monitor_drift: str = "", validate_drift: str = "", reference: bool = True,
         live: str = "data/live.csv", monitor: bool = True, target: str = "malignant",
         contract: str = 'size = { type = "category", values = ["small", "medium", "large"] }') -> str:
    ref = 'reference = "data/reference.csv"\n' if reference else ""
    mon = f'[monitor]\nschedule = "0 6 * * 1"\ndata = "{live}"\n{monitor_drift}\n' if monitor else ""
    return f"""
[project]
name = "mon"
seed = 1

[data]
path = "data/train.csv"
target = "{target}"
task = "classification"
allow_extra = true
{ref}
[data.columns]
{contract}

[validate]
{validate_drift}

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[evaluate]
metrics = ["accuracy"]

{mon}"""


def cancer() -> pd.DataFrame:
    frame = breast_cancer()
    size = np.where(frame["mean_area"] < 500, "small", np.where(frame["mean_area"] < 1000, "medium", "large"))
    return frame.assign(size=size)


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and live halves of one population; live has no labels (production data)."""
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return shuffled.iloc[:285], shuffled.iloc[285:].drop(columns=["malignant"])


def drifted_live(live: pd.DataFrame) -> pd.DataFrame:
    return live.assign(mean_radius=live["mean_radius"] * 1.3, size="large")


def result() -> dict[str, Any]:
    return json.loads((OUT / "drift.json").read_text())


def test_same_population_has_not_drifted(project, rt, capsys):
    ref, live = split(cancer())
    root = project(spec(), {"data/train.csv": ref, "data/reference.csv": ref, "data/live.csv": live})
    assert rt("monitor") == 0
    assert (root / OUT / "drifted").read_text() == "false\n"
    res = result()
    assert (res["drifted"], res["method"], res["threshold"]) == (False, "psi", 0.2)  # the default
    assert res["drifted_columns"] == [] and res["missing_columns"] == []
    assert len(res["columns"]) == 31  # every live column; the target is not in production data
    assert (res["current"], res["current_rows"], res["reference"], res["reference_rows"]) == (
        "data/live.csv", 284, "data/reference.csv", 285)
    out = capsys.readouterr().out
    assert "monitor: drifted=false (0 of 31 columns); written to .mlgen/out/monitor/drifted" in out


@pytest.mark.parametrize(("method", "threshold", "size_test"), [("psi", 0.2, "psi"), ("ks", 0.001, "chi2"),
                                                                 ("chi2", 0.001, "chi2")])
def test_shifted_data_has_drifted_and_exit_is_still_0(project, rt, method, threshold, size_test):
    ref, live = split(cancer())
    root = project(spec(monitor_drift=f'drift = {{ method = "{method}", threshold = {threshold} }}'),
                   {"data/train.csv": ref, "data/reference.csv": ref, "data/live.csv": drifted_live(live)})
    assert rt("monitor") == 0
    assert (root / OUT / "drifted").read_text() == "true\n"
    res = result()
    assert (res["method"], res["threshold"]) == (method, threshold)
    assert {"mean_radius", "size"} <= set(res["drifted_columns"])
    assert res["columns"]["size"]["test"] == size_test
    report = (root / OUT / "report.md").read_text()
    assert report.startswith(f"# Drift check\n\n**⚠️ drift in {len(res['drifted_columns'])} of 31 columns**")


def test_drift_settings_fall_back_to_validate(project, rt):
    ref, live = split(cancer())
    project(spec(validate_drift='drift = { method = "ks", threshold = 0.001 }'),
            {"data/train.csv": ref, "data/reference.csv": ref, "data/live.csv": live})
    assert rt("monitor") == 0
    assert (result()["method"], result()["threshold"]) == ("ks", 0.001)
    assert result()["drifted"] is False


def test_without_a_reference_the_training_data_is_the_baseline(project, rt):
    ref, live = split(cancer())
    root = project(spec(reference=False, live="data/live.parquet"),
                   {"data/train.csv": ref, "data/live.parquet": drifted_live(live)})
    assert rt("monitor") == 0
    assert result()["reference"] == "data/train.csv"
    assert (root / OUT / "drifted").read_text() == "true\n"


def test_junit_has_one_case_per_column(project, rt):
    ref, live = split(cancer())
    root = project(spec(), {"data/train.csv": ref, "data/reference.csv": ref,
                            "data/live.csv": drifted_live(live).drop(columns=["mean_texture"])})
    assert rt("monitor") == 0
    cases = ET.parse(root / OUT / "junit.xml").getroot().find("testsuite").findall("testcase")
    names = [c.get("name") for c in cases]
    assert names[:2] == ["drift[mean_radius]", "drift[mean_perimeter]"] and names[-1] == "columns"
    assert len(names) == 31  # 30 shared columns + the presence check
    failing = {c.get("name"): c.find("failure").get("message") for c in cases if c.find("failure") is not None}
    assert failing["columns"] == "missing from the monitored data: mean_texture"
    assert failing["drift[size]"].startswith("psi: PSI ") and failing["drift[size]"].endswith(": drifted")
    assert result()["missing_columns"] == ["mean_texture"]


def test_multiclass_reference_with_labels_in_live_data(project, rt):
    """Live data that carries the target too: the target column is compared like any other."""
    frame = wine()
    project(spec(target="cultivar", contract='cultivar = { type = "category" }'),
            {"data/train.csv": frame, "data/reference.csv": frame.iloc[::2], "data/live.csv": frame.iloc[1::2]})
    assert rt("monitor") == 0
    assert result()["columns"]["cultivar"]["kind"] == "categorical"  # the contract says so


def test_no_monitor_section_is_bad_input(project, rt, capsys):
    ref, _ = split(cancer())
    project(spec(monitor=False), {"data/train.csv": ref, "data/reference.csv": ref})
    assert rt("monitor") == 2
    assert capsys.readouterr().err == ("mlgen_runtime monitor: error: the spec has no [monitor] section; "
                                       "add one with `data` and `schedule`\n")


def test_unreadable_live_data_is_bad_input(project, rt, capsys):
    ref, _ = split(cancer())
    root = project(spec(), {"data/train.csv": ref, "data/reference.csv": ref}, files={"data/live.csv": ""})
    assert rt("monitor") == 2
    assert capsys.readouterr().err == "mlgen_runtime monitor: error: data/live.csv: the file is empty\n"
    assert not (root / OUT / "drifted").exists()


def test_live_data_sharing_no_column_is_bad_input(project, rt, capsys):
    ref, _ = split(cancer())
    project(spec(), {"data/train.csv": ref, "data/reference.csv": ref, "data/live.csv": pd.DataFrame({"other": [1, 2]})})
    assert rt("monitor") == 2
    assert capsys.readouterr().err.startswith(
        "mlgen_runtime monitor: error: data/live.csv: no column in common with data/reference.csv")


@pytest.mark.parametrize("empty", ["data/reference.csv", "data/live.csv"])
def test_a_side_with_no_rows_is_bad_input(project, rt, capsys, empty):
    """A header-only file would compare nothing and report "no drift": a false all-clear."""
    ref, live = split(cancer())
    frames = {"data/train.csv": ref, "data/reference.csv": ref, "data/live.csv": live}
    frames[empty] = frames[empty].iloc[:0]
    root = project(spec(), frames)
    assert rt("monitor") == 2
    assert capsys.readouterr().err == (f"mlgen_runtime monitor: error: {empty} has no rows; "
                                       "the drift check needs data on both sides\n")
    assert not (root / OUT / "drifted").exists()
