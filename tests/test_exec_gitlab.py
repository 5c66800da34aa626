"""The compiled demo runs under gitlab-ci-local (shell executor, isolated job directories, so only
declared artifacts travel between jobs): the push pipeline end to end with sharded trials, the
manual production deploy, the scheduled monitor with and without drift (a dynamic child pipeline
retrains only when the data drifted), and the manual rollback job.

How the runs are set up (gitlab-ci-local 4.73):
- Jobs find the project's Python through PATH (its first entry is this interpreter's bin dir), so
  every `pip install` line finds its requirements satisfied; PIP_NO_INDEX keeps pip offline.
- PATH, PIP_NO_INDEX, OMP_NUM_THREADS and MLGEN_REGISTRY (a folder outside the project, so deploys persist across
  jobs and runs) are set in gitlab-ci-local's home variables file, its stand-in for project CI/CD
  variables. `--variable` values would reach the parent pipeline only: gitlab-ci-local replaces
  them with the trigger job's variables in child pipelines.
- gitlab-ci-local re-syncs the job directory from git before `after_script` under
  --shell-isolation, deleting every file the job wrote, so no artifact would be left to upload
  (GitLab runs after_script in the same directory; see test_after_script_canary). The runs below
  therefore execute the compiled files without their `after_script` entries (report printing and
  the merge request note); tests/backends/test_gitlab.py runs those lines in bash instead.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support import judges

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
GATE, RETRAIN = "mlgen-drift-gate", "mlgen-retrain"
PUSH_JOBS = ("get-data", "validate", "train: [1/2]", "train: [2/2]", "select", "evaluate", "scan", "deploy-staging")
RETRAIN_JOBS = tuple(f"{RETRAIN} -> {j}" for j in PUSH_JOBS)
GLCL_TIMEOUT = 1200


# --------------------------------------------------------------------------- helpers


def make_demo(dest: Path, *, seed: int | None = None, drift: bool = False) -> Path:
    """The root example (mlproject.toml + demo/) copied to `dest` and compiled for GitLab."""
    dest.mkdir(parents=True)
    spec = (ROOT / "mlproject.toml").read_text()
    if seed is not None:
        assert "\nseed = 42\n" in spec
        spec = spec.replace("\nseed = 42\n", f"\nseed = {seed}\n")
    (dest / "mlproject.toml").write_text(spec)
    shutil.copytree(ROOT / "demo", dest / "demo")
    if drift:  # production traffic whose `mean radius` is 1.5 times larger
        script = dest / "demo/make_data.py"
        text = script.read_text()
        old = 'shuffled.iloc[cut:].drop(columns=["malignant"]).to_csv(out / "live.csv", index=False)'
        assert old in text
        script.write_text(text.replace(old, (
            'live = shuffled.iloc[cut:].drop(columns=["malignant"])\n'
            '    live["mean radius"] = live["mean radius"] * 1.5\n'
            '    live.to_csv(out / "live.csv", index=False)'
        )))
    proc = subprocess.run([sys.executable, "-m", "mlgen", "compile", "--provider", "gitlab"], cwd=dest,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for rel in (".gitlab-ci.yml", ".mlgen/gitlab/retrain.yml", ".mlgen/gitlab/no-retrain.yml"):
        without_after_script(dest / rel)
    return dest


def without_after_script(path: Path) -> None:
    """Drop `after_script` from every job (see the module docstring: gitlab-ci-local's defect)."""
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 1_000_000
    doc = yaml.load(path.read_text())
    for body in doc.values():
        if isinstance(body, dict):
            body.pop("after_script", None)
    buf = io.StringIO()
    yaml.dump(doc, buf)
    path.write_text(buf.getvalue())


@dataclass
class Run:
    rc: int
    out: str
    seconds: float
    repo: Path  # the committed copy gitlab-ci-local ran in (its .gitlab-ci-local/ holds the state)
    registry: Path
    aliases: dict[str, int]
    history: list[dict[str, Any]]

    @property
    def results(self) -> dict[str, str]:
        return job_results(self.out)

    def artifact(self, job: str, rel: str) -> Path:
        return self.repo / ".gitlab-ci-local/artifacts" / job / rel


_RESULT = re.compile(r"^\s*(PASS|FAIL)\s+(?:\[(?P<child>[^\]]+)\] -> )?(?P<job>\S.*?)\s*$")


def job_results(output: str) -> dict[str, str]:
    """{job: PASS | FAIL} from every summary gitlab-ci-local printed; child pipeline jobs are
    named `<trigger job> -> <job>` (judges.gitlab_job_results keeps one word per line, which loses
    them). A failed child job is printed without its prefix, so it shows up as an unexpected name."""
    results: dict[str, str] = {}
    for line in output.splitlines():
        m = _RESULT.match(re.sub(r"\x1b\[[0-9;]*m", "", line))
        if m:
            name = f"{m['child']} -> {m['job']}" if m["child"] else m["job"]
            assert name not in results, f"{name} reported twice\n{output}"
            results[name] = m.group(1)
    return results


def run_pipeline(project: Path, workdir: Path, registry: Path, *args: str, manual: tuple[str, ...] = ()) -> Run:
    """gitlab-ci-local on `project` (a committed copy in `workdir/repo`, kept for inspection)."""
    home = workdir / "home"
    (home / ".gitlab-ci-local").mkdir(parents=True, exist_ok=True)
    # type: variable, else gitlab-ci-local reads a value starting with "/" as a file variable
    variables = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PIP_NO_INDEX": "1",
        # the two train shards share this machine (on GitLab they get a runner each)
        "OMP_NUM_THREADS": "1",
        "MLGEN_REGISTRY": str(registry),
    }
    (home / ".gitlab-ci-local/variables.yml").write_text(json.dumps(
        {"global": {k: {"type": "variable", "values": {"*": v}} for k, v in variables.items()}}, indent=2))
    start = time.monotonic()
    rc, out = judges.gitlab_ci_local(
        project, ["--ignore-predefined-vars", "CI_PIPELINE_SOURCE", *args], manual,
        check=False, workdir=workdir, timeout=GLCL_TIMEOUT,
    )
    seconds = time.monotonic() - start
    print(f"\ngitlab-ci-local {' '.join(args) or '(push)'} {' '.join(manual)}: {seconds:.1f} s")
    aliases_file, history_file = registry / "aliases.json", registry / "history.jsonl"
    return Run(
        rc, out, seconds, workdir / "repo", registry,
        json.loads(aliases_file.read_text()) if aliases_file.exists() else {},
        [json.loads(line) for line in history_file.read_text().splitlines()] if history_file.exists() else [],
    )


