"""`python -m mlgen_runtime <stage> --plan .mlgen/plan.json [...]`: the one entry point of
every CI job. Exit codes: 0 ok, 1 a check or gate failed, 2 bad input."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from mlgen_runtime.contract import PLAN_PATH, SHARD_INDEX_VAR, SHARD_TOTAL_VAR
from mlgen_runtime.errors import EXIT_BAD_INPUT, EXIT_FAILED, BadInput, CheckFailed

# stage -> module exposing `run(ctx, args) -> int`
STAGES = {
    "validate": "mlgen_runtime.validate",
    "train": "mlgen_runtime.train",
    "select": "mlgen_runtime.train",
    "evaluate": "mlgen_runtime.evaluate",
    "scan": "mlgen_runtime.scan",
    "deploy": "mlgen_runtime.deploy",
    "rollback": "mlgen_runtime.deploy",
    "promote": "mlgen_runtime.deploy",
    "registry": "mlgen_runtime.deploy",
    "monitor": "mlgen_runtime.monitor",
    "verify": "mlgen_runtime.cli",
}



def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mlgen_runtime", description=__doc__)
    sub = p.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name in STAGES:
        s = sub.add_parser(name)
        s.add_argument("--plan", type=Path, default=Path(PLAN_PATH), help="the compiled plan")
        if name == "train":
            s.add_argument("--shard", help="i/n: run the i-th of n slices of the trials (default: $MLGEN_SHARD_INDEX/$MLGEN_SHARD_TOTAL)")
        if name in ("deploy", "rollback", "promote"):
            s.add_argument("--env", required=True, help="environment name from the spec")
        if name == "rollback":
            s.add_argument("--to", type=int, help="version to go back to (default: the one before)")
        if name == "promote":
            s.add_argument("--version", type=int, required=True, help="registry version to point the environment at")
        if name == "registry":
            s.add_argument("action", choices=["list"], help="show versions, aliases and history")
    return p


def shard_of(args: argparse.Namespace) -> tuple[int, int] | None:
    """(index, total), 1-based, from --shard or the environment the CI backends set."""
    raw = getattr(args, "shard", None)
    if raw is None and os.environ.get(SHARD_INDEX_VAR):
        raw = f"{os.environ[SHARD_INDEX_VAR]}/{os.environ.get(SHARD_TOTAL_VAR, '')}"
    if raw is None:
        return None
    try:
        i, n = (int(x) for x in raw.split("/"))
    except ValueError:
        raise BadInput(f"--shard must look like 2/4, got {raw!r}") from None
    if not 1 <= i <= n:
        raise BadInput(f"shard {i}/{n} is out of range")
    return i, n


def run(ctx: object, args: argparse.Namespace) -> int:
    """`verify`: the integrity checks alone (they already ran before dispatch)."""
    print("mlgen_runtime: runtime bundle and plan verified")
    return 0


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports


def main(argv: list[str] | None = None) -> int:
    from mlgen_runtime.context import load_context
    from mlgen_runtime.integrity import verify

    args = parser().parse_args(argv)
    try:
        ctx = load_context(args.plan)
        verify(ctx)
        cache = None
        job = ctx.job(args.stage)
        if job is not None and job.cache is not None:  # the plan says which stages are cached
            from mlgen_runtime import stagecache

            cache = stagecache.for_stage(ctx, args.stage, shard_of(args) if args.stage == "train" else None)
            if cache is not None and cache.restore():
                print(f"mlgen_runtime {args.stage}: inputs unchanged; outputs restored from {cache.dir.relative_to(ctx.root)}")
                return 0
        module = importlib.import_module(STAGES[args.stage])
        rc = int(module.run(ctx, args))
        if rc == 0 and cache is not None:
            cache.save()
        return rc
    except KeyboardInterrupt:
        # Ctrl-C: the shell's status for SIGINT, no traceback; `mlgen run` says it in one line
        return EXIT_INTERRUPTED
    except BadInput as exc:
        print(f"mlgen_runtime {args.stage}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CheckFailed as exc:
        print(f"mlgen_runtime {args.stage}: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
