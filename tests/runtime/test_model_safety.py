"""Loading a model never runs code from the file: only an explicit allow-list of types is trusted
(modelio), and the tree structures mlgen's models hold are checked before predict can follow them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from mlgen_runtime import modelio, pipeline
from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import sha256_file
from tests.runtime.conftest import CLASSIFICATION_SPEC, breast_cancer, diabetes, wine


def payload_pipeline(marker: Path) -> Any:
    """The audit's proof of concept: FunctionTransformers chaining np.full_like (fills the input
    with a code string), np.ravel, min (picks the string) and eval, then a DummyClassifier."""
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    code = f"__import__('pathlib').Path({str(marker)!r}).write_text('pwned')"
    steps = [
        ("fill", FunctionTransformer(np.full_like, kw_args={"fill_value": code, "dtype": object})),
        ("ravel", FunctionTransformer(np.ravel)),
        ("min", FunctionTransformer(min)),
        ("eval", FunctionTransformer(eval)),
        ("model", DummyClassifier()),
    ]
    pipe = Pipeline(steps)
    pipe.steps[-1][1].fit([[0.0], [1.0]], [0, 1])
    for _, step in pipe.steps[:-1]:
        step.fit([[0.0]])
    return pipe


def saved(model: Any, folder: Path) -> tuple[Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    sha = modelio.save_model(model, folder)
    return folder / modelio.MODEL_FILE, sha


def test_the_payload_really_runs_when_loaded_without_the_allow_list(tmp_path: Path) -> None:
    """The control: the file below is dangerous, so refusing it is what protects us."""
    marker = tmp_path / "PWNED"
    path, _ = saved(payload_pipeline(marker), tmp_path / "m")
    unsafe = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    with pytest.raises(Exception):
        unsafe.predict(np.array([[1.0]]))  # the DummyClassifier chokes on eval's result...
    assert marker.read_text() == "pwned"  # ...after the code ran


@pytest.mark.parametrize("extra", [(), ("sklearn",), ("builtins",), ("builtins.eval", "numpy.full_like", "numpy")])
def test_eval_payload_is_refused_and_nothing_runs(tmp_path: Path, extra: tuple[str, ...]) -> None:
    marker = tmp_path / "PWNED"
    path, sha = saved(payload_pipeline(marker), tmp_path / "m")
    with pytest.raises(BadInput, match="refusing to load untrusted types") as err:
        modelio.load_model(path, sha, extra)
    message = str(err.value)
    for name in ("builtins.eval", "builtins.min", "numpy.full_like", "numpy.ravel"):
        assert name in message
    assert not marker.exists()


def test_the_audit_file_is_refused(tmp_path: Path) -> None:
    poc = Path("/tmp/audit3/poc/model.skops")
    if not poc.is_file():
        pytest.skip("the audit's proof-of-concept file is not on this machine")
    copy = tmp_path / "model.skops"
    copy.write_bytes(poc.read_bytes())
    with pytest.raises(BadInput, match="builtins.eval"):
        modelio.load_model(copy, sha256_file(copy), ("sklearn.dummy.DummyClassifier",))


def test_evaluate_stage_refuses_a_payload_model_with_exit_2(project, rt, capsys, tmp_path: Path) -> None:
    root = project(CLASSIFICATION_SPEC, {"data/train.csv": breast_cancer()})
    assert rt("train") == 0
    marker = tmp_path / "PWNED"
    folder = root / ".mlgen/out/model"
    _, sha = saved(payload_pipeline(marker), folder)  # replaces model.skops ...
    meta = json.loads((folder / modelio.META_FILE).read_text())
    (folder / modelio.META_FILE).write_text(json.dumps({**meta, "sha256": sha}))  # ... and its hash
    capsys.readouterr()
    assert rt("evaluate") == 2
    err = capsys.readouterr().err
    assert "refusing to load untrusted types" in err and "builtins.eval" in err
    assert "Traceback" not in err
    assert not marker.exists()


def test_registry_load_refuses_a_payload_version(tmp_path: Path) -> None:
    from mlgen_runtime.registry import Registry

    marker = tmp_path / "PWNED"
    folder = tmp_path / "candidate"
    _, sha = saved(payload_pipeline(marker), folder)
    (folder / modelio.META_FILE).write_text(json.dumps({"sha256": sha, "estimator": "x"}))
    reg = Registry(Path("models"), tmp_path)
    version = reg.register(folder)  # registering only checks that it is a skops file
    with pytest.raises(BadInput, match="refusing to load untrusted types"):
        reg.load(version, ("sklearn.dummy.DummyClassifier",))
    assert not marker.exists()


def test_pickle_is_still_refused(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / modelio.MODEL_FILE
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(BadInput, match="not a skops model file"):
        modelio.load_model(path, sha256_file(path))


def test_sha256_is_still_checked(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    path, sha = saved(Ridge().fit([[0.0], [1.0]], [0.0, 1.0]), tmp_path)
    with pytest.raises(BadInput, match="sha256 mismatch"):
        modelio.load_model(path, "0" * 64)
    assert modelio.load_model(path, sha).coef_.shape == (1,)


# -- what mlgen trains still loads ---------------------------------------------------------------


def _frame(kind: str) -> tuple[pd.DataFrame, pd.Series]:
    frame = {"binary": breast_cancer, "multiclass": wine, "regression": diabetes}[kind]()
    target = {"binary": "malignant", "multiclass": "cultivar", "regression": "progression"}[kind]
    y = frame.pop(target)
    rng = np.random.default_rng(0)
    frame["colour"] = rng.choice(["red", "green", None], len(frame))  # one-hot encoded by the pipeline
    return frame, y


@pytest.mark.parametrize(("estimator", "kind", "params"), [
    ("sklearn.linear_model.LogisticRegression", "binary", {"max_iter": 2000}),
    ("sklearn.linear_model.LogisticRegression", "multiclass", {"max_iter": 2000}),
    ("sklearn.linear_model.Ridge", "regression", {}),
    ("sklearn.ensemble.HistGradientBoostingClassifier", "binary", {"max_iter": 20}),
    ("sklearn.ensemble.HistGradientBoostingClassifier", "multiclass", {"max_iter": 20}),
    ("sklearn.ensemble.HistGradientBoostingRegressor", "regression", {"max_iter": 20}),
    ("sklearn.ensemble.RandomForestClassifier", "binary", {"n_estimators": 10}),
    ("sklearn.ensemble.RandomForestRegressor", "regression", {"n_estimators": 10}),
    ("sklearn.ensemble.GradientBoostingClassifier", "multiclass", {"n_estimators": 5}),
    ("sklearn.ensemble.BaggingRegressor", "regression", {"n_estimators": 3, "max_features": 0.5}),
    ("sklearn.neighbors.KNeighborsClassifier", "binary", {"algorithm": "kd_tree"}),
    ("sklearn.tree.DecisionTreeRegressor", "regression", {}),
])
def test_models_mlgen_trains_load_and_predict_the_same(tmp_path: Path, estimator: str, kind: str, params: dict) -> None:
    X, y = _frame(kind)
    task = "regression" if kind == "regression" else "classification"
    settings = {"project": {"seed": 3}, "data": {"task": task}, "train": {"estimator": estimator, "params": params}}
    cols = pipeline.columns(X, {})
    Xp = pipeline.prepare(X, cols)
    pipe = pipeline.fit(pipeline.build(settings, cols), Xp, y)
    path, sha = saved(pipe, tmp_path)
    loaded = modelio.load_model(path, sha, modelio.estimator_package(settings))
    np.testing.assert_array_equal(loaded.predict(Xp), pipe.predict(Xp))


def test_hist_gradient_boosting_with_categorical_splits(tmp_path: Path) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(0, 6, 400), rng.normal(size=400)])
    y = (X[:, 0] % 2 == 0).astype(int)
    model = HistGradientBoostingClassifier(categorical_features=[0], max_iter=10).fit(X, y)
    assert any(p.nodes["is_categorical"].any() for it in model._predictors for p in it)
    # sklearn's own input preprocessor for categorical features holds functools.partial(check_array):
    # a function, so refused (mlgen's pipeline one-hot encodes and never sets categorical_features)
    path, sha = saved(model, tmp_path / "with")
    with pytest.raises(BadInput, match="functools.partial, sklearn.utils.validation.check_array"):
        modelio.load_model(path, sha)
    # the categorical splits themselves load and pass the tree checks (codes 0..5 encode as themselves)
    model._preprocessor = None
    path, sha = saved(model, tmp_path / "without")
    np.testing.assert_array_equal(modelio.load_model(path, sha).predict(X), model.predict(X))


# -- the allow-list, type by type ----------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "sklearn.pipeline.Pipeline",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.gaussian_process.kernels.RBF",
    "sklearn.utils._bunch.Bunch",
])
def test_sklearn_estimators_and_helper_classes_are_trusted(name: str) -> None:
    assert modelio.untrusted_refused([name]) == []


@pytest.mark.parametrize("name", [
    "builtins.eval", "builtins.exec", "builtins.getattr", "builtins.object", "builtins.type",
    "numpy.full_like", "numpy.load", "scipy.io.loadmat", "functools.partial", "operator.attrgetter",
    "collections.namedtuple", "os.system", "subprocess.Popen", "mlgen_runtime.modelio.load_model",
    "sklearn.utils.estimator_checks.check_estimator",  # a function in sklearn
    "sklearn.metrics._classification.accuracy_score",
    "sklearn.utils._mocking.CheckingClassifier",  # test doubles
    "sklearn.exceptions.NotFittedError",
    "sklearn.base.nope",
    "sklearn.utils.Bunch",  # an alias: skops writes a class's own module, so only that name is trusted
    "sklearn.pipeline.Pipeline.fit",  # a bound method (skops names those module.Class.method)
])
def test_functions_and_foreign_types_are_refused(name: str) -> None:
    assert modelio.untrusted_refused([name]) == [name]


def test_the_configured_estimator_is_trusted_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mlgen_test_estimators.py").write_text(
        "from sklearn.base import BaseEstimator, ClassifierMixin\n"
        "class Helper:\n"
        "    pass\n"
        "class Model(ClassifierMixin, BaseEstimator):\n"
        "    def fit(self, X, y):\n"
        "        self.helper_ = Helper()\n"
        "        self.classes_ = sorted(set(y))\n"
        "        return self\n"
        "    def predict(self, X):\n"
        "        return [self.classes_[0]] * len(X)\n"
        "def make():\n"
        "    return Model()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mlgen_test_estimators", raising=False)
    import mlgen_test_estimators as m

    plain = m.Model()
    plain.classes_ = [0, 1]
    path, sha = saved(plain, tmp_path / "plain")
    with pytest.raises(BadInput, match="mlgen_test_estimators.Model"):
        modelio.load_model(path, sha)  # not configured: not trusted
    with pytest.raises(BadInput, match="mlgen_test_estimators.Model"):
        modelio.load_model(path, sha, ("mlgen_test_estimators",))  # a package is no longer enough
    with pytest.raises(BadInput, match="mlgen_test_estimators.Model"):
        modelio.load_model(path, sha, ("mlgen_test_estimators.make",))  # a function is never trusted
    assert modelio.load_model(path, sha, ("mlgen_test_estimators.Model",)).predict([[1]]) == [0]

    fitted = m.Model().fit([[0], [1]], [0, 1])  # holds another class of the same module
    path, sha = saved(fitted, tmp_path / "fitted")
    with pytest.raises(BadInput, match="untrusted types: mlgen_test_estimators.Helper"):
        modelio.load_model(path, sha, ("mlgen_test_estimators.Model",))


def test_estimator_package_is_the_configured_class() -> None:
    settings = {"train": {"estimator": "sklearn.ensemble.HistGradientBoostingClassifier"}}
    assert modelio.estimator_package(settings) == ("sklearn.ensemble.HistGradientBoostingClassifier",)


# -- tree structures -----------------------------------------------------------------------------


def _tampered_tree_model(field: str, value: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier
    from sklearn.tree._tree import Tree

    X, y = breast_cancer().drop(columns="malignant").to_numpy(), breast_cancer()["malignant"].to_numpy()
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes[field][0] = value
    tree = Tree(model.tree_.n_features, np.asarray(model.tree_.n_classes), model.tree_.n_outputs)
    tree.__setstate__({**state, "nodes": nodes})
    model.tree_ = tree
    return model


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("left_child", 10**6, "pointing outside the tree"),
    ("right_child", 0, "backwards"),
    ("feature", 10**4, "feature the tree does not have"),
])
def test_a_tampered_decision_tree_is_refused(tmp_path: Path, field: str, value: int, problem: str) -> None:
    path, sha = saved(_tampered_tree_model(field, value), tmp_path)
    with pytest.raises(BadInput, match=problem):
        modelio.load_model(path, sha)


def test_a_forest_member_with_other_features_is_refused(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    X, y = np.random.default_rng(0).normal(size=(60, 4)), np.arange(60) % 2
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    forest.estimators_[1] = DecisionTreeClassifier().fit(X[:, :2], y)
    path, sha = saved(forest, tmp_path)
    with pytest.raises(BadInput, match="a member expects 2 features, not 4"):
        modelio.load_model(path, sha)


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("left", 10**6, "pointing outside the tree"),
    ("feature_idx", 99, "feature the model does not have"),
    ("is_categorical", 1, "categorical split"),
])
def test_a_tampered_hist_gradient_boosting_tree_is_refused(tmp_path: Path, field: str, value: int, problem: str) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = np.random.default_rng(0).normal(size=(200, 3)), np.arange(200) % 7
    model = HistGradientBoostingRegressor(max_iter=3).fit(X, y)
    predictor = model._predictors[1][0]
    root = np.flatnonzero(predictor.nodes["is_leaf"] == 0)[0]
    predictor.nodes[field][root] = value
    path, sha = saved(model, tmp_path)
    with pytest.raises(BadInput, match=problem):
        modelio.load_model(path, sha)


def test_worker_memo_reuses_a_saved_model_but_still_judges_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the local-run worker, evaluate gets the object train saved instead of parsing its bytes
    again, but the allow-list still judges the file, as a CI job's separate process would."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    y = (x[:, 0] > 0).astype(int)
    modelio.enable_memo(True)
    try:
        good = tmp_path / "good"
        good.mkdir()
        sha = modelio.save_model(LogisticRegression().fit(x, y), good)
        assert sha == sha256_file(good / modelio.MODEL_FILE)
        parsed: list[Any] = []
        real_loads = sio.loads
        monkeypatch.setattr(sio, "loads", lambda *a, **k: parsed.append(a) or real_loads(*a, **k))
        loaded = modelio.load_model(good / modelio.MODEL_FILE, sha, ("sklearn.linear_model.LogisticRegression",))
        assert parsed == [] and (loaded.predict(x) == LogisticRegression().fit(x, y).predict(x)).all()
        assert loaded.coef_.tolist() == modelio.load_model(good / modelio.MODEL_FILE, sha).coef_.tolist()

        marker = tmp_path / "pwned"
        bad = tmp_path / "bad"
        bad.mkdir()
        bad_sha = modelio.save_model(payload_pipeline(marker), bad)
        with pytest.raises(BadInput, match="refusing to load untrusted types"):
            modelio.load_model(bad / modelio.MODEL_FILE, bad_sha)
        assert not marker.exists()
    finally:
        modelio.enable_memo(False)
