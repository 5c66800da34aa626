"""Skip a stage whose inputs did not change: the CI-side stage cache.

Before a stage with `Job.cache` (validate/train/select/evaluate) runs, the runtime computes the
job's key (stagekey.py, the one key `mlgen run` uses too): its plan entry, the spec settings,
the runtime manifest, the data it reads, the estimator's code, the artifacts it consumes and
(for evaluate) the champion. If `.mlgen/cache/<name>/` holds outputs saved under the same key,
they are restored and the stage is skipped. Providers only persist that folder (GitHub
actions/cache, GitLab cache:); validity is decided here, so a restored cache from an older run
can never be used for different inputs.
Only successful runs are saved. MLGEN_NO_CACHE=1 disables the cache.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from mlgen_runtime import stagekey
from mlgen_runtime.context import Context
from mlgen_runtime.contract import CACHE_DIR, MANIFEST
from mlgen_runtime.fsutil import write_text_atomic
from mlgen_runtime.integrity import bundle_root

KEY_FILE = "key"
OUT = "out"


def key_of(ctx: Context, name: str) -> str | None:
    """The stage-cache key of job `name` (stagekey.job_key, asking an MLflow registry for the
    champion: this process runs the stage anyway)."""
    job = ctx.job(name)
    if job is None:
        return None
    return stagekey.job_key(ctx.plan, ctx.root, job, manifest=bundle_root() / MANIFEST, ask_registry=True)


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
    if job is None or job.cache is None or not job.cacheable or job.produces is None:
        return None
    outputs = list(job.produces.paths)
    name = job.cache
    if shard is not None:
        i, n = shard
        name = f"{name}-shard-{i}"
        outputs = [f"{p}/shard-{i}-of-{n}.json" for p in outputs]
    key = key_of(ctx, stage)
    if not outputs or key is None:
        return None
    return StageCache(ctx, name, outputs, key if shard is None else stagekey.shard_key(key, *shard))
