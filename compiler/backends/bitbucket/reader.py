"""`bitbucket-pipelines.yml` -> ReadJob per plan job (the inverse used by the parity tests).

A plan job appears in the pipeline of each event it runs on; the first appearance is read, in the
order branches (the default branch first), pull-requests, custom. Script lines ending with MARK
are the backend's own (environment, shard index, skip guards) and are skipped; a `parallel` group
of `<job> shard i/N` steps is one sharded job."""

from __future__ import annotations

import io
from typing import Any

from mlgen.backends.bitbucket.render import MARK, OUTPUT
from mlgen.backends.common import ReadJob


def read(files: dict[str, str]) -> list[ReadJob]:
    doc = load(files[OUTPUT])
    caches = (doc.get("definitions") or {}).get("caches") or {}
    found: dict[str, ReadJob] = {}
    for steps in pipelines(doc.get("pipelines") or {}):
        for name, group in job_steps(steps):
            if name not in found:
                found[name] = read_job(name, group, caches)
    return list(found.values())


def load(text: str) -> dict[str, Any]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(io.StringIO(text))
    if not isinstance(data, dict):
        raise ValueError(f"bitbucket: {OUTPUT} is not a mapping")
    return data


def pipelines(section: dict[str, Any]) -> list[list[Any]]:
    out: list[list[Any]] = list((section.get("branches") or {}).values())
    out += list((section.get("pull-requests") or {}).values())
    out += list((section.get("custom") or {}).values())
    return out


def job_steps(items: list[Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(job name, its steps) per step or parallel group, in file order."""
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for item in items:
        if "step" in item:
            out.append((job_name(item["step"]), [item["step"]]))
        elif "parallel" in item:
            group = item["parallel"]
            steps = [s["step"] for s in (group["steps"] if isinstance(group, dict) else group)]
            names = {job_name(s) for s in steps}
            if len(names) != 1:
                raise ValueError(f"bitbucket: a parallel group of several jobs: {sorted(names)} (mlgen writes shards only)")
            out.append((names.pop(), steps))
    return out


def job_name(step: dict[str, Any]) -> str:
    return str(step["name"]).split(" ", 1)[0]  # `train shard 1/2`: plan job names have no spaces


def read_job(name: str, steps: list[dict[str, Any]], caches: dict[str, Any]) -> ReadJob:
    first = steps[0]
    script = first["script"]
    if not all(isinstance(line, str) for line in script):
        raise ValueError(f"bitbucket: step {name!r}: every script line must be a string")
    upload = ((first.get("artifacts") or {}).get("upload") or [{}])[0]
    return ReadJob(
        name=name,
        needs=None,  # steps run in file order
        commands=tuple(line for line in script if not line.endswith(MARK)),
        shards=len(steps),
        artifact_paths=artifact_paths(upload.get("paths", [])),
        cache_files=stage_cache_files(first.get("caches", []), caches),
    )


def artifact_paths(patterns: list[str]) -> tuple[str, ...]:
    """Each path is written as itself and `<path>/**`; the second is dropped."""
    out: list[str] = []
    for p in patterns:
        if out and p == out[-1].rstrip("/") + "/**":
            continue
        out.append(p)
    return tuple(out)


def stage_cache_files(names: list[str], caches: dict[str, Any]) -> tuple[str, ...]:
    for n in names:
        if not n.startswith("mlgen-uv-"):
            return tuple((caches[n].get("key") or {}).get("files", []))
    return ()
