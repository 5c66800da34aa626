"""A real `mlflow server` for the runtime tests, started once per test session (sqlite backend
and artifacts in a temp dir, 127.0.0.1, a free port): the registry tests and the search's trial
tracking share it through the `mlflow_server` fixture (tests/runtime/conftest.py).

Without mlflow installed the tests that use it skip on a developer machine and FAIL under CI
(CI=true), like the judges: CI installs `.[runtime,test]`, which includes mlflow.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SERVER_START_TIMEOUT = 120.0
INSTALL_HINT = "pip install -e '.[runtime,test]' (the test extra includes mlflow)"


def require_mlflow() -> None:
    """Skip when mlflow is not importable; fail instead under CI, where it must be installed."""
    try:
        import mlflow.tracking  # noqa: F401
    except ImportError:
        pass
    else:
        return
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"mlflow is not installed: {INSTALL_HINT}", pytrace=False)
    pytest.skip(f"mlflow is not installed: {INSTALL_HINT}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, uri: str, folder: Path) -> None:
        self.uri = uri
        self.folder = folder

    @property
    def artifacts(self) -> Path:
        return self.folder / "artifacts"

    def client(self) -> Any:
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`mlflow server` on 127.0.0.1:<free port>; killed (its whole process group) at teardown."""
    require_mlflow()
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no background job runner
    env.pop("MLFLOW_TRACKING_URI", None)
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder / "artifacts")],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {proc.returncode}:\n{(folder / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy after {SERVER_START_TIMEOUT:g}s:\n"
                            f"{(folder / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(uri, folder)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.close()
