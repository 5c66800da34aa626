"""Plan -> `.github/workflows/mlgen.yml` (and `mlgen-rollback.yml`), built as data and dumped
with `dump_yaml`."""

from __future__ import annotations

import re

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mlgen.backends.common import REGISTRY_VAR, dump_yaml, header_lines, opens_registry, registry_note, yaml_str
from mlgen_runtime.contract import MONITOR_JOB, SHARD_INDEX_VAR, SHARD_TOTAL_VAR, Artifact, Environment, Job, Plan

from . import steps
from .triggers import DRIFT_OUTPUT, job_condition, job_events, on_block, release_branches
from .values import UnsafeValue, checked, expression, user_str

WORKFLOW_PATH = ".github/workflows/mlgen.yml"
ROLLBACK_PATH = ".github/workflows/mlgen-rollback.yml"
RUNNER = "ubuntu-24.04"  # a fixed image, not ubuntu-latest: the same file gives the same build
JOB_KEY_INDENT = 4  # column of a job's keys, for full-line comments before them
HELPER_TIMEOUT_MINUTES = 10
PR_COMMENT_JOB = f"{steps.HELPER_PREFIX}pr-comment"
# GitHub exports no repository variable into jobs; the registry jobs read `vars.` (add_registry_var).
REGISTRY_WHERE = ("a repository or environment variable (Settings > Secrets and variables > Actions > Variables;"
                  " the registry jobs read vars.MLGEN_REGISTRY)")
_JOB_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

# Workflow-level concurrency groups pull-request runs only: a newer commit cancels the outdated
# run of the same pull request. Every other run (push, schedule, dispatch) is its own group, its
# run id: a run waiting days for a production approval must not hold back later pushes, and
# GitHub keeps one pending run per group, so a shared group would cancel queued runs. Deploys
# are serialized by their jobs' own `deploy-<env>` groups, never cancelled while running.
WORKFLOW_CONCURRENCY = {
    "group": "${{ github.workflow }}-${{ github.event_name == 'pull_request' && github.ref || github.run_id }}",
    "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
}


def render(plan: Plan) -> dict[str, str]:
    from .rollback import rollback_jobs, rollback_workflow

    header = [*header_lines(plan), *registry_note(plan, REGISTRY_WHERE)]
    files = {WORKFLOW_PATH: dump_yaml(workflow(plan), header)}
    if rollback_jobs(plan):
        files[ROLLBACK_PATH] = dump_yaml(rollback_workflow(plan), header)
    return files


def pipeline_jobs(plan: Plan) -> tuple[Job, ...]:
    """The jobs of the main workflow: every plan job but the rollbacks (their own workflow)."""
    return tuple(j for j in plan.jobs if "rollback" not in j.events)


def workflow(plan: Plan) -> CommentedMap:
    wf = CommentedMap()
    wf["name"] = user_str(f"mlgen {plan.project}", "project name")
    wf[yaml_str("on")] = on_block(plan.triggers)
    add_common_head(wf, plan)
    wf.yaml_set_comment_before_after_key(
        "concurrency", before="a newer commit cancels an outdated PR run; other runs queue", indent=0
    )
    sharded = sharded_artifacts(plan)
    jobs = CommentedMap()
    for job in pipeline_jobs(plan):
        jobs[yaml_str(job_id(job.name))] = job_block(job, plan, sharded)
    comment = pr_comment_job(plan)
    if comment is not None:
        jobs[PR_COMMENT_JOB] = comment
        jobs.yaml_set_comment_before_after_key(
            PR_COMMENT_JOB,
            before="the evaluation report as one PR comment, updated in place on every push;\n"
            "pull requests from forks get the job summary only (their token cannot comment)",
            indent=2,
        )
    wf["jobs"] = jobs
    releases = release_branches(plan.triggers)
    if releases and any(j.cache and not j.environment for j in plan.jobs):
        # One workflow serves every branch, and a restored cache in a release build is a
        # cache-poisoning risk: with release branches in the triggers, no job restores a cache.
        wf.yaml_set_comment_before_after_key(
            "jobs",
            before=f"no stage cache: this workflow also builds release branches ({', '.join(map(repr, releases))}), "
            "which must start clean",
            indent=0,
        )
    return wf


