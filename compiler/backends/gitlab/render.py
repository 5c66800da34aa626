"""Plan -> `.gitlab-ci.yml` (+ the retraining child pipeline), built as data and dumped with
`dump_yaml`.

Tables first (how plan words map to GitLab words), code last. Every user string (command,
path, branch, environment name) goes through `yaml_str`, so GitLab's YAML 1.1 parser reads
back exactly what the plan says; strings that GitLab would expand (`$VAR` in `variables:`)
are marked `expand: false`.

Retraining on drift: on schedule pipelines the parent runs the monitor job, then two helper jobs
(named `mlgen-*`; plan job names never start with "mlgen", so the reader skips them):
`mlgen-drift-gate` picks the child pipeline file from the monitor's verdict and hands it on as an
artifact, `mlgen-retrain` runs it as a dynamic child pipeline (`trigger:include:artifact`). The
two candidate files are committed next to `.gitlab-ci.yml`: `RETRAIN` (the retraining jobs) and
`NO_RETRAIN` (one job saying there was no drift; a child pipeline needs at least one job).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from mlgen.backends.common import dump_yaml, header_lines, registry_note, release_branches, yaml_str
from mlgen.backends.gitlab.constraints import CONSTRAINTS
from mlgen.backends.gitlab.paths import artifact_pattern, path_problem
from mlgen_runtime.contract import (
    CACHE_DIR,
    MONITOR_JOB,
    MONITOR_RESULT,
    SHARD_INDEX_VAR,
    SHARD_TOTAL_VAR,
    UV_CACHE_DIR,
    Event,
    Job,
    Plan,
    Triggers,
)

OUTPUT = ".gitlab-ci.yml"
RETRAIN = ".mlgen/gitlab/retrain.yml"
NO_RETRAIN = ".mlgen/gitlab/no-retrain.yml"

# Helper jobs this backend adds around the plan's jobs. The spec refuses stage names that start
# with "mlgen", so these never clash with a plan job, and the reader skips them.
HELPER_PREFIX = "mlgen"
GATE_JOB = "mlgen-drift-gate"
RETRAIN_JOB = "mlgen-retrain"
NO_DRIFT_JOB = "mlgen-no-drift"
GATE_OUT = f".mlgen/out/{GATE_JOB}/pipeline.yml"  # the child pipeline file the gate chose

# Plan event -> value of $CI_PIPELINE_SOURCE for pipelines started that way.
SOURCES: dict[Event, str] = {
    "push": "push",
    "pull_request": "merge_request_event",
    "schedule": "schedule",
    "manual": "web",  # "Run pipeline" button
}
CHILD_SOURCE = "parent_pipeline"  # $CI_PIPELINE_SOURCE of a child pipeline

# "rollback" is not a kind of pipeline: rollback jobs wait, as manual jobs, in the default
# branch's push and web pipelines until a person plays one.
ROLLBACK_IN: tuple[Event, ...] = ("manual", "push")

# Top-level keys GitLab reads as settings, not jobs: the one list is in constraints.py (the spec
# checks refuse them as stage names; this is the backstop).
RESERVED_NAMES = CONSTRAINTS.reserved_job_names

# GitLab's predefined per-instance variables under `parallel: N` (1-based, like the plan's).
SHARD_VARIABLES: dict[str, str] = {
    SHARD_INDEX_VAR: "$CI_NODE_INDEX",
    SHARD_TOTAL_VAR: "$CI_NODE_TOTAL",
}
# A sharded job has one `cache:` entry for all its instances; the runner expands variables in
# cache keys and paths, so each instance gets its own (the runtime keeps `<cache>-shard-<i>/`).
NODE_INDEX = "$CI_NODE_INDEX"

# Masked and protected CI/CD variable with a project access token (Reporter, `api` scope): when
# set, evaluate posts its report as a merge request note. Without it (every pipeline of an
# unprotected branch), the report is in the job log and the artifacts.
TOKEN_VAR = "MLGEN_GITLAB_TOKEN"
ROLLBACK_TO_VAR = "MLGEN_ROLLBACK_TO"  # read by the runtime's rollback; set when playing the job
REGISTRY_VAR = "MLGEN_REGISTRY"  # read by the runtime: a registry folder that outlives the job

# Report paths placed in after_script lines unquoted (they come from the plan, not the user).
SAFE_PATH = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*")


def render(plan: Plan) -> dict[str, str]:
    """The whole backend output: `.gitlab-ci.yml`, plus the two child pipeline files when the
    plan retrains on drift."""
    files = {OUTPUT: dump_yaml(pipeline(plan), header(plan))}
    if retrains(plan):
        files[RETRAIN] = dump_yaml(retrain_pipeline(plan), child_header(plan, "retrain"))
        files[NO_RETRAIN] = dump_yaml(no_retrain_pipeline(plan), child_header(plan, "no-retrain"))
    return files


def retrains(plan: Plan) -> bool:
    return any(j.on_drift for j in plan.jobs) and any(j.name == MONITOR_JOB for j in plan.jobs)


def pipeline(plan: Plan) -> dict[str, Any]:
    """The `.gitlab-ci.yml` document as plain dicts/lists, in output order."""
    helpers = helper_jobs(plan) if retrains(plan) else {}
    doc: dict[str, Any] = {
        "workflow": {"rules": workflow_rules(plan.triggers)},
        # one stage per job; `needs` gives the DAG
        "stages": [job_name(j) for j in plan.jobs] + list(helpers),
        "default": default_settings(plan),
    }
    if plan.env:
        doc["variables"] = variables(plan)
    for job in plan.jobs:
        doc[job_name(job)] = job_body(plan, job)
    doc.update(helpers)
    return doc


def default_settings(plan: Plan) -> dict[str, Any]:
    return {"image": yaml_str(f"python:{plan.python}"), "interruptible": True}


def variables(plan: Plan) -> dict[str, Any]:
    return {yaml_str(k): variable_value(v) for k, v in plan.env}


# ------------------------------------------------------------------ header


def header(plan: Plan) -> list[str]:
    """The generated-file header plus the settings GitLab keeps outside this file."""
    t = plan.triggers
    lines = [*header_lines(plan), ""]
    lines.append("Pipelines run for: " + "; ".join(pipeline_sources(t)) + ".")
    for cron in t.schedules:
        lines.append(
            f"Schedule (UTC) {comment_safe(cron)}: create it under Build > Pipeline schedules"
            f" for branch {comment_safe(t.default_branch)}; GitLab keeps schedules outside this file."
        )
    if retrains(plan):
        lines.append(
            f"Scheduled pipelines run {MONITOR_JOB}; when it reports drift, {RETRAIN_JOB} starts the"
            f" child pipeline {RETRAIN} (retrain, evaluate, deploy), else {NO_RETRAIN}."
        )
    if any(j.environment and j.environment.approval == "manual" and not is_rollback(j) for j in plan.jobs):
        lines.append(
            "Manual deploys wait for a person (`when: manual`); make the environment protected"
            " (Settings > CI/CD > Protected environments) to choose who may approve."
        )
    if any(is_rollback(j) for j in plan.jobs):
        lines.append(
            "Rollback: play a rollback-<environment> job of a pipeline on"
            f" {comment_safe(t.default_branch)}; it moves the environment back to the version deployed"
            f" before, or to the version in the variable {ROLLBACK_TO_VAR} if you set it when playing the job."
        )
    secrets = sorted({s for j in plan.jobs for s in j.secrets})
    if secrets:
        lines.append(
            "Secrets: add masked CI/CD variables " + ", ".join(secrets) + " (Settings > CI/CD > Variables);"
            " GitLab hands every CI/CD variable to the jobs as an environment variable of that name."
        )
    # GitLab hands every CI/CD variable to every job as an environment variable: the runtime reads it.
    lines.extend(registry_note(plan, "a CI/CD variable (every job gets it as an environment variable)"))
    if any(j.install_cache for j in plan.jobs):
        lines.append(f"Installs: uv's download cache {UV_CACHE_DIR}/ is a GitLab cache keyed by each job's install file.")
    reviews = plan.review_jobs()
    if reviews:
        who = reviews[-1].name + (f" (or {reviews[0].name}, when it fails)" if len(reviews) > 1 else "")
        lines.extend((
            f"Merge request reports: add a masked CI/CD variable {TOKEN_VAR} and mark it protected,"
            " holding a project access token with the Reporter role and the `api` scope (the least that"
            " can post a note) and an expiry date, never a personal token;",
            f"{who} then posts its report as a merge request note. A protected variable reaches only"
            " pipelines of protected branches and tags, so merge requests from other branches get the"
            " report in the job log and its artifacts, without a note.",
            "Never leave it unprotected: every merge request pipeline runs the branch's own"
            " .gitlab-ci.yml, so anyone who can push a branch could read an unprotected token"
            " (masking only hides it in logs).",
        ))
    lines.append(
        f"GitLab has no pipeline-wide timeout here; each job has its own"
        f" (pipeline bound: {plan.timeout_minutes} minutes)."
    )
    return lines


def child_header(plan: Plan, which: str) -> list[str]:
    lines = [*header_lines(plan), ""]
    if which == "retrain":
        lines.append(
            f"Child pipeline: {GATE_JOB} in {OUTPUT} hands this file to {RETRAIN_JOB} when {MONITOR_JOB}"
            " reports drift on a scheduled pipeline; it retrains, evaluates and deploys."
        )
    else:
        lines.append(
            f"Child pipeline: {GATE_JOB} in {OUTPUT} hands this file to {RETRAIN_JOB} when {MONITOR_JOB}"
            " reports no drift on a scheduled pipeline (a child pipeline needs at least one job)."
        )
    return lines


def pipeline_sources(t: Triggers) -> list[str]:
    """Human summary of the workflow rules, for the header."""
    branches = ", ".join(comment_safe(b) for b in t.branches)
    out = [f"pushes to {branches}"]
    if t.pull_requests:
        out.append(f"merge requests into {branches}")
    if t.schedules:
        out.append("pipeline schedules")
    if t.manual:
        out.append("Run pipeline (web, for a branch)")
    return out


def comment_safe(s: str) -> str:
    """A user string placed in a `#` comment must not end the comment line."""
    if any(c in s for c in "\r\n\x85\u2028\u2029"):
        raise ValueError(f"gitlab: line break in {s!r} cannot be written to a comment")
    return s


# ------------------------------------------------------------------ workflow


def workflow_rules(t: Triggers) -> list[dict[str, Any]]:
    """Create a pipeline only for the plan's triggers; first matching rule wins."""
    rules: list[dict[str, Any]] = []
    if t.pull_requests:
        target = "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"
        rules += [rule_if(source_is("pull_request"), var_is(target, b)) for b in t.branches]
    # The default branch always gets its branch pipeline: deploys run only there.
    rules.append(rule_if(source_is("push"), branch_is(t.default_branch)))
    if t.pull_requests and len(t.branches) > 1:
        # Another configured branch with an open MR already gets the MR pipeline: no duplicate.
        rules.append(rule_if(source_is("push"), "$CI_OPEN_MERGE_REQUESTS") | {"when": "never"})
    for b in t.branches[1:]:
        rules.append(rule_if(source_is("push"), branch_is(b)))
    if t.schedules:
        rules.append(rule_if(source_is("schedule")))
    if t.manual:
        # "Run pipeline" for a branch; a tag is no trigger here (GitHub skips its caches on tags,
        # GitLab cannot make a cache conditional, so tag pipelines do not run)
        rules.append(rule_if(source_is("manual"), "$CI_COMMIT_TAG == null"))
    return rules


