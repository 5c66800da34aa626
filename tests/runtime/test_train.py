"""train / select: preprocessing, seeding, search, sharding, model files. Real sklearn data."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlgen_runtime import modelio, pipeline, search
from tests.runtime.conftest import CLASSIFICATION_SPEC, breast_cancer, diabetes

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"
MODEL_DIR = Path(".mlgen/out/model")

FOREST = CLASSIFICATION_SPEC.replace(
    'estimator = "sklearn.linear_model.LogisticRegression"\nparams = { max_iter = 2000 }',
    'estimator = "sklearn.ensemble.RandomForestClassifier"\nparams = { n_estimators = 8, max_depth = 4 }',
)


def grid_spec(shards: int) -> str:
    return CLASSIFICATION_SPEC.replace(
        "params = { max_iter = 2000 }",
        "params = { max_iter = 2000 }\n\n[train.search]\nstrategy = \"grid\"\n"
        f"space = {{ C = [0.01, 0.1, 1.0, 10.0], fit_intercept = [true, false] }}\ncv = 3\nscoring = \"roc_auc\"\nshards = {shards}",
    )


def load_trained(root: Path) -> tuple[object, dict]:
    meta = json.loads((root / MODEL_DIR / "model.json").read_text())
    model = modelio.load_model(root / MODEL_DIR / "model.skops", meta["sha256"])
    return model, meta


def test_train_writes_a_skops_model_and_its_metadata(project, rt, monkeypatch):
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
    root = project(CLASSIFICATION_SPEC, {"data/train.csv": breast_cancer()})
    assert rt("train") == 0
    model_file = root / MODEL_DIR / "model.skops"
    assert zipfile.is_zipfile(model_file)  # a skops archive, not a pickle
    model, meta = load_trained(root)
    assert meta["sha256"] == modelio.sha256_file(model_file)
    assert meta["estimator"] == "sklearn.linear_model.LogisticRegression"
    assert meta["params"] == {"max_iter": 2000}
    assert meta["estimator_params"]["max_iter"] == 2000
    assert meta["random_states"] == {"model__random_state": 42}
    assert meta["classes"] == [0, 1]
    assert meta["search"] is None and meta["cv"] is None
    assert len(meta["features"]["numeric"]) == 30 and meta["features"]["categorical"] == []
    d = meta["data"]
    assert d["path"] == "data/train.csv" and d["rows"] == 569
    assert d["sha256"] == modelio.sha256_file(root / "data/train.csv")
    assert (d["train"]["rows"], d["test"]["rows"]) == (455, 114)
    assert re.fullmatch(r"[0-9a-f]{64}", d["train"]["hash"]) and d["train"]["hash"] != d["test"]["hash"]
    assert set(meta["versions"]) == {"python", "numpy", "pandas", "scikit-learn", "skops", "mlgen_runtime"}
    assert meta["git_commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert not any(k in json.dumps(meta) for k in ("timestamp", "created", "date"))
    assert model.predict(breast_cancer().drop(columns=["malignant"]).head(3)).shape == (3,)


def test_same_seed_same_predictions(project, rt):
    frame = breast_cancer()
    root = project(FOREST, {"data/train.csv": frame})
    X = frame.drop(columns=["malignant"])
    probas = []
    for _ in range(2):
        assert rt("train") == 0
        model, meta = load_trained(root)
        probas.append(model.predict_proba(X))
    np.testing.assert_array_equal(probas[0], probas[1])
    assert meta["random_states"] == {"model__random_state": 42}  # set although the spec did not
    # and the seed is what decides: another seed, other trees
    project(FOREST.replace("seed = 42", "seed = 7"), {"data/train.csv": frame})
    assert rt("train") == 0
    model, meta = load_trained(root)
    assert meta["random_states"] == {"model__random_state": 7}
    assert not np.array_equal(model.predict_proba(X), probas[0])


def test_sharded_grid_search_selects_what_the_unsharded_search_selects(project, rt, capsys):
    frame = breast_cancer()
    root = project(grid_spec(2), {"data/train.csv": frame})
    assert rt("train", "--shard", "1/2") == 0
    assert rt("train", "--shard", "2/2") == 0
    shard = json.loads((root / ".mlgen/out/trials/shard-2-of-2.json").read_text())
    assert [t["index"] for t in shard["trials"]] == [1, 3, 5, 7]
    assert set(shard["trials"][0]) >= {"index", "params", "fold_scores", "mean", "std"}
    assert len(shard["trials"][0]["fold_scores"]) == 3
    assert rt("select") == 0
    out = capsys.readouterr().out
    assert "trial 4/4 (#7)" in out and "best: trial #" in out
    sharded_model, sharded = load_trained(root)

    project(grid_spec(1), {"data/train.csv": frame})
    assert rt("train") == 0
    model, single = load_trained(root)
    assert sharded["search"]["best"] == single["search"]["best"]
    assert sharded["search"]["trials"] == single["search"]["trials"] == 8
    assert sharded["cv"] == single["cv"]
    assert sharded["params"] == single["params"] == {"max_iter": 2000, **single["search"]["best"]["params"]}
    X = frame.drop(columns=["malignant"])
    np.testing.assert_array_equal(sharded_model.predict_proba(X), model.predict_proba(X))


def test_select_refuses_a_missing_or_stale_shard(project, rt, capsys):
    root = project(grid_spec(2), {"data/train.csv": breast_cancer()})
    assert rt("train") == 2  # sharded in the plan: one job per shard
    assert "--shard i/2" in capsys.readouterr().err
    assert rt("train", "--shard", "1/2") == 0
    assert rt("select") == 2
    assert "shard 2/2 is missing" in capsys.readouterr().err
    assert not (root / MODEL_DIR / "model.skops").exists()
    # a shard file from other settings is not mixed in
    assert rt("train", "--shard", "2/2") == 0
    path = root / ".mlgen/out/trials/shard-2-of-2.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "fingerprint": "0" * 64}))
    assert rt("select") == 2
    assert "different training settings or data" in capsys.readouterr().err
    # one shard's file copied over another's: duplicated
    (root / ".mlgen/out/trials/shard-1-of-2.json").write_text(json.dumps(doc))
    assert rt("select") == 2
    assert "duplicated" in capsys.readouterr().err
    assert rt("train", "--shard", "1/3") == 2


def test_trials_are_deterministic_and_sharded_by_index():
    space = {"space": {"a": [1, 2, 3], "b": ["x", "y"]}}
    grid = search.trials({**space, "strategy": "grid"}, 0)
    assert grid == search.trials({**space, "strategy": "grid"}, 99) and len(grid) == 6
    rnd = search.trials({**space, "strategy": "random", "n_iter": 4}, 42)
    assert rnd == search.trials({**space, "strategy": "random", "n_iter": 4}, 42) and len(rnd) == 4
    assert search.trials({**space, "strategy": "random", "n_iter": 50}, 42).__len__() == 6  # capped at the grid
    parts = [search.shard_trials(6, i, 4) for i in range(1, 5)]
    assert parts == [[0, 4], [1, 5], [2], [3]]


def test_best_trial_ties_go_to_the_lowest_index_and_direction_counts():
    r = [search.TrialResult(i, {}, [], m, 0.0) for i, m in enumerate([0.5, 0.9, 0.9, None, 0.1])]
    assert search.best(r, greater_is_better=True).index == 1
    assert search.best(r, greater_is_better=False).index == 4


def test_random_search_regression_with_lower_is_better_scoring(project, rt):
    spec = f"""
