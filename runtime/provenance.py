"""Where a model came from: library versions, the git commit, the data and its split.

No timestamps: the same code, data and seed give the same metadata.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# What each CI provider calls the commit it builds and the person who started the build (GitHub,
# GitLab, Jenkins; then the login of a local run). Another provider needs no entry: the commit
# falls back to `git rev-parse HEAD`, the actor to the login.
COMMIT_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT")
ACTOR_VARIABLES = ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILD_USER_ID", "USER", "USERNAME")


def versions() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn
    import skops

    import mlgen_runtime

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "mlgen_runtime": mlgen_runtime.__version__,
    }


def git_commit(root: Path, env: dict[str, str] | None = None) -> str | None:
    """The commit being built: the CI's variable, else `git rev-parse HEAD`, else None."""
    env = os.environ if env is None else env
    for name in COMMIT_VARIABLES:
        if env.get(name):
            return env[name]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None


def data(settings: dict[str, Any], data_sha256: str, frame: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame,
         how: dict[str, Any] | None = None, missing_target_rows: int = 0) -> dict[str, Any]:
    """The data file, its hash, the hashes of both halves of the shared split and how it was
    made (`how`: data.Split.how: random or grouped, stratified or not, the group or time column,
    the time cutoff); `rows` counts the rows with a target, `missing_target_rows` those without."""
    from mlgen_runtime.data import frame_hash

    rel = settings["data"]["path"]
    return {
        "path": rel,
        "sha256": data_sha256,
        "rows": len(frame),
        "seed": int(settings["project"]["seed"]),
        "test_size": settings["data"]["test_size"],
        "missing_target_rows": missing_target_rows,
        "split": how or {},
        "train": {"rows": len(train), "hash": frame_hash(train)},
        "test": {"rows": len(test), "hash": frame_hash(test)},
    }
