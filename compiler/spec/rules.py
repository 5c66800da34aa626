"""Spec rules that need no pydantic: patterns, metric names and the checks patterns cannot say.

The pydantic model (`model.py`) uses them, and so do the checks that read the raw document
before it (`resolve.py`) or the validated spec after it (`semantic.py`).
"""

from __future__ import annotations

from mlgen.spec import cronspec, envnames

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
# Relative POSIX paths inside the repository, as people name files: any letters (é, ß, 中文),
# spaces and punctuation. Refused everywhere: a leading `/`, control characters (tab included),
# line separators, invisible format characters (zero-width and bidirectional controls, which
# make a path read differently than it is) and noncharacters. What one CI provider cannot carry
# (a `,` in a Jenkins stash pattern, `$` in a GitLab artifact path) is its backend's rule
# (`path_problem` in compiler/backends/<provider>/paths.py), which the semantic checks consult.
# (No look-around: the JSON Schema and Rust regex engines have none.)
_NOT_PATH = r"\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufffe\uffff"
PATH_PATTERN = rf"^[^/{_NOT_PATH}][^{_NOT_PATH}]*$"
BRANCH_PATTERN = r"^[A-Za-z0-9_]([A-Za-z0-9._/-]{0,98}[A-Za-z0-9_])?$"
DOTTED_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"
CRON_PATTERN = r"^\S+( \S+){4}$"
SECRET_PATTERN = r"^[A-Z_][A-Z0-9_]{0,63}$"
# mlflow+http(s)://host[:port][/path] or mlflow+sqlite:///relative/path.db (four slashes: absolute)
MLFLOW_PATTERN = r"mlflow\+(https?://[A-Za-z0-9_.-]+(:[0-9]{1,5})?(/[A-Za-z0-9_.@+=/-]*)?|sqlite:///[A-Za-z0-9_.@+=/-]+)"
# A registry folder keeps the plain characters (it is also a folder on every runner).
REGISTRY_FOLDER = r"[A-Za-z0-9_.@+=-][A-Za-z0-9_.@+=/-]*"
# s3://bucket[/prefix], gs://bucket[/prefix], az://container[/prefix]: bucket names by the
# providers' rules (lower case, 3-63 characters), a prefix of safe characters; no `@` or `:`
# after the scheme, so no credentials, and no `?` query. Kept equal to runtime/registry_object.py.
OBJECT_PATTERN = (
    r"(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]|gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]"
    r"|az://[a-z0-9][a-z0-9-]{1,61}[a-z0-9])(/[A-Za-z0-9_.=+-]+)*"
)
REGISTRY_PATTERN = rf"^(({REGISTRY_FOLDER})|{MLFLOW_PATTERN}|{OBJECT_PATTERN})$"

CLASSIFICATION_METRICS = (
    "accuracy", "balanced_accuracy", "f1", "f1_macro", "f1_weighted", "log_loss",
    "precision", "recall", "roc_auc",
)
REGRESSION_METRICS = ("explained_variance", "mae", "mape", "mse", "r2", "rmse")
# What evaluate computes when the spec names no metrics; each has a value on binary and on
# multiclass targets (runtime/metrics.py: macro f1, one-vs-rest roc_auc). The first one is also
# the search's default scoring.
DEFAULT_METRICS = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc"),
    "regression": ("r2", "rmse", "mae"),
}


def metrics_of(task: str | None) -> tuple[str, ...]:
    """The metric names of `task`; every name when the task is not known (it could not be inferred)."""
    if task == "classification":
        return CLASSIFICATION_METRICS
    if task == "regression":
        return REGRESSION_METRICS
    return CLASSIFICATION_METRICS + REGRESSION_METRICS


def is_object_store(registry: str) -> bool:
    return registry.startswith(("s3://", "gs://", "az://"))


def is_mlflow(registry: str) -> bool:
    return registry.startswith(("mlflow+http://", "mlflow+https://", "mlflow+sqlite:///"))


# Value checks run after the pattern. Each raises ValueError("message\nhint"), which
# diagnose.py splits into the error and its hint.

def normal_path(path: str) -> str:
    """The one spelling of a relative path: no `./`, no empty or `.` parts, no trailing `/`."""
    return "/".join(part for part in path.split("/") if part not in ("", "."))


def _normal_form(path: str, example: str) -> None:
    # `./data`, `data//x`, `data/./x` and `data/` name the same file as `data`, but the backends
    # compare paths as strings (which job hands over which artifact): one spelling only
    normal = normal_path(path)
    if not normal:
        raise ValueError(f"names the repository itself, not a file or folder in it\nfor example `{example}`")
    if normal != path:
        raise ValueError(f"is not in normal form (`./`, `//`, `/./` or a trailing `/`)\nwrite `{normal}`")


def inside_repo(path: str) -> str:
    # the pattern cannot say this: the JSON Schema / Rust regex engines have no look-around
    if ".." in path.split("/"):
        raise ValueError("must stay inside the repository (no `..`)\nfor example `data/train.csv`")
    _normal_form(path, "data/train.csv")
    return path


def not_reserved(name: str) -> str:
    why = envnames.reserved(name)
    if why is not None:
        raise ValueError(f"{why}\nrename the secret, for example `MY_TOKEN` (the CI providers' names and those of the shell, Python, git, pip and the dynamic linker are reserved)")
    return name


def cron(value: str) -> str:
    problem = cronspec.problem(value)
    if problem is not None:
        raise ValueError(f"{problem}\n{cronspec.EXAMPLE}")
    return value


def registry(value: str) -> str:
    if is_mlflow(value):
        return value
    if value.startswith("mlflow+"):
        raise ValueError("is not an MLflow registry URI\nwrite `mlflow+http://host:port` or `mlflow+sqlite:///path.db`")
    if is_object_store(value):
        parts = value.split("://", 1)[1].split("/")
        if any(part in (".", "..") for part in parts[1:]):
            raise ValueError("has a `.` or `..` segment in its prefix\nfor example `s3://my-bucket/models`")
        if value.startswith("az://") and "--" in parts[0]:
            raise ValueError("is not an Azure container name (no `--`)\nfor example `az://models/mlgen`")
        return value
    if ".." in value.split("/"):
        raise ValueError("must stay inside the repository (no `..`)\nfor example `models`")
    _normal_form(value, "models")
    return value

