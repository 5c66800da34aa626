"""The plan (IR): its types and constants live in the runtime's contract module
(mlgen_runtime/contract.py), the one typed contract between compiler, runtime and `mlgen run`.
This module re-exports them so compiler code keeps importing `mlgen.plan.ir`."""

from __future__ import annotations

from mlgen_runtime.contract import (
    CACHE_DIR,
    CACHED_KINDS,
    DO_NOT_EDIT,
    EVENTS,
    FORMAT_VERSION,
    GENERATED_MARKER,
    KINDS,
    MANIFEST,
    MONITOR_JOB,
    MONITOR_RESULT,
    NEVER_SKIPPED,
    OUT_DIR,
    PLAN_PATH,
    REVIEW_KINDS,
    ROLLBACK_PREFIX,
    RUNTIME_DIR,
    RUNTIME_MODULE,
    SHARD_INDEX_VAR,
    SHARD_TOTAL_VAR,
    Approval,
    Artifact,
    Environment,
    Event,
    Job,
    Plan,
    Triggers,
)

__all__ = [
    "CACHE_DIR", "CACHED_KINDS", "DO_NOT_EDIT", "EVENTS", "FORMAT_VERSION", "GENERATED_MARKER", "KINDS",
    "MANIFEST", "MONITOR_JOB", "MONITOR_RESULT", "NEVER_SKIPPED", "OUT_DIR", "PLAN_PATH", "REVIEW_KINDS",
    "ROLLBACK_PREFIX", "RUNTIME_DIR", "RUNTIME_MODULE", "SHARD_INDEX_VAR", "SHARD_TOTAL_VAR", "Approval",
    "Artifact", "Environment", "Event", "Job", "Plan", "Triggers",
]