def add_common_head(wf: CommentedMap, plan: Plan, concurrency: bool = True) -> None:
    wf["permissions"] = CommentedMap()
    wf.yaml_add_eol_comment("none by default; each job grants only what it needs", "permissions")
    if concurrency:
        wf["concurrency"] = CommentedMap(WORKFLOW_CONCURRENCY)
    # `shell: bash` runs every line with `-eo pipefail`, as GitLab's runner does.
    wf["defaults"] = CommentedMap(run=CommentedMap(shell="bash"))
    if plan.env:
        wf["env"] = env_block(plan.env)


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
    if name.lower().startswith("mlgen"):
        raise UnsafeValue(f"job name {name!r} starts with 'mlgen', which is reserved for mlgen's helper jobs")
    return name


def job_head(block: CommentedMap, job: Job) -> None:
    """Runner, timeout and the read-only token every plan job gets (checkout)."""
    block["runs-on"] = RUNNER
    block["timeout-minutes"] = job.timeout_minutes
    block["permissions"] = CommentedMap(contents="read")
    block["permissions"].yaml_add_eol_comment("checkout", "contents")


def job_block(job: Job, plan: Plan, sharded: dict[str, bool]) -> CommentedMap:
    block = CommentedMap()
    block["name"] = yaml_str(job.name)  # a named job reads better in the UI (and auditors ask)
    condition = job_condition(job, plan)
    if condition is not None:
        block["if"] = expression(condition) if isinstance(condition, str) else condition
    if job.needs:
        block["needs"] = CommentedSeq(yaml_str(job_id(n)) for n in job.needs)
    job_head(block, job)
    if job.environment:
        add_environment(block, job.environment)
    elif job.secrets and plan.secrets_environment:
        add_secrets_environment(block, plan.secrets_environment)
    if job.shards > 1:
        block["strategy"] = matrix(job.shards)
        block["env"] = CommentedMap(
            [(SHARD_INDEX_VAR, "${{ matrix.shard }}"), (SHARD_TOTAL_VAR, yaml_str(str(job.shards)))]
        )
    add_registry_var(block, job, plan)
    if publishes_drift(job, plan):
        block["outputs"] = CommentedMap({DRIFT_OUTPUT: f"${{{{ steps.{steps.DRIFT_STEP}.outputs.{DRIFT_OUTPUT} }}}}"})
        block.yaml_set_comment_before_after_key(
            "outputs", before="read by the retraining jobs of scheduled runs", indent=JOB_KEY_INDENT
        )
    block["steps"] = job_steps(job, plan, sharded)
    return block


def add_registry_var(block: CommentedMap, job: Job, plan: Plan) -> None:
    """GitHub never exports repository variables into jobs: a job that opens the registry reads
    `vars.MLGEN_REGISTRY` into its environment (empty when unset: the runtime then uses
    deploy.registry). It takes precedence over the runner's own environment, as job env does."""
    if not opens_registry(job, plan):
        return
    env = block.get("env")
    if env is None:
        env = block["env"] = CommentedMap()
        block.yaml_set_comment_before_after_key(
            "env",
            before=f"the registry location: repository/environment variable {REGISTRY_VAR} "
            "(an object-storage URL, or a path on a self-hosted runner's volume)",
            indent=JOB_KEY_INDENT,
        )
    env[REGISTRY_VAR] = f"${{{{ vars.{REGISTRY_VAR} }}}}"


def publishes_drift(job: Job, plan: Plan) -> bool:
    return job.name == MONITOR_JOB and any(j.on_drift for j in plan.jobs)


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
        [("group", deploy_group(env)), ("cancel-in-progress", False)]
    )
    block.yaml_set_comment_before_after_key(
        "concurrency",
        before="deploys to (and rollbacks of) one environment run one at a time and are never cancelled",
        indent=JOB_KEY_INDENT,
    )


def add_secrets_environment(block: CommentedMap, name: str) -> None:
    """Secrets of a job that deploys nothing come from an environment of their own, used
    without a deployment record, so that who may read them is set per environment."""
    block["environment"] = CommentedMap([("name", user_str(name, "environment name")), ("deployment", False)])
    block.yaml_set_comment_before_after_key(
        "environment",
        before=f"secrets: define them in environment {name!r} (Settings > Environments); no deployment is recorded",
        indent=JOB_KEY_INDENT,
    )


def deploy_group(env: Environment) -> str:
    """Concurrency group of an environment; shared by its deploy and its rollback workflow."""
    return user_str(f"deploy-{env.name}", "environment name")


def matrix(shards: int) -> CommentedMap:
    # fail-fast off: one failed shard must not cancel the others' trials.
    return CommentedMap(
        [("fail-fast", False), ("matrix", CommentedMap(shard=CommentedSeq(range(1, shards + 1))))]
    )


