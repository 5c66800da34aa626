"""The spec: a strict, frozen pydantic model of mlproject.toml (its reference: docs/reference.md).

Field-level rules live here (types, ranges, patterns, enums); rules that relate several parts
of the spec (references, cycles, gates on metrics) live in `semantic.py`. The JSON Schema in
schemas/ is generated from these classes, so descriptions here are what editors show.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, StringConstraints
from pydantic_core import PydanticCustomError, core_schema

from mlgen.spec.rules import (
    BRANCH_PATTERN,
    CRON_PATTERN,
    DOTTED_PATTERN,
    NAME_PATTERN,
    PATH_PATTERN,
    REGISTRY_PATTERN,
    SECRET_PATTERN,
    cron,
    inside_repo,
    not_reserved,
    registry,
)

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
RelPath = Annotated[str, StringConstraints(pattern=PATH_PATTERN, max_length=255), AfterValidator(inside_repo)]
Branch = Annotated[str, StringConstraints(pattern=BRANCH_PATTERN)]
Scalar = Union[bool, int, float, str]
SecretName = Annotated[str, StringConstraints(pattern=SECRET_PATTERN), AfterValidator(not_reserved)]
Registry = Annotated[str, StringConstraints(pattern=REGISTRY_PATTERN, max_length=255), AfterValidator(registry)]


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
    type: Literal["int", "float", "category", "bool", "str", "datetime"] = Field(
        description="Expected type of the column's values."
    )
    min: float | None = Field(None, description="Smallest allowed value (int and float columns).")
    max: float | None = Field(None, description="Largest allowed value (int and float columns).")
    values: list[Union[str, int]] | None = Field(
        None, description="Allowed values (category columns)."
    )
    nullable: bool = Field(False, description="Allow missing values in this column.")


class Split(_Strict):
    """How the held-out rows are chosen. Rows with identical features always land on one side."""

    group: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        None, description="Column whose rows stay together (a customer, a patient, a store): no group is on both sides."
    )
    time: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        None, description="Date/time (or ordered number) column: the latest rows are held out, as in temporal validation."
    )


class Data(_Strict):
    path: RelPath = Field(description="Training data, .csv or .parquet.")
    target: Annotated[str, StringConstraints(min_length=1)] = Field(description="The column to predict.")
    task: Literal["classification", "regression"] | None = Field(
        None,
        description="What kind of model is trained (default: what scikit-learn's is_classifier / "
        "is_regressor say of train.estimator).",
    )
    reference: RelPath | None = Field(None, description="Baseline data for drift checks.")
    test_size: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.2, description="Share of rows held out for evaluation (stratified for classification)."
    )
    columns: dict[str, Column] = Field(
        default_factory=dict, description="The data contract, one entry per column."
    )
    allow_extra: bool = Field(False, description="Accept columns that are not in the contract.")
    split: Split = Field(default_factory=Split, description="How the held-out rows are chosen.")
    exclude: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list, description="Columns left out of the features (ids, free text, columns known only after the fact)."
    )
    missing_target: Literal["drop", "error"] = Field(
        "drop", description="Rows whose target is missing: `drop` them (counted in the reports) or stop with an `error`."
    )
    dvc: bool = Field(
        False,
        description="The data files are tracked with DVC: every job that reads them runs `dvc pull` first.",
    )
    dvc_secrets: list[SecretName] = Field(
        default_factory=list,
        description="CI secrets handed to `dvc pull` as environment variables of the same name "
        "(e.g. AWS_ACCESS_KEY_ID for an S3 remote).",
    )


class Drift(_Strict):
    method: Literal["ks", "psi", "chi2"] = Field(
        "psi", description="ks / chi2: a column drifts when the test's p-value is below the threshold; psi: when the PSI is above it."
    )
    threshold: Annotated[float, Field(gt=0)] = Field(0.2, description="p-value (ks, chi2) or PSI bound.")


class Validate(_Strict):
    min_rows: Annotated[int, Field(ge=0)] = Field(1, description="Fewest rows the training data may have.")
    max_null_fraction: Annotated[float, Field(ge=0, le=1)] = Field(
        0.95,
        description="Largest share of missing values in a feature column; below it missing values warn "
        "(train imputes them), above it the check fails.",
    )
    max_duplicate_fraction: Annotated[float, Field(ge=0, le=1)] = Field(
        1.0,
        description="Largest share of rows that repeat an earlier row; repeats up to it warn, above it the "
        "check fails. The default never fails: data of a few discrete columns repeats rows by nature "
        "(Titanic's four columns: 98.5 %) and the split keeps equal rows on one side; set a bound to catch "
        "a file appended to itself.",
    )
    max_overlap_fraction: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="Largest share of held-out rows that also occur in the training split (leakage)."
    )
    drift: Drift | None = Field(None, description="Drift of the training data vs data.reference.")
    strict: bool = Field(False, description="Warnings fail validation too.")


DASK_ADDRESS = re.compile(r"^((tcp|tls|ws|wss)://)?([A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$")


def dask_scheduler(value: str) -> str:
    """train.search.scheduler: an address only (a secret in the spec would end up in git and plan.json)."""
    if "@" in value or "?" in value:
        raise ValueError("must be an address only, without user:password@ or tokens\n"
                         "put credentials in Dask's configuration (e.g. the CI's DASK_SCHEDULER_ADDRESS secret)")
    if not DASK_ADDRESS.match(value):
        raise ValueError("is not a Dask scheduler address\nfor example `tcp://10.0.0.5:8786`")
    return value


def optuna_storage(value: str) -> str:
    """train.search.storage: a URL without credentials (they would end up in git and plan.json)."""
    if "://" in value:
        if "@" in value.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("must not hold credentials (user:password@)\n"
                             "put the whole URL in a CI secret and name it in train.search.storage_env")
        if not re.match(r"^[a-z][a-z0-9+]*://", value):
            raise ValueError("is not an RDB URL\nfor example `sqlite:///.mlgen/optuna.db` or `postgresql://host/db`")
        return value
    return inside_repo(value) if re.match(PATH_PATTERN, value) else _bad_journal(value)


def _bad_journal(value: str) -> str:
    raise ValueError("is neither an RDB URL nor a journal file path\nfor example `.mlgen/optuna.journal`")


class Range(_Strict):
    """A numeric range in train.search.space: ints when low, high (and step) are ints, else floats."""

    low: Union[int, float] = Field(description="Smallest value.")
    high: Union[int, float] = Field(description="Largest value (included).")
    log: bool = Field(False, description="Sample on a log scale (low > 0; not with `step`).")
    step: Union[int, float, None] = Field(None, description="Only low, low + step, ... up to high (grid needs it).")


class Search(_Strict):
    strategy: Literal["grid", "random", "optuna"] = Field(
        "grid", description="Every combination, `n_iter` random ones, or `n_iter` trials of an Optuna study "
        "(TPE, seeded from project.seed; needs the `optuna` extra)."
    )
    space: dict[str, Union[Annotated[list[Scalar], Field(min_length=1)], Range]] = Field(
        min_length=1, description="Estimator parameter -> the values to try: a list, or a range "
        "`{ low, high, log, step }` (random and optuna sample it; grid needs a `step`)."
    )
    cv: Annotated[int, Field(ge=2, le=100)] = Field(5, description="Cross-validation folds per trial.")
    scoring: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")] | None = Field(
        None, description="scikit-learn scoring name (default: the estimator's score)."
    )
    n_iter: Annotated[int, Field(ge=1)] = Field(10, description="Trials for random and optuna search.")
    shards: Annotated[int, Field(ge=1, le=64)] = Field(
        1, description="Fan the trials out over this many parallel CI jobs (optuna: workers of one study)."
    )
    storage: Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(optuna_storage)] | None = Field(
        None, description="strategy = \"optuna\": where the study lives, shared by the shards: an RDB URL "
        "without credentials (`sqlite:///.mlgen/optuna.db`, `postgresql://db.internal/optuna`) or a journal "
        "file path (one machine). Default: in memory (shards = 1 only)."
    )
    storage_env: SecretName | None = Field(
        None, description="strategy = \"optuna\": name of the environment variable (a CI secret) holding the "
        "study's RDB URL with its credentials; instead of `storage`."
    )
    engine: Literal["local", "dask"] = Field(
        "local", description="Where the trials' fits run: in the train job's process, or on a Dask cluster "
        "(joblib's Dask backend; needs the `dask` extra). The model is the same either way."
    )
    scheduler: Annotated[str, AfterValidator(dask_scheduler)] | None = Field(
        None, description="Dask scheduler address for engine = \"dask\", e.g. `tcp://10.0.0.5:8786`; Dask's own "
        "configuration (`DASK_SCHEDULER_ADDRESS`) takes precedence. An address only: credentials and TLS "
        "settings come from Dask's configuration, never from the spec."
    )


class Train(_Strict):
    estimator: Annotated[str, StringConstraints(pattern=DOTTED_PATTERN)] = Field(
        description="Import path of a scikit-learn compatible estimator class."
    )
    params: dict[str, Union[Scalar, list[Scalar]]] = Field(
        default_factory=dict, description="Fixed estimator parameters (random_state comes from project.seed)."
    )
    search: Search | None = Field(None, description="Hyperparameter search; the best trial is refitted.")


class Gate(_Strict):
    min: float | None = Field(None, description="Absolute lower bound.")
    max: float | None = Field(None, description="Absolute upper bound.")
    max_drop: Annotated[float, Field(ge=0)] | None = Field(
        None, description="Largest allowed worsening vs the deployed (champion) model."
    )


class Evaluate(_Strict):
    metrics: Annotated[list[str], Field(min_length=1)] | None = Field(
        None,
        description="Metrics computed on the held-out split (default: accuracy, balanced_accuracy, f1_macro, "
        "roc_auc for classification; r2, rmse, mae for regression).",
    )
    gates: dict[str, Gate] = Field(
        default_factory=dict, description="Metric -> bounds; a failed gate fails evaluate and blocks deploys."
    )
    slices: list[str] = Field(
        default_factory=list, description="Category columns to report metrics per value."
    )


class DeployEnvironment(_Strict):
    name: Name = Field(description="Environment name; also the registry alias.")
    approval: Literal["auto", "manual"] = Field("auto", description="manual: a person approves before the deploy runs.")
    url: Annotated[str, StringConstraints(pattern=r"^https://[^\s'\"`$\\]+$")] | None = Field(
        None, description="Where the deployed service lives (shown by the CI provider)."
    )


class Deploy(_Strict):
    registry: Registry = Field(
        "models",
        description="Model registry: a folder in the repository (file-system registry), object storage "
        "as `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix` (credentials from the "
        "provider's environment variables, never in the URL), or an MLflow registry as "
        "`mlflow+http://host:port` / `mlflow+sqlite:///path.db`.",
    )
    environments: list[DeployEnvironment] = Field(default_factory=list)
    secrets: list[SecretName] = Field(
        default_factory=list,
        description="CI secrets the registry needs (e.g. MLFLOW_TRACKING_TOKEN), handed as environment "
        "variables of the same name to the jobs that use the registry (evaluate, deploy, rollback).",
    )


class Monitor(_Strict):
    schedule: Annotated[str, StringConstraints(pattern=CRON_PATTERN), AfterValidator(cron)] = Field(
        description="5-field cron expression (UTC) of the drift check: numbers, ranges (`1-5`), steps "
        "(`*/15`, `0-30/10`) and lists (`1,15`), what GitHub, GitLab and Jenkins all read alike (no names, "
        "no `H`, day of week 0-6)."
    )
    data: RelPath = Field(
        description="Recent production data compared with the reference: a .csv/.parquet file, or the "
        "prediction log of `mlgen serve` (its folder, e.g. `predictions/production`, or a glob of its "
        "`predictions-*.parquet` files)."
    )
    drift: Drift | None = Field(None, description="Drift test of monitor.data vs the reference (default: PSI > 0.2).")
    window_rows: Annotated[int, Field(ge=1, le=100_000_000)] = Field(
        10_000, description="Prediction log: drift and live metrics use the newest this many logged rows."
    )
    window_days: Annotated[float, Field(gt=0, le=3650)] | None = Field(
        None, description="Prediction log: only rows logged in the last this many days (from the monitor's "
        "run); unset: no age limit."
    )
    min_rows: Annotated[int, Field(ge=1, le=100_000_000)] = Field(
        100, description="Prediction log: a window with fewer rows is \"not enough traffic\" (no verdict, no "
        "retraining); also the fewest predictions with feedback that live gates are checked on."
    )


class Serve(_Strict):
    """`mlgen serve`: an HTTP server for the model behind one environment's registry alias."""

    environment: Name | None = Field(
        None, description="Environment whose alias is served (default: the last of [[deploy.environments]], "
        "the one users meet)."
    )
    host: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.:_-]{1,253}$")] = Field(
        "127.0.0.1", description="Address to bind; loopback unless told otherwise."
    )
    port: Annotated[int, Field(ge=1, le=65535)] = Field(8000, description="TCP port.")
    log_dir: RelPath | None = Field(
        None, description="Folder of the prediction log (Parquet; default `predictions/<environment>`)."
    )
    token_env: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")] | None = Field(
        None, description="Name of the environment variable holding a bearer token that requests must send "
        "(unset: no authentication). The token itself never goes in the spec."
    )
    max_body_bytes: Annotated[int, Field(ge=1024, le=1024**3)] = Field(
        10 * 1024**2, description="Largest request body; larger ones get 413."
    )
    max_rows: Annotated[int, Field(ge=1, le=10_000_000)] = Field(
        10_000, description="Most rows in one request; more get 422."
    )
    poll_seconds: Annotated[float, Field(ge=0.05, le=86400)] = Field(
        5.0, description="How often the registry alias is checked for a promotion or rollback."
    )
    log_rotate_rows: Annotated[int, Field(ge=1, le=100_000_000)] = Field(
        50_000, description="Rows per prediction-log file before a new one is started."
    )
    container: bool = Field(
        False, description="`mlgen compile` also writes a `Dockerfile` (next to the pipelines) whose entry point "
        "is the server, bound to 0.0.0.0 inside the container, as a non-root user, installed from mlgen.lock "
        "with hashes."
    )
    base_image: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$")] | None = Field(
        None, description="Base image of that Dockerfile (default: a full version tag of the official Python "
        "image for project.python, e.g. `python:3.12.8-slim-bookworm`); pin yours by digest "
        "(`name@sha256:...`) for reproducible images: mlgen writes it as given (a digest cannot be checked offline)."
    )


