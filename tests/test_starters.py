"""`mlgen init --template ...`: every starter compiles, passes the providers' judges, and runs
end to end with `mlgen run` right after `mlgen init` (its get-data stage makes the example data
from a dataset bundled with scikit-learn, no download)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlgen.cli import main
from mlgen.init import DEFAULT_TEMPLATE, SCHEMA_REL, TEMPLATES, starter_files
from tests.support import judges

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_LINE = "#:schema ./.mlgen/mlproject.schema.json"
SCRIPTS = {
    "classification": ["scripts/make_data.py"],
    "regression": ["scripts/make_data.py"],
    "custom-stages": ["scripts/featurize.py", "scripts/make_data.py"],
}


def _init(folder: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(folder)
    assert main(["init", *args]) == 0


def test_every_template_folder_is_a_listed_starter() -> None:
    folders = sorted(p.name for p in (ROOT / "templates" / "init").iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == sorted(TEMPLATES) == sorted(SCRIPTS)
    assert DEFAULT_TEMPLATE == "classification"


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_starter_files_render(template: str) -> None:
    files = starter_files(template, "demo-proj")
    assert sorted(files) == sorted(["mlproject.toml", *SCRIPTS[template]])
    spec = files["mlproject.toml"]
    assert spec.splitlines()[0] == SCHEMA_LINE
    assert 'name = "demo-proj"' in spec and f"({template} starter" in spec
    assert "{{" not in spec and "{%" not in spec
    for rel in SCRIPTS[template]:
        compile(files[rel], rel, "exec")  # valid Python
        assert files[rel].startswith('"""')


def test_templates_render_with_strict_undefined() -> None:
    import jinja2

    from mlgen.init import _env

    env = _env()
    assert env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("classification/mlproject.toml.j2").render(name="x")  # no `template`


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_starter_validates_and_compiles(template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / f"my-{template}"
    _init(proj, monkeypatch, "--template", template)
    out = capsys.readouterr().out
    assert "wrote mlproject.toml" in out and "next: mlgen run" in out
    for rel in ["mlproject.toml", SCHEMA_REL, *SCRIPTS[template]]:
        assert (proj / rel).is_file(), rel
    assert f'name = "my-{template}"' in (proj / "mlproject.toml").read_text()
    assert main(["validate"]) == 0
    assert main(["compile", "--quiet"]) == 0
    assert main(["compile", "--check"]) == 0
    capsys.readouterr()
    assert main(["graph"]) == 0
    graph = capsys.readouterr().out
    if template == "custom-stages":
        assert "featurize <- get-data\nvalidate <- featurize\n" in graph
        assert "train <- featurize, validate  [x2 shards]" in graph
    else:
        assert graph.startswith("get-data\nvalidate <- get-data\n")


def test_default_template_is_classification(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _init(tmp_path / "p", monkeypatch)
    assert "(classification starter" in Path("mlproject.toml").read_text()
    assert Path("scripts/make_data.py").read_text() == starter_files("classification", "p")["scripts/make_data.py"]


def test_init_into_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "new-proj", "-t", "regression"]) == 0
    assert "next: cd new-proj && mlgen run" in capsys.readouterr().out
    assert 'name = "new-proj"' in (tmp_path / "new-proj/mlproject.toml").read_text()
    assert (tmp_path / "new-proj/scripts/make_data.py").is_file()


def test_unknown_template_is_bad_input_with_the_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--template", "clasification"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlgen: error: unknown template `clasification`; expected one of: classification (")
    for name in TEMPLATES:
        assert f"{name} (" in err
    assert not any(tmp_path.iterdir()), "nothing may be written"


def test_init_never_replaces_the_spec_or_scripts_without_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    mine = "# my own data script\n"
    Path("scripts").mkdir()
    Path("scripts/make_data.py").write_text(mine)
    assert main(["init"]) == 2
    err = capsys.readouterr().err
    assert "already exists: scripts/make_data.py; pass --force" in err
    assert Path("scripts/make_data.py").read_text() == mine
    assert not Path("mlproject.toml").exists() and not Path(".mlgen").exists(), "nothing may be written"

    # another template's extra script is refused the same way
    Path("scripts/make_data.py").unlink()
    Path("scripts/featurize.py").write_text(mine)
    assert main(["init", "-t", "custom-stages"]) == 2
    assert "already exists: scripts/featurize.py" in capsys.readouterr().err
    assert Path("scripts/featurize.py").read_text() == mine

    assert main(["init", "-t", "custom-stages", "--force"]) == 0
    assert Path("scripts/featurize.py").read_text() != mine
    spec = Path("mlproject.toml")
    spec.write_text(spec.read_text() + "# mine\n")
    assert main(["init", "-t", "regression"]) == 2
    err = capsys.readouterr().err
    assert "already exists: mlproject.toml, scripts/make_data.py;" in err
    assert spec.read_text().endswith("# mine\n")
    assert main(["init", "-t", "regression", "--force"]) == 0
    assert "(regression starter" in spec.read_text()


