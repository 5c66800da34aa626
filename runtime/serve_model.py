"""`mlgen serve`: the model behind an environment's alias, and following that alias.

A poller thread asks the registry for the alias every `serve.poll_seconds`. A new version is
loaded completely first (Registry.load: every sha256, the skops trusted-types allow-list, the
smoke check in a child process, modelcheck) and only then published by rebinding one
attribute, an atomic step in Python: a request takes `follower.current` once and finishes on
that model whatever happens meanwhile. A version that fails its checks is refused (logged,
shown by /health) and the model before it keeps serving.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from mlgen_runtime import modelio
from mlgen_runtime.errors import BadInput
from mlgen_runtime.pipeline import Columns
from mlgen_runtime.serve_input import Schema


@dataclass(frozen=True)
class Loaded:
    """One checked model and what requests need from it."""

    model: Any
    version: int
    sha256: str
    meta: dict[str, Any]
    schema: Schema
    classes: list[Any] | None  # classifiers: the labels, in predict_proba's column order
    loaded_at: float = field(default_factory=time.time)

    def describe(self) -> dict[str, Any]:
        data = self.meta.get("data") if isinstance(self.meta.get("data"), dict) else {}
        hashes = {k: (v.get("hash") if isinstance(v, dict) else v) for k, v in data.items()
                  if k in ("sha256", "train", "test", "path")}
        return {"version": self.version, "sha256": self.sha256, "estimator": self.meta.get("estimator"),
                "trained_on": hashes, "git_commit": self.meta.get("git_commit")}


def schema_for(model: Any, meta: dict[str, Any], settings: dict[str, Any], max_rows: int) -> Schema:
    d = settings["data"]
    features = meta.get("features") if isinstance(meta.get("features"), dict) else {}
    cols = Columns.from_dict(features)
    names = getattr(model, "feature_names_in_", None)
    order = [str(n) for n in names] if names is not None else [*cols.numeric, *cols.categorical]
    used = set(cols.numeric) | set(cols.categorical) | set(cols.dates)
    if not used:  # a model.json without the column lists: every input column is read
        used = set(order)
    return Schema(features=tuple(order), used=tuple(c for c in order if c in used), cols=cols,
                  contract=dict(d.get("columns") or {}), target=d["target"], exclude=frozenset(d.get("exclude") or ()),
                  allow_extra=bool(d.get("allow_extra")), max_rows=max_rows)


def load_version(registry: Any, version: int, settings: dict[str, Any], max_rows: int) -> Loaded:
    """The fully checked model of `version` (BadInput when any check fails)."""
    model, meta = registry.load(version, modelio.estimator_package(settings))
    classes = getattr(model, "classes_", None)
    task = settings["data"].get("task")
    labels = [_plain(c) for c in np.asarray(classes)] if classes is not None and task != "regression" else None
    return Loaded(model, version, str(meta.get("sha256")), meta, schema_for(model, meta, settings, max_rows), labels)


def predict(loaded: Loaded, X: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(predictions, probabilities or None) of the model for X: the model's own `predict` and
    `predict_proba`, always both (deriving one from the other would restate the estimator's
    decision rule, and tie-breaking, outside scikit-learn)."""
    model = loaded.model
    y = np.asarray(model.predict(X))
    if loaded.classes is None or not hasattr(model, "predict_proba"):
        return y, None
    return y, np.asarray(model.predict_proba(X))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class Follower:
    """Holds the current model and moves it with the registry alias."""

    def __init__(self, registry: Any, env: str, settings: dict[str, Any], max_rows: int, poll_seconds: float,
                 on_swap: Callable[[Loaded], None] | None = None) -> None:
        self.registry, self.env, self.settings = registry, env, settings
        self.max_rows, self.poll_seconds, self.on_swap = max_rows, poll_seconds, on_swap
        self.current: Loaded | None = None
        self.alias_version: int | None = None  # what the alias said at the last poll
        self.refused: dict[str, Any] | None = None  # the last version refused, and why
        self.error: str | None = None  # the last registry read that failed
        self.refusals = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one poll at a time (the thread, and a first poll at start)

    def poll(self) -> None:
        """Check the alias once; load and swap to a new version, or refuse it."""
        with self._lock:
            try:
                version = self.registry.alias(self.env)
                self.error = None
            except (BadInput, OSError) as exc:  # the registry is unreadable for now: keep serving
                self.error = f"cannot read the registry: {exc}"
                return
            except Exception as exc:  # noqa: BLE001 - an MLflow server down raises its own kinds
                self.error = f"cannot read the registry: {type(exc).__name__}: {exc}"
                return
            self.alias_version = version
            if version is None or (self.current is not None and self.current.version == version):
                return
            if self.refused is not None and self.refused["version"] == version:
                return  # refused already: checked again when the alias moves
            try:
                loaded = load_version(self.registry, version, self.settings, self.max_rows)
            except Exception as exc:  # noqa: BLE001 - whatever the check, the old model keeps serving
                self.refused = {"version": version, "error": " ".join(str(exc).split())[:500], "at": time.time()}
                self.refusals += 1
                serving = "none" if self.current is None else f"version {self.current.version}"
                print(f"mlgen serve: refused version {version} of `{self.env}`: {self.refused['error']}; "
                      f"still serving {serving}", file=sys.stderr, flush=True)
                return
            self.current = loaded  # the swap: one reference, rebound whole
            self.refused = None
            print(f"mlgen serve: now serving version {version} of `{self.env}` (sha256 {loaded.sha256[:12]})",
                  file=sys.stderr, flush=True)
            if self.on_swap is not None:
                self.on_swap(loaded)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mlgen-serve-alias", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.poll()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def health(self) -> dict[str, Any]:
        cur = self.current
        status = "ok" if cur is not None and self.refused is None and self.error is None else (
            "no model" if cur is None else "degraded")
        out: dict[str, Any] = {"status": status, "environment": self.env,
                               "version": None if cur is None else cur.version,
                               "alias_version": self.alias_version}
        if self.refused is not None:
            out["refused"] = self.refused
        if self.error is not None:
            out["registry_error"] = self.error
        return out
