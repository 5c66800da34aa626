"""Plan -> `.gitlab-ci.yml`, built as data and dumped with `dump_yaml`.

Tables first (how plan words map to GitLab words), code last. Every user string (command,
path, branch, environment name) goes through `yaml_str`, so GitLab's YAML 1.1 parser reads
back exactly what the plan says; strings that GitLab would expand (`$VAR` in `variables:`)
are marked `expand: false`.
"""

from __future__ import annotations

from typing import Any

from mlgen.backends.common import dump_yaml, header_lines, yaml_str
from mlgen.plan.ir import SHARD_INDEX_VAR, SHARD_TOTAL_VAR, Event, Job, Plan, Triggers

OUTPUT = ".gitlab-ci.yml"

# Plan event -> value of $CI_PIPELINE_SOURCE for pipelines started that way.
SOURCES: dict[Event, str] = {
    "push": "push",
    "pull_request": "merge_request_event",
    "schedule": "schedule",
    "manual": "web",  # "Run pipeline" button
}

# Top-level keys GitLab reads as settings, not jobs ("pages" is a special Pages-publishing job).
# A plan job with one of these names would silently stop being a job, so it is refused.
RESERVED_NAMES = frozenset(
    {
        "after_script", "before_script", "cache", "default", "false", "image", "include",
        "nil", "pages", "services", "spec", "stages", "true", "types", "variables", "workflow",
    }
)

# GitLab's predefined per-instance variables under `parallel: N` (1-based, like the plan's).
SHARD_VARIABLES: dict[str, str] = {
    SHARD_INDEX_VAR: "$CI_NODE_INDEX",
    SHARD_TOTAL_VAR: "$CI_NODE_TOTAL",
}


def render(plan: Plan) -> dict[str, str]:
    """The whole backend output: one file."""
    return {OUTPUT: dump_yaml(pipeline(plan), header(plan))}


def pipeline(plan: Plan) -> dict[str, Any]:
    """The `.gitlab-ci.yml` document as plain dicts/lists, in output order."""
    doc: dict[str, Any] = {
        "workflow": {"rules": workflow_rules(plan.triggers)},
        "stages": [job_name(j) for j in plan.jobs],  # one stage per job; `needs` gives the DAG
        "default": {"image": yaml_str(f"python:{plan.python}"), "interruptible": True},
    }
    if plan.env:
        doc["variables"] = {yaml_str(k): variable_value(v) for k, v in plan.env}
    for job in plan.jobs:
        doc[job_name(job)] = job_body(plan, job)
    return doc


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
    if any(j.environment and j.environment.approval == "manual" for j in plan.jobs):
        lines.append(
            "Manual deploys wait for a person (`when: manual`); make the environment protected"
            " (Settings > CI/CD > Protected environments) to choose who may approve."
        )
    lines.append(
        f"GitLab has no pipeline-wide timeout here; each job has its own"
        f" (pipeline bound: {plan.timeout_minutes} minutes)."
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
        out.append("Run pipeline (web)")
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
        rules.append(rule_if(source_is("manual")))
    return rules


# ------------------------------------------------------------------ jobs


def job_name(job: Job) -> Any:
    """The job key (also its stage name), refused when GitLab would not read it as a job."""
    if job.name in RESERVED_NAMES or job.name.startswith("."):
        raise ValueError(
            f"gitlab: job name {job.name!r} is a GitLab keyword or a hidden job; rename the stage"
        )
    return yaml_str(job.name)


def job_body(plan: Plan, job: Job) -> dict[str, Any]:
    body: dict[str, Any] = {
        "stage": job_name(job),
        "needs": needs(job),
        "rules": job_rules(plan, job),
    }
    if job.shards > 1:
        body["parallel"] = job.shards
        body["variables"] = {k: yaml_str(v) for k, v in SHARD_VARIABLES.items()}
    if job.environment is not None:
        env = job.environment
        body["environment"] = {"name": literal(env.name, "environment name")}
        if env.url:
            body["environment"]["url"] = literal(env.url, "environment url")
        # One deploy per environment at a time, and never cancelled halfway.
        body["resource_group"] = literal(env.name, "environment name")
        body["interruptible"] = False
    body["timeout"] = yaml_str(f"{job.timeout_minutes} minutes")
    body["script"] = [yaml_str(line) for line in (*plan.setup, *job.commands)]
    if job.produces is not None:
        body["artifacts"] = {
            # Every shard uploads its own archive; consumers extract all of them into the same
            # paths, so shard outputs must use distinct file names (the runtime does).
            "paths": [literal(p, "artifact path") for p in job.produces.paths],
            "expire_in": yaml_str(expire_in(plan.artifact_expire_days)),
        }
    return body


def needs(job: Job) -> list[dict[str, Any]]:
    """Explicit DAG edges; only consumed jobs' artifacts are downloaded. `[]` starts at once."""
    return [{"job": yaml_str(n), "artifacts": n in job.consumes} for n in job.needs]


def job_rules(plan: Plan, job: Job) -> list[dict[str, Any]]:
    """One rule per event the job runs on; deploys only on the default branch, never for MRs."""
    manual = job.environment is not None and job.environment.approval == "manual"
    rules: list[dict[str, Any]] = []
    for event in job.events:
        if job.default_branch_only:
            if event == "pull_request":
                continue
            rule = rule_if(source_is(event), branch_is(plan.triggers.default_branch))
        else:
            rule = rule_if(source_is(event))
        if manual:
            # A person starts it; allow_failure: false keeps later jobs (and the pipeline) waiting.
            rule |= {"when": "manual", "allow_failure": False}
        rules.append(rule)
    return rules


def expire_in(days: int) -> str:
    return f"{days} day" if days == 1 else f"{days} days"


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


def literal(s: str, what: str) -> Any:
    """Keys GitLab expands variables in (paths, environment names): refuse `$` rather than guess."""
    if "$" in s:
        raise ValueError(f"gitlab: {what} {s!r} contains '$', which GitLab would expand")
    return yaml_str(s)