@pytest.fixture(scope="module")
def compiled_starters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every starter, initialised and compiled, one folder each."""
    import os

    base = tmp_path_factory.mktemp("starters")
    cwd = os.getcwd()
    try:
        for template in TEMPLATES:
            (base / template).mkdir()
            os.chdir(base / template)
            assert main(["init", "--template", template]) == 0
            assert main(["compile", "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    return base


def test_starter_outputs_pass_the_provider_judges(compiled_starters: Path) -> None:
    dirs = [compiled_starters / t for t in TEMPLATES]
    github = [p for d in dirs for p in sorted((d / ".github/workflows").glob("*.yml"))]
    gitlab = [d / ".gitlab-ci.yml" for d in dirs]
    judges.check_jsonschema("vendor.github-workflows", github)
    judges.check_jsonschema("vendor.gitlab-ci", gitlab)
    judges.actionlint(github)
    judges.zizmor(github, persona="auditor")


def test_starter_specs_pass_taplo_against_the_schema(compiled_starters: Path) -> None:
    judges.taplo_check(ROOT / "schemas" / "mlproject.schema.json", [compiled_starters / t / "mlproject.toml" for t in TEMPLATES])


@pytest.mark.slow
@pytest.mark.parametrize("template", list(TEMPLATES))
def test_starter_runs_end_to_end(template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _init(tmp_path / template, monkeypatch, "--template", template)
    assert main(["run"]) == 0
    assert Path("data/train.csv").is_file(), "get-data made the example data"
    assert json.loads(Path(".mlgen/out/validate/validation.json").read_text())
    metrics = json.loads(Path(".mlgen/out/evaluate/metrics.json").read_text())
    assert metrics["passed"], metrics
    assert metrics["gates"] and all(g["passed"] for g in metrics["gates"])
    assert json.loads(Path("models/aliases.json").read_text()) == {"staging": 1}, "production waits for approval"
    if template == "custom-stages":
        header = Path("data/train.csv").read_text().splitlines()[0].split(",")
        assert {"flavanoid_ratio", "color_per_hue", "cultivar"} <= set(header)
        assert len(list(Path(".mlgen/out/trials").glob("shard-*-of-2.json"))) == 2


# --- mlgen init --data PATH --target COLUMN ---------------------------------------------------

def _realdata(name: str, folder: Path) -> Path:
    from tests.realdata.datasets import by_name

    return by_name(name).write_csv(folder / "data")


def _messy_frame() -> Any:
    """An id, free text, a date, a category with 3,000 values, a bool and a missing feature."""
    import numpy as np
    import pandas as pd

    n = 3000
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    return pd.DataFrame({
        "order_id": np.arange(10_000, 10_000 + n),
        "comment": [f"delivered on time, the box {i} was intact and clean" for i in range(n)],
        "ordered": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
        "product": [f"P{i:04d}" for i in rng.permutation(n)],  # 3,000 values, none repeated... but not per row
        "express": rng.random(n) < 0.3,
        "weight kg": np.where(rng.random(n) < 0.1, np.nan, np.round(rng.gamma(2.0, 1.5, n), 2)),
        "x": x,
        "late": np.where(x + rng.normal(0, 0.5, n) > 0.8, "yes", "no"),
    }).assign(product=lambda f: f["product"].where(np.arange(n) % 3 != 0, "P0000"))


def test_init_from_data_infers_the_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").mkdir()
    _messy_frame().to_csv(tmp_path / "data/orders.csv", index=False)
    _init(tmp_path, monkeypatch, "--data", "data/orders.csv", "--target", "late")
    assert "next: mlgen run   (validates your data" in capsys.readouterr().out
    spec = Path("mlproject.toml").read_text()
    assert spec.splitlines()[0] == SCHEMA_LINE
    assert "# Written from data/orders.csv (3,000 rows x 8 columns)" in spec
    assert 'path = "data/orders.csv"\ntarget = "late"\ntask = "classification"          # `late` holds labels' in spec
    assert 'exclude = ["order_id", "comment"]' in spec
    assert ("# order_id is an id (a different integer in each of the 3,000 rows): left out of the features "
            "(data.exclude)") in spec
    assert "# comment is free text (about 10 words a value): left out of the features (data.exclude)" in spec
    assert 'ordered = { type = "datetime" }  # a date/time: used as days since 1970-01-01' in spec
    assert 'product = { type = "category" }  # 2,001 values: not listed; train one-hot encodes the 49 most common' in spec
    assert 'express = { type = "bool" }' in spec
    assert '"weight kg" = { type = "float", min = 0.02, max = 17.23, nullable = true }  # 10.3% missing' in spec
    assert 'late = { type = "category", values = ["no", "yes"] }  # the target' in spec
    assert 'estimator = "sklearn.ensemble.HistGradientBoostingClassifier"' in spec
    assert main(["validate"]) == 0 and main(["compile", "--quiet"]) == 0
    assert main(["run", "validate"]) == 0  # the contract holds on the file it was read from
    checks = {c["name"]: c for c in json.loads(Path(".mlgen/out/validate/validation.json").read_text())["checks"]}
    assert checks["features"]["message"] == ("5 feature columns (2 numeric, 2 categorical, 1 date/time); "
                                             "excluded: `order_id`, `comment`")


def test_init_from_data_regression_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _realdata("airquality", tmp_path / "proj")  # proj/data/airquality.csv, given from the current folder
    assert main(["init", "proj", "--data", "proj/data/airquality.csv", "--target", "Ozone"]) == 0
    spec = (tmp_path / "proj/mlproject.toml").read_text()
    assert 'path = "data/airquality.csv"' in spec and 'task = "regression"' in spec
    assert "Ozone = { type = \"int\", min = 1, max = 168, nullable = true }  # the target; 24.2% missing" in spec
    capsys.readouterr()
    (tmp_path / "elsewhere.csv").write_text("a,b\n1,2\n3,4\n")
    assert main(["init", "proj", "--data", "elsewhere.csv", "--target", "b", "--force"]) == 2
    assert "the data must be inside the project folder proj" in capsys.readouterr().err
    assert main(["init", "proj", "--data", "proj/data/airquality.csv", "--target", "ozone", "--force"]) == 2
    assert capsys.readouterr().err.startswith("mlgen: error: --target ozone: not a column of data/airquality.csv; columns: Ozone")
    assert main(["init", "proj", "--data", "proj/data/airquality.csv"]) == 2
    assert "--data and --target go together" in capsys.readouterr().err
    (tmp_path / "proj/data/one.csv").write_text("x,y\n1,a\n2,a\n3,\n")
    assert main(["init", "proj", "--data", "proj/data/one.csv", "--target", "y", "--force"]) == 2
    assert capsys.readouterr().err == ("mlgen: error: --target y: every row of data/one.csv has the same value ('a'); "
                                       "there is nothing to predict\n")


def test_init_from_data_never_replaces_the_spec_without_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    _realdata("iris", tmp_path)
    monkeypatch.chdir(tmp_path)
    Path("mlproject.toml").write_text("# mine\n")
    assert main(["init", "--data", "data/iris.csv", "--target", "species"]) == 2
    assert "already exists: mlproject.toml; pass --force" in capsys.readouterr().err
    assert Path("mlproject.toml").read_text() == "# mine\n"
    assert main(["init", "--data", "data/iris.csv", "--target", "species", "--force"]) == 0
    assert 'species = { type = "category", values = ["setosa", "versicolor", "virginica"] }' in Path("mlproject.toml").read_text()


def test_init_from_data_without_the_runtime_packages_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    _realdata("iris", tmp_path)
    monkeypatch.chdir(tmp_path)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pandas" else real(name, *a))
    assert main(["init", "--data", "data/iris.csv", "--target", "species"]) == 2
    err = capsys.readouterr().err
    assert err == ("mlgen: error: `mlgen init --data` reads the file with pandas, which is not installed: "
                   "pip install 'mlgen[runtime]'\n")
    assert not Path("mlproject.toml").exists()


def test_init_and_the_cli_do_not_import_pandas() -> None:
    import subprocess
    import sys

    code = "import sys, mlgen.cli_app, mlgen.init; print('pandas' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "False False\n"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "target"), [("penguins_sex", "sex"), ("titanic_survival", "survived")])
def test_init_from_data_runs_as_written(name: str, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Real data with missing values and string categories (penguins: 11 missing targets; the
    Titanic: a free-text name column, a fifth of the ages missing): green as written."""
    csv = _realdata(name, tmp_path)
    _init(tmp_path, monkeypatch, "--data", f"data/{csv.name}", "--target", target)
    assert main(["run"]) == 0
    validation = json.loads(Path(".mlgen/out/validate/validation.json").read_text())
    assert validation["passed"] and "nulls" in validation["warnings"]
    if name == "penguins_sex":
        assert validation["data"]["missing_target_rows"] == 11
        assert "11 rows with a missing target `sex` left out" in Path(".mlgen/out/evaluate/report.md").read_text()
    else:
        assert 'exclude = ["rownames"]' in Path("mlproject.toml").read_text()
        model = json.loads(Path(".mlgen/out/model/model.json").read_text())
        assert model["features"]["dropped"] == ["rownames"]
    assert json.loads(Path("models/aliases.json").read_text()) == {"staging": 1}
