"""Plan -> `bitbucket-pipelines.yml` (+ `.mlgen/bitbucket/insights.py`, the Code Insights poster,
when the plan has review jobs), built as data and dumped with `dump_yaml`.

Bitbucket has no job graph: a pipeline is a list of steps run in order (a `parallel` group runs its
steps side by side), and which pipeline runs is chosen by the event. So each plan event gets its own
pipeline holding the jobs of that event in plan order (topological, so every need runs first):

- `branches: <branch>`: pushes (deploys only in the default branch's pipeline);
- `pull-requests: '**'`: pull requests (Bitbucket keys these by *source* branch; each step skips
  itself unless the destination is one of the spec's branches);
- `custom: mlgen-manual`: Run pipeline, for a branch; `custom: mlgen-schedule`: the schedules, which
  Bitbucket keeps in its UI; `custom: rollback-<environment>`: one per rollback job.

Bitbucket has no step-level environment or condition on variables, so the few things the other
providers say in YAML are script lines the backend adds before the plan's lines, each ending with
MARK (the reader skips them): the pipeline environment, the shard index, and the skip guards
(`exit 0` ends a step successfully) for pull requests into other branches, deploys started from
another branch, and retraining when the monitor saw no drift.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from importlib import resources
from typing import Any

from mlgen.backends import Unsupported
from mlgen.backends.bitbucket.paths import path_problem
from mlgen.backends.common import dump_yaml, header_lines, registry_note, release_branches, yaml_str
from mlgen_runtime.contract import (
    CACHE_DIR,
    MONITOR_JOB,
    MONITOR_RESULT,
    SHARD_INDEX_VAR,
    SHARD_TOTAL_VAR,
    UV_CACHE_DIR,
    Job,
    Plan,
)

OUTPUT = "bitbucket-pipelines.yml"
INSIGHTS = ".mlgen/bitbucket/insights.py"
MARK = "  # mlgen"  # ends every script line the backend adds
HELPER_PREFIX = "mlgen"
MANUAL_PIPELINE = "mlgen-manual"
SCHEDULE_PIPELINE = "mlgen-schedule"
PR_PATTERN = "**"  # every source branch; the destination is checked in the step
TOKEN_VAR = "MLGEN_BITBUCKET_TOKEN"
ROLLBACK_TO_VAR = "MLGEN_ROLLBACK_TO"
# Bitbucket Cloud limits (support.atlassian.com, "Limitations of Bitbucket Pipelines")
MAX_TIME = 720  # minutes per step
MAX_STEPS = 100  # steps per pipeline, parallel steps included
# Report paths placed in after-script lines unquoted (they come from the plan, not the user).
SAFE_PATH = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*")


def render(plan: Plan) -> dict[str, str]:
    files = {OUTPUT: dump_yaml(document(plan), header(plan))}
    if plan.review_jobs():
        files[INSIGHTS] = insights_source()
    return files


def insights_source() -> str:
    return resources.files(__package__).joinpath("insights.py").read_text("utf-8")


def document(plan: Plan) -> dict[str, Any]:
    for job in plan.jobs:
        if job.name.lower().startswith(HELPER_PREFIX):
            raise ValueError(f"bitbucket: job name {job.name!r} starts with {HELPER_PREFIX!r}, kept for mlgen's pipelines")
    doc: dict[str, Any] = {"image": yaml_str(f"python:{plan.python}")}
    caches = cache_definitions(plan)
    if caches:
        doc["definitions"] = {"caches": caches}
    t = plan.triggers
    pipelines: dict[str, Any] = {}
    branches = {}
    for branch in t.branches:
        jobs = [j for j in plan.jobs if "push" in j.events and (branch == t.default_branch or not j.default_branch_only)]
        if jobs:
            branches[yaml_str(branch)] = items(plan, jobs, Context("push", branch in release_branches(t)))
    if branches:
        pipelines["branches"] = branches
    if t.pull_requests:
        jobs = [j for j in plan.jobs if "pull_request" in j.events and not j.default_branch_only]
        if jobs:
            pipelines["pull-requests"] = {yaml_str(PR_PATTERN): items(plan, jobs, Context("pull_request"))}
    custom: dict[str, Any] = {}
    if t.manual:
        jobs = [j for j in plan.jobs if "manual" in j.events]
        if jobs:
            custom[MANUAL_PIPELINE] = items(plan, jobs, Context("manual"))
    if t.schedules:
        jobs, gated = schedule_jobs(plan)
        if jobs:
            custom[SCHEDULE_PIPELINE] = items(plan, jobs, Context("schedule", gated=gated))
    for job in plan.rollback_jobs:
        variables = {"variables": [{
            "name": ROLLBACK_TO_VAR,
            "description": "version to roll back to (empty: the version deployed before)",
        }]}
        custom[yaml_str(job.name)] = [variables, *items(plan, [job], Context("rollback"))]
    if custom:
        pipelines["custom"] = custom
    doc["pipelines"] = pipelines
    return doc


class Context:
    """Which pipeline a step is rendered for."""

    def __init__(self, event: str, release: bool = False, gated: frozenset[str] = frozenset()) -> None:
        self.event = event
        self.release = release  # release builds start clean: no caches
        self.gated = gated  # jobs that run only after drift (schedule pipeline)
        self.jobs: frozenset[str] = frozenset()

    @property
    def custom(self) -> bool:
        return self.event in ("manual", "schedule", "rollback")


def schedule_jobs(plan: Plan) -> tuple[list[Job], frozenset[str]]:
    """The scheduled pipeline: the schedule's jobs, then the retraining jobs (on_drift, and what
    they need besides the monitor), which skip themselves unless the monitor reported drift."""
    scheduled = {j.name for j in plan.jobs if "schedule" in j.events}
    wanted = {j.name for j in plan.jobs if j.on_drift}
    todo = list(wanted)
    while todo:
        for dep in plan.job(todo.pop()).needs:
            if dep not in wanted and dep not in scheduled:
                wanted.add(dep)
                todo.append(dep)
    gated = frozenset(wanted - scheduled)
    if gated and MONITOR_JOB not in scheduled:
        gated = frozenset()  # no monitor in the schedule: nothing decides drift (lowering forbids it)
    return [j for j in plan.jobs if j.name in scheduled | wanted], gated


def items(plan: Plan, jobs: list[Job], ctx: Context) -> list[dict[str, Any]]:
    """The pipeline's steps: one per job, a `parallel` group for a sharded job."""
    ctx.jobs = frozenset(j.name for j in jobs)
    out: list[dict[str, Any]] = []
    count = 0
    seen_envs: dict[str, str] = {}
    for job in jobs:
        if job.environment is not None:
            if job.environment.name in seen_envs:
                raise Unsupported(
                    f"bitbucket: jobs {seen_envs[job.environment.name]!r} and {job.name!r} both run in environment"
                    f" {job.environment.name!r} in one pipeline; Bitbucket allows one deployment step per environment"
                    " per pipeline",
                    "give the later stage its own environment, or leave `bitbucket` out of ci.providers")
            seen_envs[job.environment.name] = job.name
        if job.shards > 1:
            out.append({"parallel": {"fail-fast": True, "steps": [
                {"step": step(plan, job, ctx, shard)} for shard in range(1, job.shards + 1)]}})
            count += job.shards
        else:
            out.append({"step": step(plan, job, ctx)})
            count += 1
    if count > MAX_STEPS:
        raise Unsupported(f"bitbucket: the {ctx.event} pipeline would have {count} steps; Bitbucket allows {MAX_STEPS}",
                          "use fewer shards or stages, or leave `bitbucket` out of ci.providers")
    first = out[0].get("step", {})
    if first.get("trigger") == "manual":
        raise ValueError("bitbucket: the first step of a pipeline cannot be manual")
    return out


