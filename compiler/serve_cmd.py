"""`mlgen serve`: resolve the spec's [serve] table and the flags, then run the runtime's server
(mlgen_runtime.serve_app) in this process. Nothing is written but the prediction log.

Bad settings (no [deploy], an unknown environment, a port in use, a token variable that is
unset) are one line and exit 2 before the server starts; Ctrl-C stops it gracefully (the log is
flushed) and exits 130 like every command.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

from mlgen.errors import UsageError

SERVE_PACKAGES = {"starlette": "starlette", "uvicorn": "uvicorn", "prometheus_client": "prometheus-client"}


def resolve(settings: dict[str, Any], env: str | None, host: str | None, port: int | None) -> dict[str, Any]:
    """The [serve] settings with the flags applied and the defaults resolved."""
    deploy = settings.get("deploy") or {}
    envs = [e["name"] for e in deploy.get("environments") or []]
    if not deploy or not envs:
        raise UsageError("nothing to serve: the spec has no [[deploy.environments]] (the server follows an environment's alias)")
    serve = dict(settings.get("serve") or {})
    chosen = env or serve.get("environment") or envs[-1]
    if chosen not in envs:
        raise UsageError(f"unknown environment `{chosen}`; expected one of: {', '.join(envs)}")
    token_env = serve.get("token_env")
    token = None
    if token_env:
        token = os.environ.get(token_env, "")
        if not token.strip():
            raise UsageError(f"serve.token_env names {token_env}, which is unset or empty; export the token in it")
    return {
        "env": chosen,
        "host": host or serve.get("host") or "127.0.0.1",
        "port": port if port is not None else int(serve.get("port") or 8000),
        "log_dir": serve.get("log_dir") or f"predictions/{chosen}",
        "token": token,
        "max_body_bytes": int(serve.get("max_body_bytes") or 10 * 1024**2),
        "max_rows": int(serve.get("max_rows") or 10_000),
        "poll_seconds": float(serve.get("poll_seconds") or 5.0),
        "rotate_rows": int(serve.get("log_rotate_rows") or 50_000),
    }


def listen(host: str, port: int) -> socket.socket:
    """The bound listening socket (a port in use is one line here, not uvicorn's exit 1)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def serve_cmd(spec: Path | None, env: str | None, host: str | None, port: int | None) -> int:
    from mlgen import commands
    from mlgen.compile import build_plan
    from mlgen.localrun import missing_here, runtime_missing_message

    if port is not None and not 0 <= port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535, got {port}")
    missing = missing_here() + missing_here(SERVE_PACKAGES)
    if missing:
        raise UsageError(runtime_missing_message(missing, sys.executable) + " (mlgen serve: `pip install 'mlgen[serve]'`)")
    spec_file = commands.spec_path(spec)
    root = spec_file.parent.resolve()
    settings = build_plan(spec_file, root).settings
    opts = resolve(settings, env, host, port)

    from mlgen_runtime.errors import BadInput
    from mlgen_runtime.registry import Registry
    from mlgen_runtime.serve_app import Config, run

    try:
        registry = Registry.open(_Ctx(settings, root))
        config = Config(settings=settings, root=root, env=opts["env"], log_dir=opts["log_dir"], token=opts["token"],
                        max_body_bytes=opts["max_body_bytes"], max_rows=opts["max_rows"],
                        poll_seconds=opts["poll_seconds"], rotate_rows=opts["rotate_rows"])
        from mlgen_runtime.serve_log import log_folder

        log_folder(root, config.log_dir)  # refused here, in one line, before the port is taken
    except (BadInput, OSError) as exc:
        raise UsageError(str(exc)) from None
    sock = listen(opts["host"], opts["port"])
    bound = sock.getsockname()
    commands.err(f"mlgen serve: `{opts['env']}` on http://{opts['host']}:{bound[1]} "
                 f"(log: {config.log_dir}/; Ctrl-C stops)")
    run(config, registry, sock)
    return 0


class _Ctx:
    """What Registry.open reads of a runtime Context."""

    def __init__(self, settings: dict[str, Any], root: Path) -> None:
        self.settings, self.root = settings, root
