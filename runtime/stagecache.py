"""Skip a stage whose inputs did not change: the CI-side stage cache.

Before validate/train/select/evaluate run, the runtime hashes everything the stage depends on:
its plan entry, the spec settings, the runtime manifest, the data files it reads, the
estimator's code when it lives in the project (train/select/evaluate), the artifacts it consumes and (for evaluate) the registry's aliases, i.e. the champion. If `.mlgen/cache/<name>/`
holds outputs saved under the same key, they are restored and the stage is skipped. Providers
only persist that folder (GitHub actions/cache, GitLab cache:); validity is decided here, so a
restored cache from an older run can never be used for different inputs.
Only successful runs are saved. MLGEN_NO_CACHE=1 disables the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlgen_runtime.codefiles import CODE_KINDS, code_files
from mlgen_runtime.context import Context
from mlgen_runtime.fsutil import sha256_file, write_text_atomic

CACHE_DIR = ".mlgen/cache"
KEY_FILE = "key"
OUT = "out"


def _tree(root: Path, rel: str) -> str:
    path = root / rel
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        return "missing"
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + sha256_file(p).encode() + b"\0")
    return h.hexdigest()


def _reads(ctx: Context, job: dict[str, Any]) -> list[str]:
    data = ctx.settings["data"]
    reads = [data["path"]]
    if job["kind"] == "validate" and data.get("reference"):
        reads.append(data["reference"])
    return reads


def _registry_state(ctx: Context) -> str:
    """The champion (the last environment's version): evaluate compares with it, so it is an input."""
    from mlgen_runtime.registry import Registry

    try:
        reg = Registry.open(ctx)
    except Exception as exc:  # an unusable registry makes evaluate fail on its own, loudly
        return f"unusable:{type(exc).__name__}"
    envs = ctx.settings["deploy"]["environments"] if reg else []
    return str(reg.alias(envs[-1]["name"])) if reg and envs else "none"


def stage_key(ctx: Context, job: dict[str, Any], extra: str = "") -> str:
    h = hashlib.sha256()
    h.update(json.dumps(job, sort_keys=True).encode())
    h.update(json.dumps(ctx.settings, sort_keys=True).encode())
    manifest = Path(__file__).resolve().parent.parent / "MANIFEST.json"
    h.update(sha256_file(manifest).encode() if manifest.exists() else b"unbundled")
    for rel in _reads(ctx, job):
        h.update(f"in:{rel}:{_tree(ctx.root, rel)}".encode())
    jobs = {j["name"]: j for j in ctx.plan["jobs"]}
    for producer in job["consumes"]:
        if jobs[producer]["kind"] == "custom":
            continue  # a custom stage's artifact only brings data files, hashed above by name
        for rel in (jobs[producer].get("produces") or {}).get("paths", []):
            h.update(f"art:{rel}:{_tree(ctx.root, rel)}".encode())
    if job["kind"] in CODE_KINDS:  # an edit of the estimator's module retrains
        for rel in code_files(ctx.root, ctx.settings["train"]["estimator"]):
            h.update(os.fsencode(f"code:{rel}:{_tree(ctx.root, rel)}"))
    if job["kind"] == "evaluate":
        h.update(f"champion:{_registry_state(ctx)}".encode())
    h.update(extra.encode())
    return h.hexdigest()


class StageCache:
    def __init__(self, ctx: Context, name: str, outputs: list[str], key: str) -> None:
        self.ctx, self.outputs, self.key = ctx, outputs, key
        self.dir = ctx.root / CACHE_DIR / name

    @staticmethod
    def enabled() -> bool:
        return os.environ.get("MLGEN_NO_CACHE", "") not in ("1", "true", "yes")

    def restore(self) -> bool:
        """Put the saved outputs back if they were saved under this key."""
        key_file = self.dir / KEY_FILE
        if not key_file.is_file() or key_file.read_text().strip() != self.key:
            return False
        saved = self.dir / OUT
        if not all((saved / rel).exists() for rel in self.outputs):
            return False
        for rel in self.outputs:
            _replace(saved / rel, self.ctx.root / rel)
        return True

    def save(self) -> None:
        """Keep copies of the outputs under the key (atomically: a temp dir, then a rename)."""
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.dir.name}.", dir=self.dir.parent))
        try:
            for rel in self.outputs:
                src = self.ctx.root / rel
                if src.exists():
                    _replace(src, tmp / OUT / rel)
            write_text_atomic(tmp / KEY_FILE, self.key + "\n")
            old = self.dir.with_name(self.dir.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.dir.exists():
                os.replace(self.dir, old)
            os.replace(tmp, self.dir)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _replace(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_dir():
        shutil.rmtree(dst)
    elif dst.exists():
        dst.unlink()
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy2(src, dst)


def for_stage(ctx: Context, stage: str, shard: tuple[int, int] | None) -> StageCache | None:
    """The cache of this invocation, or None when the stage is not cached."""
    if not StageCache.enabled():
        return None
    job = ctx.job(stage)
    if job is None or not job.get("cache") or job.get("environment"):
        return None
    outputs = list((job.get("produces") or {}).get("paths", []))
    name = job["cache"]
    extra = ""
    if shard is not None:
        i, n = shard
        name = f"{name}-shard-{i}"
        outputs = [f"{p}/shard-{i}-of-{n}.json" for p in outputs]
        extra = f"shard:{i}/{n}"
    if not outputs:
        return None
    return StageCache(ctx, name, outputs, stage_key(ctx, job, extra))
