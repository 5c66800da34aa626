"""train.search.engine = "dask" (issue 18, part 1): the demo's search runs on a real
dask.distributed cluster (a scheduler and two worker processes on loopback, started here) and
gives exactly what the local search gives with the same seed: best params, CV scores, model bytes,
model.json. An unreachable scheduler and a missing dask are one line and exit 2; credentials in
train.search.scheduler are refused at compile time."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import LocalCluster
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgen.cli import main as mlgen_main
from mlgen.compile import build_plan
from mlgen.plan.lower import install_set
from mlgen.spec.load import load_spec
from mlgen.spec.model import Search
from mlgen_runtime.cli import main as runtime_main
from tests.runtime.conftest import CLASSIFICATION_SPEC, breast_cancer

ROOT = Path(__file__).resolve().parents[2]
# this process's environment before any cluster starts here: a LocalCluster's Nanny sets
# OMP_NUM_THREADS=1 (and more) in its parent's environment, and a child given those would refit
# an OpenMP estimator with other threads than the in-process runs it is compared with
ENV_BEFORE_CLUSTERS = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
# the demo's search (root mlproject.toml), fewer boosting rounds to stay quick
DEMO_SEARCH = """estimator = "sklearn.ensemble.HistGradientBoostingClassifier"
params = { max_iter = 20 }

[train.search]
strategy = "grid"
space = { learning_rate = [0.05, 0.1], max_depth = [3, 6] }
cv = 3
scoring = "roc_auc"
"""


def spec(engine: str, extra: str = "") -> str:
    train = DEMO_SEARCH + f'engine = "{engine}"\n' + extra
    return CLASSIFICATION_SPEC.replace(
        'estimator = "sklearn.linear_model.LogisticRegression"\nparams = { max_iter = 2000 }\n', train)


def make_project(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlproject.toml").write_text(text)
    (folder / "data").mkdir(exist_ok=True)
    breast_cancer().to_csv(folder / "data/train.csv", index=False)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert mlgen_main(["compile", "--provider", "gitlab"]) == 0
    finally:
        os.chdir(cwd)
    return folder


def train_in(folder: Path, env: dict[str, str]) -> tuple[int, str, dict[str, Any] | None, bytes | None]:
    """The train stage in `folder`, in this process (as `rt` does), with `env` set."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setenv("MLGEN_NO_CACHE", "1")
        mp.chdir(folder)
        import dask.config

        with dask.config.set({"scheduler-address": env.get("DASK_SCHEDULER_ADDRESS")}):
            code = runtime_main(["train", "--plan", ".mlgen/plan.json"])
    model = folder / ".mlgen/out/model"
    if code != 0 or not (model / "model.json").exists():
        return code, "", None, None
    return code, "", json.loads((model / "model.json").read_text()), (model / "model.skops").read_bytes()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    before = dict(os.environ)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=":0") as c:
        os.environ.clear()  # what the Nanny set here (OMP_NUM_THREADS=1...) must not reach later tests
        os.environ.update(before)
        yield c


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, cluster: LocalCluster) -> dict[str, Any]:
    """One local and one Dask search of the demo, same seed and data; shared by the assertions."""
    base = tmp_path_factory.mktemp("dask")
    local = train_in(make_project(base / "local", spec("local")), {})
    on_dask = train_in(make_project(base / "dask", spec("dask")), {"DASK_SCHEDULER_ADDRESS": cluster.scheduler_address})
    return {"local": local, "dask": on_dask}


def test_the_dask_search_equals_the_local_one(both: dict[str, Any], cluster: LocalCluster) -> None:
    (lc, _, lmeta, lbytes), (dc, _, dmeta, dbytes) = both["local"], both["dask"]
    assert lc == 0 and dc == 0
    assert lmeta is not None and dmeta is not None
    assert dmeta["search"]["trials"] == 4 and dmeta["search"]["failed"] == 0
    assert dmeta["search"]["best"] == lmeta["search"]["best"]  # params, mean, std, fold scores
    assert dmeta["search"]["results"] == lmeta["search"]["results"]  # every trial's CV scores
    assert dmeta["sha256"] == lmeta["sha256"] and dbytes == lbytes  # the model bytes
    assert dmeta == lmeta  # data hashes, split, versions, params: the whole provenance


