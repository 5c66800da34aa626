"""What `mlgen compile` and `mlgen run` do, without the command-line layer.

Both the typer app (cli_app.py: --help, every other command) and the fast argument parser in
cli.py call these, so the two give the same output and exit codes. Nothing heavy is imported
at module level: `mlgen run` with a current plan never imports pydantic, typer or rich.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from pathlib import Path

from mlgen.errors import EXIT_FAILED, EXIT_OK, UsageError


def echo(text: str) -> None:
    """One line on stdout, flushed (what typer.echo does)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")


def shown_path(path: Path) -> str:
    from mlgen.compile import shown_path as shown

    return shown(path)


def spec_path(spec: Path | None) -> Path:
    from mlgen.compile import find_spec

    return spec if spec is not None else find_spec(Path.cwd())


def compile_files(
    spec_file: Path, out_dir: Path, providers: Sequence[str] | None, check: bool = False,
    warnings: list[str] | None = None,
) -> dict[str, str]:
    """Every file `mlgen compile` writes (the schema included), as {relative path: text}; the
    compile's warnings are appended to `warnings` when given (shown by the caller once the
    compile succeeded), else dropped."""
    from mlgen import backends
    from mlgen.compile import compile_spec
    from mlgen.init import SCHEMA_REL
    from mlgen.schema import packaged_schema
    from mlgen_runtime.lockcheck import LOCK_NAME

    chosen = None
    if providers:
        unknown = sorted(set(providers) - set(backends.PROVIDERS))
        if unknown:
            raise UsageError(f"unknown provider `{unknown[0]}`; expected one of: {', '.join(backends.PROVIDERS)}")
        chosen = tuple(sorted(set(providers)))
    compiled = compile_spec(spec_file, out_dir, chosen)
    if warnings is not None:
        # --check fails on a stale lock instead of warning about it
        warnings += [w for w in compiled.warnings if not (check and w.startswith(f"{LOCK_NAME} is stale"))]
    return {**compiled.files, SCHEMA_REL: packaged_schema()}


def compile_cmd(
    spec: Path | None = None,
    provider: Sequence[str] | None = None,
    out: Path | None = None,
    check: bool = False,
    force: bool = False,
    quiet: bool = False,
) -> int:
    """`mlgen compile`; returns the exit code (raises SpecError / UsageError)."""
    code, _ = _compile(spec_path(spec), provider, out, check, force, quiet)
    return code


def _compile(
    spec_file: Path, provider: Sequence[str] | None, out: Path | None, check: bool, force: bool, quiet: bool,
    warn: bool = True,
) -> tuple[int, dict[str, str]]:
    # A compile allocates many small objects and frees them all at the end: the cyclic garbage
    # collector only rescans them (a gen-2 pass costs more the bigger the plan: 20% of a
    # 1,000-stage compile). Off for the compile, back on after.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _compile_and_write(spec_file, provider, out, check, force, quiet, warn)
    finally:
        if enabled:
            gc.enable()


