"""Checks that relate several parts of a spec; each returns issues with the key path to blame."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgen.spec import jobgraph
from mlgen.spec import rules
from mlgen.spec.positions import Path as KeyPath

if TYPE_CHECKING:
    from mlgen.spec.model import Spec


@dataclass(frozen=True)
class Issue:
    path: KeyPath  # inside the spec table (without the [tool.mlgen] prefix)
    code: str
    message: str
    hint: str = ""


def _suggest(word: str, options: list[str], what: str) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    if close:
        return f"did you mean `{close[0]}`?"
    return f"{what}: " + ", ".join(f"`{o}`" for o in options)


def check(spec: Spec, root: Path) -> list[Issue]:
    """Every cross-field problem of a spec that passed the model; `root` is the spec's folder."""
    issues: list[Issue] = []
    for rule in (_names, _targets, _cycles, _metrics, _data, _split, _search, _approval, _files, _duplicates, _scan, _dvc,
                 _mlflow_aliases, _provider_paths):
        issues.extend(rule(spec, root))
    return issues


def _names(spec: Spec, root: Path) -> Iterator[Issue]:
    from mlgen import backends

    used = [backends.constraints(p) for p in spec.ci.providers]
    taken = dict.fromkeys(jobgraph.builtin_edges(spec), "a built-in job")
    for c in used:  # names a provider reads as a setting instead of a job (GitLab's keywords)
        taken.update(dict.fromkeys(sorted(c.reserved_job_names), "a CI keyword"))
    shards = spec.train.search.shards if spec.train.search else 1
    if shards > 1 and any(c.shard_job_names for c in used):  # Jenkins names the shard stages train-<i>
        taken.update(dict.fromkeys((f"train-{i}" for i in range(1, shards + 1)), "a training shard"))
    taken[jobgraph.DEPLOY_ALIAS] = "the deploy jobs"
    for env in spec.deploy.environments if spec.deploy else []:
        taken[f"rollback-{env.name}"] = "a rollback job"
    envs: set[str] = set()
    for i, env in enumerate(spec.deploy.environments if spec.deploy else []):
        if env.name in envs:
            yield Issue(("deploy", "environments", i, "name"), "E203", f"duplicate environment `{env.name}`", "give each environment its own name")
        envs.add(env.name)
    for i, st in enumerate(spec.stages):
        # job ids a provider of the spec does not accept (GitHub: no leading digit)
        bad_id = next((c for c in used if c.job_id_pattern and not re.fullmatch(c.job_id_pattern, st.name)), None)
        if bad_id is not None:
            yield Issue(("stages", i, "name"), "E207", f"stage name `{st.name}` {bad_id.job_id_problem[0]}", bad_id.job_id_problem[1])
        if st.name.lower().startswith("mlgen"):  # backends name their helper jobs mlgen-*
            yield Issue(("stages", i, "name"), "E203", f"stage name `{st.name}` starts with `mlgen`, which is reserved", "rename the stage")
        if st.name in taken:
            yield Issue(("stages", i, "name"), "E203", f"stage name `{st.name}` is already used by {taken[st.name]}", "rename the stage")
        taken.setdefault(st.name, f"stage #{i + 1}")


def _targets(spec: Spec, root: Path) -> Iterator[Issue]:
    jobs = sorted(set(jobgraph.builtin_edges(spec)) | {s.name for s in spec.stages})
    has_deploy = bool(spec.deploy and spec.deploy.environments)
    options = jobs + ([jobgraph.DEPLOY_ALIAS] if has_deploy else [])
    for i, st in enumerate(spec.stages):
        refs = [(("stages", i, "needs", k), t) for k, t in enumerate(st.needs)]
        if st.before is not None:
            refs.append((("stages", i, "before"), st.before))
        for path, target in refs:
            if target == st.name:
                yield Issue(path, "E201", f"stage `{st.name}` refers to itself", "remove this reference")
            elif target not in options:
                yield Issue(path, "E201", f"unknown job `{target}`", _suggest(target, options, "known jobs"))


def _cycles(spec: Spec, root: Path) -> Iterator[Issue]:
    g = jobgraph.edges(spec)
    cycle = jobgraph.find_cycle(g)
    if cycle is None:
        return
    stages = {s.name: i for i, s in enumerate(spec.stages)}
    blame = next((n for n in cycle if n in stages), cycle[0])
    i = stages.get(blame)
    st = spec.stages[i] if i is not None else None
    path: KeyPath = ("stages",)
    if i is not None and st is not None:
        link = "before" if st.before else "needs" if st.needs else "deps" if st.deps else None
        path = ("stages", i, link) if link else ("stages", i)
    yield Issue(path, "E202", "dependency cycle: " + " -> ".join(cycle), "remove one of these `before`/`needs`/`deps` links")


