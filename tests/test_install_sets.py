"""Each job installs only what it uses, and never less: the static import closure (ast over
runtime/, every `import` anywhere in a module, so lazy imports count too) of each stage's module
is covered by the job's install set, for every job kind. The only packages a set may leave out
are the conditional ones below, each installed exactly where its condition holds."""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

from mlgen.compile import build_plan
from mlgen.plan.lower import install_set
from mlgen.spec.load import load_spec

RUNTIME = Path(__file__).resolve().parent.parent / "runtime"
DIST = {"sklearn": "scikit-learn"}  # import name -> distribution where they differ
# import -> why a set may lack it (each condition is asserted in the tests below)
CONDITIONAL = {
    "pyarrow": "Parquet files only",
    "mlflow": "MLflow registries, in registry jobs; trial tracking in train/select (MLFLOW_TRACKING_URI: the user's requirements)",
    "optuna": "train.search.strategy = \"optuna\": train and select only (test_search_optuna.py)",
    "fsspec": "object-store registries, in registry jobs (s3fs/gcsfs/adlfs bring it)",
    "matplotlib": "plots: evaluate and scan only",
    "joblib": "scikit-learn's own dependency (the Dask search's parallel_config)",
    "dask": "train.search.engine = \"dask\": the train job only (test_search_dask.py)",
    "distributed": "train.search.engine = \"dask\": the train job only (test_search_dask.py)",
}
STAGE_MODULE = {"validate": "validate", "train": "train", "select": "train", "evaluate": "evaluate",
                "scan": "scan", "deploy": "deploy", "rollback": "deploy", "monitor": "monitor"}


@cache
def _imports(module: str) -> frozenset[str]:
    path = RUNTIME / f"{module}.py"
    if not path.exists():
        return frozenset()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "mlgen_runtime":
                found |= {f"mlgen_runtime.{a.name}" for a in node.names}
    return frozenset(found)


def third_party_closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo, out = [module], set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for name in _imports(m):
            top = name.split(".")[0]
            if top == "mlgen_runtime":
                if "." in name:
                    todo.append(name.split(".", 1)[1])
            elif top not in sys.stdlib_module_names:
                out.add(DIST.get(top, top))
    return out


SPEC = """
[project]
name = "p"
{req}
[data]
path = "data/train.{ext}"
target = "y"
task = "classification"
reference = "data/ref.{ext}"
dvc = {dvc}

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[evaluate]
metrics = ["accuracy"]

[scan]

[monitor]
schedule = "0 6 * * 1"
data = "data/live.{ext}"

[[stages]]
name = "prep"
cmd = "python prep.py"

[deploy]
registry = "{registry}"
[[deploy.environments]]
name = "staging"
"""

CASES = [("csv", "models", False), ("parquet", "mlflow+https://mlflow.example.com", True),
         ("csv", "s3://bucket/models", False), ("parquet", "az://container/models", False),
         ("csv", "gs://bucket/m", True)]


@pytest.mark.parametrize(("ext", "registry", "dvc"), CASES)
def test_every_job_kind_installs_its_import_closure(tmp_path: Path, ext: str, registry: str, dvc: bool) -> None:
    (tmp_path / "requirements.txt").write_text("xgboost\n")
    spec_file = tmp_path / "mlproject.toml"
    spec_file.write_text(SPEC.format(ext=ext, registry=registry, dvc=str(dvc).lower(), req='requirements = ["requirements.txt"]'))
    spec = load_spec(spec_file).spec
    plan = build_plan(spec_file, tmp_path)
    kinds = {j.kind for j in plan.jobs}
    assert kinds >= {"validate", "train", "evaluate", "scan", "deploy", "rollback", "monitor", "custom"}
    for job in plan.jobs:
        got = set(install_set(spec, job))
        assert "xgboost" not in got  # project requirements come from their own files (every job)
        if job.kind == "custom":
            assert got == {"numpy", "pandas", "scikit-learn", "scipy", "skops"}
            continue
        missing = third_party_closure(STAGE_MODULE[job.kind]) - got
        assert missing <= set(CONDITIONAL), (job.name, missing)
        registry_job = job.kind in ("evaluate", "deploy", "rollback")
        assert ("matplotlib" in got) == (job.kind in ("evaluate", "scan")), job.name
        assert ("pyarrow" in got) == (ext == "parquet" and bool(job.reads)), job.name
        assert ("mlflow-skinny" in got) == (registry_job and registry.startswith("mlflow")), job.name
        fs = {"s3://": "s3fs", "gs://": "gcsfs", "az://": "adlfs"}.get(registry[:5])
        assert ({"s3fs", "gcsfs", "adlfs"} & got) == ({fs} if fs and registry_job else set()), job.name
        assert ("dvc" in got) == any(c.startswith("dvc pull") for c in job.commands), job.name


def test_the_closure_sees_lazy_imports() -> None:
    # deploy imports the scan lazily, which imports evaluate lazily: the walk must reach them
    assert {"numpy", "pandas", "scikit-learn", "skops", "mlflow", "fsspec"} <= third_party_closure("deploy")
    assert third_party_closure("lockcheck") == set()  # runs before anything is installed