def passed(*jobs: str) -> dict[str, str]:
    return dict.fromkeys(jobs, "PASS")


# --------------------------------------------------------------------------- push pipelines


@dataclass
class Pushes:
    first: Run  # seed 42: the push pipeline as is
    second: Run  # seed 7 (a different model), production approved with --manual
    project: Path
    registry: Path


@pytest.fixture(scope="module")
def pushes(tmp_path_factory: pytest.TempPathFactory) -> Pushes:
    base = tmp_path_factory.mktemp("glcl-push")
    registry = base / "registry" / "models"  # outside the project: shared by every run
    first = run_pipeline(make_demo(base / "seed42"), base / "run1", registry)
    assert first.rc == 0, first.out
    project = make_demo(base / "seed7", seed=7)
    second = run_pipeline(project, base / "run2", registry, manual=("deploy-production",))
    assert second.rc == 0, second.out
    return Pushes(first, second, project, registry)


def test_push_pipeline_runs_the_demo_end_to_end(pushes: Pushes) -> None:
    run = pushes.first
    # production waits for a person; rollbacks, monitor and the retrain helpers are not in it
    assert run.results == passed(*PUSH_JOBS), run.out
    assert run.aliases == {"staging": 1}
    assert [h["action"] for h in run.history] == ["promote"]

    # the trials fan out over two jobs with distinct shard files; select received both
    shard_files = sorted(p.name for p in (run.repo / ".gitlab-ci-local/artifacts").glob("*/.mlgen/out/trials/*"))
    assert shard_files == ["shard-1-of-2.json", "shard-2-of-2.json"], shard_files
    builds = run.repo / ".gitlab-ci-local/builds"
    assert sorted(p.name for p in (builds / "select/.mlgen/out/trials").iterdir()) == shard_files
    # isolation: a job sees only the artifacts it declares (evaluate does not read the trials,
    # deploy does not read the data)
    assert not (builds / "evaluate/.mlgen/out/trials").exists()
    assert (builds / "evaluate/data/train.csv").is_file()
    assert not (builds / "deploy-staging/data").exists()

    # reports are published as job artifacts (JUnit is also declared under artifacts:reports)
    for job in ("validate", "evaluate"):
        junit = run.artifact(job, f".mlgen/out/{job}/junit.xml").read_text()
        assert "<testcase" in junit and "<failure" not in junit, job
    report = run.artifact("evaluate", ".mlgen/out/evaluate/report.md").read_text()
    assert "roc\\_auc" in report
    assert run.artifact("select", ".mlgen/out/model/model.skops").is_file()

    # the stage cache folders were saved under per-shard keys: prefix + the hash of the key files
    # (gitlab-ci-local names them <index>_<prefix>-<sha1 of plan.json and the data>)
    caches = sorted(p.name for p in (run.repo / ".gitlab-ci-local/cache").iterdir())
    assert [re.sub(r"^0_(.*)-[0-9a-f]{40}$", r"\1", c) for c in caches] == \
        ["mlgen-evaluate", "mlgen-select", "mlgen-train-1", "mlgen-train-2", "mlgen-validate"], caches
    assert len({c.rsplit("-", 1)[1] for c in caches}) == 1  # every stage read the same plan and data


