"""validate: every check passes on clean data and fails, naming the column and row, on a crafted
violation. Real data from scikit-learn; each test compiles a project and runs the runtime CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from mlgen_runtime import validate
from tests.runtime.conftest import breast_cancer, diabetes, wine

OUT = Path(".mlgen/out/validate")
CHECKS = ["columns", "types", "ranges", "values", "nulls", "finite", "min_rows", "duplicates", "target", "features",
          "leakage", "drift"]
CONTRACT = {
    "mean_radius": '{ type = "float", min = 0, max = 40 }',
    "visits": '{ type = "int", min = 0 }',
    "size": '{ type = "category", values = ["small", "medium", "large"] }',
    "malignant": '{ type = "int", values = [0, 1] }',
}


def spec(*, target: str = "malignant", task: str = "classification", path: str = "data/train.csv",
         columns: dict[str, str] | None = None, allow_extra: bool = True, validate: str = "",
         reference: str | None = None) -> str:
    cols = "".join(f"{name} = {rule}\n" for name, rule in (CONTRACT if columns is None else columns).items())
    ref = f'reference = "{reference}"\n' if reference else ""
    estimator = "LogisticRegression" if task == "classification" else "LinearRegression"
    metric = "accuracy" if task == "classification" else "r2"
    return f"""
[project]
name = "vt"
seed = 42

[data]
path = "{path}"
target = "{target}"
task = "{task}"
allow_extra = {str(allow_extra).lower()}
{ref}
[data.columns]
{cols}
[validate]
{validate}

[train]
estimator = "sklearn.linear_model.{estimator}"

