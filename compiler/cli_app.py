"""The typer app behind `mlgen`: every command, --help and click's usage errors.

cli.main hands it every argument list and turns errors into exit codes; the commands' work
lives in commands.py.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlgen import commands
from mlgen.errors import EXIT_BAD_INPUT, EXIT_OK, UsageError

app = typer.Typer(
    name="mlgen",
    help="Compile mlproject.toml into GitHub Actions, GitLab CI and Jenkins pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Paths are taken as text and made Path objects here, not by click's Path type: click encodes
# the value to check it and stops a name it cannot encode with a usage error, before mlgen's
# own one-line refusal of an unwritable name (headertext.py) can say which path it was.
SpecOpt = Annotated[
    Optional[str],
    typer.Option("--spec", metavar="PATH",
                 help="Spec file (default: ./mlproject.toml, else \\[tool.mlgen] in ./pyproject.toml)."),
]


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


@app.command("compile")
def compile_cmd(
    spec: SpecOpt = None,
    provider: Annotated[
        Optional[list[str]], typer.Option("--provider", metavar="NAME", help="Only this provider (repeatable); default: ci.providers.")
    ] = None,
    out: Annotated[Optional[str], typer.Option("--out", metavar="DIR", help="Output folder (default: the spec's folder).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if generated files are stale.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that mlgen did not generate.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
) -> None:
    """Validate the spec and write the pipelines, .mlgen/plan.json and the schema."""
    raise typer.Exit(commands.compile_cmd(_path(spec), provider, _path(out), check, force, quiet))


@app.command("lock")
def lock_cmd(
    spec: SpecOpt = None,
    upgrade: Annotated[bool, typer.Option("--upgrade", help="Bump every pin to the newest allowed version.")] = False,
) -> None:
    """Resolve what the jobs install into mlgen.lock (exact versions and hashes, for the spec's Python on Linux)."""
    raise typer.Exit(commands.lock_cmd(_path(spec), upgrade))


@app.command("validate")
def validate_cmd(spec: SpecOpt = None) -> None:
    """Check the spec only; write nothing."""
    from mlgen.spec.load import load_spec
    from mlgen.compile import shown_path

    spec_file = commands.spec_path(_path(spec))
    load_spec(spec_file, display=shown_path(spec_file))
    typer.echo(f"{shown_path(spec_file)}: ok")


@app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of mlproject.toml."""
    from mlgen.schema import packaged_schema

    sys.stdout.write(packaged_schema())


@app.command("init")
def init_cmd(
    directory: Annotated[Path, typer.Argument(help="Project folder.")] = Path("."),
    template: Annotated[
        str,
        typer.Option(
            "--template", "-t",
            help="Starter: classification (default; breast cancer), regression (diabetes) or "
            "custom-stages (wine, with get-data and featurize stages).",
        ),
    ] = "classification",
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing mlproject.toml and example scripts.")
    ] = False,
    data: Annotated[
        Optional[Path],
        typer.Option("--data", help="Start from your own .csv/.parquet file (inside DIRECTORY): the data contract "
                     "is inferred from it. Needs --target."),
    ] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="With --data: the column to predict.")] = None,
) -> None:
    """Write a starter project that runs as written: mlproject.toml (with a #:schema line for
    editors), its schema, and the script that makes its example data (`mlgen run` next).
    With --data and --target: a spec for your own file instead, its contract read off the file."""
    from mlgen.init import TEMPLATES, data_files, init_files, unknown_template_message, user_files
    from mlgen.writer import write_atomic

    if template not in TEMPLATES:
        raise UsageError(unknown_template_message(template))
    if (data is None) != (target is None):
        raise UsageError("--data and --target go together: mlgen init --data PATH --target COLUMN")
    if data is not None and template != "classification":
        raise UsageError("--template and --data exclude each other: --data writes a spec for your own data")
    files = init_files(directory, template) if data is None else data_files(directory, data, target or "")
    existing = [(directory / rel).as_posix() for rel in user_files(files) if (directory / rel).exists()]
    if existing and not force:
        raise UsageError(f"already exists: {', '.join(existing)}; pass --force to replace")
    for rel, text in files.items():
        write_atomic(directory / rel, text, durable=True)  # the user's own spec from now on
        typer.echo(f"wrote {(directory / rel).as_posix()}")
    where = "" if directory.resolve() == Path.cwd().resolve() else f"cd {directory.as_posix()} && "
    if data is not None:
        typer.echo(f"next: {where}mlgen run   (validates your data against the contract, trains, evaluates, deploys)")
        return
    typer.echo(f"next: {where}mlgen run   (makes the example data, then validates, trains, evaluates, deploys)")


@app.command("graph")
def graph_cmd(
    spec: SpecOpt = None,
    mermaid: Annotated[bool, typer.Option("--mermaid", help="Print a Mermaid flowchart.")] = False,
) -> None:
    """Print the job DAG (text, or Mermaid with --mermaid)."""
    from mlgen.compile import build_plan
    from mlgen.graph import as_mermaid, as_text

    spec_file = commands.spec_path(_path(spec))
    plan = build_plan(spec_file, spec_file.parent)
    sys.stdout.write(as_mermaid(plan) if mermaid else as_text(plan))


@app.command("run")
def run_cmd(
    stages: Annotated[Optional[list[str]], typer.Argument(metavar="JOB", help="Jobs or stage kinds to run (with what they need); default: what a push runs.")] = None,
    spec: SpecOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rerun jobs even when their inputs are unchanged.")] = False,
    approve: Annotated[
        Optional[list[str]], typer.Option("--approve", metavar="ENV", help="Approve a manual environment (repeatable).")
    ] = None,
    schedule: Annotated[
        bool, typer.Option("--schedule", help="Run as a scheduled pipeline: the monitor, then retraining if it drifted.")
    ] = False,
) -> None:
    """Compile, then run the plan locally with the bundled runtime (unchanged jobs are skipped)."""
    raise typer.Exit(commands.run_cmd(stages, _path(spec), force, approve, schedule))


@app.command("registry")
def registry_cmd(
    action: Annotated[str, typer.Argument(help="list | promote | rollback")],
    env: Annotated[Optional[str], typer.Option("--env", help="Environment (promote, rollback).")] = None,
    version: Annotated[Optional[int], typer.Option("--version", help="Version to promote.")] = None,
    to: Annotated[Optional[int], typer.Option("--to", help="Rollback target (default: the previous one).")] = None,
    spec: SpecOpt = None,
) -> None:
    """Look at and move the model registry (runs the bundled runtime)."""
    import subprocess

    from mlgen_runtime.contract import PLAN_PATH, RUNTIME_DIR, RUNTIME_MODULE

    root = commands.spec_path(_path(spec)).parent
    if action not in ("list", "promote", "rollback"):
        raise UsageError(f"unknown registry action `{action}`; expected list, promote or rollback")
    if not (root / PLAN_PATH).exists():
        raise UsageError(f"{(root / PLAN_PATH).as_posix()} not found; run `mlgen compile` first")
    args = ["registry", "list"] if action == "list" else [action]
    if action in ("promote", "rollback"):
        if not env:
            raise UsageError(f"`mlgen registry {action}` needs --env")
        args += ["--env", env]
    if action == "promote":
        if version is None:
            raise UsageError("`mlgen registry promote` needs --version")
        args += ["--version", str(version)]
    if action == "rollback" and to is not None:
        args += ["--to", str(to)]
    if action in ("promote", "rollback"):
        # both load the model they point the environment at (skops, scikit-learn): without the
        # runtime's packages that is one line here instead of the runtime's ImportError
        from mlgen.localrun import missing_here, runtime_missing_message

        missing = missing_here()
        if missing:
            raise UsageError(runtime_missing_message(missing, sys.executable))
    env_vars = {**os.environ, "PYTHONPATH": RUNTIME_DIR}
    cmd = [sys.executable, "-m", RUNTIME_MODULE, args[0], "--plan", PLAN_PATH, *args[1:]]
    raise typer.Exit(subprocess.run(cmd, cwd=root, env=env_vars).returncode)


@app.command("serve")
def serve_cmd(
    env: Annotated[Optional[str], typer.Option("--env", help="Environment whose alias is served (default: serve.environment, else the last environment).")] = None,
    host: Annotated[Optional[str], typer.Option("--host", help="Address to bind (default: serve.host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="TCP port (default: serve.port, 8000; 0: any free port).")] = None,
    spec: SpecOpt = None,
) -> None:
    """Serve the model behind an environment's registry alias over HTTP (POST /predict, /feedback;
    GET /health, /version, /metrics), following promotions and rollbacks, logging every prediction."""
    from mlgen.serve_cmd import serve_cmd as run_serve

    raise typer.Exit(run_serve(_path(spec), env, host, port))


def run_app(argv: list[str] | None) -> int:
    """Run the typer app; typer's Exit and click's usage errors become exit codes (SpecError,
    UsageError and Ctrl-C propagate to cli.main)."""
    # typer turns Ctrl-C into a silent exit 130, like a command's own 130: note the signal
    # itself, so that cli.main reports it in one line as for every other command
    interrupted: list[bool] = []

    def on_sigint(signum: int, frame: object) -> None:
        interrupted.append(True)
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    try:
        return _run_app(argv)
    finally:
        if main_thread and previous is not None:
            signal.signal(signal.SIGINT, previous)
        if interrupted:
            raise KeyboardInterrupt


def _run_app(argv: list[str] | None) -> int:
    try:
        # with standalone_mode=False click returns typer.Exit's code instead of raising it
        rc = app(args=argv, prog_name="mlgen", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:
        # click's usage errors (typer vendors click, so match by shape, not by class)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            return EXIT_BAD_INPUT
        if type(exc).__name__ == "Abort":
            # click turns Ctrl-C (and EOF at a prompt) into Abort: cli.main says it in one line
            raise KeyboardInterrupt from None
        raise
    return rc if isinstance(rc, int) else EXIT_OK
