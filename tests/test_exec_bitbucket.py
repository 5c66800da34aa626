"""The compiled demo's bitbucket-pipelines.yml runs as written (tests/support/bitbucket_executor.py):
a push to main trains in parallel shards and deploys both environments (production after a person
runs its manual step), a pull request tests and reports to Code Insights without deploying, the
scheduled custom pipeline retrains only after drift, and the rollback custom pipeline moves an
environment back.

Every step runs in a fresh clone: files travel only as the named artifacts the file declares. The
registry lives outside the clones (the repository variable MLGEN_REGISTRY). The first half checks
the executor itself on small files and which steps run per event on a stub plan (fast); the demo
runs are `slow`.
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mlgen.backends import bitbucket
from mlgen.cli import main as mlgen
from mlgen.compile import build_plan
from mlgen_runtime.contract import MONITOR_JOB, MONITOR_RESULT, Plan
from tests.support.bitbucket_executor import BitbucketExecutor, Run, RunResult, UnsupportedConstruct

ROOT = Path(__file__).resolve().parent.parent
PYTHON_BIN = Path(sys.executable).parent
AGENT_ENV = {"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
CHAIN = ["get-data", "validate", "train shard 1/2", "train shard 2/2", "select", "evaluate", "scan"]
DEPLOYS = ["deploy-staging", "deploy-production"]
OUT = "bitbucket-pipelines.yml"


# --------------------------------------------------------------------------- executor self-tests


def tiny(tmp_path: Path, pipelines: str, definitions: str = "") -> BitbucketExecutor:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "input.txt").write_text("hello\n")
    text = f"image: python:3.12\n{definitions}pipelines:\n{pipelines}"
    return BitbucketExecutor(text, project, tmp_path / "work", python_bin=PYTHON_BIN)


def test_failed_step_stops_the_pipeline_and_artifacts_travel_by_name(tmp_path: Path) -> None:
    ex = tiny(tmp_path, """  branches:
    main:
      - step: {name: a, script: ['mkdir -p out && echo one > out/x && echo left > stray'],
               artifacts: {upload: [{name: a, paths: ['out/**']}]}}
      - step: {name: b, script: ['test -f out/x && test ! -e stray'], artifacts: {download: [a]}}
      - step: {name: c, script: ['test ! -e out/x', 'exit 3', 'echo never'], artifacts: {download: false}}
      - step: {name: d, script: ['true']}
""")
    r = ex.run(Run())
    assert r.status == "FAILED" and r.ran() == ["a", "b", "c"] and r.steps["d"].status == "NOT_RUN", r.summary()
    assert r.artifacts["a"] == {"out/x": b"one\n"} and "never" not in r.steps["c"].log
    assert ex.run(Run(branch="feature")).status == "NO_PIPELINE"


def test_manual_steps_pause_and_custom_variables_must_be_declared(tmp_path: Path) -> None:
    ex = tiny(tmp_path, """  custom:
    go:
      - variables: [{name: TO}]
      - step: {name: a, script: ['true']}
      - step: {name: b, trigger: manual, deployment: prod, script: ['test "$TO" = 3 && test "$SECRET" = s']}
""")
    ex.deployment_variables = {"prod": {"SECRET": "s"}}
    paused = ex.run(Run("custom", pipeline="go", paused_at=frozenset({"b"})))
    assert paused.status == "PAUSED" and paused.ran() == ["a"]
    r = ex.run(Run("custom", pipeline="go", variables={"TO": "3"}))
    assert r.status == "SUCCESSFUL" and r.events == [("manual", "b")] and r.deployments() == [("b", "prod")], r.summary()
    with pytest.raises(UnsupportedConstruct, match="not declared"):
        ex.run(Run("custom", pipeline="go", variables={"OTHER": "1"}))


@pytest.mark.parametrize("step", ["{name: a, image: x, script: ['true']}", "{name: a, script: [{pipe: x}]}",
                                  "{name: a, caches: [pip], script: ['true']}", "{name: a, artifacts: [x], script: ['true']}",
                                  "{name: a, trigger: manual, script: ['true']}"])
def test_unknown_constructs_raise(tmp_path: Path, step: str) -> None:
    with pytest.raises(UnsupportedConstruct):
        tiny(tmp_path, f"  branches:\n    main:\n      - step: {step}\n").run(Run())


def test_caches_are_keyed_by_files_and_never_overwritten(tmp_path: Path) -> None:
    ex = tiny(tmp_path, """  branches:
    main:
      - step: {name: a, caches: [c], script: ['mkdir -p cache && (test -f cache/v || echo "$N" > cache/v) && cat cache/v']}
