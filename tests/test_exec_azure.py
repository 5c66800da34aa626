"""The compiled demo's azure-pipelines.yml runs as written (tests/support/azure_executor.py): a
push to main trains in shards and deploys to both environments (production behind its Approvals
check), a pull request deploys nothing, a scheduled run retrains only when the monitor reports
drift, and a rollback run runs only that environment's rollback stage.

Every job execution is a new agent workspace: files travel between jobs only through the
pipeline artifacts the file publishes. The registry lives outside the workspaces
(MLGEN_REGISTRY, a pipeline variable), so deploys outlive a run.

The executor self-tests and the per-kind-of-run checks (the demo with stub commands) are fast;
the demo runs with the real runtime are `slow` and share one project and one push run (the
rollback and schedule paths run with stub commands: a real rollback needs two more full runs).
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mlgen.backends import azure
from mlgen.cli import main as mlgen
from mlgen.compile import build_plan
from mlgen_runtime.contract import MONITOR_JOB, MONITOR_RESULT, Plan
from tests.support.azure_executor import AzureExecutor, Run, RunResult, UnsupportedConstruct, evaluate

ROOT = Path(__file__).resolve().parent.parent
PYTHON_BIN = Path(sys.executable).parent
AGENT_ENV = {"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
CHECKS = {"production": "approval"}  # the demo's production environment has an Approvals check
CHAIN = ["get-data", "validate", "train", "select", "evaluate", "scan"]
DEPLOYS = ["deploy-staging", "deploy-production"]
OUT = "azure-pipelines.yml"


# --------------------------------------------------------------------------- executor self-tests


def tiny(tmp_path: Path, body: str) -> AzureExecutor:
    project = tmp_path / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "input.txt").write_text("hello\n")
    text = "trigger:\n  branches:\n    include: [main]\npr: none\n" + body
    return AzureExecutor(text, project, tmp_path / "work", python_bin=PYTHON_BIN)


def test_conditions_follow_azure_functions() -> None:
    ctx = {"variables": {"Build.Reason": "Schedule"}, "results": {"a": "Skipped"},
           "outputs": {"m": {"m.s.drifted": "true"}}, "status": lambda: "other"}
    assert evaluate("and(eq(variables['Build.Reason'], 'schedule'), eq(dependencies.m.outputs['m.s.drifted'], 'true'))", ctx)
    assert not evaluate("succeeded()", ctx)
    assert evaluate("in(dependencies.a.result, 'Skipped', 'Failed')", ctx)
    assert evaluate("eq('it''s', 'it''s')", ctx)
    with pytest.raises(UnsupportedConstruct):
        evaluate("startsWith(variables['Build.SourceBranch'], 'refs/heads/')", ctx)


def test_jobs_get_fresh_workspaces_and_only_artifacts_travel(tmp_path: Path) -> None:
    ex = tiny(tmp_path, """\
stages:
  - stage: a
    dependsOn: []
    jobs:
      - job: a
        steps:
          - checkout: self
          - script: mkdir -p out && echo one > out/x && echo left > stray && mkdir -p "$AGENT_TEMPDIRECTORY/p" && cp -R --parents out "$AGENT_TEMPDIRECTORY/p/"
          - task: PublishPipelineArtifact@1
            inputs: {targetPath: $(Agent.TempDirectory)/p, artifact: a, publishLocation: pipeline}
  - stage: b
    dependsOn: [a]
    jobs:
      - job: b
        steps:
          - checkout: self
          - task: DownloadPipelineArtifact@2
            inputs: {buildType: current, artifactName: a, targetPath: $(Build.SourcesDirectory)}
          - script: test -f out/x && test ! -e stray && test -f input.txt
""")
    r = ex.run(Run())
    assert r.result == "Succeeded", r.summary()
    assert r.artifacts == {"a": ("out/x",)} and r.ran() == ["a", "b"]
    assert r.stages["a"].workspaces != r.stages["b"].workspaces


def test_a_failing_script_skips_what_depends_on_it_and_secrets_reach_only_mapped_steps(tmp_path: Path) -> None:
    ex = tiny(tmp_path, """\
