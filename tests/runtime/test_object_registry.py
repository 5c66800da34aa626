"""The object-storage registry (registry_object.py) against real servers started on loopback:
moto's S3 server and Azurite's blob service (tests/runtime/objectstores.py), and the URL rules
of the spec (Hypothesis). No mocks: every request goes to a server a user could run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgen.spec import rules
from mlgen.spec.model import Registry
from mlgen_runtime.errors import BadInput
from mlgen_runtime.registry_object import OBJECT_URL, ObjectRegistry, check_url
from tests.runtime.conftest import CLASSIFICATION_SPEC, breast_cancer
from tests.runtime.objectstores import Store, az_store, s3_store  # noqa: F401 - session fixtures
from tests.runtime.test_registry import make_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["s3", "az"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Store:
    found: Store = request.getfixturevalue(f"{request.param}_store")
    for name, value in found.env.items():
        monkeypatch.setenv(name, value)
    return found


def child_env(store: Store, **extra: str) -> dict[str, str]:
    return {**os.environ, **store.env, **extra}


def models(tmp_path: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        folder = tmp_path / f"model{i}"
        folder.mkdir()
        make_model(folder, c=0.25 * (i + 1))
        out.append(folder)
    return out


# -- the store itself ----------------------------------------------------------------------------


def test_the_store_refuses_a_second_create(store: Store) -> None:
    """What every guarantee rests on: the server honours create-if-absent (moto: PutObject
    If-None-Match: *; Azurite: upload_blob overwrite=False)."""
    reg = ObjectRegistry(store.url())
    key = reg._key("probe")
    assert reg._create(key, b"first") is True
    assert reg._create(key, b"second") is False
    assert reg.fs.cat_file(key) == b"first"


def test_register_promote_rollback_and_same_model_same_version(store: Store, tmp_path: Path) -> None:
    reg = ObjectRegistry(store.url())
    a, b = models(tmp_path, 2)
    assert reg.register(a) == 1 and reg.register(a) == 1
    assert reg.register(b) == 2 and reg.register(b) == 2
    assert [v["version"] for v in reg.versions()] == [1, 2]
    assert reg.promote("staging", 1) is True and reg.promote("staging", 1) is False
    assert reg.promote("staging", 2) is True
    assert reg.aliases() == {"staging": 2}
    assert reg.rollback("staging") == 1
    history = reg.history()
    assert [h["seq"] for h in history] == [1, 2, 3]
    assert [(h["action"], h["from"], h["to"]) for h in history] == [("promote", None, 1), ("promote", 1, 2), ("rollback", 2, 1)]
    assert set(history[0]) == {"seq", "action", "env", "from", "to", "reason", "commit", "actor", "time"}
    model, meta = reg.load(2)
    assert type(model).__name__ == "LogisticRegression" and meta["sha256"] == reg.versions()[1]["model_sha256"]
    assert reg.label(tmp_path) == reg.url


def test_tampered_payload_is_refused_on_load(store: Store, tmp_path: Path) -> None:
    reg = ObjectRegistry(store.url())
    (a,) = models(tmp_path, 1)
    version = reg.register(a)
    record = reg.versions()[0]
    blob = reg._key("blobs", record["model_sha256"])
    reg.fs.pipe_file(blob, reg.fs.cat_file(blob) + b"x")  # someone with write access to the bucket
    with pytest.raises(BadInput, match="was modified"):
        reg.load(version)


# -- through the runtime CLI, as the jobs run it -------------------------------------------------


def spec_with(url: str, c: float) -> str:
    return CLASSIFICATION_SPEC.replace("params = { max_iter = 2000 }", f"params = {{ max_iter = 2000, C = {c} }}") + f"""