def _metrics(spec: Spec, root: Path) -> Iterator[Issue]:
    known = rules.metrics_of(spec.data.task)
    # metrics is None only when the task could not be inferred (reported at data.task)
    computed = spec.evaluate.metrics if spec.evaluate.metrics is not None else known
    for k, metric in enumerate(spec.evaluate.metrics or []):
        if metric not in known:
            yield Issue(("evaluate", "metrics", k), "E204", f"`{metric}` is not {_metric_kind(spec)}", _suggest(metric, list(known), "available"))
    for metric, gate in spec.evaluate.gates.items():
        path: KeyPath = ("evaluate", "gates", metric)
        if metric not in known:
            yield Issue(path, "E204", f"gate on `{metric}`, which is not {_metric_kind(spec)}", _suggest(metric, list(known), "available"))
        elif metric not in computed:
            yield Issue(path, "E204", f"gate on `{metric}`, which is not computed", _add_metric_hint(spec, metric))
        if gate.min is None and gate.max is None and gate.max_drop is None:
            yield Issue(path, "E213", "gate has no bound", "set `min`, `max` or `max_drop`")
        if gate.min is not None and gate.max is not None and gate.min > gate.max:
            yield Issue(path, "E213", f"min ({gate.min}) is greater than max ({gate.max})", "swap them, or drop one bound")
    for k, col in enumerate(spec.evaluate.slices):
        if spec.data.columns and col not in spec.data.columns:
            yield Issue(("evaluate", "slices", k), "E201", f"unknown column `{col}`", _suggest(col, sorted(spec.data.columns), "columns"))


def _add_metric_hint(spec: Spec, metric: str) -> str:
    task, metrics = spec.data.task, spec.evaluate.metrics or []
    if task and tuple(metrics) == rules.DEFAULT_METRICS[task]:  # a short spec: the user wrote none
        listed = ", ".join(f'"{m}"' for m in [*metrics, metric])
        return f"set evaluate.metrics = [{listed}] (the {task} default plus `{metric}`)"
    return f"add \"{metric}\" to evaluate.metrics"


def _metric_kind(spec: Spec) -> str:
    return f"a {spec.data.task} metric" if spec.data.task else "a metric mlgen computes"


def _data(spec: Spec, root: Path) -> Iterator[Issue]:
    d = spec.data
    paths: list[tuple[KeyPath, str]] = [(("data", "path"), d.path)]
    if d.reference:
        paths.append((("data", "reference"), d.reference))
    for path, value in paths:
        if not value.endswith((".csv", ".parquet")):
            yield Issue(path, "E209", f"`{value}` is neither .csv nor .parquet", "mlgen reads CSV and Parquet files")
    if spec.monitor and not _monitor_source(spec.monitor.data):
        yield Issue(("monitor", "data"), "E209", f"`{spec.monitor.data}` is neither .csv, .parquet, a folder nor a glob of .parquet files",
                    "name a CSV/Parquet file or the prediction-log folder of `mlgen serve` (e.g. `predictions/production`)")
    if spec.serve is not None:  # the prediction log's own columns (mlgen_request_id, ...)
        for path, name in [(("data", "target"), d.target), *((("data", "columns", c), c) for c in d.columns)]:
            if name.startswith("mlgen_"):
                yield Issue(path, "E213", f"column `{name}`: names starting `mlgen_` are the prediction log's own",
                            "rename the column in the data and the spec")
    for name, col in d.columns.items():
        path = ("data", "columns", name)
        if col.min is not None and col.max is not None and col.min > col.max:
            yield Issue(path, "E213", f"min ({col.min:g}) is greater than max ({col.max:g})", "swap them, or drop one bound")
        if col.values is not None and col.type not in ("category", "str", "int"):
            yield Issue(path + ("values",), "E213", f"`values` does not apply to a {col.type} column", "use type = \"category\"")
        if (col.min is not None or col.max is not None) and col.type not in ("int", "float"):
            yield Issue(path, "E213", f"`min`/`max` do not apply to a {col.type} column", "use type = \"int\" or \"float\"")
    needs_ref = spec.validate_.drift is not None
    if needs_ref and d.reference is None:
        yield Issue(("validate", "drift"), "E212", "drift checks need a baseline", "set data.reference to the reference data file")


