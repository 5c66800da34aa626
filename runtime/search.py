"""Hyperparameter search: deterministic trials, CV scoring, sharding over CI jobs, selection.

Trials are a pure function of the spec and the seed (grid: ParameterGrid order; random:
ParameterSampler with the seed), so every shard job enumerates the same list and runs the
trials whose index % n == i - 1. Each shard writes one JSON file; `select` checks that the
files cover every trial exactly once, for this very search and data, before it picks.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlgen_runtime import metrics, pipeline, search_engine, search_space
from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import dumps, read_json, sha256_bytes, write_json
from mlgen_runtime.progress import Progress

SHARD_FILE = re.compile(r"^shard-(\d+)-of-(\d+)\.json$")


@dataclass(frozen=True)
class Scoring:
    name: str
    greater_is_better: bool
    score: Callable[[Any, Any, Any], float]  # (fitted estimator, X, y) -> score


@dataclass(frozen=True)
class TrialResult:
    index: int
    params: dict[str, Any]
    fold_scores: list[float | None]
    mean: float | None  # None when a fold failed or the metric was undefined
    std: float | None
    error: str | None = None
    fit_time: float | None = None  # mean seconds per fold (trials.json and the report)
    score_time: float | None = None


# --- the trials -------------------------------------------------------------------------


def trials(search: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """Every trial's params, in a fixed order."""
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    space = search_space.sklearn_space(search["space"], search.get("strategy", "grid"))  # lists and ranges
    if search.get("strategy", "grid") == "grid":
        found = list(ParameterGrid(space))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # n_iter above the grid size: we use the grid size
            found = list(ParameterSampler(space, n_iter=int(search.get("n_iter", 10)), random_state=seed))
    return [{k: plain(v) for k, v in sorted(p.items())} for p in found]


def shard_trials(total: int, i: int, n: int) -> list[int]:
    """Trial indices of shard i (1-based) of n."""
    return [k for k in range(total) if k % n == i - 1]


def plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v  # numpy scalars -> JSON-able Python values


# --- scoring and folds ------------------------------------------------------------------


def scoring(settings: dict[str, Any]) -> Scoring:
    """search.scoring (default: the first evaluate metric). mlgen metric names use the runtime's
    own definitions (same as evaluate); any other name must be a scikit-learn scorer."""
    task = settings["data"]["task"]
    name = (settings["train"].get("search") or {}).get("scoring") or settings["evaluate"]["metrics"][0]
    ours = metrics.CLASSIFICATION_METRICS if task == "classification" else metrics.REGRESSION_METRICS
    if name in ours:
        def score(est: Any, X: Any, y: Any) -> float:
            return metrics.value(name, task, y, metrics.predict(est, X, task))

        return Scoring(name, name not in metrics.LOWER_IS_BETTER, score)
    from sklearn.metrics import get_scorer, get_scorer_names

    if name not in get_scorer_names():
        raise BadInput(f"train.search.scoring: unknown scorer `{name}`; use a {task} metric ({', '.join(ours)}) "
                       "or a scikit-learn scorer name")
    return Scoring(name, True, get_scorer(name))  # sklearn scorers are greater-is-better (neg_*)


