"""`.gitlab-ci.yml` -> ReadJob per plan job (the inverse used by the parity tests).

The helper jobs the backend adds for retraining (`mlgen-*`) are not plan jobs and are skipped;
the child pipeline files repeat plan jobs and are not read (the parent file has every job)."""

from __future__ import annotations

import io
from typing import Any

from mlgen.backends.common import ReadJob
from mlgen.backends.gitlab.paths import artifact_unescape
from mlgen.backends.gitlab.render import HELPER_PREFIX, OUTPUT, RESERVED_NAMES


def read(files: dict[str, str]) -> list[ReadJob]:
    """Jobs in file order (= plan order): name, sorted needs, script lines, shard count."""
    doc = load(files[OUTPUT])
    return [read_job(name, body) for name, body in doc.items() if is_job(name, body)]


def load(text: str) -> dict[str, Any]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(io.StringIO(text))
    if not isinstance(data, dict):
        raise ValueError(f"gitlab: {OUTPUT} is not a mapping")
    return data


def is_job(name: Any, body: Any) -> bool:
    return (
        isinstance(name, str)
        and name not in RESERVED_NAMES
        and not name.startswith(".")
        and not name.startswith(HELPER_PREFIX)
        and isinstance(body, dict)
        and "script" in body
    )


def read_job(name: str, body: dict[str, Any]) -> ReadJob:
    script = body["script"]
    if not all(isinstance(line, str) for line in script):
        raise ValueError(f"gitlab: job {name!r}: every script line must be a string")
    return ReadJob(
        name=name,
        needs=tuple(sorted(need_name(n) for n in body.get("needs", []))),
        commands=tuple(script),
        shards=shard_count(body.get("parallel")),
        artifact_paths=tuple(artifact_unescape(p) for p in (body.get("artifacts") or {}).get("paths", [])),
        cache_files=stage_cache_files(body.get("cache")),
    )


def stage_cache_files(cache: Any) -> tuple[str, ...]:
    """The files keying the stage cache entry (not uv's download cache, prefix `mlgen-uv-`)."""
    entries = cache if isinstance(cache, list) else [cache] if cache else []
    for entry in entries:
        key = entry.get("key") or {}
        if not str(key.get("prefix", "")).startswith("mlgen-uv-"):
            return tuple(key.get("files", []))
    return ()


def need_name(need: Any) -> str:
    # GitLab accepts both `- job` and `- {job: job, artifacts: ...}`.
    return need if isinstance(need, str) else need["job"]


def shard_count(parallel: Any) -> int:
    if parallel is None:
        return 1
    if isinstance(parallel, int):
        return parallel
    raise ValueError(f"gitlab: unsupported parallel: {parallel!r} (mlgen writes an integer)")
