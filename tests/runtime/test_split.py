"""The shared train/test split (data.split_positions): identical rows grouped, stratified for
classification, by a group column or by time; a pure function of data and seed; memoized by
every input it depends on. Plus the spec rules for data.split / data.exclude."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from mlgen.cli import main as mlgen_main
from mlgen_runtime import data
from mlgen_runtime.errors import BadInput
from tests.runtime.conftest import breast_cancer, diabetes


def settings(target: str = "malignant", task: str = "classification", *, group: str | None = None,
             time: str | None = None, exclude: tuple[str, ...] = (), seed: int = 42, test_size: float = 0.2,
             columns: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"project": {"seed": seed},
            "data": {"path": "data/train.csv", "target": target, "task": task, "test_size": test_size,
                     "columns": columns or {}, "exclude": list(exclude), "split": {"group": group, "time": time}}}


def feature_rows(frame: pd.DataFrame, target: str) -> pd.Series:
    return pd.Series(pd.util.hash_pandas_object(frame.drop(columns=[target]), index=False).to_numpy())


def test_without_repeats_it_is_exactly_train_test_split():
    frame = breast_cancer()
    parts = data.split_positions(frame, settings())
    train, test = train_test_split(np.arange(len(frame)), test_size=0.2, random_state=42, stratify=frame["malignant"])
    assert np.array_equal(parts.train, train) and np.array_equal(parts.test, test)
    assert parts.how == {"method": "random", "stratified": True, "group": None, "rows": 569, "groups": 569}
    assert parts.groups is None


def test_repeated_rows_land_on_one_side_and_the_split_stays_stratified():
    """Survey-like data: a third of the rows repeat an earlier one, some many times."""
    base = breast_cancer()
    rng = np.random.default_rng(1)
    frame = pd.concat([base, base.iloc[rng.integers(0, 100, 300)]], ignore_index=True)
    parts = data.split_positions(frame, settings())
    keys = feature_rows(frame, "malignant")
    assert not set(keys[parts.test]) & set(keys[parts.train])
    assert parts.how["method"] == "grouped" and parts.how["stratified"] is True and parts.how["groups"] == 569
    assert sorted([*parts.train, *parts.test]) == list(range(len(frame)))
    share = len(parts.test) / len(frame)
    assert 0.12 < share < 0.28  # test_size is a share of the groups; rows follow
    rate = frame["malignant"].mean()
    assert abs(frame["malignant"].iloc[parts.test].mean() - rate) < 0.08
    # the same data and seed give the same split; another seed another
    again = data.split_positions(frame.copy(), settings())
    assert np.array_equal(again.train, parts.train) and np.array_equal(again.test, parts.test)
    assert not np.array_equal(data.split_positions(frame, settings(seed=7)).test, parts.test)


def test_rows_equal_but_for_an_excluded_id_are_still_twins():
    """The twins are judged on the features the model reads: an id column left out does not
    make two otherwise equal rows different."""
    base = breast_cancer()
    frame = pd.concat([base, base.iloc[:80]], ignore_index=True)
    frame.insert(0, "row_id", np.arange(len(frame)))
    parts = data.split_positions(frame, settings())  # row_id is recognised as an id
    keys = feature_rows(frame.drop(columns=["row_id"]), "malignant")
    assert not set(keys[parts.test]) & set(keys[parts.train])


def test_group_column_keeps_each_group_on_one_side():
    frame = diabetes()
    frame["patient"] = np.repeat(np.arange(len(frame) // 4 + 1), 4)[: len(frame)]
    frame.loc[frame.index[-1], "patient"] = np.nan  # a row without a group is a group of its own
    parts = data.split_positions(frame, settings("progression", "regression", group="patient"))
    train_groups = set(frame["patient"].iloc[parts.train].dropna())
    test_groups = set(frame["patient"].iloc[parts.test].dropna())
    assert train_groups and test_groups and not train_groups & test_groups
    assert parts.how["method"] == "grouped" and parts.how["group"] == "patient" and parts.how["stratified"] is False
    assert parts.how["groups"] == 112  # 111 patients and the row without one


def test_groups_joined_through_a_shared_row_are_one():
    """Patient 1's visit equals patient 2's: both patients go to the same side."""
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 2.0, 5.0] * 20, "y": [0, 1] * 50,
                          "patient": np.repeat(np.arange(50), 2)})
    frame["x"] = frame["x"] + np.repeat(np.arange(50), 2) * 10.0  # every patient's rows differ from the others'
    frame.loc[5, "x"] = frame.loc[0, "x"]  # ... but patient 2's second visit equals patient 0's first
    parts = data.split_positions(frame, settings("y", group="patient"))
    side = {p: ("test" if i in set(parts.test) else "train") for i, p in enumerate(frame["patient"])}
    assert side[0] == side[2]
    assert parts.how["groups"] == 49


def test_time_split_holds_out_the_latest_rows_with_ties_together():
    frame = diabetes().iloc[:100].copy()
    frame["day"] = [f"2024-03-{1 + i // 4:02d}" for i in range(100)]  # 4 rows a day, 25 days
    parts = data.split_positions(frame, settings("progression", "regression", time="day", test_size=0.19))
    # the latest 19 rows start inside 2024-03-21: that whole day is held out, so 20 rows
    assert sorted(parts.test) == list(range(80, 100))
    assert parts.how == {"method": "time", "stratified": False, "time": "day", "cutoff": "2024-03-21",
                         "rows_without_time": 0}
    # a numeric order works too, and rows without a time are training rows
    frame["step"] = np.arange(100, dtype=float)
    frame.loc[99, "step"] = np.nan
    parts = data.split_positions(frame, settings("progression", "regression", time="step"))
    assert sorted(parts.test) == list(range(79, 99)) and 99 in parts.train
    assert parts.how["rows_without_time"] == 1 and parts.how["cutoff"] == 79.0


def test_time_split_refuses_what_cannot_be_ordered():
    frame = diabetes().iloc[:50].copy()
    frame["when"] = "soon"
    with pytest.raises(BadInput, match=r"data.split.time column `when` is neither a date/time nor a number \(50 values"):
        data.split_positions(frame, settings("progression", "regression", time="when"))
    frame["when"] = "2024-01-01"
    with pytest.raises(BadInput, match="needs at least two different times"):
        data.split_positions(frame, settings("progression", "regression", time="when"))
    with pytest.raises(BadInput, match="data.split.group: column `nope` is not in data/train.csv"):
        data.split_positions(frame, settings("progression", "regression", group="nope"))


def test_all_rows_identical_cannot_be_split():
    frame = pd.DataFrame({"x": [1.0] * 40, "y": [0, 1] * 20})
    with pytest.raises(BadInput, match="every row is in one group"):
        data.split_positions(frame, settings("y"))


def test_the_split_follows_its_inputs():
    frame = diabetes()
    frame["patient"] = np.arange(len(frame)) // 3
    frame["clinic"] = np.arange(len(frame)) % 40
    by_patient = data.split_positions(frame, settings("progression", "regression", group="patient"))
    by_clinic = data.split_positions(frame, settings("progression", "regression", group="clinic"))
    again = data.split_positions(frame, settings("progression", "regression", group="patient"))
    by_time = data.split_positions(frame, settings("progression", "regression", time="patient"))
    changed = frame.assign(patient=frame["patient"] // 2)
    coarser = data.split_positions(changed, settings("progression", "regression", group="patient"))
    assert np.array_equal(again.test, by_patient.test)
    assert not np.array_equal(by_clinic.test, by_patient.test)
    assert by_time.how["method"] == "time"
    assert set(changed["patient"].iloc[coarser.test]).isdisjoint(changed["patient"].iloc[coarser.train])
    assert not np.array_equal(coarser.test, by_patient.test)


def test_the_split_is_recorded_in_the_model_metadata(project, rt):
    import json

    frame = diabetes()
    frame["patient"] = np.arange(len(frame)) // 2
    spec = """
