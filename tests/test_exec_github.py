"""The generated GitHub Actions workflows, executed by nektos/act.

tests/support/act_runner.py runs one `act` process per run in host mode, offline, with small
stand-ins for the official actions (tests/support/act_actions/): act evaluates the events,
`needs`, `if:`, outputs, matrix and env of the compiled demo's workflows; the stand-ins only copy
checkouts, artifacts and caches through folders of the run. The demo goes through a push to main
(shard matrix, deploys), a pull request (PR comment through a stubbed `gh`), the weekly schedule
with and without drifted live data, a manual dispatch with another model, rollback dispatches,
and a failing gate.

Not covered here because act does not emulate it: environment protection rules (an
`environment:` job just runs), OIDC, and branch filters of `on:` (act runs a `push` workflow
for any ref; the generated jobs' own `github.ref` conditions are what keeps other branches
from deploying, and they are evaluated by act).
"""

from __future__ import annotations

import hashlib
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
from tests.support.act_runner import FAILURE, SKIPPED, SUCCESS, ActRun, ActRunner, Event, Unsupported, local_repositories

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ".github/workflows/mlgen.yml"
ROLLBACK = ".github/workflows/mlgen-rollback.yml"
PIPELINE = ("get-data", "validate", "train", "select", "evaluate", "scan", "deploy-staging", "deploy-production")
RETRAIN = ("validate", "train", "select", "evaluate", "scan", "deploy-staging", "deploy-production")
LIVE_LINE = 'shuffled.iloc[cut:].drop(columns=["malignant"]).to_csv(out / "live.csv", index=False)'
STRICTER_GATE = ("f1 = { min = 0.9 }", "f1 = { min = 0.999 }")


