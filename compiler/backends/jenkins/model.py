"""Plan -> the data render.py lays out as a Jenkinsfile. Pure functions; every Jenkins decision
(conditions, locks, stash names) is made here, so render.py only places values."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from mlgen.backends.common import header_lines, registry_note
from mlgen.backends.jenkins.groovy import groovy_sq
from mlgen.backends.jenkins.paths import path_problem
from mlgen_runtime.contract import MONITOR_JOB, MONITOR_RESULT, SHARD_INDEX_VAR, SHARD_TOTAL_VAR, UV_CACHE_DIR, Job, Plan

# --------------------------------------------------------------------------- tables

# Builds are told apart by their cause: Jenkins' cron trigger and a person pressing "Build".
TIMER_CAUSE = "TimerTrigger"
USER_CAUSE = "UserIdCause"
# Branch names are matched literally, not as Ant globs (the default), so `release/*` means itself.
EXACT = "EQUALS"
LOCK_PREFIX = "mlgen-deploy-"
# Jenkins' docker agent runs as the agent's uid, which has no home in the image (HOME=/), so
# `pip install` has nowhere to write; give it a writable home inside the container.
DOCKER_ARGS = "-e HOME=/tmp"
# Jenkins cron uses the controller's zone unless told otherwise; plan schedules are UTC.
CRON_TZ = "TZ=UTC"
BUILDS_TO_KEEP = 30
ARTIFACT_BUILDS_TO_KEEP = 10
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

MULTIBRANCH_NOTE = "Use it as a multibranch pipeline: the branch and changeRequest conditions need one."
CACHE_NOTE = (
    "Jenkins has no built-in cross-build cache: every stage starts in a fresh docker workspace,",
    "so the runtime's own .mlgen/cache/ only helps when an agent reuses the workspace.",
)

UV_CACHE_NOTE = (
    f"No provider cache for uv's downloads ({UV_CACHE_DIR}) either: an agent that keeps its workspace keeps them,",
    "or point UV_CACHE_DIR at a volume the agents share.",
)

# Rollback is a parameterized build: a person picks the environment (and optionally a version).
ROLLBACK_PARAM = "MLGEN_ROLLBACK"
ROLLBACK_TO_PARAM = "MLGEN_ROLLBACK_TO"  # Jenkins exposes it to `sh` as an environment variable
ROLLBACK_DESCRIPTION = (
    "Roll this environment back to its previous model version and run nothing else "
    "(empty: a normal build)."
)
ROLLBACK_TO_DESCRIPTION = f"With {ROLLBACK_PARAM}: the registry version to go back to (empty: the one before)."
# Retraining: the monitor stage reads its verdict into this build-wide variable.
DRIFT_VAR = "MLGEN_DRIFTED"


# --------------------------------------------------------------------------- view types


@dataclass(frozen=True)
class Cond:
    """A `when` condition. A leaf is `op` with arguments (`(key, value)`; key "" = positional;
    none at all renders `op()`); `not` / `allOf` / `anyOf` have `children` instead; `expression`
    holds `expr`, a Groovy boolean built by the functions below (never from a user string
    except through `groovy_sq`)."""

    op: str
    args: tuple[tuple[str, str], ...] = ()
    children: tuple[Cond, ...] | None = None
    note: str | None = None  # rendered as a `//` comment above the condition
    expr: str | None = None


@dataclass(frozen=True)
class When:
    before: tuple[str, ...]  # beforeOptions / beforeInput / beforeAgent flags set to true
    conditions: tuple[Cond, ...]  # all must hold


@dataclass(frozen=True)
class Stash:
    name: str
    includes: str


@dataclass(frozen=True)
class Archive:
    """Stage `post { always { ... } }`: JUnit results and files kept with the build."""

    junit: str | None  # comma-separated Ant patterns
    artifacts: str | None


@dataclass(frozen=True)
class Stage:
    name: str
    image: str | None = None  # docker agent image; None for a parallel parent
    docker_args: str = DOCKER_ARGS
    env: tuple[tuple[str, str], ...] = ()
    # secret-text credentials bound to environment variables of the same name (credentials('ID'))
    credentials: tuple[str, ...] = ()
    timeout_minutes: int | None = None
    lock: str | None = None
    input_message: str | None = None
    input_ok: str = "Deploy"
    when: When | None = None
    unstash: tuple[str, ...] = ()
    sh: tuple[str, ...] = ()
    read_env: tuple[tuple[str, str], ...] = ()  # after the shell lines: env.NAME = readFile(path).trim()
    stash: Stash | None = None
    post: Archive | None = None
    parallel: tuple[Stage, ...] = ()


@dataclass(frozen=True)
class Param:
    kind: str  # choice | string
    name: str
    description: str
    choices: tuple[str, ...] = ()  # choice: the first is the default
    default: str = ""  # string


@dataclass(frozen=True)
class Pipeline:
    header: tuple[str, ...]
    timeout_minutes: int
    builds_to_keep: str
    artifact_builds_to_keep: str
    artifact_days_to_keep: str
    cron_branch: str | None  # cron runs only in this branch's job; None = no triggers
    cron_lines: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    params: tuple[Param, ...]
    stages: tuple[Stage, ...]


# --------------------------------------------------------------------------- conditions


def leaf(op: str, *args: tuple[str, str]) -> Cond:
    return Cond(op, tuple(args))


def not_(c: Cond) -> Cond:
    return Cond("not", children=(c,))


def all_of(*cs: Cond) -> Cond:
    return cs[0] if len(cs) == 1 else Cond("allOf", children=cs)


def any_of(*cs: Cond) -> Cond:
    return cs[0] if len(cs) == 1 else Cond("anyOf", children=cs)


def expression(expr: str) -> Cond:
    return Cond("expression", expr=expr)


TIMER = leaf("triggeredBy", ("", TIMER_CAUSE))
BY_USER = leaf("triggeredBy", ("cause", USER_CAUSE))
CHANGE_REQUEST = leaf("changeRequest")
# Groovy truth: an unset parameter (null, before the first build registered it) or '' is false.
NOT_ROLLBACK = expression(f"!params.{ROLLBACK_PARAM}")
DRIFTED = expression(f"env.{DRIFT_VAR} == {groovy_sq('true')}")


def rollback_of(env: str) -> Cond:
    return expression(f"params.{ROLLBACK_PARAM} == {groovy_sq(env)}")


def on_branches(branches: tuple[str, ...]) -> Cond:
    return any_of(*(leaf("branch", ("pattern", b), ("comparator", EXACT)) for b in branches))


def targeting(branches: tuple[str, ...]) -> Cond:
    return any_of(*(leaf("changeRequest", ("target", b), ("comparator", EXACT)) for b in branches))


def rollback_jobs(plan: Plan) -> tuple[Job, ...]:
    jobs = plan.rollback_jobs
    seen: set[str] = set()
    for j in jobs:
        if j.environment is None:
            raise ValueError(f"job {j.name!r} runs on rollback but has no environment to roll back")
        if j.environment.name in seen:
            raise ValueError(f"two rollback jobs for environment {j.environment.name!r}")
        seen.add(j.environment.name)
    return jobs


def event_conditions(job: Job, plan: Plan) -> tuple[Cond, ...]:
    """One alternative per event the job runs on; a build runs the stage if any holds."""
    t = plan.triggers
    branches = (t.default_branch,) if job.default_branch_only else t.branches
    alts: list[Cond] = []
    if "rollback" in job.events and job.environment is not None:
        rollback = all_of(on_branches((t.default_branch,)), not_(CHANGE_REQUEST), rollback_of(job.environment.name))
        alts.append(replace(rollback, note=f"rollback: a build with {ROLLBACK_PARAM} = this environment"))
    if "push" in job.events:
        push = all_of(on_branches(branches), not_(CHANGE_REQUEST), not_(BY_USER))
        alts.append(replace(push, note="push: a branch build started by the SCM"))
    if "pull_request" in job.events and t.pull_requests and not job.default_branch_only:
        alts.append(replace(targeting(branches), note="pull_request: a change request build"))
    if "schedule" in job.events and t.schedules:
        schedule = all_of(on_branches((t.default_branch,)), TIMER)
        alts.append(replace(schedule, note="schedule: a cron build of the default branch"))
    if "manual" in job.events and t.manual:
        manual = [BY_USER, not_(CHANGE_REQUEST)]
        if job.default_branch_only:
            manual.insert(0, on_branches(branches))
        alts.append(replace(all_of(*manual), note="manual: a build started by a person"))
    if not alts:
        raise ValueError(f"job {job.name!r}: none of its events {job.events} is enabled by the triggers")
    return tuple(alts)


def drift_condition(plan: Plan) -> Cond:
    """A cron build of the default branch in which the monitor stage reported drift."""
    if not any(j.name == MONITOR_JOB for j in plan.jobs):
        raise ValueError(f"jobs retrain on drift but the plan has no {MONITOR_JOB!r} job")
    drift = all_of(on_branches((plan.triggers.default_branch,)), TIMER, DRIFTED)
    return replace(drift, note="schedule: retrain when the monitor stage found drift")


def when_for(job: Job, plan: Plan, *, has_agent: bool) -> When:
    conditions: list[Cond] = []
    if rollback_jobs(plan) and "rollback" not in job.events:
        conditions.append(replace(NOT_ROLLBACK, note="a rollback build runs only its rollback stage"))
    not_timer = replace(not_(TIMER), note="cron builds run only the scheduled jobs")
    if job.on_drift:
        # In cron builds the job waits for the monitor's verdict (a `schedule` event, if listed,
        # is replaced by it); every other build runs it on its events as usual.
        others = replace(job, events=tuple(e for e in job.events if e != "schedule"))
        alts = [drift_condition(plan)]
        if others.events:
            usual = all_of(not_timer, any_of(*event_conditions(others, plan)))
            alts.insert(0, replace(usual, note="builds other than cron"))
        conditions.append(any_of(*alts))
    else:
        if "schedule" not in job.events:
            conditions.append(not_timer)
        conditions.append(any_of(*event_conditions(job, plan)))
    # Decide before taking the deploy lock, asking for approval or holding an executor.
    before: list[str] = []
    if job.environment is not None:
        before.append("beforeOptions")
        if job.environment.approval == "manual":
            before.append("beforeInput")
    if has_agent:
        before.append("beforeAgent")
    return When(tuple(before), tuple(conditions))


# --------------------------------------------------------------------------- stages


def shard_names(name: str, shards: int) -> tuple[str, ...]:
    """Stage and stash names of a job's executions: itself, or `<name>-<i>` per shard."""
    return (name,) if shards <= 1 else tuple(f"{name}-{i}" for i in range(1, shards + 1))


