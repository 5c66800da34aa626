"""The spec: a strict, frozen pydantic model of mlproject.toml (the contract in DESIGN.md).

Field-level rules live here (types, ranges, patterns, enums); rules that relate several parts
of the spec (references, cycles, gates on metrics) live in `semantic.py`. The JSON Schema in
schemas/ is generated from these classes, so descriptions here are what editors show.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
# Relative POSIX paths inside the repository, in characters no CI provider expands or splits.
# No `,` (Jenkins stash patterns split on it), no `$` (GitLab expands it in artifact paths).
PATH_PATTERN = r"^[A-Za-z0-9_.@+=-][A-Za-z0-9_.@+=/-]*$"
BRANCH_PATTERN = r"^[A-Za-z0-9_]([A-Za-z0-9._/-]{0,98}[A-Za-z0-9_])?$"
DOTTED_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"
CRON_PATTERN = r"^\S+( \S+){4}$"



def _inside_repo(path: str) -> str:
    # the pattern cannot say this: the JSON Schema / Rust regex engines have no look-around
    if ".." in path.split("/"):
        raise ValueError("must stay inside the repository (no `..`)")
    return path


Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
RelPath = Annotated[str, StringConstraints(pattern=PATH_PATTERN, max_length=255), AfterValidator(_inside_repo)]
Branch = Annotated[str, StringConstraints(pattern=BRANCH_PATTERN)]
Scalar = Union[bool, int, float, str]

CLASSIFICATION_METRICS = (
    "accuracy", "balanced_accuracy", "f1", "f1_macro", "f1_weighted", "log_loss",
    "precision", "recall", "roc_auc",
)
REGRESSION_METRICS = ("explained_variance", "mae", "mape", "mse", "r2", "rmse")
# Metrics where lower is better: a gate's `max_drop` means "may not rise by more than".
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "mape", "mse", "rmse"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Project(_Strict):
    name: Name = Field(description="Project name; used in pipeline and model names.")
    python: Annotated[str, StringConstraints(pattern=r"^3\.[0-9]{1,2}$")] = Field(
        "3.12", description='Python version the pipelines run, e.g. "3.12".'
    )
    requirements: list[RelPath] = Field(
        default_factory=list, description="requirements files installed in every job."
    )
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = Field(
        0, description="Seed for every random_state (splits, estimators, search)."
    )


class Column(_Strict):
    type: Literal["int", "float", "category", "bool", "str", "datetime"]
    min: float | None = None
    max: float | None = None
    values: list[Union[str, int]] | None = Field(
        None, description="Allowed values (category columns)."
    )
    nullable: bool = False


class Data(_Strict):
    path: RelPath = Field(description="Training data, .csv or .parquet.")
    target: Annotated[str, StringConstraints(min_length=1)]
    task: Literal["classification", "regression"]
    reference: RelPath | None = Field(None, description="Baseline data for drift checks.")
    test_size: Annotated[float, Field(gt=0, lt=1)] = 0.2
    columns: dict[str, Column] = Field(
        default_factory=dict, description="The data contract, one entry per column."
    )
    allow_extra: bool = Field(False, description="Accept columns that are not in the contract.")


class Drift(_Strict):
    method: Literal["ks", "psi", "chi2"] = "psi"
    threshold: Annotated[float, Field(gt=0)] = 0.2


class Validate(_Strict):
    min_rows: Annotated[int, Field(ge=0)] = 1
    max_null_fraction: Annotated[float, Field(ge=0, le=1)] = 0.0
    max_duplicate_fraction: Annotated[float, Field(ge=0, le=1)] = Field(
        0.05, description="Largest share of fully duplicated rows in the training data."
    )
    max_overlap_fraction: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="Largest share of held-out rows that also occur in the training split (leakage)."
    )
    drift: Drift | None = None


class Search(_Strict):
    strategy: Literal["grid", "random"] = "grid"
    space: dict[str, Annotated[list[Scalar], Field(min_length=1)]] = Field(min_length=1)
    cv: Annotated[int, Field(ge=2, le=100)] = 5
    scoring: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")] | None = None
    n_iter: Annotated[int, Field(ge=1)] = Field(10, description="Trials for random search.")
    shards: Annotated[int, Field(ge=1, le=64)] = Field(
        1, description="Fan the trials out over this many parallel CI jobs."
    )


class Train(_Strict):
    estimator: Annotated[str, StringConstraints(pattern=DOTTED_PATTERN)] = Field(
        description="Import path of a scikit-learn compatible estimator class."
    )
    params: dict[str, Union[Scalar, list[Scalar]]] = Field(default_factory=dict)
    search: Search | None = None


class Gate(_Strict):
    min: float | None = Field(None, description="Absolute lower bound.")
    max: float | None = Field(None, description="Absolute upper bound.")
    max_drop: Annotated[float, Field(ge=0)] | None = Field(
        None, description="Largest allowed worsening vs the deployed (champion) model."
    )


class Evaluate(_Strict):
    metrics: list[str] = Field(min_length=1)
    gates: dict[str, Gate] = Field(default_factory=dict)
    slices: list[str] = Field(
        default_factory=list, description="Category columns to report metrics per value."
    )


class DeployEnvironment(_Strict):
    name: Name
    approval: Literal["auto", "manual"] = "auto"
    url: Annotated[str, StringConstraints(pattern=r"^https://[^\s'\"`$\\]+$")] | None = None


class Deploy(_Strict):
    registry: RelPath = Field("models", description="File-system model registry (path).")
    environments: list[DeployEnvironment] = Field(default_factory=list)


class Monitor(_Strict):
    schedule: Annotated[str, StringConstraints(pattern=CRON_PATTERN)] = Field(
        description="5-field cron expression (UTC) of the drift check."
    )
    data: RelPath = Field(description="Recent production data compared with the reference.")
    drift: Drift | None = None


Provider = Literal["github", "gitlab", "jenkins"]


class CI(_Strict):
    providers: list[Provider] = Field(default_factory=lambda: ["github", "gitlab", "jenkins"])
    branches: list[Branch] = Field(
        default_factory=lambda: ["main"], min_length=1, description="First one is the default branch."
    )
    pull_requests: bool = True
    timeout_minutes: Annotated[int, Field(ge=1, le=1440)] = Field(60, description="Per job.")
    pipeline_timeout_minutes: Annotated[int, Field(ge=1, le=4320)] = 240
    artifact_expire_days: Annotated[int, Field(ge=1, le=90)] = 7


class Stage(_Strict):
    name: Name
    cmd: Annotated[str, StringConstraints(min_length=1, max_length=4096)] = Field(
        description="Shell command, run exactly as written."
    )
    deps: list[RelPath] = Field(default_factory=list)
    outs: list[RelPath] = Field(default_factory=list)
    before: str | None = Field(None, description="A job this stage must run before.")
    needs: list[str] = Field(default_factory=list, description="Jobs this stage runs after.")
    environment: Name | None = None
    approval: Literal["auto", "manual"] = "auto"
    timeout_minutes: Annotated[int, Field(ge=1, le=1440)] | None = None


class Spec(_Strict):
    """An mlgen project: data contract, training, gates, deployment and CI settings."""

    model_config = ConfigDict(title="mlgen project spec (mlproject.toml)")

    project: Project
    data: Data
    validate_: Validate = Field(default_factory=Validate, alias="validate")
    train: Train
    evaluate: Evaluate
    deploy: Deploy | None = None
    monitor: Monitor | None = None
    ci: CI = Field(default_factory=CI)
    stages: list[Stage] = Field(default_factory=list)
