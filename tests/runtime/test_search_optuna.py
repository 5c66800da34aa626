"""strategy = "optuna" (search_optuna.py), ranges in the space (search_space.py), and every
strategy's trials in trials.json, the train report and MLflow child runs (trials.py,
trials_mlflow.py). Real Optuna studies (sqlite and journal storage, two worker processes at
once), a real MLflow server (the session's, tests/runtime/mlflow_server.py). Small data, few trials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgen_runtime import search, search_space
from tests.runtime.conftest import breast_cancer
from tests.runtime.mlflow_server import Server

optuna = pytest.importorskip("optuna")  # the test extra installs it

SPACE = "space = { max_depth = { low = 1, high = 4 }, min_samples_leaf = [1, 20] }"  # 8 combinations
GRID_SPACE = "space = { max_depth = { low = 1, high = 4, step = 1 }, min_samples_leaf = [1, 20] }"


def spec(search_lines: str, name: str = "opt") -> str:
    return f"""
[project]
name = "{name}"
seed = 7

[data]
path = "data/train.csv"
target = "malignant"
task = "classification"
allow_extra = true

[train]
estimator = "sklearn.tree.DecisionTreeClassifier"

[train.search]
{search_lines}
cv = 3
scoring = "roc_auc"

[evaluate]
metrics = ["accuracy", "roc_auc"]
"""


def read(root: Path, rel: str) -> Any:
    return json.loads((root / ".mlgen/out" / rel).read_text())


def shard_process(root: Path, i: int, n: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_TAG",
                                                             "MLGEN_RUN_ID", "MLFLOW_TRACKING_URI")}
    return subprocess.Popen([sys.executable, "-m", "mlgen_runtime", "train", "--plan", ".mlgen/plan.json",
                             "--shard", f"{i}/{n}"], cwd=root, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


_GRID: dict[str, Any] = {}


def grid_scores(project: Any, rt: Any) -> dict[tuple[Any, ...], float]:
    """Brute force: every combination of the tiny space, scored by a grid search (once per module)."""
    if not _GRID:
        root = project(spec(GRID_SPACE, name="grid"), {"data/train.csv": breast_cancer()})
        assert rt("train") == 0
        doc = read(root, "model/trials.json")
        assert len(doc["trials"]) == 8
        _GRID.update({(t["params"]["max_depth"], t["params"]["min_samples_leaf"]): t["mean"] for t in doc["trials"]})
    return _GRID


# -- two workers of one study ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["sqlite:///.mlgen/cache/optuna.db", ".mlgen/cache/optuna.journal"])
def test_two_shards_at_once_share_one_study(project, rt, capsys, tmp_path_factory, storage):
    n_iter = 8
    root = project(spec(f'strategy = "optuna"\n{SPACE}\nn_iter = {n_iter}\nshards = 2\nstorage = "{storage}"'),
                   {"data/train.csv": breast_cancer()})
    procs = [shard_process(root, i, 2) for i in (1, 2)]  # both running at the same time
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    assert all("optuna study mlgen-opt-" in log for log in logs)
    assert rt("select") == 0
    doc = read(root, "model/trials.json")
    meta = read(root, "model/model.json")

    # the budget: n_iter trials used, numbered 0..n_iter-1 (a worker may start one extra at the end)
    assert [t["index"] for t in doc["trials"]] == list(range(n_iter))
    ran = [t["index"] for i in (1, 2) for t in read(root, f"trials/shard-{i}-of-2.json")["trials"]]
    assert len(ran) == len(set(ran)) and set(range(n_iter)) <= set(ran) and len(ran) <= n_iter + 1
    assert all(ran.count(k) == 1 for k in range(n_iter))
    assert {i: read(root, f"trials/shard-{i}-of-2.json")["trials"] != [] for i in (1, 2)} == {1: True, 2: True}

    # the study itself agrees (read with Optuna, not through mlgen)
    url = f"sqlite:///{root / '.mlgen/cache/optuna.db'}" if storage.startswith("sqlite") else None
    store = url or optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(root / storage)))
    (summary,) = optuna.get_all_study_summaries(store)
    assert summary.study_name == doc["study"]
    study = optuna.load_study(study_name=doc["study"], storage=store)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert n_iter <= len(finished) <= n_iter + 1

    # the best trial: the best of trials.json (lowest index on a tie), refitted
    ok = [t for t in doc["trials"] if t["mean"] is not None]
    top = max(t["mean"] for t in ok)
    expected = min(t["index"] for t in ok if t["mean"] == top)
    assert doc["best"] == meta["search"]["best"]["index"] == expected
    assert meta["search"]["strategy"] == "optuna" and meta["search"]["trials"] == n_iter
    assert meta["params"] == doc["trials"][expected]["params"]

    # brute force: each trial's score is what the grid search gets for the same params,
    # and no combination of the space beats the best trial by more than what Optuna missed
    grid = grid_scores(project, rt)
    for t in doc["trials"]:
        assert t["mean"] == pytest.approx(grid[(t["params"]["max_depth"], t["params"]["min_samples_leaf"])], abs=1e-12)
    tried = {(t["params"]["max_depth"], t["params"]["min_samples_leaf"]) for t in doc["trials"]}
    assert top == pytest.approx(max(v for k, v in grid.items() if k in tried))
    if len(tried) == len(grid):
        assert top == pytest.approx(max(grid.values()))


# -- one worker: seeded, in memory ---------------------------------------------------------


def test_single_worker_reruns_give_the_same_trials_and_report(project, rt, capsys):
    root = project(spec(f'strategy = "optuna"\n{SPACE.replace("[1, 20]", "{ low = 1, high = 40, log = true }")}'
                        "\nn_iter = 6"), {"data/train.csv": breast_cancer()})
    assert rt("train") == 0
    first = read(root, "model/trials.json")
    first_meta = read(root, "model/model.json")
    assert rt("train") == 0
    again = read(root, "model/trials.json")
    assert [t["params"] for t in again["trials"]] == [t["params"] for t in first["trials"]]
    assert read(root, "model/model.json")["search"]["best"] == first_meta["search"]["best"]
    assert first["study"].startswith("mlgen-opt-") and len(first["trials"]) == 6
    for t in first["trials"]:
        assert 1 <= t["params"]["max_depth"] <= 4 and 1 <= t["params"]["min_samples_leaf"] <= 40
        assert isinstance(t["params"]["min_samples_leaf"], int)
        assert len(t["fold_scores"]) == 3 and t["fit_time"] >= 0 and t["score_time"] >= 0
    report = (root / ".mlgen/out/model/report.md").read_text()
    assert "## Search: 6 trials (optuna), 3-fold CV, `roc_auc` (higher is better)" in report
    assert len([ln for ln in report.splitlines() if ln.startswith("| ")]) == 2 + 6  # header, rule, a row per trial
    assert f"| **{first['best']}** |" in report


def test_another_seed_gives_other_trials(project, rt):
    text = spec(f'strategy = "optuna"\n{SPACE}\nn_iter = 4')
    root = project(text, {"data/train.csv": breast_cancer()})
    assert rt("train") == 0
    seven = [t["params"] for t in read(root, "model/trials.json")["trials"]]
    root = project(text.replace("seed = 7", "seed = 8"), {"data/train.csv": breast_cancer()})
    assert rt("train") == 0
    assert [t["params"] for t in read(root, "model/trials.json")["trials"]] != seven


# -- every strategy's trials ---------------------------------------------------------------


def test_grid_and_random_trials_json_and_report(project, rt, capsys):
    root = project(spec(GRID_SPACE, name="grid"), {"data/train.csv": breast_cancer()})
    assert rt("train") == 0
    doc = read(root, "model/trials.json")
    assert doc["strategy"] == "grid" and doc["study"] is None
    assert sorted((t["params"]["max_depth"], t["params"]["min_samples_leaf"]) for t in doc["trials"]) == [
        (d, leaf) for d in (1, 2, 3, 4) for leaf in (1, 20)]
    meta = read(root, "model/model.json")
    assert meta["search"]["best"]["index"] == doc["best"]
    assert [r["mean"] for r in meta["search"]["results"]] == [t["mean"] for t in doc["trials"]]
    assert "| trial | max\\_depth | min\\_samples\\_leaf | mean | std | folds | fit s | score s | note |" in \
        (root / ".mlgen/out/model/report.md").read_text()

    root = project(spec('strategy = "random"\nn_iter = 5\nspace = { max_depth = { low = 1, high = 6 }, '
                        'min_impurity_decrease = { low = 0.00001, high = 0.01, log = true } }'),
                   {"data/train.csv": breast_cancer()})
    assert rt("train") == 0
    doc = read(root, "model/trials.json")
    assert len(doc["trials"]) == 5
    for t in doc["trials"]:
        assert 1 <= t["params"]["max_depth"] <= 6 and isinstance(t["params"]["max_depth"], int)
        assert 0.00001 <= t["params"]["min_impurity_decrease"] <= 0.01


def test_storage_env_unset_is_one_line_exit_2(project, rt, capsys, monkeypatch):
    monkeypatch.delenv("OPTUNA_TEST_STUDY_URL", raising=False)
    root = project(spec(f'strategy = "optuna"\n{SPACE}\nn_iter = 4\nshards = 2\nstorage_env = "OPTUNA_TEST_STUDY_URL"'),
                   {"data/train.csv": breast_cancer()})
    assert rt("train", "--shard", "1/2") == 2
    err = capsys.readouterr().err
    assert "OPTUNA_TEST_STUDY_URL is not set" in err and "Traceback" not in err
    plan = json.loads((root / ".mlgen/plan.json").read_text())
    jobs = {j["name"]: j for j in plan["jobs"]}
    assert jobs["train"]["command_secrets"] == jobs["select"]["command_secrets"] == [["OPTUNA_TEST_STUDY_URL"]]
    for name in ("train", "select"):
        assert "optuna" in (root / f".mlgen/install/{name}.txt").read_text().split("\n")
    assert "optuna" not in (root / ".mlgen/install/evaluate.txt").read_text()
    # a reachable URL in the variable: the shard runs (sqlite in the project)
    monkeypatch.setenv("OPTUNA_TEST_STUDY_URL", "sqlite:///.mlgen/cache/env.db")
    assert rt("train", "--shard", "1/2") == 0
    assert (root / ".mlgen/cache/env.db").is_file()


# -- MLflow: one parent per pipeline, a child run per trial ----------------------------------


def test_trials_are_child_runs_of_one_parent_per_pipeline(project, rt, capsys, monkeypatch, mlflow_server: Server):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    monkeypatch.setenv("MLGEN_RUN_ID", "pipeline-4711")
    for var in ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "BUILD_TAG"):
        monkeypatch.delenv(var, raising=False)
    root = project(spec(f"{GRID_SPACE}\nshards = 2", name="tracked"), {"data/train.csv": breast_cancer()})
    assert rt("train", "--shard", "1/2") == 0 and rt("train", "--shard", "2/2") == 0  # two shards, one parent
    assert rt("select") == 0
    client = mlflow_server.client()
    exp = client.get_experiment_by_name("mlgen-tracked")
    runs = client.search_runs([exp.experiment_id], "tags.`mlgen.pipeline` = 'pipeline-4711'", max_results=100)
    parents = [r for r in runs if r.data.tags.get("mlgen.role") == "search"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 8
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    doc = read(root, "model/trials.json")
    by_trial = {int(r.data.tags["mlgen.trial"]): r for r in children}
    assert sorted(by_trial) == [t["index"] for t in doc["trials"]]
    for t in doc["trials"]:
        run = by_trial[t["index"]]
        assert run.data.metrics["cv_mean"] == pytest.approx(t["mean"])
        assert run.data.metrics["cv_fold_3"] == pytest.approx(t["fold_scores"][2])
        assert run.data.params["max_depth"] == str(t["params"]["max_depth"])
        assert run.info.status == "FINISHED"


# -- the space ---------------------------------------------------------------------------


def test_stepped_ranges_and_counts():
    assert search_space.stepped({"low": 0.1, "high": 0.5, "step": 0.1}) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert search_space.stepped({"low": 1, "high": 10, "step": 3}) == [1, 4, 7, 10]
    assert search_space.count({"a": {"low": 1, "high": 10, "step": 3}, "b": [1, 2]}) == 8
    assert search_space.count({"a": {"low": 1, "high": 10}}) is None
    grid = search.trials({"strategy": "grid", "space": {"a": {"low": 1, "high": 3, "step": 1}, "b": ["x"]}}, 0)
    assert grid == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"a": 3, "b": "x"}]


ranges = st.one_of(
    st.tuples(st.integers(-50, 50), st.integers(1, 100), st.booleans()).map(
        lambda t: {"low": t[0], "high": t[0] + t[1], "log": False, "step": None if t[2] else max(1, t[1] // 3)}),
    st.tuples(st.floats(1e-6, 1e3), st.floats(1.001, 1e3), st.booleans()).map(
        lambda t: {"low": t[0], "high": t[0] * t[1], "log": t[2], "step": None}),
)


@settings(max_examples=25, deadline=None)
@given(r=ranges, seed=st.integers(0, 2**31 - 1))
def test_every_strategy_stays_inside_a_range(r, seed):
    values = [t["p"] for t in search.trials({"strategy": "random", "n_iter": 5, "space": {"p": r}}, seed)]
    if r["step"] is not None:
        values += [t["p"] for t in search.trials({"strategy": "grid", "space": {"p": r}}, seed)]
        assert search_space.stepped(r)[-1] <= r["high"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    values += [search_space.suggest(study.ask(), "p", r) for _ in range(3)]
    for v in values:
        assert r["low"] <= v <= r["high"] + 1e-9 * max(1.0, abs(r["high"]))
        assert isinstance(v, int) == search_space.is_int(r)
