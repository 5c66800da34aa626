"""The one cache key of a job: what decides that its inputs did not change.

Both skip layers ask this module, so they cannot disagree about a job's inputs:
- the runtime's stage cache (stagecache.py), which restores a stage's outputs from
  CACHE_DIR/<name> in CI, where every job starts from a fresh checkout;
- `mlgen run`'s run.json (compiler/localrun.py), which skips the whole job on this machine:
  its `dvc pull`, a custom stage's shell commands and the process start, none of which the
  runtime sees. It passes a stat cache (`file_hash`) so unchanged files are not re-hashed.

The key hashes: the job as plan.json holds it, the plan's settings (the spec), the runtime
manifest, the files the job reads (`Job.reads`, decided in lowering), the artifacts it consumes
(a built-in stage reads only the data files of a custom stage's artifact, hashed by name above),
the estimator's code in the project (codefiles.py) and, for evaluate, the champion it compares
with. A champion that cannot be read cheaply (an MLflow registry, unless `ask_registry`) gives
no key: the job always runs. Only the standard library at import time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlgen_runtime.codefiles import CODE_KINDS, code_files
from mlgen_runtime.contract import Job, Plan, job_dict
from mlgen_runtime.fsutil import sha256_file

FileHash = Callable[[Path], str]
REGISTRY_VAR = "MLGEN_REGISTRY"  # registry.py's override of deploy.registry
MLFLOW_PREFIX = "mlflow+"
OBJECT_SCHEMES = ("s3://", "gs://", "az://")  # registry_object.py: object storage
ALIASES_FILE = "aliases.json"  # the folder registry's environment -> version


def tree_hash(root: Path, rel: str, file_hash: FileHash = sha256_file) -> str:
    """Hash of a file or of every file under a folder ("missing" when absent)."""
    path = root / rel
    if path.is_file():
        return file_hash(path)
    if not path.is_dir():
        return "missing"
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        # fsencode: a name that is not UTF-8 on disk (surrogate-escaped) hashes as its bytes
        h.update(os.fsencode(p.relative_to(root).as_posix()) + b"\0" + file_hash(p).encode() + b"\0")
    return h.hexdigest()


def champion(root: Path, settings: dict[str, Any], ask_registry: bool = False) -> str | None:
    """The version deployed to the last environment (evaluate compares with it): "none" when
    there is none. A folder registry is read from its aliases file; an MLflow or object-storage
    registry is asked only with `ask_registry` (an import and a request), else None: unknown."""
    deploy = settings.get("deploy") or {}
    envs = deploy.get("environments") or []
    if not envs:
        return "none"
    where = os.environ.get(REGISTRY_VAR, "").strip() or str(deploy.get("registry") or "models")
    if where.startswith(MLFLOW_PREFIX) or where.startswith(OBJECT_SCHEMES):
        # a server or a bucket: a request (and an SDK import) only when asked; else unknown
        return _ask_registry(root, settings, envs[-1]["name"]) if ask_registry else None
    try:
        aliases = json.loads((root / where / ALIASES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "none"
    version = aliases.get(envs[-1]["name"]) if isinstance(aliases, dict) else None
    return "none" if version is None else str(version)


def _ask_registry(root: Path, settings: dict[str, Any], env: str) -> str:
    from types import SimpleNamespace

    from mlgen_runtime.registry import Registry

    try:
        reg = Registry.open(SimpleNamespace(settings=settings, root=root))
        return str(reg.alias(env)) if reg else "none"
    except Exception as exc:  # an unusable registry makes evaluate fail on its own, loudly
        return f"unusable:{type(exc).__name__}"


def job_key(plan: Plan, root: Path, job: Job, *, manifest: Path, file_hash: FileHash = sha256_file,
            ask_registry: bool = False) -> str | None:
    """The key of `job`'s inputs under `root`; None when they cannot be known (the job runs).
    `manifest`: the MANIFEST.json of the runtime that runs the job."""
    h = hashlib.sha256()
    h.update(json.dumps(job_dict(job), sort_keys=True).encode())
    h.update(json.dumps(plan.settings, sort_keys=True).encode())
    h.update(file_hash(manifest).encode() if manifest.is_file() else b"unbundled")
    for rel in job.reads:
        h.update(os.fsencode(f"in:{rel}:{tree_hash(root, rel, file_hash)}"))
    jobs = {j.name: j for j in plan.jobs}
    for name in job.consumes:
        producer = jobs[name]
        if producer.produces is None or (job.kind != "custom" and producer.kind == "custom"):
            continue
        for rel in producer.produces.paths:
            h.update(os.fsencode(f"art:{rel}:{tree_hash(root, rel, file_hash)}"))
    if job.kind in CODE_KINDS:  # the estimator's module in the project: an edit retrains
        for rel in code_files(root, plan.settings["train"]["estimator"]):
            h.update(os.fsencode(f"code:{rel}:{tree_hash(root, rel, file_hash)}"))
    if job.kind == "evaluate":
        champ = champion(root, plan.settings, ask_registry)
        if champ is None:
            return None
        if champ != "none" and _is_candidate(root, plan, job, champ):
            champ = "none"  # evaluate.champion: the candidate itself is compared with none
        h.update(f"champion:{champ}".encode())
    return h.hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_candidate(root: Path, plan: Plan, job: Job, version: str) -> bool:
    """The folder registry's `version` holds the very model `job` evaluates (version.json's
    model_sha256 equals the sha256 in the consumed model.json). False whenever that cannot be
    read cheaply (object stores, MLflow, a missing file): then the champion stays in the key."""
    where = os.environ.get(REGISTRY_VAR, "").strip() or str((plan.settings.get("deploy") or {}).get("registry") or "models")
    if where.startswith(MLFLOW_PREFIX) or where.startswith(OBJECT_SCHEMES) or not version.isdigit():
        return False
    record = _read_json(root / where / "versions" / version / "version.json")
    sha = record.get("model_sha256") if isinstance(record, dict) else None
    if not isinstance(sha, str):
        return False
    jobs = {j.name: j for j in plan.jobs}
    for name in job.consumes:
        produces = jobs[name].produces
        for rel in produces.paths if produces is not None else ():
            meta = _read_json(root / rel / "model.json")
            if isinstance(meta, dict) and meta.get("sha256") == sha:
                return True
    return False


def deploy_is_noop(root: Path, plan: Plan, job: Job) -> bool:
    """A deploy job whose environment's alias (the folder registry's aliases.json) already
    points at a version holding the very model it would deploy: running it changes nothing.
    False whenever that cannot be told from files (object stores, MLflow, no alias yet)."""
    if job.kind != "deploy" or job.environment is None:
        return False
    where = os.environ.get(REGISTRY_VAR, "").strip() or str((plan.settings.get("deploy") or {}).get("registry") or "models")
    if where.startswith(MLFLOW_PREFIX) or where.startswith(OBJECT_SCHEMES):
        return False
    aliases = _read_json(root / where / ALIASES_FILE)
    version = aliases.get(job.environment.name) if isinstance(aliases, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        return False
    return _is_candidate(root, plan, job, str(version))


def shard_key(key: str, index: int, total: int) -> str:
    """The key of one shard of a sharded job (each caches its own slice of the outputs)."""
    return hashlib.sha256(f"{key}\0shard:{index}/{total}".encode()).hexdigest()
