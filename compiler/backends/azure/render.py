"""Plan -> `azure-pipelines.yml`, built as data and dumped with `dump_yaml`.

One stage per plan job (its `dependsOn` = the job's needs, its condition = the job's events),
holding one job: a `deployment` job bound to its `environment:` for deploys and rollbacks
(Azure evaluates an environment's approvals and checks before such a stage starts), else a
plain `job`. Stage ids are the plan names with `-` written as `_`; `displayName` keeps the name.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mlgen.backends.common import dump_yaml, header_lines, registry_note, release_branches, yaml_str
from mlgen_runtime.contract import MONITOR_JOB, SHARD_INDEX_VAR, SHARD_TOTAL_VAR, Job, Plan, Triggers

from . import steps
from .conditions import NO_ROLLBACK, ROLLBACK_VAR, stage_condition
from .values import HELPER_PREFIX, UnsafeValue, checked, stage_id, user_str

OUTPUT = "azure-pipelines.yml"
VM_IMAGE = "ubuntu-24.04"  # a fixed image, not ubuntu-latest: the same file gives the same build
SECRETS_GROUP = "mlgen-secrets"  # the variable group holding the spec's secrets
ROLLBACK_PARAM = "rollback"
ROLLBACK_TO_PARAM = "rollbackTo"
ROLLBACK_TO_VAR = "MLGEN_ROLLBACK_TO"  # the runtime's rollback reads it when --to is not given
STAGE_KEY_INDENT = 4  # column of a stage's keys, for full-line comments before them
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def render(plan: Plan) -> dict[str, str]:
    return {OUTPUT: dump_yaml(pipeline(plan), header(plan))}


def header(plan: Plan) -> list[str]:
    """The generated-file header plus the settings Azure keeps outside this file."""
    t = plan.triggers
    lines = [*header_lines(plan), ""]
    if t.pull_requests:
        lines.append(
            "Pull requests: `pr:` applies to GitHub and Bitbucket Cloud repositories; for an Azure Repos repository,"
            " add a build validation branch policy on " + ", ".join(t.branches) + " (Repos > Branches > Branch policies)."
        )
    if t.schedules:
        lines.append(
            "Schedules run on " + t.default_branch + " with `always: false`: Azure skips a scheduled run"
            " when nothing changed since the last successful scheduled run (set `always: true` in a copy"
            " of the spec's schedule if data changes outside the repository must be monitored)."
        )
    envs = [j.environment for j in plan.jobs if j.environment and "rollback" not in j.events]
    if envs:
        lines.append(
            "Environments: deploys are deployment jobs bound to an Azure environment (Pipelines >"
            " Environments). Add an Exclusive Lock check to each so that deploys and rollbacks of one"
            " environment never run at the same time (stages say `lockBehavior: sequential`)."
        )
    manual = sorted({e.name for e in envs if e.approval == "manual"})
    if manual:
        lines.append(
            "Approvals: add an Approvals check to environment(s) " + ", ".join(manual)
            + " (Pipelines > Environments > <environment> > Approvals and checks); the stage waits there."
        )
    urls = [(e.name, e.url) for e in envs if e.url]
    for name, url in urls:
        lines.append(f"Environment {name} is served at {comment_safe(url)}.")
    if plan.rollback_jobs:
        lines.append(
            f"Rollback: run the pipeline on {t.default_branch} and pick an environment in the `{ROLLBACK_PARAM}`"
            f" parameter (and optionally a registry version in `{ROLLBACK_TO_PARAM}`); such a run runs only that rollback."
        )
    secrets = sorted({s for j in plan.jobs for s in j.secrets})
    if secrets:
        lines.append(
            f"Secrets: add a variable group {SECRETS_GROUP} (Pipelines > Library) with the secret variables "
            + ", ".join(secrets) + " and allow this pipeline to use it; each is mapped into the one step that reads it."
        )
    lines.extend(registry_note(plan, "a pipeline variable (Edit > Variables; Azure hands non-secret variables"
                                     " to every step as environment variables)"))
    if plan.review_jobs():
        lines.append(
            "Pull request reports: for Azure Repos, give the project's build service identity"
            " (<project> Build Service (<organization>)) `Contribute to pull requests` on the repository"
            " (Project settings > Repositories > Security); the report is posted as one PR thread with"
            " System.AccessToken, mapped into that step only."
        )
    lines.append(
        "Artifacts: pipeline artifacts live as long as the run (Project settings > Pipelines > Settings >"
        f" retention); mlgen asks for {plan.artifact_expire_days} day(s), which Azure does not set per artifact."
    )
    lines.append(f"Whole-pipeline bound: {plan.timeout_minutes} minutes (Azure bounds each job: timeoutInMinutes).")
    return lines


def flag(value: bool) -> Any:
    """A pipeline-level boolean as Azure's schema types it: the string `true` / `false` (Azure
    reads every scalar as a string; only task inputs are typed booleans)."""
    return yaml_str("true" if value else "false")


def number(value: int) -> Any:
    return yaml_str(str(value))  # quoted: the schema types these as strings too


def comment_safe(s: str) -> str:
    return s.replace("\n", " ").replace("\r", " ")


def pipeline(plan: Plan) -> CommentedMap:
    doc = CommentedMap()
    doc["trigger"] = push_trigger(plan.triggers)
    doc["pr"] = pr_trigger(plan.triggers)
    if plan.triggers.schedules:
        doc["schedules"] = schedules(plan.triggers)
    if plan.rollback_jobs:
        doc["parameters"] = rollback_parameters(plan)
    variables = pipeline_variables(plan)
    if variables:
        doc["variables"] = variables
    ids: dict[str, str] = {}
    stages = CommentedSeq()
    for job in plan.jobs:
        ident = stage_id(job.name)
        if ident in ids:
            raise UnsafeValue(f"azure: jobs {ids[ident]!r} and {job.name!r} both become stage id {ident!r}; rename one")
        ids[ident] = job.name
        stages.append(stage(job, plan))
    doc["stages"] = stages
    return doc


def branches(triggers: Triggers) -> CommentedMap:
    return CommentedMap(include=CommentedSeq(user_str(b, "branch") for b in triggers.branches))


def push_trigger(t: Triggers) -> CommentedMap:
    # batch: false: every push is built (a deploy must see every commit it deploys)
    return CommentedMap([("batch", flag(False)), ("branches", branches(t))])


def pr_trigger(t: Triggers) -> Any:
    if not t.pull_requests:
        return "none"
    return CommentedMap([("autoCancel", flag(True)), ("branches", branches(t))])


def schedules(t: Triggers) -> CommentedSeq:
    out = CommentedSeq()
    for cron in t.schedules:
        entry = CommentedMap()
        entry["cron"] = user_str(cron, "schedule")
        entry["displayName"] = yaml_str(f"mlgen schedule {checked(cron, 'schedule')}")
        entry["branches"] = CommentedMap(include=CommentedSeq([user_str(t.default_branch, "branch")]))
        entry["always"] = flag(False)
        out.append(entry)
    return out


def rollback_parameters(plan: Plan) -> CommentedSeq:
    envs = [j.environment.name for j in plan.rollback_jobs if j.environment]
    if len(envs) != len(plan.rollback_jobs) or len(set(envs)) != len(envs) or NO_ROLLBACK in envs:
        raise UnsafeValue(f"azure: every rollback job needs its own environment, not named {NO_ROLLBACK!r}")
    which = CommentedMap()
    which["name"] = ROLLBACK_PARAM
    which["displayName"] = "Roll an environment back (none: a normal run)"
    which["type"] = "string"
    which["default"] = NO_ROLLBACK
    which["values"] = CommentedSeq([NO_ROLLBACK, *(user_str(e, "environment name") for e in envs)])
    to = CommentedMap()
    to["name"] = ROLLBACK_TO_PARAM
    to["displayName"] = "Registry version to roll back to (blank: the version deployed before)"
    to["type"] = "string"
    to["default"] = yaml_str(" ")  # Azure refuses an empty default; the runtime strips it
    return CommentedSeq([which, to])


def variable(name: str, value: Any) -> CommentedMap:
    return CommentedMap([("name", name), ("value", value)])


def pipeline_variables(plan: Plan) -> CommentedSeq:
    out = CommentedSeq()
    for k, v in plan.env:
        # Azure exports a variable upper-cased: only upper-case names reach the shell as written
        if not _ENV_NAME.fullmatch(k):
            raise UnsafeValue(f"azure: environment variable name {k!r} must be upper-case letters, digits and _")
        out.append(variable(k, user_str(v, f"value of {k}")))
    if plan.rollback_jobs:
        # runtime parameters are template values: copied once into variables the conditions read
        out.append(variable(ROLLBACK_VAR, f"${{{{ parameters.{ROLLBACK_PARAM} }}}}"))
    return out


def stage(job: Job, plan: Plan) -> CommentedMap:
    block = CommentedMap()
    block["stage"] = stage_id(job.name)
    block["displayName"] = user_str(job.name, "job name")
    # Without dependsOn a stage waits for the stage above it: [] starts at once.
    block["dependsOn"] = CommentedSeq(stage_id(n) for n in job.needs)
    condition = stage_condition(job, plan)
    if condition is not None:
        block["condition"] = condition
    if job.environment is not None:
        block["lockBehavior"] = "sequential"
        block.yaml_set_comment_before_after_key(
            "lockBehavior", before="with the environment's Exclusive Lock check: one deploy at a time, never cancelled",
            indent=STAGE_KEY_INDENT)
    block["jobs"] = CommentedSeq([job_block(job, plan)])
    return block


def job_variables(job: Job) -> CommentedSeq:
    out = CommentedSeq()
    if job.shards > 1:
        out.append(variable(SHARD_INDEX_VAR, steps.SHARD_MACRO))
        out.append(variable(SHARD_TOTAL_VAR, steps.SHARD_TOTAL_MACRO))
    if job.secrets:
        out.append(CommentedMap(group=SECRETS_GROUP))
    if "rollback" in job.events:
        out.append(variable(ROLLBACK_TO_VAR, f"${{{{ parameters.{ROLLBACK_TO_PARAM} }}}}"))
    return out


def job_block(job: Job, plan: Plan) -> CommentedMap:
    block = CommentedMap()
    ident = stage_id(job.name)
    if job.environment is not None:
        if job.shards > 1:
            raise UnsafeValue(f"azure: deploy {job.name!r} cannot be sharded")
        block["deployment"] = ident
    else:
        block["job"] = ident
    block["displayName"] = user_str(job.name, "job name")
    block["timeoutInMinutes"] = number(job.timeout_minutes)
    if job.environment is None:
        block["cancelTimeoutInMinutes"] = number(1)
    block["pool"] = CommentedMap(vmImage=VM_IMAGE)
    variables = job_variables(job)
    if variables:
        block["variables"] = variables
    body = job_steps(job, plan)
    if job.environment is not None:
        block["environment"] = CommentedMap(name=user_str(job.environment.name, "environment name"))
        note = (f"approval: manual - add an Approvals check to environment {job.environment.name!r}"
                if job.environment.approval == "manual" else "approval: auto - no approval check on this environment")
        block.yaml_set_comment_before_after_key("environment", before=note, indent=STAGE_KEY_INDENT + 4)
        block["strategy"] = CommentedMap(runOnce=CommentedMap(deploy=CommentedMap(steps=body)))
    else:
        if job.shards > 1:
            block["strategy"] = CommentedMap(parallel=number(job.shards))
        block["steps"] = body
    return block


def job_steps(job: Job, plan: Plan) -> CommentedSeq:
    out = CommentedSeq()
    if job.environment is not None:
        out.append(steps.no_download())
    out.append(steps.checkout())
    out.append(steps.use_python(plan.python))
    for name in job.consumes:
        out.extend(steps.download(name, plan.job(name).shards))
    cached = job.environment is None and not release_branches(plan.triggers)  # never for deploys
    if job.install_cache and cached:
        out.append(steps.uv_cache(job.install_cache, plan.python))
    if job.cache and cached:
        out.extend(steps.stage_cache(job.cache, job.shards > 1, job.cache_inputs))
    out.extend(steps.run(line) for line in job.setup)
    out.extend(steps.run(line, job.secrets_of(i)) for i, line in enumerate(job.commands))
    if job.name == MONITOR_JOB and any(j.on_drift for j in plan.jobs):
        out.append(steps.drift_output())
    if job.summary:
        out.append(steps.summary(job.summary))
    if job.reports:
        out.append(steps.junit(job.reports, job.name))
    if job.posts_review and job.summary:
        out.append(steps.pr_comment(job.summary, job.posts_review))
    if job.produces is not None:
        always = bool(job.always_upload)
        out.append(steps.stage_outputs(job.produces.paths, always))
        out.append(steps.publish(job.produces.name, job.shards > 1, always))
    return out


__all__ = ["HELPER_PREFIX", "OUTPUT", "render"]