def test_the_workers_did_the_fits(both: dict[str, Any], cluster: LocalCluster) -> None:
    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        # the scheduler keeps a record of every task it ran: joblib's batches of the trials
        names = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert any("timed" in n for n in names), names


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _runtime(folder: Path, env: dict[str, str], pre: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m mlgen_runtime train` in a fresh interpreter (Dask reads its configuration at import)."""
    code = pre + "import sys\nfrom mlgen_runtime.cli import main\nsys.exit(main(['train', '--plan', '.mlgen/plan.json']))\n"
    return subprocess.run([sys.executable, "-c", code], cwd=folder, env={**ENV_BEFORE_CLUSTERS, "MLGEN_NO_CACHE": "1", **env},
                          capture_output=True, text=True, timeout=300)


def test_an_unreachable_scheduler_is_one_line_exit_2(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    folder = make_project(tmp_path / "p", spec("dask", f'scheduler = "{address}"\n'))
    # Dask's own connect timeout, from Dask's configuration: a timeout, not a hang
    proc = _runtime(folder, {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"cannot reach the Dask scheduler at {address} (from train.search.scheduler)" in lines[0]


def test_no_scheduler_configured_is_one_line_exit_2(tmp_path: Path) -> None:
    folder = make_project(tmp_path / "p", spec("dask"))
    proc = _runtime(folder, {})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'train.search.engine = "dask" but no Dask scheduler is configured' in lines[0], lines
    assert "DASK_SCHEDULER_ADDRESS" in lines[0] and "`mlgen run` starts a local cluster" in lines[0]


# An import hook, as an interpreter without dask installed behaves: `import dask` fails.
NO_DASK = """import importlib.abc, sys
class NoDask(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('dask', 'distributed'):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return None
sys.meta_path.insert(0, NoDask())
"""


def test_missing_dask_is_one_line_exit_2(tmp_path: Path) -> None:
    folder = make_project(tmp_path / "p", spec("dask"))
    proc = _runtime(folder, {"DASK_SCHEDULER_ADDRESS": "tcp://127.0.0.1:8786"}, pre=NO_DASK)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert 'needs dask[distributed] (dask is not installed)' in lines[0] and "pip install 'mlgen[dask]'" in lines[0]


@pytest.mark.parametrize("bad", ["tcp://user:secret@10.0.0.5:8786", "tls://sched:8786?token=abc", "tcp://a b:1"])
def test_the_spec_refuses_credentials_in_the_scheduler(tmp_path: Path, bad: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mlproject.toml").write_text(spec("dask", f'scheduler = "{bad}"\n'))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        assert mlgen_main(["compile"]) == 2
    err = capsys.readouterr().err
    assert "train.search.scheduler" in err and "Traceback" not in err
    if "@" in bad or "?" in bad:
        assert "without user:password@ or tokens" in err


HOST = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(scheme=st.sampled_from(["", "tcp://", "tls://"]), host=HOST, port=st.integers(1, 65535),
       user=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8))
def test_addresses_pass_and_credentials_never_do(scheme: str, host: str, port: int, user: str) -> None:
    assert Search(space={"C": [1]}, engine="dask", scheduler=f"{scheme}{host}:{port}").scheduler == f"{scheme}{host}:{port}"
    with pytest.raises(ValueError, match="without user:password@ or tokens"):
        Search(space={"C": [1]}, engine="dask", scheduler=f"{scheme}{user}:pw@{host}:{port}")


def test_only_the_train_job_installs_dask(tmp_path: Path) -> None:
    for engine, shards in (("dask", 1), ("dask", 2), ("local", 2)):
        folder = tmp_path / f"{engine}{shards}"
        folder.mkdir()
        (folder / "mlproject.toml").write_text(spec(engine, f"shards = {shards}\n"))
        loaded = load_spec(folder / "mlproject.toml").spec
        plan = build_plan(folder / "mlproject.toml", folder)
        for job in plan.jobs:
            got = set(install_set(loaded, job))
            assert ({"dask", "distributed"} <= got) == (engine == "dask" and job.kind == "train"), (engine, job.name)
            assert not ({"dask", "distributed"} & got) or job.kind == "train"
            # the cluster's address reaches the train job as a CI secret (each provider's own way)
            assert ("DASK_SCHEDULER_ADDRESS" in job.secrets) == (engine == "dask" and job.kind == "train"), job.name
    (tmp_path / "fixed.toml").write_text(spec("dask", 'scheduler = "tcp://10.0.0.5:8786"\n'))
    plan = build_plan(tmp_path / "fixed.toml", tmp_path)
    assert not any("DASK_SCHEDULER_ADDRESS" in j.secrets for j in plan.jobs)  # the spec's address: no secret


@pytest.mark.slow
def test_mlgen_run_starts_a_local_cluster(tmp_path: Path, both: dict[str, Any]) -> None:
    """No address configured: `mlgen run` starts a cluster on loopback for the train job; the
    model is the local search's (the cluster's worker settings do not leak into the job)."""
    folder = make_project(tmp_path / "p", spec("dask"))
    proc = subprocess.run([str(Path(sys.executable).parent / "mlgen"), "run", "train"], cwd=folder, env=ENV_BEFORE_CLUSTERS,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "started a local Dask cluster (" in proc.stderr and "tcp://127.0.0.1:" in proc.stderr
    meta = json.loads((folder / ".mlgen/out/model/model.json").read_text())
    assert meta["sha256"] == both["local"][2]["sha256"]
