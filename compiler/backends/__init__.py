"""Provider backends and their registry (the protocol is spelled out in CONTRACT.md).

A backend is one package with three modules: `__init__` (`render(plan)`, `read(files)`),
`constraints` (`CONSTRAINTS`, a `Constraints`: what the provider refuses or reads specially in
user strings, and the files it writes) and `paths` (`path_problem(role, path)`). The two small
modules import only the standard library, so the spec checks ask them without loading a renderer.

Where backends come from: every sub-package of this folder (the built-ins), then every entry
point of the group `mlgen.backends` (name = the provider, value = the package's import name), so
a package (or a test) adds a provider without touching mlgen.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mlgen.backends.common import ReadJob
    from mlgen_runtime.contract import Plan

ENTRY_POINT_GROUP = "mlgen.backends"


@dataclass(frozen=True)
class Constraints:
    """What one provider cannot carry in the strings of a spec, and the files it writes."""

    # regexes of the files `render` writes, relative to the output folder (pre-commit's `files:`)
    outputs: tuple[str, ...]
    # job names the provider reads as something else than a job (GitLab's top-level keywords)
    reserved_job_names: frozenset[str] = frozenset()
    # a stage name must match this whole (on top of the spec's own name pattern), else
    # (message, hint) of E207
    job_id_pattern: str | None = None
    job_id_problem: tuple[str, str] = ("is not a valid job id here", "rename the stage")
    # the provider names the shard executions of a job `<job>-<i>` (those names are taken)
    shard_job_names: bool = False
    # characters no user string may hold for this provider (E208)
    forbidden_characters: str = ""
    # (opener, what it opens): text the provider evaluates before the shell sees it (E208)
    expression_openers: tuple[tuple[str, str], ...] = ()
    # Environment variables a secret may not be named (a secret reaches a job as a variable of
    # the same name): the provider's own namespaces, and the names and prefixes that change how
    # its jobs or the tools its own steps run behave
    env_prefixes: tuple[str, ...] = ()
    env_names: frozenset[str] = frozenset()
    env_tool_prefixes: tuple[str, ...] = ()
    # compiled for a spec that sets no `ci.providers` (GitHub, GitLab, Jenkins; a provider added
    # later says False, so upgrading mlgen never writes new CI files into a user's repository)
    default: bool = True


class Unsupported(ValueError):
    """A plan the provider cannot express (one of its limits, not a bug of mlgen): `render` raises
    it, and compile reports it as a spec error with this hint instead of "please report this"."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


class BackendModule(Protocol):
    """What a backend package's `__init__` exposes."""

    def render(self, plan: Plan) -> dict[str, str]: ...

    def read(self, files: dict[str, str]) -> list[ReadJob]: ...


@dataclass(frozen=True)
class Backend:
    """One registered provider: its name and the package that implements it."""

    name: str
    package: str  # import name, e.g. `mlgen.backends.github`
    builtin: bool

    @property
    def constraints(self) -> Constraints:
        return _constraints(self.package)

    def module(self) -> BackendModule:
        mod: BackendModule = importlib.import_module(self.package)  # type: ignore[assignment]
        return mod

    def render(self, plan: Plan) -> dict[str, str]:
        return self.module().render(plan)

    def read(self, files: dict[str, str]) -> list[ReadJob]:
        return self.module().read(files)

    def path_problem(self, role: str, path: str) -> tuple[str, str] | None:
        fn: Callable[[str, str], tuple[str, str] | None] = importlib.import_module(f"{self.package}.paths").path_problem
        return fn(role, path)


@cache
def _constraints(package: str) -> Constraints:
    found = importlib.import_module(f"{package}.constraints").CONSTRAINTS
    if not isinstance(found, Constraints):
        raise TypeError(f"{package}.constraints.CONSTRAINTS is not a mlgen.backends.Constraints")
    return found


@cache
def registry() -> dict[str, Backend]:
    """Every provider by name: the built-in folders (in name order), then the entry points."""
    found = {
        info.name: Backend(info.name, f"{__name__}.{info.name}", True)
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
        if info.ispkg
    }
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name not in found:  # a built-in keeps its name
            found[ep.name] = Backend(ep.name, ep.module, False)
    return found


def names() -> tuple[str, ...]:
    """Every registered provider (the values `ci.providers` and `--provider` accept)."""
    return tuple(registry())


def builtin_names() -> tuple[str, ...]:
    """The providers that ship with mlgen."""
    return tuple(b.name for b in registry().values() if b.builtin)


def default_names() -> tuple[str, ...]:
    """The default of `ci.providers`: the built-ins whose constraints say `default`."""
    return tuple(b.name for b in registry().values() if b.builtin and b.constraints.default)


def get(provider: str) -> Backend:
    return registry()[provider]


def __getattr__(name: str) -> object:
    if name == "PROVIDERS":  # computed on first use: entry points are read only when asked
        return names()
    raise AttributeError(name)


def render(provider: str, plan: Plan) -> dict[str, str]:
    """Render `plan` for `provider`; keys are paths relative to the output dir."""
    return get(provider).render(plan)


def read(provider: str, files: dict[str, str]) -> list[ReadJob]:
    """Recover jobs, needs and commands from a provider's generated files (parity tests)."""
    return get(provider).read(files)


def constraints(provider: str) -> Constraints:
    return get(provider).constraints


# The spec keys whose values are repository paths, by role (what `path_problem` is asked about).
PATH_ROLES = ("data", "reference", "monitor", "requirements", "deps", "outs")


def path_problem(provider: str, role: str, path: str) -> tuple[str, str] | None:
    """(message, hint) when `provider` cannot write `path` (a value of a spec key of `role`,
    one of PATH_ROLES) exactly as written, else None. Each backend's `paths.py` says what its
    files do with a path and escapes what has an escape; the spec checks ask it before anything
    is rendered, so the user gets the key and the place instead of a render error."""
    problem = get(provider).path_problem(role, path)
    if problem is None:
        return None
    return problem[0], f"{problem[1]}, or leave `{provider}` out of ci.providers"


# What makes `mlgen compile --check` worth running besides the providers' own files.
SPEC_AND_PLAN_FILES = (r"mlproject\.toml", r"pyproject\.toml", r"\.mlgen/.*")


def precommit_files_pattern(providers: tuple[str, ...] | None = None) -> str:
    """The `files:` regex of the `mlgen-check` pre-commit hook: the spec, `.mlgen/` and every
    output of `providers` (default: the default providers, which the committed manifest ships with)."""
    chosen = default_names() if providers is None else providers
    outputs = [o for p in chosen for o in constraints(p).outputs]
    for o in outputs:
        re.compile(o)  # a bad regex is the backend's bug: fail here, not in pre-commit
    return "^(" + "|".join((*SPEC_AND_PLAN_FILES, *outputs)) + ")$"
