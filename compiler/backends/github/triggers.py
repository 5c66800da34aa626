"""Plan events -> the workflow's `on:` block and each job's `if:` condition."""

from __future__ import annotations

from mlgen.backends.common import release_branches  # noqa: F401  (render imports it here)
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from mlgen_runtime.contract import MONITOR_JOB, Event, Job, Plan, Triggers

from .values import checked, user_str

# Plan event -> `github.event_name`. pull_request (never pull_request_target: that runs
# with a write token and secrets on code from forks). "rollback" has no event here: those jobs
# live in their own workflow (see rollback.py), started by a person through workflow_dispatch.
EVENT_NAMES: dict[Event, str] = {
    "manual": "workflow_dispatch",
    "pull_request": "pull_request",
    "push": "push",
    "schedule": "schedule",
}

# The monitor job's output that says whether the scheduled drift check found drift.
DRIFT_OUTPUT = "drifted"


def configured_events(triggers: Triggers) -> tuple[Event, ...]:
    """The events the workflow listens to, in the plan's (sorted) event order."""
    on: list[Event] = []
    if triggers.manual:
        on.append("manual")
    if triggers.pull_requests:
        on.append("pull_request")
    on.append("push")
    if triggers.schedules:
        on.append("schedule")
    return tuple(on)


def _branches(triggers: Triggers) -> CommentedSeq:
    return CommentedSeq(user_str(b, "branch") for b in triggers.branches)


def on_block(triggers: Triggers) -> CommentedMap:
    on = CommentedMap()
    on["push"] = CommentedMap(branches=_branches(triggers))
    if triggers.pull_requests:
        on["pull_request"] = CommentedMap(branches=_branches(triggers))
    if triggers.schedules:
        on["schedule"] = CommentedSeq(
            CommentedMap(cron=user_str(c, "schedule")) for c in triggers.schedules
        )
    if triggers.manual:
        on["workflow_dispatch"] = None
    return on


def quote(s: str) -> str:
    """A string literal in a GitHub expression: single quotes, doubled inside."""
    return "'" + s.replace("'", "''") + "'"


def default_branch_ref(triggers: Triggers) -> str:
    return f"github.ref == {quote('refs/heads/' + checked(triggers.default_branch, 'branch'))}"


def job_events(job: Job, triggers: Triggers) -> tuple[Event, ...]:
    """The job's events that the workflow actually listens to; deploys never run for PRs."""
    configured = configured_events(triggers)
    return tuple(
        e for e in job.events
        if e in configured and not (job.default_branch_only and e == "pull_request")
    )


def event_condition(job: Job, triggers: Triggers) -> str | bool | None:
    """The job's usual condition: its events (and the default branch for deploys).

    None when it runs on every configured event on every branch, False when on none.
    """
    events = job_events(job, triggers)
    if not events:
        return False  # none of its events is configured: the job never runs
    clauses: list[str] = []
    if set(events) != set(configured_events(triggers)):
        checks = [f"github.event_name == {quote(EVENT_NAMES[e])}" for e in events]
        either = " || ".join(checks)
        clauses.append(f"({either})" if len(checks) > 1 and job.default_branch_only else either)
    if job.default_branch_only:
        clauses.append(default_branch_ref(triggers))
    return " && ".join(clauses) or None


def ancestors(plan: Plan, name: str) -> set[str]:
    needs = {j.name: j.needs for j in plan.jobs}
    seen: set[str] = set()
    todo = list(needs.get(name, ()))
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(needs.get(n, ()))
    return seen


def drift_clause(job: Job, triggers: Triggers) -> str:
    """Scheduled pipelines run a retraining job only when the monitor reported drift."""
    clause = f"github.event_name == 'schedule' && needs.{MONITOR_JOB}.outputs.{DRIFT_OUTPUT} == 'true'"
    if job.default_branch_only:
        clause += " && " + default_branch_ref(triggers)
    return clause


def job_condition(job: Job, plan: Plan) -> str | bool | None:
    """The job's `if:`, or None when it runs on every configured event on every branch.

    Written without `${{ }}` (GitHub's `if:` is an expression already); it starts with `github.`,
    `(` or `!` and goes through `yaml_str`, so it never reads as a YAML boolean, number or tag.

    A job below the monitor cannot keep GitHub's implicit `success()`: the monitor is skipped
    on pushes and pull requests, and a skipped ancestor skips everything under it. Such a job
    states instead what must hold: the run was not cancelled, no ancestor failed (`failure()`
    looks at every ancestor), each job it needs succeeded (the monitor aside for a retraining
    job, which only reads its verdict), and its events - or, for a retraining job, a scheduled
    run whose monitor found drift.
    """
    usual = event_condition(job, plan.triggers)
    if job.name not in plan.descendants(MONITOR_JOB):  # the jobs below the monitor
        return usual
    when: str | bool | None = usual
    if job.on_drift and MONITOR_JOB in job.needs:
        drift = drift_clause(job, plan.triggers)
        if usual is None:
            when = None  # it runs on every event anyway
        elif usual is False:
            when = drift
        else:
            when = f"({usual}) || ({drift})"
    if when is False:
        return False
    clauses = ["!cancelled()", "!failure()"]
    clauses += [
        f"needs.{n}.result == 'success'" for n in job.needs if not (job.on_drift and n == MONITOR_JOB)
    ]
    if when is not None:
        clauses.append(f"({when})")
    return " && ".join(clauses)
