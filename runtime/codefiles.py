"""The repository code a stage runs: the estimator's own module when it lives in the project.

`train.estimator = "models.forest.MyForest"` imports `models` from the project root (the
runtime runs there, so the root is on sys.path first). Its top-level package's Python files
(or the single module `models.py`) are then part of what train, select and evaluate compute,
and of their cache keys: editing them retrains. The whole top-level package, not only the
named module: a helper module it imports counts too, and a package is the unit that is cheap
and safe to hash. Installed libraries (sklearn, ...) are not in the root and are covered by the
requirements, not here. One rule for both keys: the compiler lists these files in the
generated CI keys (plan/lower.py) and `mlgen run`'s key; the runtime's stage cache
(stagecache.py) reads them again at run time, so a module added since the compile counts too.
Only the standard library: the compile path imports this without pandas or scikit-learn.
"""

from __future__ import annotations

import os
from pathlib import Path

CODE_KINDS = ("train", "select", "evaluate", "scan")  # the stages that import the estimator


def code_files(root: Path, estimator: str) -> list[str]:
    """Root-relative POSIX paths of the estimator's code inside `root`, sorted; [] when it is
    imported from elsewhere (an installed library)."""
    top = estimator.split(".", 1)[0]
    if not top.isidentifier():
        return []
    package = root / top
    if package.is_dir() and not package.is_symlink():
        found = []
        for here, dirs, names in os.walk(package):
            # importable names only (identifiers): what Python can import is code, and a name
            # found on disk reaches the generated cache keys, so nothing else may pass
            dirs[:] = sorted(d for d in dirs if d.isidentifier() and d != "__pycache__")
            found += [Path(here, n).relative_to(root).as_posix() for n in names if _module_name(n)]
        return sorted(found)
    module = root / f"{top}.py"
    return [module.name] if module.is_file() else []


def _module_name(name: str) -> bool:
    return name.endswith(".py") and name[:-3].isidentifier()