def stash_includes(paths: tuple[str, ...]) -> str:
    """Ant patterns for `stash`; `p/**` matches a directory's files and also a file named `p`."""
    for p in paths:
        problem = path_problem("outs", p)
        if problem:  # the spec checks refuse it first
            raise ValueError(f"artifact path {p!r}: {problem[0]}")
    return ",".join(f"{p.rstrip('/')}/**" for p in paths)


def unstash_names(job: Job, plan: Plan) -> tuple[str, ...]:
    names: list[str] = []
    for artifact in job.consumes:
        producer = _producer(plan, artifact)
        if producer is None:
            raise ValueError(f"job {job.name!r} consumes {artifact!r}, which no job produces")
        names.extend(shard_names(artifact, producer.shards))
    return tuple(names)


def _producer(plan: Plan, artifact: str) -> Job | None:
    """The job that produces `artifact` (an artifact is named after its producing job)."""
    try:
        job = plan.job(artifact)
    except KeyError:
        return None
    return job if job.produces is not None and job.produces.name == artifact else None


def run_stage(job: Job, plan: Plan, shard: int, env: tuple[tuple[str, str], ...]) -> Stage:
    """One execution of `job` (shard 0-based): agent, timeout, downloads, shell lines, upload."""
    name = shard_names(job.name, job.shards)[shard]
    stash = None
    if job.produces is not None:
        # Per-shard stash names keep shard outputs apart until a consumer unstashes them all.
        stash_name = shard_names(job.produces.name, job.shards)[shard]
        stash = Stash(stash_name, stash_includes(job.produces.paths))
    # The monitor's verdict becomes a build-wide variable that the drift-gated stages' `when`s
    # read; a `script` step, not an `sh`, so every provider still runs the same shell lines.
    reads_verdict = job.name == MONITOR_JOB and any(j.on_drift for j in plan.jobs)
    return Stage(
        name=name,
        image=f"python:{plan.python}",
        env=env,
        credentials=tuple(check_credential(c) for c in job.secrets),
        timeout_minutes=job.timeout_minutes,
        unstash=unstash_names(job, plan),
        sh=job.setup + job.commands,
        read_env=((DRIFT_VAR, MONITOR_RESULT),) if reads_verdict else (),
        stash=stash,
        post=archive(job),
    )


