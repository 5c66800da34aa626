"""The generated GitHub Actions workflows, executed as written.

No runner exists offline: tests/support/github_executor.py runs every `run:` step of the compiled
demo's workflows in job order, each job in its own copy of the project, with artifacts and the
stage cache carried only by the emulated actions. The demo goes through on a push to main (shard
matrix, deploys), a pull request (PR comment through a stubbed `gh`), the weekly schedule with
and without drifted live data, a failing gate, and a rollback dispatch.

The condition tests at the top need no execution: they evaluate each generated `if:` with the
executor's expression evaluator for every event and every result of the jobs before it.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mlgen.cli import main
from tests.support.github_executor import (
    FAILURE,
    SKIPPED,
    SUCCESS,
    Event,
    Expr,
    GitHubExecutor,
    RunResult,
    Scope,
    Unsupported,
    condition,
    evaluate,
    job_runs,
)

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ".github/workflows/mlgen.yml"
ROLLBACK = ".github/workflows/mlgen-rollback.yml"
PIPELINE = ("get-data", "validate", "train", "select", "evaluate", "scan", "deploy-staging", "deploy-production")
RETRAIN = ("validate", "train", "select", "evaluate", "scan", "deploy-staging", "deploy-production")
LIVE_LINE = 'shuffled.iloc[cut:].drop(columns=["malignant"]).to_csv(out / "live.csv", index=False)'


def compile_demo(dest: Path, edit: Callable[[str], str] | None = None) -> Path:
    """The root demo (mlproject.toml + demo/) compiled for GitHub into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    spec = (ROOT / "mlproject.toml").read_text(encoding="utf-8")
    (dest / "mlproject.toml").write_text(edit(spec) if edit else spec, encoding="utf-8")
    shutil.copytree(ROOT / "demo", dest / "demo", dirs_exist_ok=True)
    recompile(dest)
    return dest


def recompile(project: Path) -> None:
    assert main(["compile", "--spec", str(project / "mlproject.toml"), "--provider", "github", "-q"]) == 0


def drifting(project: Path) -> Path:
    """A copy of `project` whose get-data writes live rows with `mean radius` scaled by 1.5."""
    copy = project.with_name(project.name + "-drifted")
    shutil.copytree(project, copy)
    script = copy / "demo/make_data.py"
    text = script.read_text(encoding="utf-8")
    assert LIVE_LINE in text, "demo/make_data.py changed: update LIVE_LINE"
    scaled = LIVE_LINE.replace(
        '.to_csv(', '.assign(**{"mean radius": lambda f: f["mean radius"] * 1.5}).to_csv('
    )
    script.write_text(text.replace(LIVE_LINE, scaled), encoding="utf-8")
    return copy


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def failed_jobs(run: RunResult) -> str:
    return "\n".join(j.log()[-4000:] for j in run.jobs.values() if j.result == FAILURE)


def assert_results(run: RunResult, expected: dict[str, str]) -> None:
    got = {name: run.results[name] for name in expected}
    assert got == expected, failed_jobs(run)


# --------------------------------------------------------------------------------- conditions


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_demo(tmp_path_factory.mktemp("gh-compiled") / "project")


@dataclass(frozen=True)
class Graph:
    conditions: dict[str, Any]
    needs: dict[str, list[str]]
    ancestors: dict[str, set[str]]


def graph_of(path: Path) -> Graph:
    jobs = load(path)["jobs"]
    needs = {n: list(j.get("needs", [])) for n, j in jobs.items()}
    ancestors: dict[str, set[str]] = {}
    for n in jobs:  # file order is a topological order
        ancestors[n] = set(needs[n]).union(*(ancestors[d] for d in needs[n]))
    return Graph({n: j.get("if", True) for n, j in jobs.items()}, needs, ancestors)


EVENTS = {
    "push": Event.push(),
    "pull_request": Event.pull_request(),
    "schedule": Event.schedule(),
    "workflow_dispatch": Event.dispatch(),
    "push-other-branch": Event("push", ref="refs/heads/dev"),
}