# ------------------------------------------------------------------ jobs


def job_name(job: Job) -> Any:
    """The job key (also its stage name), refused when GitLab would not read it as a job."""
    if job.name in RESERVED_NAMES or job.name.startswith("."):
        raise ValueError(
            f"gitlab: job name {job.name!r} is a GitLab keyword or a hidden job; rename the stage"
        )
    if job.name.lower().startswith(HELPER_PREFIX):
        raise ValueError(f"gitlab: job name {job.name!r} starts with {HELPER_PREFIX!r}, kept for mlgen's helper jobs")
    return yaml_str(job.name)


def is_rollback(job: Job) -> bool:
    return "rollback" in job.events


def mr_reporting(plan: Plan, job: Job) -> str | None:
    """Whether this job posts the reviewers' report as an MR note: "always" for the last review
    job, "failed" for an earlier one (evaluate before a scan: when it fails the scan never
    runs, so its own report is the one to post), None for other jobs."""
    return job.posts_review  # decided in lowering


def job_body(plan: Plan, job: Job, *, child: bool = False) -> dict[str, Any]:
    """One plan job. `child`: its copy in the retraining child pipeline (no monitor there)."""
    body: dict[str, Any] = {
        "stage": job_name(job),
        "needs": needs(job, child=child),
        "rules": child_rules(plan, job) if child else job_rules(plan, job),
    }
    if job.shards > 1:
        body["parallel"] = job.shards
        body["variables"] = {k: yaml_str(v) for k, v in SHARD_VARIABLES.items()}
    if job.environment is not None:
        env = job.environment
        body["environment"] = {"name": literal(env.name, "environment name")}
        if env.url:
            body["environment"]["url"] = literal(env.url, "environment url")
        # One deploy (or rollback) per environment at a time, and never cancelled halfway.
        body["resource_group"] = literal(env.name, "environment name")
        body["interruptible"] = False
    body["timeout"] = yaml_str(f"{job.timeout_minutes} minutes")
    if job.environment is None and not release_branches(plan.triggers):
        # never for deploys; release builds start clean (as on GitHub)
        caches = [*([cache(job)] if job.cache is not None else []),
                  *([uv_cache(job.install_cache, plan.python)] if job.install_cache else [])]
        if caches:
            body["cache"] = caches[0] if len(caches) == 1 else caches
    body["script"] = [yaml_str(line) for line in (*job.setup, *job.commands)]
    after = after_script(job, reporter=mr_reporting(plan, job))
    if after:
        body["after_script"] = after
    if job.produces is not None or job.reports:
        body["artifacts"] = artifacts(plan, job)
    return body