def patterns(paths: tuple[str, ...], what: str) -> str | None:
    for p in paths:
        if "," in p:
            raise ValueError(f"{what} path {p!r} contains ',' which Jenkins patterns cannot express")
    return ",".join(paths) or None


def archive(job: Job) -> Archive | None:
    """JUnit results and the report, recorded even when a check or gate failed the stage."""
    files = job.always_upload  # the report, JUnit results, evaluate's plots (lowering decides)
    if not files:
        return None
    return Archive(junit=patterns(job.reports, "report"), artifacts=patterns(files, "report"))


def job_stage(job: Job, plan: Plan) -> Stage:
    env = job.environment
    lock = LOCK_PREFIX + env.name if env is not None else None
    message, ok = None, "Deploy"
    if env is not None and env.approval == "manual":
        message = f"Deploy {plan.project} to {env.name}?"
        if "rollback" in job.events:
            message, ok = f"Roll {plan.project} back in {env.name}?", "Roll back"
    if job.shards <= 1:
        stage = run_stage(job, plan, 0, ())
        return replace(stage, lock=lock, input_message=message, input_ok=ok, when=when_for(job, plan, has_agent=True))
    total = str(job.shards)
    shards = tuple(
        run_stage(job, plan, i, ((SHARD_INDEX_VAR, str(i + 1)), (SHARD_TOTAL_VAR, total)))
        for i in range(job.shards)
    )
    # The parent only decides and guards; each shard takes its own agent and timeout.
    return Stage(name=job.name, lock=lock, input_message=message, input_ok=ok,
                 when=when_for(job, plan, has_agent=False), parallel=shards)


