"""`mlgen run`'s runtime worker: runtime invocations in one process give what separate processes
give (exit codes, stderr messages, outputs), a failing stage stops its dependents, a stage leaves
no state behind, and the worker's data memo notices a changed file."""

from __future__ import annotations

import json
import os
import time
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from mlgen.cli import main as mlgen_main
from mlgen.localrun import RuntimeWorker, Workers, _env, run_plan, runtime_argv

SPEC = """
[project]
name = "bc"
seed = 42

[data]
path = "data/train.csv"
target = "malignant"
task = "classification"
allow_extra = true

[validate]
min_rows = {min_rows}

[train]
estimator = "sklearn.linear_model.LogisticRegression"
params = {{ max_iter = 2000 }}

[evaluate]
metrics = ["accuracy", "f1", "roc_auc"]
gates = {{ roc_auc = {{ min = {gate} }} }}

[deploy]
registry = "models"
[[deploy.environments]]
name = "staging"
approval = "auto"
"""


def breast_cancer() -> Any:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return frame.assign(malignant=(frame.pop("target") == 0).astype(int))


def make_project(root: Path, gate: float = 0.9, min_rows: int = 100) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mlproject.toml").write_text(SPEC.format(gate=gate, min_rows=min_rows))
    (root / "data").mkdir(exist_ok=True)
    breast_cancer().to_csv(root / "data/train.csv", index=False)
    cwd = Path.cwd()
    os.chdir(root)
    try:
        assert mlgen_main(["compile", "-q"]) == 0
    finally:
        os.chdir(cwd)
    return root


def run_both(tmp_path: Path, capfd: pytest.CaptureFixture[str], **spec: Any) -> dict[str, Any]:
    """The same project run by separate processes and by the worker: outcomes, output, files."""
    out: dict[str, Any] = {}
    for mode, worker in (("process", False), ("worker", True)):
        root = make_project(tmp_path / mode, **spec)
        capfd.readouterr()
        outcomes = run_plan(root, worker=worker)
        text = capfd.readouterr()
        out[mode] = {
            "outcomes": [(o.name, o.status, o.code) for o in outcomes],
            "stdout": text.out.replace(str(root), "ROOT"),
            "stderr": text.err.replace(str(root), "ROOT"),
            "root": root,
        }
    return out


def without_timing(text: str) -> list[str]:
    # validate prints how long it took, deploy the sha256 of a model file (zip timestamps)
    return [ln for ln in text.splitlines() if " checks passed in " not in ln and "sha256" not in ln]


def test_runtime_argv_accepts_only_plain_runtime_invocations() -> None:
    assert runtime_argv("python -m mlgen_runtime train --plan .mlgen/plan.json") == ["train", "--plan", ".mlgen/plan.json"]
    assert runtime_argv("python -m mlgen_runtime deploy --plan .mlgen/plan.json --env staging")[-1] == "staging"
    assert runtime_argv("python  -m mlgen_runtime  train ") == ["train"], "the shell splits words on any run of spaces"
    for cmd in (
        "python -m mlgen_runtime train --shard \"$MLGEN_SHARD_INDEX/2\"",  # an expansion: the shell's job
        "python -m mlgen_runtime train; rm -rf x",
        "python -m mlgen_runtime train\nrm -rf x",
        "python -m mlgen_runtime train > log.txt",
        "python -m mlgen_runtime",
        "FOO=1 python -m mlgen_runtime train",
        "python3 -m mlgen_runtime train",
        "python scripts/featurize.py data/raw data/features",
        "python -m mlgen_runtime train ~/x",
    ):
        assert runtime_argv(cmd) is None, cmd