stages:
  - stage: a
    dependsOn: []
    jobs:
      - job: a
        variables:
          - group: g
        steps:
          - checkout: self
          - script: test -z "${TOKEN:-}"
          - script: test "$TOKEN" = s3cret
            env: {TOKEN: $(TOKEN)}
          - script: exit 3
          - script: echo never
          - script: echo always
            name: mlgen_after
            condition: succeededOrFailed()
  - stage: b
    dependsOn: [a]
    jobs:
      - job: b
        steps:
          - script: "true"
""")
    ex.groups = {"g": {"TOKEN": "s3cret"}}
    r = ex.run(Run())
    assert r.result == "Failed"
    assert [rc for _c, rc in r.stages["a"].commands] == [0, 0, 3, 0]
    assert r.stages["b"].status == "Skipped"
    with pytest.raises(UnsupportedConstruct, match="variable group"):
        replace_groups(ex).run(Run())


def replace_groups(ex: AzureExecutor) -> AzureExecutor:
    ex.groups = {}
    return ex


def test_unknown_constructs_raise(tmp_path: Path) -> None:
    for body in ("stages:\n  - stage: a\n    dependsOn: []\n    jobs:\n      - job: a\n        steps:\n          - bash: x\n",
                 "stages:\n  - stage: a\n    dependsOn: []\n    jobs:\n      - job: a\n        steps:\n          - task: Npm@1\n",
                 "stages:\n  - stage: a\n    dependsOn: []\n    jobs:\n      - job: a\n        steps:\n"
                 "          - script: echo ${{ variables.x }}\n"):
        with pytest.raises(UnsupportedConstruct):
            tiny(tmp_path / str(len(body)), body).run(Run())


# --------------------------------------------------------------------------- which stages run


def stub_plan(plan: Plan) -> Plan:
    """Every shell line replaced by one that creates the job's outputs (the monitor writes the
    verdict the agent's DRIFT variable dictates): conditions checked in seconds."""
    jobs = []
    for job in plan.jobs:
        paths = job.produces.paths if job.produces else ()
        line = " && ".join([f"mkdir -p {p} && touch {p}/stub-$MLGEN_SHARD_INDEX" for p in paths] or ["true"])
        if job.name == MONITOR_JOB:
            line += f' && printf %s "$DRIFT" > {MONITOR_RESULT}'
        jobs.append(replace(job, setup=("true",), commands=(line,), cache=None, install_cache=None))
    return replace(plan, jobs=tuple(jobs), providers=("azure",))


@pytest.fixture(scope="module")
def stub_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("azure-stub")
    plan = stub_plan(build_plan(ROOT / "mlproject.toml", ROOT))
    (project / OUT).write_text(azure.render(plan)[OUT])
    return project


