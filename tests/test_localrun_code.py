"""The cache key covers the code a stage runs (issue 13, item 3): an estimator whose module lives
in the project retrains when the module changes, locally and in CI (the runtime's own key and
the CI keys listing the files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgen.cli import main
from mlgen.localrun import run_plan
from mlgen_runtime.codefiles import code_files

SPEC = """
[project]
name = "local-code"

[data]
path = "data/iris.csv"
target = "species"
task = "classification"

[train]
estimator = "localmodels.linear.Logistic"

[evaluate]
metrics = ["accuracy"]
"""

MODULE = '''from sklearn.linear_model import LogisticRegression


class Logistic(LogisticRegression):
    pass
'''


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    frame.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in frame.columns]
    (tmp_path / "data").mkdir()
    frame.to_csv(tmp_path / "data" / "iris.csv", index=False)
    (tmp_path / "mlproject.toml").write_text(SPEC)
    (tmp_path / "localmodels").mkdir()
    (tmp_path / "localmodels" / "__init__.py").write_text("")
    (tmp_path / "localmodels" / "linear.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "-q"]) == 0
    return tmp_path


def statuses(root: Path) -> dict[str, str]:
    return {o.name: o.status for o in run_plan(root, ["evaluate"])}


def _runtime_key(root: Path, stage: str) -> str:
    """The key the runtime's own (CI-side) stage cache saved its outputs under."""
    return (root / ".mlgen" / "cache" / stage / "key").read_text()


def test_editing_the_estimator_module_retrains(proj: Path) -> None:
    first = statuses(proj)
    assert first["train"] == "ran" and first["evaluate"] == "ran", first
    keys = {s: _runtime_key(proj, s) for s in ("validate", "train", "evaluate")}
    assert statuses(proj)["train"] == "cached"
    # a change of behaviour in the module: the model trained must be the new one
    (proj / "localmodels" / "linear.py").write_text(MODULE.replace("    pass", "    def __init__(self, C=0.01, max_iter=50):\n        super().__init__(C=C, max_iter=max_iter)"))
    again = statuses(proj)
    assert again["validate"] == "cached", again  # validate does not run the estimator
    assert again["train"] == "ran" and again["evaluate"] == "ran", again
    assert _runtime_key(proj, "validate") == keys["validate"]
    for stage in ("train", "evaluate"):  # the CI-side key moved too: no restore of the old model
        assert _runtime_key(proj, stage) != keys[stage], stage


def test_a_helper_module_of_the_package_counts(proj: Path) -> None:
    statuses(proj)
    (proj / "localmodels" / "helpers.py").write_text("SCALE = 2\n")
    assert statuses(proj)["train"] == "ran"


def test_ci_keys_list_the_module_files(proj: Path) -> None:
    plan = json.loads((proj / ".mlgen" / "plan.json").read_text())
    inputs = {j["name"]: j["cache_inputs"] for j in plan["jobs"] if j.get("cache")}
    for name in ("train", "evaluate"):
        assert inputs[name][-2:] == ["localmodels/__init__.py", "localmodels/linear.py"], inputs[name]
    assert not any(f.startswith("localmodels/") for f in inputs["validate"])
    # GitHub saves the stage cache under the runtime's own key (its key file), which hashes
    # these inputs: an edited module gives a new key and a new entry
    workflow = (proj / ".github" / "workflows" / "mlgen.yml").read_text()
    assert "hashFiles('.mlgen/cache/evaluate/key')" in workflow


def test_a_module_added_after_the_compile_recompiles_for_the_ci_keys(proj: Path) -> None:
    (proj / "localmodels" / "extra.py").write_text("")
    assert main(["run", "validate"]) == 0  # run compiles first when the plan is stale
    plan = json.loads((proj / ".mlgen" / "plan.json").read_text())
    train = next(j for j in plan["jobs"] if j["name"] == "train")
    assert "localmodels/extra.py" in train["cache_inputs"]


def test_installed_libraries_and_odd_names_are_not_project_code(tmp_path: Path) -> None:
    assert code_files(tmp_path, "sklearn.linear_model.Ridge") == []
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__pycache__").mkdir()
    for rel in ("pkg/__init__.py", "pkg/sub/m.py", "pkg/__pycache__/x.py", "pkg/a b.py", "pkg/x\ny.py", "pkg/data.csv"):
        (tmp_path / rel).write_text("")
    assert code_files(tmp_path, "pkg.sub.m.Est") == ["pkg/__init__.py", "pkg/sub/m.py"]
    (tmp_path / "single.py").write_text("")
    assert code_files(tmp_path, "single.Est") == ["single.py"]


def test_the_runtime_applies_the_same_rule(tmp_path: Path) -> None:
    from mlgen_runtime.stagekey import code_files as runtime_code_files  # what the one key hashes

    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    for rel in ("pkg/__init__.py", "pkg/sub/m.py", "pkg/a b.py", "pkg/sub/n.py"):
        (tmp_path / rel).write_text("")
    for est in ("pkg.sub.m.Est", "nothing.Est", "sklearn.linear_model.Ridge"):
        assert runtime_code_files(tmp_path, est) == code_files(tmp_path, est)