def _monitor_source(value: str) -> bool:
    """monitor.data: a CSV/Parquet file, a prediction-log folder (its last segment has no file
    suffix) or a glob of its Parquet files."""
    if any(c in value for c in "*?["):
        return value.endswith(".parquet")
    return value.endswith((".csv", ".parquet")) or "." not in value.rstrip("/").rsplit("/", 1)[-1]


def _split(spec: Spec, root: Path) -> Iterator[Issue]:
    """data.split and data.exclude name columns with a role the target cannot have; a split is
    by group or by time, not both. (An excluded contract column is fine: it is still checked
    against its contract, only not a feature.)"""
    d = spec.data
    target = d.target
    if d.split.group is not None and d.split.time is not None:
        yield Issue(("data", "split"), "E213", "`group` and `time` are both set",
                    "pick one: a group split keeps each group on one side, a time split holds out the latest rows")
    for key in ("group", "time"):
        if getattr(d.split, key) == target:
            yield Issue(("data", "split", key), "E201", f"`{target}` is the target",
                        f"name the column whose {'groups stay together' if key == 'group' else 'order holds out the latest rows'}")
    for k, col in enumerate(d.exclude):
        if col == target:
            yield Issue(("data", "exclude", k), "E201", f"`{col}` is the target, not a feature", "remove it from data.exclude")


def _search(spec: Spec, root: Path) -> Iterator[Issue]:
    s = spec.train.search
    if s is None:
        return
    ranges = {k: v for k, v in s.space.items() if not isinstance(v, list)}
    for key, r in ranges.items():
        problem = _range_problem(r, s.strategy)
        if problem:
            yield Issue(("train", "search", "space", key), "E231", problem[0], problem[1])
    if any(_range_problem(r, s.strategy) for r in ranges.values()):
        return
    # grid: the combinations (a range as its stepped values); random and optuna: the n_iter budget
    trials = math.prod(_grid_size(v) for v in s.space.values()) if s.strategy == "grid" else s.n_iter
    if s.shards > trials:
        yield Issue(("train", "search", "shards"), "E214", f"{s.shards} shards for {trials} trials", f"use at most {trials} shards")
    yield from _storage(s)
    for key in s.space:
        if key in spec.train.params:
            yield Issue(("train", "search", "space", key), "E203", f"`{key}` is both a fixed param and searched", "remove it from train.params")


def _range_problem(r: Any, strategy: str) -> tuple[str, str] | None:
    """(message, hint) of a train.search.space range that cannot be searched, or None."""
    if not r.low < r.high:
        return f"low ({r.low}) is not below high ({r.high})", "a range needs low < high; a list of one value fixes a param"
    if r.log and r.step is not None:
        return "`log` and `step` are both set", "a log-scale range has no step: drop one"
    if r.log and r.low <= 0:
        return f"log scale from low = {r.low}", "a log-scale range needs low > 0"
    if r.step is not None and not 0 < r.step <= r.high - r.low:
        return f"step {r.step} does not fit between {r.low} and {r.high}", "use 0 < step <= high - low"
    if strategy == "grid" and r.step is None:
        return "grid search over a range without a step", "give the range a `step`, list the values, or use strategy random or optuna"
    return None


def _grid_size(v: Any) -> int:
    if isinstance(v, list):
        return len(v)
    return math.floor((v.high - v.low) / v.step + 1e-9) + 1


def _storage(s: Any) -> Iterator[Issue]:
    where = ("train", "search")
    if s.strategy != "optuna":
        for key in ("storage", "storage_env"):
            if getattr(s, key) is not None:
                yield Issue((*where, key), "E232", f"`{key}` is for strategy optuna (this search is {s.strategy})",
                            f"remove train.search.{key}, or set strategy = \"optuna\"")
        return
    if s.engine == "dask":  # search_optuna.work runs its trials in the shard jobs, not through the engine
        yield Issue((*where, "engine"), "E232", "engine = \"dask\" with strategy optuna",
                    "Optuna's trials run in the train shard jobs (shards = N workers of one study): use engine = \"local\", "
                    "or strategy grid/random on Dask")
    if s.storage is not None and s.storage_env is not None:
        yield Issue((*where, "storage_env"), "E232", "`storage` and `storage_env` are both set", "keep one: the study has one storage")
    elif s.shards > 1 and s.storage is None and s.storage_env is None:
        yield Issue((*where, "shards"), "E232", f"{s.shards} optuna workers without a shared storage",
                    "set train.search.storage (an RDB URL or a journal file on one machine) or storage_env (a secret holding the URL)")


