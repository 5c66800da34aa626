"""`python -m mlgen_runtime.image_entry`: the entry point of the `mlgen serve` image (compiler/container.py).

In the image there is no compiler (no pydantic, no typer): the plan is the only input, as for every
stage. This reads the [serve] settings from plan.json (compile has already resolved defaults),
checks the bundle and the plan like every stage (integrity.verify), opens the registry and runs
the same server as `mlgen serve` (serve_app.run). Bad settings: one line, exit 2.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from mlgen_runtime.contract import PLAN_PATH
from mlgen_runtime.errors import EXIT_BAD_INPUT, BadInput

EXIT_INTERRUPTED = 130


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mlgen_runtime.image_entry", description=__doc__)
    p.add_argument("--plan", type=Path, default=Path(PLAN_PATH))
    p.add_argument("--env", required=True, help="environment whose alias is served")
    p.add_argument("--host", default="0.0.0.0", help="inside a container: every interface (the published port)")
    p.add_argument("--port", type=int, required=True)
    return p


def _listen(host: str, port: int) -> socket.socket:
    try:
        family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        from mlgen_runtime.context import load_context
        from mlgen_runtime.integrity import verify

        ctx = load_context(args.plan)
        verify(ctx)
        serve = ctx.settings.get("serve") or {}
        envs = [e["name"] for e in (ctx.settings.get("deploy") or {}).get("environments") or []]
        if args.env not in envs:
            raise BadInput(f"unknown environment `{args.env}`; expected one of: {', '.join(envs) or 'none'}")
        token = None
        if serve.get("token_env"):
            token = os.environ.get(serve["token_env"], "")
            if not token.strip():
                raise BadInput(f"serve.token_env names {serve['token_env']}, which is unset or empty; pass it with docker run -e")
        from mlgen_runtime.registry import Registry
        from mlgen_runtime.serve_app import Config, run
        from mlgen_runtime.serve_log import log_folder

        config = Config(settings=ctx.settings, root=ctx.root, env=args.env,
                        log_dir=serve.get("log_dir") or f"predictions/{args.env}", token=token,
                        max_body_bytes=int(serve["max_body_bytes"]), max_rows=int(serve["max_rows"]),
                        poll_seconds=float(serve["poll_seconds"]), rotate_rows=int(serve["log_rotate_rows"]))
        registry = Registry.open(ctx)
        log_folder(ctx.root, config.log_dir)
        sock = _listen(args.host, args.port)
        print(f"mlgen serve (image): `{args.env}` on http://{args.host}:{sock.getsockname()[1]} (log: {config.log_dir}/)",
              file=sys.stderr, flush=True)
        run(config, registry, sock)
        return 0
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (BadInput, OSError) as exc:
        print(f"mlgen_runtime.image_entry: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
