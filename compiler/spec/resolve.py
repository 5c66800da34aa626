"""Fill in what a short spec leaves out, on the raw TOML data, before either validator sees it.

`data.task` comes from the estimator (scikit-learn's own answer, see estimator_kind.py) and
`evaluate.metrics` from the task. The resolved values are inserted into the document, so the
validator (diagnose.py), the semantic checks, the lowering and plan.json's
settings see one spec with the same values, as if the user had written them. Anything that is
not a plain value of the right kind is left alone: the validators report it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mlgen.spec import estimator_kind
from mlgen.spec.rules import DEFAULT_METRICS, DOTTED_PATTERN
from mlgen.spec.semantic import Issue

_DOTTED = re.compile(DOTTED_PATTERN)
_TASK_HINT = 'set data.task = "classification" or data.task = "regression"'


def resolve(doc: Any, root: Path) -> tuple[Any, list[Issue]]:
    """(document with data.task and evaluate.metrics filled in where they can be, issues)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        return doc, []
    data = doc["data"]
    train = doc.get("train")
    estimator = train.get("estimator") if isinstance(train, dict) else None
    given = data.get("task", None)
    task, issues = _task(estimator, given, root)
    out = doc
    if "task" not in data and task is not None:
        out = {**out, "data": {**data, "task": task}}
    evaluate = doc.get("evaluate", {})
    if isinstance(evaluate, dict) and "metrics" not in evaluate and task in DEFAULT_METRICS:
        out = {**out, "evaluate": {**evaluate, "metrics": list(DEFAULT_METRICS[task])}}
    return out, issues


def _task(estimator: Any, given: Any, root: Path) -> tuple[str | None, list[Issue]]:
    """The task to use (None when unknown) and what is wrong with the pair."""
    explicit = given if given in ("classification", "regression") else None
    if not isinstance(estimator, str) or not _DOTTED.match(estimator):
        return explicit, []  # no estimator to ask: the validators report it
    typo = estimator_kind.misspelled(estimator)
    if typo is not None:  # with or without a task: train would stop on it, after validate said ok
        return explicit, [Issue(("train", "estimator"), "E219", f"`{estimator}` is not one of scikit-learn's estimators",
                                f"did you mean `{typo}`?")]
    if given is not None:
        # told: check it against the table only (importing the user's code to double-check a
        # stated task would cost every compile; train checks it again on the real class)
        answer = estimator_kind.known(estimator)
        if answer is None or explicit is None:
            return explicit, []
    else:
        answer = estimator_kind.ask(estimator, root)
        if answer.kind is None:
            return None, [Issue(("data", "task"), "E215", f"cannot infer the task of `{estimator}`: {answer.reason}", _TASK_HINT)]
    if answer.task is None:
        article = "an" if answer.kind and answer.kind[0] in "aeiou" else "a"
        return explicit, [Issue(("train", "estimator"), "E216",
                                f"`{estimator}` is {article} {answer.kind}, neither a classifier nor a regressor",
                                "mlgen trains classifiers and regressors, for example "
                                "`sklearn.ensemble.HistGradientBoostingClassifier`")]
    if explicit is not None and explicit != answer.task:
        return explicit, [Issue(("data", "task"), "E217",
                                f"task is {explicit!r}, but `{estimator}` is a {answer.kind}",
                                f"remove data.task (it is inferred from the estimator), or pick a "
                                f"{'classifier' if explicit == 'classification' else 'regressor'}")]
    return answer.task, []