Fraction = Annotated[float, Field(gt=0, lt=1)]


class ScanSlices(_Strict):
    enabled: bool = True
    metric: str | None = Field(
        None, description="Metric compared per slice (default: accuracy for classification, r2 for regression)."
    )
    minor: Fraction = Field(0.05, description="Flag a slice whose metric is this much worse than the whole test set "
                            "(relative; r2 and explained_variance: absolute).")
    major: Fraction = Field(0.10, description="... and call it major from this much worse.")
    min_rows: Annotated[int, Field(ge=1)] = Field(20, description="Slices with fewer rows are skipped.")
    bins: Annotated[int, Field(ge=2, le=20)] = Field(4, description="Quantile bins of each numeric feature.")
    pairs: bool = Field(True, description="Also slice on pairs of features.")
    columns: list[str] = Field(default_factory=list, description="Features to slice on (default: all).")
    fdr: Annotated[float, Field(gt=0, le=1)] = Field(
        0.05,
        description="Benjamini-Hochberg false-discovery rate: report only slices whose gap is significant at "
        "this level (1 turns the control off). Without it small test sets flag slices on noise.",
    )
    block: bool = Field(
        False,
        description="A major finding fails the scan job (and so blocks deployment). Off by default: real "
        "data has groups that are harder to predict, and a gap there is for the reviewer to weigh (it is "
        "in the report), not a defect a release waits for; turn it on for slices that must not lag.",
    )


