"""Stand-in for actions/download-artifact (tests only): copy artifacts of this run from
ACT_STANDIN_ARTIFACTS into `path` (default the workspace).

`name`: that one artifact, into `path`. Otherwise every artifact whose name matches `pattern`
(a glob; all of them without one): each into `path/<name>`, or all into `path` with
merge-multiple: true. A missing named artifact fails the step, as the real action does.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import sys
from pathlib import Path


def inp(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper()}", default).strip()


def main() -> int:
    ws = Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
    store = Path(os.environ["ACT_STANDIN_ARTIFACTS"])
    raw = inp("path")
    dest = (ws / os.path.expanduser(raw)) if raw else ws
    name, pattern = inp("name"), inp("pattern")
    available = sorted(p.name for p in store.iterdir() if p.is_dir()) if store.is_dir() else []
    if name:
        if name not in available:
            print(f"::error::Unable to download artifact(s): Artifact not found for name: {name}")
            return 1
        picked, merge = [name], True
    else:
        picked = [a for a in available if not pattern or fnmatch.fnmatchcase(a, pattern)]
        merge = inp("merge-multiple", "false") == "true"
    for art in picked:
        shutil.copytree(store / art, dest if merge else dest / art, dirs_exist_ok=True)
        print(f"Artifact {art} downloaded to {dest if merge else dest / art}")
    if not picked:
        print(f"No artifacts found{' matching ' + pattern if pattern else ''}")
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
        out.write(f"download-path={dest}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
