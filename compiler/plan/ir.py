"""The plan (IR): plain frozen dataclasses, no pydantic and no provider words.

A backend reads only these types. Every tuple is already in its final, deterministic order
(jobs topologically, ties by name; sets sorted), so a backend never sorts and two compiles of
the same spec give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FORMAT_VERSION = 1

# Events a job can run on. Providers map them: push -> push / push pipeline / branch build;
# pull_request -> pull_request / merge_request_event / changeRequest(); schedule -> cron;
# manual -> workflow_dispatch / web pipeline / a build started by a user.
# rollback -> a person asks to move an environment back (GitHub: the rollback workflow's
# dispatch; GitLab: a manual job; Jenkins: the MLGEN_ROLLBACK build parameter).
Event = Literal["manual", "pull_request", "push", "rollback", "schedule"]
EVENTS: tuple[Event, ...] = ("manual", "pull_request", "push", "rollback", "schedule")

Approval = Literal["auto", "manual"]

# The runtime module every stage job calls: `python -m mlgen_runtime <stage> --plan PLAN_PATH`.
RUNTIME_MODULE = "mlgen_runtime"
PLAN_PATH = ".mlgen/plan.json"
RUNTIME_DIR = ".mlgen/runtime"

# Sharded jobs read their slice from these variables; each backend sets them from its own
# fan-out mechanism (GitHub matrix, GitLab parallel, Jenkins parallel stages), so the
# commands themselves are identical on every provider. Index is 1-based.
MONITOR_JOB = "monitor"
MONITOR_RESULT = ".mlgen/out/monitor/drifted"  # "true" or "false"
CACHE_DIR = ".mlgen/cache"
ROLLBACK_PREFIX = "rollback-"

SHARD_INDEX_VAR = "MLGEN_SHARD_INDEX"
SHARD_TOTAL_VAR = "MLGEN_SHARD_TOTAL"


@dataclass(frozen=True)
class Environment:
    """A deployment target. `manual` means a person approves before the job runs."""

    name: str
    approval: Approval = "auto"
    url: str | None = None


@dataclass(frozen=True)
class Artifact:
    """Files a job hands to later jobs. `name` is unique in the plan (the producing job's name)."""

    name: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Job:
    """One CI job. `commands` are shell lines run in order, after `Plan.setup`, exactly as written."""

    name: str
    kind: str  # validate | train | select | evaluate | deploy | monitor | custom
    commands: tuple[str, ...]
    needs: tuple[str, ...] = ()  # sorted names of jobs that must finish first
    events: tuple[Event, ...] = ("manual", "pull_request", "push")  # sorted
    default_branch_only: bool = False  # deploys: only on the default branch, never on PRs
    produces: Artifact | None = None
    consumes: tuple[str, ...] = ()  # sorted artifact names; always a subset of `needs`
    environment: Environment | None = None
    shards: int = 1  # > 1: fan out; each shard sees SHARD_INDEX_VAR / SHARD_TOTAL_VAR
    timeout_minutes: int = 30
    # Retraining: in scheduled pipelines this job runs only when the monitor job reported drift
    # (its result file MONITOR_RESULT says "true"). Such a job lists the monitor job in `needs`;
    # on events where the monitor does not run, that need counts as satisfied.
    on_drift: bool = False
    reports: tuple[str, ...] = ()  # JUnit XML files the job writes (shown as test results)
    summary: str | None = None  # a Markdown report for reviewers (step summary, PR/MR comment)
    # The runtime skips the stage when its inputs are unchanged, restoring outputs from
    # CACHE_DIR/<cache>; providers persist that folder between pipelines (never for deploys).
    cache: str | None = None
    # The files the runtime's cache key hashes that exist when a job starts (the plan, the
    # runtime manifest, the data it reads: the DVC pointer for DVC-tracked data): providers
    # key their cache entries on them, so an entry is found for the same inputs.
    cache_inputs: tuple[str, ...] = ()
    # CI secrets each command reads from environment variables of the same name: () when none,
    # else one sorted tuple per command. Providers bind them from their secret stores as narrowly
    # as they can (GitHub: that step only; GitLab / Jenkins: the job), never to the setup step
    # where the provider allows it.
    command_secrets: tuple[tuple[str, ...], ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret some command of the job reads, sorted."""
        return tuple(sorted({s for names in self.command_secrets for s in names}))

    def secrets_of(self, index: int) -> tuple[str, ...]:
        return self.command_secrets[index] if self.command_secrets else ()


@dataclass(frozen=True)
class Triggers:
    branches: tuple[str, ...]  # push builds on these; PRs targeting them; first = default
    pull_requests: bool = True
    schedules: tuple[str, ...] = ()  # 5-field cron expressions, UTC
    manual: bool = True

    @property
    def default_branch(self) -> str:
        return self.branches[0]


@dataclass(frozen=True)
class Plan:
    format_version: int
    spec_path: str  # as shown in headers, relative to the output dir (e.g. "mlproject.toml")
    spec_sha256: str
    project: str
    python: str  # e.g. "3.12"
    setup: tuple[str, ...]  # shell lines every job runs first (install dependencies)
    env: tuple[tuple[str, str], ...]  # pipeline-wide environment, sorted by name
    triggers: Triggers
    jobs: tuple[Job, ...]  # topological order, ties broken by name
    providers: tuple[str, ...]  # sorted
    timeout_minutes: int  # whole-pipeline bound
    artifact_expire_days: int
    # Where a provider scopes secrets by environment (GitHub), the environment of jobs that read
    # secrets but deploy nothing.
    secrets_environment: str | None = None
    # The normalized spec, for the runtime (its only input besides the data). JSON-ready and
    # treated as read-only; backends never look inside it.
    settings: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def review_jobs(self) -> tuple[Job, ...]:
        """The jobs whose summary is the reviewers' report (PR/MR comment), in run order:
        evaluate, then the scan (whose report extends evaluate's). The last one that ran holds
        the fullest report; when evaluate fails, the scan never runs and evaluate's is posted."""
        return tuple(j for kind in ("evaluate", "scan") for j in self.jobs if j.kind == kind and j.summary)

    def job(self, name: str) -> Job:
        for j in self.jobs:
            if j.name == name:
                return j
        raise KeyError(name)
