"""`.github/workflows/mlgen.yml` -> ReadJob per job, for the cross-provider parity tests."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

from mlgen.backends.common import ReadJob

from .render import WORKFLOW_PATH


def read(files: dict[str, str]) -> list[ReadJob]:
    doc = YAML(typ="rt", pure=True).load(files[WORKFLOW_PATH])
    return [read_job(str(name), job) for name, job in doc["jobs"].items()]


def read_job(name: str, job: dict[str, Any]) -> ReadJob:
    needs = job.get("needs", [])
    if isinstance(needs, str):
        needs = [needs]
    return ReadJob(
        name=name,
        needs=tuple(sorted(str(n) for n in needs)),
        commands=tuple(str(s["run"]) for s in job.get("steps", []) if "run" in s),
        shards=shard_count(job),
    )


def shard_count(job: dict[str, Any]) -> int:
    shards = job.get("strategy", {}).get("matrix", {}).get("shard")
    return len(shards) if shards else 1
