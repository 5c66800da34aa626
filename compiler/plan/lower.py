"""Lowering: a checked spec -> the provider-neutral Plan. Pure; no I/O."""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mlgen_runtime.contract import (
    CACHED_KINDS,
    FORMAT_VERSION,
    INSTALL_DIR,
    MANIFEST,
    MONITOR_JOB,
    NEVER_SKIPPED,
    OUT_DIR,
    REVIEW_KINDS,
    ROLLBACK_PREFIX,
    PLAN_PATH,
    RUNTIME_DIR,
    RUNTIME_MODULE,
    UV_CACHE_DIR,
    Artifact,
    Environment,
    Event,
    Job,
    Plan,
    Triggers,
)
from mlgen_runtime.codefiles import CODE_KINDS
from mlgen.spec import jobgraph
from mlgen.spec.rules import is_mlflow, is_object_store

if TYPE_CHECKING:
    from mlgen.spec.model import Spec

OUT = OUT_DIR
REPORTING = ("validate", "evaluate", "scan", "monitor")  # kinds that write junit.xml + report.md
BUILD_EVENTS: tuple[Event, ...] = ("manual", "pull_request", "push")
DEPLOY_EVENTS: tuple[Event, ...] = ("manual", "push")
MONITOR_EVENTS: tuple[Event, ...] = ("manual", "schedule")


def shell_path(path: str) -> str:
    """A repository path as one shell word: quoted when it holds anything but plain characters
    (spaces, accents, quotes, `$`), and never read as an option (`./-x.csv`)."""
    return shlex.quote("./" + path if path.startswith("-") else path)


def runtime_command(stage: str, *extra: str) -> str:
    return " ".join(("python", "-m", RUNTIME_MODULE, stage, "--plan", PLAN_PATH, *extra))


def _builtin_job(spec: Spec, name: str) -> tuple[str, tuple[str, ...], Artifact | None, Environment | None]:
    """(kind, commands, produced artifact, environment) of a built-in job."""
    if name.startswith("deploy-"):
        env = next(e for e in spec.deploy.environments if jobgraph.deploy_job(e.name) == name)  # type: ignore[union-attr]
        return "deploy", (runtime_command("deploy", "--env", env.name),), None, Environment(env.name, env.approval, env.url)
    outs = {
        "validate": f"{OUT}/validate",
        "train": f"{OUT}/trials" if jobgraph.sharded(spec) else f"{OUT}/model",
        "select": f"{OUT}/model",
        "evaluate": f"{OUT}/evaluate",
        "scan": f"{OUT}/scan",
        "monitor": f"{OUT}/monitor",
    }
    return name, (runtime_command(name),), Artifact(name, (outs[name],)), None


def _builtin_consumes(spec: Spec, name: str) -> set[str]:
    """Built-in artifacts a built-in job reads (custom stage outputs are added separately)."""
    model = jobgraph.model_job(spec)
    if name == "select":
        return {"train"}
    if name == "evaluate":
        return {model}
    if name == "scan":  # its report extends evaluate's, so reviewers get one report
        return {model, "evaluate"}
    if name.startswith("deploy-"):  # deploy re-checks the gates and the scan verdict
        return {model, "evaluate"} | ({"scan"} if spec.scan is not None else set())
    return set()


