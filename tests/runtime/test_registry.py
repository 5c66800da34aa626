"""The file-system registry: versions, aliases, history, safety of loads, and behaviour under
concurrent and killed processes (real subprocesses, not threads)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import sha256_file
from mlgen_runtime.lock import FileLock
from mlgen_runtime.modelio import save_model
from mlgen_runtime.registry import Registry


def make_model(folder: Path, c: float = 1.0) -> str:
    """A tiny fitted LogisticRegression saved like train does; different `c`, different model."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = LogisticRegression(C=c).fit(x, y)
    sha = save_model(model, folder)
    meta = {"sha256": sha, "estimator": "sklearn.linear_model.LogisticRegression", "metrics": {"cv_f1": 0.9}}
    (folder / "model.json").write_text(json.dumps(meta))
    return sha


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "repo").mkdir()
    return tmp_path / "repo"


@pytest.fixture
def reg(repo: Path) -> Registry:
    return Registry(Path("models"), repo)


@pytest.fixture
def models(tmp_path: Path) -> list[Path]:
    """Three different model folders (outside the registry, like .mlgen/out/model)."""
    folders = []
    for i in range(3):
        folder = tmp_path / f"model{i}"
        folder.mkdir()
        make_model(folder, c=0.1 * (i + 1))
        folders.append(folder)
    return folders


def read_history(reg: Registry) -> list[dict]:
    text = (reg.root / "history.jsonl").read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def assert_chain(history: list[dict]) -> None:
    """seq 1..n, and per environment each `from` is the previous `to`."""
    assert [h["seq"] for h in history] == list(range(1, len(history) + 1))
    last: dict[str, int | None] = {}
    for h in history:
        assert h["from"] == last.get(h["env"]), h
        assert h["from"] != h["to"], h
        last[h["env"]] = h["to"]


# -- happy path ----------------------------------------------------------------------------------


def test_register_promote_rollback(reg: Registry, models: list[Path]) -> None:
    assert reg.versions() == [] and reg.aliases() == {} and reg.history() == []
    assert [reg.register(m) for m in models] == [1, 2, 3]
    assert [v["version"] for v in reg.versions()] == [1, 2, 3]
    assert reg.versions()[0]["estimator"] == "sklearn.linear_model.LogisticRegression"

    assert reg.promote("staging", 1) is True
    assert reg.promote("staging", 2, reason="better f1") is True
    assert reg.promote("production", 1) is True
    assert reg.promote("staging", 3) is True
    assert reg.aliases() == {"staging": 3, "production": 1}
    assert json.loads((reg.root / "aliases.json").read_text()) == {"staging": 3, "production": 1}

    assert reg.rollback("staging") == 2
    assert reg.rollback("staging") == 1  # walks back, does not flip-flop to 3
    with pytest.raises(BadInput, match="no earlier version"):
        reg.rollback("staging")
    assert reg.alias("staging") == 1 and reg.alias("nowhere") is None

    history = read_history(reg)
    assert [(h["action"], h["env"], h["from"], h["to"]) for h in history] == [
        ("promote", "staging", None, 1),
        ("promote", "staging", 1, 2),
        ("promote", "production", None, 1),
        ("promote", "staging", 2, 3),
        ("rollback", "staging", 3, 2),
        ("rollback", "staging", 2, 1),
    ]
    assert history[1]["reason"] == "better f1"
    assert reg.history() == history
    assert_chain(history)

    model, meta = reg.load(2)
    assert model.predict(np.zeros((1, 3))).shape == (1,)
    assert meta["sha256"] == reg.versions()[1]["model_sha256"]


def test_promote_twice_is_a_noop(reg: Registry, models: list[Path]) -> None:
    reg.register(models[0])
    assert reg.promote("staging", 1) is True
    before = (reg.root / "history.jsonl").read_bytes()
    assert reg.promote("staging", 1) is False
    assert (reg.root / "history.jsonl").read_bytes() == before
    assert len(reg.history()) == 1


def test_register_same_model_is_the_same_version(reg: Registry, models: list[Path], tmp_path: Path) -> None:
    assert reg.register(models[0]) == 1
    assert reg.register(models[0]) == 1
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("model.skops", "model.json"):
        (copy / name).write_bytes((models[0] / name).read_bytes())
    assert reg.register(copy) == 1  # same sha256, other folder
    assert [v["version"] for v in reg.versions()] == [1]


