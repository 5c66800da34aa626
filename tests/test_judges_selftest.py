"""Self-tests of the judges harness (tests/support/judges.py).

Each judge is shown a deliberately bad input and must flag it, and a good one and must pass it:
a judge that is not wired up (missing tool, shellcheck not found, wrong flags, a runner that
never executes anything) makes these fail instead of letting the real tests pass silently.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support import judges

# --------------------------------------------------------------------------- inputs

BAD_WORKFLOW = """\
name: bad
on:
  issues:
    types: [opened]
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.issue.title }}"
"""

# What the GitHub backend must produce, in miniature: zero findings from all three judges
# (zizmor's auditor persona included: top-level permissions, commented grants, SHA pin with a
# version comment, persist-credentials false, concurrency, timeout, named job, env not ${{ }}).
GOOD_WORKFLOW = """\
name: good
on:
  push:
    branches: [main]
permissions: {}
concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: true
jobs:
  greet:
    name: greet
    runs-on: ubuntu-latest
    timeout-minutes: 10
    permissions:
      contents: read  # actions/checkout
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
        with:
          persist-credentials: false
      - name: greet
        env:
          MSG: ${{ github.event.head_commit.message }}
        run: printf '%s\\n' "$MSG"
"""

# Unquoted variable in run: -> only shellcheck (through actionlint) reports it (SC2086).
SHELLCHECK_WORKFLOW = GOOD_WORKFLOW.replace("run: printf", "run: echo $MSG; printf")

GITLAB_UNKNOWN_KEY = """\
build:
  stage: build
  script: [echo hi]
  artifactz:
    paths: [out.txt]
"""

GITLAB_ARTIFACT_PIPELINE = """\
stages: [build, test, deploy]
produce:
  stage: build
  script:
    - mkdir -p out
    - echo "payload-42" > out/result.txt
  artifacts:
    paths: [out/]
    expire_in: 1 day
consume:
  stage: test
  needs:
    - job: produce
      artifacts: true
  script:
    - test "$(cat out/result.txt)" = "payload-42"
    - echo "consumed $(cat out/result.txt)"
release:
  stage: deploy
  needs: [consume, produce]
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      when: manual
  script:
    - echo "released $(cat out/result.txt)"
"""

# produce writes out/result.txt but does not declare it as an artifact: with
# --shell-isolation the consumer must not see it.
GITLAB_UNDECLARED_ARTIFACT = """\
stages: [build, test]
produce:
  stage: build
  script:
    - mkdir -p out
    - echo "payload-42" > out/result.txt
consume:
  stage: test
  needs: [produce]
  script:
    - test "$(cat out/result.txt)" = "payload-42"
