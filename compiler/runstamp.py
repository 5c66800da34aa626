"""When `mlgen run` may skip its compile step: the stamp `.mlgen/cache/compile.json`.

`mlgen run` compiles first so that the plan it executes matches the spec. Compiling costs more
than a no-op run itself (pydantic, the backends), so after compiling, `run` records a stamp of
everything the compile's result depends on, and the next `run` compiles again only when one of
them changed:

- the spec file (its path and the sha256 of its bytes; the plan records the same hash);
- the toolchain: mlgen's version and the size and mtime of every file of the compiler, the
  packaged schema and the bundled runtime (an upgrade or an edit of mlgen or its runtime), and
  of the libraries whose behaviour reaches the output (pydantic, ruamel.yaml), and the Python version;
- the files the spec checks look at (project.requirements must exist) and the estimator's
  files in the project (the cache keys list them: mlgen_runtime/codefiles.py);
- every generated file as it was left on disk (size, mtime, inode): a file edited, deleted or
  rewritten since - by `mlgen compile` of another spec version, say - means compiling again.

Anything unreadable or unexpected counts as "changed": the stamp only ever saves work, a
stale plan is always recompiled. Only the standard library is imported here.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from importlib import util
from pathlib import Path
from typing import Any

from mlgen_runtime.contract import PLAN_PATH

STAMP = ".mlgen/cache/compile.json"  # under .mlgen/cache/, which the generated .gitignore ignores
FORMAT = 1
PLAN = PLAN_PATH
_SOURCE_SUFFIXES = (".py", ".j2", ".json", ".txt", ".toml")
_LIBRARIES = ("pydantic", "pydantic_core", "ruamel.yaml")  # ruamel: the YAML emitter


def _stat(path: Path | str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _walk(root: str, out: list[str]) -> None:
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name != "__pycache__" and not entry.name.startswith("."):
                _walk(entry.path, out)
        elif entry.name.endswith(_SOURCE_SUFFIXES):
            st = entry.stat()
            out.append(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}")


def _package_dirs(name: str) -> list[str]:
    try:
        spec = util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return sorted(spec.submodule_search_locations)
    return [spec.origin] if spec.origin else []


def toolchain() -> str:
    """A fingerprint of the code that turns a spec into the generated files."""
    import mlgen

    parts = [f"mlgen {mlgen.__version__}", sys.version]
    dirs = [os.path.dirname(mlgen.__file__ or "")]
    dirs += _package_dirs("mlgen.schemas") + _package_dirs("mlgen_runtime")
    files: list[str] = []
    for d in dict.fromkeys(dirs):
        _walk(d, files)
    parts += files
    for lib in _LIBRARIES:
        try:
            spec = util.find_spec(lib)
        except (ImportError, ValueError):
            spec = None
        origin = spec.origin if spec is not None else None
        parts.append(f"{lib}\0{_stat(origin) if origin else None}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _spec_id(spec_file: Path) -> tuple[str, str] | None:
    try:
        raw = spec_file.read_bytes()
    except OSError:
        return None
    return str(spec_file.resolve()), hashlib.sha256(raw).hexdigest()


def _estimator(files: dict[str, str]) -> str | None:
    try:
        return str(json.loads(files[PLAN])["settings"]["train"]["estimator"])
    except (KeyError, ValueError, TypeError):
        return None


def _requirements(files: dict[str, str]) -> list[str]:
    try:
        settings = json.loads(files[PLAN])["settings"]
        return [str(r) for r in settings["project"].get("requirements", [])]
    except (KeyError, ValueError, TypeError, AttributeError):
        return []


def _code(root: Path, files: dict[str, str] | None, estimator: str | None = None) -> list[str]:
    """The estimator's files in the project: the plan's cache keys list them, so a module added
    or removed since the compile means compiling again."""
    from mlgen_runtime.codefiles import code_files

    try:
        if estimator is None and files is not None:
            estimator = str(json.loads(files[PLAN])["settings"]["train"]["estimator"])
    except (KeyError, ValueError, TypeError):
        return []
    return code_files(root, estimator) if estimator else []


def record(spec_file: Path, root: Path, files: dict[str, str]) -> None:
    """After a successful compile into `root` (the spec's folder): write the stamp. Best effort."""
    ident = _spec_id(spec_file)
    if ident is None:
        return
    stats = {rel: _stat(root / rel) for rel in sorted(files)}
    if any(v is None for v in stats.values()):
        return
    stamp: dict[str, Any] = {
        "format": FORMAT,
        "spec": ident[0],
        "spec_sha256": ident[1],
        "toolchain": toolchain(),
        "requires": _requirements(files),
        "estimator": _estimator(files),
        "code": _code(root, files),
        "files": stats,
    }
    path = root / STAMP
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(stamp, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def is_current(spec_file: Path, root: Path) -> bool:
    """True when compiling `spec_file` into `root` would change nothing (see the module doc)."""
    try:
        stamp = json.loads((root / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested too deep
        return False
    if not isinstance(stamp, dict) or stamp.get("format") != FORMAT:
        return False
    files = stamp.get("files")
    if not isinstance(files, dict) or PLAN not in files:
        return False
    ident = _spec_id(spec_file)
    if ident is None or [stamp.get("spec"), stamp.get("spec_sha256")] != list(ident):
        return False
    for rel, recorded in files.items():
        if _stat(root / rel) != recorded:
            return False
    requires = stamp.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        return False  # a stamp of another shape: compile again
    for rel in requires:
        if not (root / rel).is_file():
            return False
    estimator = stamp.get("estimator")
    if isinstance(estimator, str) and _code(root, None, estimator) != stamp.get("code"):
        return False
    return stamp.get("toolchain") == toolchain()
