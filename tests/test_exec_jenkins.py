"""The compiled demo's Jenkinsfile runs as written (tests/support/jenkins_executor.py): a branch
build of main deploys to both environments, a change request deploys nothing, the cron build
retrains only when the monitored data drifted, and a rollback build moves an environment back.

Every stage runs in a fresh copy of the project (a docker agent's new workspace): files travel
between stages only through the stashes the Jenkinsfile declares. The registry lives outside the
workspaces (MLGEN_REGISTRY, as an agent operator would mount it) so deploys outlive a build.

The first half checks the executor itself on small hand-written Jenkinsfiles (fast); the demo
builds are `slow` (about 20-60 s per full build).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mlgen.backends import jenkins
from mlgen.cli import main as mlgen
from mlgen.compile import build_plan
from mlgen_runtime.contract import MONITOR_JOB, MONITOR_RESULT, Plan
from tests.support.jenkins_executor import Build, BuildResult, JenkinsExecutor, UnsupportedConstruct, ant_match

ROOT = Path(__file__).resolve().parent.parent
PYTHON_BIN = Path(sys.executable).parent
# The agent has every requirement installed already; pip must not reach for the network.
AGENT_ENV = {"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
BUILD_CHAIN = ["get-data", "validate", "train-1", "train-2", "select", "evaluate", "scan"]
DEPLOYS = ["deploy-staging", "deploy-production"]


# --------------------------------------------------------------------------- executor self-tests


def tiny(tmp_path: Path, stages: str, *, extra: str = "") -> JenkinsExecutor:
    """A Jenkinsfile with `agent none`, the given stages and one file in the project."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "input.txt").write_text("hello\n")
    text = f"pipeline {{\n    agent none\n{extra}\n    stages {{\n{stages}\n    }}\n}}\n"
    return JenkinsExecutor(text, project, tmp_path / "work", python_bin=PYTHON_BIN)


def stage(name: str, steps: str, *, when: str = "", more: str = "") -> str:
    when_block = f"when {{\n{when}\n}}\n" if when else ""
    return (f"stage('{name}') {{\n agent {{ docker {{ image 'python:3.12' }} }}\n{when_block}{more}"
            f"steps {{\n{steps}\n}}\n}}")


def test_stages_run_in_fresh_workspaces_and_only_stashes_travel(tmp_path: Path) -> None:
    ex = tiny(tmp_path, "\n".join([
        stage("a", "sh 'mkdir -p out && echo one > out/x && echo left > stray'\n"
                   "stash name: 'a', includes: 'out/**'"),
        stage("b", "unstash 'a'\nsh 'test -f out/x && test ! -e stray && test -f input.txt'"),
    ]))
    result = ex.run(Build())
    assert result.result == "SUCCESS", result.summary()
    assert result.stashes == {"a": ("out/x",)}
    assert result.ran() == ["a", "b"]
    assert result.stages["a"].workspace != result.stages["b"].workspace


def test_credentials_bind_secret_text_and_a_missing_id_fails_the_stage(tmp_path: Path) -> None:
    env = "environment {\nTOKEN = credentials('TOKEN')\n}\n"
    text = "\n".join([stage("a", "sh 'test \"$TOKEN\" = s3cret'", more=env), stage("b", "sh 'true'")])
    project = tmp_path / "project"
    project.mkdir()
    jf = f"pipeline {{\n    agent none\n    stages {{\n{text}\n    }}\n}}\n"
    ok = JenkinsExecutor(jf, project, tmp_path / "w1", python_bin=PYTHON_BIN, credentials={"TOKEN": "s3cret"}).run(Build())
    assert ok.result == "SUCCESS", ok.summary()
    missing = JenkinsExecutor(jf, project, tmp_path / "w2", python_bin=PYTHON_BIN).run(Build())
    assert missing.result == "FAILURE"
    assert "Could not find credentials entry with ID 'TOKEN'" in missing.stages["a"].reason
    assert missing.stages["a"].commands == [] and missing.stages["b"].status == "SKIPPED"


