"""`train` and `select`: fit the pipeline (after a search if the spec has one) and save it.

- train, no search:          fit train.params on the train split -> .mlgen/out/model
- train, search, 1 shard:    run every trial, refit the best      -> .mlgen/out/model
- train --shard i/n:         run trials with index % n == i - 1   -> .mlgen/out/trials/shard-i-of-n.json
- select:                    merge all shard files, refit the best -> .mlgen/out/model
CV only ever sees the train split of the shared split; the held-out rows are evaluate's.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgen_runtime import data, modelio, pipeline, provenance, search, trials, trials_mlflow
from mlgen_runtime.cli import shard_of
from mlgen_runtime.context import Context
from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import sha256_file, write_json

if TYPE_CHECKING:
    import pandas as pd

META_FORMAT = 1


@dataclass(frozen=True)
class Training:
    """The data as training sees it. The whole frame and both halves of the split are reduced
    to their provenance before any fit, so the fit does not hold them (peak memory)."""

    X: pd.DataFrame
    y: pd.Series
    cols: pipeline.Columns
    data_sha256: str
    data: dict[str, Any]  # model.json's "data": the file, its hash, both halves' hashes, the split
    groups: Any = None  # CV groups for the search: the split's groups of the training rows, or None
    by_time: bool = False  # split by data.split.time: X and y are in time order, CV folds too


def run(ctx: Context, args: argparse.Namespace) -> int:
    if args.stage == "select":
        return select(ctx)
    return train(ctx, args)


def plan_shards(ctx: Context) -> int:
    job = ctx.job("train")
    return job.shards if job else 1


def load(ctx: Context) -> Training:
    settings = ctx.settings
    d = settings["data"]
    loaded = data.load_training(settings, ctx.root)
    frame = loaded.frame
    check_target(frame[d["target"]], d["task"], d["path"])
    parts = data.split_positions(frame, settings)
    train_part, test_part = frame.iloc[parts.train], frame.iloc[parts.test]
    by_time = parts.how.get("method") == "time"
    # split by time: the training rows in time order, so the search's CV also trains on the past only
    fit_part = train_part.iloc[data.time_order(train_part, settings)] if by_time else train_part
    X, y = data.features(fit_part, settings)
    # sorted on the whole data, so evaluate and scan (which read the model's list) agree
    cols = pipeline.columns_for(frame, settings)
    dropped = loaded.note(d["target"])
    notes = (*cols.warnings, *cols.notes, *([dropped] if dropped else []))
    for line in cols.warnings:
        print(f"warning: {line}", flush=True)
    for line in (*cols.notes, *([dropped] if dropped else [])):
        print(f"note: {line}", flush=True)
    cols = pipeline.Columns(cols.numeric, cols.categorical, cols.dropped, notes, cols.dates, cols.warnings)
    # the whole file, in file order, so the message names the data row (and both splits are covered)
    pipeline.check_numbers(loaded.raw, cols, d["path"])
    sha = sha256_file(ctx.path(d["path"]))
    prov = provenance.data(settings, sha, frame, train_part, test_part, parts.how, loaded.dropped)
    groups = None if parts.groups is None else parts.groups[parts.train]
    return Training(pipeline.prepare(X, cols), y, cols, sha, prov, groups, by_time)


def check_target(y: pd.Series, task: str, source: str) -> None:
    """Exit 2 naming the column when there is nothing to learn: one class, or a constant number."""
    values = y.unique()
    if len(values) >= 2:
        return
    what = "has a single class" if task == "classification" else "is constant"
    value = values[0].item() if hasattr(values[0], "item") else values[0]  # 1, not np.int64(1)
    raise BadInput(f"{source}: target column `{y.name}` {what} ({value!r} in all {len(y):,} rows with a target); "
                   "nothing to learn")


def train(ctx: Context, args: argparse.Namespace) -> int:
    settings = ctx.settings
    space = settings["train"].get("search")
    shards = plan_shards(ctx)
    shard = shard_of(args)
    if shard is None and shards > 1:
        raise BadInput(f"the plan splits the search into {shards} train jobs: run with --shard i/{shards} "
                       "for each i, or use select to merge their results")
    if shard is not None:
        if not space:
            raise BadInput(f"--shard {shard[0]}/{shard[1]}: the spec has no train.search, so there are no trials to shard")
        if shard[1] != shards:
            raise BadInput(f"--shard {shard[0]}/{shard[1]}: the plan splits the search into {shards} shard(s) "
                           "(train.search.shards); run `mlgen compile` after changing it")
        if shards > 1:
            return train_shard(ctx, shard[0], shards)

    t = load(ctx)
    if not space:
        fit_and_save(ctx, t, {}, None)
        return 0
    study = None
    if _optuna(settings):
        from mlgen_runtime import search_optuna

        study, mine = search_optuna.work(settings, ctx.root, t, search.fingerprint(settings, t.data_sha256), 1, 1)
        results = search_optuna.results(settings, study)
    else:
        all_trials = search.trials(space, ctx.seed)
        mine = results = search.run_trials(settings, t.cols, t.X, t.y, list(range(len(all_trials))), all_trials,
                                           groups=t.groups, by_time=t.by_time)
    trials_mlflow.log(settings, mine, search.scoring(settings).name)
    _fit_with_trials(ctx, t, results, None if study is None else study.study_name)
    return 0


def _optuna(settings: dict[str, Any]) -> bool:
    return (settings["train"].get("search") or {}).get("strategy") == "optuna"


def _fit_with_trials(ctx: Context, t: Training, results: list[search.TrialResult], study: str | None) -> None:
    """Refit the best trial; trials.json and the report table beside the model."""
    params, summary = _chosen(ctx.settings, results)
    fit_and_save(ctx, t, params, summary)
    trials.write(ctx.out("model"), trials.document(summary, results, study))


def train_shard(ctx: Context, i: int, n: int) -> int:
    settings = ctx.settings
    t = load(ctx)
    fp = search.fingerprint(settings, t.data_sha256)
    if _optuna(settings):  # a worker of the shared study; its file records what it ran
        from mlgen_runtime import search_optuna

        total = int(settings["train"]["search"].get("n_iter", 10))
        results = search_optuna.work(settings, ctx.root, t, fp, i, n)[1]
    else:
        all_trials = search.trials(settings["train"]["search"], ctx.seed)
        total = len(all_trials)
        results = search.run_trials(settings, t.cols, t.X, t.y, search.shard_trials(total, i, n), all_trials,
                                    label=f" shard {i}/{n}", groups=t.groups, by_time=t.by_time)
    trials_mlflow.log(settings, results, search.scoring(settings).name, label=f" shard {i}/{n}")
    path = search.write_shard(ctx.out("trials"), i, n, fp, search.scoring(settings), total, results)
    print(f"shard {i}/{n}: {len(results)} trial results -> {path.relative_to(ctx.root).as_posix()}", flush=True)
    return 0


def select(ctx: Context) -> int:
    settings = ctx.settings
    shards = plan_shards(ctx)
    if shards <= 1 or not settings["train"].get("search"):
        raise BadInput("select merges sharded search results, but train is not sharded in this plan "
                       "(train.search.shards <= 1): train writes the model itself")
    t = load(ctx)
    fp = search.fingerprint(settings, t.data_sha256)
    study = None
    if _optuna(settings):  # the study the shards shared, not their files
        from mlgen_runtime import search_optuna

        sc = search.scoring(settings)
        study = search_optuna.study_name(settings, fp)
        results = search_optuna.stored(settings, ctx.root, fp, sc.greater_is_better)
        print(f"select: {len(results)} trial results from optuna study {study}", flush=True)
    else:
        all_trials = search.trials(settings["train"]["search"], ctx.seed)
        results = search.read_shards(ctx.out("trials"), shards, all_trials, fp)
        print(f"select: {len(results)} trial results from {shards} shards", flush=True)
    _fit_with_trials(ctx, t, results, study)
    return 0


def _chosen(settings: dict[str, Any], results: list[search.TrialResult]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(params of the best trial, the search summary for model.json)."""
    sc = search.scoring(settings)
    best = search.best(results, sc.greater_is_better)
    failed = sum(1 for r in results if r.mean is None)
    print(f"best: trial #{best.index} {best.params}: {sc.name} = {best.mean:.4f} ± {best.std:.4f}"
          + (f" ({failed} trial(s) failed)" if failed else ""), flush=True)
    space = settings["train"]["search"]
    summary = {
        "strategy": space.get("strategy", "grid"),
        "cv": int(space.get("cv", 5)),
        "scoring": sc.name,
        "greater_is_better": sc.greater_is_better,
        "shards": int(space.get("shards", 1)),
        "trials": len(results),
        "failed": failed,
        "best": {"index": best.index, "params": best.params, "mean": best.mean, "std": best.std,
                 "fold_scores": best.fold_scores},
        "results": [{"index": r.index, "params": r.params, "mean": r.mean, "std": r.std, "error": r.error}
                    for r in results],
    }
    return best.params, summary


