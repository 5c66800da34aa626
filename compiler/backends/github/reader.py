"""The generated workflows -> ReadJob per plan job, for the cross-provider parity tests.

Helper jobs and steps (ids starting with `mlgen-`: drift output, job summary, PR comment) are
provider mechanics, not plan commands, and are skipped."""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml import YAML

from mlgen.backends.common import ReadJob

from .paths import glob_unescape
from .render import ROLLBACK_PATH, WORKFLOW_PATH
from .steps import ARTIFACT_ROOT_ANCHOR, HELPER_PREFIX, REPORTS_ARTIFACT

_HASH_FILES = re.compile(r"hashFiles\((.*)\)")
_EXPR_STRING = re.compile(r"'((?:[^']|'')*)'")


def read(files: dict[str, str]) -> list[ReadJob]:
    jobs: list[ReadJob] = []
    for path in (WORKFLOW_PATH, ROLLBACK_PATH):
        if path not in files:
            continue
        doc = YAML(typ="rt", pure=True).load(files[path])
        jobs += [read_job(str(name), job) for name, job in doc["jobs"].items() if not is_helper(str(name))]
    return jobs


def is_helper(step_or_job_id: Any) -> bool:
    return isinstance(step_or_job_id, str) and step_or_job_id.startswith(HELPER_PREFIX)


def read_job(name: str, job: dict[str, Any]) -> ReadJob:
    needs = job.get("needs", [])
    if isinstance(needs, str):
        needs = [needs]
    return ReadJob(
        name=name,
        needs=tuple(sorted(str(n) for n in needs)),
        commands=tuple(str(s["run"]) for s in job.get("steps", []) if "run" in s and not is_helper(s.get("id"))),
        shards=shard_count(job),
        artifact_paths=artifact_paths(job),
        cache_files=cache_files(job),
    )


def _uses(step: Any, action: str) -> bool:
    return isinstance(step, dict) and str(step.get("uses", "")).startswith(action + "@")


def artifact_paths(job: dict[str, Any]) -> tuple[str, ...]:
    """The plan paths of the job's own artifact upload (not its loose reports)."""
    for step in job.get("steps", []):
        if _uses(step, "actions/upload-artifact") and not str(step["with"]["name"]).startswith(REPORTS_ARTIFACT):
            lines = str(step["with"]["path"]).splitlines()
            return tuple(glob_unescape(line) for line in lines if line and line != ARTIFACT_ROOT_ANCHOR)
    return ()


def cache_files(job: dict[str, Any]) -> tuple[str, ...] | None:
    """(): the stage cache is keyed on the runtime's own key file, on no input file."""
    return ()


def shard_count(job: dict[str, Any]) -> int:
    shards = job.get("strategy", {}).get("matrix", {}).get("shard")
    return len(shards) if shards else 1
