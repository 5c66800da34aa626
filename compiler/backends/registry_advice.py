"""Compile warning: a folder registry on runners that discard it.

A folder registry (`deploy.registry` neither `mlflow+...` nor an object-storage URL) only keeps
deploys where the job's runner keeps a volume. mlgen warns where it knows the runner is hosted
and throws the workspace away: GitHub, whose generated jobs run on GitHub-hosted `ubuntu-*`
images. GitLab and Jenkins are not warned for: whether their runners or agents keep a shared
path (MLGEN_REGISTRY as a CI/CD variable, or the agent's environment) is the runner operator's
setup, which the spec does not say, and their generated headers name the variable. The warning
cannot see a repository variable MLGEN_REGISTRY already set: it says so."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlgen.backends.common import REGISTRY_VAR
from mlgen.spec.rules import is_mlflow, is_object_store

if TYPE_CHECKING:
    from mlgen.spec.model import Spec
    from mlgen_runtime.contract import Plan


def folder_registry_warnings(spec: Spec, spec_dir: Path, plan: Plan) -> list[str]:
    if spec.deploy is None or "github" not in plan.providers:
        return []
    registry = spec.deploy.registry
    if is_mlflow(registry) or is_object_store(registry):
        return []
    from mlgen.backends.github.render import RUNNER

    if not RUNNER.startswith("ubuntu-"):  # pragma: no cover - the generated jobs' runs-on
        return []
    return [
        f"github: deploy.registry {registry!r} is a folder, and GitHub-hosted runners (runs-on: {RUNNER})"
        f" discard it after every job: set the repository variable {REGISTRY_VAR} to an object-storage URL"
        " (s3://bucket/prefix, gs://..., az://container/prefix) or to a path on a self-hosted runner's"
        " volume (ignore this if it is set)"
    ]