def compile_demo(dest: Path, edit: Callable[[str], str] | None = None) -> Path:
    """The root demo (mlproject.toml + demo/) compiled for GitHub into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    spec = (ROOT / "mlproject.toml").read_text(encoding="utf-8")
    (dest / "mlproject.toml").write_text(edit(spec) if edit else spec, encoding="utf-8")
    shutil.copytree(ROOT / "demo", dest / "demo", dirs_exist_ok=True)
    assert main(["compile", "--spec", str(dest / "mlproject.toml"), "--provider", "github", "-q"]) == 0
    return dest


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


def assert_results(run: ActRun, expected: dict[str, str]) -> None:
    got = {name: run.results[name] for name in expected}
    assert got == expected, run.failures()


def hash_files(files: list[Path]) -> str:
    """hashFiles() as GitHub documents it: SHA-256 over the SHA-256 digests of the files."""
    outer = hashlib.sha256()
    for f in sorted(files):
        outer.update(hashlib.sha256(f.read_bytes()).digest())
    return outer.hexdigest()


# ----------------------------------------------------------------------- the stand-ins themselves

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
          key: k-${{ matrix.shard }}-${{ hashFiles('marker') }}
          restore-keys: k-${{ matrix.shard }}-
      - run: |
          mkdir -p out/sub out/.hidden store/s"$SHARD"
          echo "$WF $SHARD" > out/sub/shard-"$SHARD".txt
          echo x > out/.hidden/h
          echo "run $(cat marker)" >> store/s"$SHARD"/seen
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
      - run: test -f out/sub/shard-1.txt && test -f out/sub/shard-2.txt && test ! -e .anchor && test ! -e out/.hidden
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


def test_act_runs_matrix_artifacts_outputs_cache_and_status(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / ".github/workflows").mkdir(parents=True)
    (project / ".github/workflows/tiny.yml").write_text(TINY)
    (project / "marker").write_text("one\n")
    runner = ActRunner(tmp_path / "work")
    first = runner.run(project, ".github/workflows/tiny.yml", Event.push())
    assert first.results == {"make": SUCCESS, "use": FAILURE, "after": SKIPPED}, first.failures()
    assert [r.matrix for r in first["make"]] == [{"shard": 1}, {"shard": 2}]
    # rooted at the workspace (the least common ancestor of `.anchor` and `out`), hidden files left out
    assert (first.artifacts / "out-2/out/sub/shard-2.txt").read_text() == "wf 2\n"
    assert not (first.artifacts / "out-2/out/.hidden").exists()
    assert (first.artifacts / "out-1/out/pipefail").read_text() == "pipefail kept: 1\n"
    assert not (first.artifacts / "out-1/out/sub/shard-2.txt").exists()  # each instance its own workspace
    (use,) = first["use"]
    assert use.summary == "reported\n" and "echo never" not in use.log()
    # the cache outlives the run: a new commit (another key) restores shard 1's folder by prefix
    # and saves it again in the post step
    (project / "marker").write_text("two\n")
    second = runner.run(project, ".github/workflows/tiny.yml", Event.push())
    (shard1, _) = second["make"]
    assert "Cache restored from key: k-1-" in shard1.log() and shard1.outputs["cache-hit"] == "false"
    saved = [p for p in runner.caches.glob("*/files/store/s1/seen")]
    assert sorted(p.read_text() for p in saved) == ["run one\n", "run one\nrun two\n"]


def test_every_action_needs_a_stand_in(tmp_path: Path) -> None:
    wf = tmp_path / "wf.yml"
    wf.write_text(TINY.replace("actions/checkout@", "someone/else@"))
    with pytest.raises(Unsupported, match="someone/else has no stand-in"):
        local_repositories(wf)
    wf.write_text(TINY.replace("@3d3c42e5aac5ba805825da76410c181273ba90b1", "@v7"))
    with pytest.raises(Unsupported, match="full commit SHA"):
        local_repositories(wf)


def test_the_demo_uses_only_actions_with_stand_ins() -> None:
    assert [v.split("@")[0] for v in local_repositories(ROOT / WORKFLOW)] == [
        "actions/cache", "actions/checkout", "actions/download-artifact", "actions/setup-python", "actions/upload-artifact",
    ]
    assert [v.split("@")[0] for v in local_repositories(ROOT / ROLLBACK)] == ["actions/checkout", "actions/setup-python"]


def test_the_registry_variable_is_read_by_the_registry_jobs_only() -> None:
    """GitHub exposes repository variables only as `vars.`: the registry jobs read
    vars.MLGEN_REGISTRY into their env (act gets it with --var in the runs below)."""
    doc = YAML(typ="safe", pure=True).load((ROOT / WORKFLOW).read_text(encoding="utf-8"))
    env = {name: (job.get("env") or {}).get("MLGEN_REGISTRY") for name, job in doc["jobs"].items()}
    ref = "${{ vars.MLGEN_REGISTRY }}"
    assert {n for n, v in env.items() if v == ref} == {"evaluate", "deploy-staging", "deploy-production"}
    assert set(env.values()) == {ref, None}, "no other job reads the variable"


# ----------------------------------------------------------------------------- executed runs


@dataclass
class Demo:
    project: Path
    registry: Path
    runner: ActRunner
    tmp: Path

    def aliases(self) -> dict[str, int]:
        return json.loads((self.registry / "aliases.json").read_text())

    def newest_version(self) -> int:
        return max(int(p.name) for p in (self.registry / "versions").iterdir())

    def history(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.registry / "history.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    tmp = tmp_path_factory.mktemp("gh-act")
    project = compile_demo(tmp / "project")
    registry = tmp / "registry"  # outside every workspace: deploys persist between jobs and runs
    runner = ActRunner(tmp / "runner", vars={"MLGEN_REGISTRY": str(registry)})
    return Demo(project, registry, runner, tmp)


@pytest.fixture(scope="module")
def push_run(demo: Demo) -> ActRun:
    return demo.runner.run(demo.project, WORKFLOW, Event.push())


@pytest.mark.slow
def test_push_to_main_runs_every_job_and_deploys(demo: Demo, push_run: ActRun) -> None:
    assert_results(push_run, dict.fromkeys(PIPELINE, SUCCESS) | {"monitor": SKIPPED, "mlgen-pr-comment": SKIPPED})
    assert push_run.returncode == 0
    assert demo.aliases() == {"staging": 1, "production": 1}
    assert [(h["action"], h["env"], h["to"]) for h in demo.history()] == [
        ("promote", "staging", 1), ("promote", "production", 1),
    ]


@pytest.mark.slow
def test_push_fans_trials_out_over_two_shards_with_distinct_artifacts(push_run: ActRun) -> None:
    assert [r.matrix for r in push_run["train"]] == [{"shard": 1}, {"shard": 2}]
    shard_files = {
        name: sorted(p.name for p in (push_run.artifacts / name / ".mlgen/out/trials").iterdir())
        for name in ("train-shard-1", "train-shard-2")
    }
    assert shard_files == {"train-shard-1": ["shard-1-of-2.json"], "train-shard-2": ["shard-2-of-2.json"]}
    # select downloaded both shards (pattern + merge-multiple) into the workspace
    (select,) = push_run["select"]
    for shard in (1, 2):
        assert re.search(rf"Artifact train-shard-{shard} downloaded to \S+/hostexecutor\n", select.log()), select.log()[-3000:]


@pytest.mark.slow
def test_push_publishes_reports_in_the_step_summary(push_run: ActRun) -> None:
    report = (push_run.artifacts / "evaluate/.mlgen/out/evaluate/report.md").read_text()
    assert report in push_run.summary("evaluate")
    assert "roc\\_auc" in push_run.summary()
    validate_report = (push_run.artifacts / "validate/.mlgen/out/validate/report.md").read_text()
    assert validate_report in push_run.summary("validate")
    assert (push_run.artifacts / "evaluate/.mlgen/out/evaluate/junit.xml").is_file()


@pytest.mark.slow
def test_pull_request_comments_the_report_and_never_deploys(demo: Demo, push_run: ActRun) -> None:
    # an earlier run's report comment (edited in place), and comments that are not it: another
    # workflow's (same bot, no marker) and a person's quoting the marker (never edited)
    gh = demo.runner
    gh.add_comment(42, "github-actions[bot]", "<!-- mlgen:report -->\nthe report of an older push")
    gh.add_comment(42, "github-actions[bot]", "coverage: 93%")
    gh.add_comment(42, "octocat", "<!-- mlgen:report --> why did the gate fail?")
    before = {c["id"]: c["body"] for c in gh.comments(42)}
    run = gh.run(demo.project, WORKFLOW, Event.pull_request(number=42))
    assert_results(run, {
        "validate": SUCCESS, "train": SUCCESS, "select": SUCCESS, "evaluate": SUCCESS, "scan": SUCCESS,
        "deploy-staging": SKIPPED, "deploy-production": SKIPPED, "monitor": SKIPPED, "mlgen-pr-comment": SUCCESS,
    })
    report = (run.artifacts / "scan/.mlgen/out/scan/report.md").read_text()
    evaluation = (run.artifacts / "evaluate/.mlgen/out/evaluate/report.md").read_text()
    # the scan ran: its report (evaluate's, then the scan section) is the comment
    # (the push deployed this very model, so evaluate compares it with none: eb16e33)
    assert report.startswith(evaluation) and "## Scan" in report
    after = {c["id"]: c["body"] for c in gh.comments(42)}
    ours = min(before)
    assert after == {**before, ours: "<!-- mlgen:report -->\n" + report}, "only the report comment changed"
    (edit,) = [c for c in gh.gh_calls() if c["args"][:3] == ["api", "--method", "PATCH"]]
    assert edit["args"][3] == f"repos/mlgen-tests/demo/issues/comments/{ours}"
    assert edit["env"]["PR_NUMBER"] == "42" and edit["env"]["GH_TOKEN"]
    assert not [c for c in gh.gh_calls() if c["args"][:2] == ["pr", "comment"]], "no second comment"
    assert demo.aliases() == {"staging": 1, "production": 1}
    # the stage cache saved on main serves the pull request: unchanged stages are not redone
    for job in ("validate", "train", "select"):
        for r in run[job]:
            assert "inputs unchanged; outputs restored from .mlgen/cache/" in r.log(), (job, r.log()[-2000:])


@pytest.mark.slow
def test_schedule_without_drift_runs_the_monitor_only(demo: Demo, push_run: ActRun) -> None:
    run = demo.runner.run(demo.project, WORKFLOW, Event.schedule())
    assert_results(run, {"get-data": SUCCESS, "monitor": SUCCESS} | dict.fromkeys(RETRAIN, SKIPPED))
    (monitor,) = run["monitor"]
    assert monitor.outputs["drifted"] == "false"
    assert "Drift check" in monitor.summary


@pytest.mark.slow
def test_schedule_with_drifted_live_data_retrains_and_redeploys(demo: Demo, push_run: ActRun) -> None:
    run = demo.runner.run(drifting(demo.project), WORKFLOW, Event.schedule())
    assert_results(run, {"get-data": SUCCESS, "monitor": SUCCESS} | dict.fromkeys(RETRAIN, SUCCESS))
    assert run["monitor"][0].outputs["drifted"] == "true"
    drift = json.loads((run.artifacts / "monitor/.mlgen/out/monitor/drift.json").read_text())
    assert drift["columns"]["mean radius"]["drifted"]
    # the cache stand-in restored the push's stage cache and the runtime checked its own input
    # hash: only the live data drifted, the training data is the same, so the trials are not rerun
    for shard in run["train"]:
        log = shard.log()
        assert "Cache restored from key: mlgen-Linux-train-shard-" in log and "inputs unchanged" in log, log[-2000:]
        assert "search shard" not in log
    newest = demo.newest_version()
    assert demo.aliases() == {"staging": newest, "production": newest}


@pytest.mark.slow
def test_dispatch_deploys_another_model_and_rollback_moves_production_back(demo: Demo, push_run: ActRun) -> None:
    # a second, different model (another seed), deployed by a manual dispatch, which also runs the monitor
    before = demo.aliases()
    v2 = compile_demo(demo.tmp / "project-v2", lambda s: s.replace("seed = 42", "seed = 7"))
    run = demo.runner.run(v2, WORKFLOW, Event.dispatch())
    assert_results(run, dict.fromkeys(("monitor", *PIPELINE), SUCCESS) | {"mlgen-pr-comment": SKIPPED})
    new = demo.newest_version()
    assert new > before["production"] and demo.aliases() == {"staging": new, "production": new}

    # `to` left empty: production goes back to the version it had before this deploy
    rollback = demo.runner.run(v2, ROLLBACK, Event.dispatch(environment="production"))
    assert rollback.results == {"rollback-staging": SKIPPED, "rollback-production": SUCCESS}, rollback.failures()
    assert demo.aliases() == {"staging": new, "production": before["production"]}
    last = demo.history()[-1]
    assert (last["action"], last["env"], last["from"], last["to"]) == ("rollback", "production", new, before["production"])

    # an explicit version goes through the `to` input (MLGEN_ROLLBACK_TO), never through run:
    again = demo.runner.run(v2, ROLLBACK, Event.dispatch(environment="staging", to="1"))
    assert again.results == {"rollback-staging": SUCCESS, "rollback-production": SKIPPED}, again.failures()
    assert demo.aliases()["staging"] == 1
    assert demo.history()[-1]["reason"].endswith("--to 1")

    # a dispatch on another branch rolls nothing back (the jobs' `github.ref` condition)
    elsewhere = demo.runner.run(v2, ROLLBACK, Event.dispatch("dev", environment="production"))
    assert elsewhere.results == {"rollback-staging": SKIPPED, "rollback-production": SKIPPED}
    assert demo.aliases()["production"] == before["production"]


@pytest.fixture(scope="module")
def gate(demo: Demo) -> tuple[Path, ActRunner, Path]:
    """The demo with an unreachable f1 gate; its runner shares the demo's stage cache store."""
    project = compile_demo(demo.tmp / "project-gate", lambda s: s.replace(*STRICTER_GATE))
    registry = demo.tmp / "gate-registry"
    runner = ActRunner(demo.tmp / "gate-runner", vars={"MLGEN_REGISTRY": str(registry)}, caches=demo.runner.caches)
    return project, runner, registry