def check_unique_names(stages: tuple[Stage, ...]) -> None:
    """Stage (and stash) names must be unique: `train` with 2 shards and a job `train-1` clash."""
    seen: set[str] = set()
    for s in stages:
        for name in (s.name, *(p.name for p in s.parallel)):
            if name in seen:
                raise ValueError(f"stage name {name!r} is used twice in the Jenkinsfile")
            seen.add(name)


def check_credential(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise ValueError(f"credential id {name!r} is not a valid environment variable name")
    return name


def check_env(env: tuple[tuple[str, str], ...]) -> None:
    """`environment { }` is not plain Groovy: Jenkins resolves `$VAR` / `${VAR}` in its values,
    even single-quoted ones, so a value with `$` (or `\\`, its escape) would not arrive as written."""
    for key, value in env:
        if not _ENV_NAME.fullmatch(key):
            raise ValueError(f"environment variable name {key!r} is not a valid identifier")
        if "$" in value or "\\" in value:
            raise ValueError(f"environment variable {key}: Jenkins would expand '$' or '\\' in {value!r}")


def plugin_note(plan: Plan) -> str:
    """Which plugins the file needs beyond a standard Pipeline install, for whoever sets up Jenkins."""
    plugins = ["Docker Pipeline (stage agents)"]
    if any(j.environment is not None for j in plan.jobs):
        plugins.append("Lockable Resources (deploy locks)")
    if any(j.reports for j in plan.jobs):
        plugins.append("JUnit (test results)")
    note = "Plugins: " + ", ".join(plugins) + "."
    secrets = sorted({s for j in plan.jobs for s in j.secrets})
    if secrets:
        note += " Credentials (Secret text, these ids): " + ", ".join(secrets) + "."
    return note


def params(plan: Plan) -> tuple[Param, ...]:
    """Build parameters: the rollback entry point, when the plan has rollback jobs."""
    jobs = rollback_jobs(plan)
    if not jobs:
        return ()
    envs = tuple(j.environment.name for j in jobs if j.environment is not None)
    return (
        Param("choice", ROLLBACK_PARAM, ROLLBACK_DESCRIPTION, choices=("", *envs)),
        Param("string", ROLLBACK_TO_PARAM, ROLLBACK_TO_DESCRIPTION),
    )


def pipeline(plan: Plan) -> Pipeline:
    stages = tuple(job_stage(j, plan) for j in plan.jobs)
    check_unique_names(stages)
    check_env(plan.env)
    schedules = plan.triggers.schedules
    notes = (MULTIBRANCH_NOTE, plugin_note(plan), *(CACHE_NOTE if any(j.cache for j in plan.jobs) else ()),
             *(UV_CACHE_NOTE if any(j.install_cache for j in plan.jobs) else ()),
             *registry_note(plan, "in the agent's environment or as a global/folder property (both reach `sh` as"
                                  " environment variables)"))
    return Pipeline(
        header=(*header_lines(plan), *notes),
        timeout_minutes=plan.timeout_minutes,
        builds_to_keep=str(BUILDS_TO_KEEP),
        artifact_builds_to_keep=str(ARTIFACT_BUILDS_TO_KEEP),
        artifact_days_to_keep=str(plan.artifact_expire_days),
        cron_branch=plan.triggers.default_branch if schedules else None,
        cron_lines=(CRON_TZ, *schedules) if schedules else (),
        env=plan.env,
        params=params(plan),
        stages=stages,
    )