def test_a_failing_sh_fails_the_build_and_skips_what_follows(tmp_path: Path) -> None:
    ex = tiny(tmp_path, "\n".join([
        stage("a", "sh 'echo x | cat'\nsh 'exit 3'\nsh 'echo never'",
              more="post {\n always {\n archiveArtifacts artifacts: 'input.txt', allowEmptyArchive: true, "
                   "fingerprint: false\n }\n}\n"),
        stage("b", "sh 'true'"),
    ]))
    result = ex.run(Build())
    assert result.result == "FAILURE"
    assert [rc for _c, rc in result.stages["a"].commands] == [0, 3]
    assert result.stages["b"].status == "SKIPPED"
    assert [a.files for a in result.archived] == [("input.txt",)]  # post always still ran


def test_pipefail_is_on(tmp_path: Path) -> None:
    result = tiny(tmp_path, stage("a", "sh 'false | true'")).run(Build())
    assert result.result == "FAILURE"


def test_when_conditions_follow_the_build(tmp_path: Path) -> None:
    cond = "anyOf {\n branch pattern: 'main', comparator: 'EQUALS'\n changeRequest target: 'main'\n}"
    ex = tiny(tmp_path, stage("a", "sh 'true'", when=cond))
    assert ex.run(Build("branch")).ran() == ["a"]
    assert ex.run(Build("branch", branch="mainline")).ran() == []
    assert ex.run(Build("change_request", branch="feature")).ran() == ["a"]
    assert ex.run(Build("change_request", branch="main", target="dev")).ran() == []


def test_triggered_by_matches_the_cause_class(tmp_path: Path) -> None:
    ex = tiny(tmp_path, stage("a", "sh 'true'", when="triggeredBy 'TimerTrigger'"),
              extra="triggers {\n cron(env.BRANCH_NAME == 'main' ? 'H 6 * * 1' : '')\n}")
    assert ex.run(Build("timer")).ran() == ["a"]
    assert ex.run(Build("user")).ran() == []
    with pytest.raises(UnsupportedConstruct, match="cron spec is empty"):
        ex.run(Build("timer", branch="dev"))


@pytest.mark.parametrize(
    "condition",
    [
        "expression { return true }",
        "expression { env.X != 'a' }",
        "expression { params.X == \"a\" }",
        "buildingTag()",
        "branch pattern: 'main', comparator: 'CASE'",
        "allOf { }",
    ],
)
def test_unknown_conditions_raise(tmp_path: Path, condition: str) -> None:
    ex = tiny(tmp_path, stage("a", "sh 'true'", when=condition))
    with pytest.raises(UnsupportedConstruct):
        ex.run(Build())


@pytest.mark.parametrize(
    "step",
    ["bat 'x'", "sh \"echo $X\"", "sh script: 'x'", "script {\n env.X = 'a'\n}", "checkout scm"],
)
def test_unknown_steps_raise(tmp_path: Path, step: str) -> None:
    with pytest.raises(UnsupportedConstruct):
        tiny(tmp_path, stage("a", step)).run(Build())


def test_stash_without_default_excludes_keeps_backup_named_files(tmp_path: Path) -> None:
    # Ant's default excludes drop `x~` and `#x#`; mlgen's stashes turn them off (outs travel whole)
    make = "sh 'mkdir -p out && echo 1 > out/x~ && echo 2 > \"out/#x#\" && echo 3 > \"out/d \\u00e9\"'\n"
    ex = tiny(tmp_path, "\n".join([
        stage("a", make + "stash name: 'a', includes: 'out/**', useDefaultExcludes: false"),
        stage("b", make + "stash name: 'b', includes: 'out/**'"),
    ]))
    result = ex.run(Build())
    assert result.stashes == {"a": ("out/#x#", "out/d é", "out/x~"), "b": ("out/d é",)}, result.summary()