def _compile_and_write(
    spec_file: Path, provider: Sequence[str] | None, out: Path | None, check: bool, force: bool, quiet: bool,
    warn: bool = True,
) -> tuple[int, dict[str, str]]:
    from mlgen_runtime.contract import RUNTIME_DIR
    from mlgen.writer import obsolete_files, plan_changes, write_atomic

    out_dir = out if out is not None else spec_file.parent
    warnings: list[str] = []
    files = compile_files(spec_file, out_dir, provider, check, warnings)
    changes = plan_changes(out_dir, files)
    extra = obsolete_files(out_dir, files, RUNTIME_DIR) if any(f.startswith(RUNTIME_DIR + "/") for f in files) else []
    changes += extra
    blocked = sorted({f"{shown_path(c.blocker)} {c.why}" for c in changes if c.blocker is not None})
    if blocked:  # checked before anything is written, so a refused compile leaves no trace
        raise UsageError(f"cannot write the generated files: {'; '.join(blocked)}; move it away or pass another --out")
    # `mlgen run` compiles for itself (warn=False): the warnings are `mlgen compile`'s to give
    for warning in warnings if warn else ():
        err(f"mlgen: warning: {warning}")
    if check:
        stale = [c for c in changes if c.state != "unchanged"]
        for c in stale:
            err(f"stale: {shown_path(out_dir / c.path)} ({c.state}); run `mlgen compile`")
        lock_stale = _stale_lock(spec_file.parent, files)
        if lock_stale:
            err(f"stale: {lock_stale}")
            return EXIT_FAILED, files
        if not stale:
            echo(f"up to date: {len(changes)} files")
        return (EXIT_FAILED if stale else EXIT_OK), files
    foreign = [c for c in changes if c.state == "foreign"]
    if foreign and not force:
        names = ", ".join(shown_path(out_dir / c.path) for c in foreign)
        raise UsageError(
            f"refusing to overwrite {names}: not generated by mlgen (no header); "
            "move it away or pass --force"
        )
    written = [c for c in changes if c.state != "unchanged"]
    for i, c in enumerate(written):
        try:
            if c.path not in files:  # in the bundle folder, not in this bundle
                (out_dir / c.path).unlink()
                continue
            write_atomic(out_dir / c.path, files[c.path], durable=c.state == "foreign")  # replaces a person's file
        except OSError as exc:  # a full disk, a read-only folder: each file is whole, the set is not
            raise UsageError(
                f"cannot write {shown_path(out_dir / c.path)}: {exc.strerror or exc}; {i} of {len(written)} "
                "files were written before it; fix the cause and run `mlgen compile` again"
            ) from None
    if not quiet:
        for c in written:
            echo(f"{'removed' if c.path not in files else c.state:>9}  {shown_path(out_dir / c.path)}")
        removed = sum(c.path not in files for c in written)
        echo(f"mlgen: {len(written) - removed} written, " + (f"{removed} removed, " if removed else "")
             + f"{len(changes) - len(written)} unchanged")
    return EXIT_OK, files


def _stale_lock(spec_dir: Path, files: dict[str, str]) -> str | None:
    """Why mlgen.lock is stale (the same check the first CI step runs), None when current or
    unlocked."""
    from mlgen_runtime.lockcheck import INPUTS_PATH, stale_reason

    inputs = files.get(INPUTS_PATH)
    try:
        return stale_reason(spec_dir, inputs) if inputs is not None else None
    except OSError as exc:  # a requirements file or the lock went missing meanwhile
        return f"cannot check mlgen.lock: {exc}; run `mlgen lock`"


def lock_cmd(spec: Path | None = None, upgrade: bool = False) -> int:
    """`mlgen lock`; returns the exit code (raises SpecError / UsageError)."""
    from mlgen.lockfile import lock_cmd as run_lock

    return run_lock(spec_path(spec), upgrade)


def run_cmd(
    stages: Sequence[str] | None = None,
    spec: Path | None = None,
    force: bool = False,
    approve: Sequence[str] | None = None,
    schedule: bool = False,
) -> int:
    """`mlgen run`: compile (skipped when the plan is current, see runstamp.py), then run the
    plan locally; returns the exit code."""
    from mlgen import runstamp
    from mlgen.localrun import SCHEDULE, run_plan
    from mlgen.runlock import run_lock
    from mlgen.runview import print_start, print_summary

    if schedule:
        if stages:
            raise UsageError("--schedule runs the scheduled pipeline; do not name jobs with it")
        stages = [SCHEDULE]
    spec_file = spec_path(spec)
    root = spec_file.parent
    with run_lock(root):  # one run at a time: a second one stops with one line
        if not runstamp.is_current(spec_file, root):
            _, files = _compile(spec_file, None, None, check=False, force=False, quiet=True, warn=False)
            runstamp.record(spec_file, root, files)
        try:
            outcomes = run_plan(root, stages or (), force=force, approve=approve or (), on_start=print_start)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    print_summary(outcomes)
    failed = [o.code for o in outcomes if o.status == "failed"]
    return max(failed) if failed else EXIT_OK
