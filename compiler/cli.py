"""The `mlgen` command line. Each command returns an exit code: 0 ok, 1 check failed, 2 bad input.

The commands are a typer app (cli_app.py). Importing typer and building the command from its
annotations costs more than a whole compile, so `main` first tries a small parser for the two
commands that run most often, `mlgen compile` and `mlgen run`: when every argument is one of
their plain forms (`--spec PATH`, `--spec=PATH`, flags, names of jobs), it calls the same
functions (commands.py) directly. Anything else - `--help`, an unknown or incomplete option,
another command - goes to typer, which gives the help text and click's usage errors.

No path ends in a traceback: spec errors and usage errors are exit 2 with their message, an
OSError (a folder where a file must go, a full disk) is exit 2 naming the file, and anything
else is a bug in mlgen: one line and exit 70 (MLGEN_DEBUG=1 shows the traceback).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path


from mlgen.errors import EXIT_BAD_INPUT, SpecError, UsageError


DEBUG_ENV = "MLGEN_DEBUG"  # set: an internal error shows its traceback
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in mlgen, not in the user's input


def _err(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")


def _print_diagnostics(exc: SpecError) -> None:
    """Plain text for pipes and tests; colours (rich) on a terminal unless NO_COLOR is set."""
    if not sys.stderr.isatty() or os.environ.get("NO_COLOR"):
        _err(str(exc))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    for d in exc.diagnostics:
        line = Text(f"{d.file}:{d.line}:{d.col}: ", style="bold")
        line.append(f"error[{d.code}]", style="bold red")
        line.append(f": {d.path + ': ' if d.path else ''}{d.message}")
        console.print(line)
        for row in d.frame():  # the source line and its caret
            console.print(Text(row, style="bold red" if row.rstrip().endswith("^") else ""))
        if d.hint:
            console.print(Text(f"  hint: {d.hint}", style="cyan"))


# ------------------------------------------------------------------ the fast path

# command -> (flags, options that take a value (and may repeat), option -> parameter name,
# whether positional arguments are allowed)
_FLAGS = {
    "compile": {"--check": "check", "--force": "force", "--quiet": "quiet", "-q": "quiet"},
    "run": {"--force": "force", "--schedule": "schedule"},
}
_VALUED = {
    "compile": {"--spec": "spec", "--provider": "provider", "--out": "out"},
    "run": {"--spec": "spec", "--approve": "approve"},
}
_REPEATABLE = {"provider", "approve"}
_PATHS = {"spec", "out"}


def parse_fast(argv: list[str]) -> tuple[str, dict[str, object]] | None:
    """(command, keyword arguments) when `argv` is a plain `compile` or `run` invocation, else
    None (typer handles it). Conservative: anything unusual is left to typer."""
    if not argv or argv[0] not in _FLAGS:
        return None
    command, rest = argv[0], argv[1:]
    flags, valued = _FLAGS[command], _VALUED[command]
    kwargs: dict[str, object] = {}
    positional: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        i += 1
        if arg in flags:
            kwargs[flags[arg]] = True
            continue
        name, value = arg, None
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
        if name in valued:
            if value is None:
                if i >= len(rest):
                    return None  # click: "Option '--spec' requires an argument."
                value = rest[i]
                i += 1
            if not value or value.startswith("-"):
                return None
            param = valued[name]
            if param in _REPEATABLE:
                kwargs.setdefault(param, [])
                kwargs[param].append(value)  # type: ignore[attr-defined]
            elif param in kwargs:
                return None  # given twice: leave click's rule (the last one wins) to click
            else:
                kwargs[param] = Path(value) if param in _PATHS else value
            continue
        if arg.startswith("-") or command != "run" or not arg:
            return None  # --help, an unknown option, "--", or an argument `compile` does not take
        positional.append(arg)
    if positional:
        kwargs["stages"] = positional
    return command, kwargs


def _fast(argv: list[str]) -> Callable[[], int] | None:
    parsed = parse_fast(argv)
    if parsed is None:
        return None
    command, kwargs = parsed
    from mlgen import commands

    fn: Callable[..., int] = commands.compile_cmd if command == "compile" else commands.run_cmd
    return lambda: fn(**kwargs)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command and turn known errors into messages and exit codes."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        fast = _fast(args)
        if fast is not None:
            return fast()
        from mlgen.cli_app import run_app

        return run_app(args)
    except SpecError as exc:
        _print_diagnostics(exc)
        n = len(exc.diagnostics)
        _err(f"mlgen: {n} error{'s' if n != 1 else ''}; nothing written")
        return EXIT_BAD_INPUT
    except UsageError as exc:
        _err(f"mlgen: error: {exc}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _err("mlgen: interrupted")
        return 130
    except OSError as exc:  # a folder in a file's place, a full disk, a read-only mount
        where = f"{exc.filename}: " if exc.filename else ""
        _err(f"mlgen: error: {where}{exc.strerror or exc}")
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get(DEBUG_ENV):
            raise
        _err(f"mlgen: internal error: {type(exc).__name__}: {exc} (a bug in mlgen; set {DEBUG_ENV}=1 "
             "to see the traceback)")
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