def test_manual_production_deploy(pushes: Pushes) -> None:
    run = pushes.second
    assert run.results == passed(*PUSH_JOBS, "deploy-production"), run.out
    assert run.aliases == {"staging": 2, "production": 2}  # seed 7 trained a new version
    assert [(h["env"], h["from"], h["to"]) for h in run.history] == [
        ("staging", None, 1), ("staging", 1, 2), ("production", None, 2),
    ]


def test_rollback_job_moves_staging_back(pushes: Pushes, tmp_path: Path) -> None:
    # A person plays rollback-staging in a finished pipeline: only that job runs.
    run = run_pipeline(pushes.project, tmp_path / "rollback", pushes.registry, "rollback-staging",
                       manual=("rollback-staging",))
    assert run.rc == 0, run.out
    assert run.results == passed("rollback-staging"), run.out
    assert run.aliases == {"staging": 1, "production": 2}
    last = run.history[-1]
    assert (last["action"], last["env"], last["from"], last["to"]) == ("rollback", "staging", 2, 1)
    assert len(run.history) == len(pushes.second.history) + 1


# --------------------------------------------------------------------------- scheduled monitor


def test_schedule_without_drift_does_not_retrain(tmp_path: Path) -> None:
    registry = tmp_path / "registry" / "models"
    run = run_pipeline(make_demo(tmp_path / "project"), tmp_path / "run", registry,
                       "--variable", "CI_PIPELINE_SOURCE=schedule")
    assert run.rc == 0, run.out
    assert run.results == passed("get-data", "monitor", GATE, RETRAIN, f"{RETRAIN} -> mlgen-no-drift"), run.out
    assert run.artifact("monitor", ".mlgen/out/monitor/drifted").read_text() == "false\n"
    assert run.artifact(GATE, ".mlgen/out/mlgen-drift-gate/pipeline.yml").read_text().count("mlgen-no-drift:") == 1
    assert run.aliases == {} and run.history == []