"""

GOOD_JENKINSFILE = """\
pipeline {
    agent any
    options {
        disableConcurrentBuilds()
        timeout(time: 60, unit: 'MINUTES')
        buildDiscarder(logRotator(numToKeepStr: '20'))
    }
    stages {
        stage('build') {
            steps {
                sh 'echo hello'
            }
        }
    }
}
"""

BAD_GROOVY = """\
pipeline {
    agent any
    stages {
        stage('build' {
            steps {
                sh 'echo hello'
            }
        }
    }
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- require()


@pytest.mark.parametrize("ci", ["true", ""])
def test_require_missing_tool_fails_in_ci_and_skips_elsewhere(ci, tmp_path, monkeypatch):
    monkeypatch.setenv("MLGEN_TOOLS_DIR", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected, match=r"zizmor not installed.*install-judges\.sh"):
        judges.require("zizmor")


# --------------------------------------------------------------------------- GitHub Actions


def test_zizmor_flags_unpinned_action_and_template_injection(tmp_path):
    wf = write(tmp_path / ".github/workflows/bad.yml", BAD_WORKFLOW)
    rc, out = judges.zizmor([wf], check=False)
    assert rc != 0, out
    assert "unpinned-uses" in out, out
    assert "template-injection" in out, out
    with pytest.raises(AssertionError, match="template-injection"):
        judges.zizmor([wf])


def test_actionlint_flags_untrusted_expression_in_run(tmp_path):
    wf = write(tmp_path / ".github/workflows/bad.yml", BAD_WORKFLOW)
    rc, out = judges.actionlint([wf], check=False)
    assert rc != 0, out
    assert "github.event.issue.title" in out and "[expression]" in out, out


def test_actionlint_runs_shellcheck_on_run_scripts(tmp_path):
    wf = write(tmp_path / ".github/workflows/sc.yml", SHELLCHECK_WORKFLOW)
    rc, out = judges.actionlint([wf], check=False)
    assert rc != 0, out
    assert "SC2086" in out and "[shellcheck]" in out, out


def test_check_jsonschema_flags_invalid_workflow(tmp_path):
    invalid = GOOD_WORKFLOW.replace("runs-on:", "runs_on:")
    wf = write(tmp_path / ".github/workflows/bad.yml", invalid)
    rc, out = judges.check_jsonschema("vendor.github-workflows", [wf], check=False)
    assert rc != 0, out
    assert "runs_on" in out, out


def test_good_workflow_passes_every_github_judge(tmp_path):
    wf = write(tmp_path / ".github/workflows/good.yml", GOOD_WORKFLOW)
    judges.check_jsonschema("vendor.github-workflows", [wf])
    judges.actionlint([wf])
    rc, out = judges.zizmor([wf], persona="auditor")
    assert rc == 0, out


# --------------------------------------------------------------------------- GitLab CI


def test_check_jsonschema_flags_unknown_gitlab_key(tmp_path):
    bad = write(tmp_path / "bad/.gitlab-ci.yml", GITLAB_UNKNOWN_KEY)
    good = write(tmp_path / "good/.gitlab-ci.yml", GITLAB_ARTIFACT_PIPELINE)
    rc, out = judges.check_jsonschema("vendor.gitlab-ci", [bad], check=False)
    assert rc != 0, out
    assert "'artifactz' was unexpected" in out, out
    judges.check_jsonschema("vendor.gitlab-ci", [good])


@pytest.mark.slow
def test_gitlab_ci_local_runs_artifact_pipeline_green(tmp_path):
    project = tmp_path / "project"
    write(project / ".gitlab-ci.yml", GITLAB_ARTIFACT_PIPELINE)
    rc, out = judges.gitlab_ci_local(project)
    assert rc == 0, out
    assert "consume > consumed payload-42" in out, out
    # release is manual: it does not run unless asked for
    assert judges.gitlab_job_results(out) == {"produce": "PASS", "consume": "PASS"}, out
    # the project itself is never written to
    assert sorted(p.name for p in project.iterdir()) == [".gitlab-ci.yml"]


@pytest.mark.slow
def test_gitlab_ci_local_runs_requested_manual_jobs(tmp_path):
    project = tmp_path / "project"
    write(project / ".gitlab-ci.yml", GITLAB_ARTIFACT_PIPELINE)
    rc, out = judges.gitlab_ci_local(project, manual_jobs=["release"])
    assert rc == 0, out
    assert "release > released payload-42" in out, out
    expected = {"produce": "PASS", "consume": "PASS", "release": "PASS"}
    assert judges.gitlab_job_results(out) == expected, out


@pytest.mark.slow
def test_gitlab_ci_local_isolates_undeclared_artifacts(tmp_path):
    project = tmp_path / "project"
    write(project / ".gitlab-ci.yml", GITLAB_UNDECLARED_ARTIFACT)
    rc, out = judges.gitlab_ci_local(project, check=False)
    assert rc != 0, out
    assert judges.gitlab_job_results(out) == {"produce": "PASS", "consume": "FAIL"}, out
    with pytest.raises(AssertionError, match="FAIL  consume"):
        judges.gitlab_ci_local(project)


@pytest.mark.slow
def test_gitlab_ci_local_validates_dependency_chain(tmp_path):
    project = tmp_path / "project"
    write(project / ".gitlab-ci.yml", GITLAB_ARTIFACT_PIPELINE)
    rc, out = judges.gitlab_ci_local(project, ["--validate-dependency-chain"], execute=False)
    assert rc == 0, out


# --------------------------------------------------------------------------- TOML (the spec)


def test_taplo_and_check_jsonschema_flag_unknown_toml_key(tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text(
        '{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",'
        ' "properties": {"name": {"type": "string"}}, "additionalProperties": false}',
        encoding="utf-8",
    )
    good = write(tmp_path / "good.toml", 'name = "churn"\n')
    bad = write(tmp_path / "bad.toml", 'name = "churn"\nnmae = "typo"\n')
    for judge in (judges.taplo_check, judges.check_jsonschema):
        judge(schema, [good])
        rc, out = judge(schema, [bad], check=False)
        assert rc != 0 and "'nmae' was unexpected" in out, out


# --------------------------------------------------------------------------- Jenkins


@pytest.mark.slow
def test_groovy_lint_flags_syntax_error_among_several_files(tmp_path):
    # One call for both files (npm-groovy-lint costs seconds per call, not per file); the
    # error must be attributed to the bad file only.
    good = write(tmp_path / "good/Jenkinsfile", GOOD_JENKINSFILE)
    bad = write(tmp_path / "bad/broken.groovy", BAD_GROOVY)
    rc, out = judges.groovy_lint([good, bad], check=False)
    assert rc != 0, out
    assert "2 linted files" in out, out
    findings = judges.parse_groovy_lint(out)
    assert any(sev == "error" for _, sev, _ in findings.get(str(bad.resolve()), [])), out
    assert not any(sev == "error" for _, sev, _ in findings.get(str(good.resolve()), [])), out