def needs(job: Job, *, child: bool = False) -> list[dict[str, Any]]:
    """Explicit DAG edges; only consumed jobs' artifacts are downloaded. `[]` starts at once.

    A retraining job's need on the monitor only orders it in pipelines where the monitor runs
    (web): `optional`, because push and merge request pipelines have no monitor job. In the
    child pipeline the monitor has already run in the parent, so the need is dropped."""
    out: list[dict[str, Any]] = []
    for n in job.needs:
        if job.on_drift and n == MONITOR_JOB:
            if child:
                continue
            out.append({"job": yaml_str(n), "artifacts": n in job.consumes, "optional": True})
        else:
            out.append({"job": yaml_str(n), "artifacts": n in job.consumes})
    return out


def job_rules(plan: Plan, job: Job) -> list[dict[str, Any]]:
    """One rule per event the job runs on; deploys only on the default branch, never for MRs."""
    if is_rollback(job):
        # A person starts it; allow_failure: true so it never holds the pipeline up as "blocked".
        return [
            rule_if(source_is(e), branch_is(plan.triggers.default_branch)) | {"when": "manual", "allow_failure": True}
            for e in ROLLBACK_IN
        ]
    rules: list[dict[str, Any]] = []
    for event in job.events:
        if job.default_branch_only:
            if event == "pull_request":
                continue
            rule = rule_if(source_is(event), branch_is(plan.triggers.default_branch))
        else:
            rule = rule_if(source_is(event))
        rules.append(rule | approval(job))
    return rules