def test_rollback_to(reg: Registry, models: list[Path]) -> None:
    for m in models:
        reg.promote("prod", reg.register(m))
    assert reg.rollback("prod", to=1) == 1
    assert reg.rollback("prod", to=1) == 1  # already there: nothing written
    assert len(reg.history()) == 4
    with pytest.raises(BadInput, match="never deployed"):
        reg.rollback("prod", to=3)  # popped by the rollback to 1: use promote
    with pytest.raises(BadInput, match="never promoted"):
        reg.rollback("staging")


def test_unknown_version_and_bad_names_refused(reg: Registry, models: list[Path]) -> None:
    reg.register(models[0])
    with pytest.raises(BadInput, match="version 7 is not in the registry"):
        reg.promote("staging", 7)
    with pytest.raises(BadInput, match="positive integer"):
        reg.promote("staging", 0)
    with pytest.raises(BadInput, match="environment name"):
        reg.promote("../staging", 1)
    assert not (reg.root / "history.jsonl").exists()


def test_open_without_deploy_section(repo: Path) -> None:
    class Ctx:
        root = repo
        settings: dict = {"deploy": None}

    assert Registry.open(Ctx()) is None
    Ctx.settings = {"deploy": {"registry": "reg", "environments": []}}
    assert Registry.open(Ctx()).root == repo.resolve() / "reg"


# -- immutability and integrity ------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, sha256_file(p)) for p in sorted(folder.iterdir())}


def test_versions_are_immutable(reg: Registry, models: list[Path]) -> None:
    reg.register(models[0])
    v1 = reg.root / "versions" / "1"
    before = snapshot(v1)
    assert set(before) == {"model.skops", "model.json", "version.json"}
    record = json.loads((v1 / "version.json").read_text())
    assert record["files"] == {n: sha256_file(v1 / n) for n in ("model.skops", "model.json")}
    assert all((v1 / n).stat().st_mode & 0o222 == 0 for n in before)

    reg.register(models[0])
    reg.register(models[1])
    reg.promote("staging", 1)
    reg.promote("staging", 2)
    reg.rollback("staging")
    assert snapshot(v1) == before