[evaluate]
metrics = ["{metric}"]
"""


def cancer() -> pd.DataFrame:
    """Breast cancer plus a category (`size`, from mean_area) and an int column (`visits`)."""
    frame = breast_cancer()
    size = np.where(frame["mean_area"] < 500, "small", np.where(frame["mean_area"] < 1000, "medium", "large"))
    return frame.assign(size=size, visits=frame["mean_texture"].round().astype(int))


def results() -> dict[str, Any]:
    return json.loads((OUT / "validation.json").read_text())


def check(name: str) -> dict[str, Any]:
    return next(c for c in results()["checks"] if c["name"] == name)


def failed() -> list[str]:
    return results()["failed"]


# --- clean data -------------------------------------------------------------------------------

def test_clean_classification_data_passes_every_check(project, rt, capsys):
    frame = cancer()
    root = project(spec(validate='min_rows = 100\ndrift = { method = "psi", threshold = 0.2 }',
                        reference="data/reference.csv"),
                   {"data/train.csv": frame, "data/reference.csv": frame.sample(frac=0.5, random_state=7)})
    assert rt("validate") == 0
    res = results()
    assert res["passed"] is True and res["failed"] == []
    assert [c["name"] for c in res["checks"]] == CHECKS
    assert not any(c["skipped"] for c in res["checks"])
    assert res["data"] == {"path": "data/train.csv", "rows": 569, "columns": 33, "missing_target_rows": 0}
    assert check("target")["message"] == "2 classes; the smallest, 1, has 212 rows"
    assert check("leakage")["message"] == ("0 of 114 held-out rows (0%) have features that also occur in the training "
                                           "split <= max_overlap_fraction 0%")
    assert check("features")["message"] == "32 feature columns (31 numeric, 1 categorical)"
    assert {c["status"] for c in res["checks"]} == {"pass"} and res["warnings"] == []
    assert check("drift")["details"]["drifted"] is False
    report = (root / OUT / "report.md").read_text()
    assert report.startswith("# Data validation\n\n**✅ all checks passed** · `data/train.csv` · 569 rows × 33 columns")
    assert "| `leakage` | ✅ pass |" in report and "## Drift vs `data/reference.csv`" in report
    assert "| `mean_radius` | numeric | psi |" in report
    out = capsys.readouterr().out
    assert "PASS  ranges      2 columns within min/max" in out
    assert "validate: 12 of 12 checks passed in" in out


def test_clean_regression_parquet_passes(project, rt):
    frame = diabetes()
    frame["visits"] = pd.array(np.where(np.arange(len(frame)) % 50 == 0, None, np.arange(len(frame)) % 7), dtype="Int64")
    project(spec(target="progression", task="regression", path="data/train.parquet",
                 columns={"visits": '{ type = "int", min = 0, max = 6, nullable = true }', "bmi": '{ type = "float" }'},
                 validate="max_null_fraction = 0.05"),
            {"data/train.parquet": frame})
    assert rt("validate") == 0
    assert check("target")["message"] == "numeric, finite, from 25 to 346"
    assert check("nulls")["message"] == ("1 column with missing values (train imputes them), all <= max_null_fraction 5%; "
                                         "most: `visits` 2.04%")
    assert check("nulls")["status"] == "warn" and results()["warnings"] == ["nulls"]
    assert check("drift")["skipped"] is True


def test_multiclass_target_with_every_class_present(project, rt):
    project(spec(target="cultivar", columns={}), {"data/train.csv": wine()})
    assert rt("validate") == 0
    assert check("target")["message"] == "3 classes; the smallest, 2, has 48 rows"
    assert check("columns")["skipped"] is True  # no contract: nothing to hold the columns to


# --- unusable data: exit 2 naming the file, column and row --------------------------------------

def test_wrong_type_in_csv_is_bad_input_naming_column_and_row(project, rt, capsys):
    frame = cancer().astype({"mean_radius": object, "visits": object})
    frame.loc[16, "mean_radius"] = "abc"  # data row 17
    frame.loc[40, "visits"] = 2.5
    frame.loc[41, "visits"] = "many"
    root = project(spec(), {"data/train.csv": frame})
    assert rt("validate") == 2
    err = capsys.readouterr().err
    assert err == ("mlgen_runtime validate: error: data/train.csv: column `mean_radius`: expected float, "
                   "data row 17 has 'abc'; column `visits`: expected int, data row 41 has '2.5' (2 rows in all)\n")
    # the reports are still written, so the job artifact shows what is wrong
    assert check("types")["details"]["mean_radius"] == {"expected": "float", "rows": 1, "first_row": 17, "value": "'abc'"}
    assert (root / OUT / "junit.xml").is_file()


def test_truncated_parquet_is_bad_input(project, rt, capsys, tmp_path):
    root = project(spec(path="data/train.parquet"), {"data/train.parquet": cancer()})
    whole = (root / "data/train.parquet").read_bytes()
    (root / "data/train.parquet").write_bytes(whole[: len(whole) // 2])
    assert rt("validate") == 2
    assert capsys.readouterr().err.startswith("mlgen_runtime validate: error: data/train.parquet: cannot read it")
    assert not (root / OUT / "validation.json").exists()  # no check ran
    assert unusable_reports(root).startswith("data/train.parquet: cannot read it")


def unusable_reports(root: Path) -> str:
    """The reports of a validate that could not check the data: the `data` case fails, every
    check is skipped; returns the failure message (junit and report.md agree)."""
    suite = ET.parse(root / OUT / "junit.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["data", *CHECKS]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == (str(len(CHECKS) + 1), "1", str(len(CHECKS)))
    message = cases[0].find("failure").get("message")
    report = (root / OUT / "report.md").read_text()
    assert report.startswith("# Data validation\n\n**❌ the data cannot be used** · `data/")
    assert "| `data` | ❌ fail |" in report and "| `target` | ⏭️ skipped | not run: the data cannot be used |" in report
    return message


def test_missing_target_is_bad_input_and_still_writes_the_reports(project, rt, capsys):
    root = project(spec(columns={}), {"data/train.csv": cancer()})
    assert rt("validate") == 0
    assert (root / OUT / "validation.json").is_file()
    cancer().drop(columns=["malignant"]).to_csv(root / "data/train.csv", index=False)
    capsys.readouterr()
    assert rt("validate") == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "mlgen_runtime validate: error: data/train.csv: target column `malignant` not found; columns: mean_radius, ")
    # as for a wrong type, the job artifact says what is wrong; the earlier run's verdict is gone
    message = unusable_reports(root)
    assert message.startswith("data/train.csv: target column `malignant` not found; columns: mean_radius, ")
    assert "target column `malignant` not found" in (root / OUT / "report.md").read_text()
    assert not (root / OUT / "validation.json").exists()


def test_empty_drift_reference_is_bad_input(project, rt, capsys):
    frame = cancer()
    root = project(spec(validate='drift = { method = "psi", threshold = 0.2 }', reference="data/reference.csv"),
                   {"data/train.csv": frame, "data/reference.csv": frame.iloc[:0]})  # the header alone
    assert rt("validate") == 2
    assert capsys.readouterr().err == ("mlgen_runtime validate: error: data/reference.csv: data.reference has no rows; "
                                       "drift needs a sample to compare with\n")
    assert unusable_reports(root) == "data/reference.csv: data.reference has no rows; drift needs a sample to compare with"


def test_empty_file_is_bad_input(project, rt, capsys):
    project(spec(), files={"data/train.csv": ""})
    assert rt("validate") == 2
    assert capsys.readouterr().err == "mlgen_runtime validate: error: data/train.csv: the file is empty\n"


# --- each check fails on its own violation -----------------------------------------------------

def test_ranges_name_the_column_bound_and_first_row(project, rt):
    frame = cancer()
    frame.loc[4, "mean_radius"] = -1.0  # data row 5
    frame.loc[[9, 19], "mean_radius"] = [41.5, 50.0]
    project(spec(), {"data/train.csv": frame})
    assert rt("validate") == 1
    assert failed() == ["ranges"]
    assert check("ranges")["message"] == ("column `mean_radius`: 1 row below min 0 (first: data row 5 has -1); "
                                          "column `mean_radius`: 2 rows above max 40 (first: data row 10 has 41.5)")


def test_values_name_the_unexpected_category_and_row(project, rt):
    frame = cancer()
    frame.loc[11, "size"] = "gigantic"
    project(spec(), {"data/train.csv": frame})
    assert rt("validate") == 1
    assert failed() == ["values"]
    assert check("values")["message"] == ("column `size`: 1 row not in the allowed values "
                                           "(first: data row 12 has 'gigantic'; unexpected: 'gigantic')")


def test_columns_missing_from_the_data_and_not_in_the_contract(project, rt):
    columns = {**CONTRACT, "age": '{ type = "int" }'}
    frame = cancer()[["mean_radius", "visits", "size", "malignant", "mean_texture"]]
    project(spec(columns=columns, allow_extra=False), {"data/train.csv": frame})
    assert rt("validate") == 1
    assert failed() == ["columns"]
    assert check("columns")["message"] == (
        "not in the data: `age`; not in the contract: `mean_texture` "
        "(add them to data.columns or set data.allow_extra = true)")
    assert check("columns")["details"] == {"missing": ["age"], "unknown": ["mean_texture"]}


def test_nulls_in_a_non_nullable_column_and_over_the_limit(project, rt):
    frame = cancer()
    frame.loc[7, "mean_radius"] = None  # data row 8, contract column (not nullable)
    frame.loc[frame.index[::10], "mean_texture"] = None  # 57 rows, 10 %; not in the contract
    frame.loc[frame.index[::100], "mean_area"] = None  # 6 rows, 1 %: within the limit
    project(spec(validate="max_null_fraction = 0.05"), {"data/train.csv": frame})
    assert rt("validate") == 1
    assert failed() == ["nulls"]
    assert check("nulls")["message"] == (
        "column `mean_radius`: 1 missing value (first: data row 8) but the contract does not allow any "
        "(nullable = false); column `mean_texture`: 10% missing (57 rows, first: data row 1) > max_null_fraction 5%")


def test_min_rows(project, rt):
    project(spec(validate="min_rows = 1000"), {"data/train.csv": cancer()})
    assert rt("validate") == 1
    assert failed() == ["min_rows"]
    assert check("min_rows")["message"] == "569 rows < min_rows 1,000"


def test_duplicates_name_the_first_repeat_and_its_original(project, rt):
    frame = cancer()
    frame = pd.concat([frame, frame.iloc[[2] * 20]], ignore_index=True)  # rows 570..589 repeat row 3
    project(spec(validate="max_duplicate_fraction = 0.01\nmax_overlap_fraction = 1.0"), {"data/train.csv": frame})
    assert rt("validate") == 1
    assert failed() == ["duplicates"]
    assert check("duplicates")["message"] == ("20 duplicate rows (3.4%) > max_duplicate_fraction 1%; "
                                              "first: data row 570 repeats data row 3")


def test_repeated_rows_warn_and_stay_on_one_side_of_the_split(project, rt, capsys):
    frame = cancer()
    frame = pd.concat([frame, frame.iloc[:60]], ignore_index=True)  # 60 rows twice: a random split straddles them
    root = project(spec(), {"data/train.csv": frame})
    assert rt("validate") == 0
    assert check("duplicates")["status"] == "warn"
    assert check("duplicates")["message"] == ("60 duplicate rows (9.54%) <= max_duplicate_fraction 100%; first: data row "
                                              "570 repeats data row 1; the split keeps equal rows on one side")
    leak = check("leakage")
    assert leak["status"] == "pass" and leak["details"]["rows"] == 0
    assert leak["details"]["split"]["method"] == "grouped" and leak["details"]["split"]["groups"] == 569
    assert "WARN  duplicates" in capsys.readouterr().out
    assert "| `duplicates` | ⚠️ warn |" in (root / OUT / "report.md").read_text()
    # validate.strict: the warning fails
    project(spec(validate="strict = true"), {"data/train.csv": frame})
    assert rt("validate") == 1
    assert failed() == ["duplicates"] and check("duplicates")["message"].endswith("(validate.strict: warnings fail)")


def settings_of(frame_spec: str) -> dict[str, Any]:
    """The plan's settings of a compiled project (every key with its default)."""
    return json.loads(Path(".mlgen/plan.json").read_text())["settings"]


