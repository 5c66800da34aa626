"""An MLflow model registry as the deploy target, with the interface of the folder registry
(registry.Registry), so deploy and evaluate work the same with either.

`deploy.registry = "mlflow+http://host:port"` (or https) talks to a tracking server;
`"mlflow+sqlite:///models/mlflow.db"` uses a local database without a server (a path relative to
the repository root; `mlflow+sqlite:////abs/path.db` is absolute; its artifacts go to a folder
next to it, `models/mlflow-artifacts/`). mlflow is imported only when such a registry is
configured: the runtime works without it.

What lives where (registered model = the project's name):

- version N = MLflow model version N. `register` uploads model.skops + model.json (the very files
  the folder registry keeps; never an mlflow.sklearn flavor, which pickles) as the artifacts
  `model/` of a run in the experiment `mlgen-<project>` (or $MLFLOW_EXPERIMENT_NAME). The run
  logs the params (model.json) and the held-out metrics (evaluate) and carries the tags
  mlgen.sha256, mlgen.estimator and mlflow.source.git.commit. The version is then created from
  `model/` with its tags in the same request: mlgen.sha256 (of model.skops), mlgen.files
  ({file: sha256}), mlgen.estimator, mlgen.metrics, mlgen.commit. A version becomes visible only
  after its files are uploaded, and never without its tags. The same sha256 registered again is
  found by its mlgen.sha256 tag: the same model twice is one version.
- aliases are the environment names: `models:/<project>@staging`, `@production`; evaluate's
  champion is `models:/<project>@<last environment>`.
- `load` downloads `model/` of the version's run into a temporary folder, checks both files
  against the mlgen.files / mlgen.sha256 tags, and loads with skops' trusted types
  (modelio.load_model). A version without mlgen's tags (registered by another tool) is refused.
- history: one registered-model tag per promote/rollback, `mlgen.history.<seq:06d>.<nonce>`, whose
  value is the same JSON line as the folder registry's history.jsonl. Why there: it lives as long
  as the registered model (deleting a version does not lose it), it is read in the same request
  as the aliases (get_registered_model), every CI job sees it, and it is visible in the MLflow UI.
  Append-only by construction: every entry is a new key (the random nonce means two writers can
  never overwrite each other's entry, even with the same seq); mlgen never rewrites or deletes one.
  Entries are ordered by seq (then time). Rollback walks this record per environment, exactly like
  the folder registry (registry.deployed_stack / rollback_target).

Concurrency. What MLflow guarantees: each REST call (or, with sqlite, each store call) is one
database transaction; model version numbers are unique and increasing (the store retries on a
unique-key conflict); registered model and experiment names are unique (a second create fails with
RESOURCE_ALREADY_EXISTS); setting an alias or a tag is an upsert, last writer wins. It offers no
lock, no multi-call transaction and no compare-and-set. What mlgen adds:
- the alias is the live state (what serving reads); the history is the record. A move sets the
  alias first, then appends its entry, then reads the alias back: if another process moved it in
  between, the job fails (exit 2) naming the version it found instead of claiming success. When
  the entry cannot be written (the server fails, a quota), the alias is moved back before the
  job fails, so a failed promote leaves neither; only a job killed between the two calls leaves
  the alias moved without its entry, and the next change records it as a "sync".
- before every promote/rollback, an alias that disagrees with the history (moved in the MLflow UI,
  or a job killed between the alias and its entry) is recorded as a "sync" entry, so the history
  always converges on the real alias and rollback never goes to a version by mistake.
- two jobs registering the same model at once may create two versions; both then settle on the
  lowest-numbered one and the other removes its own duplicate.
- deploys to one environment are serialized by the CI provider (GitHub concurrency group, GitLab
  resource_group, Jenkins lock), as for the folder registry.

Credentials: the MLflow client reads MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME /
MLFLOW_TRACKING_PASSWORD (and the artifact store's own variables) from the environment; a URI with
user:password@ is refused, and error messages have those values masked.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import read_json, sha256_file
from mlgen_runtime.modelio import META_FILE, MODEL_FILE, load_model
from mlgen_runtime.provenance import COMMIT_VARIABLES
from mlgen_runtime.registry import (
    MLFLOW_PREFIX,
    check_env,
    check_model_dir,
    check_version,
    contained,
    deployed_stack,
    env_value,
    fold_aliases,
    history_line,
    rollback_target,
)

INSTALL_HINT = (
    "pip install 'mlgen[mlflow]' (in CI, next to the runtime's requirements: `pip install mlflow-skinny` "
    "for an mlflow+http(s) server, `pip install mlflow` for mlflow+sqlite)"
)
ARTIFACT_PATH = "model"
SHA_TAG = "mlgen.sha256"
FILES_TAG = "mlgen.files"
ESTIMATOR_TAG = "mlgen.estimator"
METRICS_TAG = "mlgen.metrics"
COMMIT_TAG = "mlgen.commit"
PROJECT_TAG = "mlgen.project"
HISTORY_PREFIX = "mlgen.history."
HISTORY_KEY = re.compile(r"^mlgen\.history\.([0-9]{6,})\.([0-9a-f]{8})$")
EXPERIMENT_VAR = "MLFLOW_EXPERIMENT_NAME"
TRACKING_VAR = "MLFLOW_TRACKING_URI"
RESERVED_ALIAS = re.compile(r"^(latest|v[0-9]+)$", re.IGNORECASE)
KEY_PATTERN = re.compile(r"^[/\w.\- ]{1,250}$")  # what MLflow accepts as a param or metric name
MAX_PARAM_VALUE = 500  # the smallest limit of the MLflow servers still around (1.x); 3.x allows 6000
MAX_REASON = 500
MAX_ERROR = 800
SECRET_VARS = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
)


def parse_setting(setting: str, repo_root: Path) -> tuple[str, Path | None]:
    """(tracking URI for the client, the sqlite file or None) of `mlflow+...`."""
    if not setting.startswith(MLFLOW_PREFIX):
        raise BadInput(f"not an MLflow registry: {setting!r}")
    uri = setting[len(MLFLOW_PREFIX):]
    if uri.startswith("sqlite:"):
        raw = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
        if not raw or raw.endswith("/") or any(c in raw for c in "?#"):
            raise BadInput(f"{setting!r}: expected mlflow+sqlite:///relative/path.db or mlflow+sqlite:////absolute/path.db")
        # three slashes: relative to the repository (and inside it); four: an absolute path
        db = Path(raw).resolve() if raw.startswith("/") else contained(repo_root / raw, repo_root, "deploy.registry")
        return f"sqlite:///{db}", db
    parts = urlsplit(uri)
    if "@" in parts.netloc:
        # never echo the value: it holds a secret
        raise BadInput("the MLflow registry URI contains credentials (user:password@); remove them and set "
                       "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) as CI secrets")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise BadInput(f"{setting!r}: expected mlflow+http://host:port, mlflow+https://host[/path] or mlflow+sqlite:///path.db")
    return uri.rstrip("/"), None


class MlflowRegistry:
    """The registered model `name` in the MLflow registry at `tracking_uri`."""

    def __init__(self, tracking_uri: str, name: str, label: str, db_path: Path | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.name = name
        self._label = label
        self.db_path = db_path  # mlflow+sqlite only
        self._client: Any = None

    @classmethod
    def from_setting(cls, setting: str, repo_root: Path, name: str) -> MlflowRegistry:
        uri, db = parse_setting(setting, Path(repo_root).resolve())
        return cls(uri, name, setting, db)

    # -- naming --------------------------------------------------------------------------------

    def label(self, repo_root: Path) -> str:
        return f"{self._label} (models:/{self.name})"

    def deploy_fields(self, env: str, version: int) -> dict[str, Any]:
        return {"model_uri": f"models:/{self.name}@{env}", "model_version_uri": f"models:/{self.name}/{version}"}

    @property
    def artifact_root(self) -> Path | None:
        """Where an mlflow+sqlite registry's new experiment keeps its files: beside the database."""
        return None if self.db_path is None else self.db_path.with_name(self.db_path.stem + "-artifacts")

    # -- the client ----------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from mlflow.tracking import MlflowClient
            except ImportError:
                raise BadInput(f"deploy.registry is an MLflow registry ({self._label}) but the mlflow package "
                               f"is not installed: {INSTALL_HINT}") from None
            if self.db_path is not None:
                if importlib.util.find_spec("sqlalchemy") is None or importlib.util.find_spec("alembic") is None:
                    raise BadInput(f"deploy.registry {self._label} needs MLflow's database layer (sqlalchemy, "
                                   "alembic), which mlflow-skinny lacks: pip install mlflow")
                self.db_path.parent.mkdir(parents=True, exist_ok=True)
            # a CI log is no terminal: no download progress bars (set the variable to override)
            os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
            self._client = self._call("connecting", MlflowClient, tracking_uri=self.tracking_uri,
                                      registry_uri=self.tracking_uri)
        return self._client

    def _empty(self) -> bool:
        """An mlflow+sqlite registry whose database does not exist yet: reading it must not create it."""
        return self._client is None and self.db_path is not None and not self.db_path.exists()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BadInput:
            raise
        except Exception as exc:  # noqa: BLE001 - MLflow, requests and the artifact stores raise many kinds
            raise BadInput(f"MLflow registry {self._label}: {what}: {describe(exc)}") from None

    @contextmanager
    def _artifacts(self) -> Iterator[None]:
        """Some MLflow clients (3.0 for one) resolve `mlflow-artifacts:/` URIs with the process-wide
        tracking URI instead of the client's: point it at this registry while files move."""
        before = os.environ.get(TRACKING_VAR)
        os.environ[TRACKING_VAR] = self.tracking_uri
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(TRACKING_VAR, None)
            else:
                os.environ[TRACKING_VAR] = before

    def _maybe(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Like _call, but None when MLflow says the thing does not exist."""
        try:
            return fn(*args, **kwargs)
        except BadInput:
            raise
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise BadInput(f"MLflow registry {self._label}: {what}: {describe(exc)}") from None

    # -- reading -------------------------------------------------------------------------------

    def _model(self) -> Any:
        if self._empty():
            return None
        return self._maybe(f"reading registered model {self.name!r}", self.client.get_registered_model, self.name)

    def aliases(self) -> dict[str, int]:
        model = self._model()
        return {} if model is None else model_aliases(model)

    def alias(self, env: str) -> int | None:
        return self.aliases().get(env)

    def history(self) -> list[dict]:
        """The recorded entries, oldest first, then a "sync" for each environment whose alias was
        moved outside mlgen since (not stored yet: the next promote/rollback records it), so that
        a rollback planned from this list is the one the registry will make."""
        model = self._model()
        if model is None:
            return []
        history = parse_history_tags(model.tags or {})
        aliases = model_aliases(model)
        pending: list[dict] = []
        for env in sorted(fold_aliases(history)):
            entry = sync_entry(history + pending, env, aliases.get(env))
            if entry is not None:
                pending.append({**entry, "reason": entry["reason"] + " (recorded by the next change)"})
        return history + pending

    def _model_versions(self) -> list[Any]:
        if self._empty():
            return []
        out: list[Any] = []
        token = None
        while True:
            page = self._call("listing versions", self.client.search_model_versions, f"name = '{self.name}'",
                              page_token=token)
            out += list(page)
            token = getattr(page, "token", None)
            if not token:
                return sorted(out, key=lambda mv: int(mv.version))

    def versions(self) -> list[dict]:
        """A record per version like the folder registry's version.json, oldest first."""
        return [version_record(mv) for mv in self._model_versions()]

    def _find(self, sha: str) -> list[int]:
        """Versions carrying mlgen.sha256 = sha, lowest first (filtered here, not by the server, so
        that servers whose search cannot filter on tags work too)."""
        return [int(mv.version) for mv in self._model_versions() if (mv.tags or {}).get(SHA_TAG) == sha]

    def _version(self, version: int) -> Any:
        check_version(version)
        mv = None if self._empty() else self._maybe(f"reading version {version}", self.client.get_model_version,
                                                    self.name, str(version))
        if mv is None:
            raise BadInput(f"version {version} is not in the registry {self.label(Path())}")
        return mv

    def load(self, version: int, extra_prefixes: tuple[str, ...] = ()) -> tuple[Any, dict]:
        """The model of `version` and its model.json, after checking both files against the tags."""
        mv = self._version(version)
        tags = mv.tags or {}
        sha, files = tags.get(SHA_TAG), loads_dict(tags.get(FILES_TAG))
        if not sha or not mv.run_id or files.get(MODEL_FILE) != sha or not files.get(META_FILE):
            raise BadInput(f"models:/{self.name}/{version} was not registered by mlgen (no {SHA_TAG} / {FILES_TAG} "
                           "tags naming its files); refusing to load it")
        with tempfile.TemporaryDirectory(prefix="mlgen-mlflow-") as tmp:
            with self._artifacts():
                local = Path(self._call(f"downloading the files of version {version}", self.client.download_artifacts,
                                        mv.run_id, ARTIFACT_PATH, tmp))
            where = f"models:/{self.name}/{version}"
            meta_path = local / META_FILE
            if not meta_path.is_file() or meta_path.is_symlink() or sha256_file(meta_path) != files[META_FILE]:
                raise BadInput(f"{where}: {ARTIFACT_PATH}/{META_FILE} is missing or modified "
                               f"(sha256 differs from the {FILES_TAG} tag)")
            meta = read_json(meta_path)
            if not isinstance(meta, dict) or meta.get("sha256") != sha:
                raise BadInput(f"{where}: {META_FILE} and the {SHA_TAG} tag disagree on the model's sha256")
            try:
                model = load_model(local / MODEL_FILE, sha, extra_prefixes)
            except BadInput as exc:
                raise BadInput(f"{where}: " + str(exc).replace(f"{local}/", f"{ARTIFACT_PATH}/")) from None
        return model, meta

    # -- changing ------------------------------------------------------------------------------

    def register(self, model_dir: Path, metrics: dict[str, Any] | None = None) -> int:
        """Upload model.skops + model.json as a new version; the same model gives the same version."""
        model_dir = Path(model_dir)
        sha = check_model_dir(model_dir)
        found = self._find(sha)
        if found:
            return found[0]
        with tempfile.TemporaryDirectory(prefix="mlgen-mlflow-") as tmp:
            folder = Path(tmp) / ARTIFACT_PATH
            folder.mkdir()
            files = {}
            for name in (MODEL_FILE, META_FILE):
                shutil.copyfile(model_dir / name, folder / name)
                files[name] = sha256_file(folder / name)
            meta = read_json(folder / META_FILE)
            if files[MODEL_FILE] != sha or not isinstance(meta, dict) or meta.get("sha256") != sha:
                raise BadInput("the model changed while it was being registered; run the stage again")
            mine = self._upload(folder, sha, files, meta, metrics)
        return self._settle(sha, mine)

    def _upload(self, folder: Path, sha: str, files: dict[str, str], meta: dict[str, Any],
                metrics: dict[str, Any] | None) -> int:
        self._ensure_model()
        experiment = self._experiment()
        commit = env_value(COMMIT_VARIABLES) or meta.get("git_commit")
        estimator = str(meta.get("estimator") or "")
        run_tags = {SHA_TAG: sha, ESTIMATOR_TAG: estimator, PROJECT_TAG: self.name}
        if commit:
            run_tags.update({COMMIT_TAG: str(commit), "mlflow.source.git.commit": str(commit)})
        run = self._call("creating the registration run", self.client.create_run, experiment,
                         run_name=f"mlgen-{sha[:12]}", tags=run_tags)
        run_id = run.info.run_id
        scores = numeric(metrics if metrics is not None else meta.get("metrics"))
        version_tags = {SHA_TAG: sha, FILES_TAG: json.dumps(files, sort_keys=True), ESTIMATOR_TAG: estimator,
                        METRICS_TAG: json.dumps(scores, sort_keys=True)}
        if commit:
            version_tags[COMMIT_TAG] = str(commit)
        try:
            self._log(run_id, meta, scores)
            with self._artifacts():
                self._call("uploading the model files", self.client.log_artifacts, run_id, str(folder), ARTIFACT_PATH)
            mv = self._call("creating the model version", self.client.create_model_version, self.name,
                            f"{run.info.artifact_uri.rstrip('/')}/{ARTIFACT_PATH}", run_id, tags=version_tags,
                            description=f"registered by mlgen: {estimator} (model sha256 {sha[:12]})")
        except BaseException:
            self._end_run(run_id, "FAILED")
            raise
        self._end_run(run_id, "FINISHED")
        return int(mv.version)

    def _log(self, run_id: str, meta: dict[str, Any], scores: dict[str, float]) -> None:
        from mlflow.entities import Metric, Param

        params = {"estimator": meta.get("estimator")}
        params.update(meta.get("params") if isinstance(meta.get("params"), dict) else {})
        cv = meta.get("cv") if isinstance(meta.get("cv"), dict) else {}
        values = dict(scores)
        if cv.get("scoring"):
            values.update(numeric({f"cv_{cv['scoring']}_mean": cv.get("mean"), f"cv_{cv['scoring']}_std": cv.get("std")}))
        now = int(time.time() * 1000)
        plist = [Param(k, param_value(v)) for k, v in sorted(params.items()) if KEY_PATTERN.match(str(k))]
        mlist = [Metric(k, v, now, 0) for k, v in sorted(values.items()) if KEY_PATTERN.match(k)]
        for i in range(0, max(len(plist), len(mlist)), 100):  # MLflow's per-request limits: 100 params, 1000 metrics
            self._call("logging params and metrics", self.client.log_batch, run_id,
                       metrics=mlist[i:i + 100], params=plist[i:i + 100])

    def _end_run(self, run_id: str, status: str) -> None:
        try:
            self.client.set_terminated(run_id, status)
        except Exception:  # noqa: BLE001 - the run is only the version's container; its status is cosmetic
            pass

    def _settle(self, sha: str, mine: int) -> int:
        """After a race of two registrations of the same model, keep the lowest version."""
        found = self._find(sha) or [mine]
        keep = found[0]
        if keep != mine:
            print(f"registry: version {keep} holds the same model (registered concurrently); "
                  f"removing the duplicate version {mine}", file=sys.stderr)
            try:
                self.client.delete_model_version(self.name, str(mine))
            except Exception as exc:  # noqa: BLE001 - a leftover duplicate is harmless: lookups pick the lowest
                print(f"registry: could not remove version {mine}: {describe(exc)}", file=sys.stderr)
        return keep

    def _ensure_model(self) -> None:
        client = self.client
        if self._model() is not None:
            return
        try:  # a concurrent job may create it first: MLflow's unique name makes that an error we ignore
            client.create_registered_model(
                self.name, tags={PROJECT_TAG: self.name},
                description="Versions registered by mlgen; aliases are the deploy environments.")
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                raise BadInput(f"MLflow registry {self._label}: creating registered model {self.name!r}: "
                               f"{describe(exc)}") from None

    def _experiment(self) -> str:
        name = os.environ.get(EXPERIMENT_VAR, "").strip() or f"mlgen-{self.name}"
        client = self.client
        exp = self._call("reading the experiment", client.get_experiment_by_name, name)
        if exp is None:
            root = self.artifact_root
            try:
                return str(client.create_experiment(name, artifact_location=root.as_uri() if root else None))
            except Exception as exc:  # noqa: BLE001
                if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                    raise BadInput(f"MLflow registry {self._label}: creating experiment {name!r}: {describe(exc)}") from None
                exp = self._call("reading the experiment", self.client.get_experiment_by_name, name)
        if exp is None or exp.lifecycle_stage != "active":
            raise BadInput(f"MLflow experiment {name!r} is deleted; restore it in MLflow or set {EXPERIMENT_VAR}")
        return str(exp.experiment_id)

    def promote(self, env: str, version: int, reason: str = "") -> bool:
        """Point @env at `version`. False (and no history entry) when it already points there."""
        check_alias(env)
        self._version(version)  # must exist
        current, history = self._sync(env)
        if current == version:
            return False
        self._move("promote", env, current, version, reason, history)
        return True

    def rollback(self, env: str, to: int | None = None, reason: str = "") -> int:
        """Point @env back at the version it had before the current one (or at `to`, which it must
        have had before); returns the version @env now points at."""
        check_alias(env)
        current, history = self._sync(env)
        stack = deployed_stack(history, env)
        if not stack:
            raise BadInput(f"environment {env!r} was never promoted; nothing to roll back")
        target = rollback_target(env, stack, to)
        if target == current:
            return target
        self._version(target)  # must still exist
        self._move("rollback", env, current, target, reason, history)
        return target

    def _sync(self, env: str) -> tuple[int | None, list[dict]]:
        """(@env now, the history), after recording an alias that was moved outside mlgen."""
        model = self._model()
        if model is None:
            return None, []
        history = parse_history_tags(model.tags or {})
        current = model_aliases(model).get(env)
        entry = sync_entry(history, env, current)
        if entry is not None:
            recorded = entry["from"]
            print(f"registry: @{env} is at version {current} but mlgen's history says "
                  f"{recorded if recorded is not None else '(none)'}: it was moved outside mlgen or a deploy was "
                  "interrupted; recording it", file=sys.stderr)
            self._append(entry)
            history = [*history, entry]
        return current, history

    def _move(self, action: str, env: str, old: int | None, new: int, reason: str, history: list[dict]) -> None:
        """The alias first (the live state), then its history entry, then check nobody raced us."""
        self._call(f"moving @{env} to version {new}", self.client.set_registered_model_alias, self.name, env, str(new))
        try:
            self._append(history_line(next_seq(history), action, env, old, new, reason[:MAX_REASON]))
        except BaseException as exc:  # the alias and its record change together or not at all
            undone = self._restore(env, old)
            if not isinstance(exc, BadInput):
                raise
            what = (f"@{env} was moved back to {old if old is not None else '(none)'}" if undone else
                    f"@{env} could not be moved back; the next promote or rollback records it as a sync")
            raise BadInput(f"{exc}; {what}") from None
        now = self.alias(env)
        if now != new:
            raise BadInput(f"@{env} is at version {now}, not {new}: another process moved it at the same time; "
                           "check `registry list` and run the job again")

    def _restore(self, env: str, old: int | None) -> bool:
        """Point @env back at `old` (delete it when there was none); False when that fails too."""
        try:
            if old is None:
                self.client.delete_registered_model_alias(self.name, env)
            else:
                self.client.set_registered_model_alias(self.name, env, str(old))
        except Exception:  # noqa: BLE001 - reported by the caller; the next change's sync repairs the record
            return False
        return True

    def _append(self, entry: dict[str, Any]) -> None:
        key = f"{HISTORY_PREFIX}{entry['seq']:06d}.{uuid.uuid4().hex[:8]}"
        value = json.dumps(entry, sort_keys=True, ensure_ascii=False)
        self._call("recording the history", self.client.set_registered_model_tag, self.name, key, value)


# -- pure helpers --------------------------------------------------------------------------------


def check_alias(env: str) -> None:
    check_env(env)
    if RESERVED_ALIAS.match(env):
        raise BadInput(f"environment {env!r} cannot be an MLflow alias ('latest' and v<number> are reserved "
                       "by MLflow); rename the environment")


def model_aliases(model: Any) -> dict[str, int]:
    raw = getattr(model, "aliases", None) or {}
    if isinstance(raw, list):  # some client versions return [RegisteredModelAlias(alias, version)]
        raw = {a.alias: a.version for a in raw}
    return {str(k): int(v) for k, v in raw.items()}


def parse_history_tags(tags: dict[str, str]) -> list[dict]:
    """The mlgen.history.* tags as history entries, oldest first."""
    rows = []
    for key, value in tags.items():
        if not key.startswith(HISTORY_PREFIX):
            continue
        match = HISTORY_KEY.match(key)
        try:
            entry = json.loads(value)
        except ValueError:
            entry = None
        if (match is None or not isinstance(entry, dict) or not isinstance(entry.get("env"), str)
                or isinstance(entry.get("to"), bool) or not isinstance(entry.get("to"), int)):
            raise BadInput(f"registered model tag {key}: not an mlgen history entry; the mlgen.history.* tags are "
                           "append-only, remove the edited tag or restore its value")
        rows.append((int(match.group(1)), str(entry.get("time") or ""), key, entry))
    return [entry for *_, entry in sorted(rows, key=lambda r: r[:3])]


def sync_entry(history: list[dict], env: str, current: int | None) -> dict[str, Any] | None:
    """The entry recording that @env is at `current` although the history says otherwise."""
    recorded = fold_aliases(history).get(env)
    if current is None or current == recorded:
        return None
    return history_line(next_seq(history), "sync", env, recorded, current, "alias found moved outside mlgen's history")


def next_seq(history: list[dict]) -> int:
    return max((e.get("seq", 0) for e in history if isinstance(e.get("seq"), int)), default=0) + 1


def version_record(mv: Any) -> dict[str, Any]:
    tags = mv.tags or {}
    metrics = loads_dict(tags.get(METRICS_TAG))
    return {
        "version": int(mv.version),
        "model_sha256": tags.get(SHA_TAG),
        "files": loads_dict(tags.get(FILES_TAG)),
        "estimator": tags.get(ESTIMATOR_TAG),
        "metrics": metrics or None,
        "commit": tags.get(COMMIT_TAG),
        "run_id": mv.run_id,
    }


def loads_dict(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def numeric(values: Any) -> dict[str, float]:
    """The finite numbers of a {name: value} dict (MLflow metrics are floats)."""
    if not isinstance(values, dict):
        return {}
    return {str(k): float(v) for k, v in values.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_PARAM_VALUE else text[:MAX_PARAM_VALUE - 3] + "..."


def describe(exc: BaseException) -> str:
    """One line about an MLflow/HTTP error, with any credential from the environment masked."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    for var in SECRET_VARS:
        secret = os.environ.get(var, "")
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR - 3] + "..."
