"""Every golden output (and the root example's committed pipelines) passes the providers' own
judges: check-jsonschema, actionlint+shellcheck, zizmor (auditor, zero findings),
gitlab-ci-local's dependency-chain validation, npm-groovy-lint and taplo.

Each judge is called once over all files where it allows that (npm-groovy-lint costs ~12 s a
call). Locally a missing judge skips with its name; with CI=true it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgen.cli import main
from tests.support import golden, judges

ROOT = Path(__file__).resolve().parent.parent
DIRS = [golden.GOLDEN / c / golden.EXPECTED for c in golden.cases()] + [ROOT]


def _files(rel: str) -> list[Path]:
    found = [d / rel for d in DIRS if (d / rel).is_file()]
    assert found, rel
    return found


GITHUB = _files(".github/workflows/mlgen.yml") + [
    d / ".github/workflows/mlgen-rollback.yml" for d in DIRS if (d / ".github/workflows/mlgen-rollback.yml").is_file()
]
GITLAB = _files(".gitlab-ci.yml")
# the child pipelines a scheduled run starts when the monitor finds drift (or not)
GITLAB_CHILDREN = [p for d in DIRS for p in sorted((d / ".mlgen/gitlab").glob("*.yml"))]
JENKINS = _files("Jenkinsfile")


def test_root_example_outputs_are_current(monkeypatch: pytest.MonkeyPatch) -> None:
    """The root mlproject.toml's generated files are committed; they must match a recompile."""
    monkeypatch.chdir(ROOT)
    assert main(["compile", "--check"]) == 0


def test_every_case_has_every_provider_somewhere() -> None:
    assert len(GITHUB) >= 8 and len(GITLAB) >= 8 and len(JENKINS) >= 8


def test_github_schema() -> None:
    judges.check_jsonschema("vendor.github-workflows", GITHUB)


def test_actionlint_with_shellcheck() -> None:
    judges.actionlint(GITHUB)


def test_zizmor_auditor_zero_findings() -> None:
    judges.zizmor(GITHUB, persona="auditor")


def test_gitlab_schema() -> None:
    assert GITLAB_CHILDREN, "no case compiles a retraining child pipeline"
    judges.check_jsonschema("vendor.gitlab-ci", GITLAB + GITLAB_CHILDREN)


@pytest.mark.slow
@pytest.mark.parametrize("path", GITLAB, ids=lambda p: p.parent.parent.name if p.parent.name == "expected" else "root")
def test_gitlab_ci_local_dependency_chain(path: Path) -> None:
    manual = _manual_jobs(path)
    rc, out = judges.gitlab_ci_local(path.parent, ["--validate-dependency-chain"], manual, execute=False, check=False)
    blocking = _needed_manual_jobs(path)
    if not blocking:
        assert rc == 0, out
        return
    # A deploy that needs an earlier manual deploy (allow_failure: false) is valid GitLab: it
    # waits until a person runs the earlier one. gitlab-ci-local 4.73's validator ignores
    # --manual (it passes no manual jobs to its check), so it can only report exactly that.
    lines = [ln for ln in out.splitlines() if "when:manual" in ln]
    assert rc != 0 and len(lines) == 1, out
    assert any(f"{job} is when:manual, its needed by" in lines[0] for job in blocking), out
    # and the pipeline still parses and lists every job
    judges.gitlab_ci_local(path.parent, ["--list"], manual, execute=False)


def _needed_manual_jobs(path: Path) -> set[str]:
    from ruamel.yaml import YAML

    doc = YAML(typ="safe", pure=True).load(path.read_text())
    needed = {n["job"] for job in doc.values() if isinstance(job, dict) for n in job.get("needs", []) or []}
    return needed & set(_manual_jobs(path))


def _manual_jobs(path: Path) -> list[str]:
    from ruamel.yaml import YAML

    doc = YAML(typ="safe", pure=True).load(path.read_text())
    return sorted(
        name for name, job in doc.items()
        if isinstance(job, dict) and any(r.get("when") == "manual" for r in job.get("rules", []))
    )


@pytest.mark.slow
def test_npm_groovy_lint_zero_errors() -> None:
    rc, out = judges.groovy_lint(JENKINS)
    assert rc == 0, out
    errors = {f: [x for x in found if x[1] == "error"] for f, found in judges.parse_groovy_lint(out).items()}
    assert not any(errors.values()), errors


def test_taplo_checks_golden_specs_against_the_schema() -> None:
    specs = [golden.GOLDEN / c / "mlproject.toml" for c in golden.cases() if golden.spec_name(c) == "mlproject.toml"]
    judges.taplo_check(ROOT / "schemas" / "mlproject.schema.json", specs + [ROOT / "mlproject.toml"])