def test_expressions_read_params_and_env_set_by_script(tmp_path: Path) -> None:
    ex = tiny(tmp_path, "\n".join([
        stage("probe", "sh 'echo yes > flag'\nscript {\n env.FLAG = readFile('flag').trim()\n}"),
        stage("flagged", "sh 'test \"$FLAG\" = yes'", when="expression { env.FLAG == 'yes' }"),
        stage("normal", "sh 'true'", when="expression { !params.MODE }"),
        stage("special", "sh 'test \"$MODE\" = fast && test \"$TO\" = 3'",
              when="expression { params.MODE == 'fast' }"),
    ]), extra="parameters {\n choice(name: 'MODE', choices: ['', 'fast'], description: 'm')\n"
              " string(name: 'TO', defaultValue: '', description: 't')\n}")
    plain = ex.run(Build())
    assert plain.ran() == ["probe", "flagged", "normal"], plain.summary()
    assert plain.env == {"FLAG": "yes"}
    special = ex.run(Build("user", params={"MODE": "fast", "TO": "3"}))
    assert special.ran() == ["probe", "flagged", "special"], special.summary()
    with pytest.raises(UnsupportedConstruct, match="not a choice"):
        ex.run(Build("user", params={"MODE": "slow"}))
    with pytest.raises(UnsupportedConstruct, match="not declared"):
        ex.run(Build("user", params={"OTHER": "x"}))


def test_input_and_lock_are_recorded_only_after_when_with_the_before_flags(tmp_path: Path) -> None:
    more = "options {\n lock(resource: 'r')\n}\ninput {\n message 'Go?'\n ok 'Go'\n}\n"
    guarded = "beforeOptions true\nbeforeInput true\nbranch pattern: 'main', comparator: 'EQUALS'"
    unguarded = "branch pattern: 'main', comparator: 'EQUALS'"
    for when, asked in ((guarded, []), (unguarded, ["a"])):
        result = tiny(tmp_path, stage("a", "sh 'true'", when=when, more=more)).run(Build(branch="dev"))
        assert result.ran() == []
        assert result.inputs() == asked  # without beforeInput Jenkins asks before deciding
    result = tiny(tmp_path, stage("a", "sh 'true'", when=guarded, more=more)).run(Build(reject=frozenset({"a"})))
    assert result.result == "ABORTED" and result.ran() == []


def test_junit_failures_make_the_build_unstable(tmp_path: Path) -> None:
    xml = "<testsuite><testcase name=\\'ok\\'/><testcase name=\\'bad\\'><failure/></testcase></testsuite>"
    ex = tiny(tmp_path, stage("a", f"sh 'echo \"{xml}\" > r.xml'",
                              more="post {\n always {\n junit allowEmptyResults: true, testResults: 'r.xml'\n }\n}\n"))
    result = ex.run(Build())
    assert result.result == "UNSTABLE", result.summary()
    (record,) = result.junit
    assert (record.tests, record.failures, record.cases) == (2, 1, (("ok", "passed"), ("bad", "failed")))


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("data/**", "data/a.csv", True),
        ("data/**", "data/x/y.csv", True),
        ("data/**", "data", True),
        ("data/**", "database/a", False),
        (".mlgen/out/model/**", ".mlgen/out/model/model.skops", True),
        ("*.xml", "a/b.xml", False),
        ("**/*.xml", "a/b.xml", True),
        ("a/", "a/b/c", True),
    ],
)
def test_ant_patterns(pattern: str, path: str, expected: bool) -> None:
    assert ant_match(pattern, path) is expected


# --------------------------------------------------------------------------- which stages run


def stub_plan(plan: Plan) -> Plan:
    """The plan with every shell line replaced by one that only creates the job's outputs (the
    monitor writes the verdict the agent's DRIFT variable dictates), to check conditions fast."""
    jobs = []
    for job in plan.jobs:
        paths = job.produces.paths if job.produces else ()
        line = " && ".join([f"mkdir -p {p} && touch {p}/stub" for p in paths] or ["true"])
        if job.name == MONITOR_JOB:
            line += f' && printf %s "$DRIFT" > {MONITOR_RESULT}'
        jobs.append(replace(job, setup=("true",), commands=(line,)))
    return replace(plan, jobs=tuple(jobs))