def child_rules(plan: Plan, job: Job) -> list[dict[str, Any]]:
    """In the retraining child pipeline every job runs; deploys keep branch and approval rules."""
    conditions = [f"$CI_PIPELINE_SOURCE == {expr_str(CHILD_SOURCE)}"]
    if job.default_branch_only:
        conditions.append(branch_is(plan.triggers.default_branch))
    return [rule_if(*conditions) | approval(job)]


def approval(job: Job) -> dict[str, Any]:
    if job.environment is not None and job.environment.approval == "manual":
        # A person starts it; allow_failure: false keeps later jobs (and the pipeline) waiting.
        return {"when": "manual", "allow_failure": False}
    return {}


def cache(job: Job) -> dict[str, Any]:
    """Persist the runtime's stage cache folder; the runtime checks its own input hash, so a
    stale cache is never used (GitLab only stores and restores the folder). The key hashes the
    plan and the first data file the stage reads (GitLab hashes at most two files), so the same
    inputs find their entry and other inputs start from an empty folder. With the default policy
    (pull-push, when: on_success) GitLab uploads the folder at the end of every successful job,
    replacing the entry of that key: after a deploy, the evaluate entry the runtime rejected
    (its key covers the champion) is replaced by the recomputed one, so GitLab has no stale-entry
    defect that GitHub's immutable keys need the restore/save split for."""
    name = job.cache or ""
    literal(name, "cache name")
    if job.shards > 1:
        prefix, folder = f"mlgen-{name}-{NODE_INDEX}", f"{CACHE_DIR}/{name}-shard-{NODE_INDEX}/"
    else:
        prefix, folder = f"mlgen-{name}", f"{CACHE_DIR}/{name}/"
    files = [f for f in job.cache_inputs if not f.endswith("MANIFEST.json")][:2]
    for f in files:
        problem = path_problem("data", f)
        if problem:  # the spec checks refuse it first
            raise ValueError(f"gitlab: cache input {f!r}: {problem[0]}")
    return {"key": {"files": [yaml_str(f) for f in files], "prefix": yaml_str(prefix)}, "paths": [yaml_str(folder)]}


