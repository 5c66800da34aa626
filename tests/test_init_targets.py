"""`mlgen init` refuses, in one line and before writing anything, every target it cannot write:
for each file of each starter (and of `init --data`), a file where one of its folders goes, a
folder where it goes (with and without --force), the project folder being a file, and folders
nobody can write into (/proc). The project folder is byte for byte as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlgen.cli import main
from mlgen.init import TEMPLATES, init_files

IRIS = "sepal,petal,species\n" + "".join(f"{i % 7}.{i % 3},{i % 5}.1,{'ab'[i % 2]}\n" for i in range(60))


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def _refused(args: list[str], folder: Path, capsys: pytest.CaptureFixture[str]) -> str:
    before = _snapshot(folder)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert _snapshot(folder) == before, "init wrote something"
    return err


def _targets(template: str) -> list[str]:
    return sorted(init_files(Path("x"), template)) if template != "data" else ["mlproject.toml", ".mlgen/mlproject.schema.json"]


CASES = [(t, rel) for t in [*TEMPLATES, "data"] for rel in _targets(t)]


def _args(template: str, force: bool) -> list[str]:
    base = ["init", "proj", *(["--data", "proj/iris.csv", "--target", "species"] if template == "data" else ["-t", template])]
    return base + (["--force"] if force else [])


def _project(tmp_path: Path, template: str) -> Path:
    proj = tmp_path / "proj"
    proj.mkdir()
    if template == "data":
        (proj / "iris.csv").write_text(IRIS)
    return proj


@pytest.mark.parametrize(("template", "rel"), [c for c in CASES if "/" in c[1]])
@pytest.mark.parametrize("force", [False, True])
def test_a_file_where_a_folder_of_the_project_goes(template: str, rel: str, force: bool, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    proj = _project(tmp_path, template)
    (proj / rel.split("/")[0]).write_text("in the way")
    assert "is a file" in _refused(_args(template, force), proj, capsys)


@pytest.mark.parametrize(("template", "rel"), CASES)
@pytest.mark.parametrize("force", [False, True])
def test_a_folder_where_a_file_goes(template: str, rel: str, force: bool, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    proj = _project(tmp_path, template)
    (proj / rel).mkdir(parents=True)
    (proj / rel / "keep.txt").write_text("mine")
    _refused(_args(template, force), proj, capsys)


@pytest.mark.parametrize("template", [*TEMPLATES, "data"])
def test_the_project_folder_is_a_file(template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "proj").write_text("a file")
    assert "proj is not a folder" in _refused(_args(template, False), tmp_path, capsys)
    _refused(["init", "proj/sub"], tmp_path, capsys)


@pytest.mark.skipif(not Path("/proc/1").is_dir(), reason="no /proc")
@pytest.mark.parametrize("args", [["init", "/proc/1"], ["init", "/proc/1", "--force"], ["init", "/proc/1", "-t", "custom-stages"]])
def test_a_folder_nobody_can_write(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlgen: error: cannot write /proc/1/") and err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    proj = tmp_path / "proj"
    proj.mkdir()
    proj.chmod(0o555)
    try:
        assert "not writable" in _refused(["init", "proj"], proj, capsys)
    finally:
        proj.chmod(0o755)


def test_an_existing_spec_lists_every_existing_file_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "mlproject.toml").write_text("# mine\n")
    assert "proj/mlproject.toml" in _refused(["init", "proj", "-t", "custom-stages"], proj, capsys)
