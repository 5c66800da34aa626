"""The generated workflows -> ReadJob per plan job, for the cross-provider parity tests.

Helper jobs and steps (ids starting with `mlgen-`: drift output, job summary, PR comment) are
provider mechanics, not plan commands, and are skipped."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

from mlgen.backends.common import ReadJob

from .render import ROLLBACK_PATH, WORKFLOW_PATH
from .steps import HELPER_PREFIX


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
    )


def shard_count(job: dict[str, Any]) -> int:
    shards = job.get("strategy", {}).get("matrix", {}).get("shard")
    return len(shards) if shards else 1