def covered(path: str, artifact: Artifact | None) -> bool:
    """Whether `path` lies inside one of the artifact's paths (and so travels with it)."""
    if artifact is None:
        return False
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in artifact.paths)


def report_paths(job: Job) -> tuple[str, ...]:
    """Reports and summary of a job, in order, without duplicates."""
    return tuple(dict.fromkeys((*job.reports, *((job.summary,) if job.summary else ()))))


def reports_artifact(job: Job) -> Artifact | None:
    """The reports a job writes outside its produced paths, uploaded on their own."""
    loose = tuple(p for p in report_paths(job) if not covered(p, job.produces))
    return Artifact(steps.REPORTS_ARTIFACT + job.name, loose) if loose else None


def job_steps(job: Job, plan: Plan, sharded: dict[str, bool]) -> CommentedSeq:
    out = CommentedSeq([steps.checkout(), steps.setup_python(plan.python)])
    out.extend(steps.download(name, sharded.get(name, False)) for name in job.consumes)
    cached = bool(job.cache and not job.environment and not release_branches(plan.triggers))  # never for deploys
    if job.install_cache and not job.environment and not release_branches(plan.triggers):
        out.append(steps.uv_cache(job.install_cache, plan.python))
    if cached:
        out.append(steps.stage_cache(job.cache, job.shards > 1, job.cache_inputs))
    out.extend(steps.run(line) for line in job.setup)
    out.extend(steps.run(line, job.secrets_of(i)) for i, line in enumerate(job.commands))
    if cached:
        out.append(steps.stage_cache_save(job.cache, job.shards > 1))
    if publishes_drift(job, plan):
        out.append(steps.drift_output())
    if job.summary:
        out.append(steps.summary(job.summary))
    # A failed check or gate still publishes what it wrote (reviewers need the report most then).
    reporting = bool(job.always_upload)
    if job.produces:
        out.append(steps.upload(job.produces, job.shards, plan.artifact_expire_days, always=reporting))
    loose = reports_artifact(job)
    if loose is not None:
        out.append(steps.upload(loose, job.shards, plan.artifact_expire_days, always=True, required=False))
    return out


def pr_comment_job(plan: Plan) -> CommentedMap | None:
    """`mlgen-pr-comment`: posts the reviewers' report on same-repository pull requests: the
    scan's (which extends evaluate's) when the scan ran, else evaluate's (a failed gate stops
    the scan, and reviewers need that report most).

    A job of its own so that `pull-requests: write` is granted to nothing that runs plan
    commands; it only downloads the reports and hands one to `gh`.
    """
    reviews = tuple(j for j in plan.review_jobs() if "pull_request" in job_events(j, plan.triggers))
    if not reviews:
        return None
    names = []
    downloads = CommentedSeq()
    for i, job in enumerate(reviews):
        if job.shards > 1:
            raise UnsafeValue(f"the report of the sharded job {job.name!r} cannot be posted as one comment")
        source = job.produces if covered(job.summary, job.produces) else reports_artifact(job)
        assert source is not None  # the summary is in the produced artifact or in the reports one
        name = job_id(job.name)
        names.append(name)
        # only the first report must exist; a later job may have been skipped after a failure
        downloads.append(steps.download(source.name, False, if_=None if i == 0 else f"needs.{name}.result != 'skipped'"))
    block = CommentedMap()
    block["name"] = PR_COMMENT_JOB
    # !cancelled(), not always(): a run superseded by a newer push must not post its stale report.
    block["if"] = expression(
        "!cancelled() && github.event_name == 'pull_request'"
        " && github.event.pull_request.head.repo.full_name == github.repository"
        f" && needs.{names[0]}.result != 'skipped'"
    )
    block["needs"] = CommentedSeq(yaml_str(n) for n in names)
    block["runs-on"] = RUNNER
    block["timeout-minutes"] = HELPER_TIMEOUT_MINUTES
    block["permissions"] = CommentedMap({"pull-requests": "write"})
    block["permissions"].yaml_add_eol_comment(
        "create/edit the report comment; the only write grant, in this job only", "pull-requests"
    )
    summaries = [j.summary for j in reviews if j.summary]
    comment = steps.pr_comment(summaries[0], summaries[-1] if len(summaries) > 1 else None)
    block["steps"] = CommentedSeq([*downloads, comment])
    return block
