"""The pre-commit hooks in .pre-commit-hooks.yaml, run by the real `pre-commit` tool.

A user's `.pre-commit-config.yaml` points at this repository (`repo:` + `rev:`); pre-commit
clones it and, since the hooks say `language: python`, makes a virtualenv and `pip install .`s
the clone into it. The tests do exactly that, from a committed copy of this checkout, offline:
pip may not use an index (PIP_NO_INDEX, no pip config), and the dependencies it would download
(jinja2, pydantic, ...) are already satisfied from this interpreter's site-packages on
PYTHONPATH. mlgen itself comes from the clone: the tests check that the hook environment holds
its own copy. One hook environment (PRE_COMMIT_HOME) serves the whole module.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mlgen import backends
from mlgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
# what `pip install .` of this repository needs (pyproject's package-dir) and the manifest
HOOK_REPO_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "compiler", "templates", "schemas", "runtime")
# the spec, .mlgen/ and what each built-in backend writes (its constraints' `outputs`)
OUTPUTS_PATTERN = backends.precommit_files_pattern()


def _require_pre_commit() -> None:
    if importlib.util.find_spec("pre_commit") is None:
        msg = "pre-commit is not installed (it is in the `test` extra: pip install -e '.[test]')"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    if shutil.which("git") is None:
        pytest.fail("git is needed by pre-commit", pytrace=False)


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT", "PIP_", "VIRTUALENV_"))}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,  # no user hooks, templates or signing
        GIT_AUTHOR_NAME="mlgen-tests",
        GIT_AUTHOR_EMAIL="mlgen-tests@localhost",
        GIT_COMMITTER_NAME="mlgen-tests",
        GIT_COMMITTER_EMAIL="mlgen-tests@localhost",
        NO_COLOR="1",
    )
    return env


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=_git_env(), check=True, capture_output=True, text=True).stdout


def _commit_all(repo: Path, message: str) -> str:
    if not (repo / ".git").exists():
        _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "--allow-empty", "-m", message)
    return _git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A committed copy of this checkout, as a user's config would reference it: (path, rev)."""
    _require_pre_commit()
    repo = tmp_path_factory.mktemp("mlgen-hooks")
    for rel in HOOK_REPO_FILES:
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, repo / rel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, repo / rel)
    return repo, _commit_all(repo, "mlgen hooks")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def _offline_env(home: Path) -> dict[str, str]:
    env = _git_env()
    paths = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    env.update(
        PRE_COMMIT_HOME=str(home),
        PIP_CONFIG_FILE=os.devnull,  # no machine-wide index, find-links or constraints
        PIP_NO_INDEX="1",
        PIP_NO_BUILD_ISOLATION="0",  # pip reads this one inverted: "0" = build without isolation
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        VIRTUALENV_NO_PERIODIC_UPDATE="1",
        PYTHONPATH=os.pathsep.join(paths),
    )
    return env


@pytest.fixture
def project(tmp_path: Path, hook_repo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's repository: a starter spec, its compiled outputs and a pre-commit config, committed."""
    proj = tmp_path / "proj"
    proj.mkdir()
    monkeypatch.chdir(proj)
    assert main(["init"]) == 0
    assert main(["compile", "--quiet"]) == 0
    path, rev = hook_repo
    (proj / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {path.as_posix()}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: mlgen-check\n"
        "      - id: mlgen-validate\n"
    )
    _commit_all(proj, "project")
    return proj


def pre_commit(cwd: Path, home: Path, *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--color", "never"],
        cwd=cwd, env=_offline_env(home), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )
    return proc.returncode, proc.stdout


def _status(out: str, hook_name: str) -> str:
    """pre-commit's verdict line for a hook: Passed, Failed or Skipped."""
    line = next(ln for ln in out.splitlines() if ln.startswith(hook_name + "."))
    return line.rsplit(".", 1)[-1].split(")")[-1]


def test_manifest_passes_pre_commits_own_validator(tmp_path: Path) -> None:
    _require_pre_commit()
    res = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(MANIFEST)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr

    from ruamel.yaml import YAML

    hooks = {h["id"]: h for h in YAML(typ="safe", pure=True).load(MANIFEST.read_text())}
    assert set(hooks) == {"mlgen-check", "mlgen-validate"}
    assert hooks["mlgen-check"]["entry"] == "mlgen compile --check"
    assert hooks["mlgen-check"]["files"] == OUTPUTS_PATTERN, f"write `files: {OUTPUTS_PATTERN}`"
    # the pattern matches every file a compile of the built-ins writes outside .mlgen/
    outputs = ("Jenkinsfile", ".gitlab-ci.yml", ".github/workflows/mlgen.yml", ".github/workflows/mlgen-rollback.yml")
    assert all(re.fullmatch(OUTPUTS_PATTERN, f) for f in outputs)
    assert hooks["mlgen-validate"]["entry"] == "mlgen validate"
    for h in hooks.values():
        assert h["language"] == "python" and h["pass_filenames"] is False

    # the validator is real: a broken manifest is refused
    broken = tmp_path / ".pre-commit-hooks.yaml"
    broken.write_text(MANIFEST.read_text().replace("language: python", "language: pythn", 1))
    res = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(broken)],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "pythn" in res.stdout + res.stderr


