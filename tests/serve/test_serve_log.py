"""The prediction log writer alone (runtime/serve_log.py): rotation, the tmp + rename scheme,
the flush on close, and the queue-full policy (back-pressure, then counted drops)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlgen_runtime.errors import BadInput
from mlgen_runtime.serve_log import Batch, LogWriter, log_folder, prediction_rows


def rows(rid: str, n: int) -> pd.DataFrame:
    features = pd.DataFrame({"x": np.arange(n, dtype="float64"), "k": ["a"] * n, "i": np.arange(n, dtype="float64")})
    return prediction_rows(features, ("x", "k", "i"), {"x": "float", "k": "category", "i": "int"}, rid,
                           datetime.now(timezone.utc), 3, "ab" * 32, np.array(["yes"] * n, dtype=object))


def test_rotation_and_close_write_every_row_once(tmp_path: Path) -> None:
    log = LogWriter(tmp_path, rotate_rows=25)
    for i in range(20):
        assert log.put(Batch("predictions", rows(f"r{i}", 7)))
    log.close()
    files = sorted(tmp_path.glob("predictions-*.parquet"))
    assert len(files) >= 5 and not list(tmp_path.glob("*.tmp"))
    frame = pd.read_parquet(files)
    assert len(frame) == 140 and frame.groupby("mlgen_request_id").size().eq(7).all()
    assert str(frame["i"].dtype) == "Int64" and str(frame["mlgen_row"].dtype) == "int32"
    import pyarrow.parquet as pq

    schema = pq.read_schema(files[0])
    assert str(schema.field("mlgen_request_id").type) == "string"
    assert str(schema.field("mlgen_time").type) == "timestamp[us, tz=UTC]"


def test_a_full_queue_waits_then_counts_drops(tmp_path: Path) -> None:
    log = LogWriter(tmp_path, rotate_rows=10**6, queue_batches=1, put_timeout=0.05)
    gate = threading.Event()
    real_write = log._write

    def stuck_write(kind: str, frames: list[pd.DataFrame]) -> None:  # the disk hangs until the gate opens
        gate.wait()
        real_write(kind, frames)

    log._write = stuck_write  # type: ignore[method-assign]
    log.rotate_rows = 1  # every batch makes the writer write (and hang)
    results = [log.put(Batch("predictions", rows(f"r{i}", 2))) for i in range(6)]
    assert results[0] and not all(results), "the first is taken; once the queue is full, puts give up"
    assert log.dropped_rows == 2 * results.count(False)
    gate.set()
    log.close()
    written = pd.read_parquet(sorted(tmp_path.glob("predictions-*.parquet")))
    assert len(written) == 2 * results.count(True), "every row that was queued is written"


def test_the_log_folder_never_leaves_the_repository(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "predictions").symlink_to(outside)
    with pytest.raises((BadInput, OSError)):
        log_folder(root, "predictions/production")
    assert log_folder(root, "logs/prod") == (root / "logs/prod").resolve()
