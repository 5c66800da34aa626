"""`azure-pipelines.yml` -> ReadJob per plan job (the inverse used by the parity tests).

Helper steps the backend adds (`name: mlgen_*`) are not plan commands and are skipped; stage
ids are mapped back to plan names through their `displayName`."""

from __future__ import annotations

import io
import shlex
from typing import Any

from mlgen.backends.common import ReadJob

from .render import OUTPUT
from .steps import KEY_STEP, STAGE_STEP
from .values import HELPER_PREFIX


def read(files: dict[str, str]) -> list[ReadJob]:
    doc = load(files[OUTPUT])
    stages = doc.get("stages") or []
    names = {s["stage"]: s.get("displayName", s["stage"]) for s in stages}
    return [read_stage(s, names) for s in stages]


def load(text: str) -> dict[str, Any]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(io.StringIO(text))
    if not isinstance(data, dict):
        raise ValueError(f"azure: {OUTPUT} is not a mapping")
    return data


def job_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    if "deployment" in job:
        return job["strategy"]["runOnce"]["deploy"]["steps"]
    return job["steps"]


def read_stage(stage: dict[str, Any], names: dict[str, str]) -> ReadJob:
    (job,) = stage["jobs"]  # one job per stage
    body = job_steps(job)
    commands = tuple(s["script"] for s in body if "script" in s and not str(s.get("name", "")).startswith(HELPER_PREFIX))
    if not all(isinstance(c, str) for c in commands):
        raise ValueError(f"azure: stage {stage['stage']!r}: every script must be a string")
    parallel = (job.get("strategy") or {}).get("parallel", 1) if "job" in job else 1
    return ReadJob(
        name=stage.get("displayName", stage["stage"]),
        needs=tuple(sorted(names[n] for n in stage.get("dependsOn") or [])),
        commands=commands,
        shards=int(parallel),
        artifact_paths=artifact_paths(body),
        cache_files=cache_files(body),
    )


def artifact_paths(body: list[dict[str, Any]]) -> tuple[str, ...]:
    for s in body:
        if s.get("name") == STAGE_STEP:
            line = next(ln for ln in s["script"].splitlines() if ln.startswith("for p in "))
            return tuple(shlex.split(line.removeprefix("for p in ").removesuffix("; do")))
    return ()


def cache_files(body: list[dict[str, Any]]) -> tuple[str, ...]:
    """The files keying the stage cache entry: the ones the key step hashes."""
    for s in body:
        if s.get("name") == KEY_STEP:
            words = shlex.split(s["script"])
            return tuple(words[words.index("--") + 1:words.index(">")])
    return ()