def test_worker_gives_the_same_results_as_separate_processes(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    r = run_both(tmp_path, capfd)
    assert r["process"]["outcomes"] == r["worker"]["outcomes"]
    assert [s for _, s, _ in r["worker"]["outcomes"]] == ["ran"] * 4
    assert without_timing(r["process"]["stdout"]) == without_timing(r["worker"]["stdout"])
    assert r["process"]["stderr"] == r["worker"]["stderr"]
    for rel in (".mlgen/out/validate/validation.json", ".mlgen/out/evaluate/metrics.json"):
        a, b = (json.loads((r[m]["root"] / rel).read_text()) for m in ("process", "worker"))
        for d in (a, b):
            d.pop("model_sha256", None)
            (d.get("model") or {}).pop("sha256", None)
        assert a == b, rel
    a, b = (json.loads((r[m]["root"] / ".mlgen/out/model/model.json").read_text()) for m in ("process", "worker"))
    assert a["data"] == b["data"], "the same split, seen by train in both modes"
    assert json.loads((r["worker"]["root"] / "models/aliases.json").read_text()) == {"staging": 1}


def test_failing_gate_stops_deploy_with_the_same_code_and_message(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    r = run_both(tmp_path, capfd, gate=0.99999)
    expected = [("validate", "ran", 0), ("train", "ran", 0), ("evaluate", "failed", 1), ("deploy-staging", "blocked", 0)]
    assert r["process"]["outcomes"] == r["worker"]["outcomes"] == expected
    assert "mlgen_runtime evaluate: failed: 1 of 1 gate(s) failed" in r["worker"]["stderr"]
    assert r["process"]["stderr"] == r["worker"]["stderr"]
    assert not (r["worker"]["root"] / "models").exists()


def test_bad_input_exit_2_is_reported_as_before(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    r = run_both(tmp_path, capfd, min_rows=100_000)  # a failed check: exit 1; then a missing target: exit 2
    assert r["process"]["outcomes"] == r["worker"]["outcomes"]
    assert r["worker"]["outcomes"][0] == ("validate", "failed", 1)
    assert r["process"]["stderr"] == r["worker"]["stderr"]

    outs = {}
    for mode, worker in (("process", False), ("worker", True)):
        root = r[mode]["root"]
        frame = breast_cancer().drop(columns=["malignant"])
        frame.to_csv(root / "data/train.csv", index=False)
        capfd.readouterr()
        outs[mode] = ([(o.name, o.status, o.code) for o in run_plan(root, ["validate"], worker=worker)],
                      capfd.readouterr().err)
    assert outs["process"] == outs["worker"]
    assert outs["worker"][0] == [("validate", "failed", 2)]
    assert "target column `malignant` not found" in outs["worker"][1]


def test_worker_is_one_process_for_the_run(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    root = make_project(tmp_path / "p")
    workers = Workers(root, enabled=True)
    try:
        env = _env(json.loads((root / ".mlgen/plan.json").read_text()))
        first = workers.get(env)
        assert first is not None
        # `python -m` runs worker.py as __main__, a second module object: the stages must see the
        # package's module marked active, or imports_alongside never overlaps anything
        assert first.hello == {"ready": True, "active": True}
        assert first.run(["verify", "--plan", ".mlgen/plan.json"]) == 0
        assert workers.get(env) is first, "reused for the next command"
        second = workers.get({**env, "MLGEN_NO_CACHE": "1"})
        assert second is not first and first.proc.poll() is not None, "another environment, another worker"
        manifest = root / ".mlgen/runtime/MANIFEST.json"
        os.utime(manifest, ns=(manifest.stat().st_atime_ns, manifest.stat().st_mtime_ns + 10**9))
        assert workers.get({**env, "MLGEN_NO_CACHE": "1"}) is not second, "a recompiled bundle, a new worker"
        assert second.proc.poll() is not None
    finally:
        workers.close()
    assert "runtime bundle and plan verified" in capfd.readouterr().out


# --- a stage that ends the process, with a hook injected through sitecustomize ---------------------

HOOK = """
import os
if os.environ.get("MLGEN_TEST_HOOK"):
    import mlgen_runtime.cli as cli

    def run(ctx, args):
        kind = os.environ["MLGEN_TEST_HOOK"]
        if kind == "exit7":
            os._exit(7)
        if kind == "sysexit":
            raise SystemExit("stopped by the stage")
        if kind == "boom":
            raise RuntimeError("the stage broke")
        return 0

    cli.run = run
"""


@pytest.mark.parametrize("hook, code, err", [
    ("exit7", 7, ""),
    ("sysexit", 1, "stopped by the stage"),
    ("boom", 1, "RuntimeError: the stage broke"),
])
def test_crash_or_exit_of_a_stage_is_its_exit_code(tmp_path: Path, capfd: pytest.CaptureFixture[str], hook: str,
                                                   code: int, err: str) -> None:
    root = make_project(tmp_path / "p")
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(HOOK)
    plan = json.loads((root / ".mlgen/plan.json").read_text())
    env = _env(plan, {"MLGEN_TEST_HOOK": hook})
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(tmp_path / "hook")])
    import subprocess

    capfd.readouterr()
    expected = subprocess.run([sys.executable, "-m", "mlgen_runtime", "verify", "--plan", ".mlgen/plan.json"],
                              cwd=root, env=env).returncode
    expected_err = capfd.readouterr().err
    assert expected == code and err in expected_err

    w = RuntimeWorker(root, env)
    try:
        assert w.alive()
        assert w.run(["verify", "--plan", ".mlgen/plan.json"]) == code
        if hook == "exit7":
            assert not w.alive(), "the process is gone; `Workers` starts a new one"
        else:
            assert w.run(["verify", "--plan", ".mlgen/plan.json"]) == code, "still serving"
    finally:
        w.close()
    got_err = capfd.readouterr().err
    assert err in got_err
    if hook == "boom":
        assert got_err.count("Traceback (most recent call last)") == 2
        assert "worker.py" not in got_err.split("\n", 2)[1], "the traceback starts at the stage"


# --- no state leaks from one stage into the next (in-process) ------------------------------------


def test_stage_state_does_not_leak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    import io
    import warnings

    import matplotlib
    import mlgen_runtime.cli as cli
    from mlgen_runtime import worker

    root = make_project(tmp_path / "p")
    monkeypatch.chdir(root)
    state = worker._State()
    seen: dict[str, Any] = {}

    def leaky(ctx: object, args: object) -> int:
        import matplotlib.pyplot as plt

        seen["argv"] = list(sys.argv)
        os.environ["MLGEN_LEAK"] = "1"
        os.chdir(tmp_path)
        sys.argv.append("--leak")
        sys.path.insert(0, "/nonexistent-leak")
        sys.stdout = io.StringIO()
        warnings.simplefilter("ignore")
        matplotlib.rcParams["lines.linewidth"] = 42.0
        plt.figure()
        print("buffered", file=sys.__stdout__, end="")  # written without a newline: must be flushed
        return 0

    def check(ctx: object, args: object) -> int:
        import matplotlib.pyplot as plt

        seen["clean"] = ("MLGEN_LEAK" not in os.environ and Path.cwd() == root and "--leak" not in sys.argv
                         and "/nonexistent-leak" not in sys.path and not isinstance(sys.stdout, io.StringIO)
                         and matplotlib.rcParams["lines.linewidth"] != 42.0 and plt.get_fignums() == []
                         and ("ignore", None, Warning, None, 0) not in warnings.filters)
        return 0

    monkeypatch.setattr(cli, "run", leaky)
    assert worker.run_one(["verify", "--plan", ".mlgen/plan.json"], state) == 0
    assert seen["argv"][1:] == ["verify", "--plan", ".mlgen/plan.json"]
    assert "buffered" in capfd.readouterr().out
    monkeypatch.setattr(cli, "run", check)
    assert worker.run_one(["verify", "--plan", ".mlgen/plan.json"], state) == 0
    assert seen["clean"]


# --- the data and model memo -------------------------------------------------------------------


@pytest.fixture
def memo() -> Any:
    from mlgen_runtime import data, modelio

    data.enable_memo()
    modelio.enable_memo()
    yield data
    data.enable_memo(False)
    modelio.enable_memo(False)


def test_memoized_frame_is_reread_when_the_file_changes(tmp_path: Path, memo: Any) -> None:
    import pandas as pd

    path = tmp_path / "d.csv"
    pd.DataFrame({"a": [1, 2, 3], "y": [0, 1, 0]}).to_csv(path, index=False)
    first = memo.load_frame(path)
    again = memo.load_frame(path)
    assert again is not first and again.equals(first) and len(memo.MEMO.frames) == 1
    again.loc[0, "a"] = 99  # a stage changing its copy...
    again["new"] = 1
    assert memo.load_frame(path).equals(first), "...does not change what the next stage reads"

    pd.DataFrame({"a": [7, 8, 9], "y": [1, 1, 0]}).to_csv(path, index=False)  # same size, new content
    assert memo.load_frame(path)["a"].tolist() == [7, 8, 9]
    replacement = tmp_path / "new.csv"
    pd.DataFrame({"a": [4, 5, 6], "y": [1, 1, 0]}).to_csv(replacement, index=False)
    st = path.stat()
    os.replace(replacement, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: the inode tells
    assert memo.load_frame(path)["a"].tolist() == [4, 5, 6]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_split_is_train_test_split_and_memoized_by_target(memo: Any, task: str) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500), "y": rng.integers(0, 3, 500)})
    settings = {"project": {"seed": 7}, "data": {"target": "y", "task": task, "test_size": 0.25}}
    strat = frame["y"] if task == "classification" else None
    want = train_test_split(frame, test_size=0.25, random_state=7, stratify=strat)
    for _ in range(2):  # computed, then from the memo
        got = memo.split(frame, settings)
        assert all(g.equals(w) and g.index.equals(w.index) for g, w in zip(got, want))
    keyed = pd.DataFrame({"y": frame["y"].to_numpy(), "h": np.arange(500)})  # validate's leakage frame
    assert memo.split(keyed, settings)[1].index.equals(want[1].index)
    other = frame.assign(y=rng.integers(0, 3, 500))
    if task == "classification":  # another target: another stratified split
        want2 = train_test_split(other, test_size=0.25, random_state=7, stratify=other["y"])
        assert memo.split(other, settings)[1].index.equals(want2[1].index)


