"""`mlgen serve` end to end: a real server (tests/serve/conftest.py) and real HTTP requests.

The tests share one server and run in file order: the tampered-model test changes the registry
and the log test stops the server to read its prediction log. Slow (a train job and a server
start, ~30 s on a quiet machine)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mlgen.cli import main as mlgen_main
from tests.serve.conftest import ENV, MLGEN, TOKEN, TOKEN_VAR, Served

pytestmark = pytest.mark.slow

FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame[FEATURES].to_json(orient="records"))  # NaN -> null


def own_predictions(served: Served, version: int, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """What the registered model itself predicts for these rows (the way evaluate feeds it)."""
    from mlgen_runtime import pipeline
    from mlgen_runtime.registry import Registry

    if version not in served.models:  # loading runs the smoke check's child process: once a version
        served.models[version] = Registry(Path("models"), served.root).load(version, ("sklearn.linear_model.LogisticRegression",))
    model, meta = served.models[version]
    X = pipeline.prepare(frame.drop(columns=["species"]), pipeline.Columns.from_dict(meta["features"]))
    return model.predict(X), model.predict_proba(X)


def wait_for_version(served: Served, version: int) -> None:
    for _ in range(600):  # a bound on polls, not a timed assertion
        status, health = served.request("GET", "/health")
        if health.get("version") == version:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server never moved to version {version}: {health}")


def test_predictions_equal_the_models_own(served: Served) -> None:
    rows = served.frame.sample(60, random_state=1)  # real rows, some with missing values
    assert rows[FEATURES].isna().any().any()
    status, out = served.predict(records(rows))
    assert status == 200, out
    y, proba = own_predictions(served, 1, rows)
    assert out["predictions"] == y.tolist()
    assert out["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    np.testing.assert_allclose(np.asarray(out["probabilities"]), proba, rtol=1e-12)
    assert out["model"] == {"version": 1, "sha256": served.versions[1]}
    served.ids[out["request_id"]] = len(rows)
    # the same rows as CSV, and as {"records": [...]}, give the same answer
    status, csv_out = served.request("POST", "/predict", rows[FEATURES].to_csv(index=False).encode(), "text/csv")
    assert status == 200 and csv_out["predictions"] == out["predictions"], csv_out
    served.ids[csv_out["request_id"]] = len(rows)
    status, wrapped = served.predict({"records": records(rows.head(3))}, headers={"X-Request-Id": "given-id-1"})
    assert status == 200 and wrapped["request_id"] == "given-id-1"
    served.ids["given-id-1"] = 3


def test_version_and_health(served: Served) -> None:
    status, v = served.request("GET", "/version")
    assert status == 200 and v["alias"] == ENV and v["version"] == 1 and v["sha256"] == served.versions[1]
    assert v["trained_on"]["sha256"] and v["trained_on"]["train"] and v["trained_on"]["test"]
    status, h = served.request("GET", "/health", token=None)  # health needs no token
    assert status == 200 and h["status"] == "ok" and h["version"] == 1


@pytest.mark.parametrize(("change", "column", "words"), [
    ({"bill_length_mm": "long"}, "bill_length_mm", "expected float"),
    ({"island": "Atlantis"}, "island", "not one of the contract's values"),
    ({"body_mass_g": -5}, "body_mass_g", "below the contract's min"),
    ({"year": None}, "year", "does not allow nulls"),
    ({"year": 2008.5}, "year", "expected int"),
    ({"flipper_length_mm": [1, 2]}, "flipper_length_mm", "one value"),
    ({"colour": "blue"}, "colour", "not in the data contract"),
])
def test_bad_values_are_422_naming_row_and_column(served: Served, change: dict[str, Any], column: str,
                                                  words: str) -> None:
    good = records(served.frame.head(3))
    good[2] = {**good[2], **change}
    status, out = served.predict(good)
    assert status == 422, out
    assert out["column"] == column and out["row"] == 2 and words in out["error"], out


def test_missing_column_and_bad_bodies_are_422(served: Served) -> None:
    rows = records(served.frame.head(2))
    del rows[0]["sex"]
    del rows[1]["sex"]
    status, out = served.predict(rows)
    assert status == 422 and out["column"] == "sex" and "missing" in out["error"]
    for body in (b"{not json", b"[]", b"{}", b"[1, 2]", b'"text"', b"\xff\xfe"):
        status, out = served.request("POST", "/predict", body)
        assert status == 422, (body, out)
    status, out = served.request("POST", "/predict", b"a,b\n1,2\n", "text/csv")
    assert status == 422 and out["column"], out
    status, out = served.request("POST", "/predict", b"x", "application/xml")
    assert status == 415


def test_token_and_limits(served: Served) -> None:
    rows = records(served.frame.head(1))
    assert served.predict(rows, token=None)[0] == 401
    assert served.predict(rows, token="wrong")[0] == 401
    assert served.request("GET", "/metrics", token=None)[0] == 401
    status, out = served.predict(records(served.frame.head(1)) * 501)  # serve.max_rows = 500
    assert status == 422 and "max_rows" in out["error"]
    status, out = served.request("POST", "/predict", b"[" + b" " * 200_001 + b"]")  # max_body_bytes = 200000
    assert status == 413, out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=20),
                 lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
                 max_leaves=20).map(lambda v: json.dumps(v).encode()),
    st.lists(st.fixed_dictionaries({}, optional={
        name: st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
        for name in FEATURES}), min_size=1, max_size=5).map(lambda v: json.dumps(v).encode()),
), csv=st.booleans())
def test_random_bodies_never_give_a_500(served: Served, body: bytes, csv: bool) -> None:
    status, out = served.request("POST", "/predict", body, "text/csv" if csv else "application/json")
    assert status in (200, 413, 415, 422), (status, out, body)
    if status == 200:
        served.ids[out["request_id"]] = len(out["predictions"])


def test_promote_and_rollback_under_load_fail_no_request(served: Served) -> None:
    rows = served.frame.sample(20, random_state=3)
    body = records(rows)
    expected = {v: own_predictions(served, v, rows) for v in (1, 2)}
    assert not np.allclose(expected[1][1], expected[2][1]), "the two versions must be told apart"
    results: list[tuple[int, Any]] = []
    stop_load = threading.Event()

    def client() -> None:
        while not stop_load.is_set():
            results.append(served.predict(body))
            stop_load.wait(0.01)  # load, not a flood: the registry command and the server's checks need the CPU too

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for action, version in ((["promote", "--version", "2"], 2), (["rollback"], 1)):
            proc = subprocess.run([str(MLGEN), "registry", action[0], "--env", ENV, *action[1:]], cwd=served.root,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, proc.stderr
            wait_for_version(served, version)
            n = len(results)
            while len(results) < n + 8:  # some traffic on each version
                time.sleep(0.01)
    finally:
        stop_load.set()
        for t in threads:
            t.join()
    seen = set()
    for status, out in results:
        assert status == 200, out
        v = out["model"]["version"]
        seen.add(v)
        assert out["model"]["sha256"] == served.versions[v]
        # the version named is the one that produced the answer
        np.testing.assert_allclose(np.asarray(out["probabilities"]), expected[v][1], rtol=1e-12)
        served.ids[out["request_id"]] = len(rows)
    assert seen == {1, 2}


def test_metrics(served: Served) -> None:
    status, text = served.request("GET", "/metrics")
    assert status == 200
    assert 'mlgen_serve_requests_total{route="/predict",status="200"}' in text
    assert 'mlgen_serve_errors_total{route="/predict"}' in text
    assert "mlgen_serve_request_seconds_bucket" in text
    assert 'mlgen_serve_predictions_total{label="Adelie"}' in text
    assert "mlgen_serve_model_version 1.0" in text


def test_feedback(served: Served) -> None:
    rid = next(iter(served.ids))
    status, out = served.request("POST", "/feedback", json.dumps({"request_id": rid, "labels": ["Adelie", "Gentoo"]}).encode())
    assert status == 200 and out == {"stored": 2, "matched": 2, "unknown": 0}, out
    status, out = served.request("POST", "/feedback", json.dumps(
        [{"request_id": "never-seen", "row": 0, "label": "Chinstrap"}]).encode())
    assert status == 200 and out["stored"] == 1 and out["matched"] == 0
    status, out = served.request("POST", "/feedback", json.dumps({"request_id": rid, "labels": ["Dodo"]}).encode())
    assert status == 422 and out["column"] == "label"
    served.feedback = 3


def test_a_tampered_model_is_refused_and_the_old_one_keeps_serving(served: Served) -> None:
    from mlgen_runtime.registry import Registry

    reg = Registry(Path("models"), served.root)
    model_file = reg.version_dir(2) / "model.skops"
    backup = model_file.read_bytes()
    try:
        model_file.write_bytes(backup[:-10] + b"0123456789")
        reg.promote(ENV, 2, "tampered")  # the registry's own promote does not load it: the server must refuse
        for _ in range(600):
            status, health = served.request("GET", "/health")
            if "refused" in health:
                break
            time.sleep(0.05)
        assert status == 503 and health["status"] == "degraded", health
        assert health["refused"]["version"] == 2 and "sha256" in health["refused"]["error"]
        status, out = served.predict(records(served.frame.head(2)))
        assert status == 200 and out["model"]["version"] == 1
        served.ids[out["request_id"]] = 2
    finally:
        model_file.write_bytes(backup)
        reg.rollback(ENV, 1, "test done")


def test_ctrl_c_flushes_the_whole_log(served: Served) -> None:
    import signal

    served.proc.send_signal(signal.SIGINT)
    assert served.proc.wait(timeout=120) == 130
    folder = served.root / "predictions" / ENV
    assert not list(folder.glob("*.tmp"))
    log = pd.read_parquet(sorted(folder.glob("predictions-*.parquet")))
    assert list(log.columns[:len(FEATURES)]) == FEATURES
    assert list(log.columns[len(FEATURES):]) == ["mlgen_request_id", "mlgen_row", "mlgen_time", "mlgen_model_version",
                                                 "mlgen_model_sha256", "mlgen_prediction"]
    counts = log.groupby("mlgen_request_id").size().to_dict()
    assert counts == served.ids, "every answered request is in the log, each row once"
    assert str(log["mlgen_time"].dtype) == "datetime64[us, UTC]"
    assert set(log["mlgen_model_version"]) == {1, 2}
    assert len(list(folder.glob("predictions-*.parquet"))) > 1, "log_rotate_rows = 1000 rotates"
    feedback = pd.read_parquet(sorted(folder.glob("feedback-*.parquet")))
    assert len(feedback) == served.feedback and set(feedback["mlgen_label"]) == {"Adelie", "Gentoo", "Chinstrap"}


def test_cli_refusals_are_one_line_exit_2(served: Served, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(served.root)
    monkeypatch.setenv(TOKEN_VAR, TOKEN)
    assert mlgen_main(["serve", "--env", "nowhere"]) == 2
    assert "unknown environment `nowhere`" in capsys.readouterr().err
    monkeypatch.delenv(TOKEN_VAR)
    assert mlgen_main(["serve"]) == 2
    err = capsys.readouterr().err
    assert TOKEN_VAR in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv(TOKEN_VAR, TOKEN)
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        assert mlgen_main(["serve", "--port", str(taken.getsockname()[1])]) == 2
    assert "cannot listen" in capsys.readouterr().err