def test_schedule_with_drift_retrains_in_a_child_pipeline(tmp_path: Path) -> None:
    registry = tmp_path / "registry" / "models"
    run = run_pipeline(make_demo(tmp_path / "project", drift=True), tmp_path / "run", registry,
                       "--variable", "CI_PIPELINE_SOURCE=schedule")
    assert run.rc == 0, run.out
    # gitlab-ci-local's exit status ignores child pipelines: every child job is checked here
    assert run.results == passed("get-data", "monitor", GATE, RETRAIN, *RETRAIN_JOBS), run.out
    assert run.artifact("monitor", ".mlgen/out/monitor/drifted").read_text() == "true\n"
    assert "mean radius" in run.artifact("monitor", ".mlgen/out/monitor/report.md").read_text()
    # the child evaluated the retrained model, then deployed it to staging (production waits)
    assert "[mlgen-retrain] -> evaluate" in run.out and "PASS roc_auc min 0.95" in run.out
    assert run.artifact("evaluate", ".mlgen/out/evaluate/metrics.json").is_file()
    assert run.aliases == {"staging": 1}
    assert [(h["action"], h["env"]) for h in run.history] == [("promote", "staging")]


# --------------------------------------------------------------------------- gitlab-ci-local itself


GITLAB_AFTER_SCRIPT = """\
make:
  script: [mkdir -p out, echo made > out/a.txt]
  after_script: [echo after]
  artifacts: {paths: [out]}
use:
  needs: [make]
  script: [cat out/a.txt]
"""


def test_after_script_canary(tmp_path: Path) -> None:
    """Why the runs above drop after_script: under --shell-isolation gitlab-ci-local 4.73 re-syncs
    the job directory before after_script and the job's own files are gone before its artifacts
    are collected. When this test fails, gitlab-ci-local was fixed: run the files as compiled."""
    project = tmp_path / "project"
    project.mkdir()
    (project / ".gitlab-ci.yml").write_text(GITLAB_AFTER_SCRIPT)
    rc, out = judges.gitlab_ci_local(project, check=False)
    assert "no artifacts was copied" in out and job_results(out) == {"make": "PASS", "use": "FAIL"}, out
    without_after_script(project / ".gitlab-ci.yml")
    rc, out = judges.gitlab_ci_local(project, check=False)
    assert rc == 0 and job_results(out) == passed("make", "use"), out


# --------------------------------------------------------------------------- paths as people write them

ACCENTED_SPEC = """\
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
"ville d'origine" = { type = "category", values = ["Köln", "São Paulo", "北京"] }

[train]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 2000 }

[ci]
providers = ["gitlab"]  # `,` in an artifact path: GitLab carries it (Jenkins' stash would not)

[evaluate]
metrics = ["accuracy"]
slices = ["ville d'origine"]

[[stages]]
name = "prepare"
cmd = "python 'scripts/prépare les données.py'"
deps = ["scripts/prépare les données.py", "raw/brut données.csv"]
outs = ["données", "out/it's#1{x}~b&c,d;e(f)=g@h+i%j!k"]
before = "validate"

[[stages]]
name = "use"
cmd = "cat \\"out/it's#1{x}~b&c,d;e(f)=g@h+i%j!k/é t.txt\\""
deps = ["out/it's#1{x}~b&c,d;e(f)=g@h+i%j!k/é t.txt"]
"""

PREPARE = """\
import pathlib, pandas as pd
raw = pd.read_csv("raw/brut données.csv")
pathlib.Path("données").mkdir(exist_ok=True)
raw.to_csv("données/in put é.csv", index=False)
out = pathlib.Path("out/it's#1{x}~b&c,d;e(f)=g@h+i%j!k")
out.mkdir(parents=True, exist_ok=True)
(out / "é t.txt").write_text("étape faite\\n", encoding="utf-8")
"""