def fit_and_save(ctx: Context, t: Training, params: dict[str, Any], summary: dict[str, Any] | None) -> None:
    """Refit on the whole train split and write model.skops + model.json."""
    settings = ctx.settings
    pipe = pipeline.build(settings, t.cols, extra=params)
    used = len(t.cols.numeric) + len(t.cols.categorical)  # the features, not the columns left out
    print(f"fitting {settings['train']['estimator']} on {len(t.X)} rows, {used} features", flush=True)
    pipeline.fit(pipe, t.X, t.y)
    folder = ctx.out("model")
    sha = modelio.save_model(pipe, folder)
    meta = metadata(ctx, t, pipe, params, summary, sha)
    write_json(folder / modelio.META_FILE, meta)
    print(f"model -> {(folder / modelio.MODEL_FILE).relative_to(ctx.root).as_posix()} (sha256 {sha[:12]})", flush=True)


def metadata(ctx: Context, t: Training, pipe: Any, params: dict[str, Any], summary: dict[str, Any] | None,
             sha: str) -> dict[str, Any]:
    """model.json: everything needed to trust, reproduce and compare the model. No timestamps."""
    settings = ctx.settings
    est = pipe.named_steps[pipeline.MODEL_STEP]
    classes = getattr(pipe, "classes_", None) if settings["data"]["task"] == "classification" else None
    return {
        "format_version": META_FORMAT,
        "project": settings["project"]["name"],
        "model_file": modelio.MODEL_FILE,
        "sha256": sha,
        "task": settings["data"]["task"],
        "target": settings["data"]["target"],
        "classes": None if classes is None else [search.plain(c) for c in classes],
        "estimator": settings["train"]["estimator"],
        "params": {**(settings["train"].get("params") or {}), **params},
        "estimator_params": pipeline.json_params(est),
        "random_states": {k: v for k, v in sorted(pipe.get_params(deep=True).items()) if k.endswith("random_state")},
        "features": t.cols.as_dict(),
        "notes": list(t.cols.notes),
        "search": summary,
        "cv": None if summary is None else {
            "scoring": summary["scoring"], "mean": summary["best"]["mean"], "std": summary["best"]["std"],
            "fold_scores": summary["best"]["fold_scores"],
        },
        "data": t.data,
        "versions": provenance.versions(),
        "git_commit": provenance.git_commit(ctx.root),
    }
