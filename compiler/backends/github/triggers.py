"""Plan events -> the workflow's `on:` block and each job's `if:` condition."""

from __future__ import annotations

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mlgen.plan.ir import Event, Job, Triggers

from .values import checked, user_str

# Plan event -> `github.event_name`. pull_request (never pull_request_target: that runs
# with a write token and secrets on code from forks).
EVENT_NAMES: dict[Event, str] = {
    "manual": "workflow_dispatch",
    "pull_request": "pull_request",
    "push": "push",
    "schedule": "schedule",
}


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


def _quote(s: str) -> str:
    """A string literal in a GitHub expression: single quotes, doubled inside."""
    return "'" + s.replace("'", "''") + "'"


def job_events(job: Job, triggers: Triggers) -> tuple[Event, ...]:
    """The job's events that the workflow actually listens to; deploys never run for PRs."""
    configured = configured_events(triggers)
    return tuple(
        e for e in job.events
        if e in configured and not (job.default_branch_only and e == "pull_request")
    )


def job_condition(job: Job, triggers: Triggers) -> str | bool | None:
    """The job's `if:`, or None when it runs on every configured event on every branch.

    Written without `${{ }}` (GitHub's `if:` is an expression already); it starts with `github.`
    or `(`, so it never reads as a YAML boolean or number.
    """
    events = job_events(job, triggers)
    if not events:
        return False  # none of its events is configured: the job never runs
    clauses: list[str] = []
    if set(events) != set(configured_events(triggers)):
        checks = [f"github.event_name == {_quote(EVENT_NAMES[e])}" for e in events]
        either = " || ".join(checks)
        clauses.append(f"({either})" if len(checks) > 1 and job.default_branch_only else either)
    if job.default_branch_only:
        ref = "refs/heads/" + checked(triggers.default_branch, "branch")
        clauses.append(f"github.ref == {_quote(ref)}")
    return " && ".join(clauses) or None
