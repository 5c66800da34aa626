"""The rollback workflow, `.github/workflows/mlgen-rollback.yml`: a person picks an environment
(and optionally a version) in "Run workflow"; the job of that environment runs the runtime's
rollback behind the environment's protection rules, in the environment's deploy concurrency group."""

from __future__ import annotations

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mlgen.backends.common import yaml_str
from mlgen_runtime.contract import Job, Plan

from . import steps
from .render import JOB_KEY_INDENT, add_common_head, add_environment, add_registry_var, job_head, job_id
from .triggers import default_branch_ref, quote
from .values import UnsafeValue, expression, user_str

ENV_INPUT = "environment"
TO_INPUT = "to"
TO_VAR = "MLGEN_ROLLBACK_TO"  # the runtime's rollback reads it when --to is not given


def rollback_jobs(plan: Plan) -> tuple[Job, ...]:
    return plan.rollback_jobs


def inputs(jobs: tuple[Job, ...]) -> CommentedMap:
    envs = [j.environment.name for j in jobs if j.environment]
    if len(envs) != len(jobs) or len(set(envs)) != len(envs):
        raise UnsafeValue("every rollback job needs its own environment")
    environment = CommentedMap()
    environment["description"] = "Environment to roll back"
    environment["type"] = "choice"
    environment["required"] = True
    environment["options"] = CommentedSeq(user_str(e, "environment name") for e in envs)
    to = CommentedMap()
    to["description"] = "Registry version to go back to (empty: the version deployed before the current one)"
    to["type"] = "string"
    to["required"] = False
    to["default"] = yaml_str("")
    return CommentedMap([(ENV_INPUT, environment), (TO_INPUT, to)])


def rollback_workflow(plan: Plan) -> CommentedMap:
    jobs = rollback_jobs(plan)
    wf = CommentedMap()
    wf["name"] = user_str(f"mlgen {plan.project} rollback", "project name")
    wf[yaml_str("on")] = CommentedMap(workflow_dispatch=CommentedMap(inputs=inputs(jobs)))
    add_common_head(wf, plan, concurrency=False)
    wf["jobs"] = CommentedMap((yaml_str(job_id(j.name)), job_block(j, plan)) for j in jobs)
    return wf


def job_block(job: Job, plan: Plan) -> CommentedMap:
    assert job.environment is not None
    block = CommentedMap()
    block["name"] = yaml_str(job.name)
    condition = f"inputs.{ENV_INPUT} == {quote(job.environment.name)}"
    if job.default_branch_only:
        condition += " && " + default_branch_ref(plan.triggers)
    block["if"] = expression(condition)
    job_head(block, job)
    add_environment(block, job.environment)
    block["env"] = CommentedMap({TO_VAR: f"${{{{ inputs.{TO_INPUT} }}}}"})
    block.yaml_set_comment_before_after_key(
        "env", before="the optional version, as data: never expanded inside a run: line", indent=JOB_KEY_INDENT
    )
    add_registry_var(block, job, plan)
    out = CommentedSeq([steps.checkout(), steps.setup_python(plan.python)])
    out.extend(steps.run(line) for line in job.setup)
    out.extend(steps.run(line, job.secrets_of(i)) for i, line in enumerate(job.commands))
    block["steps"] = out
    return block