def step_name(job: Job, shard: int | None) -> str:
    return job.name if shard is None else f"{job.name} shard {shard}/{job.shards}"


def step(plan: Plan, job: Job, ctx: Context, shard: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": yaml_str(step_name(job, shard))}
    if job.environment is not None:
        body["deployment"] = yaml_str(job.environment.name)
        # a rollback is already started by a person (a custom pipeline)
        if job.environment.approval == "manual" and ctx.event != "rollback":
            body["trigger"] = "manual"
    if not 0 < job.timeout_minutes <= MAX_TIME:
        raise Unsupported(f"bitbucket: job {job.name!r}: timeout {job.timeout_minutes} minutes, Bitbucket allows 1 to {MAX_TIME}",
                          f"set timeout_minutes to at most {MAX_TIME}, or leave `bitbucket` out of ci.providers")
    body["max-time"] = job.timeout_minutes
    if job.environment is None and not ctx.release:
        caches = step_caches(plan, job, shard)
        if caches:
            body["caches"] = caches
    artifacts = step_artifacts(plan, job, ctx, shard)
    if artifacts:
        body["artifacts"] = artifacts
    body["script"] = [yaml_str(line) for line in (*mechanics(plan, job, ctx, shard), *job.setup, *job.commands)]
    after = after_script(job, shard)
    if after:
        body["after-script"] = after
    return body


# ------------------------------------------------------------------ script lines the backend adds


def mechanics(plan: Plan, job: Job, ctx: Context, shard: int | None) -> list[str]:
    lines: list[str] = []
    if plan.env:  # Bitbucket has no pipeline-wide environment in the file
        lines.append("export " + " ".join(f"{assignable(k)}={shlex.quote(v)}" for k, v in plan.env))
    if shard is not None:
        lines.append(f"export {SHARD_INDEX_VAR}={shard} {SHARD_TOTAL_VAR}={job.shards}")
    if ctx.event == "pull_request":
        targets = "|".join(shlex.quote(b) for b in plan.triggers.branches)
        lines.append(
            f'case "${{BITBUCKET_PR_DESTINATION_BRANCH:-}}" in {targets}) ;; *) echo "{job.name}: the pull request'
            f' targets another branch; skipped"; exit 0 ;; esac'
        )
    if ctx.custom and job.default_branch_only:
        main = shlex.quote(plan.triggers.default_branch)
        lines.append(
            f'if [ "${{BITBUCKET_BRANCH:-}}" != {main} ]; then echo "{job.name}: runs only on {plan.triggers.default_branch};'
            ' skipped"; exit 0; fi'
        )
    if job.name in ctx.gated:
        result = shlex.quote(MONITOR_RESULT)
        lines.append(
            f'drifted=$(cat {result}); if [ "$drifted" = false ]; then echo "{MONITOR_JOB}: no drift; {job.name} skipped";'
            f' exit 0; elif [ "$drifted" != true ]; then echo "unexpected {MONITOR_RESULT}: $drifted" >&2; exit 1; fi'
        )
    return [line + MARK for line in lines]


def assignable(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"bitbucket: environment variable name {name!r} cannot be exported")
    return name


# ------------------------------------------------------------------ caches


def slug(text: str) -> str:
    """A cache name part: lowercase letters, digits and `-`, with a hash when that changed it."""
    plain = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:30]
    if plain == text and plain:
        return plain
    return f"{plain}-{hashlib.sha256(text.encode()).hexdigest()[:8]}".lstrip("-")


