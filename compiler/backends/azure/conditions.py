"""Plan events -> the pipeline's triggers and each stage's `condition:` (Azure expressions).

Azure stages run after their `dependsOn` succeeded (`succeeded()`, the default condition); a
written condition replaces that default, so every condition below states it again. The event
of a run is `Build.Reason`; a rollback is a manual run with the `rollback` parameter set (the
pipeline variable MLGEN_ROLLBACK carries it to the conditions at run time)."""

from __future__ import annotations

from mlgen_runtime.contract import MONITOR_JOB, Event, Job, Plan, Triggers

from .values import quote, stage_id

# Plan event -> the values of `Build.Reason` for runs started that way (learn.microsoft.com,
# "Predefined variables": IndividualCI / BatchedCI for pushes, PullRequest for a PR build
# (Azure Repos branch policy or a GitHub/Bitbucket PR trigger), Schedule, Manual).
REASONS: dict[Event, tuple[str, ...]] = {
    "push": ("IndividualCI", "BatchedCI"),
    "pull_request": ("PullRequest",),
    "schedule": ("Schedule",),
    "manual": ("Manual",),
}
ROLLBACK_VAR = "MLGEN_ROLLBACK"  # "none", or the environment a person chose to roll back
NO_ROLLBACK = "none"
DRIFT_STEP = "mlgen_drift"  # the monitor's step that publishes its verdict as an output variable
DRIFT_VAR = "drifted"
OK_RESULTS = "'Succeeded', 'SucceededWithIssues'"


def configured_events(triggers: Triggers) -> tuple[Event, ...]:
    on: list[Event] = []
    if triggers.manual:
        on.append("manual")
    if triggers.pull_requests:
        on.append("pull_request")
    on.append("push")
    if triggers.schedules:
        on.append("schedule")
    return tuple(on)


def job_events(job: Job, triggers: Triggers) -> tuple[Event, ...]:
    """The job's events that the pipeline listens to; deploys never run for PRs."""
    configured = configured_events(triggers)
    return tuple(e for e in job.events if e in configured and not (job.default_branch_only and e == "pull_request"))


def reason_is(events: tuple[Event, ...]) -> str:
    reasons = [quote(r) for e in events for r in REASONS[e]]
    if len(reasons) == 1:
        return f"eq(variables['Build.Reason'], {reasons[0]})"
    return f"in(variables['Build.Reason'], {', '.join(reasons)})"


def default_branch_is(triggers: Triggers) -> str:
    return f"eq(variables['Build.SourceBranch'], {quote('refs/heads/' + triggers.default_branch)})"


def rollback_is(value: str) -> str:
    return f"eq(variables['{ROLLBACK_VAR}'], {quote(value)})"


def all_of(clauses: list[str]) -> str:
    return clauses[0] if len(clauses) == 1 else f"and({', '.join(clauses)})"


def event_clauses(job: Job, plan: Plan) -> list[str] | None:
    """What the job's events require of the run ([] = nothing), None when it never runs."""
    events = job_events(job, plan.triggers)
    if not events:
        return None
    clauses: list[str] = []
    if set(events) != set(configured_events(plan.triggers)):
        clauses.append(reason_is(events))
    if job.default_branch_only:
        clauses.append(default_branch_is(plan.triggers))
    if plan.rollback_jobs:
        clauses.append(rollback_is(NO_ROLLBACK))  # a rollback run runs only its rollback stage
    return clauses


def drift_output() -> str:
    """The monitor's verdict, read by a later stage (`<stage>.outputs['<job>.<step>.<var>']`)."""
    m = stage_id(MONITOR_JOB)
    return f"dependencies.{m}.outputs['{m}.{DRIFT_STEP}.{DRIFT_VAR}']"


def drift_clause(job: Job, plan: Plan) -> str:
    clauses = [reason_is(("schedule",)), f"eq({drift_output()}, 'true')"]
    if job.default_branch_only:
        clauses.append(default_branch_is(plan.triggers))
    return all_of(clauses)


def rollback_condition(job: Job, plan: Plan) -> str:
    assert job.environment is not None
    return all_of([reason_is(("manual",)), rollback_is(job.environment.name), default_branch_is(plan.triggers)])


def stage_condition(job: Job, plan: Plan) -> str | None:
    """The stage's `condition:`, None for Azure's default (every dependency succeeded, any run).

    A stage below the monitor cannot keep the default: the monitor is skipped on pushes and pull
    requests, and a skipped dependency skips what depends on it. Such a stage states what must
    hold instead, as the GitHub backend does: not cancelled, no dependency failed, each stage it
    needs succeeded (the monitor aside for a retraining job, which only reads its verdict), and
    its events - or, for a retraining job, a scheduled run whose monitor found drift."""
    if "rollback" in job.events:
        return rollback_condition(job, plan)
    usual = event_clauses(job, plan)
    if job.name not in plan.descendants(MONITOR_JOB):
        if usual is None:
            return "false"
        return all_of(["succeeded()", *usual]) if usual else None
    when: str | None
    if job.on_drift and MONITOR_JOB in job.needs:
        drift = drift_clause(job, plan)
        if usual is None:
            when = drift
        else:
            base = [c for c in usual if not c.startswith("eq(variables['MLGEN_ROLLBACK']")]
            when = f"or({all_of(base)}, {drift})" if base else None
            if plan.rollback_jobs:
                when = all_of([rollback_is(NO_ROLLBACK), when]) if when else rollback_is(NO_ROLLBACK)
    elif usual is None:
        return "false"
    else:
        when = all_of(usual) if usual else None
    clauses = ["not(canceled())", "not(failed())"]
    clauses += [
        f"in(dependencies.{stage_id(n)}.result, {OK_RESULTS})"
        for n in job.needs if not (job.on_drift and n == MONITOR_JOB)
    ]
    if when is not None:
        clauses.append(when)
    return all_of(clauses)