@pytest.mark.slow
def test_failed_gate_publishes_its_report_and_blocks_deploys(gate: tuple[Path, ActRunner, Path]) -> None:
    project, runner, registry = gate
    run = runner.run(project, WORKFLOW, Event.push())
    assert_results(run, {"select": SUCCESS, "evaluate": FAILURE, "scan": SKIPPED,
                         "deploy-staging": SKIPPED, "deploy-production": SKIPPED})
    assert run.returncode != 0
    assert "f1 min 0.999" in run.summary("evaluate")
    assert (run.artifacts / "evaluate/.mlgen/out/evaluate/report.md").is_file()  # uploaded although it failed
    assert not registry.exists()


@pytest.mark.slow
def test_failed_gate_on_a_pull_request_comments_the_evaluation(gate: tuple[Path, ActRunner, Path]) -> None:
    project, runner, _ = gate
    run = runner.run(project, WORKFLOW, Event.pull_request(number=7))
    # the failed gate stops the scan; the comment falls back to evaluate's report
    assert_results(run, {"evaluate": FAILURE, "scan": SKIPPED, "mlgen-pr-comment": SUCCESS})
    # the first report on this pull request: a new comment, marked so later pushes edit it
    (comment,) = runner.comments(7)
    assert comment["user"]["login"] == "github-actions[bot]"
    evaluation = (run.artifacts / "evaluate/.mlgen/out/evaluate/report.md").read_text()
    assert comment["body"] == "<!-- mlgen:report -->\n" + evaluation and "f1 min 0.999" in evaluation


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
    runner = ActRunner(tmp_path / "runner", vars={"MLGEN_REGISTRY": str(tmp_path / "registry")})
    run = runner.run(project, WORKFLOW, Event.push())
    assert_results(run, dict.fromkeys(("prepare", "use", "validate", "train", "evaluate"), SUCCESS))
    # upload-artifact's globs (escaped `[`, `#`, `~`) matched the outputs under their exact names
    assert (run.artifacts / "prepare/données/in put é.csv").is_file()
    assert (run.artifacts / "prepare/out/it's [v1] #1 {x} ~b & c/é t.txt").read_text(encoding="utf-8") == "étape faite\n"
    assert "étape faite" in run.log("use")
    # the stage cache is saved under act's hashFiles() of the runtime's own key file (which
    # hashes the accented data files), found in the job's workspace
    found = re.search(r"^Cache saved with key: mlgen-\S+-validate-([0-9a-f]{64})$", run.log("validate"), re.M)
    assert found, run.log("validate")[-3000:]
    (entry,) = [m.parent for m in runner.caches.glob("*/meta.json") if found[0].endswith(json.loads(m.read_text())["key"])]
    assert found[1] == hash_files([entry / "files/.mlgen/cache/validate/key"])