def simulate(graph: Graph, event: Event, fail: str | None = None, drifted: str = "true") -> dict[str, str]:
    """Job results when every job that runs succeeds, except `fail`."""
    results: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    for name in graph.conditions:
        runs = job_runs(graph.conditions, graph.needs, name, event, results, outputs, ancestors=graph.ancestors[name])
        results[name] = (FAILURE if name == fail else SUCCESS) if runs else SKIPPED
        outputs[name] = {"drifted": drifted} if name == "monitor" and runs else {}
    return results


def test_push_and_dispatch_run_the_pipeline_but_not_the_monitor(compiled: Path) -> None:
    graph = graph_of(compiled / WORKFLOW)
    for event in ("push", "workflow_dispatch"):
        results = simulate(graph, EVENTS[event])
        assert all(results[j] == SUCCESS for j in PIPELINE), (event, results)
        assert results["mlgen-pr-comment"] == SKIPPED
        assert results["monitor"] == (SUCCESS if event == "workflow_dispatch" else SKIPPED)


def test_pull_requests_and_other_branches_never_deploy(compiled: Path) -> None:
    graph = graph_of(compiled / WORKFLOW)
    pr = simulate(graph, EVENTS["pull_request"])
    assert {j: pr[j] for j in ("validate", "train", "select", "evaluate", "mlgen-pr-comment")} == dict.fromkeys(
        ("validate", "train", "select", "evaluate", "mlgen-pr-comment"), SUCCESS
    )
    assert pr["deploy-staging"] == pr["deploy-production"] == pr["monitor"] == SKIPPED
    other = simulate(graph, EVENTS["push-other-branch"])
    assert other["evaluate"] == SUCCESS and other["deploy-staging"] == other["deploy-production"] == SKIPPED


def test_schedule_retrains_only_on_drift(compiled: Path) -> None:
    graph = graph_of(compiled / WORKFLOW)
    calm = simulate(graph, EVENTS["schedule"], drifted="false")
    assert [j for j, r in calm.items() if r == SUCCESS] == ["get-data", "monitor"]
    drift = simulate(graph, EVENTS["schedule"], drifted="true")
    assert [j for j, r in drift.items() if r == SUCCESS] == ["get-data", "monitor", *RETRAIN]


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_no_job_runs_after_a_failed_ancestor(compiled: Path, event: str) -> None:
    graph = graph_of(compiled / WORKFLOW)
    baseline = simulate(graph, EVENTS[event])
    for failing in (j for j, r in baseline.items() if r == SUCCESS):
        results = simulate(graph, EVENTS[event], fail=failing)
        for name, result in results.items():
            if failing in graph.ancestors[name] and name != "mlgen-pr-comment":
                assert result == SKIPPED, (event, failing, name)
        # the PR comment job reports a failed evaluation or scan too, but never a failure before them
        if "mlgen-pr-comment" in results and failing not in ("evaluate", "scan", "mlgen-pr-comment"):
            assert results["mlgen-pr-comment"] == SKIPPED, (event, failing)


def test_no_job_runs_when_a_need_was_skipped_or_cancelled(compiled: Path) -> None:
    """Direct `needs.<job>.result` checks: a cancelled or skipped need (other than the monitor,
    whose verdict is all a retraining job reads) never lets a job run."""
    graph = graph_of(compiled / WORKFLOW)
    for event, (name, cond) in itertools.product(("push", "schedule", "workflow_dispatch"), graph.conditions.items()):
        for need in graph.needs[name]:
            if need == "monitor" or name == "mlgen-pr-comment":
                continue
            for bad in (SKIPPED, "cancelled"):
                results = {a: SUCCESS for a in graph.ancestors[name]}
                results[need] = bad
                outputs = {"monitor": {"drifted": "true"}}
                assert not job_runs(graph.conditions, graph.needs, name, EVENTS[event], results, outputs,
                                    ancestors=graph.ancestors[name]), (event, name, need, bad)


def test_pr_comment_only_for_same_repository_pull_requests(compiled: Path) -> None:
    graph = graph_of(compiled / WORKFLOW)
    results = dict.fromkeys(graph.ancestors["mlgen-pr-comment"], SUCCESS)
    for evaluate_result, expected in ((SUCCESS, True), (FAILURE, True), (SKIPPED, False)):
        results["evaluate"] = evaluate_result
        assert job_runs(graph.conditions, graph.needs, "mlgen-pr-comment", EVENTS["pull_request"], results,
                        ancestors=graph.ancestors["mlgen-pr-comment"]) is expected
    results["evaluate"] = SUCCESS
    fork = Event.pull_request(head_repo="someone/fork")
    assert not job_runs(graph.conditions, graph.needs, "mlgen-pr-comment", fork, results,
                        ancestors=graph.ancestors["mlgen-pr-comment"])