def stage_cache_name(job: Job, shard: int | None) -> str:
    return f"mlgen-{slug(job.cache or '')}" + ("" if shard is None else f"-shard-{shard}")


def uv_cache_name(install_file: str, python: str) -> str:
    return f"mlgen-uv-py{slug(python.replace('.', ''))}-{slug(install_file.rsplit('/', 1)[-1].removesuffix('.txt'))}"


def cache_definitions(plan: Plan) -> dict[str, Any]:
    """One definition per cache folder: the stage caches (keyed by the files the runtime's key
    hashes; the runtime decides validity) and uv's download cache per install file."""
    out: dict[str, Any] = {}
    for job in plan.jobs:
        if job.environment is not None:
            continue
        if job.cache is not None:
            files = [key_file(f) for f in job.cache_inputs]
            for shard in (None,) if job.shards == 1 else range(1, job.shards + 1):
                folder = f"{CACHE_DIR}/{job.cache}" + ("" if shard is None else f"-shard-{shard}")
                entry: dict[str, Any] = {"path": yaml_str(folder)}
                if files:
                    entry = {"key": {"files": list(files)}, **entry}
                out[stage_cache_name(job, shard)] = entry
        if job.install_cache:
            out[uv_cache_name(job.install_cache, plan.python)] = {
                "key": {"files": [key_file(job.install_cache)]}, "path": yaml_str(UV_CACHE_DIR)}
    return out