[deploy]
registry = "{url}"
[[deploy.environments]]
name = "staging"
[[deploy.environments]]
name = "production"
"""


def stage(root: Path, store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlgen_runtime", args[0], "--plan", ".mlgen/plan.json", *args[1:]],
                          cwd=root, env=child_env(store), capture_output=True, text=True, check=False)


def pipeline(root: Path, store: Store, *extra: str) -> None:
    plan = json.loads((root / ".mlgen/plan.json").read_text())
    names = [job["kind"] for job in plan["jobs"]]
    for kind in ("train", "evaluate", "scan"):
        if kind in names:
            done = stage(root, store, kind)
            assert done.returncode == 0, (kind, done.stderr[-3000:])
    for env in ("staging", "production"):
        done = stage(root, store, "deploy", "--env", env, *extra)
        assert done.returncode == 0, (env, done.stderr[-3000:])


@pytest.mark.slow
def test_train_evaluate_deploy_retrain_rollback(store: Store, project, tmp_path: Path) -> None:  # noqa: ANN001
    from mlgen.cli import main as mlgen_main

    url = store.url("ml/registry")
    root = project(spec_with(url, 1.0), {"data/train.csv": breast_cancer()})
    pipeline(root, store)
    reg = ObjectRegistry(url)
    assert reg.aliases() == {"staging": 1, "production": 1}
    out = json.loads((root / ".mlgen/out/deploy-production.json").read_text())
    assert out["registry"] == url and out["version"] == 1

    (root / "mlproject.toml").write_text(spec_with(url, 0.05))  # retrain: another model
    assert mlgen_main(["compile", "--provider", "gitlab"]) == 0
    pipeline(root, store)
    assert reg.aliases() == {"staging": 2, "production": 2}

    done = stage(root, store, "rollback", "--env", "production")
    assert done.returncode == 0, done.stderr[-3000:]
    assert reg.aliases() == {"staging": 2, "production": 1}
    assert [(h["env"], h["action"], h["to"]) for h in reg.history()] == [
        ("staging", "promote", 1), ("production", "promote", 1),
        ("staging", "promote", 2), ("production", "promote", 2), ("production", "rollback", 1)]
    done = stage(root, store, "registry", "list")
    assert done.returncode == 0 and url in done.stdout + done.stderr, done.stderr[-2000:]


# -- concurrency and crashes ---------------------------------------------------------------------

PROMOTER = textwrap.dedent("""
    import sys
    from mlgen_runtime.registry_object import ObjectRegistry
    url, env, version = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(ObjectRegistry(url).promote(env, version, reason="race"))
""")


@pytest.mark.slow
def test_sixteen_concurrent_promotes(store: Store, tmp_path: Path) -> None:
    url = store.url()
    reg = ObjectRegistry(url)
    a, b = models(tmp_path, 2)
    assert (reg.register(a), reg.register(b)) == (1, 2)
    # 8 environments of their own, and 8 promotes fighting over one environment
    jobs = [(f"e{i}", 1 + i % 2) for i in range(8)] + [("shared", 1 + i % 2) for i in range(8)]
    procs = [subprocess.Popen([sys.executable, "-c", PROMOTER, url, env, str(v)], env=child_env(store),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for env, v in jobs]
    results = [p.communicate() + (p.returncode,) for p in procs]
    assert all(rc == 0 for _, _, rc in results), [err[-500:] for _, err, rc in results if rc]
    history = reg.history()
    assert [h["seq"] for h in history] == list(range(1, len(history) + 1))
    own = {h["env"]: h["to"] for h in history if h["env"] != "shared"}
    assert own == {f"e{i}": 1 + i % 2 for i in range(8)}
    shared = [h for h in history if h["env"] == "shared"]
    changed = sum(out.strip() == "True" for (out, _, _), (env, _) in zip(results, jobs) if env == "shared")
    assert len(shared) == changed >= 1  # every promote that said it changed the alias is recorded
    for before, after in zip(shared, shared[1:]):  # each entry starts where the previous one ended
        assert after["from"] == before["to"] and after["to"] != before["to"]
    assert reg.alias("shared") == shared[-1]["to"]


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from mlgen_runtime.registry_object import ObjectRegistry
    reg = ObjectRegistry(sys.argv[1])
    for folder in sys.argv[2:]:
        v = reg.register(Path(folder))
        reg.promote("staging", v)
        print(v, flush=True)
""")


