"""train / select: preprocessing, seeding, search, sharding, model files. Real sklearn data."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from mlgen_runtime import modelio, pipeline, search
from mlgen_runtime.fsutil import sha256_file
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
    assert meta["sha256"] == sha256_file(model_file)
    assert meta["estimator"] == "sklearn.linear_model.LogisticRegression"
    assert meta["params"] == {"max_iter": 2000}
    assert meta["estimator_params"]["max_iter"] == 2000
    assert meta["random_states"] == {"model__random_state": 42}
    assert meta["classes"] == [0, 1]
    assert meta["search"] is None and meta["cv"] is None
    assert len(meta["features"]["numeric"]) == 30 and meta["features"]["categorical"] == []
    d = meta["data"]
    assert d["path"] == "data/train.csv" and d["rows"] == 569
    assert d["sha256"] == sha256_file(root / "data/train.csv")
    assert (d["train"]["rows"], d["test"]["rows"]) == (455, 114)
    assert re.fullmatch(r"[0-9a-f]{64}", d["train"]["hash"]) and d["train"]["hash"] != d["test"]["hash"]
    assert set(meta["versions"]) == {"python", "numpy", "pandas", "scikit-learn", "skops", "mlgen_runtime"}
    assert meta["git_commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert not any(k in json.dumps(meta) for k in ("timestamp", "created"))
    assert not re.search(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:", json.dumps(meta))  # no time of training
    assert d["split"] == {"method": "random", "stratified": True, "group": None, "rows": 569, "groups": 569}
    assert d["missing_target_rows"] == 0 and meta["features"]["dates"] == []
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
    captured = capsys.readouterr()
    assert "  [4/4] trial #7 " in captured.err and "best: trial #" in captured.out
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


def test_preprocessing_types_missing_values_and_dates():
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
    assert cols.numeric == ("num", "nullable_int", "when")  # a contract datetime: days since 1970-01-01
    assert cols.dates == ("when",) and cols.dropped == ()
    assert cols.categorical == ("plan", "flag", "code")
    assert cols.notes == ("column `when` is a date/time (data.columns): used as days since 1970-01-01",)
    assert pipeline.prepare(X, cols)["when"].tolist() == [19723.0] * 6
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
])
def test_bad_estimator_or_params_is_bad_input(project, rt, capsys, estimator, params, message):
    spec = CLASSIFICATION_SPEC.replace('"sklearn.linear_model.LogisticRegression"', f'"{estimator}"').replace(
        "params = { max_iter = 2000 }", f"params = {params}")
    project(spec, {"data/train.csv": breast_cancer()})
    assert rt("train") == 2
    assert message in capsys.readouterr().err


# --- data train cannot fit: exit 2 naming what is wrong, no traceback ---------------------------

def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("shards", [0, 1, 2])
def test_infinite_feature_is_bad_input_naming_column_and_row(project, rt, capsys, shards):
    frame = breast_cancer()
    frame.loc[16, "mean_radius"] = np.inf  # data row 17
    frame.loc[[40, 41], "mean_texture"] = -np.inf
    root = project(CLASSIFICATION_SPEC if not shards else grid_spec(shards), {"data/train.csv": frame})
    capsys.readouterr()
    assert rt(*(["train", "--shard", "1/2"] if shards == 2 else ["train"])) == 2
    assert one_line_error(capsys) == (
        "mlgen_runtime train: error: data/train.csv: column `mean_radius`: data row 17 has inf, which is not finite; "
        "column `mean_texture`: data row 41 has -inf, which is not finite (2 rows in all) "
        "(`validate` reports every check)\n")
    if shards == 2:
        assert rt("select") == 2
        assert "data row 17 has inf" in one_line_error(capsys)
    assert not (root / MODEL_DIR / "model.skops").exists()


def test_a_value_error_from_fit_is_bad_input_with_the_estimator_message(project, rt, capsys):
    frame = breast_cancer()
    frame["malignant"] = frame["malignant"] + np.linspace(0.01, 0.5, len(frame))  # classes that are not classes
    project(CLASSIFICATION_SPEC, {"data/train.csv": frame})
    capsys.readouterr()
    assert rt("train") == 2
    err = one_line_error(capsys)
    assert err.startswith("mlgen_runtime train: error: train: LogisticRegression cannot be fitted on this data: ")
    assert "continuous" in err


@pytest.mark.parametrize(("task", "target", "message"), [
    ("classification", 1, "target column `malignant` has a single class (1 in all 569 rows with a target)"),
    ("regression", 2.5, "target column `malignant` is constant (2.5 in all 569 rows with a target)"),
])
def test_nothing_to_learn_is_bad_input_naming_the_target(project, rt, capsys, task, target, message):
    spec = CLASSIFICATION_SPEC if task == "classification" else CLASSIFICATION_SPEC.split("[train]")[0].replace(
        'task = "classification"', 'task = "regression"') + '[train]\nestimator = "sklearn.linear_model.Ridge"\n'
    
    project(spec, {"data/train.csv": breast_cancer().assign(malignant=target)})
    capsys.readouterr()
    assert rt("train") == 2
    assert one_line_error(capsys) == f"mlgen_runtime train: error: data/train.csv: {message}; nothing to learn\n"


class Broken(BaseEstimator, ClassifierMixin):
    """An estimator whose fit has a bug (or refuses the data, with `error = ValueError`)."""

    def __init__(self, error: type[Exception] = RuntimeError) -> None:
        self.error = error

    def fit(self, X, y):
        raise self.error("boom")


def test_only_value_errors_from_fit_become_bad_input():
    from sklearn.pipeline import Pipeline

    from mlgen_runtime.errors import BadInput

    X, y = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]}), pd.Series([0, 1, 0, 1])
    cols = pipeline.Columns(("a",), (), (), ())
    with pytest.raises(BadInput, match=r"^train: Broken cannot be fitted on this data: boom$"):
        pipeline.fit(Pipeline([("preprocess", pipeline.preprocessor(cols)), ("model", Broken(ValueError))]), X, y)
    with pytest.raises(RuntimeError, match="boom"):  # a bug stays a bug: traceback, not "bad input"
        pipeline.fit(Pipeline([("preprocess", pipeline.preprocessor(cols)), ("model", Broken())]), X, y)


# --- the contract's types decide the preprocessing ------------------------------------------------

def test_a_contract_numeric_column_is_never_one_hot_encoded():
    X = pd.DataFrame({"radius": ["1.5", "2.25", None, "3"], "code": [1, 2, 1, 2], "plain": ["x", "y", "x", "y"]})
    contract = {"radius": {"type": "float"}, "code": {"type": "category"}}
    cols = pipeline.columns(X, contract)
    assert cols.numeric == ("radius",) and cols.categorical == ("code", "plain")
    prepared = pipeline.prepare(X, cols)
    assert prepared["radius"].dtype == "float64"
    np.testing.assert_array_equal(prepared["radius"].to_numpy(), [1.5, 2.25, np.nan, 3.0])
    assert pipeline.number_problems(X, cols) == []
    bad = X.assign(radius=["1.5", "abc", None, "inf"])
    assert pipeline.number_problems(bad, cols) == [
        "column `radius`: data row 2 has 'abc', which is not a number",
        "column `radius`: data row 4 has inf, which is not finite",
    ]
    from mlgen_runtime.errors import BadInput

    with pytest.raises(BadInput, match="column `radius` is numeric but holds 'abc'"):
        pipeline.prepare(bad, cols)  # never a silent NaN


def test_text_in_a_contract_float_column_is_bad_input_not_a_category(project, rt, capsys):
    frame = breast_cancer().astype({"mean_radius": object})
    frame.loc[16, "mean_radius"] = "abc"  # the CSV column now reads as text
    spec = CLASSIFICATION_SPEC.replace("allow_extra = true", 'allow_extra = true\n\n[data.columns]\nmean_radius = { type = "float" }')
    root = project(spec, {"data/train.csv": frame})
    capsys.readouterr()
    assert rt("train") == 2
    assert one_line_error(capsys) == ("mlgen_runtime train: error: data/train.csv: column `mean_radius`: "
                                      "data row 17 has 'abc', which is not a number (`validate` reports every check)\n")
    frame.loc[16, "mean_radius"] = " 17.99"  # numbers as text (the contract says float): numeric, not one-hot
    frame.loc[20, "mean_radius"] = "1e1"
    frame.to_csv(root / "data/train.csv", index=False)
    assert rt("train") == 0
    _, meta = load_trained(root)
    assert "mean_radius" in meta["features"]["numeric"] and meta["features"]["categorical"] == []


# --- progress --------------------------------------------------------------------------------------

def test_search_progress_off_a_terminal_is_one_counted_line_per_trial(project, rt, capsys):
    project(grid_spec(1), {"data/train.csv": breast_cancer()})
    capsys.readouterr()
    assert rt("train") == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("  [")]
    assert [line.split("]")[0] for line in lines] == [f"  [{k}/8" for k in range(1, 9)]
    assert re.fullmatch(r"  \[8/8\] trial #7 C=10\.0, fit_intercept=False: roc_auc = 0\.\d{4} ± 0\.\d{4} \[\d+\.\ds\]", lines[-1])
    assert "\r" not in captured.err
    assert "search: 8 of 8 trials, 3-fold CV" in captured.out and "best: trial #" in captured.out


def test_search_progress_on_a_terminal_is_one_updating_line(project, rt, capsys, monkeypatch):
    import sys

    project(grid_spec(1), {"data/train.csv": breast_cancer()})
    capsys.readouterr()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert rt("train") == 0
    err = capsys.readouterr().err
    assert "trial #" not in err  # no log line per trial: one line, redrawn
    frames = err.split("\r")[1:]
    assert len(frames) == 9  # 0/8 .. 8/8
    assert re.fullmatch(r"search: 0/8 trials \[-{10}\] 0% 00:\d\d elapsed", frames[0].rstrip())
    assert re.fullmatch(r"search: 3/8 trials \[###-------\] 37% 00:\d\d elapsed", frames[3].rstrip())
    assert re.fullmatch(r"search: 8/8 trials \[#{10}\] 100% \d\d:\d\d elapsed\n", frames[-1])


def test_progress_bar_clock_and_failed_steps_above_the_bar():
    import io

    from mlgen_runtime.progress import Progress, bar, clock_text

    assert bar(12, 40) == "###-------" and bar(0, 0) == "#" * 10
    assert (clock_text(14), clock_text(3725)) == ("00:14", "1:02:05")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    ticks = iter([0.0, 0.0, 14.0, 15.0, 20.0])
    out = Terminal()
    with Progress(40, "search", stream=out, clock=lambda: next(ticks)) as p:
        p.done = 11
        p.step("trial #11: ok")
        p.step("trial #12: failed: boom", important=True)
    text = out.getvalue()
    assert text.startswith("\rsearch: 0/40 trials [----------] 0% 00:00 elapsed")
    assert "\rsearch: 12/40 trials [###-------] 30% 00:14 elapsed" in text
    # the failure is printed on its own line (the bar erased first), then the bar comes back
    assert "\r" + " " * len("search: 12/40 trials [###-------] 30% 00:14 elapsed") + "\r  [13/40] trial #12: failed: boom\n" in text
    assert text.endswith("\rsearch: 13/40 trials [###-------] 32% 00:15 elapsed\n")

    log = io.StringIO()
    p = Progress(2, "search", stream=log)
    p.step("trial #0: ok")
    p.step("trial #1: ok")
    p.close()
    assert log.getvalue() == "  [1/2] trial #0: ok\n  [2/2] trial #1: ok\n"


def test_no_pickle_or_joblib_in_the_runtime():
    """No model or data passes through pickle. The one use of joblib is its execution API for
    the Dask engine (search_engine.py: `parallel_config`, `Parallel`, `delayed`), never its
    persistence (`dump`/`load`); Dask ships the trials to its workers with its own serialisation."""
    pattern = re.compile(r"^\s*(import|from)\s+(c?pickle|joblib|dill|cloudpickle)\b|\b(pickle|joblib)\.(dumps?|loads?)\(",
                         re.MULTILINE)
    execution_only = re.compile(r"^\s*from joblib import (parallel_config|Parallel, delayed)\s*$", re.MULTILINE)
    offenders = []
    for p in sorted(RUNTIME.rglob("*.py")):
        text = p.read_text(encoding="utf-8")
        if p.name == "search_engine.py":
            text = execution_only.sub("", text)
        if pattern.search(text):
            offenders.append(p.name)
    assert offenders == []


def test_missing_targets_ids_text_and_dates_in_train_and_evaluate(project, rt, capsys):
    """Rows without a target are left out and counted (train's notes, model.json, evaluate's
    report); an id and free text are left out with a warning; a date is a numeric feature."""
    frame = breast_cancer().astype({"malignant": "float64"})
    frame.loc[[5, 50, 500], "malignant"] = np.nan  # data rows 6, 51, 501
    frame.insert(0, "patient_id", np.arange(len(frame)))
    frame["notes"] = [f"referred by the clinic for a second opinion, case {i}" for i in range(len(frame))]
    frame["seen"] = pd.date_range("2022-01-01", periods=len(frame), freq="D").strftime("%Y-%m-%d")
    root = project(CLASSIFICATION_SPEC, {"data/train.csv": frame})
    capsys.readouterr()
    assert rt("train") == 0
    out = capsys.readouterr().out
    assert ("warning: column `patient_id` is an id (a different integer in each of the 566 rows): left out of the "
            "features\n") in out
    assert "warning: column `notes` is free text (about 10 words a value): left out of the features\n" in out
    assert "note: column `seen` holds dates: used as days since 1970-01-01\n" in out
    assert ("note: 3 rows with a missing target `malignant` left out (first: data row 6); "
            'data.missing_target = "error" refuses them instead\n') in out
    _, meta = load_trained(root)
    assert meta["features"]["dropped"] == ["patient_id", "notes"] and meta["features"]["dates"] == ["seen"]
    assert "seen" in meta["features"]["numeric"]
    assert meta["data"]["rows"] == 566 and meta["data"]["missing_target_rows"] == 3
    assert any("3 rows with a missing target" in n for n in meta["notes"])
    assert rt("evaluate") == 0
    report = (root / ".mlgen/out/evaluate/report.md").read_text()
    assert "3 rows with a missing target `malignant` left out (first: data row 6)" in report
    metrics = json.loads((root / ".mlgen/out/evaluate/metrics.json").read_text())
    assert metrics["data"]["missing_target_rows"] == 3
