"""`mlgen serve`: the prediction log (its format: docs/serve.md, read by monitor_log.py).

Requests hand their rows to a bounded queue and return; one writer thread gathers them and
writes Parquet files with pyarrow, a file per `log_rotate_rows` rows or per `flush_seconds`,
each written to `<name>.tmp` and renamed so a reader never sees a part. When the queue is full
a request waits for room (back-pressure: the log is the record the monitor retrains on, so
rows are not dropped while the disk keeps up); only a writer stuck for `put_timeout` seconds
makes the request give up waiting, and those rows are counted as dropped (/metrics). `close`
drains the queue and writes what is buffered: a clean shutdown loses nothing.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import real_dir

REQUEST_ID, ROW, TIME = "mlgen_request_id", "mlgen_row", "mlgen_time"
VERSION, SHA, PREDICTION, LABEL = "mlgen_model_version", "mlgen_model_sha256", "mlgen_prediction", "mlgen_label"
KNOWN_IDS = 200_000  # request ids remembered to tell /feedback how many of its rows match a prediction


@dataclass
class Batch:
    """One request's rows for the log (`features` already coerced by serve_input)."""

    kind: str  # "predictions" or "feedback"
    frame: pd.DataFrame


def log_folder(root: Path, rel: str) -> Path:
    """The log folder, created, and refused when it (or a folder on the way) is a symlink that
    would take the log out of the repository."""
    root = root.resolve()
    path = root / rel
    here = root
    for part in Path(rel).parts:
        here = here / part
        real_dir(here, create=True)  # NotRegular (an OSError) for a symlink or a file in the way
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise BadInput(f"serve.log_dir {rel} resolves to {resolved}, outside the repository; refusing")
    return resolved


class LogWriter:
    def __init__(self, folder: Path, rotate_rows: int, flush_seconds: float = 60.0, queue_batches: int = 10_000,
                 put_timeout: float = 30.0) -> None:
        self.folder, self.rotate_rows, self.flush_seconds = folder, rotate_rows, flush_seconds
        self.put_timeout = put_timeout
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=queue_batches)
        self._buffers: dict[str, list[pd.DataFrame]] = {"predictions": [], "feedback": []}
        self._rows: dict[str, int] = {"predictions": 0, "feedback": 0}
        self._since = time.monotonic()
        self._seq = 0
        self.dropped_rows = 0
        self.written_rows = 0
        self.write_errors = 0
        self.files: list[Path] = []
        self.known: OrderedDict[str, int] = OrderedDict()  # request id -> rows (the newest KNOWN_IDS)
        self._known_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="mlgen-serve-log", daemon=True)
        self._thread.start()

    # -- the request side -------------------------------------------------------------------

    def put(self, batch: Batch) -> bool:
        """Queue a batch; waits while the queue is full (False, rows counted as dropped, after
        put_timeout seconds)."""
        if batch.kind == "predictions":
            with self._known_lock:
                self.known[str(batch.frame[REQUEST_ID].iloc[0])] = len(batch.frame)
                while len(self.known) > KNOWN_IDS:
                    self.known.popitem(last=False)
        try:
            self._queue.put(batch, timeout=self.put_timeout)
            return True
        except queue.Full:
            self.dropped_rows += len(batch.frame)
            return False

    def matched(self, request_id: str, row: int) -> bool | None:
        """Whether a logged prediction has this (request id, row); None when the id is too old to know."""
        with self._known_lock:
            rows = self.known.get(request_id)
        return None if rows is None else 0 <= row < rows

    def queued(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        """Write everything queued and buffered, then stop the thread."""
        self._queue.put(None)  # after every batch already queued
        self._thread.join()

    # -- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                batch = self._queue.get(timeout=1.0)
            except queue.Empty:
                batch = False  # type: ignore[assignment]
            if batch is None:
                self._flush_all()
                return
            if batch:
                self._buffers[batch.kind].append(batch.frame)
                self._rows[batch.kind] += len(batch.frame)
                if self._rows[batch.kind] >= self.rotate_rows:
                    self._flush(batch.kind)
            if time.monotonic() - self._since >= self.flush_seconds:
                self._flush_all()

    def _flush_all(self) -> None:
        for kind in self._buffers:
            self._flush(kind)
        self._since = time.monotonic()

    def _flush(self, kind: str) -> None:
        frames, self._buffers[kind], rows = self._buffers[kind], [], self._rows[kind]
        self._rows[kind] = 0
        if not frames:
            return
        try:
            # one schema a file: batches of different model versions can differ in dtypes
            for part in _same_columns(frames):
                self._write(kind, part)
            self.written_rows += rows
        except Exception as exc:  # noqa: BLE001 - a full disk must not kill the writer thread
            self.write_errors += 1
            self.dropped_rows += rows
            print(f"mlgen serve: cannot write the prediction log: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    def _write(self, kind: str, frames: list[pd.DataFrame]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.concat_tables([pa.Table.from_pandas(f, preserve_index=False) for f in frames],
                                 promote_options="permissive")
        # pandas' text columns arrive as large_string: the log's format says string
        table = table.cast(pa.schema([f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f
                                      for f in table.schema], metadata=table.schema.metadata))
        self._seq += 1
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{kind}-{stamp}-{os.getpid()}-{self._seq:06d}.parquet"
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        self.files.append(path)


def _same_columns(frames: list[pd.DataFrame]) -> list[list[pd.DataFrame]]:
    """Consecutive runs of frames with the same columns and dtypes."""
    runs: list[list[pd.DataFrame]] = []
    key = None
    for f in frames:
        k = tuple((c, str(t)) for c, t in f.dtypes.items())
        if k != key:
            runs.append([])
            key = k
        runs[-1].append(f)
    return runs


def prediction_rows(features: pd.DataFrame, used: tuple[str, ...], kinds: dict[str, str], request_id: str,
                    received: datetime, version: int, sha256: str, predictions: np.ndarray) -> pd.DataFrame:
    """The log rows of one request: its used feature columns in training order (with stable
    types: numbers float64 / Int64, bool, text, timestamps), then the mlgen_ columns."""
    n = len(features)
    out: dict[str, Any] = {}
    for name in used:
        s = features[name]
        kind = kinds[name]
        if kind == "int":
            out[name] = pd.array(s.to_numpy(dtype="float64"), dtype="Float64").astype("Int64")
        elif kind == "float":
            out[name] = s.astype("float64").to_numpy()
        elif kind == "bool":
            out[name] = s.astype("boolean").array
        elif kind == "datetime":
            out[name] = pd.to_datetime(s, errors="coerce").to_numpy()
        else:
            out[name] = pd.array([None if v is None else str(v) for v in s], dtype="string")
    out[REQUEST_ID] = [request_id] * n
    out[ROW] = np.arange(n, dtype="int32")
    out[TIME] = pd.DatetimeIndex([received] * n).as_unit("us")
    out[VERSION] = np.full(n, version, dtype="int32")
    out[SHA] = [sha256] * n
    out[PREDICTION] = np.asarray(predictions)
    return pd.DataFrame(out)
