"""The compile pipeline: spec file -> plan -> every output file, as {relative path: text}."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlgen import backends
from mlgen.errors import Diagnostic, SpecError
from mlgen.plan.ir import PLAN_PATH, Plan
from mlgen.plan.lower import lower
from mlgen.plan.serialize import plan_json
from mlgen.spec.load import load_spec


@dataclass(frozen=True)
class Compiled:
    plan: Plan
    files: dict[str, str]  # relative to the output dir


def spec_display_path(spec: Path, out_dir: Path) -> str:
    """How generated files name the spec: relative to the output dir, POSIX separators."""
    try:
        rel = os.path.relpath(spec.resolve(), out_dir.resolve())
    except ValueError:  # another drive on Windows
        rel = spec.name
    return Path(rel).as_posix()


def build_plan(spec_file: Path, out_dir: Path, providers: tuple[str, ...] | None = None) -> Plan:
    loaded = load_spec(spec_file, display=_shown(spec_file))
    return lower(loaded.spec, spec_display_path(spec_file, out_dir), loaded.raw, providers)


def compile_spec(spec_file: Path, out_dir: Path, providers: tuple[str, ...] | None = None) -> Compiled:
    """Load, check and lower the spec, then render each provider. Raises SpecError."""
    plan = build_plan(spec_file, out_dir, providers)
    files: dict[str, str] = {PLAN_PATH: plan_json(plan)}
    for provider in plan.providers:
        try:
            files.update(backends.render(provider, plan))
        except ValueError as exc:
            # Backends re-check what they write; the spec checks should have caught it first.
            diag = Diagnostic(plan.spec_path, 1, 1, "E300", "", f"cannot write the {provider} pipeline: {exc}",
                              "please report this: the spec checks should have rejected it")
            raise SpecError([diag]) from None
    return Compiled(plan, dict(sorted(files.items())))


def _shown(spec_file: Path) -> str:
    """Path used in error messages: as the user typed it, relative to the cwd when possible."""
    try:
        return Path(os.path.relpath(spec_file)).as_posix()
    except ValueError:
        return spec_file.as_posix()


def find_spec(start: Path) -> Path:
    """mlproject.toml, else pyproject.toml with [tool.mlgen], in `start`."""
    candidate = start / "mlproject.toml"
    if candidate.exists():
        return candidate
    py = start / "pyproject.toml"
    if py.exists() and "[tool.mlgen" in py.read_text(encoding="utf-8", errors="replace"):
        return py
    return candidate  # reported as not found