def uv_cache(install_cache: str, python: str) -> dict[str, Any]:
    """uv's download cache (UV_CACHE_DIR), keyed by the job's install file (the locked
    requirements it installs) and the Python version: jobs that install the same lock share it."""
    problem = path_problem("data", install_cache)
    if problem:
        raise ValueError(f"gitlab: install cache file {install_cache!r}: {problem[0]}")
    literal(python, "python version")
    return {"key": {"files": [yaml_str(install_cache)], "prefix": yaml_str(f"mlgen-uv-py{python}")},
            "paths": [yaml_str(f"{UV_CACHE_DIR}/")]}


def after_script(job: Job, reporter: str | None = None) -> list[Any]:
    """Runs even when the script failed (a failed gate): the report goes to the job log and,
    for the reviewers' report with a token configured, to the merge request as a note
    (`reporter`: "always", or "failed" = only when this job failed, see `mr_reporting`)."""
    if job.summary is None:
        return []
    if not SAFE_PATH.fullmatch(job.summary):
        raise ValueError(f"gitlab: report path {job.summary!r} is not a plain relative path")
    report = job.summary
    lines = [f"if [ -f {report} ]; then cat {report}; fi"]
    if reporter is not None:
        # CI_JOB_STATUS is the script's outcome, set for after_script
        only_failed = '[ "${CI_JOB_STATUS:-}" = failed ] && ' if reporter == "failed" else ""
        lines.append(
            f'if {only_failed}[ -n "${{{TOKEN_VAR}:-}}" ] && [ -n "${{CI_MERGE_REQUEST_IID:-}}" ] && [ -f {report} ]; then'
            f' curl --fail -sS -o /dev/null -X POST -H "PRIVATE-TOKEN: ${TOKEN_VAR}"'
            f' --data-urlencode "body@{report}"'
            ' "$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"'
            ' && echo "report posted to merge request !$CI_MERGE_REQUEST_IID"; fi'
        )
    return [yaml_str(line) for line in lines]


def artifacts(plan: Plan, job: Job) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if job.produces is not None:
        # Every shard uploads its own archive; consumers extract all of them into the same
        # paths, so shard outputs must use distinct file names (the runtime does).
        # globs: each path escaped to match itself (paths.py)
        out["paths"] = [yaml_str(artifact_pattern(literal_path(p))) for p in job.produces.paths]
    out["expire_in"] = yaml_str(expire_in(plan.artifact_expire_days))
    if job.always_upload:
        out["when"] = "always"  # a failing check or gate still publishes its results
    if job.reports:
        out["reports"] = {"junit": [literal(p, "report path") for p in job.reports]}
    return out


def expire_in(days: int) -> str:
    return f"{days} day" if days == 1 else f"{days} days"


# ------------------------------------------------------------------ retraining on drift