[project]
name = "sp"
seed = 42

[data]
path = "data/train.csv"
target = "progression"
split = { group = "patient" }

[train]
estimator = "sklearn.linear_model.Ridge"
"""
    project(spec, {"data/train.csv": frame})
    assert rt("train") == 0
    meta = json.loads(open(".mlgen/out/model/model.json").read())
    assert meta["data"]["split"] == {"method": "grouped", "stratified": False, "group": "patient", "rows": 442,
                                     "groups": 221}
    assert "patient" in meta["features"]["dropped"]  # every held-out patient is new: not a feature
    assert rt("evaluate") == 0


@pytest.mark.parametrize(("data_lines", "message"), [
    ('split = { group = "g", time = "t" }', "data.split: `group` and `time` are both set"),
    ('split = { time = "y" }', "data.split.time: `y` is the target"),
    ('exclude = ["a", "y"]', "data.exclude[1]: `y` is the target, not a feature"),
])
def test_spec_rules_for_split_and_exclude(tmp_path, monkeypatch, capsys, data_lines, message):
    (tmp_path / "mlproject.toml").write_text(f"""
[project]
name = "x"

[data]
path = "d.csv"
target = "y"
{data_lines}

[train]
estimator = "sklearn.linear_model.LogisticRegression"
""")
    monkeypatch.chdir(tmp_path)
    assert mlgen_main(["validate"]) == 2
    assert message in capsys.readouterr().err


def test_a_time_split_trains_and_searches_on_the_past_only(project, rt):
    import json

    from mlgen_runtime import search

    frame = diabetes()
    frame["visit"] = pd.date_range("2020-01-01", periods=len(frame), freq="D")[::-1].strftime("%Y-%m-%d")  # newest first
    spec = """
[project]
name = "ts"
seed = 42

[data]
path = "data/train.csv"
target = "progression"
split = { time = "visit" }

[train]
estimator = "sklearn.linear_model.Ridge"

[train.search]
space = { alpha = [0.1, 1.0] }
cv = 3
"""
    project(spec, {"data/train.csv": frame})
    assert rt("train") == 0
    meta = json.loads(open(".mlgen/out/model/model.json").read())
    assert meta["data"]["split"]["method"] == "time" and meta["data"]["test"]["rows"] == 89
    assert meta["data"]["split"]["cutoff"] == "2020-12-19"  # 442 days to 2021-03-17; the latest 89 are held out
    assert meta["features"]["dates"] == ["visit"]
    # time-ordered folds: every validation row is later than every row its fold trained on
    folds = search.folds("regression", 3, 42, np.zeros((30, 1)), np.zeros(30), by_time=True)
    assert all(train.max() < valid.min() for train, valid in folds)
    assert rt("evaluate") == 0