def test_leakage_is_strict_on_a_split_that_straddles_equal_rows(project, rt, monkeypatch):
    """0 by construction for the shared split; a split that puts twins on both sides fails."""
    frame = cancer()
    frame = pd.concat([frame, frame.iloc[:60]], ignore_index=True)
    project(spec(), {"data/train.csv": frame})
    settings = settings_of("")
    from sklearn.model_selection import train_test_split

    from mlgen_runtime import data

    train, test = train_test_split(np.arange(len(frame)), test_size=0.2, random_state=0)  # blind to the twins
    monkeypatch.setattr(data, "split_positions", lambda f, s: data.Split(train, test, {"method": "random"}))
    result = validate.check_leakage(frame, settings, 0.0)
    assert not result.passed
    m = re.fullmatch(r"(\d+) of 126 held-out rows \(([\d.]+)%\) have features that also occur in the training split > "
                     r"max_overlap_fraction 0%; first: held-out data row (\d+) equals training data row (\d+)", result.message)
    assert m, result.message
    test_row, train_row = int(m[3]), int(m[4])
    assert test_row != train_row and int(m[1]) > 0
    assert frame.iloc[test_row - 1].equals(frame.iloc[train_row - 1])


def test_time_split_recurrences_warn(project, rt):
    """Split by time with the time column left out: equal rows at different times are the future
    repeating the past, not copies; equal rows at one time stay on one side."""
    frame = cancer().iloc[:200].reset_index(drop=True)
    frame = pd.concat([frame, frame.iloc[:40]], ignore_index=True)
    frame["day"] = [f"2024-01-{1 + i // 10:02d}" for i in range(len(frame))]  # the repeats come 20 days later
    text = spec(columns={}).replace("allow_extra = true", 'allow_extra = true\nexclude = ["day"]\nsplit = { time = "day" }')
    project(text, {"data/train.csv": frame})
    assert rt("validate") == 0
    leak = check("leakage")
    assert leak["status"] == "warn" and leak["details"]["split"]["method"] == "time"
    assert leak["details"]["split"]["cutoff"] == "2024-01-20"
    # the latest 20 % are 48 rows, from 2024-01-20 on; the rest of that day goes with them
    assert leak["message"].startswith("40 of 50 held-out rows (80%) have features that also occur in the training split, "
                                      "at an earlier time (split by `day`: recurrences, not copies); first: held-out data row 201")


