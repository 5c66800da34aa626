"""evaluate: metrics, gates, champion vs challenger, slices, plots, report.md, JUnit. Real data."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest

from mlgen_runtime import evaluate, gates, metrics, modelio
from tests.runtime.conftest import CLASSIFICATION_SPEC, breast_cancer, diabetes, wine

OUT = Path(".mlgen/out/evaluate")



@pytest.fixture(autouse=True)
def _no_stage_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests swap the champion in-process; the stage cache (tested in test_stagecache.py)
    keys on the registry and would rightly restore the earlier result."""
    monkeypatch.setenv("MLGEN_NO_CACHE", "1")

def results(root: Path) -> dict:
    return json.loads((root / OUT / "metrics.json").read_text())


def junit_cases(root: Path) -> dict[str, ET.Element]:
    tree = ET.parse(root / OUT / "junit.xml")
    return {tc.get("name"): tc for tc in tree.iter("testcase")}


def trained_model(root: Path):
    meta = json.loads((root / ".mlgen/out/model/model.json").read_text())
    return modelio.load_model(root / ".mlgen/out/model/model.skops", meta["sha256"]), meta


def test_binary_classification_end_to_end(project, rt):
    spec = CLASSIFICATION_SPEC.replace('metrics = ["accuracy", "f1", "roc_auc"]',
                                       'metrics = ["accuracy", "f1", "roc_auc", "log_loss", "precision", "recall"]')
    root = project(spec, {"data/train.csv": breast_cancer()})
    assert rt("train") == 0
    assert rt("evaluate") == 0
    r = results(root)
    assert set(r["metrics"]) == {"accuracy", "f1", "roc_auc", "log_loss", "precision", "recall"}
    assert r["metrics"]["roc_auc"] > 0.95 and 0 < r["metrics"]["log_loss"] < 0.5
    assert r["data"]["rows"] == 114 and r["champion"] is None and r["passed"] is True
    assert r["gates"] == [{
        "metric": "roc_auc", "kind": "min", "limit": 0.9, "passed": True, "value": r["metrics"]["roc_auc"],
        "bound": 0.9, "champion": None, "delta": None, "note": "", "name": "roc_auc min 0.9",
    }]
    assert r["plots"] == ["plots/confusion_matrix.png", "plots/roc_curve.png", "plots/pr_curve.png"]
    for p in r["plots"]:
        assert (root / OUT / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (root / OUT / "report.md").read_text()
    assert "✅ all gates passed" in report and "no deployed model yet" in report
    assert "| roc\\_auc min 0.9 | ≥ 0.9000 |" in report and "`plots/roc_curve.png` (ROC curve)" in report and "](plots/" not in report
    assert "log\\_loss (lower is better)" in report
    case = junit_cases(root)["roc_auc min 0.9"]
    assert case.find("failure") is None


def test_positive_class_is_the_larger_label(project, rt):
    # string labels: "yes" > "no", so f1/precision/recall are about "yes" (= malignant)
    frame = breast_cancer()
    frame["malignant"] = np.where(frame["malignant"] == 1, "yes", "no")
    root = project(CLASSIFICATION_SPEC, {"data/train.csv": frame})
    assert rt("train") == 0 and rt("evaluate") == 0
    model, _ = trained_model(root)
    from mlgen_runtime import data
    settings = json.loads((root / ".mlgen/plan.json").read_text())["settings"]
    _, test = data.split(data.training_frame(settings, root), settings)
    X, y = data.features(test, settings)
    from sklearn.metrics import f1_score
    assert results(root)["metrics"]["f1"] == pytest.approx(f1_score(y, model.predict(X), pos_label="yes"))


def test_multiclass_with_categorical_feature_and_slices(project, rt):
    frame = wine()
    # a category column to one-hot and to slice on; "rare" is too small for a slice of its own
    frame["region"] = np.where(frame.index % 20 == 0, "rare", np.where(frame["alcohol"] > 13, "north", "south"))
    spec = f"""
[project]
name = "wine"
seed = 1

[data]
path = "data/train.csv"
target = "cultivar"
task = "classification"
test_size = 0.5
allow_extra = true

[train]
estimator = "sklearn.linear_model.LogisticRegression"
params = {{ max_iter = 500 }}

[evaluate]
metrics = ["f1_macro", "roc_auc", "log_loss", "balanced_accuracy"]
gates = {{ f1_macro = {{ min = 0.8 }}, log_loss = {{ max = 1.0 }} }}
slices = ["region"]
"""
    root = project(spec, {"data/train.csv": frame})
    assert rt("train") == 0
    assert trained_model(root)[1]["features"]["categorical"] == ["region"]
    assert rt("evaluate") == 0
    r = results(root)
    assert r["plots"] == ["plots/confusion_matrix.png", "plots/roc_curve.png", "plots/pr_curve.png"]  # one-vs-rest
    for p in r["plots"]:
        assert (root / OUT / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "`plots/roc_curve.png` (ROC curve)" in (root / OUT / "report.md").read_text()
    assert r["metrics"]["roc_auc"] > 0.9
    slices = {s["value"]: s for s in r["slices"]}
    assert set(slices) == {"north", "rare", "south"}
    assert slices["rare"]["skipped"] and "< 20" in slices["rare"]["note"]
    assert not slices["north"]["skipped"] and slices["north"]["metrics"]["f1_macro"] is not None
    assert sum(s["rows"] for s in r["slices"]) == r["data"]["rows"]
    assert [g["name"] for g in r["gates"]] == ["f1_macro min 0.8", "log_loss max 1"]
    assert "### Slices" in (root / OUT / "report.md").read_text()


def test_regression_end_to_end(project, rt):
    spec = """
[project]
name = "diab"
seed = 0

[data]
path = "data/train.csv"
target = "progression"
task = "regression"
allow_extra = true

[train]
estimator = "sklearn.linear_model.Ridge"
params = { alpha = 1.0 }

[evaluate]
metrics = ["r2", "rmse", "mae", "mse", "mape", "explained_variance"]
gates = { r2 = { min = 0.3 }, rmse = { max = 70 } }
"""
    root = project(spec, {"data/train.csv": diabetes()})
    assert rt("train") == 0
    assert rt("evaluate") == 0
    r = results(root)
    m = r["metrics"]
    assert m["rmse"] == pytest.approx(m["mse"] ** 0.5) and 0 < m["mape"] < 1
    assert r["plots"] == ["plots/residuals.png", "plots/predicted_vs_actual.png"]
    assert all(g["passed"] for g in r["gates"])


def test_a_gate_that_cannot_pass_exits_1_with_a_junit_failure(project, rt, capsys):
    spec = CLASSIFICATION_SPEC.replace("gates = { roc_auc = { min = 0.9 } }",
                                       "gates = { roc_auc = { min = 0.9 }, accuracy = { min = 0.9999 } }")
    root = project(spec, {"data/train.csv": breast_cancer()})
    assert rt("train") == 0
    assert rt("evaluate") == 1
    assert "1 of 2 gate(s) failed: accuracy min 0.9999" in capsys.readouterr().err
    cases = junit_cases(root)
    failure = cases["accuracy min 0.9999"].find("failure")
    assert failure is not None and "required >= 0.9999" in failure.get("message")
    assert cases["roc_auc min 0.9"].find("failure") is None
    assert results(root)["passed"] is False
    assert "❌ 1 of 2 gates failed" in (root / OUT / "report.md").read_text()


CHAMPION_SPEC = CLASSIFICATION_SPEC.replace("gates = { roc_auc = { min = 0.9 } }",
                                            "gates = { roc_auc = { min = 0.5, max_drop = 0.01 } }")
DUMMY_SPEC = CHAMPION_SPEC.replace('estimator = "sklearn.linear_model.LogisticRegression"\nparams = { max_iter = 2000 }',
                                   'estimator = "sklearn.dummy.DummyClassifier"')


def test_champion_comparison_on_the_same_data(project, rt, monkeypatch, capsys):
    frame = breast_cancer()
    root = project(CHAMPION_SPEC, {"data/train.csv": frame})
    assert rt("train") == 0

    # first run: no deployed model, the change gate passes with a note
    monkeypatch.setattr(evaluate, "champion", lambda ctx, sha=None: None)
    assert rt("evaluate") == 0
    drop = next(g for g in results(root)["gates"] if g["kind"] == "max_drop")
    assert drop["passed"] and drop["note"] == "no deployed model yet"

    # the deployed model is as good as the candidate (it is the same one): delta 0, pass
    strong, meta = trained_model(root)
    monkeypatch.setattr(evaluate, "champion", lambda ctx, sha=None: evaluate.Champion(3, "production", strong, meta))
    assert rt("evaluate") == 0
    r = results(root)
    assert r["champion"]["version"] == 3 and r["champion"]["metrics"] == r["metrics"]
    drop = next(g for g in r["gates"] if g["kind"] == "max_drop")
    assert drop["passed"] and drop["delta"] == 0 and drop["bound"] == pytest.approx(r["metrics"]["roc_auc"] - 0.01)
    report = (root / OUT / "report.md").read_text()
    assert "| metric | candidate | champion v3 | Δ |" in report and "+0.0000" in report

    # a much weaker candidate: the change gate fails (and only the change gate)
    project(DUMMY_SPEC, {"data/train.csv": frame})
    assert rt("train") == 0
    assert rt("evaluate") == 1
    capsys.readouterr()
    r = results(root)
    verdicts = {g["kind"]: g for g in r["gates"]}
    assert verdicts["min"]["passed"] and not verdicts["max_drop"]["passed"]
    assert verdicts["max_drop"]["delta"] < -0.4
    assert junit_cases(root)["roc_auc max_drop 0.01"].find("failure") is not None


def test_champion_reads_the_alias_of_the_last_environment(project, monkeypatch):
    spec = CLASSIFICATION_SPEC + '\n[deploy]\nregistry = "models"\n[[deploy.environments]]\nname = "staging"\n' \
        '[[deploy.environments]]\nname = "production"\napproval = "manual"\n'
    project(spec, {"data/train.csv": breast_cancer()})
    from mlgen_runtime import registry
    from mlgen_runtime.context import load_context

    calls = []

    class FakeRegistry:
        @classmethod
        def open(cls, ctx):
            return cls()

        def alias(self, env):
            calls.append(env)
            return 4

        def load(self, version, extra_prefixes):
            calls.append((version, extra_prefixes))
            return "model", {"sha256": "x"}

    monkeypatch.setattr(registry, "Registry", FakeRegistry)
    champ = evaluate.champion(load_context(Path(".mlgen/plan.json")))
    assert champ == evaluate.Champion(4, "production", "model", {"sha256": "x"})
    assert calls == ["production", (4, ("sklearn.linear_model.LogisticRegression",))]  # the estimator class, not its package


def test_evaluate_refuses_a_tampered_model_and_changed_data(project, rt, capsys):
    frame = breast_cancer()
    root = project(CLASSIFICATION_SPEC, {"data/train.csv": frame})
    assert rt("evaluate") == 2
    assert "run train (or select) first" in capsys.readouterr().err
    assert rt("train") == 0
    model_file = root / ".mlgen/out/model/model.skops"
    original = model_file.read_bytes()
    model_file.write_bytes(original + b"\0")
    assert rt("evaluate") == 2
    assert "sha256 mismatch" in capsys.readouterr().err
    model_file.write_bytes(original)
    frame.iloc[::2].to_csv(root / "data/train.csv", index=False)
    assert rt("evaluate") == 2
    assert "held-out split differs" in capsys.readouterr().err


# --- gates (pure) -----------------------------------------------------------------------


def verdict(gate: dict, value: float | None, champion: float | None = None, metric: str = "f1", **kw) -> gates.Verdict:
    champ = None if champion is None else {metric: champion}
    return gates.check({metric: gate}, {metric: value}, champ, **kw)[0]


def test_absolute_bounds():
    assert verdict({"min": 0.8}, 0.8).passed
    assert not verdict({"min": 0.8}, 0.79).passed
    assert verdict({"max": 0.3}, 0.3, metric="mae").passed
    assert not verdict({"max": 0.3}, 0.31, metric="mae").passed
    both = gates.check({"f1": {"min": 0.5, "max": 0.9}}, {"f1": 0.95})
    assert [(v.kind, v.passed) for v in both] == [("min", True), ("max", False)]


def test_max_drop_higher_and_lower_is_better():
    assert verdict({"max_drop": 0.1}, 0.3, champion=0.4).passed  # 0.4 - 0.1 in floating point
    assert not verdict({"max_drop": 0.1}, 0.29, champion=0.4).passed
    v = verdict({"max_drop": 0.0}, 0.95, champion=0.9)
    assert v.passed and v.delta == pytest.approx(0.05)
    assert verdict({"max_drop": 0.5}, 2.5, champion=2.0, metric="rmse").passed  # lower is better: may rise 0.5
    v = verdict({"max_drop": 0.5}, 2.6, champion=2.0, metric="rmse")
    assert not v.passed and v.bound == 2.5
    assert verdict({"max_drop": 0.0}, 1.0, champion=2.0, metric="log_loss").passed


def test_change_gates_without_or_with_an_unusable_champion():
    v = verdict({"max_drop": 0.01}, 0.5)
    assert v.passed and v.note == gates.FIRST_RUN and v.bound is None
    v = verdict({"max_drop": 0.01}, 0.5, champion_error="KeyError: 'age'")
    assert not v.passed and "could not be evaluated" in v.note
    v = gates.check({"roc_auc": {"min": 0.5}}, {"roc_auc": None}, notes={"roc_auc": "only one class in the data"})[0]
    assert not v.passed and "only one class" in v.note


def test_metrics_that_cannot_be_computed_are_none_with_a_reason():
    p = metrics.Predictions(np.array([1, 1]), np.array([[0.2, 0.8], [0.1, 0.9]]), None, np.array([0, 1]))
    values, notes = metrics.compute(["roc_auc", "accuracy"], "classification", np.array([1, 1]), p)
    assert values == {"roc_auc": None, "accuracy": 1.0} and "one class" in notes["roc_auc"]


def test_multiclass_roc_and_pr_curves_one_vs_rest(tmp_path):
    """One curve per class present in the held-out rows (a class absent there has none), plus the
    micro-average; the same predictions give the same PNG bytes."""
    from matplotlib.figure import Figure

    from mlgen_runtime import plots
    from sklearn.linear_model import LogisticRegression

    frame = wine()
    X, y = frame.drop(columns=["cultivar"]), frame["cultivar"].to_numpy()
    model = LogisticRegression(max_iter=5000).fit(X, y)
    preds = metrics.predict(model, X, "classification")
    drawn: list[list[str]] = []
    original = plots._save

    def record(fig: Figure, path: Path) -> None:
        drawn.append([line.get_label() for line in fig.axes[0].get_lines()])
        original(fig, path)

    plots._save = record
    try:
        assert plots.write(tmp_path / "a", "classification", y, preds) == ["confusion_matrix.png", "roc_curve.png", "pr_curve.png"]
        roc, pr = drawn[1], drawn[2]
        assert [label.split(" (")[0] for label in roc[:4]] == ["0 vs rest", "1 vs rest", "2 vs rest", "micro-average"]
        assert [label.split(" (")[0] for label in pr] == ["0 vs rest", "1 vs rest", "2 vs rest", "micro-average"]
        drawn.clear()
        no_two = y != 2  # class 2 has no held-out row: no curve of its own
        sub = metrics.Predictions(preds.y_pred[no_two], preds.proba[no_two], None, preds.classes)
        plots.write(tmp_path / "b", "classification", y[no_two], sub)
        assert [label.split(" (")[0] for label in drawn[2]] == ["0 vs rest", "1 vs rest", "micro-average"]
    finally:
        plots._save = original
    plots.write(tmp_path / "c", "classification", y, preds)
    assert (tmp_path / "a/roc_curve.png").read_bytes() == (tmp_path / "c/roc_curve.png").read_bytes()
    # without predict_proba there is no score per class: the confusion matrix alone
    no_proba = metrics.Predictions(preds.y_pred, None, None, preds.classes)
    assert plots.write(tmp_path / "d", "classification", y, no_proba) == ["confusion_matrix.png"]
