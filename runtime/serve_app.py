"""`mlgen serve`: the HTTP routes (Starlette on uvicorn) over the model behind an alias.

POST /predict, POST /feedback, GET /health, /version, /metrics. The work of a request (parsing,
the contract check, predict) runs in Starlette's thread pool so the event loop keeps accepting;
the request takes the current model once, so a swap mid-request cannot mix two versions.
Errors a client can cause are 4xx with a JSON body naming the row and column; anything else
is a 500 with the request id (and the traceback on the server's stderr), never a dropped
connection. See docs/serve.md.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import re
import sys
import time
import traceback
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlgen_runtime import serve_input, serve_log, serve_model
from mlgen_runtime.serve_input import RequestError
from mlgen_runtime.serve_metrics import CONTENT_TYPE, Metrics
from mlgen_runtime.serve_model import Follower, Loaded

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class Config:
    """Everything the server needs, resolved by the CLI from the spec ([serve] and flags)."""

    settings: dict[str, Any]  # the normalized spec (plan.json's settings)
    root: Path  # the repository root: paths in the spec are relative to it
    env: str
    log_dir: str
    token: str | None
    max_body_bytes: int
    max_rows: int
    poll_seconds: float
    rotate_rows: int
    flush_seconds: float = 60.0


class Server:
    """The state behind the routes: the model follower, the log writer, the metrics."""

    def __init__(self, config: Config, registry: Any) -> None:
        self.config = config
        self.follower = Follower(registry, config.env, config.settings, config.max_rows, config.poll_seconds)
        folder = serve_log.log_folder(config.root, config.log_dir)
        self.log = serve_log.LogWriter(folder, config.rotate_rows, config.flush_seconds)
        self.metrics = Metrics(
            lambda: {"dropped": self.log.dropped_rows, "written": self.log.written_rows, "queued": self.log.queued()},
            lambda: {"version": (self.follower.current.version if self.follower.current else 0),
                     "refusals": self.follower.refusals})
        self.classifier = config.settings["data"].get("task") != "regression"
        self.started = False

    def start(self) -> None:
        self.follower.poll()  # the first model before the first request
        self.follower.start()
        self.started = True

    def stop(self) -> None:
        self.follower.stop()
        self.log.close()  # every queued row is written before the process ends

    # -- routes ---------------------------------------------------------------------------------

    async def predict(self, request: Request) -> Response:
        received = datetime.now(timezone.utc)
        rid = _request_id(request)
        body = await _body(request, self.config.max_body_bytes)
        loaded = self.follower.current  # taken once: this request finishes on this model
        if loaded is None:
            return _json({"error": f"no model deployed to `{self.config.env}` yet", "request_id": rid}, 503)
        out = await run_in_threadpool(self._predict, body, request.headers.get("content-type", ""), loaded, rid, received)
        return _json(out)

    def _predict(self, body: bytes, content_type: str, loaded: Loaded, rid: str, received: datetime) -> dict[str, Any]:
        schema = loaded.schema
        frame = serve_input.records(body, content_type, schema.max_rows)
        features = serve_input.model_input(frame, schema)
        X = serve_input.for_model(features, schema)
        try:
            y, proba = serve_model.predict(loaded, X)
        except (ValueError, TypeError) as exc:  # e.g. a category the encoder refuses: the input's fault
            raise RequestError(f"the model cannot predict these rows: {' '.join(str(exc).split())[:300]}") from None
        kinds = {name: schema.kind(name) for name in schema.used}
        rows = serve_log.prediction_rows(features, schema.used, kinds, rid, received, loaded.version, loaded.sha256, y)
        self.log.put(serve_log.Batch("predictions", rows))
        self.metrics.predicted(y, loaded.classes is not None)
        out: dict[str, Any] = {"request_id": rid, "model": {"version": loaded.version, "sha256": loaded.sha256},
                               "predictions": y.tolist()}
        if proba is not None:
            out["classes"] = loaded.classes
            out["probabilities"] = proba.tolist()
        return out

    async def feedback(self, request: Request) -> Response:
        body = await _body(request, self.config.max_body_bytes)
        out = await run_in_threadpool(self._feedback, body)
        return _json(out)

    def _feedback(self, body: bytes) -> dict[str, Any]:
        items = _feedback_items(body, self.config.max_rows)
        loaded = self.follower.current
        labels = [_label(it["label"], loaded, i) for i, it in enumerate(items)]
        now = pd.Timestamp(datetime.now(timezone.utc)).as_unit("us")
        frame = pd.DataFrame({
            serve_log.REQUEST_ID: [it["request_id"] for it in items],
            serve_log.ROW: np.asarray([it["row"] for it in items], dtype="int32"),
            serve_log.LABEL: labels,
            serve_log.TIME: pd.DatetimeIndex([now] * len(items)).as_unit("us"),
        })
        self.log.put(serve_log.Batch("feedback", frame))
        self.metrics.feedback.inc(len(items))
        known = [self.log.matched(it["request_id"], it["row"]) for it in items]
        return {"stored": len(items), "matched": sum(k is True for k in known),
                "unknown": sum(k is None for k in known)}

    async def health(self, request: Request) -> Response:
        h = self.follower.health()
        h["log"] = {"queued": self.log.queued(), "dropped_rows": self.log.dropped_rows,
                    "write_errors": self.log.write_errors}
        return _json(h, 200 if h["status"] == "ok" else 503)

    async def version(self, request: Request) -> Response:
        loaded = self.follower.current
        if loaded is None:
            return _json({"error": f"no model deployed to `{self.config.env}` yet", "alias": self.config.env}, 503)
        return _json({"alias": self.config.env, **loaded.describe()})

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.text(), media_type=CONTENT_TYPE)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, allow_nan=False, default=_plain).encode(), status, media_type="application/json")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if REQUEST_ID.match(given) else uuid.uuid4().hex


async def _body(request: Request, limit: int) -> bytes:
    """The body, read no further than `limit` bytes (413 beyond it, also without Content-Length)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestError(f"the body has {int(length):,} bytes; at most {limit:,} (serve.max_body_bytes)", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(f"the body exceeds {limit:,} bytes (serve.max_body_bytes)", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _feedback_items(body: bytes, max_rows: int) -> list[dict[str, Any]]:
    """`{"request_id": id, "labels": [...]}` (row i gets label i), or a list of
    `{"request_id", "row", "label"}`."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise RequestError("the body is not valid JSON") from None
    if isinstance(data, dict) and "labels" in data:
        if not isinstance(data["labels"], list):
            raise RequestError("`labels` must be a list (row i of the request gets label i)", column="labels")
        data = [{"request_id": data.get("request_id"), "row": i, "label": v} for i, v in enumerate(data["labels"])]
    if not isinstance(data, list) or not data:
        raise RequestError('expected {"request_id": ..., "labels": [...]} or a list of {"request_id", "row", "label"}')
    if len(data) > max_rows:
        raise RequestError(f"{len(data):,} labels; at most {max_rows:,} a request (serve.max_rows)")
    for i, it in enumerate(data):
        if not isinstance(it, dict) or set(it) != {"request_id", "row", "label"}:
            raise RequestError(f"item {i}: expected the keys request_id, row and label", row=i)
        if not isinstance(it["request_id"], str) or not REQUEST_ID.match(it["request_id"]):
            raise RequestError(f"item {i}: request_id must be the id a /predict response gave", row=i, column="request_id")
        if isinstance(it["row"], bool) or not isinstance(it["row"], int) or not 0 <= it["row"] < 2**31:
            raise RequestError(f"item {i}: row must be a row index of that request (0, 1, ...)", row=i, column="row")
    return data


def _label(value: Any, loaded: Loaded | None, i: int) -> Any:
    """A label of the target's type: one of the classes (classifiers) or a number."""
    if isinstance(value, (dict, list)) or value is None:
        raise RequestError(f"item {i}: label must be one value", row=i, column="label")
    if loaded is None or loaded.classes is None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise RequestError(f"item {i}: label must be a finite number (the target of a regression)", row=i, column="label")
        return float(value)
    for c in loaded.classes:
        if c == value or str(c) == str(value):
            return c
    raise RequestError(f"item {i}: label {value!r} is not one of the model's classes {loaded.classes}", row=i,
                       column="label")


def build_app(server: Server) -> Starlette:
    token = server.config.token

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(server.start)
        try:
            yield
        finally:
            await run_in_threadpool(server.stop)

    routes = [
        Route("/predict", server.predict, methods=["POST"]),
        Route("/feedback", server.feedback, methods=["POST"]),
        Route("/health", server.health, methods=["GET"]),
        Route("/version", server.version, methods=["GET"]),
        Route("/metrics", server.metrics_text, methods=["GET"]),
    ]
    async def request_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestError)
        return _json(exc.body(), exc.status)

    async def internal_error(request: Request, exc: Exception) -> Response:
        traceback.print_exception(exc, file=sys.stderr)  # a bug: the traceback here, one line for the client
        return _json({"error": "internal error (see the server's log)"}, 500)

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={RequestError: request_error, Exception: internal_error})
    return Guard(app, server.metrics, token)


ROUTES = frozenset({"/predict", "/feedback", "/health", "/version", "/metrics"})


class Guard:
    """ASGI middleware: the bearer token (every route but /health) and the request metrics."""

    def __init__(self, app: Any, metrics: Metrics, token: str | None) -> None:
        self.app, self.metrics, self.token = app, metrics, token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope.get("path", "")
        route = path if path in ROUTES else "other"
        status = [500]

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if self.token is not None and route != "/health" and not _authorized(Request(scope), self.token):
                response = _json({"error": "missing or wrong bearer token"}, 401)
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        finally:
            self.metrics.observe(route, status[0], time.perf_counter() - start)


def _authorized(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def run(config: Config, registry: Any, sock: Any) -> None:
    """Serve on the bound socket until SIGINT / SIGTERM (uvicorn's graceful shutdown runs the
    lifespan's stop: the log is flushed)."""
    import uvicorn

    app = build_app(Server(config, registry))
    uv = uvicorn.Config(app, log_level=os.environ.get("MLGEN_SERVE_LOG_LEVEL", "warning"), access_log=False,
                        lifespan="on", timeout_graceful_shutdown=30)
    uvicorn.Server(uv).run(sockets=[sock])
