"""Fixtures for runtime tests: a compiled project in a temp dir with data from scikit-learn.

`project(spec_text, frames)` writes mlproject.toml and the given data files, runs
`mlgen compile`, chdirs into the folder and returns it; `rt(*args)` runs the runtime CLI there
and returns its exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlgen.cli import main as mlgen_main
from mlgen_runtime.cli import main as runtime_main
from tests.runtime.mlflow_server import mlflow_server  # noqa: F401 - the session's MLflow server fixture

Project = Callable[..., Path]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Project:
    def make(spec: str, frames: dict[str, Any] | None = None, files: dict[str, str] | None = None) -> Path:
        (tmp_path / "mlproject.toml").write_text(spec)
        for rel, frame in (frames or {}).items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if rel.endswith(".parquet"):
                frame.to_parquet(path, index=False)
            else:
                frame.to_csv(path, index=False)
        for rel, text in (files or {}).items():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(text)
        monkeypatch.chdir(tmp_path)
        assert mlgen_main(["compile", "--provider", "gitlab"]) == 0
        # the compile's warnings (no mlgen.lock) are not the runtime's: tests read the stage's stderr
        sys.stdout.write(capsys.readouterr().out)
        return tmp_path

    return make


@pytest.fixture
def rt() -> Callable[..., int]:
    def run(*args: str) -> int:
        return runtime_main([args[0], "--plan", ".mlgen/plan.json", *args[1:]])

    return run


def breast_cancer() -> Any:
    """Breast-cancer data (binary classification), target column `malignant` (1 = malignant)."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return frame.assign(malignant=(frame.pop("target") == 0).astype(int))


def wine() -> Any:
    """Wine data (3 classes), target column `cultivar`."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    return frame.rename(columns={"target": "cultivar"})


def diabetes() -> Any:
    """Diabetes data (regression), target column `progression`."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    return frame.rename(columns={"target": "progression"})


CLASSIFICATION_SPEC = """
[project]
name = "bc"
seed = 42

[data]
path = "data/train.csv"
target = "malignant"
task = "classification"
allow_extra = true

[train]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 2000 }

[evaluate]
metrics = ["accuracy", "f1", "roc_auc"]
gates = { roc_auc = { min = 0.9 } }
"""