def lower(spec: Spec, settings: dict[str, Any], spec_path: str, spec_bytes: bytes,
          providers: tuple[str, ...] | None = None, code: tuple[str, ...] = (), locked: bool = False) -> Plan:
    """Build the plan for `spec`; `settings` is its JSON dump (with defaults, by TOML key), kept in
    the plan for the runtime; `spec_path` is how outputs name the spec (relative, POSIX); `code`
    the estimator's files in the project (mlgen_runtime/codefiles.py), which key the cache of the jobs that run it;
    `locked`: an mlgen.lock exists, so jobs install from it with hash checks (else pip, ranges)."""
    graph = jobgraph.edges(spec)
    drift_gated = _retrain_chain(spec, graph)
    for name in drift_gated:  # on schedules they wait for the monitor's verdict
        graph[name] = graph[name] | {MONITOR_JOB}
    order = jobgraph.topological(graph)
    stages = {s.name: s for s in spec.stages}
    with_artifact: set[str] = set()
    jobs: dict[str, Job] = {}
    pr = spec.ci.pull_requests
    build_events = tuple(e for e in BUILD_EVENTS if pr or e != "pull_request")

    # after_deploy[n]: some job n (transitively) needs is a deploy; carried forward in
    # topological order so lowering stays linear in the number of jobs
    after_deploy: dict[str, bool] = {}
    data_reads = jobgraph.data_reads(spec)
    for name in order:
        after_deploy[name] = any(d.startswith("deploy-") or after_deploy[d] for d in graph[name])
        deploy_like = after_deploy[name]
        if name in stages:
            st = stages[name]
            kind, commands = "custom", (st.cmd,)
            produces = Artifact(name, tuple(st.outs)) if st.outs else None
            env = Environment(st.environment, st.approval) if st.environment else None
            # DVC-style: a stage reads what the jobs it directly follows produce
            consumes = {d for d in graph[name] if d in with_artifact}
            deploy_like = deploy_like or env is not None
            timeout = st.timeout_minutes or spec.ci.timeout_minutes
            secrets: tuple[tuple[str, ...], ...] = ()
            reads = list(st.deps)
        else:
            kind, commands, produces, env = _builtin_job(spec, name)
            reads = data_reads.get(name, [])
            pulls = _dvc_pulls(spec, reads)
            if pulls:
                commands = (" ".join(("dvc", "pull", *map(shell_path, pulls))), *commands)
            secrets = _secrets(spec, kind, len(commands), bool(pulls))
            consumes = _builtin_consumes(spec, name) | {
                a for a in jobgraph.ancestors(graph, name)
                if a in stages and a in with_artifact and any(jobgraph.produces(stages[a].outs, f) for f in reads)
            }
            deploy_like = deploy_like or kind == "deploy"
            timeout = spec.ci.timeout_minutes
        if kind == "monitor":
            events: tuple[Event, ...] = MONITOR_EVENTS
        elif deploy_like:
            events = DEPLOY_EVENTS
        else:
            events = build_events
        if produces:
            with_artifact.add(name)
        reporting = kind in REPORTING
        jobs[name] = Job(
            name=name,
            kind=kind,
            commands=commands,
            needs=tuple(sorted(graph[name] | consumes)),
            events=events,
            default_branch_only=deploy_like,
            produces=produces,
            consumes=tuple(sorted(consumes)),
            environment=env,
            shards=spec.train.search.shards if name == "train" and spec.train.search else 1,
            timeout_minutes=timeout,
            on_drift=name in drift_gated,
            reports=(f"{OUT}/{kind}/junit.xml",) if reporting else (),
            summary=f"{OUT}/{kind}/report.md" if reporting else None,
            cache=name if kind in CACHED_KINDS else None,
            cache_inputs=_cache_inputs(spec, reads, code if kind in CODE_KINDS else ()) if kind in CACHED_KINDS else (),
            command_secrets=secrets,
            reads=tuple(reads),
            cacheable=kind not in NEVER_SKIPPED and env is None,
            always_upload=_always_upload(kind) if reporting else (),
        )
    if pr:  # the report is a PR/MR comment: without pull-request pipelines nothing posts it
        _mark_review_jobs(jobs, order)

    # A custom stage that a scheduled job needs must run on schedules too.
    for name in reversed(order):
        job = jobs[name]
        for dep in job.needs:
            d = jobs[dep]
            missing = tuple(sorted(set(job.events) - set(d.events)))
            if d.kind == "custom" and missing:
                jobs[dep] = _with_events(d, tuple(sorted(set(d.events) | set(missing))))

    for env in spec.deploy.environments if spec.deploy else []:
        name = f"{ROLLBACK_PREFIX}{env.name}"
        jobs[name] = Job(
            name=name,
            kind="rollback",
            commands=(runtime_command("rollback", "--env", env.name),),
            events=("rollback",),
            default_branch_only=True,
            environment=Environment(env.name, env.approval, env.url),
            timeout_minutes=spec.ci.timeout_minutes,
            command_secrets=_secrets(spec, "rollback", 1, False),
        )
        order.append(name)

    return Plan(
        format_version=FORMAT_VERSION,
        spec_path=spec_path,
        spec_sha256=hashlib.sha256(spec_bytes).hexdigest(),
        project=spec.project.name,
        python=spec.project.python,
        env=(("PYTHONPATH", RUNTIME_DIR), *((("UV_CACHE_DIR", UV_CACHE_DIR),) if locked else ())),
        triggers=Triggers(
            branches=tuple(spec.ci.branches),
            pull_requests=pr,
            schedules=(spec.monitor.schedule,) if spec.monitor else (),
            manual=True,
        ),
        jobs=tuple(_with_setup(spec, jobs[n], locked) for n in order),
        providers=tuple(sorted(providers if providers is not None else spec.ci.providers)),
        timeout_minutes=spec.ci.pipeline_timeout_minutes,
        artifact_expire_days=spec.ci.artifact_expire_days,
        secrets_environment=spec.ci.secrets_environment if any(jobs[n].command_secrets for n in order) else None,
        settings=settings,
    )


