"""A short spec is a whole spec: `project.name`, `data.path`, `data.target` and `train.estimator`.

- data.task is what scikit-learn's is_classifier / is_regressor say of the estimator: from the
  generated table for scikit-learn's own estimators (no import of scikit-learn at compile time),
  by importing and asking anything else (a module next to the spec), and an error at data.task
  when neither can answer;
- evaluate.metrics defaults to standard metrics of the task;
- the validator (the pydantic model) and plan.json's settings see the same resolved spec.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgen.cli import main
from mlgen.errors import SpecError
from mlgen.spec import diagnose, estimator_kind
from mlgen.spec.estimators import KINDS
from mlgen.spec.load import load_spec
from mlgen.spec.resolve import resolve
from mlgen.spec.rules import DEFAULT_METRICS
from tests.support import golden

SHORT = """\
[project]
name = "short"

[data]
path = "data/train.csv"
target = "y"

[train]
estimator = "{estimator}"
"""


def _write(root: Path, estimator: str, extra: str = "") -> Path:
    spec = root / "mlproject.toml"
    spec.write_text(SHORT.format(estimator=estimator) + extra)
    return spec


@pytest.mark.parametrize(("estimator", "task"), [
    ("sklearn.linear_model.LogisticRegression", "classification"),  # "Regression" in the name
    ("sklearn.ensemble.HistGradientBoostingClassifier", "classification"),
    ("sklearn.svm.SVR", "regression"),
    ("sklearn.linear_model.Ridge", "regression"),
])
def test_task_and_metrics_reach_the_settings(tmp_path: Path, estimator: str, task: str) -> None:
    loaded = load_spec(_write(tmp_path, estimator))
    assert loaded.spec.data.task == task  # type: ignore[attr-defined]
    assert loaded.settings["data"]["task"] == task
    assert loaded.spec.evaluate.metrics == list(DEFAULT_METRICS[task])  # type: ignore[attr-defined]
    assert loaded.settings["evaluate"]["metrics"] == list(DEFAULT_METRICS[task])


def test_stated_metrics_and_task_are_kept(tmp_path: Path) -> None:
    extra = '\n[evaluate]\nmetrics = ["f1"]\n'
    spec = _write(tmp_path, "sklearn.linear_model.LogisticRegression", extra)
    spec.write_text(spec.read_text().replace('target = "y"', 'target = "y"\ntask = "classification"'))
    loaded = load_spec(spec)
    assert loaded.settings["evaluate"]["metrics"] == ["f1"] and loaded.settings["data"]["task"] == "classification"


def test_the_compile_of_a_short_spec_does_not_import_sklearn(tmp_path: Path) -> None:
    golden.copy_inputs("short-spec", tmp_path)
    code = "import sys; from mlgen.cli import main; rc = main(['compile', '-q']); print(rc, 'sklearn' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert res.stdout.strip().splitlines()[-1] == "0 False"
    plan = json.loads((tmp_path / ".mlgen" / "plan.json").read_text())
    assert plan["settings"]["data"]["task"] == "classification"


def test_an_estimator_next_to_the_spec_is_imported_and_asked(tmp_path: Path) -> None:
    (tmp_path / "house_models.py").write_text(textwrap.dedent("""\
        from sklearn.base import BaseEstimator, RegressorMixin

        class Median(RegressorMixin, BaseEstimator):
            def fit(self, X, y):
                return self
        """))
    loaded = load_spec(_write(tmp_path, "house_models.Median"))
    assert loaded.settings["data"]["task"] == "regression"
    assert str(tmp_path.resolve()) not in sys.path  # put back after asking


def test_without_scikit_learn_an_unknown_estimator_needs_data_task(tmp_path: Path) -> None:
    """Where the compiler runs without the runtime extra, the table still answers for
    scikit-learn's estimators, and anything else asks for data.task."""
    _write(tmp_path, "xgboost.XGBClassifier")
    code = ("import sys; sys.modules['sklearn'] = None\n"  # as if it were not installed
            "from mlgen.cli import main; raise SystemExit(main(['validate']))")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.splitlines()[0] == (
        "mlproject.toml:4:2: error[E215]: data.task: cannot infer the task of `xgboost.XGBClassifier`: "
        "scikit-learn is not installed here, so mlgen cannot ask the estimator what it is")
    assert "hint: set data.task" in res.stderr
    _write(tmp_path, "sklearn.ensemble.RandomForestRegressor")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_the_table_is_scikit_learns_answer() -> None:
    """Spot checks against scikit-learn itself, on instances (the table is generated the same
    way; tests/spec/test_schema.py checks that it is current)."""
    import importlib

    from sklearn.base import is_classifier, is_regressor

    assert len(KINDS) > 150
    for path in ("sklearn.linear_model.LogisticRegression", "sklearn.svm.LinearSVR", "sklearn.cluster.KMeans",
                 "sklearn.ensemble.IsolationForest", "sklearn.naive_bayes.GaussianNB"):
        module, _, name = path.rpartition(".")
        instance = getattr(importlib.import_module(module), name)()
        want = "classifier" if is_classifier(instance) else "regressor" if is_regressor(instance) else None
        assert (KINDS[path] if KINDS[path] in ("classifier", "regressor") else None) == want, path
    assert estimator_kind.known("sklearn.pipeline.Pipeline") is None  # depends on its steps


