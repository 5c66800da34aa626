"""Plan -> `.github/workflows/mlgen.yml`, built as data and dumped with `dump_yaml`."""

from __future__ import annotations

import re

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mlgen.backends.common import dump_yaml, header_lines, yaml_str
from mlgen.plan.ir import SHARD_INDEX_VAR, SHARD_TOTAL_VAR, Environment, Job, Plan

from . import steps
from .triggers import job_condition, on_block
from .values import UnsafeValue, checked, user_str

WORKFLOW_PATH = ".github/workflows/mlgen.yml"
RUNNER = "ubuntu-24.04"  # a fixed image, not ubuntu-latest: the same file gives the same build
JOB_KEY_INDENT = 4  # column of a job's keys, for full-line comments before them
_JOB_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

# Workflow-level concurrency: one run per workflow and ref. A newer commit cancels an outdated
# pull-request run; runs for pushes, schedules and dispatches queue instead, so a deploy in
# progress is never cancelled.
WORKFLOW_CONCURRENCY = {
    "group": "${{ github.workflow }}-${{ github.ref }}",
    "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
}


def render(plan: Plan) -> dict[str, str]:
    return {WORKFLOW_PATH: dump_yaml(workflow(plan), header_lines(plan))}


def workflow(plan: Plan) -> CommentedMap:
    wf = CommentedMap()
    wf["name"] = user_str(f"mlgen {plan.project}", "project name")
    wf[yaml_str("on")] = on_block(plan.triggers)
    wf["permissions"] = CommentedMap()
    wf.yaml_add_eol_comment("none by default; each job grants only what it needs", "permissions")
    wf["concurrency"] = CommentedMap(WORKFLOW_CONCURRENCY)
    wf.yaml_set_comment_before_after_key(
        "concurrency", before="a newer commit cancels an outdated PR run; other runs queue", indent=0
    )
    # `shell: bash` runs every line with `-eo pipefail`, as GitLab's runner does.
    wf["defaults"] = CommentedMap(run=CommentedMap(shell="bash"))
    if plan.env:
        wf["env"] = env_block(plan.env)
    sharded = sharded_artifacts(plan)
    wf["jobs"] = CommentedMap((yaml_str(job_id(j.name)), job_block(j, plan, sharded)) for j in plan.jobs)
    return wf


def sharded_artifacts(plan: Plan) -> dict[str, bool]:
    """Artifact name -> whether its producer is sharded (consumers then match `<name>-shard-*`)."""
    sharded = {j.produces.name: j.shards > 1 for j in plan.jobs if j.produces}
    for name in (n for n, s in sharded.items() if s):
        prefix = f"{name}-shard-"
        clash = sorted(other for other in sharded if other.startswith(prefix))
        if clash:
            raise UnsafeValue(
                f"artifact {clash[0]!r} would be downloaded with the shards of {name!r} "
                f"(pattern {prefix}*); rename the job"
            )
    return sharded


def env_block(pairs: tuple[tuple[str, str], ...]) -> CommentedMap:
    return CommentedMap((user_str(k, "environment variable name"), user_str(v, f"value of {k}")) for k, v in pairs)


def job_id(name: str) -> str:
    if not _JOB_ID.fullmatch(checked(name, "job name")):
        raise UnsafeValue(
            f"job name {name!r} is not a valid GitHub Actions job id "
            "(a letter or _, then letters, digits, - or _)"
        )
    return name


def job_block(job: Job, plan: Plan, sharded: dict[str, bool]) -> CommentedMap:
    block = CommentedMap()
    block["name"] = yaml_str(job.name)  # a named job reads better in the UI (and auditors ask)
    condition = job_condition(job, plan.triggers)
    if condition is not None:
        block["if"] = condition
    if job.needs:
        block["needs"] = CommentedSeq(yaml_str(job_id(n)) for n in job.needs)
    block["runs-on"] = RUNNER
    block["timeout-minutes"] = job.timeout_minutes
    block["permissions"] = CommentedMap(contents="read")
    block["permissions"].yaml_add_eol_comment("checkout", "contents")
    if job.environment:
        add_environment(block, job.environment)
    if job.shards > 1:
        block["strategy"] = matrix(job.shards)
        block["env"] = CommentedMap(
            [(SHARD_INDEX_VAR, "${{ matrix.shard }}"), (SHARD_TOTAL_VAR, yaml_str(str(job.shards)))]
        )
    block["steps"] = job_steps(job, plan, sharded)
    return block


def add_environment(block: CommentedMap, env: Environment) -> None:
    """Bind a deploy to its GitHub environment; one deploy per environment, never cancelled."""
    environment = CommentedMap(name=user_str(env.name, "environment name"))
    if env.url:
        environment["url"] = user_str(env.url, "environment url")
    block["environment"] = environment
    if env.approval == "manual":
        note = (f"approval: manual - add required reviewers to environment {env.name!r} "
                "in the repository settings (Settings > Environments)")
    else:
        note = "approval: auto - no required reviewers on this environment"
    block.yaml_set_comment_before_after_key("environment", before=note, indent=JOB_KEY_INDENT)
    block["concurrency"] = CommentedMap(
        [("group", user_str(f"deploy-{env.name}", "environment name")), ("cancel-in-progress", False)]
    )
    block.yaml_set_comment_before_after_key(
        "concurrency", before="deploys to one environment run one at a time and are never cancelled",
        indent=JOB_KEY_INDENT,
    )


def matrix(shards: int) -> CommentedMap:
    # fail-fast off: one failed shard must not cancel the others' trials.
    return CommentedMap(
        [("fail-fast", False), ("matrix", CommentedMap(shard=CommentedSeq(range(1, shards + 1))))]
    )


def job_steps(job: Job, plan: Plan, sharded: dict[str, bool]) -> CommentedSeq:
    out = CommentedSeq([steps.checkout(), steps.setup_python(plan.python)])
    out.extend(steps.download(name, sharded.get(name, False)) for name in job.consumes)
    out.extend(steps.run(line) for line in (*plan.setup, *job.commands))
    if job.produces:
        out.append(steps.upload(job.produces, job.shards, plan.artifact_expire_days))
    return out
