"""`mlgen run`: execute the compiled plan on this machine, in plan order, with the bundled
runtime, skipping jobs whose inputs did not change since their last successful run.

A job is skipped when its key (mlgen_runtime/stagekey.py: the one key, which the runtime's
stage cache uses too) equals the one recorded in run.json after its last successful run and
its outputs are as that run left them. This layer stays beside the runtime's stage cache
because it skips what the runtime never sees (a `dvc pull`, a custom stage's commands, the
process start); both compute the same key, so they cannot disagree on whether inputs changed.
Files are re-hashed only when their stat changed (`StatCache`, passed to the key), so a no-op
run costs a few `os.stat` calls. Jobs the plan marks not `cacheable` (rollbacks, the monitor)
always run, and so does evaluate with an MLflow or object-store registry (its champion is not
read here). A deploy runs unless every job it needs was skipped and its environment's alias in
a folder registry already points at a version with the candidate's sha256
(stagekey.deploy_is_noop): then it would change nothing. The plan is read typed
(mlgen_runtime/contract.py). No heavy imports here: the ML work happens in processes of the bundled runtime.

Every command of a job runs through the shell as its own process, as in CI (one process per
command, the same `python -m mlgen_runtime` entry point); shards run as parallel processes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgen import children
from mlgen.localcluster import LocalClusters
from mlgen_runtime import stagekey
from mlgen_runtime.contract import CACHE_DIR, MANIFEST, Job, Plan, job_dict, read_plan
from mlgen_runtime.contract import (MONITOR_JOB, MONITOR_RESULT, PLAN_PATH, RUNTIME_DIR, SHARD_INDEX_VAR,
                           SHARD_TOTAL_VAR)

CACHE_FILE = f"{CACHE_DIR}/run.json"
# What the stage runtime imports (runtime/requirements.txt, the `runtime` extra): import name ->
# distribution name. pyarrow is only needed for .parquet data, so it is checked only then.
RUNTIME_PACKAGES = {"numpy": "numpy", "pandas": "pandas", "scipy": "scipy", "sklearn": "scikit-learn",
                    "skops": "skops", "matplotlib": "matplotlib"}
PARQUET_PACKAGES = {"pyarrow": "pyarrow"}
INSTALL_RUNTIME = "pip install 'mlgen[runtime]'"
SCHEDULE = "@schedule"  # pseudo target: run the plan as a scheduled pipeline would


@dataclass
class Outcome:
    name: str
    status: str  # ran | cached | failed | waiting (approval) | blocked (a need failed) | skipped
    seconds: float = 0.0
    code: int = 0
    note: str = ""


@dataclass
class StatCache:
    """path -> (size, mtime_ns, inode, ctime_ns, sha256): rehash a file only when its stat changed."""

    entries: dict[str, list[Any]] = field(default_factory=dict)

    def file_hash(self, path: Path) -> str:
        st = path.stat()
        key = path.resolve().as_posix()
        # inode and ctime too: a file replaced by rename (atomic writes) or restored by copy2
        # (which keeps the old mtime) is a new inode, so same size+mtime cannot fool the cache
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
        hit = self.entries.get(key)
        if hit and hit[:4] == stamp:
            return str(hit[4])
        digest = stagekey.sha256_file(path)
        self.entries[key] = [*stamp, digest]
        return digest

    def tree_hash(self, root: Path, rel: str) -> str:
        """Hash of a file or of every file under a folder ("missing" when absent)."""
        return stagekey.tree_hash(root, rel, self.file_hash)


def _produced(plan: Plan, name: str) -> list[str]:
    job = plan.job(name)
    return list(job.produces.paths) if job.produces else []


def cache_key(root: Path, plan: Plan, job: Job, stats: StatCache) -> str | None:
    """The job's key (the runtime's, stagekey.job_key), hashing through the stat cache; None
    when it cannot be known here (the job runs)."""
    return stagekey.job_key(plan, root, job, manifest=root / RUNTIME_DIR / MANIFEST, file_hash=stats.file_hash)


def select_jobs(plan: Plan, wanted: Iterable[str]) -> list[Job]:
    """The jobs to run: by name or kind plus everything they need; by default what a push to
    the default branch runs (everything but the scheduled monitor)."""
    jobs = plan.jobs
    wanted = list(wanted)
    if not wanted:
        return [j for j in jobs if "push" in j.events]
    if list(wanted) == [SCHEDULE]:  # what a scheduled pipeline runs: monitor, then maybe retraining
        return [j for j in jobs if "schedule" in j.events or j.on_drift]
    by_name = {j.name: j for j in jobs}
    chosen: set[str] = set()
    for w in wanted:
        hits = [j.name for j in jobs if j.name == w or j.kind == w]
        if not hits:
            known = sorted(set(by_name) | {j.kind for j in jobs})
            raise ValueError(f"unknown job or stage `{w}`; known: {', '.join(known)}")
        todo = list(hits)
        while todo:
            n = todo.pop()
            if n not in chosen:
                chosen.add(n)
                job = by_name[n]
                # the monitor edge of a retraining job only matters in scheduled runs
                todo.extend(d for d in job.needs if not (job.on_drift and d == MONITOR_JOB))
    return [j for j in jobs if j.name in chosen]


def _shell() -> list[str]:
    # CI runs steps with bash -eo pipefail (GitHub defaults.run.shell: bash); do the same here
    bash = shutil.which("bash")
    return [bash, "-eo", "pipefail", "-c"] if bash else ["/bin/sh", "-ec"]


def _env(plan: Plan, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # `python` in the plan's commands means the interpreter running mlgen (its venv), as the
    # job's setup step would make it in CI
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    for key, value in plan.env:
        env[key] = value
    env.update(extra or {})
    return env


def _run_commands(root: Path, plan: Plan, job: Job, extra_env: dict[str, str] | None) -> int:
    for cmd in job.commands:
        rc = children.run([*_shell(), cmd], cwd=root, env=_env(plan, extra_env))
        if rc != 0:
            return rc
    return 0


def execute(root: Path, plan: Plan, job: Job, force: bool = False, env: dict[str, str] | None = None) -> int:
    """Run a job's commands (with `env` added); shards run as parallel processes like the CI fan-out."""
    n = job.shards
    base = {**(env or {}), **({"MLGEN_NO_CACHE": "1"} if force else {})}  # --force bypasses the runtime's cache too
    if n <= 1:
        return _run_commands(root, plan, job, base)
    cpus = os.cpu_count() or 1
    # each shard gets its share of the cores, so parallel shards do not oversubscribe OpenMP/BLAS
    threads = str(max(1, cpus // n))
    limits = {v: threads for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    with ThreadPoolExecutor(max_workers=min(n, cpus)) as pool:
        try:
            codes = list(pool.map(
                lambda i: _run_commands(root, plan, job, {SHARD_INDEX_VAR: str(i), SHARD_TOTAL_VAR: str(n), **limits, **base}),
                range(1, n + 1),
            ))
        except BaseException:  # Ctrl-C: stop the shards first, or leaving the pool waits for them
            children.stop_all()
            raise
    return max(codes)


def run_plan(
    root: Path,
    wanted: Iterable[str] = (),
    *,
    force: bool = False,
    approve: Iterable[str] = (),
    on_start: Callable[[dict[str, Any]], None] = lambda job: None,
) -> list[Outcome]:
    """Run the selected jobs in plan order; stop dependents of a failed job."""
    clusters = LocalClusters()  # a Dask search without a configured scheduler: see localcluster.py
    try:
        return _run_plan(root, wanted, force=force, approve=approve, on_start=on_start, clusters=clusters)
    except KeyboardInterrupt:
        children.stop_all()  # every job's process group
        raise
    finally:
        clusters.close()


def _python_on_path(env: dict[str, str]) -> str | None:
    """The interpreter the jobs' `python` resolves to (see _env)."""
    return shutil.which("python", path=env.get("PATH"))


def missing_runtime_packages(plan: Plan, env: dict[str, str] | None = None) -> list[str]:
    """Distribution names of the runtime's packages that the jobs' `python` cannot import.
    Checked by module lookup (nothing is imported): in this process when the jobs' `python` is
    this interpreter, else by asking that interpreter."""
    wanted = dict(RUNTIME_PACKAGES)
    paths = [plan.settings["data"].get("path") or "", plan.settings["data"].get("reference") or ""]
    if any(str(p).endswith(".parquet") for p in paths):
        wanted.update(PARQUET_PACKAGES)
    python = _python_on_path(env if env is not None else _env(plan))
    same = python is not None and _same_file(python, sys.executable)
    if python is None or same:
        return missing_here(wanted)
    probe = ("import importlib.util, sys; "
             "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))")
    try:
        res = subprocess.run([python, "-c", probe, *wanted], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return [wanted[m] for m in wanted]
    if res.returncode != 0:
        return [wanted[m] for m in wanted]
    return [wanted[m] for m in res.stdout.split() if m in wanted]


def missing_here(modules: dict[str, str] | None = None) -> list[str]:
    """Distribution names of `modules` (import name -> distribution; default: the runtime's
    packages) that this interpreter cannot import (looked up, not imported)."""
    import importlib.util

    return [dist for mod, dist in (modules or RUNTIME_PACKAGES).items() if importlib.util.find_spec(mod) is None]


def runtime_missing_message(missing: list[str], python: str) -> str:
    """The one line `mlgen` prints when the runtime's packages are missing."""
    return (f"the stage runtime needs {', '.join(missing)}, not installed for {python}; "
            f"install them with `{INSTALL_RUNTIME}` (or `pip install -r {RUNTIME_DIR}/requirements.txt`)")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_runtime_packages(plan: Plan) -> None:
    """Refuse to start (one line, exit 2 from the CLI) when the runtime's packages are missing,
    instead of a job's traceback: `pip install mlgen` brings the compiler only."""
    env = _env(plan)
    missing = missing_runtime_packages(plan, env)
    if missing:
        raise ValueError(runtime_missing_message(missing, _python_on_path(env) or sys.executable))


def _warn_lock_drift(root: Path, plan: Plan) -> None:
    """Warn once (stderr) when the jobs' interpreter differs from mlgen.lock in a package that
    changes models (lockdrift.py); never stops the run."""
    from mlgen.lockdrift import drift_warning

    warning = drift_warning(root, plan.settings, _python_on_path(_env(plan)) or sys.executable)
    if warning:
        print(f"mlgen: warning: {warning}", file=sys.stderr)


def _load_cache(path: Path) -> dict[str, Any]:
    """The run cache; an unreadable or damaged one is a cold cache (it only saves work). Of a
    readable one only the entries of the right shape are kept (`_well_formed`): a hand-edited or
    foreign file never reaches the code that reads it as a traceback."""
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested too deep
        return {}
    return _well_formed(cache)


def _well_formed(cache: Any) -> dict[str, Any]:
    """{"keys": {job: key}, "stat": {path: [size, mtime, inode, ctime, sha256]}, "outputs":
    {job: {path: hash}}}, with every entry of another shape dropped (as if never cached)."""
    if not isinstance(cache, dict):
        return {}

    def table(value: Any) -> dict[str, Any]:
        return {k: v for k, v in value.items() if isinstance(k, str)} if isinstance(value, dict) else {}

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    keys = {k: v for k, v in table(cache.get("keys")).items() if isinstance(v, str)}
    stat = {k: v for k, v in table(cache.get("stat")).items()
            if isinstance(v, list) and len(v) == 5 and all(map(is_int, v[:4])) and isinstance(v[4], str)}
    outputs = {job: {p: h for p, h in table(files).items() if isinstance(h, str)}
               for job, files in table(cache.get("outputs")).items() if isinstance(files, dict)}
    return {"keys": keys, "stat": stat, "outputs": outputs}


def _check_approvals(plan: Plan, approved: set[str]) -> None:
    """A mistyped `--approve` would leave the deploy waiting and the run green: refuse it."""
    import difflib

    known = sorted({j.environment.name for j in plan.jobs if j.environment})
    for name in sorted(approved - set(known)):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean `{close[0]}`?" if close else ("environments: " + ", ".join(f"`{k}`" for k in known) if known else "the spec deploys to no environment")
        raise ValueError(f"--approve {name}: no such environment; {hint}")


def _run_plan(
    root: Path,
    wanted: Iterable[str],
    *,
    force: bool,
    approve: Iterable[str],
    on_start: Callable[[dict[str, Any]], None],
    clusters: LocalClusters,
) -> list[Outcome]:
    plan = read_plan(root / PLAN_PATH)
    cache_path = root / CACHE_FILE
    cache = _load_cache(cache_path)
    stats = StatCache(cache.get("stat", {}))
    keys: dict[str, str] = cache.get("keys", {})
    approved = set(approve)
    _check_approvals(plan, approved)
    wanted = list(wanted)
    selected = select_jobs(plan, wanted)
    if not selected and wanted == [SCHEDULE]:
        raise ValueError("--schedule: nothing runs on a schedule; add a [monitor] table (schedule, data) to the spec")
    if selected:
        _check_runtime_packages(plan)
        _warn_lock_drift(root, plan)
    outcomes: dict[str, Outcome] = {}
    for job in selected:
        name = job.name
        bad = [n for n in job.needs if n in outcomes and outcomes[n].status not in ("ran", "cached", "skipped")]
        if bad:
            outcomes[name] = Outcome(name, "blocked", note=f"{bad[0]} did not succeed")
            continue
        if job.on_drift and wanted == [SCHEDULE] and not _drifted(root):
            outcomes[name] = Outcome(name, "skipped", note="no drift: nothing to retrain")
            continue
        env = job.environment
        if env and env.approval == "manual" and env.name not in approved:
            outcomes[name] = Outcome(name, "waiting", note=f"needs approval: --approve {env.name}")
            continue
        upstream_cached = all(outcomes[n].status in ("cached", "skipped") for n in job.needs if n in outcomes)
        if not force and upstream_cached and stagekey.deploy_is_noop(root, plan, job):
            # nothing it reads changed this run and its alias already holds this very model
            outcomes[name] = Outcome(name, "cached", note=f"{job.environment.name} already holds this model")
            continue
        key = cache_key(root, plan, job, stats) if job.cacheable else None  # the plan decides
        cacheable = key is not None
        outputs_ok = all((root / p).exists() for p in _produced(plan, name))
        if cacheable and not force and keys.get(name) == key and outputs_ok and _outputs_unchanged(root, plan, name, cache, stats):
            outcomes[name] = Outcome(name, "cached", note="inputs unchanged")
            continue
        on_start(job_dict(job))  # the view reads plan.json's shape
        t0 = time.perf_counter()
        code = execute(root, plan, job, force, clusters.env_for(plan, job))
        seconds = time.perf_counter() - t0
        if code == 0:
            outcomes[name] = Outcome(name, "ran", seconds)
            if key is not None:
                keys[name] = key
                cache.setdefault("outputs", {})[name] = {p: stats.tree_hash(root, p) for p in _produced(plan, name)}
        else:
            keys.pop(name, None)
            outcomes[name] = Outcome(name, "failed", seconds, code)
        _save(cache_path, keys, stats, cache)
    _save(cache_path, keys, stats, cache)
    return list(outcomes.values())


def _drifted(root: Path) -> bool:
    result = root / MONITOR_RESULT
    return result.is_file() and result.read_text(encoding="utf-8").strip() == "true"


def _outputs_unchanged(root: Path, plan: Plan, name: str, cache: dict[str, Any], stats: StatCache) -> bool:
    recorded = cache.get("outputs", {}).get(name, {})
    return all(recorded.get(p) == stats.tree_hash(root, p) for p in _produced(plan, name))


def _save(path: Path, keys: dict[str, str], stats: StatCache, cache: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"keys": keys, "stat": stats.entries, "outputs": cache.get("outputs", {})}
    tmp = path.with_suffix(".tmp")
    # ASCII JSON (\u escapes, surrogate-escaped names too): the same bytes in any locale
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
