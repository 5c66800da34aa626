"""What `train.estimator` is: a classifier, a regressor, or something mlgen cannot train.

scikit-learn decides (`is_classifier` / `is_regressor`), never the class's name. Its own
estimators are answered from the generated table (`estimators.py`), so compiling needs neither
scikit-learn nor an import of it. Anything else (a module in the user's repository, xgboost,
lightgbm) is imported, with the spec's folder on sys.path as the runtime has it, created without
arguments and asked; when that cannot be done the answer says why, and the user sets data.task.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TASKS = {"classifier": "classification", "regressor": "regression"}


@dataclass(frozen=True)
class Answer:
    kind: str | None  # "classifier", "regressor", "clusterer", ...; None: could not be asked
    reason: str = ""  # why not, when kind is None

    @property
    def task(self) -> str | None:
        return TASKS.get(self.kind or "")


def kind_of(instance: Any) -> str:
    """scikit-learn's word for what `instance` is."""
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(instance):
        return "classifier"
    if is_regressor(instance):
        return "regressor"
    try:
        from sklearn.utils import get_tags  # scikit-learn >= 1.6

        estimator_type = get_tags(instance).estimator_type
    except (ImportError, AttributeError, TypeError, ValueError):
        estimator_type = getattr(instance, "_estimator_type", None)
    if estimator_type:
        return str(estimator_type).replace("_", " ")  # "clusterer", "outlier detector", ...
    return "transformer" if hasattr(instance, "transform") else "estimator"


def known(path: str) -> Answer | None:
    """The table's answer for scikit-learn's own estimators (no import), else None."""
    from mlgen.spec.estimators import KINDS

    kind = KINDS.get(path)
    return None if kind is None else Answer(kind)


def misspelled(path: str) -> str | None:
    """The table's estimator that `path` (under `sklearn.`, and not in the table) is a typo of, if
    one is very close; None otherwise (a class of a newer scikit-learn than the table's may be
    right, so only near misses are called typos)."""
    import difflib

    from mlgen.spec.estimators import KINDS

    if not path.startswith("sklearn.") or path in KINDS:
        return None
    close = difflib.get_close_matches(path, list(KINDS), n=1, cutoff=0.9)
    return close[0] if close else None


def ask(path: str, root: Path) -> Answer:
    """Import, create and ask the estimator at `path`; `root` (the spec's folder) goes on sys.path."""
    found = known(path)
    if found is not None:
        return found
    if importlib.util.find_spec("sklearn") is None:
        return Answer(None, "scikit-learn is not installed here, so mlgen cannot ask the estimator what it is")
    module_name, _, attr = path.rpartition(".")
    folder = str(root.resolve())
    sys.path.insert(0, folder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                cls = getattr(importlib.import_module(module_name), attr, None)
            except (Exception, SystemExit) as exc:  # the user's code: anything may go wrong in it
                return Answer(None, f"cannot import `{module_name}` ({_said(exc)})")
            if not isinstance(cls, type):
                return Answer(None, f"module `{module_name}` has no class `{attr}`")
            try:
                instance = cls()
            except (Exception, SystemExit) as exc:
                return Answer(None, f"`{attr}()` failed ({_said(exc)})")
            try:
                return Answer(kind_of(instance))
            except Exception as exc:  # not a scikit-learn estimator: no tags to read
                return Answer(None, f"scikit-learn cannot tell what `{attr}` is ({_said(exc)})")
    finally:
        sys.path.remove(folder)


def _said(exc: BaseException, limit: int = 160) -> str:
    """`Type: first line of the message`, cut at `limit` characters (some messages are essays)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else "no message"
    return f"{type(exc).__name__}: {first if len(first) <= limit else first[: limit - 3] + '...'}"
