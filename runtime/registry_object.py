"""Object storage as the model registry: `deploy.registry = "s3://bucket/prefix"`, `gs://...` or
`az://container/prefix` (or the same in MLGEN_REGISTRY), with the guarantees of the folder
registry (registry.Registry) and no lock service: every change is one conditional create.

Layout under the prefix:

    blobs/<sha256>          payloads (model.skops, model.json), named by the hash of their bytes
    versions/<n>.json       the version record, the same JSON as the folder's version.json
    history/<seq:08d>.json  one history entry per promote/rollback, the same fields as a line
                            of the folder's history.jsonl; seq 1, 2, 3, ... without gaps

Why it is safe:
- Create-if-absent is the only write that matters: fsspec's `pipe_file(..., mode="create")`,
  which s3fs sends as PutObject `If-None-Match: *`, gcsfs as `ifGenerationMatch=0` and adlfs as
  `upload_blob(overwrite=False)`; the store refuses a second create of a key (FileExistsError).
  An object PUT is atomic: a reader sees all of an object or none of it.
- A version becomes visible by one conditional create of versions/<n>.json, after its payloads
  are uploaded and hashed. A writer killed before that leaves only content-addressed blobs, which
  nothing names (harmless; the same bytes uploaded again are the same key). Two writers taking
  the same number: one create wins, the other takes the next number.
- The same model sha registered twice is one version: the lowest-numbered record with that sha
  is the version (two concurrent registers of the same new model may both write a record; both
  return the lower one, and the higher is never listed or returned, like a losing writer).
- Promotion and rollback append history/<seq>.json for seq = one more than the entries read:
  two concurrent changes race for the same key, one wins, the other re-reads and decides again
  (a promote to where the alias already is records nothing). So changes are serial, the history
  is complete and append-only, and aliases are its fold (registry.fold_aliases).
- Before every load the payloads are downloaded to a temporary folder of the job, their sha256
  checked against the record, and the model loaded with skops' trusted types (modelio.load_model).

Credentials are what each SDK reads from the environment (AWS_* and AWS_ENDPOINT_URL for
S3-compatible servers; AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_NAME with a key,
SAS token or identity; GOOGLE_APPLICATION_CREDENTIALS, STORAGE_EMULATOR_HOST), never the URL.
s3fs / gcsfs / adlfs are imported only when such a registry is configured.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlgen_runtime.errors import BadInput
from mlgen_runtime.modelio import META_FILE, MODEL_FILE, load_model
from mlgen_runtime.registry import (
    check_env,
    check_model_dir,
    check_version,
    deployed_stack,
    fold_aliases,
    history_line,
    rollback_target,
    version_record,
)

# Kept equal to compiler/spec/rules.py OBJECT_PATTERN (tests/runtime/test_object_registry.py checks).
OBJECT_URL = re.compile(
    r"(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]|gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]"
    r"|az://[a-z0-9][a-z0-9-]{1,61}[a-z0-9])(/[A-Za-z0-9_.=+-]+)*"
)  # used with fullmatch: `$` would let a trailing newline through
SCHEMES = {"s3": ("s3fs", "s3fs"), "gs": ("gcsfs", "gcsfs"), "az": ("adlfs", "adlfs")}  # scheme -> (module, pip name)
ATTEMPTS = 400  # conditional-create races lost in a row before giving up (16 writers need far fewer)
HISTORY_NAME = re.compile(r"^([0-9]{8})\.json$")
VERSION_NAME = re.compile(r"^([1-9][0-9]*)\.json$")


def check_url(url: str) -> str:
    """The URL, or BadInput: credentials, queries, `..` and odd characters are refused."""
    parts = url.split("://", 1)[-1].split("/")
    if not OBJECT_URL.fullmatch(url) or any(p in (".", "..") for p in parts) or "--" in parts[0] and url.startswith("az://"):
        raise BadInput(
            f"registry URL {safe(url)!r} is not s3://bucket[/prefix], gs://bucket[/prefix] or az://container[/prefix] "
            "(lower-case bucket name, a prefix of letters, digits and `_ . = + -`, no `..`, no credentials or query)"
        )
    return url


def safe(url: str) -> str:
    """The URL without anything between `://` and an `@` (a key:secret someone put there)."""
    return re.sub(r"://[^/]*@", "://***@", url)[:200]


class ObjectRegistry:
    """The registry under `url` (s3://, gs:// or az://)."""

    def __init__(self, url: str) -> None:
        self.url = check_url(url)
        self.scheme, rest = url.split("://", 1)
        self.bucket = rest.split("/", 1)[0]
        self.base = rest.rstrip("/")
        self._fs: Any = None

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def fs(self) -> Any:
        if self._fs is None:
            module, pip_name = SCHEMES[self.scheme]
            try:
                __import__(module)
                import fsspec
            except ImportError:
                raise BadInput(
                    f"the registry {self.url} needs the Python package {pip_name}; install it "
                    f"(pip install {pip_name}, or mlgen's `object-store` extra)"
                ) from None
            with self._errors("open"):
                # a fresh instance without listing caches: other writers change the store
                fs = fsspec.filesystem(self.scheme, skip_instance_cache=True, use_listings_cache=False)
                if not fs.exists(self.bucket):
                    raise BadInput(f"cannot open the registry {self.url}: bucket/container {self.bucket!r} does not exist")
            self._fs = fs
        return self._fs

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Any failure of the store (credentials, access, network) is one BadInput line."""
        try:
            yield
        except (BadInput, FileExistsError):
            raise
        except Exception as exc:  # noqa: BLE001 - the SDKs raise many unrelated types
            raise BadInput(f"cannot {action} the registry {self.url}: {describe(exc)}") from None

    def _key(self, *parts: str) -> str:
        return "/".join((self.base, *parts))

    def _names(self, folder: str) -> list[str]:
        fs = self.fs
        with self._errors("read"):
            fs.invalidate_cache()
            try:
                return [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(self._key(folder), detail=False)]
            except FileNotFoundError:
                return []

    def _read_many(self, keys: list[str]) -> dict[str, bytes]:
        if not keys:
            return {}
        fs = self.fs
        with self._errors("read"):
            got = fs.cat(keys, on_error="raise")
        return {k.split("://", 1)[-1]: v for k, v in got.items()}

    def _create(self, key: str, data: bytes) -> bool:
        """Create `key` if it does not exist; False when it does (another writer was first)."""
        fs = self.fs
        with self._errors("change"):
            try:
                fs.pipe_file(key, data, mode="create")
            except FileExistsError:
                return False
        return True

    # -- ModelRegistry -------------------------------------------------------------------------

    def label(self, repo_root: Path) -> str:
        return self.url

    def deploy_fields(self, env: str, version: int) -> dict[str, Any]:
        return {"version_record": f"{self.url}/versions/{version}.json"}

    def _numbers(self) -> list[int]:
        return sorted(int(m.group(1)) for n in self._names("versions") if (m := VERSION_NAME.match(n)))

    def _records(self) -> list[dict[str, Any]]:
        """Every version record, lowest number first, without the duplicates of a lost race."""
        numbers = self._numbers()
        raw = self._read_many([self._key("versions", f"{n}.json") for n in numbers])
        out, seen = [], set()
        for n in numbers:
            record = parse_record(raw[self._key("versions", f"{n}.json")], f"{self.url}/versions/{n}.json")
            if record["model_sha256"] not in seen:
                seen.add(record["model_sha256"])
                out.append(record)
        return out

    def _record(self, version: int) -> dict[str, Any]:
        check_version(version)
        key = self._key("versions", f"{version}.json")
        fs = self.fs
        with self._errors("read"):
            try:
                raw = fs.cat_file(key)
            except FileNotFoundError:
                raise BadInput(f"version {version} is not in the registry {self.url}") from None
        return parse_record(raw, f"{self.url}/versions/{version}.json")

    def versions(self) -> list[dict]:
        return self._records()

    def history(self) -> list[dict]:
        names = sorted(n for n in self._names("history") if HISTORY_NAME.match(n))
        raw = self._read_many([self._key("history", n) for n in names])
        out = []
        for i, name in enumerate(names, 1):
            where = f"{self.url}/history/{name}"
            try:
                entry = json.loads(raw[self._key("history", name)])
            except ValueError:
                entry = None
            if int(name[:8]) != i or not isinstance(entry, dict) or entry.get("seq") != i \
                    or not isinstance(entry.get("env"), str) or not isinstance(entry.get("to"), int):
                raise BadInput(f"{where}: not history entry {i}; the history is append-only, restore it from a backup")
            out.append(entry)
        return out

    def aliases(self) -> dict[str, int]:
        return fold_aliases(self.history())

    def alias(self, env: str) -> int | None:
        return self.aliases().get(env)

    def load(self, version: int, extra_prefixes: tuple[str, ...] = ()) -> tuple[Any, dict]:
        record = self._record(version)
        files: dict[str, str] = record["files"]
        sha = files.get(MODEL_FILE)
        if not sha or record.get("model_sha256") != sha or not files.get(META_FILE):
            raise BadInput(f"version {version}: its record does not name the model's sha256")
        with tempfile.TemporaryDirectory(prefix="mlgen-registry-") as tmp:
            fs = self.fs
            for name in (MODEL_FILE, META_FILE):
                with self._errors("read"):
                    try:
                        fs.get_file(self._key("blobs", files[name]), str(Path(tmp) / name))
                    except FileNotFoundError:
                        raise BadInput(f"version {version}: {name} is missing from {self.url}/blobs/") from None
                if file_sha(Path(tmp) / name) != files[name]:
                    raise BadInput(f"version {version}: {name} in {self.url} was modified (sha256 differs from its record)")
            try:
                meta = json.loads((Path(tmp) / META_FILE).read_text(encoding="utf-8"))
            except ValueError as exc:
                raise BadInput(f"version {version}: {META_FILE} in {self.url} is unreadable ({exc})") from None
            if not isinstance(meta, dict) or meta.get("sha256") != sha:
                raise BadInput(f"version {version}: {META_FILE} and the record disagree on the model's sha256")
            return load_model(Path(tmp) / MODEL_FILE, sha, extra_prefixes), meta

    def _find(self, sha: str) -> int | None:
        return next((r["version"] for r in self._records() if r["model_sha256"] == sha), None)

    def register(self, model_dir: Path, metrics: dict[str, Any] | None = None) -> int:
        sha = check_model_dir(Path(model_dir))
        existing = self._find(sha)
        if existing is not None:
            return existing
        payload = {name: (Path(model_dir) / name).read_bytes() for name in (MODEL_FILE, META_FILE)}
        files = {name: hashlib.sha256(data).hexdigest() for name, data in payload.items()}
        meta = json.loads(payload[META_FILE])
        if files[MODEL_FILE] != sha or not isinstance(meta, dict) or meta.get("sha256") != sha:
            raise BadInput("the model changed while it was being registered; run the stage again")
        for name, data in payload.items():  # content-addressed: an existing key holds these bytes
            self._create(self._key("blobs", files[name]), data)
        for _ in range(ATTEMPTS):
            number = self._next_number()
            record = version_record(number, files, meta, metrics)
            if self._create(self._key("versions", f"{number}.json"), dumps(record)):
                break
            found = self._find(sha)  # the winner may have registered this very model
            if found is not None:
                return found
            _pause()
        else:
            raise BadInput(f"cannot register in {self.url}: {ATTEMPTS} concurrent writers were first; try again")
        found = self._find(sha)
        return number if found is None else found

    def _next_number(self) -> int:
        seen = set(self._numbers())
        for entry in self.history():
            seen.update(v for v in (entry.get("from"), entry.get("to")) if isinstance(v, int))
        return max(seen, default=0) + 1

    def promote(self, env: str, version: int, reason: str = "") -> bool:
        check_env(env)
        self._record(version)  # must exist
        for _ in range(ATTEMPTS):
            history = self.history()
            current = fold_aliases(history).get(env)
            if current == version:
                return False
            if self._append(history, "promote", env, current, version, reason):
                return True
            _pause()
        raise BadInput(f"cannot promote in {self.url}: {ATTEMPTS} concurrent changes were first; try again")

    def rollback(self, env: str, to: int | None = None, reason: str = "") -> int:
        check_env(env)
        for _ in range(ATTEMPTS):
            history = self.history()
            stack = deployed_stack(history, env)
            if not stack:
                raise BadInput(f"environment {env!r} was never promoted; nothing to roll back")
            target = rollback_target(env, stack, to)
            if target == stack[-1]:
                return target
            self._record(target)  # must still exist
            if self._append(history, "rollback", env, stack[-1], target, reason):
                return target
            _pause()
        raise BadInput(f"cannot roll back in {self.url}: {ATTEMPTS} concurrent changes were first; try again")

    def _append(self, history: list[dict], action: str, env: str, old: int | None, new: int, reason: str) -> bool:
        """Commit one change: the entry after the ones read, or False when another writer took it."""
        seq = len(history) + 1
        line = history_line(seq, action, env, old, new, reason)
        return self._create(self._key("history", f"{seq:08d}.json"), dumps(line))


def parse_record(raw: bytes, where: str) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict) or not isinstance(record.get("model_sha256"), str):
        raise BadInput(f"{where}: not a registry version record")
    return record


def dumps(value: Any) -> bytes:
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def describe(exc: BaseException) -> str:
    """One line: the exception's type and first line, without a URL's user:password@."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = re.sub(r"://[^/\s]*@", "://***@", text)
    return f"{type(exc).__name__}: {text[:240]}" if text else type(exc).__name__


def _pause() -> None:
    time.sleep(random.uniform(0.005, 0.05))  # lost a race: let the winner finish before re-reading
