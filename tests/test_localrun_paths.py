"""`mlgen run` with paths and names as people write them: spaces, accents, CJK and punctuation in
the data file, the reference, the requirements file, stage deps/outs and column names. The local
runner's stage cache and file hashing see them byte for byte, and the runtime reads them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlgen.cli import main
from mlgen.localrun import run_plan

STAGES = """
[project]
name = "local-paths"

[data]
path = "data/train.csv"
target = "y"
task = "regression"
allow_extra = true

[train]
estimator = "sklearn.linear_model.Ridge"

[evaluate]
metrics = ["r2"]

[[stages]]
name = "gen"
cmd = "mkdir -p \\"sorties/ré sultat\\" && cat \\"entrées/données brutes (v1).txt\\" > \\"sorties/ré sultat/中文 it's.txt\\""
deps = ["entrées/données brutes (v1).txt"]
outs = ["sorties/ré sultat"]

[[stages]]
name = "use"
cmd = "wc -l < \\"sorties/ré sultat/中文 it's.txt\\" > \\"compte ß.txt\\""
deps = ["sorties/ré sultat/中文 it's.txt"]
outs = ["compte ß.txt"]
"""


def statuses(root: Path, *wanted: str) -> dict[str, str]:
    return {o.name: o.status for o in run_plan(root, wanted)}


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "mlproject.toml").write_text(STAGES, encoding="utf-8")
    (tmp_path / "entrées").mkdir()
    (tmp_path / "entrées/données brutes (v1).txt").write_text("a\nb\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "-q"]) == 0
    return tmp_path


def test_stages_with_accented_paths_run_then_cache_then_rerun_on_change(proj: Path) -> None:
    assert statuses(proj, "use") == {"gen": "ran", "use": "ran"}
    assert (proj / "compte ß.txt").read_text().strip() == "2"
    assert statuses(proj, "use") == {"gen": "cached", "use": "cached"}
    (proj / "entrées/données brutes (v1).txt").write_text("a\nb\nc\n", encoding="utf-8")
    assert statuses(proj, "use") == {"gen": "ran", "use": "ran"}
    assert (proj / "compte ß.txt").read_text().strip() == "3"


def test_an_output_file_whose_name_is_not_utf8_is_hashed_as_bytes(proj: Path) -> None:
    assert statuses(proj, "gen") == {"gen": "ran"}
    # a tool wrote a Latin-1 name into the output folder: os.fsencode gives back its bytes
    odd = os.fsdecode(b"caf\xe9.txt")
    (proj / "sorties/ré sultat" / odd).write_text("x")
    assert statuses(proj, "gen") == {"gen": "ran"}  # the output changed since it was recorded
    assert statuses(proj, "gen") == {"gen": "cached"}


ML = """
[project]
name = "accents-ml"
requirements = ["requirements ü.txt"]
seed = 3

[data]
path = "données/in put é.csv"
target = "malin (oui/non)"
task = "classification"
reference = "données/référence 中文.csv"
allow_extra = true

[data.columns]
"malin (oui/non)" = { type = "int", min = 0, max = 1 }
"rayon moyen, µm" = { type = "float", min = 0 }
"ville d'origine" = { type = "category", values = ["Köln", "São Paulo", "北京"] }

[validate]
drift = { method = "psi", threshold = 0.5 }

[train]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 2000 }

[evaluate]
metrics = ["accuracy"]
slices = ["ville d'origine"]
"""


def test_the_runtime_reads_accented_data_paths_and_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    towns = ["Köln", "São Paulo", "北京"]
    data = frame[["mean radius"]].rename(columns={"mean radius": "rayon moyen, µm"})
    data["ville d'origine"] = [towns[i % 3] for i in range(len(frame))]
    data["malin (oui/non)"] = (frame["target"] == 0).astype(int)
    (tmp_path / "données").mkdir()
    data.iloc[:400].to_csv(tmp_path / "données/in put é.csv", index=False)
    data.iloc[400:].to_csv(tmp_path / "données/référence 中文.csv", index=False)
    (tmp_path / "requirements ü.txt").write_text("")
    (tmp_path / "mlproject.toml").write_text(ML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "-q"]) == 0
    first = statuses(tmp_path, "evaluate")
    assert first == {"validate": "ran", "train": "ran", "evaluate": "ran"}, first
    report = (tmp_path / ".mlgen/out/evaluate/report.md").read_text(encoding="utf-8")
    assert "São Paulo" in report and "北京" in report
    assert statuses(tmp_path, "evaluate") == {"validate": "cached", "train": "cached", "evaluate": "cached"}
    (tmp_path / "données/référence 中文.csv").write_text(
        data.iloc[380:].to_csv(index=False), encoding="utf-8")  # a new baseline: validate reruns
    assert statuses(tmp_path, "evaluate")["validate"] == "ran"


def test_dvc_pulls_accented_data_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dvc pull 'données/in put é.csv' ...`: the pointers (`<file>.dvc`) are found and the data
    restored before validate reads it."""
    import shutil
    import subprocess
    import sys

    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")
    if dvc is None:
        pytest.skip("dvc not installed (pip install dvc)")
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    data = frame[["mean radius", "mean texture"]].rename(columns={"mean radius": "rayon moyen, µm"})
    data["malin (oui/non)"] = (frame["target"] == 0).astype(int)
    project = tmp_path / "project"
    (project / "données").mkdir(parents=True)
    data.iloc[:400].to_csv(project / "données/in put é.csv", index=False)
    data.iloc[400:].to_csv(project / "données/référence 中文.csv", index=False)
    (project / "requirements ü.txt").write_text("")
    spec = ML.replace('"ville d\'origine" = { type = "category", values = ["Köln", "São Paulo", "北京"] }\n', "")
    spec = spec.replace('slices = ["ville d\'origine"]\n', "").replace("allow_extra = true", "allow_extra = true\ndvc = true")
    (project / "mlproject.toml").write_text(spec, encoding="utf-8")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def sh(*args: str) -> None:
        proc = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"

    sh(dvc, "init", "--no-scm", "-q")
    sh(dvc, "remote", "add", "-d", "store", str(tmp_path / "remote"))
    sh(dvc, "add", "-q", "données/in put é.csv", "données/référence 中文.csv")
    sh(dvc, "push", "-q")
    for name in ("in put é.csv", "référence 中文.csv"):
        (project / "données" / name).unlink()
    shutil.rmtree(project / ".dvc" / "cache")
    monkeypatch.chdir(project)
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    assert main(["compile", "-q", "--provider", "github"]) == 0
    assert statuses(project, "validate") == {"validate": "ran"}
    assert (project / "données/in put é.csv").is_file() and (project / "données/référence 中文.csv").is_file()