def key_file(path: str) -> Any:
    problem = path_problem("data", path)
    if problem:  # the spec checks refuse it first
        raise ValueError(f"bitbucket: cache key file {path!r}: {problem[0]}")
    return yaml_str(path)


def step_caches(plan: Plan, job: Job, shard: int | None) -> list[Any]:
    names = []
    if job.cache is not None:
        names.append(stage_cache_name(job, shard))
    if job.install_cache:
        names.append(uv_cache_name(job.install_cache, plan.python))
    return names


# ------------------------------------------------------------------ artifacts and reports


def artifact_names(plan: Plan, name: str) -> list[str]:
    producer = plan.job(name)
    if producer.shards > 1:
        return [f"{name}-shard-{i}" for i in range(1, producer.shards + 1)]
    return [name]


def upload_patterns(path: str) -> list[Any]:
    """A path and everything under it (a folder's pattern alone would not take its files)."""
    problem = path_problem("outs", path)
    if problem:  # the spec checks refuse it first
        raise ValueError(f"bitbucket: artifact path {path!r}: {problem[0]}")
    return [yaml_str(path), yaml_str(path.rstrip("/") + "/**")]


def step_artifacts(plan: Plan, job: Job, ctx: Context, shard: int | None) -> dict[str, Any]:
    """Named artifacts: each step downloads only what it consumes (from steps of this pipeline),
    plus the monitor's verdict when it is gated on drift."""
    wanted = [n for n in job.consumes if n in ctx.jobs]
    if job.name in ctx.gated and MONITOR_JOB not in wanted:
        wanted.append(MONITOR_JOB)
    downloads = [a for n in wanted if plan.job(n).produces is not None for a in artifact_names(plan, n)]
    out: dict[str, Any] = {"download": [yaml_str(a) for a in downloads] if downloads else False}
    if job.produces is not None:
        name = job.produces.name if shard is None else f"{job.produces.name}-shard-{shard}"
        upload: dict[str, Any] = {"name": yaml_str(name),
                                  "paths": [p for path in job.produces.paths for p in upload_patterns(path)]}
        if job.always_upload:
            upload["capture-on"] = "always"  # a failing check or gate still publishes its results
        out["upload"] = [upload]
    return out


def after_script(job: Job, shard: int | None) -> list[Any]:
    """Runs whether the script failed or not: the report to the log, JUnit files to test-results/
    (Bitbucket's Tests tab), the reviewers' report to Code Insights."""
    lines: list[str] = []
    if job.summary is not None:
        lines.append(f"if [ -f {safe(job.summary)} ]; then cat {safe(job.summary)}; fi")
    folder = "test-results/" + job.name + ("" if shard is None else f"-shard-{shard}")
    for i, report in enumerate(job.reports, start=1):
        target = f"{folder}/{i}-{safe(report).rsplit('/', 1)[-1]}"
        lines.append(f"if [ -f {safe(report)} ]; then mkdir -p {folder} && cp {safe(report)} {target}; fi")
    if job.posts_review is not None and job.summary is not None:
        lines.append(f"python {INSIGHTS} {safe(job.summary)} {job.posts_review} {job.name}")
    return [yaml_str(line) for line in lines]


