"""Evaluation metrics, shared by the CV of the search and by evaluate so both score alike.

Conventions (documented for users):
- Binary classification: the positive class is the LARGER label in sort order (1 for 0/1,
  "yes" for "no"/"yes", True for booleans), matching scikit-learn's `classes_[1]`. f1,
  precision and recall are computed for that class; roc_auc uses its probability.
- Multiclass: f1, precision and recall are macro averages; roc_auc is one-vs-rest, macro.
- mape is a fraction (0.1 = 10%), as in scikit-learn.
A metric that cannot be computed (one class in the data, no predict_proba for log_loss...)
is None, with the reason in a note; it never silently becomes 0.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# Copied from the compiler's spec tables (the runtime never imports the compiler).
CLASSIFICATION_METRICS = (
    "accuracy", "balanced_accuracy", "f1", "f1_macro", "f1_weighted", "log_loss",
    "precision", "recall", "roc_auc",
)
REGRESSION_METRICS = ("explained_variance", "mae", "mape", "mse", "r2", "rmse")
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "mape", "mse", "rmse"})


class Undefined(Exception):
    """The metric has no value on this data; the message says why."""


@dataclass(frozen=True)
class Predictions:
    y_pred: np.ndarray
    proba: np.ndarray | None  # columns follow `classes`
    decision: np.ndarray | None  # decision_function output when there is no predict_proba
    classes: np.ndarray | None  # None for regression


def predict(model: Any, X: Any, task: str) -> Predictions:
    """Everything the metrics need from one pass of the model over X."""
    y_pred = np.asarray(model.predict(X))
    if task != "classification":
        return Predictions(y_pred, None, None, None)
    classes = np.asarray(model.classes_)
    proba = decision = None
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X))
    elif hasattr(model, "decision_function"):
        decision = np.asarray(model.decision_function(X))
    return Predictions(y_pred, proba, decision, classes)


def positive_label(classes: np.ndarray) -> Any:
    return classes[-1]  # sklearn's classes_ are sorted: the larger label


def value(name: str, task: str, y_true: Any, p: Predictions) -> float:
    """One metric; raises Undefined when it has no value here."""
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        raise Undefined("no rows")
    fn = _CLASSIFICATION.get(name) if task == "classification" else _REGRESSION.get(name)
    if fn is None:
        raise Undefined(f"`{name}` is not a {task} metric")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined cases are detected below, not warned about
        try:
            result = float(fn(y_true, p))
        except ValueError as exc:
            raise Undefined(str(exc).splitlines()[0]) from None
    if not math.isfinite(result):
        raise Undefined("not a finite number on this data")
    return result


def compute(names: list[str], task: str, y_true: Any, p: Predictions) -> tuple[dict[str, float | None], dict[str, str]]:
    """(values, notes): every metric in `names`; None plus a note for undefined ones."""
    values: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for name in names:
        try:
            values[name] = value(name, task, y_true, p)
        except Undefined as exc:
            values[name], notes[name] = None, str(exc)
    return values, notes


def better(a: float, b: float, greater_is_better: bool) -> bool:
    return a > b if greater_is_better else a < b


# --- classification ---------------------------------------------------------------------


def _binary(p: Predictions) -> bool:
    return p.classes is not None and len(p.classes) == 2


def _prf(kind: str) -> Callable[[np.ndarray, Predictions], float]:
    def fn(y: np.ndarray, p: Predictions) -> float:
        from sklearn import metrics as m

        score = {"f1": m.f1_score, "precision": m.precision_score, "recall": m.recall_score}[kind]
        if _binary(p):
            return score(y, p.y_pred, pos_label=positive_label(p.classes), average="binary", zero_division=0)
        return score(y, p.y_pred, average="macro", zero_division=0)

    return fn


def _f1_avg(average: str) -> Callable[[np.ndarray, Predictions], float]:
    def fn(y: np.ndarray, p: Predictions) -> float:
        from sklearn.metrics import f1_score

        return f1_score(y, p.y_pred, average=average, zero_division=0)

    return fn


def _roc_auc(y: np.ndarray, p: Predictions) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        raise Undefined("only one class in the data")
    if _binary(p):
        score = positive_scores(p)
        if score is None:
            raise Undefined("the model has neither predict_proba nor decision_function")
        return roc_auc_score(y == positive_label(p.classes), score)
    if p.proba is None:
        raise Undefined("multiclass roc_auc needs predict_proba")
    present = np.isin(p.classes, y)
    if not present.all():
        raise Undefined("some classes are absent from the data")
    return roc_auc_score(y, p.proba, multi_class="ovr", average="macro", labels=p.classes)


def _log_loss(y: np.ndarray, p: Predictions) -> float:
    from sklearn.metrics import log_loss

    if p.proba is None:
        raise Undefined("log_loss needs predict_proba")
    return log_loss(y, p.proba, labels=p.classes)


def _simple(name: str) -> Callable[[np.ndarray, Predictions], float]:
    def fn(y: np.ndarray, p: Predictions) -> float:
        from sklearn import metrics as m

        return getattr(m, name)(y, p.y_pred)

    return fn


_CLASSIFICATION: dict[str, Callable[[np.ndarray, Predictions], float]] = {
    "accuracy": _simple("accuracy_score"),
    "balanced_accuracy": _simple("balanced_accuracy_score"),
    "f1": _prf("f1"),
    "f1_macro": _f1_avg("macro"),
    "f1_weighted": _f1_avg("weighted"),
    "log_loss": _log_loss,
    "precision": _prf("precision"),
    "recall": _prf("recall"),
    "roc_auc": _roc_auc,
}

# --- regression -------------------------------------------------------------------------

_REGRESSION: dict[str, Callable[[np.ndarray, Predictions], float]] = {
    "explained_variance": _simple("explained_variance_score"),
    "mae": _simple("mean_absolute_error"),
    "mape": _simple("mean_absolute_percentage_error"),
    "mse": _simple("mean_squared_error"),
    "r2": _simple("r2_score"),
    "rmse": _simple("root_mean_squared_error"),
}

assert set(_CLASSIFICATION) == set(CLASSIFICATION_METRICS)
assert set(_REGRESSION) == set(REGRESSION_METRICS)


def subset(p: Predictions, mask: np.ndarray) -> Predictions:
    """The predictions of the rows in `mask` (for per-slice metrics)."""
    return Predictions(
        p.y_pred[mask],
        None if p.proba is None else p.proba[mask],
        None if p.decision is None else p.decision[mask],
        p.classes,
    )


def positive_scores(p: Predictions) -> np.ndarray | None:
    """Binary classification: a score that grows with the positive class (for ROC/PR curves)."""
    if not _binary(p):
        return None
    if p.proba is not None:
        return p.proba[:, 1]
    if p.decision is not None:
        return p.decision if p.decision.ndim == 1 else p.decision[:, -1]
    return None
