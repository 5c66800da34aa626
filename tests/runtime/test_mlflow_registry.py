"""The MLflow registry (registry_mlflow.py) against the real thing: a local `mlflow server` the
tests start themselves (sqlite backend and artifacts in a temp dir, 127.0.0.1, a free port), and
`mlflow+sqlite:///` without a server.

The server is the session's (tests/runtime/mlflow_server.py, shared with the search's trial
tracking tests). Without mlflow installed these tests skip on a developer machine and FAIL under CI (CI=true),
like the judges: CI installs `.[runtime,test]`, which includes mlflow.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlgen.cli import main as mlgen_main
from mlgen_runtime.errors import BadInput
from mlgen_runtime.registry import Registry, deployed_stack, rollback_target
from mlgen_runtime.registry_mlflow import MlflowRegistry, describe, parse_setting
from tests.runtime.conftest import CLASSIFICATION_SPEC, Project, breast_cancer
from tests.runtime.mlflow_server import Server, require_mlflow
from tests.runtime.test_deploy import write_outputs
from tests.runtime.test_registry import make_model

Rt = Callable[..., int]

ENVIRONMENTS = """
[[deploy.environments]]
name = "staging"
[[deploy.environments]]
name = "production"
approval = "manual"
"""


@pytest.fixture
def server(mlflow_server: Server) -> Server:
    """The session's MLflow server (tests/runtime/mlflow_server.py)."""
    return mlflow_server


def spec(registry: str, name: str = "bc", params: str = "{ max_iter = 2000 }") -> str:
    text = CLASSIFICATION_SPEC.replace('name = "bc"', f'name = "{name}"').replace("{ max_iter = 2000 }", params)
    # max_drop compares with the champion, which evaluate loads from the registry
    text = text.replace("gates = { roc_auc = { min = 0.9 } }", "gates = { roc_auc = { min = 0.9, max_drop = 0.05 } }")
    return text + f'\n[deploy]\nregistry = "{registry}"\n' + ENVIRONMENTS


def aliases(client: Any, name: str) -> dict[str, int]:
    """The registered model's aliases (the REST client gives versions as str, the sqlite store as int)."""
    return {k: int(v) for k, v in client.get_registered_model(name).aliases.items()}


def out(root: Path, name: str) -> Any:
    return json.loads((root / ".mlgen/out" / name).read_text())


# -- a whole loop against a real tracking server ----------------------------------------------