def test_a_missing_key_does_not_hide_the_inference_error(tmp_path: Path) -> None:
    spec = _write(tmp_path, "sklearn.cluster.KMeans")
    spec.write_text(spec.read_text().replace('target = "y"\n', ""))
    with pytest.raises(SpecError) as exc:
        load_spec(spec)
    assert [(d.code, d.path) for d in exc.value.diagnostics] == [("E102", "data.target"), ("E216", "train.estimator")]


# ----------------------------------------------------------- generated short specs are valid

_ESTIMATORS = sorted(KINDS)


@st.composite
def _short_docs(draw: st.DrawFn) -> dict[str, Any]:
    estimator = draw(st.sampled_from(_ESTIMATORS))
    doc: dict[str, Any] = {
        "project": {"name": draw(st.from_regex(r"\A[a-z][a-z0-9-]{0,10}\Z"))},
        "data": {"path": "data/train.csv", "target": draw(st.sampled_from(["y", "label", "price"]))},
        "train": {"estimator": estimator},
    }
    if draw(st.booleans()):
        doc["data"]["task"] = draw(st.sampled_from(["classification", "regression"]))
    evaluate = draw(st.sampled_from(["absent", "empty", "metrics", "gates"]))
    if evaluate == "empty":
        doc["evaluate"] = {}
    elif evaluate == "metrics":
        doc["evaluate"] = {"metrics": draw(st.lists(st.sampled_from(["accuracy", "r2", "f1", "mae"]), min_size=1,
                                                    max_size=2, unique=True))}
    elif evaluate == "gates":
        doc["evaluate"] = {"gates": {draw(st.sampled_from(["accuracy", "r2"])): {"min": 0.5}}}
    return doc


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(_short_docs())
def test_resolved_short_specs_are_valid_with_the_inferred_task(doc: dict[str, Any]) -> None:
    before = copy.deepcopy(doc)
    resolved, issues = resolve(doc, Path("."))
    kind = KINDS[doc["train"]["estimator"]]
    task = doc["data"].get("task") or estimator_kind.TASKS.get(kind)
    contradiction = "task" in doc["data"] and kind in estimator_kind.TASKS and estimator_kind.TASKS[kind] != task
    assert bool(issues) == (kind not in estimator_kind.TASKS or contradiction)
    verdict = diagnose.validate(resolved)
    assert not verdict.issues and verdict.spec is not None and verdict.settings is not None
    assert verdict.settings["data"]["task"] == verdict.spec.data.task == task
    wanted = doc.get("evaluate", {}).get("metrics") or (list(DEFAULT_METRICS[task]) if task else None)
    assert verdict.settings["evaluate"]["metrics"] == verdict.spec.evaluate.metrics == wanted
    assert doc == before, "resolve must not change the user's document"


def test_short_spec_cli_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "sklearn.tree.DecisionTreeRegressor")
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == "mlproject.toml: ok\n"