""", definitions="definitions:\n  caches:\n    c: {key: {files: [input.txt]}, path: cache}\n")
    first = ex.run(Run(variables={}))
    ex.variables["N"] = "2"
    second = ex.run(Run(number=2))
    assert "cache-hit" not in [e[0] for e in first.events] and ("cache-hit", "a", "c") in second.events
    (tmp_path / "project" / "input.txt").write_text("changed\n")
    third = ex.run(Run(number=3))
    assert "cache-hit" not in [e[0] for e in third.events] and third.steps["a"].log.strip() == "2"


# --------------------------------------------------------------------------- which steps run


def stub_plan(plan: Plan) -> Plan:
    """Every shell line replaced by one that only creates the job's outputs (the monitor writes the
    verdict the repository variable DRIFT dictates), to check the pipelines fast."""
    jobs = []
    for job in plan.jobs:
        paths = job.produces.paths if job.produces else ()
        line = " && ".join([f"mkdir -p {p} && touch {p}/stub" for p in paths] or ["true"])
        if job.name == MONITOR_JOB:
            line += f' && printf %s "$DRIFT" > {MONITOR_RESULT}'
        line += f" && echo RAN-{job.name}"
        jobs.append(replace(job, setup=("true",), commands=(line,)))
    return replace(plan, jobs=tuple(jobs))


@pytest.fixture(scope="module")
def stub_file() -> str:
    return bitbucket.render(stub_plan(build_plan(ROOT / "mlproject.toml", ROOT)))[OUT]


def worked(r: RunResult) -> list[str]:
    """Steps whose plan commands ran (not skipped by a guard)."""
    return [s.name for s in r.steps.values() if "RAN-" in s.log]


@pytest.mark.parametrize(
    ("run", "drift", "expected"),
    [
        (Run("push"), "false", [*CHAIN, *DEPLOYS]),
        (Run("push", branch="feature"), "false", None),
        (Run("pull_request", branch="feature"), "false", CHAIN),
        (Run("pull_request", branch="feature", destination="dev"), "false", []),
        (Run("custom", pipeline="mlgen-schedule"), "false", ["get-data", "monitor"]),
        (Run("custom", pipeline="mlgen-schedule"), "true", ["get-data", "monitor", *CHAIN[1:], *DEPLOYS]),
        (Run("custom", pipeline="mlgen-manual"), "false", ["get-data", "monitor", *CHAIN[1:], *DEPLOYS]),
        (Run("custom", branch="feature", pipeline="mlgen-manual"), "false", ["get-data", "monitor", *CHAIN[1:]]),
        (Run("custom", pipeline="rollback-staging"), "false", ["rollback-staging"]),
        (Run("custom", branch="feature", pipeline="rollback-production"), "false", []),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_demo_steps_per_event(stub_file: str, tmp_path: Path, run: Run, drift: str, expected: list[str] | None) -> None:
    (tmp_path / "project").mkdir()
    ex = BitbucketExecutor(stub_file, tmp_path / "project", tmp_path / "work", python_bin=PYTHON_BIN,
                           variables={"DRIFT": drift})
    r = ex.run(run)
    if expected is None:
        assert r.status == "NO_PIPELINE"
        return
    assert r.status == "SUCCESSFUL", r.summary()
    assert worked(r) == expected, r.summary()
    assert [e[1] for e in r.events if e[0] == "manual"] == [n for n in r.ran() if n == "deploy-production"]


# --------------------------------------------------------------------------- the demo, executed


class _Insights(http.server.BaseHTTPRequestHandler):
    calls: list[tuple[str, str, Any]] = []

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.calls.append((self.command, self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    do_PUT = do_POST = _record

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def insights_api() -> Any:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Insights)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/2.0"
    server.shutdown()


def make_project(where: Path, *, seed: int | None = None) -> Path:
    """A copy of the demo (root mlproject.toml + demo/), compiled for Bitbucket only."""
    where.mkdir(parents=True)
    spec = (ROOT / "mlproject.toml").read_text()
    if seed is not None:
        spec, n = re.subn(r"(?m)^seed = \d+$", f"seed = {seed}", spec)
        assert n == 1
    (where / "mlproject.toml").write_text(spec)
    shutil.copytree(ROOT / "demo", where / "demo")
    assert mlgen(["compile", "--spec", str(where / "mlproject.toml"), "--provider", "bitbucket", "--quiet"]) == 0
    return where


def executor(project: Path, work: Path, registry: Path, api: str) -> BitbucketExecutor:
    return BitbucketExecutor((project / OUT).read_text(), project, work, python_bin=PYTHON_BIN,
                             variables={**AGENT_ENV, "MLGEN_REGISTRY": str(registry), "MLGEN_BITBUCKET_API": api})


def aliases(registry: Path) -> dict[str, int]:
    return json.loads((registry / "aliases.json").read_text())


def history(registry: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (registry / "history.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, insights_api: str) -> tuple[Path, BitbucketExecutor]:
    base = tmp_path_factory.mktemp("bitbucket-demo")
    registry = base / "registry" / "models"
    return registry, executor(make_project(base / "project"), base / "work", registry, insights_api)


@pytest.fixture(scope="module")
def main_push(demo: tuple[Path, BitbucketExecutor]) -> RunResult:
    return demo[1].run(Run("push", number=1))


@pytest.mark.slow
def test_push_to_main_trains_in_shards_and_deploys_both(demo: tuple[Path, BitbucketExecutor], main_push: RunResult) -> None:
    registry, _ex = demo
    r = main_push
    assert r.status == "SUCCESSFUL", r.summary()
    assert r.ran() == CHAIN + DEPLOYS, r.summary()
    assert r.artifacts["train-shard-1"].keys() == {".mlgen/out/trials/shard-1-of-2.json"}
    assert r.artifacts["train-shard-2"].keys() == {".mlgen/out/trials/shard-2-of-2.json"}
    assert "4 trial results from 2 shards" in r.steps["select"].log
    assert r.events.count(("manual", "deploy-production")) == 1
    assert r.deployments() == [("deploy-staging", "staging"), ("deploy-production", "production")]
    assert aliases(registry) == {"production": 1, "staging": 1}
    for step in ("validate", "evaluate", "scan"):
        tests, failures = r.junit[step]
        assert tests > 0 and failures == 0, step
    assert "roc\\_auc" in r.artifacts["evaluate"][".mlgen/out/evaluate/report.md"].decode()


@pytest.mark.slow
def test_pull_request_tests_reports_to_code_insights_and_never_deploys(
    demo: tuple[Path, BitbucketExecutor], main_push: RunResult
) -> None:
    registry, ex = demo
    before = history(registry)
    _Insights.calls.clear()
    r = ex.run(Run("pull_request", branch="feature", destination="main", number=2))
    assert r.status == "SUCCESSFUL", r.summary()
    assert r.ran() == CHAIN and r.deployments() == []
    assert history(registry) == before
    # the stage caches the push saved serve the pull request (same inputs)
    assert {e[2] for e in r.events if e[0] == "cache-hit"} >= {"mlgen-validate", "mlgen-select"}
    puts = [c for c in _Insights.calls if c[0] == "PUT"]
    assert len(puts) == 1 and puts[0][1].startswith("/2.0/repositories/team/demo/commit/")
    assert puts[0][2]["result"] == "PASSED" and "scan" in json.dumps(puts[0][2])
    # into another branch: every step skips itself before installing anything
    other = ex.run(Run("pull_request", branch="feature", destination="dev", number=3))
    assert other.status == "SUCCESSFUL" and all("targets another branch; skipped" in s.log for s in other.steps.values())


@pytest.mark.slow
def test_schedule_without_drift_runs_the_monitor_and_skips_retraining(
    demo: tuple[Path, BitbucketExecutor], main_push: RunResult
) -> None:
    registry, ex = demo
    before = history(registry)
    r = ex.run(Run("custom", pipeline="mlgen-schedule", number=4))
    assert r.status == "SUCCESSFUL", r.summary()
    assert r.artifacts["monitor"][MONITOR_RESULT] == b"false\n"
    assert "monitor: no drift; validate skipped" in r.steps["validate"].log
    assert "monitor: no drift; deploy-production skipped" in r.steps["deploy-production"].log
    assert r.junit["monitor"][0] > 0 and history(registry) == before


@pytest.mark.slow
def test_rollback_pipeline_moves_staging_back(demo: tuple[Path, BitbucketExecutor], main_push: RunResult,
                                              tmp_path: Path, insights_api: str) -> None:
    registry, _ex = demo
    first = aliases(registry)["staging"]
    ex = executor(make_project(tmp_path / "project", seed=7), tmp_path / "work", registry, insights_api)
    second = ex.run(Run("push", number=5))
    assert second.status == "SUCCESSFUL", second.summary()
    now = aliases(registry)
    assert now["staging"] == now["production"] != first
    r = ex.run(Run("custom", pipeline="rollback-staging", number=6))
    assert r.status == "SUCCESSFUL" and r.ran() == ["rollback-staging"], r.summary()
    assert r.deployments() == [("rollback-staging", "staging")]
    assert aliases(registry) == {"staging": first, "production": now["production"]}
    r = ex.run(Run("custom", pipeline="rollback-production", variables={"MLGEN_ROLLBACK_TO": str(first)}, number=7))
    assert r.status == "SUCCESSFUL", r.summary()
    assert aliases(registry) == {"staging": first, "production": first}