@pytest.mark.slow
def test_a_killed_writer_leaves_nothing_torn(store: Store, tmp_path: Path) -> None:
    url = store.url()
    reg = ObjectRegistry(url)
    folders = models(tmp_path, 6)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url, *map(str, folders)], env=child_env(store),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()  # one version is through: kill it somewhere in the next ones
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for record in reg.versions():  # every visible version is complete and loads
        model, meta = reg.load(record["version"])
        assert meta["sha256"] == record["model_sha256"]
    history = reg.history()
    assert [h["seq"] for h in history] == list(range(1, len(history) + 1))
    # the next writer carries on: every model gets one version, the history stays consistent
    numbers = [reg.register(f) for f in folders]
    assert numbers == sorted(set(numbers)) and len(numbers) == 6
    for v in numbers:
        reg.promote("staging", v)
    assert reg.alias("staging") == numbers[-1]


# -- errors: one line, exit 2, the URL without secrets -------------------------------------------


def test_missing_bucket_and_unreachable_server_are_one_line(store: Store, project) -> None:  # noqa: ANN001
    url = f"{store.scheme}://no-such-bucket-{os.getpid()}/x"
    root = project(spec_with(url, 1.0), {"data/train.csv": breast_cancer()})
    done = stage(root, store, "registry", "list")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and url in done.stderr and "does not exist" in done.stderr
    if store.scheme == "s3":
        env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
        done = subprocess.run([sys.executable, "-m", "mlgen_runtime", "registry", "--plan", ".mlgen/plan.json", "list"],
                              cwd=root, env=child_env(store, **env), capture_output=True, text=True, check=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert f"cannot open the registry {url}" in done.stderr and "testing" not in done.stderr


def test_override_by_environment_variable(store: Store, project, tmp_path: Path) -> None:  # noqa: ANN001
    url = store.url("over")
    root = project(spec_with("models", 1.0), {"data/train.csv": breast_cancer()})
    (a,) = models(tmp_path, 1)
    ObjectRegistry(url).register(a)
    done = subprocess.run([sys.executable, "-m", "mlgen_runtime", "promote", "--plan", ".mlgen/plan.json",
                           "--env", "staging", "--version", "1"],
                          cwd=root, env=child_env(store, MLGEN_REGISTRY=url), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert ObjectRegistry(url).aliases() == {"staging": 1}
    assert not (root / "models").exists()


# -- the URL rules (no server) -------------------------------------------------------------------

BUCKET = st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,20}[a-z0-9]\Z").filter(lambda b: "--" not in b)
SEGMENT = st.from_regex(r"\A[A-Za-z0-9_=+-][A-Za-z0-9_.=+-]{0,10}\Z")
URLS = st.builds(lambda scheme, bucket, parts: f"{scheme}://{bucket}" + "".join("/" + p for p in parts),
                 st.sampled_from(["s3", "gs", "az"]), BUCKET, st.lists(SEGMENT, max_size=4))


def spec_accepts(value: str) -> bool:
    """Through the spec model's own field type (pattern, length and value checks)."""
    try:
        TypeAdapter(Registry).validate_python(value)
    except ValidationError:
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(URLS)
def test_every_good_url_is_accepted_by_the_spec_and_the_runtime(url: str) -> None:
    assert spec_accepts(url)
    assert check_url(url) == url and ObjectRegistry(url).url == url
    assert OBJECT_URL.pattern == rules.OBJECT_PATTERN
    assert re.fullmatch(rules.REGISTRY_PATTERN.strip("^$"), url)


BAD_PART = st.sampled_from(["user:secret@", "AKIA:x@", "..", ".", "?x=1", "#f", "\n", "\x00", "\t", " ", "%2e%2e", "\\"])


@settings(max_examples=300, deadline=None)
@given(URLS, BAD_PART, st.integers(min_value=0, max_value=3))
def test_credentials_dotdot_and_control_characters_are_refused(url: str, bad: str, where: int) -> None:
    scheme, rest = url.split("://", 1)
    parts = rest.split("/")
    if bad.endswith("@"):
        candidate = f"{scheme}://{bad}{rest}"
    elif bad in ("..", "."):
        candidate = "/".join([f"{scheme}:/", *parts[: 1 + where % len(parts)], bad, *parts[1 + where % len(parts):]])
    else:
        candidate = url + bad if where % 2 else f"{scheme}://{parts[0]}{bad}/" + "/".join(parts[1:] or ["x"])
    assert not spec_accepts(candidate), candidate
    with pytest.raises(BadInput) as caught:
        check_url(candidate)
    assert "secret" not in str(caught.value) and "\n" not in str(caught.value)