def _retrain_chain(spec: Spec, graph: dict[str, set[str]]) -> set[str]:
    """Jobs a scheduled pipeline runs when the monitor finds drift: validate through deploy, and
    the custom stages they need that the monitor does not already need."""
    if not spec.monitor:
        return set()
    chain = {n for n in graph if n in ("validate", "train", "select", "evaluate", "scan") or n.startswith("deploy-")}
    for n in list(chain):
        chain |= jobgraph.ancestors(graph, n)
    return chain - jobgraph.ancestors(graph, MONITOR_JOB) - {MONITOR_JOB}


def _always_upload(kind: str) -> tuple[str, ...]:
    """What a reporting job uploads even when it fails: its report and JUnit results (and the
    plots evaluate's report links), which reviewers need most when a check or gate failed."""
    plots = (f"{OUT}/{kind}/plots/*.png",) if kind == "evaluate" else ()
    return (f"{OUT}/{kind}/report.md", f"{OUT}/{kind}/junit.xml", *plots)


def _mark_review_jobs(jobs: dict[str, Job], order: list[str]) -> None:
    """The jobs whose summary is the reviewers' report (PR/MR comment), in run order: evaluate,
    then the scan (whose report extends evaluate's). The last one that ran holds the fullest
    report; when evaluate fails the scan never runs, so evaluate posts its own only then."""
    reviews = [n for kind in REVIEW_KINDS for n in order
               if jobs[n].kind == kind and jobs[n].summary and "pull_request" in jobs[n].events]
    for n in reviews:
        jobs[n] = replace(jobs[n], posts_review="always" if n == reviews[-1] else "failed")


def _with_events(job: Job, events: tuple[Event, ...]) -> Job:
    return replace(job, events=events)


# Jobs that open the model registry: evaluate loads the champion, deploys and rollbacks move aliases.
REGISTRY_KINDS = ("evaluate", "deploy", "rollback")


def _cache_inputs(spec: Spec, reads: list[str], code: tuple[str, ...]) -> tuple[str, ...]:
    data = tuple(f"{r}.dvc" if spec.data.dvc and r in (spec.data.path, spec.data.reference) else r for r in reads)
    # code after the data: GitLab keys on the first two files (plan, data); the runtime's own key
    # covers the code everywhere, so an entry saved for other code is never used
    return (PLAN_PATH, f"{RUNTIME_DIR}/{MANIFEST}", *data, *code)


def _dvc_pulls(spec: Spec, reads: list[str]) -> tuple[str, ...]:
    """Data files a job must `dvc pull` first: those it reads that no custom stage writes (a
    stage's outputs arrive as artifacts)."""
    if not spec.data.dvc:
        return ()
    writers = jobgraph.writers(spec)
    return tuple(dict.fromkeys(f for f in reads if not jobgraph.producers(writers, f)))


def _secrets(spec: Spec, kind: str, n_commands: int, pulls: bool) -> tuple[tuple[str, ...], ...]:
    """Per command: the DVC secrets for the leading `dvc pull`, the registry's for the runtime
    command of jobs that open the registry; () when no command needs any."""
    registry = tuple(sorted(spec.deploy.secrets)) if spec.deploy is not None and kind in REGISTRY_KINDS else ()
    search = spec.train.search
    if kind in ("train", "select") and search is not None and search.storage_env:  # the optuna study's URL
        registry = (search.storage_env,)
    if kind == "train" and search is not None and search.engine == "dask" and search.scheduler is None:
        registry = tuple(sorted({*registry, DASK_ADDRESS_SECRET}))  # the cluster's address: a CI secret
    per = [registry] * n_commands
    if pulls:
        per[0] = tuple(sorted(spec.data.dvc_secrets))
    return tuple(per) if any(per) else ()