def make_accented(dest: Path) -> Path:
    """A project whose data file, reference, requirements, stage deps/outs and columns have
    spaces, accents, CJK and punctuation; compiled for GitLab."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    towns = ["Köln", "São Paulo", "北京"]
    data = frame[["mean radius"]].rename(columns={"mean radius": "rayon moyen, µm"})
    data["ville d'origine"] = [towns[i % 3] for i in range(len(frame))]
    data["malin (oui/non)"] = (frame["target"] == 0).astype(int)
    for rel, part in (("raw/brut données.csv", data.iloc[:400]), ("données/référence 中文.csv", data.iloc[400:])):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        part.to_csv(dest / rel, index=False)
    (dest / "scripts").mkdir()
    (dest / "scripts/prépare les données.py").write_text(PREPARE, encoding="utf-8")
    (dest / "requirements ü.txt").write_text("")
    (dest / "mlproject.toml").write_text(ACCENTED_SPEC, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "mlgen", "compile", "--provider", "gitlab"], cwd=dest,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    without_after_script(dest / ".gitlab-ci.yml")
    return dest


# Outs here hold no blank and no `[` `*` `?` in the path itself (the data file inside `données`
# does): gitlab-ci-local 4.73 lists each matched artifact with an unquoted `$_gcl_f`, so a match
# with a blank is split in words and one with `[` is globbed again (and dropped, nullglob); see
# test_artifact_names_with_blanks_canary. GitLab's runner matches the escaped globs itself
# (tests/backends/test_gitlab.py checks the escapes against a glob engine).
def test_paths_with_spaces_and_accents_travel_between_jobs(tmp_path: Path) -> None:
    project = make_accented(tmp_path / "project")
    run = run_pipeline(project, tmp_path / "run", tmp_path / "registry")
    assert run.rc == 0, run.out
    assert run.results == passed("prepare", "use", "validate", "train", "evaluate"), run.out
    # the stage's outputs travelled under their exact names (artifacts:paths globs), and the
    # built-in jobs read the data file and the columns as written
    assert run.artifact("prepare", "données/in put é.csv").is_file()
    assert run.artifact("prepare", "out/it's#1{x}~b&c,d;e(f)=g@h+i%j!k/é t.txt").read_text(encoding="utf-8") == "étape faite\n"
    assert "étape faite" in run.out  # `use` read the file from prepare's artifact
    builds = run.repo / ".gitlab-ci-local/builds"
    assert (builds / "evaluate/données/in put é.csv").is_file()
    report = run.artifact("evaluate", ".mlgen/out/evaluate/report.md").read_text(encoding="utf-8")
    assert "São Paulo" in report and "北京" in report  # the slices of the accented column
    # the stage caches are keyed on the plan and the accented data file (cache:key:files)
    caches = sorted(p.name for p in (run.repo / ".gitlab-ci-local/cache").iterdir())
    assert [re.sub(r"^0_(.*)-[0-9a-f]{40}$", r"\1", c) for c in caches] == \
        ["mlgen-evaluate", "mlgen-train", "mlgen-validate"], caches


def test_artifact_names_with_blanks_canary(tmp_path: Path) -> None:
    """Why the outs above have no blank: gitlab-ci-local 4.73 loses artifacts whose matched path
    has one (or a `[`), however the path is escaped. When this test fails, gitlab-ci-local was
    fixed: give the test above outs with blanks and brackets."""
    from mlgen.backends.gitlab.paths import artifact_pattern

    project = tmp_path / "project"
    project.mkdir()
    pattern = artifact_pattern("out/a b[1].txt")
    make = {"script": ["mkdir -p out", "echo made > 'out/a b[1].txt'"], "artifacts": {"paths": [pattern]}}
    (project / ".gitlab-ci.yml").write_text(json.dumps({"make": make}))  # JSON is YAML
    rc, out = judges.gitlab_ci_local(project, check=False)
    assert "no artifacts was copied" in out, out
