"""Provider backends. Each is a folder exposing `render(plan) -> {path: text}` and
`read(files) -> [ReadJob]`; adding a provider means adding one folder and one entry here."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgen.backends.common import ReadJob
    from mlgen.plan.ir import Plan

PROVIDERS: tuple[str, ...] = ("github", "gitlab", "jenkins")


def render(provider: str, plan: Plan) -> dict[str, str]:
    """Render `plan` for `provider`; keys are paths relative to the output dir."""
    mod = importlib.import_module(f"mlgen.backends.{provider}")
    fn: Callable[[Plan], dict[str, str]] = mod.render
    return fn(plan)


# The spec keys whose values are repository paths, by role (what `path_problem` is asked about).
PATH_ROLES = ("data", "reference", "monitor", "requirements", "deps", "outs")


def path_problem(provider: str, role: str, path: str) -> tuple[str, str] | None:
    """(message, hint) when `provider` cannot write `path` (a value of a spec key of `role`,
    one of PATH_ROLES) exactly as written, else None. Each backend's `paths.py` says what its
    files do with a path and escapes what has an escape; the spec checks ask it before anything
    is rendered, so the user gets the key and the place instead of a render error."""
    mod = importlib.import_module(f"mlgen.backends.{provider}.paths")
    fn: Callable[[str, str], tuple[str, str] | None] = mod.path_problem
    problem = fn(role, path)
    if problem is None:
        return None
    return problem[0], f"{problem[1]}, or leave `{provider}` out of ci.providers"


def read(provider: str, files: dict[str, str]) -> list[ReadJob]:
    """Recover jobs, needs and commands from a provider's generated files (parity tests)."""
    mod = importlib.import_module(f"mlgen.backends.{provider}")
    fn: Callable[[dict[str, str]], list[ReadJob]] = mod.read
    return fn(files)
