"""The `mlgen` command line. Each command returns an exit code: 0 ok, 1 check failed, 2 bad input.

The commands are a typer app (cli_app.py): every argument list goes to it, which gives the help
text and click's usage errors (exit 2).

No path ends in a traceback: spec errors and usage errors are exit 2 with their message, an
OSError (a folder where a file must go, a full disk) is exit 2 naming the file, and anything
else is a bug in mlgen: one line and exit 70 (MLGEN_DEBUG=1 shows the traceback).
"""

from __future__ import annotations

import os
import sys

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


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command and turn known errors into messages and exit codes."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
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