class ScanRobustness(_Strict):
    enabled: bool = True
    noise: Annotated[float, Field(gt=0, le=1)] = Field(
        0.05, description="Perturbation of continuous numeric features, as a fraction of each feature's standard "
        "deviation (kept on the feature's observed grid and range); also the share of rows that get one category or "
        "few-valued feature moved to another observed value."
    )
    categories: bool = Field(True, description="Also swap category values (to values observed in training).")
    minor: Fraction = Field(0.05, description="Share of changed predictions that is flagged (judged by its 95% lower "
                            "confidence bound).")
    major: Fraction = Field(0.10, description="Share of changed predictions that is major (the same bound).")
    block: bool = True


class ScanOverconfidence(_Strict):
    enabled: bool = True
    probability: Fraction = Field(0.9, description="A prediction made with at least this probability is confident.")
    minor: Fraction = Field(0.3, description="Share of wrong predictions made confidently that is flagged.")
    major: Fraction = Field(0.5, description="Share of wrong predictions made confidently that is major.")
    min_wrong: Annotated[int, Field(ge=1)] = Field(10, description="Fewer wrong predictions than this: not judged.")
    block: bool = True


class ScanLeakage(_Strict):
    enabled: bool = True
    minor: Fraction = Field(0.98, description="A single feature reaching this score alone (ROC AUC / R2) is flagged.")
    major: Fraction = Field(0.99, description="... and is major from this score.")
    overlap: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.0, description="Largest share of test rows that may also occur, features and target, in the training split."
    )
    block: bool = True


