"""What every stage starts from: the plan (the runtime's only input besides data) and paths.

The plan is `.mlgen/plan.json` written by `mlgen compile`; `settings` in it is the normalized
spec. Paths in the spec are relative to the repository root, which is the working directory
of every CI job (and of `mlgen run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgen_runtime.contract import FORMAT_VERSION, OUT_DIR, Job, Plan, PlanError, read_plan
from mlgen_runtime.errors import BadInput

SUPPORTED_FORMAT = FORMAT_VERSION


@dataclass(frozen=True)
class Context:
    plan: Plan  # typed (contract.py); its `settings` is the spec as JSON
    root: Path  # repository root (cwd of the job)

    @property
    def settings(self) -> dict[str, Any]:
        return self.plan.settings

    @property
    def seed(self) -> int:
        return int(self.settings["project"]["seed"])

    def path(self, rel: str) -> Path:
        """A repository-relative path from the spec."""
        return self.root / rel

    def out(self, name: str) -> Path:
        """The folder a job writes and hands on as its artifact (.mlgen/out/<name>)."""
        return self.root / OUT_DIR / name

    def job(self, name: str) -> Job | None:
        return next((j for j in self.plan.jobs if j.name == name), None)


def load_context(plan_path: Path, root: Path | None = None) -> Context:
    """Read plan.json (contract.read_plan); refuse an unknown format. Integrity is checked by
    `integrity.verify`."""
    try:
        plan = read_plan(plan_path)
    except FileNotFoundError:
        raise BadInput(f"{plan_path}: plan not found; run `mlgen compile`") from None
    except PlanError as exc:
        raise BadInput(f"{plan_path}: {exc}; run `mlgen compile` with the matching mlgen") from None
    except (OSError, ValueError) as exc:
        raise BadInput(f"{plan_path}: unreadable plan ({exc}); run `mlgen compile`") from None
    return Context(plan=plan, root=(root or Path.cwd()).resolve())
