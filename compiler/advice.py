"""Warnings `mlgen compile` prints on stderr (`mlgen: warning: ...`) without stopping: choices
that work but cost a team later (installs without a lock, a registry folder on runners that
discard it). Each check is a pure function of the loaded spec, its folder and the plan; the
list below is the one place that says which checks run, in the order they are shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgen.spec.model import Spec
    from mlgen_runtime.contract import Plan

Check = Callable[["Spec", Path, "Plan"], list[str]]

from mlgen.backends.registry_advice import folder_registry_warnings  # noqa: E402
from mlgen.lockfile import lock_warnings  # noqa: E402
CHECKS: tuple[Check, ...] = (lock_warnings, folder_registry_warnings)


def compile_warnings(spec: Spec, spec_dir: Path, plan: Plan) -> tuple[str, ...]:
    """Every check's warnings, in CHECKS order, each once."""
    found: list[str] = []
    for check in CHECKS:
        found.extend(w for w in check(spec, spec_dir, plan) if w not in found)
    return tuple(found)