@pytest.mark.slow
def test_train_evaluate_deploy_rollback_against_a_server(
    server: Server, project: Project, rt: Rt, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-SECRET-123456")  # sent as a bearer header; never printed
    monkeypatch.setenv("GITHUB_SHA", "c0ffee" * 6 + "c0ff")
    printed: list[str] = []

    def read() -> Any:  # everything the stages print is kept, to check that no secret was ever printed
        captured = capsys.readouterr()
        printed.extend([captured.out, captured.err])
        return captured

    registry = f"mlflow+{server.uri}"
    root = project(spec(registry), {"data/train.csv": breast_cancer()})
    client = server.client()

    # first model: no champion yet; deployed to staging, then production
    assert rt("train") == 0 and rt("evaluate") == 0
    first = out(root, "evaluate/metrics.json")
    assert first["champion"] is None
    sha1 = first["model_sha256"]
    assert rt("deploy", "--env", "staging") == 0
    assert rt("deploy", "--env", "production") == 0
    deployed = out(root, "deploy-production.json")
    assert deployed == {"environment": "production", "version": 1, "previous": None, "changed": True,
                        "model_sha256": sha1, "registry": f"{registry} (models:/bc)",
                        "model_uri": "models:/bc@production", "model_version_uri": "models:/bc/1"}

    # what the server holds: version 1 with its tags, its run with params/metrics/files
    assert aliases(client, "bc") == {"staging": 1, "production": 1}
    v1 = client.get_model_version("bc", "1")
    assert v1.tags["mlgen.sha256"] == sha1
    assert json.loads(v1.tags["mlgen.files"])["model.skops"] == sha1
    assert v1.tags["mlgen.estimator"] == "sklearn.linear_model.LogisticRegression"
    assert v1.tags["mlgen.commit"] == "c0ffee" * 6 + "c0ff"
    assert json.loads(v1.tags["mlgen.metrics"]) == pytest.approx(first["metrics"])
    run = client.get_run(v1.run_id)
    assert run.data.metrics["roc_auc"] == pytest.approx(first["metrics"]["roc_auc"])
    assert run.data.params["max_iter"] == "2000"
    assert run.data.params["estimator"] == "sklearn.linear_model.LogisticRegression"
    assert run.data.tags["mlgen.sha256"] == sha1 and run.data.tags["mlflow.source.git.commit"].startswith("c0ffee")
    assert run.info.status == "FINISHED"
    files = sorted(f.path for f in client.list_artifacts(v1.run_id, "model"))
    assert files == ["model/model.json", "model/model.skops"]  # skops + metadata; no MLmodel, no pickle

    # the same model again is the same version, and promoting it again changes nothing
    assert rt("deploy", "--env", "staging") == 0
    assert "staging already at version 1; nothing to do" in read().out
    assert [mv.version for mv in client.search_model_versions("name = 'bc'")] == ["1"]

    # a different model: evaluate compares it with the champion loaded from models:/bc@production
    (root / "mlproject.toml").write_text(spec(registry, params="{ max_iter = 2000, C = 0.05 }"))
    assert mlgen_main(["compile", "--provider", "gitlab", "-q"]) == 0
    assert rt("train") == 0 and rt("evaluate") == 0
    second = out(root, "evaluate/metrics.json")
    assert second["model_sha256"] != sha1
    champion = second["champion"]
    assert (champion["version"], champion["environment"], champion["sha256"], champion["error"]) == (1, "production", sha1, None)
    assert champion["metrics"] == pytest.approx(first["metrics"])  # the same rows, the same model
    assert any(g["kind"] == "max_drop" and g["champion"] is not None for g in second["gates"])
    assert rt("deploy", "--env", "staging") == 0 and rt("deploy", "--env", "production") == 0
    assert aliases(client, "bc") == {"staging": 2, "production": 2}
    assert client.get_run(client.get_model_version("bc", "2").run_id).data.params["C"] == "0.05"
    read()

    # rollback moves the alias back to the previous production version
    assert rt("rollback", "--env", "production") == 0
    assert "rollback production: production 2 -> 1" in read().out
    assert aliases(client, "bc") == {"staging": 2, "production": 1}
    assert rt("rollback", "--env", "production") == 2
    assert "no earlier version to roll back to" in read().err

    assert rt("registry", "list") == 0
    text = read().out
    assert f"registry {registry} (models:/bc): 2 version(s)" in text
    assert "aliases: production -> 1, staging -> 2" in text
    assert "#5 rollback production: 2 -> 1" in text
    history = MlflowRegistry.from_setting(registry, root, "bc").history()
    assert [(h["action"], h["env"], h["from"], h["to"]) for h in history] == [
        ("promote", "staging", None, 1), ("promote", "production", None, 1),
        ("promote", "staging", 1, 2), ("promote", "production", 1, 2), ("rollback", "production", 2, 1),
    ]
    tags = client.get_registered_model("bc").tags
    assert sorted(k.rsplit(".", 1)[0] for k in tags if k.startswith("mlgen.history.")) == [
        f"mlgen.history.{n:06d}" for n in range(1, 6)]
    read()
    assert printed and not any("SECRET" in text for text in printed)


# -- the registry API against the server ------------------------------------------------------


@pytest.fixture
def models(tmp_path: Path) -> list[Path]:
    folders = []
    for i in range(3):
        folder = tmp_path / f"model{i}"
        folder.mkdir()
        make_model(folder, c=0.1 * (i + 1))
        folders.append(folder)
    return folders


@pytest.mark.slow
def test_tampered_artifacts_are_refused(server: Server, models: list[Path], tmp_path: Path) -> None:
    reg = MlflowRegistry.from_setting(f"mlflow+{server.uri}", tmp_path, "tamper")
    assert reg.register(models[0]) == 1
    assert reg.register(models[1]) == 2
    assert reg.load(1)[1]["sha256"] == reg.versions()[0]["model_sha256"]
    run_id = server.client().get_model_version("tamper", "1").run_id
    (skops,) = server.artifacts.rglob(f"{run_id}/artifacts/model/model.skops")
    data = bytearray(skops.read_bytes())
    data[len(data) // 2] ^= 0xFF
    skops.write_bytes(bytes(data))
    with pytest.raises(BadInput, match=r"models:/tamper/1: model/model.skops: sha256 mismatch"):
        reg.load(1)

    # model.json swapped for one naming another hash: refused before the model file is read
    run2 = server.client().get_model_version("tamper", "2").run_id
    (meta,) = server.artifacts.rglob(f"{run2}/artifacts/model/model.json")
    meta.write_text(json.dumps({"sha256": "f" * 64}))
    with pytest.raises(BadInput, match="model/model.json is missing or modified"):
        reg.load(2)

    # a version registered by another tool (no mlgen tags) is never loaded
    client = server.client()
    run = client.create_run(client.get_experiment_by_name("mlgen-tamper").experiment_id)
    client.create_model_version("tamper", f"{run.info.artifact_uri}/model", run.info.run_id)
    with pytest.raises(BadInput, match="was not registered by mlgen"):
        reg.load(3)
    with pytest.raises(BadInput, match="version 9 is not in the registry"):
        reg.promote("staging", 9)


@pytest.mark.slow
def test_alias_moved_outside_mlgen_is_recorded(server: Server, models: list[Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    reg = MlflowRegistry.from_setting(f"mlflow+{server.uri}", tmp_path, "synced")
    for folder in models:
        assert reg.promote("prod", reg.register(folder)) is True
    assert reg.promote("prod", 3) is False  # already there: no history entry
    server.client().set_registered_model_alias("synced", "prod", "2")  # someone rolls back in the MLflow UI
    assert reg.promote("prod", 3) is True
    assert "@prod is at version 2 but mlgen's history says 3" in capsys.readouterr().err
    assert reg.rollback("prod") == 2
    assert reg.rollback("prod") == 1
    assert [(h["action"], h["from"], h["to"]) for h in reg.history()] == [
        ("promote", None, 1), ("promote", 1, 2), ("promote", 2, 3),
        ("sync", 3, 2), ("promote", 2, 3), ("rollback", 3, 2), ("rollback", 2, 1),
    ]
    assert [h["seq"] for h in reg.history()] == list(range(1, 8))
    with pytest.raises(BadInput, match="no earlier version"):
        reg.rollback("prod")

    # deployed by hand in the UI, then rolled back by mlgen: back to where mlgen had it. The
    # rollback stage plans from history() before moving, so the pending sync must be in it.
    server.client().set_registered_model_alias("synced", "prod", "3")
    pending = reg.history()[-1]
    assert (pending["action"], pending["from"], pending["to"]) == ("sync", 1, 3)
    assert "recorded by the next change" in pending["reason"] and len(reg.history()) == 8
    target = rollback_target("prod", deployed_stack(reg.history(), "prod"), None)
    assert target == 1 and reg.rollback("prod", target) == 1
    assert reg.alias("prod") == 1
    assert [(h["action"], h["from"], h["to"]) for h in reg.history()][-2:] == [("sync", 1, 3), ("rollback", 3, 1)]


@pytest.mark.slow
def test_concurrent_registrations_of_one_model_settle_on_one_version(server: Server, models: list[Path],
                                                                    tmp_path: Path) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            results.append(MlflowRegistry.from_setting(f"mlflow+{server.uri}", tmp_path, "race").register(models[0]))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    reg = MlflowRegistry.from_setting(f"mlflow+{server.uri}", tmp_path, "race")
    assert [v["version"] for v in reg.versions()] == results[:1]


# -- mlflow+sqlite: no server ---------------------------------------------------------------


@pytest.mark.slow  # ~8 s: creating an MLflow sqlite database runs all its migrations
def test_sqlite_registry_without_a_server(project: Project, rt: Rt, capsys: pytest.CaptureFixture[str]) -> None:
    require_mlflow()
    root = project(spec("mlflow+sqlite:///models/mlflow.db"))
    assert rt("registry", "list") == 0  # reading an absent registry does not create it
    assert "0 version(s)" in capsys.readouterr().out
    assert not (root / "models").exists()

    sha1 = write_outputs(root)
    assert rt("deploy", "--env", "staging") == 0
    assert rt("deploy", "--env", "staging") == 0
    write_outputs(root, c=0.2)
    assert rt("deploy", "--env", "staging") == 0
    assert rt("promote", "--env", "production", "--version", "1") == 0
    assert rt("promote", "--env", "production", "--version", "2") == 0
    assert rt("rollback", "--env", "production") == 0
    assert (root / "models/mlflow.db").is_file()
    assert len(list((root / "models/mlflow-artifacts").rglob("model.skops"))) == 2

    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / 'models/mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert aliases(client, "bc") == {"staging": 2, "production": 1}
    assert client.get_model_version("bc", "1").tags["mlgen.sha256"] == sha1
    capsys.readouterr()
    assert rt("registry", "list") == 0
    text = capsys.readouterr().out
    assert "registry mlflow+sqlite:///models/mlflow.db (models:/bc): 2 version(s)" in text
    assert "aliases: production -> 1, staging -> 2" in text


@pytest.mark.slow
def test_absolute_sqlite_path(tmp_path: Path) -> None:
    require_mlflow()
    db = tmp_path / "elsewhere" / "reg.db"
    reg = MlflowRegistry.from_setting(f"mlflow+sqlite:///{db}", tmp_path / "repo", "abs")
    assert reg.tracking_uri == f"sqlite:///{db}" and reg.tracking_uri.startswith("sqlite:////")
    folder = tmp_path / "m"
    folder.mkdir()
    make_model(folder)
    assert reg.register(folder) == 1 and reg.register(folder) == 1
    assert reg.promote("staging", 1) is True
    model, meta = reg.load(1)
    assert meta["sha256"] == reg.versions()[0]["model_sha256"]
    assert (tmp_path / "elsewhere" / "reg-artifacts").is_dir()


# -- no mlflow needed -------------------------------------------------------------------------


def test_missing_mlflow_is_a_clear_bad_input(project: Project, rt: Rt, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    project(spec("mlflow+http://127.0.0.1:9"))
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    assert rt("registry", "list") == 2
    err = capsys.readouterr().err
    assert "is an MLflow registry (mlflow+http://127.0.0.1:9) but the mlflow package is not installed" in err
    assert "pip install 'mlgen[mlflow]'" in err and "Traceback" not in err


def test_settings_are_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    assert parse_setting("mlflow+http://127.0.0.1:5000/", repo) == ("http://127.0.0.1:5000", None)
    assert parse_setting("mlflow+https://mlflow.example.com/base", repo) == ("https://mlflow.example.com/base", None)
    uri, db = parse_setting("mlflow+sqlite:///models/m.db", repo)
    assert (uri, db) == (f"sqlite:///{repo.resolve()}/models/m.db", repo.resolve() / "models/m.db")
    assert parse_setting("mlflow+sqlite:////var/m.db", repo) == ("sqlite:////var/m.db", Path("/var/m.db"))
    with pytest.raises(BadInput, match="outside"):
        parse_setting("mlflow+sqlite:///../m.db", repo)
    with pytest.raises(BadInput) as exc:
        parse_setting("mlflow+https://alice:hunter22@mlflow.example.com", repo)
    assert "hunter22" not in str(exc.value) and "MLFLOW_TRACKING_PASSWORD" in str(exc.value)
    with pytest.raises(BadInput, match="expected mlflow"):
        parse_setting("mlflow+ftp://host", repo)

    class Ctx:
        root = repo
        settings: dict = {"project": {"name": "p"}, "deploy": {"registry": "models", "environments": []}}

    assert isinstance(Registry.open(Ctx()), Registry)
    monkeypatch.setenv("MLGEN_REGISTRY", "mlflow+http://mlflow.internal:5000")  # the CI operator's override
    opened = Registry.open(Ctx())
    assert isinstance(opened, MlflowRegistry) and opened.tracking_uri == "http://mlflow.internal:5000"
    monkeypatch.delenv("MLGEN_REGISTRY")
    Ctx.settings = {"project": {"name": "p"}, "deploy": {"registry": "mlflow+sqlite:///r/m.db"}}
    opened = Registry.open(Ctx())
    assert isinstance(opened, MlflowRegistry) and opened.db_path == repo.resolve() / "r/m.db"
    assert opened.versions() == [] and opened.aliases() == {} and opened.history() == []  # nothing created
    assert not (repo / "r").exists()


def test_reserved_alias_names_and_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = MlflowRegistry.from_setting("mlflow+http://127.0.0.1:9", tmp_path, "p")
    for env in ("latest", "v2", "V10"):
        with pytest.raises(BadInput, match="cannot be an MLflow alias"):
            reg.promote(env, 1)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-abcdef-123")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw-zyx-987")
    text = describe(RuntimeError("401 for token tok-abcdef-123 / password pw-zyx-987"))
    assert "tok-abcdef-123" not in text and "pw-zyx-987" not in text and text.count("***") == 2


@pytest.mark.slow
@pytest.mark.parametrize("first", [True, False])
def test_a_failed_history_entry_moves_the_alias_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: bool) -> None:
    """The alias and its history entry change together or not at all: when the entry cannot be
    written, promote exits 2 with the alias where it was (or unset), and the next, unrelated
    promote does not record the failed one as a sync."""
    require_mlflow()
    reg = MlflowRegistry.from_setting("mlflow+sqlite:///models/reg.db", tmp_path, "undo")
    for c in (0.5, 1.0):
        folder = tmp_path / f"m{c}"
        folder.mkdir()
        make_model(folder, c=c)
        reg.register(folder)
    if not first:
        assert reg.promote("staging", 1) is True
    before = (reg.aliases(), reg.history())

    def full(*args: Any, **kwargs: Any) -> None:
        raise BadInput("MLflow registry: recording the history: RESOURCE_EXHAUSTED: quota")

    with monkeypatch.context() as m:
        m.setattr(reg, "_append", full)
        with pytest.raises(BadInput, match=r"quota; @staging was moved back to " + ("\\(none\\)" if first else "1")):
            reg.promote("staging", 2)
    assert (reg.aliases(), reg.history()) == before
    assert reg.promote("production", 2) is True
    assert [e["action"] for e in reg.history()] == ["promote"] * (1 if first else 2)
