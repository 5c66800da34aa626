"""The serve benchmark's worker (mlgen venv).

`prepare ROOT`: register and promote the model train wrote; save the same fitted pipeline as an
MLflow model (mlflow.sklearn, pickle: for the PEER only, with an inferred signature so MLflow
checks its input as mlgen does); write the request bodies of both servers.
`load URL BODY --clients C --requests N`: C threads with keep-alive connections send N POSTs in
all; prints throughput and latency percentiles as JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse
from pathlib import Path


def prepare(root: Path) -> None:
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature

    from mlgen_runtime import pipeline
    from mlgen_runtime.registry import Registry

    reg = Registry(Path("models"), root)
    version = reg.register(root / ".mlgen/out/model")
    reg.promote("production", version, "benchmark")
    model, meta = reg.load(version, (json.loads((root / ".mlgen/plan.json").read_text())["settings"]["train"]["estimator"],))
    frame = pd.read_csv(root / "data/train.csv")
    target = meta["target"]
    rows = frame.drop(columns=[target]).dropna().head(100)  # no nulls: JSON null means the same to neither server
    X = pipeline.prepare(rows, pipeline.Columns.from_dict(meta["features"]))
    mlflow.sklearn.save_model(model, str(root / "mlflow-model"), signature=infer_signature(X, model.predict(X)),
                              serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    for n in (1, 100):
        records = json.loads(rows.head(n).to_json(orient="records"))
        (root / f"mlgen-{n}.json").write_text(json.dumps(records))
        (root / f"mlflow-{n}.json").write_text(json.dumps({"dataframe_records": records}))
    expected = model.predict(X).tolist()
    (root / "expected.json").write_text(json.dumps(expected))
    print(json.dumps({"version": version, "sha256": meta["sha256"]}))


def load(url: str, body: bytes, clients: int, requests: int) -> dict[str, float]:
    parts = urllib.parse.urlsplit(url)
    per = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        mine = []
        start.wait()
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("POST", parts.path, body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - t0)
            if resp.status != 200:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in per]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))]  # noqa: E731
    return {"throughput": requests / wall, "p50": q(0.50), "p99": q(0.99), "errors": errors[0], "requests": requests}


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("prepare")
    a.add_argument("root", type=Path)
    b = sub.add_parser("load")
    b.add_argument("url")
    b.add_argument("body", type=Path)
    b.add_argument("--clients", type=int, default=8)
    b.add_argument("--requests", type=int, default=1000)
    args = p.parse_args()
    if args.cmd == "prepare":
        prepare(args.root.resolve())
    else:
        print(json.dumps(load(args.url, args.body.read_bytes(), args.clients, args.requests)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
