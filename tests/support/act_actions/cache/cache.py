"""Stand-in for actions/cache, actions/cache/restore and actions/cache/save (tests only).

    python3 cache.py restore|save|post

Inputs come as INPUT_<NAME> variables (act sets them for the node24 action; the composite
halves set them the same way), outputs go to GITHUB_OUTPUT, the main step's key and match to
GITHUB_STATE for the post step (which act hands back as STATE_<name>). The store is the folder
ACT_STANDIN_CACHES: one folder per entry, holding meta.json and the saved paths.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path


def inp(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper()}", default).strip()


def lines(name: str) -> list[str]:
    return [ln.strip() for ln in inp(name).splitlines() if ln.strip()]


def emit(path_var: str, **values: str) -> None:
    with open(os.environ[path_var], "a", encoding="utf-8") as f:
        for k, v in values.items():
            f.write(f"{k}={v}\n")


def store() -> Path:
    root = Path(os.environ["ACT_STANDIN_CACHES"])
    root.mkdir(parents=True, exist_ok=True)
    return root


def version(paths: list[str]) -> str:
    # GitHub versions an entry by its paths (and compression): another path list never matches
    return hashlib.sha256("\n".join(paths).encode()).hexdigest()


def scopes() -> list[str]:
    """Refs whose entries this run may read: its own, a PR's base branch, the default branch."""
    refs = [os.environ.get("GITHUB_REF", "")]
    if os.environ.get("GITHUB_BASE_REF"):
        refs.append("refs/heads/" + os.environ["GITHUB_BASE_REF"])
    try:
        event = json.loads(Path(os.environ["GITHUB_EVENT_PATH"]).read_text(encoding="utf-8"))
        default = (event.get("repository") or {}).get("default_branch") or "main"
    except (KeyError, OSError, ValueError):
        default = "main"
    refs.append("refs/heads/" + default)
    return list(dict.fromkeys(refs))


def entries() -> list[tuple[dict[str, str], Path]]:
    """Every entry, newest first."""
    found = []
    for d in store().iterdir():
        meta = d / "meta.json"
        if meta.is_file():
            found.append((json.loads(meta.read_text(encoding="utf-8")), d))
    return sorted(found, key=lambda e: -int(e[0]["created"]))


def lookup(key: str, restore_keys: list[str], paths: list[str]) -> tuple[dict[str, str], Path] | None:
    ver = version(paths)
    for ref in scopes():  # the run's own ref first, then the fallbacks
        mine = [e for e in entries() if e[0]["ref"] == ref and e[0]["version"] == ver]
        for e in mine:
            if e[0]["key"] == key:
                return e
        for prefix in [key, *restore_keys]:
            for e in mine:
                if e[0]["key"].startswith(prefix):
                    return e
    return None


def workspace() -> Path:
    return Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())


def restore(split: bool) -> int:
    key, paths = inp("key"), lines("path")
    if not key or not paths:
        print("::error::Input required and not supplied: " + ("key" if not key else "path"))
        return 1
    hit = lookup(key, lines("restore-keys"), paths)
    matched = hit[0]["key"] if hit else ""
    exact = "true" if matched == key else "false"
    if hit and inp("lookup-only", "false") != "true":
        shutil.copytree(hit[1] / "files", workspace(), dirs_exist_ok=True, symlinks=True)
        print(f"Cache restored from key: {matched}")
    elif hit:
        print(f"Cache found and can be restored from key: {matched}")
    else:
        print(f"Cache not found for input keys: {', '.join([key, *lines('restore-keys')])}")
        if inp("fail-on-cache-miss", "false") == "true":
            print(f"::error::Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: {key}")
            return 1
    if split:  # actions/cache/restore's outputs
        emit("GITHUB_OUTPUT", **{"cache-hit": exact, "cache-primary-key": key, "cache-matched-key": matched})
    else:  # actions/cache's one output; the post step reads the state
        emit("GITHUB_OUTPUT", **{"cache-hit": exact})
        emit("GITHUB_STATE", CACHE_KEY=key, CACHE_RESULT=matched)
    return 0


def save(key: str, paths: list[str]) -> int:
    if not key:
        print("::error::Input required and not supplied: key")
        return 1
    ref, ver = os.environ.get("GITHUB_REF", ""), version(paths)
    if any(m["key"] == key and m["ref"] == ref and m["version"] == ver for m, _ in entries()):
        # entries are immutable: GitHub refuses to reserve the key again (a warning, not a failure)
        print(f"::warning::Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache.")
        return 0
    ws = workspace()
    files = [p for pat in paths for p in sorted(ws.glob(pat))]
    if not files:
        print("::warning::Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.")
        return 0
    entry = store() / f"{time.time_ns()}-{os.getpid()}"
    for p in files:
        dest = entry / "files" / p.relative_to(ws)
        if p.is_dir():
            shutil.copytree(p, dest, symlinks=True, dirs_exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, dest)
    meta = {"key": key, "ref": ref, "version": ver, "created": str(time.time_ns())}
    (entry / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    print(f"Cache saved with key: {key}")
    return 0


def post() -> int:
    key, matched = os.environ.get("STATE_CACHE_KEY", ""), os.environ.get("STATE_CACHE_RESULT", "")
    if not key:
        print("Cache not saved: the restore step recorded no key")
        return 0
    if matched == key:
        print(f"Cache hit occurred on the primary key {key}, not saving cache.")
        return 0
    return save(key, lines("path"))


def main(argv: list[str]) -> int:
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "restore":
        return restore(split=False)
    if mode == "restore-split":
        return restore(split=True)
    if mode == "save":
        return save(inp("key"), lines("path"))
    if mode == "post":
        return post()
    print(f"::error::cache.py: unknown mode {mode!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