def test_missing_targets_are_left_out_and_counted(project, rt, capsys):
    frame = cancer().astype({"malignant": "float64"})
    frame.loc[[3, 10, 11], "malignant"] = np.nan  # data rows 4, 11, 12
    root = project(spec(columns={}), {"data/train.csv": frame})
    assert rt("validate") == 0
    target = check("target")
    assert target["status"] == "warn"
    assert target["message"] == ("2 classes; the smallest, 1, has 209 rows; 3 rows with a missing target `malignant` "
                                 "left out (first: data row 4); data.missing_target = \"error\" refuses them instead")
    assert results()["data"]["missing_target_rows"] == 3
    assert "3 rows without a target left out" in (root / OUT / "report.md").read_text()
    assert check("min_rows")["details"]["rows"] == 566
    capsys.readouterr()
    project(spec(columns={}).replace("allow_extra = true", 'allow_extra = true\nmissing_target = "error"'),
            {"data/train.csv": frame})
    assert rt("validate") == 2
    assert capsys.readouterr().err == ("mlgen_runtime validate: error: data/train.csv: target column `malignant` is empty "
                                       "in 3 rows (first: data row 4); data.missing_target = \"error\"\n")


def test_ids_text_and_dates_are_recognised_with_a_warning(project, rt):
    frame = cancer()
    n = len(frame)
    frame.insert(0, "patient_id", np.arange(1000, 1000 + n))
    frame["notes"] = [f"seen on visit {i} with no complaint about pain" for i in range(n)]
    frame["seen"] = pd.date_range("2023-01-01", periods=n, freq="D").strftime("%Y-%m-%d")
    frame["ward"] = [f"W{i % 7}" for i in range(n)]
    root = project(spec(columns={}), {"data/train.csv": frame})
    assert rt("validate") == 0
    features = check("features")
    assert features["status"] == "warn"
    assert features["message"] == (
        "34 feature columns (31 numeric, 2 categorical, 1 date/time); "
        "column `patient_id` is an id (a different integer in each of the 569 rows): left out of the features; "
        "column `notes` is free text (about 9 words a value): left out of the features")
    assert features["details"]["datetime"] == ["seen"] and features["details"]["id"] == ["patient_id"]
    suite = ET.parse(root / OUT / "junit.xml").getroot().find("testsuite")
    case = next(c for c in suite.findall("testcase") if c.get("name") == "features")
    assert case.find("failure") is None and case.find("system-out").text.startswith("WARNING: 34 feature columns")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props == {"mlgen.warnings": "1", "mlgen.warned": "features"}
    # the contract wins: a declared column is used as declared; data.exclude leaves one out
    project(spec(columns={"patient_id": '{ type = "int" }'}).replace("allow_extra = true",
                                                                     'allow_extra = true\nexclude = ["notes"]'),
            {"data/train.csv": frame})
    assert rt("validate") == 0
    assert check("features")["status"] == "pass"
    assert check("features")["message"] == "35 feature columns (32 numeric, 2 categorical, 1 date/time); excluded: `notes`"