@pytest.fixture(scope="module")
def stub_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("stub-demo")
    plan = stub_plan(build_plan(ROOT / "mlproject.toml", ROOT))
    (project / "Jenkinsfile").write_text(jenkins.render(plan)["Jenkinsfile"])
    return project


ALL_BUILD = ["get-data", "validate", "train-1", "train-2", "select", "evaluate", "scan"]


@pytest.mark.parametrize(
    ("build", "drift", "expected"),
    [
        (Build("branch"), "false", [*ALL_BUILD, *DEPLOYS]),
        (Build("branch", branch="feature"), "false", []),
        (Build("change_request", branch="feature"), "false", ALL_BUILD),
        (Build("change_request", branch="feature", target="dev"), "false", []),
        (Build("change_request", branch="main", target="main"), "false", ALL_BUILD),
        (Build("timer"), "false", ["get-data", "monitor"]),
        (Build("timer"), "true", ["get-data", "monitor", *ALL_BUILD[1:], *DEPLOYS]),
        (Build("user"), "false", ["get-data", "monitor", *ALL_BUILD[1:], *DEPLOYS]),
        (Build("user", branch="feature"), "false", ["get-data", "monitor", *ALL_BUILD[1:]]),
        (Build("user", params={"MLGEN_ROLLBACK": "staging"}), "false", ["rollback-staging"]),
        (Build("user", params={"MLGEN_ROLLBACK": "production", "MLGEN_ROLLBACK_TO": "1"}), "true",
         ["rollback-production"]),
        (Build("user", branch="feature", params={"MLGEN_ROLLBACK": "staging"}), "false", []),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_demo_stages_per_kind_of_build(stub_demo: Path, tmp_path: Path, build: Build, drift: str,
                                       expected: list[str]) -> None:
    ex = JenkinsExecutor((stub_demo / "Jenkinsfile").read_text(), stub_demo, tmp_path, python_bin=PYTHON_BIN,
                         agent_env={"DRIFT": drift})
    result = ex.run(build)
    assert result.result == "SUCCESS", result.summary()
    assert result.ran() == expected, result.summary()
    # approval only where a person approves production; locks around every deploy and rollback
    assert result.inputs() == [n for n in expected if n.endswith("-production")]
    assert [s for s, _r in result.locks()] == [n for n in expected if n.startswith(("deploy-", "rollback-"))]
    if "monitor" in expected:
        assert result.env == {"MLGEN_DRIFTED": drift}


# --------------------------------------------------------------------------- the demo, executed


def make_project(where: Path, *, seed: int | None = None, drift: bool = False) -> Path:
    """A copy of the demo (root mlproject.toml + demo/), compiled for Jenkins only."""
    where.mkdir(parents=True)
    spec = (ROOT / "mlproject.toml").read_text()
    if seed is not None:
        spec, n = re.subn(r"(?m)^seed = \d+$", f"seed = {seed}", spec)
        assert n == 1
    (where / "mlproject.toml").write_text(spec)
    shutil.copytree(ROOT / "demo", where / "demo")
    if drift:
        # Production traffic changed: one measurement comes in scaled by 1.5 (a recalibrated sensor).
        script = where / "demo" / "make_data.py"
        text = script.read_text()
        live = '    shuffled.iloc[cut:].drop(columns=["malignant"]).to_csv(out / "live.csv", index=False)\n'
        assert live in text
        text = text.replace(live, live.replace(
            'shuffled.iloc[cut:].drop(columns=["malignant"])',
            'shuffled.iloc[cut:].drop(columns=["malignant"]).assign(**{"mean radius": lambda f: f["mean radius"] * 1.5})',
        ))
        script.write_text(text)
    # Only the Jenkins backend: this test is about the Jenkinsfile.
    assert mlgen(["compile", "--spec", str(where / "mlproject.toml"), "--provider", "jenkins", "--quiet"]) == 0
    assert (where / "Jenkinsfile").is_file()
    return where


def executor(project: Path, work: Path, registry: Path) -> JenkinsExecutor:
    return JenkinsExecutor((project / "Jenkinsfile").read_text(), project, work, python_bin=PYTHON_BIN,
                           agent_env={**AGENT_ENV, "MLGEN_REGISTRY": str(registry)}, job="breast-cancer")


def aliases(registry: Path) -> dict[str, int]:
    return json.loads((registry / "aliases.json").read_text())


def history(registry: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (registry / "history.jsonl").read_text().splitlines()]


def assert_ok(result: BuildResult) -> None:
    assert result.result in ("SUCCESS", "UNSTABLE"), result.summary()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, JenkinsExecutor]:
    """(project, registry, executor): the demo compiled once; its registry outside every workspace."""
    base = tmp_path_factory.mktemp("jenkins-demo")
    project = make_project(base / "project")
    registry = base / "registry" / "models"
    return project, registry, executor(project, base / "work", registry)


@pytest.fixture(scope="module")
def main_build(demo: tuple[Path, Path, JenkinsExecutor]) -> BuildResult:
    return demo[2].run(Build("branch", branch="main", number=1))


@pytest.mark.slow
def test_branch_build_of_main_trains_in_shards_and_deploys_both(
    demo: tuple[Path, Path, JenkinsExecutor], main_build: BuildResult
) -> None:
    _project, registry, _ex = demo
    r = main_build
    assert r.result == "SUCCESS", r.summary()
    assert r.ran() == BUILD_CHAIN + DEPLOYS, r.summary()
    assert {n: r.status(n) for n in ("monitor", "rollback-staging", "rollback-production")} == dict.fromkeys(
        ("monitor", "rollback-staging", "rollback-production"), "SKIPPED")
    # shards: distinct stashes, merged by select
    assert r.stashes["train-1"] == (".mlgen/out/trials/shard-1-of-2.json",)
    assert r.stashes["train-2"] == (".mlgen/out/trials/shard-2-of-2.json",)
    assert "4 trial results from 2 shards" in r.stages["select"].log
    # approval and locks
    assert r.inputs() == ["deploy-production"]
    assert r.locks() == [("deploy-staging", "mlgen-deploy-staging"), ("deploy-production", "mlgen-deploy-production")]
    assert aliases(registry) == {"production": 1, "staging": 1}
    # reports: junit for validate and evaluate, archived with the Markdown report
    for name in ("validate", "evaluate"):
        (record,) = r.junit_for(name)
        assert record.files == (f".mlgen/out/{name}/junit.xml",)
        assert record.tests > 0 and record.failures == 0
        assert (r.archive_dir / f".mlgen/out/{name}/report.md").is_file()
    assert "roc\\_auc" in (r.archive_dir / ".mlgen/out/evaluate/report.md").read_text()


@pytest.mark.slow
def test_change_request_build_tests_but_never_deploys(
    demo: tuple[Path, Path, JenkinsExecutor], main_build: BuildResult
) -> None:
    _project, registry, ex = demo
    before = history(registry)
    r = ex.run(Build("change_request", branch="feature", target="main", change_id="7", number=2))
    assert_ok(r)
    assert r.ran() == BUILD_CHAIN, r.summary()
    assert r.inputs() == [] and r.locks() == []
    assert [rec.stage for rec in r.junit] == ["validate", "evaluate", "scan"]
    assert history(registry) == before


@pytest.mark.slow
def test_timer_build_without_drift_runs_the_monitor_only(demo: tuple[Path, Path, JenkinsExecutor]) -> None:
    r = demo[2].run(Build("timer", number=3))
    assert r.result == "SUCCESS", r.summary()
    assert r.cron == "TZ=UTC\n0 6 * * 1"
    assert r.ran() == ["get-data", "monitor"], r.summary()
    assert r.env == {"MLGEN_DRIFTED": "false"}
    (record,) = r.junit_for("monitor")
    assert record.tests > 0 and record.failures == 0


@pytest.mark.slow
def test_timer_build_with_drifted_data_retrains_and_deploys(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", drift=True)
    registry = tmp_path / "registry"
    r = executor(project, tmp_path / "work", registry).run(Build("timer", number=1))
    assert_ok(r)
    assert r.env == {"MLGEN_DRIFTED": "true"}
    assert r.ran() == ["get-data", "monitor", *BUILD_CHAIN[1:], *DEPLOYS], r.summary()
    (drift,) = r.junit_for("monitor")
    assert drift.failures >= 1  # the drifted column is a failed check: the build is unstable
    assert r.inputs() == ["deploy-production"]
    assert aliases(registry) == {"production": 1, "staging": 1}


@pytest.mark.slow
def test_rollback_build_moves_staging_back(
    demo: tuple[Path, Path, JenkinsExecutor], main_build: BuildResult, tmp_path: Path
) -> None:
    _project, registry, _ex = demo
    assert main_build.result == "SUCCESS"
    first = aliases(registry)["staging"]
    # a second, different model: another seed in the spec, recompiled, built again
    project = make_project(tmp_path / "project", seed=7)
    ex = executor(project, tmp_path / "work", registry)
    second = ex.run(Build("branch", number=4))
    assert second.result == "SUCCESS", second.summary()
    now = aliases(registry)
    assert now["staging"] == now["production"] != first

    r = ex.run(Build("user", number=5, params={"MLGEN_ROLLBACK": "staging"}))
    assert r.result == "SUCCESS", r.summary()
    assert r.ran() == ["rollback-staging"], r.summary()
    assert r.locks() == [("rollback-staging", "mlgen-deploy-staging")] and r.inputs() == []
    assert aliases(registry) == {"staging": first, "production": now["production"]}
    last = history(registry)[-1]
    assert (last["action"], last["env"], last["from"], last["to"]) == ("rollback", "staging", now["staging"], first)

    # production: approval asked, and MLGEN_ROLLBACK_TO reaches the runtime
    r = ex.run(Build("user", number=6, params={"MLGEN_ROLLBACK": "production", "MLGEN_ROLLBACK_TO": str(first)}))
    assert r.result == "SUCCESS", r.summary()
    assert r.ran() == ["rollback-production"] and r.inputs() == ["rollback-production"]
    assert aliases(registry) == {"staging": first, "production": first}


# --------------------------------------------------------------------------- paths as people write them

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
providers = ["jenkins"]

[[stages]]
name = "prepare"
cmd = "python 'scripts/prépare les données.py'"
deps = ["scripts/prépare les données.py", "raw/brut données.csv"]
outs = ["données/in put é.csv", "out/it's [v1] #1 {x} ~b & c"]
before = "validate"

[[stages]]
name = "use"
cmd = "cat \\"out/it's [v1] #1 {x} ~b & c/é t~\\""
deps = ["out/it's [v1] #1 {x} ~b & c/é t~"]
"""

PREPARE = """\
import pathlib, shutil
pathlib.Path("données").mkdir(exist_ok=True)
shutil.copy("raw/brut données.csv", "données/in put é.csv")
out = pathlib.Path("out/it's [v1] #1 {x} ~b & c")
out.mkdir(parents=True, exist_ok=True)
(out / "é t~").write_text("étape faite\\n", encoding="utf-8")
"""


@pytest.mark.slow
def test_paths_with_spaces_brackets_and_accents_travel_between_stages(tmp_path: Path) -> None:
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
    assert mlgen(["compile", "--spec", str(project / "mlproject.toml"), "--quiet"]) == 0
    text = (project / "Jenkinsfile").read_text(encoding="ascii")  # non-ASCII as \\u escapes
    result = JenkinsExecutor(text, project, tmp_path / "work", python_bin=PYTHON_BIN, agent_env=AGENT_ENV,
                             job="accents").run(Build("branch", branch="main", number=1))
    assert_ok(result)
    assert result.ran() == ["prepare", "use", "validate", "train", "evaluate"], result.summary()
    # the stash kept the exact names, the `~` backup-style one too (no Ant default excludes)
    assert set(result.stashes["prepare"]) == {"données/in put é.csv", "out/it's [v1] #1 {x} ~b & c/é t~"}