def safe(path: str) -> str:
    if not SAFE_PATH.fullmatch(path):
        raise ValueError(f"bitbucket: report path {path!r} is not a plain relative path")
    return path


# ------------------------------------------------------------------ header


def header(plan: Plan) -> list[str]:
    t = plan.triggers
    branches = ", ".join(t.branches)
    lines = [*header_lines(plan), ""]
    lines.append(f"Pipelines: `branches` for pushes to {branches}"
                 + (f"; `pull-requests` for pull requests into {branches} (steps of pull requests into"
                    " other branches skip themselves)" if t.pull_requests else "")
                 + (f"; custom `{MANUAL_PIPELINE}` (Run pipeline, for a branch)" if t.manual else "") + ".")
    for cron in t.schedules:
        lines.append(
            f"Schedule (UTC) {cron}: Bitbucket keeps schedules outside this file: create one for the custom"
            f" pipeline {SCHEDULE_PIPELINE} on branch {t.default_branch} (Repository settings > Pipelines > Schedules)."
        )
    _, gated = schedule_jobs(plan) if t.schedules else ([], frozenset())
    if gated:
        lines.append(f"{SCHEDULE_PIPELINE} runs {MONITOR_JOB}; the retraining steps after it skip themselves"
                     " unless it reported drift.")
    envs = sorted({j.environment.name for j in plan.jobs if j.environment is not None})
    if envs:
        lines.append(
            "Deployments: create the environments " + ", ".join(envs) + " under Repository settings > Deployments;"
            " Bitbucket runs one deployment per environment at a time. Deploys run only on"
            f" {t.default_branch} (steps started elsewhere skip themselves)."
        )
    if any(j.environment and j.environment.approval == "manual" and "rollback" not in j.events for j in plan.jobs):
        lines.append("Manual deploys are `trigger: manual` steps: the pipeline pauses until a person runs them;"
                     " deployment permissions (Premium) choose who may.")
    if plan.rollback_jobs:
        lines.append(
            "Rollback: run the custom pipeline rollback-<environment> on"
            f" {t.default_branch}; it moves the environment back to the version deployed before, or to"
            f" {ROLLBACK_TO_VAR} if you set that variable when starting it."
        )
    secrets = sorted({s for j in plan.jobs for s in j.secrets})
    if secrets:
        lines.append(
            "Secrets: add secured repository variables " + ", ".join(secrets) + " (Repository settings >"
            " Repository variables), or secured deployment variables of an environment for its deploy steps only;"
            " Bitbucket gives them to every line of every step (no narrower scope exists)."
        )
    lines.extend(registry_note(plan, "a repository variable (Bitbucket gives it to every step)"))
    if any(j.install_cache for j in plan.jobs):
        lines.append(f"Installs: uv's download cache {UV_CACHE_DIR}/ is a Bitbucket cache keyed by each job's install file.")
    reviews = plan.review_jobs()
    if reviews:
        who = reviews[-1].name + (f" (or {reviews[0].name}, when it fails)" if len(reviews) > 1 else "")
        lines.append(
            f"Reviews: {who} posts its report to Code Insights on the commit (shown on the pull request) through"
            " the pipeline's authentication proxy (localhost:29418, no credentials needed), or with a secured"
            f" repository variable {TOKEN_VAR} holding a repository access token allowed to write the repository."
        )
    if any(j.reports for j in plan.jobs):
        lines.append("Tests: each step copies its JUnit files to test-results/, which Bitbucket shows in the Tests tab.")
    lines.append(
        f"Bitbucket has no pipeline-wide timeout; each step has its own max-time (pipeline bound: {plan.timeout_minutes} minutes)."
    )
    return lines