def test_classification_target_needs_two_rows_per_class(project, rt):
    frame = wine()
    frame.loc[99, "cultivar"] = 7  # data row 100
    project(spec(target="cultivar", columns={}), {"data/train.csv": frame})
    assert rt("validate") == 1
    assert "target" in failed()
    assert check("target")["message"] == ("target `cultivar`: every class needs at least 2 rows; "
                                          "1 class has 1: 7 (data row 100)")


def test_classification_target_needs_two_classes(project, rt):
    frame = cancer().assign(malignant=1)
    project(spec(), {"data/train.csv": frame})
    assert rt("validate") == 1
    assert check("target")["message"] == "target `malignant` has a single class (1); classification needs at least 2"


@pytest.mark.parametrize(("value", "message"), [
    (np.inf, "target `progression`: 1 infinite value (first: data row 9 has inf)"),
    ("abc", "target `progression`: expected numbers for regression, data row 9 has 'abc'"),
])
def test_regression_target_is_finite_numbers(project, rt, value, message):
    frame = diabetes().astype({"progression": object})
    frame.loc[8, "progression"] = value
    project(spec(target="progression", task="regression", columns={}), {"data/train.csv": frame})
    assert rt("validate") == 1
    assert check("target")["message"] == message


def test_drift_against_the_reference(project, rt):
    frame = cancer()
    live = frame.assign(mean_radius=frame["mean_radius"] * 1.3)
    root = project(spec(validate='drift = { method = "ks", threshold = 0.001 }', reference="data/reference.csv"),
                   {"data/train.csv": live, "data/reference.csv": frame})
    assert rt("validate") == 1
    assert failed() == ["drift"]
    msg = check("drift")["message"]
    assert msg.startswith("1 of 33 columns drifted from the reference (p < 0.001): `mean_radius` (ks p = ")
    details = check("drift")["details"]
    assert details["drifted_columns"] == ["mean_radius"]
    assert details["columns"]["size"]["test"] == "chi2"  # ks asked; a category column gets chi2
    assert "| `mean_radius` | numeric | ks |" in (root / OUT / "report.md").read_text()