class Scan(_Strict):
    """Model vulnerability scan between evaluate and deploy."""

    max_rows: Annotated[int, Field(ge=100)] = Field(100_000, description="Rows scanned at most (a seeded sample).")
    slices: ScanSlices = Field(default_factory=ScanSlices)
    robustness: ScanRobustness = Field(default_factory=ScanRobustness)
    overconfidence: ScanOverconfidence = Field(default_factory=ScanOverconfidence)
    leakage: ScanLeakage = Field(default_factory=ScanLeakage)


class _RegisteredProvider:
    """A provider name, checked against the backend registry (the built-in folders and the
    `mlgen.backends` entry points) when a spec is validated and listed in the JSON schema's
    enum when the schema is generated: adding a backend changes neither this file nor the
    checks. An unknown name is the same error a Literal gives (E103, with the known names)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_known_provider, core_schema.str_schema())

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        from mlgen import backends

        return {"enum": list(backends.names()), "type": "string"}


def _known_provider(name: str) -> str:
    from mlgen import backends

    known = backends.names()
    if name not in known:
        quoted = [repr(k) for k in known]
        expected = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
    return name


def _builtin_providers() -> list[str]:
    from mlgen import backends

    return list(backends.default_names())


Provider = Annotated[str, _RegisteredProvider()]


class CI(_Strict):
    providers: list[Provider] = Field(default_factory=_builtin_providers)
    branches: list[Branch] = Field(
        default_factory=lambda: ["main"], min_length=1, description="First one is the default branch."
    )
    pull_requests: bool = Field(True, description="Run the build jobs (not deploys) on pull/merge requests.")
    timeout_minutes: Annotated[int, Field(ge=1, le=1440)] = Field(60, description="Per job.")
    pipeline_timeout_minutes: Annotated[int, Field(ge=1, le=4320)] = Field(240, description="Whole pipeline.")
    artifact_expire_days: Annotated[int, Field(ge=1, le=90)] = Field(
        7, description="How long job artifacts (models, reports) are kept."
    )
    secrets_environment: Name = Field(
        "ci-secrets",
        description="GitHub: the environment that holds the secrets of jobs that are not deploys "
        "(DVC and registry credentials); used without a deployment record.",
    )


class Stage(_Strict):
    name: Name = Field(description="Job name (letters, digits, `_` and `-`).")
    cmd: Annotated[str, StringConstraints(min_length=1, max_length=4096)] = Field(
        description="Shell command, run exactly as written."
    )
    deps: list[RelPath] = Field(
        default_factory=list, description="Files it reads; a stage that writes one of them runs first."
    )
    outs: list[RelPath] = Field(
        default_factory=list, description="Files or folders it writes; handed to later jobs as an artifact."
    )
    before: str | None = Field(None, description="A job this stage must run before.")
    needs: list[str] = Field(default_factory=list, description="Jobs this stage runs after.")
    environment: Name | None = Field(None, description="Run as a deployment to this environment.")
    approval: Literal["auto", "manual"] = Field("auto", description="manual: needs `environment`; a person approves.")
    timeout_minutes: Annotated[int, Field(ge=1, le=1440)] | None = Field(None, description="Default: ci.timeout_minutes.")


class Spec(_Strict):
    """An mlgen project: data contract, training, gates, deployment and CI settings."""

    model_config = ConfigDict(title="mlgen project spec (mlproject.toml)")

    project: Project
    data: Data
    validate_: Validate = Field(default_factory=Validate, alias="validate")
    train: Train
    evaluate: Evaluate = Field(default_factory=Evaluate)
    scan: Scan | None = None
    deploy: Deploy | None = None
    monitor: Monitor | None = None
    serve: Serve | None = None
    ci: CI = Field(default_factory=CI)
    stages: list[Stage] = Field(default_factory=list)