def test_rollback_dispatch_picks_one_environment_on_the_default_branch(compiled: Path) -> None:
    graph = graph_of(compiled / ROLLBACK)
    assert list(graph.conditions) == ["rollback-staging", "rollback-production"]
    for env in ("staging", "production"):
        for branch, ok in (("main", True), ("dev", False)):
            ran = [
                job for job in graph.conditions
                if job_runs(graph.conditions, graph.needs, job, Event.dispatch(branch), {},
                            inputs={"environment": env, "to": ""})
            ]
            assert ran == ([f"rollback-{env}"] if ok else [])


def test_the_evaluator_refuses_what_it_does_not_know() -> None:
    scope = Scope(github={"event_name": "push", "ref": "refs/heads/main"}, status=lambda fn: True)
    assert evaluate("github.event_name == 'PUSH' && !startsWith(github.ref, 'refs/tags/')", scope) is True
    assert Expr("!cancelled() && x.y == 'z'").calls == {"cancelled"}
    for bad in ("github.head_ref == 'x'", "contains(github.ref, 'x')", "needs.*.result", "env.X == '1'",
                "github.ref > 'a'", "secrets.TOKEN", "inputs.to", "toJSON(github)"):
        with pytest.raises(Unsupported):
            condition(bad, scope)


# ----------------------------------------------------------------------- the executor itself

TINY = """\
name: tiny
on:
  push:
    branches: [main]
permissions: {}
defaults:
  run:
    shell: bash
env:
  WF: wf
jobs:
  make:
    runs-on: ubuntu-24.04
    strategy:
      fail-fast: false
      matrix:
        shard: [1, 2]
    env:
      SHARD: ${{ matrix.shard }}
    outputs:
      word: ${{ steps.say.outputs.word }}
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1
      - uses: actions/cache@55cc8345863c7cc4c66a329aec7e433d2d1c52a9
        with:
          path: store/s${{ matrix.shard }}
          key: k-${{ matrix.shard }}-${{ github.run_id }}
          restore-keys: k-${{ matrix.shard }}-
      - run: |
          mkdir -p out/sub store/s"$SHARD"
          echo "$WF $SHARD" > out/sub/shard-"$SHARD".txt
          echo "run $GITHUB_RUN_ID" >> store/s"$SHARD"/seen
          set +e; false | true; echo "pipefail kept: $?" > out/pipefail
      - id: say
        run: echo "word=hello" >> "$GITHUB_OUTPUT"
      - uses: actions/upload-artifact@cf430e030ddbb5b0abf93d22962f4752f3646cd9
        with:
          name: out-${{ matrix.shard }}
          path: |
            .anchor
            out
  use:
    needs: make
    if: needs.make.outputs.word == 'hello'
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/download-artifact@9000827ccba6bdab643e8b6fd33ac0654aef8333
        with:
          pattern: out-*
          merge-multiple: true
      - run: test -f out/sub/shard-1.txt && test -f out/sub/shard-2.txt && test ! -e .anchor
      - run: exit 3
      - if: failure()
        run: echo "reported" >> "$GITHUB_STEP_SUMMARY"
      - run: echo never
  after:
    needs: use
    runs-on: ubuntu-24.04
    steps:
      - run: echo never
"""


