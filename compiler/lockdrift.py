"""`mlgen run`'s check of the local environment against mlgen.lock: a model trained here with
another scikit-learn / numpy / scipy / estimator package than CI's is another model, so the
run warns once, naming local and locked versions (read with importlib.metadata, nothing is
imported), in the interpreter the jobs' `python` resolves to."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

MODEL_PACKAGES = ("numpy", "scikit-learn", "scipy")
_PROBE = """
import importlib.metadata as md, json, sys
mods, dists = json.loads(sys.argv[1])
top = md.packages_distributions()
names = set(dists) | {d for m in mods for d in top.get(m, [])}
out = {}
for n in sorted(names):
    try:
        out[n] = md.version(n)
    except md.PackageNotFoundError:
        pass
print(json.dumps(out))
"""


def local_versions(python: str, modules: list[str], dists: list[str]) -> dict[str, str]:
    """{normalized distribution: version} in `python` for `dists` and the distributions of the
    top-level `modules`; {} when the interpreter cannot be asked."""
    from mlgen.lockfile import normalize

    try:
        res = subprocess.run([python, "-c", _PROBE, json.dumps([modules, dists])],
                             capture_output=True, text=True, timeout=60)
        found = json.loads(res.stdout) if res.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return {}
    return {normalize(k): v for k, v in found.items()}


def drift_warning(root: Path, settings: dict[str, Any], python: str) -> str | None:
    """One line naming every model-changing package whose local version differs from the lock's,
    None without a lock or without a difference."""
    from mlgen.lockfile import locked_versions
    from mlgen_runtime.lockcheck import LOCK_NAME

    try:
        locked = locked_versions((root / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    estimator = str(settings.get("train", {}).get("estimator") or "").split(".")[0]
    local = local_versions(python, [estimator] if estimator else [], list(MODEL_PACKAGES))
    wanted = set(MODEL_PACKAGES) | {d for d in local if d not in MODEL_PACKAGES}
    diffs = [f"{d} {local.get(d, 'not installed')} (locked {locked[d]})"
             for d in sorted(wanted) if d in locked and local.get(d) != locked[d]]
    if not diffs:
        return None
    return (f"this environment differs from {LOCK_NAME} in packages that change models: "
            f"{', '.join(diffs)}; CI trains with the locked versions")