@pytest.mark.parametrize(
    ("run", "drift", "expected"),
    [
        (Run("push"), "false", [*CHAIN, *DEPLOYS]),
        (Run("pull_request", branch="feature"), "false", CHAIN),
        (Run("manual"), "false", ["get-data", "monitor", *CHAIN[1:], *DEPLOYS]),
        (Run("manual", branch="feature"), "false", ["get-data", "monitor", *CHAIN[1:]]),
        (Run("schedule"), "false", ["get-data", "monitor"]),
        (Run("schedule"), "true", ["get-data", "monitor", *CHAIN[1:], *DEPLOYS]),
        (Run("manual", parameters={"rollback": "staging"}), "false", ["rollback-staging"]),
        (Run("manual", parameters={"rollback": "production", "rollbackTo": "1"}), "true", ["rollback-production"]),
        (Run("manual", branch="feature", parameters={"rollback": "staging"}), "false", []),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_demo_stages_per_kind_of_run(stub_demo: Path, tmp_path: Path, run: Run, drift: str, expected: list[str]) -> None:
    ex = AzureExecutor((stub_demo / OUT).read_text(), stub_demo, tmp_path, python_bin=PYTHON_BIN,
                       agent_env={"DRIFT": drift}, checks=CHECKS)
    r = ex.run(run)
    assert r.result == "Succeeded", r.summary()
    assert r.ran() == expected, r.summary()
    assert r.approvals == [e for e in ("production",) if f"deploy-{e}" in expected or f"rollback-{e}" in expected]
    assert r.locks == [n.split("-", 1)[1] for n in expected if n.startswith(("deploy-", "rollback-"))]
    if "train" in expected:  # two shards, two artifacts, both downloaded by select
        assert {n for n in r.artifacts if n.startswith("train")} == {"train-shard-1", "train-shard-2"}


def test_a_rejected_approval_stops_production(stub_demo: Path, tmp_path: Path) -> None:
    ex = AzureExecutor((stub_demo / OUT).read_text(), stub_demo, tmp_path, python_bin=PYTHON_BIN,
                       agent_env={"DRIFT": "false"}, checks=CHECKS)
    r = ex.run(Run("push", reject=frozenset({"production"})))
    assert r.result == "Failed" and r.stages["deploy-production"].status == "Failed"
    assert r.stages["deploy-production"].commands == []  # nothing ran before the approval
    with pytest.raises(UnsupportedConstruct, match="not one of the values"):
        ex.run(Run("manual", parameters={"rollback": "qa"}))


# --------------------------------------------------------------------------- the demo, executed


def make_project(where: Path, *, seed: int | None = None) -> Path:
    """A copy of the demo (root mlproject.toml + demo/), compiled for Azure only."""
    where.mkdir(parents=True)
    spec = (ROOT / "mlproject.toml").read_text()
    if seed is not None:
        import re

        spec, n = re.subn(r"(?m)^seed = \d+$", f"seed = {seed}", spec)
        assert n == 1
    (where / "mlproject.toml").write_text(spec)
    shutil.copytree(ROOT / "demo", where / "demo")
    assert mlgen(["compile", "--spec", str(where / "mlproject.toml"), "--provider", "azure", "--quiet"]) == 0
    return where


def aliases(registry: Path) -> dict[str, int]:
    return json.loads((registry / "aliases.json").read_text())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, AzureExecutor]:
    base = tmp_path_factory.mktemp("azure-demo")
    project = make_project(base / "project")
    registry = base / "registry" / "models"
    ex = AzureExecutor((project / OUT).read_text(), project, base / "work", python_bin=PYTHON_BIN,
                       agent_env=AGENT_ENV, checks=CHECKS)
    return project, registry, ex


@pytest.fixture(scope="module")
def push(demo: tuple[Path, Path, AzureExecutor]) -> RunResult:
    return demo[2].run(Run("push", variables={"MLGEN_REGISTRY": str(demo[1])}))


@pytest.mark.slow
def test_push_to_main_trains_in_shards_and_deploys_both(demo: tuple[Path, Path, AzureExecutor], push: RunResult) -> None:
    _project, registry, _ex = demo
    r = push
    assert r.result == "Succeeded", r.summary()
    assert r.ran() == [*CHAIN, *DEPLOYS], r.summary()
    assert r.artifacts["train-shard-1"] == (".mlgen/out/trials/shard-1-of-2.json",)
    assert r.artifacts["train-shard-2"] == (".mlgen/out/trials/shard-2-of-2.json",)
    assert r.approvals == ["production"] and r.locks == ["staging", "production"]
    assert aliases(registry) == {"production": 1, "staging": 1}
    assert [f for f, tests, failures in r.junit if tests > 0 and failures == 0] == [
        ".mlgen/out/validate/junit.xml", ".mlgen/out/evaluate/junit.xml", ".mlgen/out/scan/junit.xml"]
    assert any(s.endswith(".mlgen/out/evaluate/report.md") for s in r.summaries)
    assert ("validate", "miss") in r.cache_hits


@pytest.mark.slow
def test_pull_request_tests_from_the_stage_cache_and_never_deploys(demo: tuple[Path, Path, AzureExecutor],
                                                                     push: RunResult) -> None:
    _project, registry, ex = demo
    before = aliases(registry)
    r = ex.run(Run("pull_request", branch="feature", variables={"MLGEN_REGISTRY": str(registry)}))
    assert r.result == "Succeeded", r.summary()
    assert r.ran() == CHAIN and r.approvals == [] and r.locks == []
    assert ("validate", "exact") in r.cache_hits  # the same inputs as the push: its entry
    assert aliases(registry) == before