def test_fresh_passes_stale_fails_recompile_passes(project: Path, pre_commit_home: Path) -> None:
    rc, out = pre_commit(project, pre_commit_home, "run", "--all-files")
    assert rc == 0, out
    assert _status(out, "mlgen compile --check") == "Passed"
    assert _status(out, "mlgen validate") == "Passed"
    # the hooks ran mlgen installed from the hook repository into pre-commit's own virtualenv
    installed = list(pre_commit_home.glob("repo*/py_env-*/lib/python*/site-packages/mlgen/cli.py"))
    assert installed, f"no mlgen in a pre-commit hook environment under {pre_commit_home}"

    # a hand-edited generated file
    jenkinsfile = project / "Jenkinsfile"
    jenkinsfile.write_text(jenkinsfile.read_text() + "// my edit\n")
    rc, out = pre_commit(project, pre_commit_home, "run", "--all-files")
    assert rc == 1, out
    assert _status(out, "mlgen compile --check") == "Failed"
    assert "stale: " in out and "Jenkinsfile (changed); run `mlgen compile`" in out
    assert _status(out, "mlgen validate") == "Passed"

    # a spec edited without recompiling
    spec = project / "mlproject.toml"
    spec.write_text(spec.read_text().replace("seed = 42", "seed = 43"))
    rc, out = pre_commit(project, pre_commit_home, "run", "--all-files")
    assert rc == 1 and ".mlgen/plan.json (changed)" in out, out

    assert main(["compile", "--quiet"]) == 0
    rc, out = pre_commit(project, pre_commit_home, "run", "--all-files")
    assert rc == 0, out
    assert _status(out, "mlgen compile --check") == "Passed"


def test_bad_spec_fails_validate_with_file_line_col(project: Path, pre_commit_home: Path) -> None:
    spec = project / "mlproject.toml"
    lines = spec.read_text().splitlines(keepends=True)
    n = next(i for i, ln in enumerate(lines, 1) if ln.startswith("estimator ="))
    lines[n - 1] = lines[n - 1].replace("estimator =", "estimatr =", 1)
    spec.write_text("".join(lines))
    rc, out = pre_commit(project, pre_commit_home, "run", "--all-files")
    assert rc == 1, out
    assert _status(out, "mlgen validate") == "Failed"
    # the diagnostic, its code frame (the line and a caret under column 1) and its hint
    frame = f"mlproject.toml:{n}:1: error[E101]: train.estimatr: unknown key `estimatr`\n"
    assert frame in out, out
    after = out.split(frame, 1)[1].splitlines()
    assert after[1].endswith("| " + lines[n - 1].rstrip("\n")) and after[2].rstrip().endswith("| ^"), after[:4]
    assert after[3] == "  hint: did you mean `estimator`?", after[:4]
    assert "- exit code: 2" in out  # bad input, from both hooks
    assert _status(out, "mlgen compile --check") == "Failed"


def test_hooks_run_only_for_the_spec_and_generated_files(project: Path, pre_commit_home: Path) -> None:
    (project / "Jenkinsfile").write_text((project / "Jenkinsfile").read_text() + "// my edit\n")
    (project / "notes.txt").write_text("unrelated\n")
    rc, out = pre_commit(project, pre_commit_home, "run", "--files", "notes.txt", "scripts/make_data.py")
    assert rc == 0, out
    assert _status(out, "mlgen compile --check") == "Skipped"
    assert _status(out, "mlgen validate") == "Skipped"
    rc, out = pre_commit(project, pre_commit_home, "run", "--files", "Jenkinsfile")
    assert rc == 1, out
    assert _status(out, "mlgen compile --check") == "Failed"
    assert _status(out, "mlgen validate") == "Skipped"  # only the spec files concern it