[project]
name = "diab"
seed = 3

[data]
path = "data/train.csv"
target = "progression"
task = "regression"
allow_extra = true

[train]
estimator = "sklearn.linear_model.Ridge"

[train.search]
strategy = "random"
space = {{ alpha = [0.001, 0.1, 1.0, 10.0, 100.0] }}
n_iter = 3
cv = 3
scoring = "rmse"

[evaluate]
metrics = ["r2", "rmse"]
"""
    root = project(spec, {"data/train.csv": diabetes()})
    assert rt("train") == 0
    _, meta = load_trained(root)
    s = meta["search"]
    assert s["scoring"] == "rmse" and s["greater_is_better"] is False and s["trials"] == 3
    assert s["best"]["mean"] == min(r["mean"] for r in s["results"])


def test_preprocessing_types_missing_values_and_datetimes():
    frame = pd.DataFrame({
        "num": [1.0, None, 3.0, 4.0, 5.0, 6.0],
        "nullable_int": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
        "plan": ["basic", "pro", None, "pro", "basic", "pro"],
        "flag": pd.array([True, None, False, True, False, True], dtype="boolean"),
        "code": [1, 2, 1, 2, 1, 2],  # numbers, but a category in the contract
        "when": ["2024-01-01"] * 6,
        "y": [0, 1, 0, 1, 0, 1],
    })
    contract = {"code": {"type": "category"}, "when": {"type": "datetime"}}
    X = frame.drop(columns=["y"])
    cols = pipeline.columns(X, contract)
    assert cols.numeric == ("num", "nullable_int")
    assert cols.categorical == ("plan", "flag", "code")
    assert cols.dropped == ("when",) and "datetime" in cols.notes[0]
    settings = {"project": {"seed": 5}, "data": {"task": "classification"},
                "train": {"estimator": "sklearn.tree.DecisionTreeClassifier", "params": {"max_depth": 2}}}
    pipe = pipeline.build(settings, cols)
    assert pipe.get_params()["model__random_state"] == 5
    pipeline.fit(pipe, pipeline.prepare(X, cols), frame["y"])
    unseen = pipeline.prepare(X.assign(plan="enterprise"), cols)  # unknown category: ignored, not an error
    assert pipe.predict(unseen).shape == (6,)


def test_explicit_random_state_wins_over_the_seed():
    cols = pipeline.Columns(("a",), (), (), ())
    settings = {"project": {"seed": 5}, "data": {"task": "classification"},
                "train": {"estimator": "sklearn.ensemble.RandomForestClassifier", "params": {"random_state": 1}}}
    assert pipeline.build(settings, cols).get_params()["model__random_state"] == 1


@pytest.mark.parametrize(("estimator", "params", "message"), [
    ("sklearn.linear_model.NoSuchModel", "{}", "has no `NoSuchModel`"),
    ("nosuchpackage.Model", "{}", "cannot import module `nosuchpackage`"),
    ("sklearn.linear_model.LogisticRegression", "{ bogus = 1 }", "rejected the parameters"),
    ("sklearn.linear_model.LogisticRegression", '{ C = "high" }', "train:"),
    ("sklearn.linear_model.Ridge", "{}", "is a regressor but data.task is classification"),
])
def test_bad_estimator_or_params_is_bad_input(project, rt, capsys, estimator, params, message):
    spec = CLASSIFICATION_SPEC.replace('"sklearn.linear_model.LogisticRegression"', f'"{estimator}"').replace(
        "params = { max_iter = 2000 }", f"params = {params}")
    project(spec, {"data/train.csv": breast_cancer()})
    assert rt("train") == 2
    assert message in capsys.readouterr().err


def test_no_pickle_or_joblib_in_the_runtime():
    pattern = re.compile(r"^\s*(import|from)\s+(c?pickle|joblib|dill|cloudpickle)\b|\b(pickle|joblib)\.(dumps?|loads?)\(",
                         re.MULTILINE)
    offenders = [p.name for p in sorted(RUNTIME.rglob("*.py")) if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
