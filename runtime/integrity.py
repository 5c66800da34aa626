"""Before any stage runs: the bundled runtime is unmodified and the plan matches the spec.

`mlgen compile` writes `.mlgen/runtime/MANIFEST.json` (sha256 of every bundled file) and puts
the spec's sha256 into the plan. An edited runtime file or a spec changed after the last compile
stops the job with "run mlgen compile", so CI never runs a stale or tampered pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlgen_runtime.context import Context
from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import sha256_file

MANIFEST = "MANIFEST.json"


def bundle_root() -> Path:
    """The folder holding the mlgen_runtime package (".mlgen/runtime" when bundled)."""
    return Path(__file__).resolve().parent.parent


def verify_manifest(root: Path) -> None:
    """Every file listed in MANIFEST.json exists with its hash; no extra .py file sneaked in."""
    manifest_path = root / MANIFEST
    if not manifest_path.exists():
        return  # running from an installed package (development), not from a bundle
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    files: dict[str, str] = manifest["files"]
    for rel, digest in sorted(files.items()):
        path = root / rel
        if not path.is_file():
            raise BadInput(f"bundled runtime file {rel} is missing; run `mlgen compile`")
        if sha256_file(path) != digest:
            raise BadInput(f"bundled runtime file {rel} was modified (sha256 mismatch); run `mlgen compile`")
    extra = sorted(
        p.relative_to(root).as_posix() for p in (root / "mlgen_runtime").rglob("*.py")
    )
    unknown = [p for p in extra if p not in files]
    if unknown:
        raise BadInput(f"unexpected file {unknown[0]} in the bundled runtime; run `mlgen compile`")


def verify_spec(ctx: Context) -> None:
    """The spec file hashes to the value recorded in the plan."""
    spec = ctx.path(ctx.plan["spec_path"])
    if not spec.is_file():
        raise BadInput(f"spec {ctx.plan['spec_path']} not found next to the plan; run `mlgen compile`")
    if sha256_file(spec) != ctx.plan["spec_sha256"]:
        raise BadInput(f"{ctx.plan['spec_path']} changed since the plan was compiled; run `mlgen compile` and commit")


def verify(ctx: Context) -> None:
    verify_manifest(bundle_root())
    verify_spec(ctx)
