"""Real object-storage servers on loopback for the object registry tests, one per session:
moto's S3 server (`moto[server]`, PyPI) and Azurite's blob service (npm, installed by
scripts/install-judges.sh). Each fixture yields the environment a job needs to reach it
(the variables the SDKs read) and a function that makes a fresh bucket/container."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (not a secret)
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Store:
    scheme: str
    env: dict[str, str]
    make_bucket: Callable[[], str]
    extra: dict[str, str] = field(default_factory=dict)

    def url(self, prefix: str = "reg") -> str:
        return f"{self.scheme}://{self.make_bucket()}/{prefix}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def bucket_name() -> str:
    return "b" + uuid.uuid4().hex[:20]


@pytest.fixture(scope="session")
def s3_store() -> Iterator[Store]:
    pytest.importorskip("s3fs")
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}

    def make() -> str:
        import boto3

        name = bucket_name()
        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="testing",
                     aws_secret_access_key="testing", region_name="us-east-1").create_bucket(Bucket=name)
        return name

    try:
        yield Store("s3", env, make)
    finally:
        server.stop()


def azurite_bin() -> Path | None:
    tools = Path(os.environ.get("MLGEN_TOOLS_DIR", Path.home() / ".cache/mlgen-judges"))
    found = tools / "node/node_modules/.bin/azurite-blob"
    return found if found.exists() else (Path(p) if (p := shutil.which("azurite-blob")) else None)


@pytest.fixture(scope="session")
def az_store() -> Iterator[Store]:
    pytest.importorskip("adlfs")
    binary = azurite_bin()
    if binary is None:
        pytest.skip("azurite-blob is not installed (scripts/install-judges.sh installs it)")
    port = free_port()
    work = tempfile.mkdtemp(prefix="azurite-")
    proc = subprocess.Popen(
        [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", work,
         "--skipApiVersionCheck", "--loose", "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    conn = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};")
    env = {"AZURE_STORAGE_CONNECTION_STRING": conn}

    def make() -> str:
        from azure.storage.blob import BlobServiceClient

        name = bucket_name()
        BlobServiceClient.from_connection_string(conn).create_container(name)
        return name

    try:
        wait_port(port, proc, "azurite-blob")
        yield Store("az", env, make)
    finally:
        proc.kill()  # azurite ignores SIGTERM for a long while; its data is a temp folder
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)