def test_drift_names_the_columns_it_did_not_compare(project, rt, capsys):
    frame = cancer()
    reference = frame.drop(columns=["visits", "size"]).sample(frac=0.5, random_state=7)
    project(spec(validate='drift = { method = "psi", threshold = 0.2 }', reference="data/reference.csv"),
            {"data/train.csv": frame, "data/reference.csv": reference})
    assert rt("validate") == 0
    assert check("drift")["message"] == ("no drift in 31 columns (psi, drift when PSI > 0.2); "
                                         "not compared: `size`, `visits` (not in the reference)")
    assert "PASS  drift       no drift in 31 columns (psi, drift when PSI > 0.2); not compared: `size`" \
        in capsys.readouterr().out


def test_drift_with_no_comparable_column_fails(project, rt):
    frame = cancer()
    reference = pd.DataFrame({"other": [1.0, 2.0, 3.0]})
    project(spec(validate='drift = { method = "psi", threshold = 0.2 }', reference="data/reference.csv"),
            {"data/train.csv": frame, "data/reference.csv": reference})
    assert rt("validate") == 1
    assert failed() == ["drift"]
    assert check("drift")["message"].startswith("no column could be compared with the reference; not compared: `mean_radius`, ")


# --- non-finite numbers -------------------------------------------------------------------------

def test_infinite_numbers_in_feature_columns_fail_naming_column_and_row(project, rt, capsys):
    frame = cancer()
    frame.loc[16, "mean_radius"] = np.inf  # data row 17; a contract float column
    frame.loc[[30, 31], "mean_texture"] = -np.inf  # data rows 31, 32; not in the contract
    frame.loc[4, "mean_area"] = np.nan  # a missing value is `nulls`' business, not `finite`'s
    columns = {"mean_radius": '{ type = "float" }', "malignant": '{ type = "int", values = [0, 1] }'}
    root = project(spec(columns=columns, validate="max_null_fraction = 0.01"), {"data/train.csv": frame})
    assert rt("validate") == 1
    assert failed() == ["finite"]
    assert check("finite")["message"] == ("column `mean_radius`: 1 infinite value (first: data row 17 has inf); "
                                          "column `mean_texture`: 2 infinite values (first: data row 31 has -inf)")
    assert check("finite")["details"]["mean_texture"] == {"rows": 2, "first_row": 31, "value": "-inf"}
    assert "FAIL  finite" in capsys.readouterr().out
    assert "| `finite` | ❌ fail | column `mean_radius`: 1 infinite value" in (root / OUT / "report.md").read_text()


def test_finite_check_passes_and_skips_the_target_and_categories(project, rt):
    project(spec(target="cultivar", columns={}), {"data/train.csv": wine()})
    assert rt("validate") == 0
    assert check("finite")["message"] == "no infinite or unscalably large values in 13 numeric feature columns"
    frame = pd.DataFrame({"size": ["a", "b"] * 50, "y": [0, 1] * 50})
    assert validate.check_finite(frame, {}, "y", {}).skipped


# --- outputs ----------------------------------------------------------------------------------