def test_executor_runs_matrix_artifacts_outputs_cache_and_status(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / ".github/workflows").mkdir(parents=True)
    (project / ".github/workflows/tiny.yml").write_text(TINY)
    ex = GitHubExecutor(project, tmp_path / "work")
    first = ex.run(".github/workflows/tiny.yml", Event.push())
    assert first.results == {"make": SUCCESS, "use": FAILURE, "after": SKIPPED}
    assert [r.matrix for r in first["make"].runs] == [{"shard": 1}, {"shard": 2}]
    assert (first.artifacts / "out-2/out/sub/shard-2.txt").read_text() == "wf 2\n"  # rooted at the workspace
    assert (first["make"].runs[0].workspace / "out/pipefail").read_text() == "pipefail kept: 1\n"
    assert first["make"].outputs == {"word": "hello"}
    use = first["use"].runs[0]
    assert [s.outcome for s in use.steps] == [SUCCESS, SUCCESS, FAILURE, SUCCESS, SKIPPED]
    assert use.summary == "reported\n"
    assert not (first["make"].runs[0].workspace / "out/sub/shard-2.txt").exists()  # isolated copies
    # the cache outlives the run: the second run restores shard 1's folder by prefix
    second = ex.run(".github/workflows/tiny.yml", Event.push())
    assert (second["make"].runs[0].workspace / "store/s1/seen").read_text() == "run 1001\nrun 1002\n"
    with pytest.raises(Unsupported, match="does not run on pull_request"):
        ex.run(".github/workflows/tiny.yml", Event.pull_request())