def test_memoized_model_is_a_copy_and_the_hash_is_still_checked(tmp_path: Path, memo: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    from mlgen_runtime import modelio
    from mlgen_runtime.errors import BadInput

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    sha = modelio.save_model(model, tmp_path)
    path = tmp_path / modelio.MODEL_FILE
    a = modelio.load_model(path, sha)
    a.coef_[:] = 0  # a stage changing its model...
    b = modelio.load_model(path, sha)
    assert b is not a and b.coef_[0, 0] != 0, "...does not change the next stage's"
    shutil.copy(path, tmp_path / "saved")
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(BadInput, match="sha256 mismatch"):
        modelio.load_model(path, sha)


def test_imports_alongside_happen_only_in_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlgen_runtime import worker

    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    with worker.imports_alongside(["colorsys"]):
        pass
    assert "colorsys" not in sys.modules, "a CI process imports what it needs when it needs it"
    monkeypatch.setattr(worker, "ACTIVE", True)
    with worker.imports_alongside(["colorsys", "mlgen_no_such_module"]):
        pass
    assert "colorsys" in sys.modules, "imported (and waited for) by the end of the block"


def test_memoized_file_hash_follows_every_write(tmp_path: Path) -> None:
    """The worker remembers file hashes by stat; a rewrite with the same size and mtime restored
    still changes ctime, so the hash is computed again."""
    import hashlib

    from mlgen_runtime import fsutil

    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n")
    fsutil.enable_sha_memo()
    try:
        assert fsutil.sha256_file(path) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
        st = path.stat()
        time.sleep(0.01)
        path.write_bytes(b"a,b\n3,4\n")  # same size
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
        assert fsutil.sha256_file(path) == hashlib.sha256(b"a,b\n3,4\n").hexdigest()
    finally:
        fsutil.enable_sha_memo(False)