def test_register_refuses_hash_mismatch(reg: Registry, models: list[Path]) -> None:
    (models[0] / "model.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(BadInput, match="does not match model.json"):
        reg.register(models[0])
    assert reg.versions() == []


def test_tampered_model_refused_on_load(reg: Registry, models: list[Path]) -> None:
    reg.register(models[0])
    path = reg.root / "versions" / "1" / "model.skops"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    with pytest.raises(BadInput, match="sha256 mismatch"):
        reg.load(1)


def test_tampered_metadata_refused_on_load(reg: Registry, models: list[Path]) -> None:
    reg.register(models[0])
    path = reg.root / "versions" / "1" / "model.json"
    path.chmod(0o644)
    path.write_text(json.dumps({"sha256": "f" * 64}))
    with pytest.raises(BadInput, match="model.json: missing or modified"):
        reg.load(1)


class Evil:
    """Unpickling this creates `marker`: proof that a pickle was (wrongly) executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.marker, "w"))


def test_pickle_is_never_unpickled(reg: Registry, models: list[Path], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Evil(marker))

    # as the model to register: refused before it enters the registry
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.skops").write_bytes(payload)
    (bad / "model.json").write_text(json.dumps({"sha256": sha256_file(bad / "model.skops")}))
    with pytest.raises(BadInput, match="not a skops model file"):
        reg.register(bad)
    assert reg.versions() == []

    # planted in a version with every hash rewritten to match: refused on load
    reg.register(models[0])
    v1 = reg.root / "versions" / "1"
    for name in ("model.skops", "model.json", "version.json"):
        (v1 / name).unlink()
    (v1 / "model.skops").write_bytes(payload)
    sha = sha256_file(v1 / "model.skops")
    (v1 / "model.json").write_text(json.dumps({"sha256": sha}))
    files = {"model.skops": sha, "model.json": sha256_file(v1 / "model.json")}
    (v1 / "version.json").write_text(json.dumps({"version": 1, "model_sha256": sha, "files": files}))
    with pytest.raises(BadInput, match="not a skops model file"):
        reg.load(1)
    assert not marker.exists()


def test_untrusted_type_refused_on_load(reg: Registry, tmp_path: Path) -> None:
    """A real skops file holding a type outside the allow-list is not loaded."""
    from sklearn.preprocessing import FunctionTransformer

    folder = tmp_path / "ft"
    folder.mkdir()
    sha = save_model(FunctionTransformer(func=os.getcwd), folder)
    (folder / "model.json").write_text(json.dumps({"sha256": sha}))
    reg.register(folder)
    with pytest.raises(BadInput, match="untrusted types"):
        reg.load(1)


# -- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", ["../x", "models/../../x", "."])
def test_registry_outside_the_repo_refused(repo: Path, root: str) -> None:
    with pytest.raises(BadInput, match="outside|not its root"):
        Registry(Path(root), repo)


def test_absolute_and_symlinked_roots_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(BadInput, match="outside"):
        Registry(outside, repo)
    (repo / "models").symlink_to(outside)
    with pytest.raises(BadInput, match="outside"):
        Registry(Path("models"), repo)


def test_symlinked_version_refused(reg: Registry, models: list[Path], tmp_path: Path) -> None:
    reg.register(models[0])
    other = Registry(Path("elsewhere"), tmp_path)  # a registry outside `repo`
    other.register(models[1])
    (reg.root / "versions" / "2").symlink_to(other.root / "versions" / "1")
    with pytest.raises(BadInput, match="versions/2 is not a folder .a symbolic link"):
        reg.load(2)
    with pytest.raises(BadInput, match="versions/2 is not a folder .a symbolic link"):
        reg.promote("staging", 2)


# -- locking and crashes -------------------------------------------------------------------------


def test_lock_timeout(reg: Registry, models: list[Path]) -> None:
    reg.register(models[0])
    reg.lock_timeout = 0.2
    with FileLock(reg.root / ".lock"):
        started = time.monotonic()
        with pytest.raises(BadInput, match=rf"still locked by another process after 0.2s \(pid {os.getpid()}\)"):
            reg.promote("staging", 1)
        assert time.monotonic() - started < 2
    assert reg.promote("staging", 1) is True


def run_script(tmp_path: Path, body: str, *args: str) -> subprocess.Popen:
    script = tmp_path / f"script{time.monotonic_ns()}.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


PROMOTER = """
    import json, os, sys, time
    from pathlib import Path
    from mlgen_runtime.registry import Registry

    root, repo, version, ready, go = sys.argv[1:6]
    reg = Registry(Path(root), Path(repo))
    Path(ready).touch()
    while not os.path.exists(go):  # start together, for real contention
        time.sleep(0.001)
    print(json.dumps({"changed": reg.promote("staging", int(version), reason=f"pid {os.getpid()}")}))
"""


def test_16_concurrent_promotes(reg: Registry, models: list[Path], tmp_path: Path) -> None:
    reg.register(models[0])
    reg.register(models[1])
    go = tmp_path / "go"
    ready = [tmp_path / f"ready{i}" for i in range(16)]
    procs = [
        run_script(tmp_path, PROMOTER, str(reg.root), str(reg.repo_root), str(1 + i % 2), str(ready[i]), str(go))
        for i in range(16)
    ]
    start_together(procs, ready, go)
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out)["changed"])

    history = read_history(reg)  # every line is valid JSON, the last one complete
    assert len(history) == sum(results) >= 1
    assert_chain(history)
    aliases = json.loads((reg.root / "aliases.json").read_text())
    assert aliases == {"staging": history[-1]["to"]}
    assert aliases["staging"] in {v["version"] for v in reg.versions()}
    assert reg.history() == history
    assert not list(reg.root.glob(".*.tmp"))


REGISTERER = """
    import json, os, sys, time
    from pathlib import Path
    import skops.io  # imported before the start line, so the registers really overlap
    from mlgen_runtime.registry import Registry

    root, repo, model, ready, go = sys.argv[1:6]
    Path(ready).touch()
    while not os.path.exists(go):
        time.sleep(0.001)
    print(json.dumps(Registry(Path(root), Path(repo)).register(Path(model))))
"""


def start_together(procs: list[subprocess.Popen], ready: list[Path], go: Path) -> None:
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready):
        assert all(p.poll() is None for p in procs) and time.monotonic() < deadline
        time.sleep(0.01)
    go.touch()


def test_concurrent_registers_of_one_model_give_one_version(reg: Registry, models: list[Path], tmp_path: Path) -> None:
    go, ready = tmp_path / "go", [tmp_path / f"ready{i}" for i in range(4)]
    procs = [
        run_script(tmp_path, REGISTERER, str(reg.root), str(reg.repo_root), str(models[0]), str(ready[i]), str(go))
        for i in range(4)
    ]
    start_together(procs, ready, go)
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    assert {json.loads(o) for o, _ in outs} == {1}
    assert [v["version"] for v in reg.versions()] == [1]


SLOW_REGISTER = """
    import sys, time
    from pathlib import Path
    import mlgen_runtime.registry as registry

    root, repo, model, marker = sys.argv[1:5]
    real_copy = registry._copy_file

    def slow_copy(src, dst):
        if src.name != "model.skops":
            return real_copy(src, dst)
        data = src.read_bytes()
        with dst.open("xb") as fh:  # half the file, then hang until killed
            fh.write(data[: len(data) // 2])
            fh.flush()
        Path(marker).touch()
        time.sleep(120)

    registry._copy_file = slow_copy
    registry.Registry(Path(root), Path(repo)).register(Path(model))
"""


def test_killed_mid_register_leaves_no_version(reg: Registry, models: list[Path], tmp_path: Path) -> None:
    assert reg.register(models[0]) == 1
    reg.promote("staging", 1)
    marker = tmp_path / "copying"
    proc = run_script(tmp_path, SLOW_REGISTER, str(reg.root), str(reg.repo_root), str(models[1]), str(marker))
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    half_built = list((reg.root / ".staging").iterdir())
    assert len(half_built) == 1 and (half_built[0] / "model.skops").exists()  # it really was mid-copy
    assert sorted(p.name for p in (reg.root / "versions").iterdir()) == ["1"]
    assert [v["version"] for v in reg.versions()] == [1]
    reg.load(1)
    assert reg.aliases() == {"staging": 1}

    # the kernel released the dead process's lock; the leftover is swept, the number is clean
    reg.lock_timeout = 5
    assert reg.register(models[1]) == 2
    assert list((reg.root / ".staging").iterdir()) == []
    reg.load(2)


CRASH_BEFORE_ALIASES = """
    import os, signal, sys
    from pathlib import Path
    import mlgen_runtime.registry as registry

    root, repo = sys.argv[1:3]
    real_commit = registry.commit_atomic

    def crash(tmp, path):
        if path.name == "aliases.json":
            os.kill(os.getpid(), signal.SIGKILL)  # after the history line, before the alias
        real_commit(tmp, path)

    registry.commit_atomic = crash
    registry.Registry(Path(root), Path(repo)).promote("staging", 2)
"""


def test_killed_mid_promote_is_repaired_from_history(reg: Registry, models: list[Path], tmp_path: Path) -> None:
    reg.register(models[0])
    reg.register(models[1])
    reg.promote("staging", 1)
    proc = run_script(tmp_path, CRASH_BEFORE_ALIASES, str(reg.root), str(reg.repo_root))
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert [h["to"] for h in reg.history()] == [1, 2]  # the log has it: the commit point
    assert reg.alias("staging") == 2  # readers fold the log ...
    assert json.loads((reg.root / "aliases.json").read_text()) == {"staging": 1}  # ... the file lags

    assert reg.promote("staging", 2) is False  # the next locked operation rewrites the file first
    assert json.loads((reg.root / "aliases.json").read_text()) == {"staging": 2}
    assert not list(reg.root.glob(".*.tmp"))
    assert_chain(read_history(reg))


def test_torn_history_line_is_ignored_then_cut(reg: Registry, models: list[Path]) -> None:
    reg.register(models[0])
    reg.register(models[1])
    reg.promote("staging", 1)
    with (reg.root / "history.jsonl").open("ab") as fh:
        fh.write(b'{"action": "promote", "env": "stag')  # a write cut short by a power loss
    assert len(reg.history()) == 1
    assert reg.promote("staging", 2) is True
    history = read_history(reg)
    assert [h["to"] for h in history] == [1, 2]
    assert_chain(history)


def test_corrupt_history_line_is_an_error(reg: Registry, models: list[Path]) -> None:
    reg.register(models[0])
    reg.promote("staging", 1)
    with (reg.root / "history.jsonl").open("a") as fh:
        fh.write("not json\n")
    with pytest.raises(BadInput, match=r"history.jsonl:2: not a history entry"):
        reg.history()


# -- a registry that cannot be written -----------------------------------------------------------


def refuse_writes(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """os.open fails with EROFS for files named `names`, as on a read-only file system (chmod
    cannot simulate that when the tests run as root)."""
    import errno

    real_open = os.open

    def fake_open(path, flags, *args, **kwargs):
        if Path(path).name in names and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)


def test_read_only_registry_lock_is_bad_input(reg: Registry, models: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_writes(monkeypatch, ".lock")
    with pytest.raises(BadInput, match=r"models/\.lock: cannot open the lock file: Read-only file system \(errno EROFS\)"):
        reg.register(models[0])
    with pytest.raises(BadInput, match="Read-only file system"):
        reg.promote("staging", 1)


def test_failed_write_under_the_lock_is_bad_input_and_releases_the_lock(
    reg: Registry, models: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    reg.register(models[0])
    with monkeypatch.context() as m:
        refuse_writes(m, "history.jsonl")
        with pytest.raises(BadInput, match=r"cannot change the registry .*history\.jsonl: Read-only file system"):
            reg.promote("staging", 1)
    assert reg.aliases() == {} and reg.history() == []  # nothing half-done is visible
    reg.lock_timeout = 1.0
    assert reg.promote("staging", 1) is True  # and the lock was released


def test_registry_under_a_regular_file_is_bad_input(repo: Path, models: list[Path]) -> None:
    (repo / "afile").write_text("not a folder\n")
    reg = Registry(Path("afile/models"), repo)
    with pytest.raises(BadInput, match=r"cannot change the registry .*afile/models.*Not a directory"):
        reg.register(models[0])
    assert reg.versions() == [] and reg.history() == []


def test_lock_file_under_a_regular_file_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    with pytest.raises(BadInput, match=r"afile/\.lock: cannot open the lock file: Not a directory \(errno ENOTDIR\)"):
        with FileLock(tmp_path / "afile" / ".lock"):
            pass


DEPLOY_SPEC = """
[project]
name = "ro"
seed = 1

[data]
path = "data/train.csv"
target = "y"
task = "classification"

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[evaluate]
metrics = ["accuracy"]

[deploy]
registry = "models"
[[deploy.environments]]
name = "staging"
"""


def deployable(project, tmp_path: Path) -> Path:
    """A compiled project with a trained model whose gates passed (what deploy reads)."""
    root = project(DEPLOY_SPEC, files={"data/train.csv": "a,y\n1,0\n2,1\n"})
    model_dir = root / ".mlgen/out/model"
    model_dir.mkdir(parents=True)
    make_model(model_dir)
    metrics = root / ".mlgen/out/evaluate/metrics.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text(json.dumps({"gates": [{"metric": "accuracy", "passed": True}], "metrics": {"accuracy": 0.9}}))
    return root


def test_deploy_to_a_read_only_registry_exits_2_without_traceback(
    project, rt, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = deployable(project, tmp_path)
    refuse_writes(monkeypatch, ".lock")
    capsys.readouterr()
    assert rt("deploy", "--env", "staging") == 2
    err = capsys.readouterr().err
    assert f"{root / 'models/.lock'}: cannot open the lock file: Read-only file system" in err
    assert "Traceback" not in err


def test_deploy_record_that_cannot_be_written_exits_2(
    project, rt, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import errno

    from mlgen_runtime import fsutil

    root = deployable(project, tmp_path)
    original = fsutil.write_bytes_atomic

    def failing(path: Path, data: bytes) -> None:  # .mlgen/out is read-only, the registry is not
        if path.name == "deploy-staging.json":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        original(path, data)

    monkeypatch.setattr(fsutil, "write_bytes_atomic", failing)
    capsys.readouterr()
    assert rt("deploy", "--env", "staging") == 2
    err = capsys.readouterr().err
    assert "staging now points at version 1, but .mlgen/out/deploy-staging.json could not be written" in err
    assert "Read-only file system" in err and "Traceback" not in err
    assert json.loads((root / "models/aliases.json").read_text()) == {"staging": 1}


# -- files that are not what they must be: never followed, never written through ----------------

HOSTILE_KINDS = ("symlink", "dangling symlink", "fifo", "folder", "hard link")
REGISTRY_FILES = (".lock", "history.jsonl", "aliases.json")
REGISTRY_FOLDERS = (".staging", "versions")


def _plant(path: Path, kind: str, outside: Path) -> None:
    """Put a `kind` where `path` is (removing what was there)."""
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    if kind == "symlink":
        path.symlink_to(outside)
    elif kind == "dangling symlink":
        path.symlink_to(outside.parent / "not-there")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "hard link":
        os.link(outside, path)
    elif kind == "file":
        path.write_text("not a folder\n")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
@pytest.mark.parametrize("name", REGISTRY_FILES)
def test_registry_files_that_are_not_regular_files_are_refused(
    reg: Registry, models: list[Path], tmp_path: Path, name: str, kind: str
) -> None:
    reg.register(models[0])
    reg.register(models[1])
    reg.promote("staging", 1)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("someone else's file\n")
    _plant(reg.root / name, kind, outside / "victim")
    before = _snapshot(outside)
    for change in (lambda: reg.promote("staging", 2), lambda: reg.rollback("staging"), lambda: reg.register(models[2])):
        with pytest.raises(BadInput) as err:
            change()
        message = str(err.value)
        assert "\n" not in message and name in message
    assert _snapshot(outside) == before  # nothing truncated, appended or created outside
    if kind != "dangling symlink":
        assert not (outside / "not-there").exists()


@pytest.mark.parametrize("kind", ("symlink", "file"))
@pytest.mark.parametrize("name", REGISTRY_FOLDERS)
def test_registry_folders_that_are_not_folders_are_refused(
    reg: Registry, models: list[Path], tmp_path: Path, name: str, kind: str
) -> None:
    """A symlinked .staging would make the sweep of leftovers delete another folder's files."""
    reg.register(models[0])
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious\n")
    (outside / "v9-leftover").mkdir()
    _plant(reg.root / name, kind, outside)
    before = _snapshot(outside)
    with pytest.raises(BadInput) as err:
        reg.register(models[1])
    assert "\n" not in str(err.value) and name in str(err.value)
    with pytest.raises(BadInput):
        reg.promote("staging", 1)
    assert _snapshot(outside) == before and (outside / "v9-leftover").is_dir()


# -- a full disk at every write: history and aliases change together or not at all --------------


class FullDisk:
    """Wraps the OS calls that write (open for writing, write, fsync, replace, rename) under
    `root`: from the `fail_at`-th call on, each fails with ENOSPC, as a disk that filled up:
    creating a file fails, opening an existing one does not; shrinking (ftruncate) works."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path, fail_at: int | None) -> None:
        import errno

        self.calls, self.fail_at, self.fds = 0, fail_at, set()
        real = {name: getattr(os, name) for name in ("open", "write", "fsync", "replace", "rename", "close")}
        inside = lambda p: str(os.fspath(p)).startswith(str(root))  # noqa: E731

        def step(what: Any) -> None:
            self.calls += 1
            if self.fail_at is not None and self.calls >= self.fail_at:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(what))

        def fake_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            writing = inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            if writing and flags & os.O_CREAT and not os.path.lexists(path):
                step(path)
            fd = real["open"](path, flags, *args, **kwargs)
            if writing:
                self.fds.add(fd)
            return fd

        def on_fd(name: str) -> Any:
            def call(fd: int, *args: Any) -> Any:
                if fd in self.fds:
                    step(f"fd {fd}")
                return real[name](fd, *args)
            return call

        def on_paths(name: str) -> Any:
            def call(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
                if inside(dst):
                    step(dst)
                return real[name](src, dst, *args, **kwargs)
            return call

        def fake_close(fd: int) -> None:
            self.fds.discard(fd)
            real["close"](fd)

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "close", fake_close)
        monkeypatch.setattr(os, "write", on_fd("write"))
        monkeypatch.setattr(os, "fsync", on_fd("fsync"))
        monkeypatch.setattr(os, "replace", on_paths("replace"))
        monkeypatch.setattr(os, "rename", on_paths("rename"))


def _state(reg: Registry) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """(history as (env, to), aliases.json) as they are on disk, read without any repair."""
    raw = (reg.root / "history.jsonl").read_bytes() if (reg.root / "history.jsonl").exists() else b""
    history = [(json.loads(line)["env"], json.loads(line)["to"]) for line in raw.splitlines() if line.strip()]
    aliases_file = reg.root / "aliases.json"
    return history, json.loads(aliases_file.read_text()) if aliases_file.exists() else {}


@pytest.mark.parametrize("change", ["promote", "rollback"])
def test_a_full_disk_at_any_write_leaves_history_and_aliases_agreeing(
    repo: Path, models: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    import shutil

    template = Registry(Path("template"), repo)
    for folder in models[:2]:
        template.register(folder)
    template.promote("staging", 1)
    template.promote("staging", 2)
    act = {"promote": lambda r: r.promote("staging", 1) and None, "rollback": lambda r: r.rollback("staging") and None}[change]

    def fresh(n: int) -> Registry:
        shutil.copytree(template.root, repo / f"r{n}", symlinks=True)
        return Registry(Path(f"r{n}"), repo)

    with monkeypatch.context() as m:  # how many writes the change makes
        counter = FullDisk(m, repo / "r0", None)
        reg = fresh(0)
        act(reg)
    total = counter.calls
    assert total >= 4
    old, new = _state(fresh(-1)), _state(reg)
    for k in range(1, total + 1):
        reg = fresh(k)
        with monkeypatch.context() as m:
            FullDisk(m, reg.root, k)
            try:
                act(reg)
                failed = False
            except BadInput as exc:
                failed = True
                assert "No space left on device" in str(exc) and "\n" not in str(exc)
        history, aliases = _state(reg)
        assert aliases == dict(history) or aliases == dict(old[0]), f"write {k}: {history} vs {aliases}"
        assert (history, aliases) == (old if failed else new), f"write {k} of {total}: failed={failed}"
        # the next, unrelated change applies only itself
        reg.promote("production", 1)
        assert reg.aliases() == {**dict(old[0] if failed else new[0]), "production": 1}
        assert _state(reg)[1] == reg.aliases()


KILLED_AT_WRITE = """
    import os, signal, sys
    from pathlib import Path
    from mlgen_runtime.registry import Registry

    root, repo, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
    calls = [0]

    def killing(name):
        real = getattr(os, name)

        def call(*args, **kwargs):
            if name != "open" or args[1] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                calls[0] += 1
                if calls[0] == k:
                    os.kill(os.getpid(), signal.SIGKILL)  # kill -9 just before this write
            return real(*args, **kwargs)
        return call

    for name in ("open", "write", "fsync", "replace", "rename", "ftruncate"):
        setattr(os, name, killing(name))
    Registry(Path(root), Path(repo)).promote("staging", 1)
    print("done", calls[0])
"""


def test_kill_9_before_any_write_of_a_promote_leaves_a_consistent_registry(
    repo: Path, models: list[Path], tmp_path: Path
) -> None:
    """kill -9 just before each write a promote makes: readers see the old state or the new one
    (history and its fold agree), and the next locked operation leaves aliases.json agreeing."""
    import shutil

    template = Registry(Path("template"), repo)
    for folder in models[:2]:
        template.register(folder)
    template.promote("staging", 2)
    k = 1
    while True:
        shutil.copytree(template.root, repo / f"k{k}", symlinks=True)
        reg = Registry(Path(f"k{k}"), repo)
        proc = run_script(tmp_path, KILLED_AT_WRITE, str(reg.root), str(repo), str(k))
        out, err = proc.communicate(timeout=60)
        assert reg.aliases() in ({"staging": 2}, {"staging": 1}), (k, err)
        assert reg.aliases() == dict((e["env"], e["to"]) for e in reg.history())
        reg.promote("production", 2)  # the next locked operation repairs the file, changes only itself
        assert json.loads((reg.root / "aliases.json").read_text()) == reg.aliases()
        assert reg.aliases()["production"] == 2 and not list(reg.root.glob(".*.tmp"))
        if proc.returncode == 0:
            assert out.startswith("done") and reg.aliases()["staging"] == 1
            break
        assert proc.returncode == -signal.SIGKILL, err
        k += 1
    assert k >= 4  # the kill hit every write of the promote before it finished