def helper_jobs(plan: Plan) -> dict[str, Any]:
    """The scheduled path after the monitor: choose the child pipeline, then run it."""

    def schedule_only() -> list[dict[str, Any]]:  # a fresh list each: no YAML anchors
        return [rule_if(source_is("schedule"))]

    chosen = shlex.quote(GATE_OUT)
    gate = {
        "stage": GATE_JOB,
        "needs": [{"job": MONITOR_JOB, "artifacts": True}],
        "rules": schedule_only(),
        "timeout": yaml_str("10 minutes"),
        "script": [
            yaml_str(line)
            for line in (
                f"drifted=$(cat {shlex.quote(MONITOR_RESULT)})",
                f'echo "{MONITOR_JOB}: drifted=$drifted"',
                f"mkdir -p {shlex.quote(GATE_OUT.rsplit('/', 1)[0])}",
                f'if [ "$drifted" = true ]; then cp {shlex.quote(RETRAIN)} {chosen};'
                f' elif [ "$drifted" = false ]; then cp {shlex.quote(NO_RETRAIN)} {chosen};'
                f' else echo "unexpected {MONITOR_RESULT}: $drifted" >&2; exit 1; fi',
            )
        ],
        "artifacts": {"paths": [yaml_str(GATE_OUT)], "expire_in": yaml_str(expire_in(plan.artifact_expire_days))},
    }
    trigger = {
        "stage": RETRAIN_JOB,
        "needs": [{"job": GATE_JOB, "artifacts": True}],
        "rules": schedule_only(),
        "trigger": {
            "include": [{"artifact": yaml_str(GATE_OUT), "job": GATE_JOB}],
            # the schedule's outcome is the retraining's outcome
            "strategy": "depend",
            # variables set on the schedule (e.g. MLGEN_REGISTRY) reach the child pipeline too
            "forward": {"yaml_variables": True, "pipeline_variables": True},
        },
    }
    return {GATE_JOB: gate, RETRAIN_JOB: trigger}


def retrain_jobs(plan: Plan) -> list[Job]:
    """The drift-gated jobs and every job they need, except the monitor (it ran in the parent)."""
    wanted = {j.name for j in plan.jobs if j.on_drift}
    by_name = {j.name: j for j in plan.jobs}
    todo = list(wanted)
    while todo:
        for dep in by_name[todo.pop()].needs:
            if dep != MONITOR_JOB and dep not in wanted:
                wanted.add(dep)
                todo.append(dep)
    return [j for j in plan.jobs if j.name in wanted]


def retrain_pipeline(plan: Plan) -> dict[str, Any]:
    jobs = retrain_jobs(plan)
    doc: dict[str, Any] = {
        "stages": [job_name(j) for j in jobs],
        "default": default_settings(plan),
    }
    if plan.env:
        doc["variables"] = variables(plan)
    for job in jobs:
        doc[job_name(job)] = job_body(plan, job, child=True)
    return doc


def no_retrain_pipeline(plan: Plan) -> dict[str, Any]:
    return {
        "stages": [NO_DRIFT_JOB],
        "default": default_settings(plan),
        NO_DRIFT_JOB: {
            "stage": NO_DRIFT_JOB,
            "timeout": yaml_str("10 minutes"),
            "script": [yaml_str(f'echo "{MONITOR_JOB}: no drift; nothing to retrain"')],
        },
    }


# ------------------------------------------------------------------ expressions and strings


def source_is(event: Event) -> str:
    return f"$CI_PIPELINE_SOURCE == {expr_str(SOURCES[event])}"


def branch_is(branch: str) -> str:
    return var_is("$CI_COMMIT_BRANCH", branch)


def var_is(var: str, value: str) -> str:
    return f"{var} == {expr_str(value)}"


def rule_if(*conditions: str) -> dict[str, Any]:
    return {"if": yaml_str(" && ".join(conditions))}


def expr_str(s: str) -> str:
    """A string literal in a `rules:if` expression. GitLab has no escapes inside quotes."""
    if '"' not in s:
        return f'"{s}"'
    if "'" not in s:
        return f"'{s}'"
    raise ValueError(f"gitlab: {s!r} has both quote kinds and cannot appear in a rules:if expression")


def variable_value(value: str) -> Any:
    """GitLab expands `$NAME` inside variable values; keep the user's text literal."""
    if "$" in value:
        return {"value": yaml_str(value), "expand": False}
    return yaml_str(value)


def literal_path(path: str) -> str:
    problem = path_problem("outs", path)
    if problem:  # the spec checks refuse it first
        raise ValueError(f"gitlab: artifact path {path!r}: {problem[0]}")
    return path


def literal(s: str, what: str) -> Any:
    """Keys GitLab expands variables in (paths, environment names): refuse `$` rather than guess."""
    if "$" in s:
        raise ValueError(f"gitlab: {what} {s!r} contains '$', which GitLab would expand")
    return yaml_str(s)
