"""Every argument list goes to the typer app (cli_app.py); cli.main keeps the exit codes: a
usage error or a bad spec is 2 with its message and no traceback, --help is 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgen.cli import main

SPEC = """
[project]
name = "codes"

[data]
path = "data/train.csv"
target = "y"
task = "regression"

[train]
estimator = "sklearn.linear_model.Ridge"

[evaluate]
metrics = ["r2"]
"""


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "mlproject.toml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["compile", "--bogus"], "No such option"),
        (["compile", "--spec"], "requires an argument"),
        (["compile", "extra"], "unexpected extra argument"),
        (["run", "-x"], "No such option"),
        (["nope"], "No such command"),
    ],
)
def test_usage_errors_exit_2_with_clicks_message(argv: list[str], says: str, proj: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert says in err and "Traceback" not in out + err
    assert not (proj / ".mlgen").exists()


def test_bad_spec_exits_2_and_writes_nothing(proj: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (proj / "mlproject.toml").write_text(SPEC.replace('task = "regression"', 'task = "guess"'))
    assert main(["compile"]) == 2
    err = capsys.readouterr().err
    assert "mlproject.toml:" in err and err.rstrip().endswith("nothing written")
    assert not (proj / ".mlgen").exists()


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", "--help"]) == 0
    assert "--spec" in capsys.readouterr().out


def test_compile_and_run_take_their_plain_forms(proj: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", "-q", "--spec=mlproject.toml", "--provider", "gitlab", "--provider=github"]) == 0
    assert (proj / ".gitlab-ci.yml").is_file() and (proj / ".github/workflows/mlgen.yml").is_file()
    assert main(["compile", "--check", "--provider", "gitlab", "--provider", "github"]) == 0
    assert main(["run", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