def test_junit_has_one_case_per_check(project, rt):
    frame = cancer()
    frame.loc[4, "mean_radius"] = -1.0
    root = project(spec(validate="min_rows = 1000"), {"data/train.csv": frame})
    assert rt("validate") == 1
    suite = ET.parse(root / OUT / "junit.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == CHECKS
    assert {c.get("classname") for c in cases} == {"mlgen.validate"}
    failures = {c.get("name"): c.find("failure").get("message") for c in cases if c.find("failure") is not None}
    assert failures == {"ranges": check("ranges")["message"], "min_rows": "569 rows < min_rows 1,000"}
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("12", "2", "1")  # drift: skipped
    assert suite.find("properties") is None  # no warnings
    report = (root / OUT / "report.md").read_text()
    assert "**❌ 2 of 12 checks failed**" in report
    assert "| `min_rows` | ❌ fail | 569 rows &lt; min\\_rows 1,000 |" in report


# --- type rules, without the CLI ---------------------------------------------------------------

@pytest.mark.parametrize(("values", "ctype", "bad_rows"), [
    ([1, 2, 3], "int", []),
    ([1.0, None, 3.0], "int", []),  # a CSV int column with a blank reads as float
    ([1.0, 2.5, np.inf], "int", [2, 3]),
    ([True, False, True], "int", [1, 2, 3]),
    (["1.5", "x", None], "float", [2]),
    ([True, False, None], "bool", []),
    (["yes", "No", "maybe"], "bool", [3]),
    ([0, 1, 2], "bool", [3]),
    (["2024-01-05", "2024-02-30", None], "datetime", [2]),
    ([20240105, 1, 2], "datetime", [1, 2, 3]),
    (["anything", 3, None], "str", []),
])
def test_type_rules(values, ctype, bad_rows):
    series = pd.Series(values, dtype=object if any(isinstance(v, str) for v in values) else None)
    bad, _ = validate.type_problems(series, ctype)
    assert [int(i) + 1 for i in np.flatnonzero(bad)] == bad_rows


def test_report_keeps_hostile_names_and_values_inert(project, rt):
    """Column names and values reach a PR comment: no table breaks, links, HTML or @mentions."""
    frame = cancer().assign(**{"tier|<b>x</b>": np.where(np.arange(569) % 2 == 0, "ok", "@team [x](http://e)")})
    columns = {**CONTRACT, '"tier|<b>x</b>"': '{ type = "category", values = ["ok"] }'}
    root = project(spec(columns=columns), {"data/train.csv": frame})
    assert rt("validate") == 1
    row = next(line for line in (root / OUT / "report.md").read_text().splitlines() if line.startswith("| `values`"))
    assert row == ("| `values` | ❌ fail | column `tier\\|<b>x</b>`: 284 rows not in the allowed values "
                   "(first: data row 2 has '@\u2060team \\[x\\](http:\u2060//e)'; unexpected: '@\u2060team \\[x\\](http:\u2060//e)') |")


# --- real survey / panel data (statsmodels) ---------------------------------------------------

@pytest.mark.parametrize(("name", "repeated"), [("fair", "1,039 duplicate rows (16.3%)"),
                                                 ("randhie", "11,065 duplicate rows (54.8%)")])
def test_survey_data_with_repeated_rows_passes_with_a_warning(project, rt, name, repeated):
    """statsmodels' `fair` (affairs survey) and `randhie` (RAND health insurance panel) repeat
    whole rows; a random split put twins on both sides and the overlap check failed them."""
    from tests.realdata.datasets import by_name

    dataset = by_name(name)
    text = spec(target=dataset.target, task=dataset.task, columns={})
    project(text, {"data/train.csv": dataset.frame()})
    assert rt("validate") == 0
    res = results()
    assert res["failed"] == [] and res["warnings"] == ["duplicates"]
    assert check("duplicates")["message"].startswith(f"{repeated} <= max_duplicate_fraction 100%")
    leak = check("leakage")
    assert leak["status"] == "pass" and leak["details"]["rows"] == 0 and leak["details"]["split"]["method"] == "grouped"


def test_a_time_split_holding_out_a_class_training_never_shows_fails_naming_it(tmp_path: Path) -> None:
    """Penguins in file order, split by their row number: the latest rows are one species the
    model never sees. The random split is stratified and keeps every class on both sides."""
    from palmerpenguins import load_penguins

    from mlgen_runtime import data

    frame = load_penguins()
    order = {"Adelie": 0, "Gentoo": 1, "Chinstrap": 2}  # Chinstrap last: 68 of 344 rows, inside the latest 20 %
    frame = frame.sort_values("species", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    frame["observed"] = np.arange(len(frame))
    settings = {"project": {"seed": 0},
                "data": {"path": "data/train.csv", "target": "species", "task": "classification", "test_size": 0.2, "columns": {},
                         "exclude": [], "split": {"group": None, "time": "observed"}}}
    result = validate.check_split_classes(frame, settings, validate.check_target(frame["species"], "classification"))
    assert not result.passed
    assert result.message.startswith("target `species`: the split by `observed` (time) holds out 1 class the training "
                                     "split never shows: 'Chinstrap' (68 rows)")
    assert result.details["unseen_classes"] == ["Chinstrap"]
    settings["data"]["split"] = {"group": None, "time": None}  # stratified random split: every class on both sides
    random_split = data.split_positions(frame, settings)
    assert set(frame["species"].iloc[random_split.train]) == set(frame["species"])
    assert validate.check_split_classes(frame, settings, validate.check_target(frame["species"], "classification")).passed
