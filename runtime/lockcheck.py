"""`python -m mlgen_runtime.lockcheck`: fail a job before it installs anything when mlgen.lock
is stale (its recorded inputs hash differs from the inputs now in the repository).

Stdlib only: it runs before any package is installed. `mlgen lock` and `mlgen compile` use the
same `inputs_sha256`, so the compiler, `compile --check` and CI agree on what "stale" means.
Exit codes: 0 current, 1 stale, 2 a file it needs is missing or unreadable."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

LOCK_NAME = "mlgen.lock"
INPUTS_PATH = ".mlgen/install/inputs.json"  # written by `mlgen compile` when the spec is locked
HASH_LINE = re.compile(r"^# inputs-sha256: ([0-9a-f]{64})$", re.M)


def inputs_sha256(python: str, platform: str, roots: list[str], files: dict[str, bytes]) -> str:
    """The lock's inputs as one hash: the target, the root requirements and each project
    requirements file's bytes (by path), in a canonical JSON form."""
    doc = {
        "python": python,
        "platform": platform,
        "roots": sorted(roots),
        "files": {p: hashlib.sha256(b).hexdigest() for p, b in sorted(files.items())},
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def recorded_sha256(lock_text: str) -> str | None:
    """The inputs hash in the lock's header, None when the header has none."""
    m = HASH_LINE.search(lock_text)
    return m.group(1) if m else None


def stale_reason(root: Path, inputs_text: str) -> str | None:
    """Why the lock named by INPUTS_PATH's content is stale, None when it is current."""
    inputs = json.loads(inputs_text)
    lock = root / inputs["lock"]
    files = {p: (root / p).read_bytes() for p in inputs["requirements"]}
    now = inputs_sha256(inputs["python"], inputs["platform"], inputs["roots"], files)
    recorded = recorded_sha256(lock.read_text(encoding="utf-8"))
    if recorded == now:
        return None
    return f"{inputs['lock']} is stale (its inputs changed since it was written); run `mlgen lock` and commit it"


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0] if argv else ".")
    try:
        reason = stale_reason(root, (root / INPUTS_PATH).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        print(f"mlgen: cannot check the lock: {exc}", file=sys.stderr)
        return 2
    if reason:
        print(f"mlgen: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