def _approval(spec: Spec, root: Path) -> Iterator[Issue]:
    for i, st in enumerate(spec.stages):
        if st.approval == "manual" and st.environment is None:
            yield Issue(("stages", i, "approval"), "E205", "manual approval needs an environment", "set `environment` on this stage")


def _files(spec: Spec, root: Path) -> Iterator[Issue]:
    for k, req in enumerate(spec.project.requirements):
        if not (root / req).is_file():
            yield Issue(("project", "requirements", k), "E211", f"file `{req}` not found", "paths are relative to the folder of the spec")


def _duplicates(spec: Spec, root: Path) -> Iterator[Issue]:
    lists: list[tuple[KeyPath, list[str]]] = [
        (("ci", "providers"), list(spec.ci.providers)),
        (("ci", "branches"), spec.ci.branches),
        (("evaluate", "metrics"), spec.evaluate.metrics or []),
    ]
    for path, values in lists:
        seen: set[str] = set()
        for k, v in enumerate(values):
            if v in seen:
                yield Issue(path + (k,), "E203", f"`{v}` is listed twice", "remove the duplicate")
            seen.add(v)


def _scan(spec: Spec, root: Path) -> Iterator[Issue]:
    scan = spec.scan
    if scan is None:
        return
    known = rules.metrics_of(spec.data.task)
    metric = scan.slices.metric
    if metric is not None and metric not in known:
        yield Issue(("scan", "slices", "metric"), "E204", f"`{metric}` is not {_metric_kind(spec)}", _suggest(metric, list(known), "available"))
    for k, col in enumerate(scan.slices.columns):
        if col == spec.data.target:
            yield Issue(("scan", "slices", "columns", k), "E201", f"`{col}` is the target, not a feature", "slice on feature columns")
        elif spec.data.columns and not spec.data.allow_extra and col not in spec.data.columns:
            yield Issue(("scan", "slices", "columns", k), "E201", f"unknown column `{col}`", _suggest(col, sorted(spec.data.columns), "columns"))
    for name in ("slices", "robustness", "overconfidence", "leakage"):
        detector = getattr(scan, name)
        if detector.minor > detector.major:
            yield Issue(("scan", name, "minor"), "E213", f"minor ({detector.minor:g}) is above major ({detector.major:g})",
                        "a major finding must be at least as bad as a minor one")


def _mlflow_aliases(spec: Spec, root: Path) -> Iterator[Issue]:
    """MLflow reserves the aliases `latest` and `v<number>`; environments become aliases."""
    if spec.deploy is None or not rules.is_mlflow(spec.deploy.registry):
        return
    for i, env in enumerate(spec.deploy.environments):
        low = env.name.lower()
        if low == "latest" or (low.startswith("v") and low[1:].isdigit()):
            yield Issue(("deploy", "environments", i, "name"), "E203",
                        f"`{env.name}` is reserved by MLflow, whose aliases are the environment names", "rename the environment")


def _dvc(spec: Spec, root: Path) -> Iterator[Issue]:
    if spec.data.dvc_secrets and not spec.data.dvc:
        yield Issue(("data", "dvc_secrets"), "E212", "secrets for `dvc pull`, but the data is not tracked with DVC", "set data.dvc = true")


def _provider_paths(spec: Spec, root: Path) -> Iterator[Issue]:
    """Paths a CI provider of the spec cannot write exactly as written: each backend says what
    its files do with a path (backends.path_problem), and escapes whatever has an escape."""
    from mlgen import backends

    paths: list[tuple[KeyPath, str, str]] = [(("data", "path"), "data", spec.data.path)]
    if spec.data.reference:
        paths.append((("data", "reference"), "reference", spec.data.reference))
    if spec.monitor:
        paths.append((("monitor", "data"), "monitor", spec.monitor.data))
    paths += [(("project", "requirements", k), "requirements", r) for k, r in enumerate(spec.project.requirements)]
    for i, st in enumerate(spec.stages):
        paths += [(("stages", i, "deps", k), "deps", d) for k, d in enumerate(st.deps)]
        paths += [(("stages", i, "outs", k), "outs", o) for k, o in enumerate(st.outs)]
    for key, role, value in paths:
        for provider in spec.ci.providers:
            problem = backends.path_problem(provider, role, value)
            if problem:
                yield Issue(key, "E218", f"`{value}`: {problem[0]}", problem[1])
                break