# What each job installs (names as in runtime/requirements.txt; tests/test_install_sets.py proves
# every stage's import closure is covered). The core is what loading data and a model needs.
CORE = ("numpy", "pandas", "scikit-learn", "scipy", "skops")
PLOTTING_KINDS = ("evaluate", "scan")  # the only stages that draw plots (matplotlib)
OBJECT_STORE_PACKAGES = {"s3://": "s3fs", "gs://": "gcsfs", "az://": "adlfs"}


def registry_tools(spec: Spec) -> tuple[str, ...]:
    """The registry's client packages (for the jobs that open it)."""
    if spec.deploy is None:
        return ()
    reg = spec.deploy.registry
    if is_mlflow(reg):
        # a tracking server needs only the client; a sqlite registry needs mlflow's database layer
        return ("mlflow" if reg.startswith("mlflow+sqlite:") else "mlflow-skinny",)
    if is_object_store(reg):
        return (OBJECT_STORE_PACKAGES[reg[:5]],)
    return ()


DASK_PACKAGES = ("dask", "distributed")  # train.search.engine = "dask": the `dask` extra, dask[distributed]
DASK_ADDRESS_SECRET = "DASK_SCHEDULER_ADDRESS"  # Dask's own variable, read by distributed.Client's config


def search_tools(spec: Spec) -> tuple[str, ...]:
    """The search engine's packages (for the train job, whose trials run on it)."""
    search = spec.train.search
    return DASK_PACKAGES if search is not None and search.engine == "dask" else ()


def optuna_tools(spec: Spec) -> tuple[str, ...]:
    """strategy = "optuna": train (the study's workers) and select (reads the study) need it."""
    search = spec.train.search
    return ("optuna",) if search is not None and search.strategy == "optuna" else ()


def tools(spec: Spec) -> tuple[str, ...]:
    """Packages some job installs besides the runtime's requirements: what `mlgen lock` adds."""
    return (("dvc",) if spec.data.dvc else ()) + registry_tools(spec) + search_tools(spec) + optuna_tools(spec)


def install_set(spec: Spec, job: Job) -> tuple[str, ...]:
    """The packages `job` installs besides the project's requirements files (which every job
    installs: they may hold the estimator's package), sorted."""
    if job.kind == "custom":
        return tuple(sorted(CORE))
    names = set(CORE)
    if job.kind in PLOTTING_KINDS:
        names.add("matplotlib")
    if any(r.endswith(".parquet") for r in job.reads) or (job.kind == "monitor" and not job.reads[0].endswith(".csv")):
        names.add("pyarrow")  # a monitor of a prediction log (folder or glob) reads Parquet too
    if job.kind in REGISTRY_KINDS:
        names.update(registry_tools(spec))
    if job.kind == "train":  # select only reads the shards' results
        names.update(search_tools(spec))
    if job.kind in ("train", "select"):
        names.update(optuna_tools(spec))
    if any(c.startswith("dvc pull") for c in job.commands):
        names.add("dvc")
    return tuple(sorted(names))


def install_file(job_name: str) -> str:
    return f"{INSTALL_DIR}/{job_name}.txt"


def _with_setup(spec: Spec, job: Job, locked: bool) -> Job:
    """The job with the lines that install its set: from the lock with hash checks (uv, its cache
    keyed on the job's install file except where a cache must not be used), else pip ranges."""
    target = shell_path(install_file(job.name))
    if not locked:
        extra = [f"-r {shell_path(r)}" for r in spec.project.requirements]
        return replace(job, setup=(" ".join(["python", "-m", "pip", "install", "-r", target, *extra]),))
    setup = (
        f"python -m {RUNTIME_MODULE}.lockcheck",  # stdlib only: a stale lock fails before installing
        f"python -m pip install --no-deps --require-hashes -r {INSTALL_DIR}/uv.txt",
        f"python -m uv pip install --python python --require-hashes -r {target}",
    )
    cache_ok = job.kind not in ("deploy", "rollback") and job.environment is None
    return replace(job, setup=setup, install_cache=install_file(job.name) if cache_ok else None)