def test_executor_refuses_unknown_actions(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    wf = project / "wf.yml"
    wf.write_text(TINY.replace("actions/checkout@", "someone/else@"))
    with pytest.raises(Unsupported, match="someone/else is not emulated"):
        GitHubExecutor(project, tmp_path / "w").run(wf, Event.push())


# ----------------------------------------------------------------------------- executed runs


@dataclass
class Demo:
    project: Path
    registry: Path
    executor: GitHubExecutor
    tmp: Path

    def aliases(self) -> dict[str, int]:
        return json.loads((self.registry / "aliases.json").read_text())

    def newest_version(self) -> int:
        return max(int(p.name) for p in (self.registry / "versions").iterdir())

    def history(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.registry / "history.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    tmp = tmp_path_factory.mktemp("gh-exec")
    project = compile_demo(tmp / "project")
    registry = tmp / "registry"  # outside every workspace: deploys persist between jobs and runs
    executor = GitHubExecutor(project, tmp / "runner", vars={"MLGEN_REGISTRY": str(registry)})
    return Demo(project, registry, executor, tmp)


@pytest.fixture(scope="module")
def push_run(demo: Demo) -> RunResult:
    return demo.executor.run(WORKFLOW, Event.push())


@pytest.mark.slow
def test_push_to_main_runs_every_job_and_deploys(demo: Demo, push_run: RunResult) -> None:
    assert_results(push_run, dict.fromkeys(PIPELINE, SUCCESS) | {"monitor": SKIPPED, "mlgen-pr-comment": SKIPPED})
    assert demo.aliases() == {"staging": 1, "production": 1}
    assert [push_run[j].environment for j in ("deploy-staging", "deploy-production")] == ["staging", "production"]
    assert [(h["action"], h["env"], h["to"]) for h in demo.history()] == [
        ("promote", "staging", 1), ("promote", "production", 1),
    ]


@pytest.mark.slow
def test_push_fans_trials_out_over_two_shards_with_distinct_artifacts(push_run: RunResult) -> None:
    train = push_run["train"]
    assert [r.matrix for r in train.runs] == [{"shard": 1}, {"shard": 2}]
    assert len({r.workspace for r in train.runs}) == 2
    shard_files = {
        name: sorted(p.name for p in (push_run.artifacts / name / ".mlgen/out/trials").iterdir())
        for name in ("train-shard-1", "train-shard-2")
    }
    assert shard_files == {"train-shard-1": ["shard-1-of-2.json"], "train-shard-2": ["shard-2-of-2.json"]}
    # select saw both shards merged into one folder
    merged = push_run["select"].workspace / ".mlgen/out/trials"
    assert sorted(p.name for p in merged.iterdir()) == ["shard-1-of-2.json", "shard-2-of-2.json"]


@pytest.mark.slow
def test_push_publishes_reports_in_the_step_summary(push_run: RunResult) -> None:
    report = (push_run["evaluate"].workspace / ".mlgen/out/evaluate/report.md").read_text()
    assert report in push_run["evaluate"].summary
    assert "roc\\_auc" in push_run.summary
    validate_report = (push_run["validate"].workspace / ".mlgen/out/validate/report.md").read_text()
    assert validate_report in push_run["validate"].summary
    assert (push_run.artifacts / "evaluate/.mlgen/out/evaluate/junit.xml").is_file()


@pytest.mark.slow
def test_pull_request_comments_the_report_and_never_deploys(demo: Demo, push_run: RunResult) -> None:
    # an earlier run's report comment (edited in place), and comments that are not it: another
    # workflow's (same bot, no marker) and a person's quoting the marker (never edited)
    ex = demo.executor
    ex.add_comment(42, "github-actions[bot]", "<!-- mlgen:report -->\nthe report of an older push")
    ex.add_comment(42, "github-actions[bot]", "coverage: 93%")
    ex.add_comment(42, "octocat", "<!-- mlgen:report --> why did the gate fail?")
    before = {c["id"]: c["body"] for c in ex.comments(42)}
    run = ex.run(WORKFLOW, Event.pull_request(number=42))
    assert_results(run, {
        "validate": SUCCESS, "train": SUCCESS, "select": SUCCESS, "evaluate": SUCCESS, "scan": SUCCESS,
        "deploy-staging": SKIPPED, "deploy-production": SKIPPED, "monitor": SKIPPED, "mlgen-pr-comment": SUCCESS,
    })
    report = (run["scan"].workspace / ".mlgen/out/scan/report.md").read_text()
    evaluation = (run["evaluate"].workspace / ".mlgen/out/evaluate/report.md").read_text()
    # the scan ran: its report (evaluate's, then the scan section) is the comment
    # (the push deployed this very model, so evaluate compares it with none: eb16e33)
    assert report.startswith(evaluation) and "## Scan" in report
    after = {c["id"]: c["body"] for c in ex.comments(42)}
    ours = min(before)
    assert after == {**before, ours: "<!-- mlgen:report -->\n" + report}, "only the report comment changed"
    (edit,) = [c for c in ex.gh_calls() if c["args"][:3] == ["api", "--method", "PATCH"]]
    assert edit["args"][3] == f"repos/mlgen-tests/demo/issues/comments/{ours}"
    assert edit["env"]["PR_NUMBER"] == "42" and edit["env"]["GH_TOKEN"]
    assert not [c for c in ex.gh_calls() if c["args"][:2] == ["pr", "comment"]], "no second comment"
    assert demo.aliases() == {"staging": 1, "production": 1}
    # the stage cache saved on main serves the pull request: unchanged stages are not redone
    for job in ("validate", "train", "select"):
        for r in run[job].runs:
            assert "inputs unchanged; outputs restored from .mlgen/cache/" in r.log(), (job, r.log()[-2000:])


@pytest.mark.slow
def test_schedule_without_drift_runs_the_monitor_only(demo: Demo, push_run: RunResult) -> None:
    run = demo.executor.run(WORKFLOW, Event.schedule())
    assert_results(run, {"get-data": SUCCESS, "monitor": SUCCESS} | dict.fromkeys(RETRAIN, SKIPPED))
    assert run["monitor"].outputs == {"drifted": "false"}
    assert "Drift check" in run["monitor"].summary


@pytest.mark.slow
def test_schedule_with_drifted_live_data_retrains_and_redeploys(demo: Demo, push_run: RunResult) -> None:
    run = demo.executor.run(WORKFLOW, Event.schedule(), source=drifting(demo.project))
    assert_results(run, {"get-data": SUCCESS, "monitor": SUCCESS} | dict.fromkeys(RETRAIN, SUCCESS))
    assert run["monitor"].outputs == {"drifted": "true"}
    drift = json.loads((run["monitor"].workspace / ".mlgen/out/monitor/drift.json").read_text())
    assert drift["columns"]["mean radius"]["drifted"]
    # actions/cache restored the push's stage cache and the runtime checked its own input hash:
    # only the live data drifted, the training data is the same, so the trials are not rerun
    for shard in run["train"].runs:
        log = shard.log()
        assert "restored from mlgen-Linux-train-shard-" in log and "inputs unchanged" in log, log[-2000:]
        assert "search shard" not in log
    newest = demo.newest_version()
    assert demo.aliases() == {"staging": newest, "production": newest}


@pytest.mark.slow
def test_failed_gate_publishes_its_report_and_blocks_deploys(tmp_path: Path) -> None:
    project = compile_demo(tmp_path / "project", lambda s: s.replace("f1 = { min = 0.9 }", "f1 = { min = 0.999 }"))
    registry = tmp_path / "registry"
    run = GitHubExecutor(project, tmp_path / "runner", vars={"MLGEN_REGISTRY": str(registry)}).run(WORKFLOW, Event.push())
    assert_results(run, {"select": SUCCESS, "evaluate": FAILURE, "deploy-staging": SKIPPED, "deploy-production": SKIPPED})
    assert "f1 min 0.999" in run["evaluate"].summary
    assert (run.artifacts / "evaluate/.mlgen/out/evaluate/report.md").is_file()  # uploaded although it failed
    assert not registry.exists()


@pytest.mark.slow
def test_failed_gate_on_a_pull_request_comments_the_evaluation(tmp_path: Path) -> None:
    project = compile_demo(tmp_path / "project", lambda s: s.replace("f1 = { min = 0.9 }", "f1 = { min = 0.999 }"))
    executor = GitHubExecutor(project, tmp_path / "runner", vars={"MLGEN_REGISTRY": str(tmp_path / "registry")})
    run = executor.run(WORKFLOW, Event.pull_request(number=7))
    # the failed gate stops the scan; the comment falls back to evaluate's report
    assert_results(run, {"evaluate": FAILURE, "scan": SKIPPED, "mlgen-pr-comment": SUCCESS})
    # the first report on this pull request: a new comment, marked so later pushes edit it
    (comment,) = executor.comments(7)
    assert comment["user"]["login"] == "github-actions[bot]"
    evaluation = (run["evaluate"].workspace / ".mlgen/out/evaluate/report.md").read_text()
    assert comment["body"] == "<!-- mlgen:report -->\n" + evaluation and "f1 min 0.999" in evaluation


@pytest.mark.slow
def test_rollback_dispatch_moves_production_back(demo: Demo, push_run: RunResult) -> None:
    # a second, different model: another seed, deployed by another push
    before = demo.aliases()
    v2 = compile_demo(demo.tmp / "project-v2", lambda s: s.replace("seed = 42", "seed = 7"))
    run = demo.executor.run(WORKFLOW, Event.push(), source=v2)
    assert_results(run, dict.fromkeys(PIPELINE, SUCCESS))
    new = demo.newest_version()
    assert new > before["production"] and demo.aliases() == {"staging": new, "production": new}

    # `to` left empty: production goes back to the version it had before this deploy
    rollback = demo.executor.run(ROLLBACK, Event.dispatch(environment="production"), source=v2)
    assert rollback.results == {"rollback-staging": SKIPPED, "rollback-production": SUCCESS}, failed_jobs(rollback)
    assert demo.aliases() == {"staging": new, "production": before["production"]}
    last = demo.history()[-1]
    assert (last["action"], last["env"], last["from"], last["to"]) == ("rollback", "production", new, before["production"])

    # an explicit version goes through the `to` input (MLGEN_ROLLBACK_TO), never through run:
    again = demo.executor.run(ROLLBACK, Event.dispatch(environment="staging", to="1"), source=v2)
    assert again.results == {"rollback-staging": SUCCESS, "rollback-production": SKIPPED}, failed_jobs(again)
    assert demo.aliases()["staging"] == 1
    assert demo.history()[-1]["reason"].endswith("--to 1")


# ----------------------------------------------------------------------------- paths as people write them

ACCENTED = """\
[project]
name = "accents"
requirements = ["requirements ü.txt"]
seed = 1

[data]
path = "données/in put é.csv"
target = "malin (oui/non)"
task = "classification"
reference = "données/référence 中文.csv"
allow_extra = true

[data.columns]
"malin (oui/non)" = { type = "int", min = 0, max = 1 }
"rayon moyen, µm" = { type = "float", min = 0 }

[train]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 2000 }

[evaluate]
metrics = ["accuracy"]

[ci]
providers = ["github"]

[[stages]]
name = "prepare"
cmd = "python 'scripts/prépare les données.py'"
deps = ["scripts/prépare les données.py", "raw/brut données.csv"]
outs = ["données/in put é.csv", "out/it's [v1] #1 {x} ~b & c"]
before = "validate"

[[stages]]
name = "use"
cmd = "cat \\"out/it's [v1] #1 {x} ~b & c/é t.txt\\""
deps = ["out/it's [v1] #1 {x} ~b & c/é t.txt"]
"""

PREPARE = """\
import pathlib, shutil
pathlib.Path("données").mkdir(exist_ok=True)
shutil.copy("raw/brut données.csv", "données/in put é.csv")
out = pathlib.Path("out/it's [v1] #1 {x} ~b & c")
out.mkdir(parents=True, exist_ok=True)
(out / "é t.txt").write_text("étape faite\\n", encoding="utf-8")
"""


@pytest.mark.slow
def test_paths_with_spaces_brackets_and_accents_travel_between_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.datasets import load_breast_cancer

    project = tmp_path / "project"
    frame = load_breast_cancer(as_frame=True).frame
    data = frame[["mean radius"]].rename(columns={"mean radius": "rayon moyen, µm"})
    data["malin (oui/non)"] = (frame["target"] == 0).astype(int)
    for rel, part in (("raw/brut données.csv", data.iloc[:400]), ("données/référence 中文.csv", data.iloc[400:])):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        part.to_csv(project / rel, index=False)
    (project / "scripts").mkdir()
    (project / "scripts/prépare les données.py").write_text(PREPARE, encoding="utf-8")
    (project / "requirements ü.txt").write_text("")
    (project / "mlproject.toml").write_text(ACCENTED, encoding="utf-8")
    monkeypatch.chdir(project)
    assert main(["compile", "-q"]) == 0
    executor = GitHubExecutor(project, tmp_path / "runner", vars={"MLGEN_REGISTRY": str(tmp_path / "registry")})
    run = executor.run(WORKFLOW, Event.push())
    assert_results(run, dict.fromkeys(("prepare", "use", "validate", "train", "evaluate"), SUCCESS))
    # upload-artifact's globs (escaped `[`, `#`, `~`) matched the outputs under their exact names
    assert (run.artifacts / "prepare/données/in put é.csv").is_file()
    assert (run.artifacts / "prepare/out/it's [v1] #1 {x} ~b & c/é t.txt").read_text(encoding="utf-8") == "étape faite\n"
    assert "étape faite" in run["use"].runs[0].log()
    # the stage cache is saved under hashFiles() of the runtime's own key file (which hashes the
    # accented data files), found in the job's workspace
    from tests.support.github_executor import hash_files

    validate = run["validate"].runs[0]
    save = next(s for s in validate.steps if s.name.startswith("Save stage cache"))
    found = re.search(r"^cache saved with key mlgen-\S+-validate-([0-9a-f]{64})$", save.log, re.M)
    assert found, save.log
    assert found[1] == hash_files(validate.workspace, [".mlgen/cache/validate/key"])


def registry_jobs_env(project: Path) -> dict[str, Any]:
    doc = YAML(typ="safe", pure=True).load((project / WORKFLOW).read_text(encoding="utf-8"))
    return {name: (job.get("env") or {}).get("MLGEN_REGISTRY") for name, job in doc["jobs"].items()}


def job_log(run: RunResult, job: str) -> str:
    return "\n".join(r.log() for r in run[job].runs)


@pytest.mark.slow
def test_the_registry_variable_makes_deploys_outlive_the_run(tmp_path: Path) -> None:
    """GitHub exposes repository variables only as `vars.`: the registry jobs read
    vars.MLGEN_REGISTRY into their env. Set to a folder outside the project, later runs see the
    earlier runs' versions: the module's demo (vars={"MLGEN_REGISTRY": ...}) pushes, retrains
    on drift and rolls back across separate runs against one registry (the tests above). Unset
    (an empty vars context, as GitHub gives it), a push deploys into deploy.registry of the
    job's fresh checkout, which is discarded with the job."""
    project = compile_demo(tmp_path / "project")
    ref = "${{ vars.MLGEN_REGISTRY }}"
    env = registry_jobs_env(project)
    assert {n for n, v in env.items() if v == ref} == {"evaluate", "deploy-staging", "deploy-production"}
    assert set(env.values()) == {ref, None}, "no other job reads the variable"
    run = GitHubExecutor(project, tmp_path / "lost").run(WORKFLOW, Event.push())
    assert_results(run, dict.fromkeys(("evaluate", "deploy-staging", "deploy-production"), SUCCESS))
    assert "production (none) -> 1" in job_log(run, "deploy-production")
    assert (run["deploy-production"].runs[0].workspace / "models/aliases.json").is_file()
    assert not (project / "models").exists(), "nothing outlives the job: the next run starts empty"
