"""A file-system model registry: immutable numbered versions, one alias per environment and an
append-only history, changed only under one lock, with every write atomic. (`deploy.registry =
"mlflow+..."` selects the MLflow registry of registry_mlflow.py instead, `s3://`, `gs://` or `az://`
the object-storage registry of registry_object.py; `Registry.open` decides.)

Layout (the folder is `deploy.registry` of the spec, which must lie inside the repository):

    models/
      versions/
        1/                  immutable once visible; files are made read-only
          model.skops       the model (skops, never pickle)
          model.json        metadata from train; its "sha256" is the hash of model.skops
          version.json      {"version", "model_sha256", "files": {name: sha256}, "estimator",
                             "metrics", "commit"}: the hash of every other file in the folder
        2/ ...
      aliases.json          {"production": 1, "staging": 2}: environment -> version
      history.jsonl         one JSON object per promote/rollback, oldest first:
                            {"seq", "action", "env", "from", "to", "reason", "commit", "actor", "time"}
      .staging/             half-built versions of a register in progress; never read
      .lock                 the lock file (fcntl.flock); its content is only the holder's pid
      .gitignore            keeps .lock and .staging/ out of git (the rest may be committed)

Why it is safe:
- Every change (register, promote, rollback) holds the exclusive lock, so changes are serial.
- A version is built in `.staging/` (files copied, hashed, fsynced, version.json written last)
  and appears under `versions/<n>` by one `os.rename`: readers see all of it or none of it.
  A process killed mid-copy leaves only a staging folder, which readers ignore and the next
  locked operation removes (no one else can be writing it: building needs the lock).
- history.jsonl is the log of record; aliases.json is its fold (readers fold the history too).
  A change writes the new aliases.json to a temp file first (a full disk fails there, before
  anything changed), appends the history line (the commit), then renames the temp file into
  place; a failure after the append cuts the line off again, so a change that exits 2 leaves
  no trace. A process killed between the append and the rename leaves the line as the record:
  the next locked operation rewrites aliases.json from the history. A torn last line (no
  newline) is ignored by readers and cut off before the next append.
- No file of the registry is written through a symlink, a FIFO, a hard link or into a folder
  that is a symlink: files are opened with O_NOFOLLOW and checked to be regular with one link
  (fsutil.open_regular), folders are checked not to be links (fsutil.real_dir); anything else
  is refused (BadInput, exit 2) before it is touched.
- Before every load the hashes in version.json are checked, model.json must name the same
  sha256, and the model is loaded with skops' trusted-type list (`modelio.load_model`).
- The registry root, each version folder and each file in it must resolve inside the
  repository (no `..`, no symlinks pointing out).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import (
    CHUNK,
    NotRegular,
    check_regular_or_missing,
    commit_atomic,
    dumps,
    fsync_dir,
    open_regular,
    prepare_atomic,
    read_json,
    read_regular,
    real_dir,
    sha256_file,
    write_all,
    write_bytes_atomic,
)
from mlgen_runtime.lock import DEFAULT_TIMEOUT, FileLock, reason
from mlgen_runtime.modelio import META_FILE, MODEL_FILE, load_model
from mlgen_runtime.provenance import ACTOR_VARIABLES, COMMIT_VARIABLES

VERSION_FILE = "version.json"
ALIASES_FILE = "aliases.json"
HISTORY_FILE = "history.jsonl"
LOCK_FILE = ".lock"
STAGING_DIR = ".staging"
VERSIONS_DIR = "versions"
GITIGNORE = f"# written by mlgen: local lock and half-built versions\n{LOCK_FILE}\n{STAGING_DIR}/\n"

ENV_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
VERSION_NAME = re.compile(r"^[1-9][0-9]*$")
REGISTRY_VAR = "MLGEN_REGISTRY"
MLFLOW_PREFIX = "mlflow+"
OBJECT_SCHEMES = ("s3://", "gs://", "az://")


def is_object_url(setting: str) -> bool:
    """s3://, gs:// or az://: the object-storage registry (registry_object.py)."""
    return setting.startswith(OBJECT_SCHEMES)


