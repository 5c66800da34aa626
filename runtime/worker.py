"""`python -m mlgen_runtime.worker REQUESTS_FD ANSWERS_FD`: run many runtime invocations in one
process. A local-run optimisation of `mlgen run` only; CI runs one `python -m mlgen_runtime`
process per job, and nothing here changes what a stage does.

`mlgen run` starts the worker with the job's environment and working directory (the repository
root) instead of a new interpreter per command, so pandas, scikit-learn and friends are imported
once. Protocol, one JSON object per line: the worker says {"ready": true} on ANSWERS_FD, then for
each {"argv": [...]} read from REQUESTS_FD it runs `mlgen_runtime.cli.main(argv)` and answers
{"rc": N} once the stage's output is flushed; it exits at end of input.

What `python -m mlgen_runtime ARGS` would do, it does: the exit code (SystemExit codes as the
interpreter maps them, an uncaught exception prints its traceback and gives 1), stdout and stderr
are the inherited ones, flushed before the answer. A stage must not leak state into the next, so
after each one the worker puts back the environment, the working directory, sys.argv, sys.path,
sys.stdout/stderr, the warnings filters, logging's root handlers, matplotlib's rc settings and
open pyplot figures. What it keeps on purpose: imported modules, and the memo of parsed data
files, splits, loaded models and file hashes (data.enable_memo, modelio.enable_memo,
fsutil.enable_sha_memo), keyed by what identifies their content (file stat with ctime, sha256), so
a changed file is read again. And while an estimator fits
(native code, one core with OMP_NUM_THREADS=1), skops, which the save after it imports, is imported
on the other core, and while validate parses the data file, scikit-learn's split (`imports_alongside`).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator
from typing import Any, TextIO

MAIN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__main__.py")
ACTIVE = False  # True inside a worker process (set by `serve`)


@contextlib.contextmanager
def imports_alongside(modules: list[str]) -> Iterator[None]:
    """In the worker only: import `modules` in a background thread while the body runs, and wait
    for them at its end. For a body that runs native code without the GIL and imports nothing
    (an estimator's fit): the imports a later step or stage needs then use the otherwise idle
    core. A separate process (CI) imports them when it needs them, as before; nothing else
    differs. Import errors are left to the code that really imports the module."""
    todo = [m for m in modules if m not in sys.modules]
    if not ACTIVE or not todo:
        yield
        return

    def load() -> None:
        for name in todo:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the real import will report it
                return

    thread = threading.Thread(target=load, name="mlgen-imports", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


class _State:
    """The process state a stage might change, captured between stages."""

    def __init__(self) -> None:
        self.env = dict(os.environ)
        self.cwd = os.getcwd()
        self.argv = list(sys.argv)
        self.path = list(sys.path)
        self.stdout, self.stderr = sys.stdout, sys.stderr
        self.warnings = list(warnings.filters)
        self.logging: tuple[list[Any], int] | None = None
        if "logging" in sys.modules:
            import logging

            self.logging = (list(logging.root.handlers), logging.root.level)

    def restore(self) -> None:
        if dict(os.environ) != self.env:
            os.environ.clear()
            os.environ.update(self.env)
        if os.getcwd() != self.cwd:
            os.chdir(self.cwd)
        sys.argv[:] = self.argv
        sys.path[:] = self.path
        sys.stdout, sys.stderr = self.stdout, self.stderr
        warnings.filters[:] = self.warnings
        mutated = getattr(warnings, "_filters_mutated", None)  # drops the per-module caches
        if mutated is not None:
            mutated()
        if "logging" in sys.modules:
            import logging

            handlers, level = self.logging if self.logging is not None else ([], logging.WARNING)
            logging.root.handlers[:] = handlers
            logging.root.setLevel(level)
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
        if "matplotlib" in sys.modules:
            sys.modules["matplotlib"].rc_file_defaults()  # rc from the file, as a new process reads it


def exit_code(exc: SystemExit) -> int:
    """The status the interpreter would exit with for this SystemExit."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run_one(argv: list[str], state: _State) -> int:
    """One `python -m mlgen_runtime ARGV`, in this process; the state is restored afterwards."""
    from mlgen_runtime.cli import main

    sys.argv[:] = [MAIN_PATH, *argv]
    try:
        rc = exit_code(SystemExit(main(argv)))
    except SystemExit as exc:
        rc = exit_code(exc)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - what the interpreter does with an uncaught one
        tb = exc.__traceback__
        if tb is not None and tb.tb_frame.f_code is run_one.__code__:
            tb = tb.tb_next  # start at the stage, as `python -m` shows it
        traceback.print_exception(type(exc), exc, tb)
        rc = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        state.restore()
    return rc


def serve(requests: TextIO, answers: TextIO) -> None:
    from mlgen_runtime import data, fsutil, modelio

    global ACTIVE
    ACTIVE = True
    data.enable_memo()
    modelio.enable_memo()
    fsutil.enable_sha_memo()
    state = _State()
    # "active": what the stages will read (this module as the package imports it), for the tests
    active = getattr(sys.modules.get("mlgen_runtime.worker"), "ACTIVE", False)
    answers.write(json.dumps({"ready": True, "active": active}) + "\n")
    answers.flush()
    for line in requests:
        if not line.strip():
            continue
        argv = [str(a) for a in json.loads(line)["argv"]]
        rc = run_one(argv, state)
        answers.write(json.dumps({"rc": rc}) + "\n")
        answers.flush()


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    if len(args) != 2 or not all(a.isdigit() for a in args):
        print("usage: python -m mlgen_runtime.worker REQUESTS_FD ANSWERS_FD", file=sys.stderr)
        return 2
    with os.fdopen(int(args[0]), "r", encoding="utf-8") as requests, \
            os.fdopen(int(args[1]), "w", encoding="utf-8") as answers:
        serve(requests, answers)
    return 0


if __name__ == "__main__":
    # Run the package's copy of this module: `python -m` executes this file as __main__, a
    # second module object, and the stages read ACTIVE from mlgen_runtime.worker.
    from mlgen_runtime.worker import main as package_main

    try:
        code = package_main()
    except KeyboardInterrupt:  # Ctrl-C between stages: `mlgen run` reports it, in one line
        code = 130
    # Every stage's files are written and closed and its output flushed: skip the interpreter's
    # teardown of pandas, scikit-learn & co. (half a second of a run's wall time), as
    # multiprocessing's workers do.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