def folds(task: str, cv: int, seed: int, X: Any, y: Any, groups: Any = None,
          by_time: bool = False) -> list[tuple[Any, Any]]:
    """The CV folds (train index, validation index), identical for every trial and shard.
    `groups` (the shared split's groups: equal rows, data.split.group) keep each group in one
    fold, for the reason the held-out split does: a twin in the other fold flatters a trial.
    `by_time` (rows in time order): each fold validates on rows later than those it trains on."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold, TimeSeriesSplit

    classify = task == "classification"
    if by_time:
        splitter: Any = TimeSeriesSplit(n_splits=cv)
    elif groups is None:
        splitter = (StratifiedKFold if classify else KFold)(n_splits=cv, shuffle=True, random_state=seed)
    else:
        splitter = (StratifiedGroupKFold if classify else GroupKFold)(n_splits=cv, shuffle=True, random_state=seed)
    try:
        return list(splitter.split(X, y, groups))
    except ValueError as exc:
        raise BadInput(f"train.search.cv = {cv}: {exc}") from None


# --- running ----------------------------------------------------------------------------


def run_trial(settings: dict[str, Any], cols: pipeline.Columns, X: Any, y: Any, index: int, params: dict[str, Any],
              sc: Scoring, cv_folds: list[tuple[Any, Any]]) -> TrialResult:
    """Cross-validate one trial. A failing fit is recorded (the trial loses), not fatal."""
    from time import perf_counter

    import numpy as np

    scores: list[float | None] = []
    times = [0.0, 0.0]  # fit, score: summed over the folds
    for k, (tr, va) in enumerate(cv_folds, 1):
        try:
            start = perf_counter()
            model = pipeline.fit(pipeline.build(settings, cols, extra=params), X.iloc[tr], y.iloc[tr])
            times[0] += perf_counter() - start
            start = perf_counter()
            s = float(sc.score(model, X.iloc[va], y.iloc[va]))
            times[1] += perf_counter() - start
        except metrics.Undefined as exc:
            return TrialResult(index, params, scores + [None], None, None, f"fold {k}: {sc.name} undefined ({exc})")
        except BadInput as exc:  # the estimator refused these params or this fold's data (pipeline.fit)
            return TrialResult(index, params, scores + [None], None, None, f"fold {k}: {exc}")
        except Exception as exc:  # noqa: BLE001 - e.g. an invalid combination of params in a grid
            return TrialResult(index, params, scores + [None], None, None, f"fold {k}: {type(exc).__name__}: {exc}")
        if not math.isfinite(s):
            return TrialResult(index, params, scores + [None], None, None, f"fold {k}: {sc.name} is not finite")
        scores.append(s)
    arr = np.asarray(scores, dtype=float)
    return TrialResult(index, params, scores, float(arr.mean()), float(arr.std()),
                       fit_time=times[0] / len(cv_folds), score_time=times[1] / len(cv_folds))


def run_trials(settings: dict[str, Any], cols: pipeline.Columns, X: Any, y: Any, indices: list[int],
               all_trials: list[dict[str, Any]], label: str = "", groups: Any = None,
               by_time: bool = False) -> list[TrialResult]:
    """Run the given trials with progress on stderr: an updating bar on a terminal, a `[k/n]`
    line per trial elsewhere (CI logs show where a long search is); see progress.py."""
    search = settings["train"]["search"]
    sc = scoring(settings)
    cv_folds = folds(settings["data"]["task"], int(search.get("cv", 5)), int(settings["project"]["seed"]), X, y, groups,
                     by_time)
    print(f"search{label}: {len(indices)} of {len(all_trials)} trials, {len(cv_folds)}-fold CV, "
          f"scoring {sc.name} ({'higher' if sc.greater_is_better else 'lower'} is better)", flush=True)
    results = []
    calls = [(settings, cols, X, y, index, all_trials[index], sc, cv_folds) for index in indices]
    with Progress(len(indices), f"search{label}") as progress:
        # train.search.engine: here, one trial after the other, or on a Dask cluster (search_engine.py)
        for r, took in search_engine.run(search, run_trial, calls, shared=(X, y, cv_folds)):
            outcome = f"{sc.name} = {r.mean:.4f} ± {r.std:.4f}" if r.mean is not None else f"failed: {r.error}"
            progress.step(f"trial #{r.index} {_show(r.params)}: {outcome} [{took:.1f}s]", important=r.mean is None)
            results.append(r)
    return results


def best(results: list[TrialResult], greater_is_better: bool) -> TrialResult:
    """The best CV mean; ties go to the lowest trial index. BadInput when every trial failed."""
    ok = [r for r in results if r.mean is not None]
    if not ok:
        first = min(results, key=lambda r: r.index) if results else None
        raise BadInput("every search trial failed" + (f"; trial #{first.index}: {first.error}" if first else ""))
    sign = -1.0 if greater_is_better else 1.0
    return min(ok, key=lambda r: (sign * r.mean, r.index))  # type: ignore[operator]


def _show(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) or "(no params)"


# --- shard files ------------------------------------------------------------------------


def fingerprint(settings: dict[str, Any], data_sha256: str) -> str:
    """What a shard result is only valid for: training settings, data contract, seed, data bytes."""
    data = settings["data"]
    basis = {
        "train": settings["train"],
        "data": {k: data.get(k) for k in ("path", "target", "task", "test_size", "columns", "split", "exclude",
                                          "missing_target")},
        "seed": settings["project"]["seed"],
        "data_sha256": data_sha256,
        "default_scoring": settings["evaluate"]["metrics"][0],
    }
    return sha256_bytes(dumps(basis).encode())


def shard_path(folder: Path, i: int, n: int) -> Path:
    return folder / f"shard-{i}-of-{n}.json"


def write_shard(folder: Path, i: int, n: int, fp: str, sc: Scoring, total: int, results: list[TrialResult]) -> Path:
    path = shard_path(folder, i, n)
    write_json(path, {
        "shard": i,
        "of": n,
        "fingerprint": fp,
        "scoring": sc.name,
        "greater_is_better": sc.greater_is_better,
        "trials_total": total,
        "trials": [asdict(r) for r in results],
    })
    return path


def read_shards(folder: Path, n: int, expected: list[dict[str, Any]], fp: str) -> list[TrialResult]:
    """All trial results from shard-*-of-n.json, refusing anything incomplete, duplicated or stale."""
    rel = ".mlgen/out/trials"
    found: dict[int, Path] = {}
    for path in sorted(folder.glob("shard-*.json")) if folder.is_dir() else []:
        m = SHARD_FILE.match(path.name)
        if not m:
            continue
        i, of = int(m[1]), int(m[2])
        if of != n:
            raise BadInput(f"{rel}/{path.name}: from a run with {of} shards, but the plan has {n}; "
                           "remove stale shard files and rerun the train shards")
        found[i] = path
    missing = [i for i in range(1, n + 1) if i not in found]
    if missing:
        raise BadInput(f"{rel}: shard {missing[0]}/{n} is missing ({len(missing)} of {n} missing); "
                       f"run `train --shard {missing[0]}/{n}` (every shard job must finish before select)")
    seen: dict[int, int] = {}
    results: list[TrialResult] = []
    for i in range(1, n + 1):
        path = found[i]
        doc = read_json(path)
        where = f"{rel}/{path.name}"
        if doc.get("shard") != i or doc.get("of") != n:
            raise BadInput(f"{where}: says it is shard {doc.get('shard')}/{doc.get('of')}; duplicated or renamed shard file")
        if doc.get("fingerprint") != fp:
            raise BadInput(f"{where}: produced for different training settings or data; rerun the train shards")
        for t in doc.get("trials", []):
            index = int(t["index"])
            if index in seen:
                raise BadInput(f"{where}: trial #{index} is duplicated (also in shard {seen[index]}/{n})")
            if not 0 <= index < len(expected) or t["params"] != expected[index]:
                raise BadInput(f"{where}: trial #{index} does not match this search's trials; rerun the train shards")
            seen[index] = i
            results.append(TrialResult(index, t["params"], t["fold_scores"], t["mean"], t["std"], t.get("error"),
                                       t.get("fit_time"), t.get("score_time")))
    absent = sorted(set(range(len(expected))) - set(seen))
    if absent:
        raise BadInput(f"{rel}: trials {', '.join(f'#{k}' for k in absent[:10])} are in no shard file; rerun the train shards")
    return sorted(results, key=lambda r: r.index)