class ModelRegistry(Protocol):
    """What deploy.py and evaluate.py use: `Registry` (a folder) and `MlflowRegistry` provide it."""

    def label(self, repo_root: Path) -> str: ...
    def deploy_fields(self, env: str, version: int) -> dict[str, Any]: ...
    def register(self, model_dir: Path, metrics: dict[str, Any] | None = None) -> int: ...
    def promote(self, env: str, version: int, reason: str = "") -> bool: ...
    def rollback(self, env: str, to: int | None = None, reason: str = "") -> int: ...
    def alias(self, env: str) -> int | None: ...
    def aliases(self) -> dict[str, int]: ...
    def history(self) -> list[dict]: ...
    def versions(self) -> list[dict]: ...
    def load(self, version: int, extra_prefixes: tuple[str, ...] = ()) -> tuple[Any, dict]: ...


class Registry:
    """The registry under `root` (relative paths are taken from `repo_root`)."""

    lock_timeout: float = DEFAULT_TIMEOUT

    def __init__(self, root: Path, repo_root: Path) -> None:
        self.repo_root = Path(repo_root).resolve()
        root = Path(root)
        self.root = contained(root if root.is_absolute() else self.repo_root / root, self.repo_root, "registry")
        if self.root == self.repo_root:
            raise BadInput("deploy.registry must be a folder inside the repository, not its root")

    @classmethod
    def open(cls, ctx: Any) -> ModelRegistry | None:
        """The registry of the spec's [deploy] section; None when the spec has none.

        `mlflow+http(s)://...` and `mlflow+sqlite:///...` select the MLflow registry
        (registry_mlflow.py, which imports mlflow only then); anything else is a folder.

        MLGEN_REGISTRY overrides `deploy.registry`: CI runners start from a fresh checkout, so a
        registry that must outlive the pipeline lives on a persistent volume the runner operator
        mounts (an absolute path), in object storage (`s3://`, `gs://`, `az://`: registry_object.py,
        which imports its filesystem package only then), or in an MLflow server (an `mlflow+` URI).
        The variable is set by them, not by the spec."""
        deploy = ctx.settings.get("deploy")
        if not deploy:
            return None
        override = os.environ.get(REGISTRY_VAR, "").strip()
        setting = override or str(deploy.get("registry") or "models")
        if setting.startswith(MLFLOW_PREFIX):
            from mlgen_runtime.registry_mlflow import MlflowRegistry

            return MlflowRegistry.from_setting(setting, ctx.root, ctx.settings["project"]["name"])
        if is_object_url(setting):
            from mlgen_runtime.registry_object import ObjectRegistry

            return ObjectRegistry(setting)
        if override:
            path = Path(override)
            if not path.is_absolute():
                raise BadInput(f"{REGISTRY_VAR} must be an absolute path, an s3:// gs:// az:// URL or an mlflow+ URI, got {override!r}")
            return cls(path, path.parent)
        return cls(Path(setting), ctx.root)

    def label(self, repo_root: Path) -> str:
        """How messages and deploy-E.json name this registry: its folder, relative when inside the repo."""
        try:
            return self.root.relative_to(Path(repo_root).resolve()).as_posix()
        except ValueError:
            return str(self.root)

    def deploy_fields(self, env: str, version: int) -> dict[str, Any]:
        """Extra fields for deploy-E.json (the MLflow registry adds model URIs)."""
        return {}

    # -- paths ---------------------------------------------------------------------------------

    @property
    def versions_dir(self) -> Path:
        return self.root / VERSIONS_DIR

    @property
    def aliases_path(self) -> Path:
        return self.root / ALIASES_FILE

    @property
    def history_path(self) -> Path:
        return self.root / HISTORY_FILE

    def version_dir(self, version: int) -> Path:
        check_version(version)
        path = self.versions_dir / str(version)
        with self._os_errors("read"):
            real_dir(self.versions_dir)
            real_dir(path)
        return contained(path, self.root, f"registry version {version}")

    def _file(self, folder: Path, name: str) -> Path:
        path = folder / name
        if path.is_symlink():
            raise BadInput(f"{path}: a symlink inside the registry is refused")
        return contained(path, self.root, f"registry file {name}")

    # -- reading (no lock: everything visible is complete) -------------------------------------

    def _numbers(self) -> list[int]:
        with self._os_errors("read"):
            real_dir(self.versions_dir)
            if not self.versions_dir.is_dir():
                return []
            return sorted(int(p.name) for p in self.versions_dir.iterdir() if VERSION_NAME.match(p.name) and p.is_dir())

    def _record(self, version: int) -> dict[str, Any]:
        path = self._file(self.version_dir(version), VERSION_FILE)
        if not path.is_file():
            raise BadInput(f"version {version} is not in the registry {self.root}")
        try:
            record = read_json(path)
        except (OSError, ValueError) as exc:
            raise BadInput(f"{path}: unreadable ({exc})") from None
        if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
            raise BadInput(f"{path}: not a registry version record")
        return record

    def versions(self) -> list[dict]:
        """version.json of every version, oldest first."""
        return [self._record(n) for n in self._numbers()]

    def aliases(self) -> dict[str, int]:
        """environment -> version: the fold of the history, the record every change commits to
        first (aliases.json is written from it; after a crash between the two, readers still
        see what the history says, and the next locked operation rewrites the file)."""
        return fold_aliases(self.history())

    def _alias_file(self) -> dict[str, int] | None:
        """aliases.json as it is on disk; None when missing or not a valid alias map."""
        try:
            raw = read_regular(self.aliases_path)
            data = json.loads(raw) if raw is not None else {}
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in data.values()):
            return None
        return data

    def alias(self, env: str) -> int | None:
        return self.aliases().get(env)

    def history(self) -> list[dict]:
        return parse_history(self._history_bytes(), self.history_path)

    def _history_bytes(self) -> bytes:
        try:
            return read_regular(self.history_path) or b""  # missing: no registry (yet), no history
        except OSError as exc:
            raise BadInput(f"{self.history_path}: unreadable: {reason(exc)}") from None

    def load(self, version: int, extra_prefixes: tuple[str, ...] = ()) -> tuple[Any, dict]:
        """The model of `version` and its model.json, after checking every hash."""
        record = self._record(version)
        folder = self.version_dir(version)
        files: dict[str, str] = record["files"]
        meta_path = self._file(folder, META_FILE)
        with self._os_errors("read"):
            if not meta_path.is_file() or sha256_file(meta_path) != files.get(META_FILE):
                raise BadInput(f"{meta_path}: missing or modified (sha256 differs from {VERSION_FILE})")
            try:
                meta = read_json(meta_path)
            except ValueError as exc:
                raise BadInput(f"{meta_path}: unreadable ({exc})") from None
        sha = files.get(MODEL_FILE)
        if not sha or not isinstance(meta, dict) or meta.get("sha256") != sha or record.get("model_sha256") != sha:
            raise BadInput(f"version {version}: {META_FILE} and {VERSION_FILE} disagree on the model's sha256")
        return load_model(self._file(folder, MODEL_FILE), sha, extra_prefixes), meta

    # -- changing (under the lock) -------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the registry lock for a change. An OSError while creating the folder, taking the
        lock or writing under it (a read-only or full disk, a file where a folder must be, no
        permission) is BadInput naming the path and the system's reason, not a traceback; what
        was half-written is undone by the next locked operation, as after a crash."""
        contained(self.root, self.repo_root, "registry")  # re-checked: a symlink may appear later
        with self._os_errors("change"):
            self.root.mkdir(parents=True, exist_ok=True)
            real_dir(self.root)
            with FileLock(self.root / LOCK_FILE, self.lock_timeout):
                if not os.path.lexists(self.root / ".gitignore"):
                    write_bytes_atomic(self.root / ".gitignore", GITIGNORE.encode())
                self._recover()
                yield

    @contextmanager
    def _os_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            where = exc.filename if exc.filename is not None else self.root
            if isinstance(exc, NotRegular):
                raise BadInput(f"cannot {action} the registry {self.root}: {where} is {exc.strerror}") from None
            raise BadInput(f"cannot {action} the registry {self.root}: {where}: {reason(exc)}") from None

    def _recover(self) -> None:
        """Undo what a killed process left behind; safe because we hold the lock."""
        staging = self.root / STAGING_DIR
        real_dir(staging)  # a symlink here would make the sweep below delete another folder's files
        if staging.is_dir():
            for leftover in staging.iterdir():
                _remove(leftover)
        for leftover in self.root.glob(".*.tmp"):  # an aliases.json write cut short
            leftover.unlink(missing_ok=True)
        self._cut_torn_history()
        expected = fold_aliases(self.history())
        check_regular_or_missing(self.aliases_path)
        if self._alias_file() != expected:
            print(f"registry: {ALIASES_FILE} did not match {HISTORY_FILE}; rewritten from the history", file=sys.stderr)
            write_bytes_atomic(self.aliases_path, dumps(expected).encode())

    def _cut_torn_history(self) -> None:
        raw = self._history_bytes()
        if raw and not raw.endswith(b"\n"):
            self._truncate_history(raw.rfind(b"\n") + 1)

    def _truncate_history(self, size: int) -> None:
        fd = open_regular(self.history_path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)

    def register(self, model_dir: Path, metrics: dict[str, Any] | None = None) -> int:
        """Copy model.skops + model.json into a new version; the same model gives the same version.
        `metrics` (from evaluate) are recorded with a new version for `registry list`."""
        sha = check_model_dir(Path(model_dir))
        with self._locked():
            existing = self._find(sha)
            if existing is not None:
                return existing
            version = self._next_number()
            self._build(version, Path(model_dir), sha, metrics)
        return version

    def _find(self, sha: str) -> int | None:
        return next((n for n in self._numbers() if self._record(n).get("model_sha256") == sha), None)

    def _next_number(self) -> int:
        """One more than any number seen, so a deleted version's number is never reused."""
        seen = set(self._numbers()) | set(self.aliases().values())
        for line in self.history():
            seen.update(v for v in (line.get("from"), line.get("to")) if isinstance(v, int))
        return max(seen, default=0) + 1

    def _build(self, version: int, model_dir: Path, sha: str, metrics: dict[str, Any] | None = None) -> None:
        staging = self.root / STAGING_DIR
        real_dir(staging, create=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"v{version}-", dir=staging))
        try:
            files = {name: _copy_file(model_dir / name, tmp / name) for name in (MODEL_FILE, META_FILE)}
            meta = _checked_copy(tmp, files, sha)
            record = version_record(version, files, meta, metrics)
            _write_new(tmp / VERSION_FILE, dumps(record).encode())
            for path in tmp.iterdir():
                path.chmod(0o444)  # a hint to people and tools: never edit a version in place
            tmp.chmod(0o755)
            fsync_dir(tmp)
            self._publish(tmp, version)
        except BaseException:
            _remove(tmp)
            raise

    def _publish(self, tmp: Path, version: int) -> None:
        """The one step that makes a version visible: rename the complete folder."""
        real_dir(self.versions_dir, create=True)
        dest = self.version_dir(version)
        if dest.exists() or dest.is_symlink():
            raise BadInput(f"{dest} already exists; versions are never overwritten")
        os.rename(tmp, dest)
        fsync_dir(self.versions_dir)

    def promote(self, env: str, version: int, reason: str = "") -> bool:
        """Point `env` at `version`. False (and no history line) when it already points there."""
        check_env(env)
        check_version(version)
        with self._locked():
            self._record(version)  # must exist
            current = fold_aliases(self.history()).get(env)
            if current == version:
                return False
            self._change("promote", env, current, version, reason)
        return True

    def rollback(self, env: str, to: int | None = None, reason: str = "") -> int:
        """Point `env` back at the version it had before the current one (or at `to`, which it
        must have had before); returns the version `env` now points at."""
        check_env(env)
        with self._locked():
            stack = deployed_stack(self.history(), env)
            if not stack:
                raise BadInput(f"environment {env!r} was never promoted; nothing to roll back")
            target = rollback_target(env, stack, to)
            if target == stack[-1]:
                return target  # already there: nothing to write
            self._record(target)  # must still exist
            self._change("rollback", env, stack[-1], target, reason)
        return target

    def _change(self, action: str, env: str, old: int | None, new: int, reason: str) -> None:
        """History and aliases change together or not at all. The new aliases.json is written
        to a temp file first (the step that needs space: a full disk fails here, before
        anything changed); then the history line is appended (the commit: readers fold the
        history); then the temp file is renamed over aliases.json. A failure after the append
        cuts the line off again, so a promote that exits 2 leaves no trace. Only a process
        killed between the append and the rename leaves the line, which is then the record:
        readers already see it, and the next locked operation rewrites aliases.json."""
        history = self.history()
        check_regular_or_missing(self.aliases_path)
        created = not os.path.lexists(self.history_path)
        fd = open_regular(self.history_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:  # one descriptor for the append and its undo: undoing needs no open on a full disk
            size = os.fstat(fd).st_size
            tmp = prepare_atomic(self.aliases_path, dumps({**fold_aliases(history), env: new}).encode())
            try:
                line = history_line(len(history) + 1, action, env, old, new, reason)
                write_all(fd, (json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n").encode())
                os.fsync(fd)
                commit_atomic(tmp, self.aliases_path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                os.ftruncate(fd, size)  # shrinking needs no space
                _fsync_quietly(fd)  # the cut must outlive a power loss as the line would have
                raise
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.root)


# -- pure helpers --------------------------------------------------------------------------------


def contained(path: Path, base: Path, what: str) -> Path:
    """`path` resolved (symlinks followed); BadInput unless it lies inside `base`."""
    resolved = path.resolve()
    if not resolved.is_relative_to(base.resolve()):
        raise BadInput(f"{what} {path} resolves to {resolved}, outside {base}; refusing")
    return resolved


def check_env(env: str) -> None:
    if not isinstance(env, str) or not ENV_PATTERN.match(env):
        raise BadInput(f"environment name {env!r} must match {ENV_PATTERN.pattern}")


def check_version(version: int) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BadInput(f"a registry version is a positive integer, got {version!r}")


def check_model_dir(model_dir: Path) -> str:
    """sha256 of model_dir/model.skops after checking model.json names it and it is skops."""
    model, meta_path = model_dir / MODEL_FILE, model_dir / META_FILE
    for path in (model, meta_path):
        if not path.is_file():
            raise BadInput(f"{path}: not found; run train first")
    try:
        meta = read_json(meta_path)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{meta_path}: unreadable ({exc})") from None
    sha = sha256_file(model)
    if not isinstance(meta, dict) or meta.get("sha256") != sha:
        claimed = meta.get("sha256") if isinstance(meta, dict) else None
        raise BadInput(f"{model}: sha256 {sha[:12]}... does not match {META_FILE} ({str(claimed)[:12]}...); refusing to register")
    if sha not in _SKOPS_CHECKED:  # content-addressed: the same bytes need the (slow) check once
        check_skops(model)
        _SKOPS_CHECKED.add(sha)
    return sha


_SKOPS_CHECKED: set[str] = set()


def check_skops(path: Path) -> None:
    """Refuse a file that is not a skops archive (a pickle, say) without ever unpickling it."""
    from mlgen_runtime.modelio import found_types

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the model file: {exc.strerror or exc}") from None
    try:
        found_types(data, str(path))
    except BadInput:
        raise BadInput(f"{path}: not a skops model file; refusing to register") from None


def version_record(
    version: int, files: dict[str, str], meta: dict[str, Any], metrics: dict[str, Any] | None = None
) -> dict[str, Any]:
    if metrics is None and isinstance(meta.get("metrics"), dict):
        metrics = meta["metrics"]
    return {
        "version": version,
        "model_sha256": files[MODEL_FILE],
        "files": files,
        "estimator": meta.get("estimator"),
        "metrics": metrics,
        "commit": env_value(COMMIT_VARIABLES),
    }


def history_line(seq: int, action: str, env: str, old: int | None, new: int, reason: str) -> dict[str, Any]:
    return {
        "seq": seq,
        "action": action,
        "env": env,
        "from": old,
        "to": new,
        "reason": reason,
        "commit": env_value(COMMIT_VARIABLES),
        "actor": env_value(ACTOR_VARIABLES),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def env_value(names: tuple[str, ...]) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def parse_history(raw: bytes, path: Path) -> list[dict]:
    """Complete lines only: a last line without its newline was never committed."""
    lines = raw.split(b"\n")[:-1]
    out = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict) or not isinstance(entry.get("env"), str) or not isinstance(entry.get("to"), int):
            raise BadInput(f"{path}:{number}: not a history entry; the history is append-only, restore it from git")
        out.append(entry)
    return out


def fold_aliases(history: list[dict]) -> dict[str, int]:
    aliases: dict[str, int] = {}
    for entry in history:
        aliases[entry["env"]] = entry["to"]
    return aliases


def deployed_stack(history: list[dict], env: str) -> list[int]:
    """The versions `env` went through, a rollback popping back to its target. A "sync" (the
    MLflow registry's record of an alias it found moved outside mlgen) pops like a rollback when
    it returns to an earlier version and pushes otherwise: the stack follows the real alias."""
    stack: list[int] = []
    for entry in history:
        if entry["env"] != env:
            continue
        to = entry["to"]
        if entry.get("action") in ("rollback", "sync") and to in stack:
            del stack[len(stack) - stack[::-1].index(to):]
        else:
            stack.append(to)
    return stack


def rollback_target(env: str, stack: list[int], to: int | None) -> int:
    current, earlier = stack[-1], stack[:-1]
    if to is None:
        if not earlier:
            raise BadInput(f"environment {env!r} has no earlier version to roll back to (it is at version {current})")
        return earlier[-1]
    check_version(to)
    if to != current and to not in earlier:
        raise BadInput(
            f"version {to} was never deployed to {env!r} (earlier: {', '.join(map(str, earlier)) or 'none'}); "
            f"use `promote --env {env} --version {to}`"
        )
    return to


# -- file helpers --------------------------------------------------------------------------------


def _copy_file(src: Path, dst: Path) -> str:
    """Copy, fsync and return the sha256 of the bytes actually written."""
    digest = hashlib.sha256()
    with src.open("rb") as fin, dst.open("xb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest()


def _checked_copy(folder: Path, files: dict[str, str], sha: str) -> dict[str, Any]:
    """The copies must be what was checked: the source may have changed while we waited."""
    meta = read_json(folder / META_FILE)
    if files[MODEL_FILE] != sha or not isinstance(meta, dict) or meta.get("sha256") != sha:
        raise BadInput("the model changed while it was being registered; run the stage again")
    return meta


def _fsync_quietly(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError:
        pass


def _write_new(path: Path, data: bytes) -> None:
    with path.open("xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _remove(path: Path) -> None:
    """Remove a staging leftover (read-only files go too: unlinking needs a writable folder)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
