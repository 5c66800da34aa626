"""The prediction log as monitored data: `monitor.data` naming a log folder or a glob.

The log (written by `mlgen serve`, format in docs/serve.md) is a folder of
`predictions-<stamp>-<pid>-<seq>.parquet` files plus `feedback-<stamp>...parquet` files; a file
is renamed into place when complete, so `*.tmp` files are never read. `monitor.data` is a log
when it is an existing folder or holds a glob character (`*`, `?`, `[`); otherwise it is one
CSV/Parquet file (monitor.py reads it as before).

Only recent traffic counts: files are read newest first (the stamp in the name is the UTC time
of the flush) until `window_rows` rows are in hand, rows older than `window_days` (from now)
are dropped, and the newest `window_rows` rows by `mlgen_time` are kept, so memory stays bounded
however long the log grows. Every file read must be a regular file inside the repository (no
symlink leads out of it).
"""

from __future__ import annotations

import glob as globlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from mlgen_runtime.errors import BadInput

RESERVED_PREFIX = "mlgen_"
PREDICTIONS_GLOB = "predictions-*.parquet"
FEEDBACK_GLOB = "feedback-*.parquet"
REQUEST_ID, ROW, TIME = "mlgen_request_id", "mlgen_row", "mlgen_time"
VERSION, PREDICTION, LABEL = "mlgen_model_version", "mlgen_prediction", "mlgen_label"
_GLOB_CHARS = frozenset("*?[")


def is_log(root: Path, rel: str) -> bool:
    """Whether `monitor.data` names a prediction log (a folder or a glob) rather than a file."""
    return bool(_GLOB_CHARS & set(rel)) or (root / rel).is_dir() or not rel.endswith((".csv", ".parquet"))


@dataclass(frozen=True)
class LogFiles:
    predictions: list[Path]  # oldest first (by file name: the stamp sorts in time order)
    feedback: list[Path]


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _regular(root: Path, paths: list[Path], shown: str) -> list[Path]:
    out = []
    for p in paths:
        if p.is_symlink() or not _inside(root, p):
            raise BadInput(f"{shown}: {p.relative_to(root).as_posix()} is a link or lies outside the repository; the prediction log "
                           "must be plain files in its folder")
        if p.is_file():
            out.append(p)
    return sorted(out, key=lambda p: (p.name, p.as_posix()))


def find_files(root: Path, rel: str) -> LogFiles:
    """The log's prediction and feedback files. A folder: its own `predictions-*.parquet` and
    `feedback-*.parquet`; a glob: the prediction files it matches (other names are ignored) and
    the feedback files of the folders they are in. A folder that does not exist is BadInput (a
    misspelt folder must not read as "no traffic")."""
    shown = rel
    if not _GLOB_CHARS & set(rel):
        folder = root / rel
        if not folder.is_dir():
            raise BadInput(f"{shown}: prediction-log folder not found (monitor.data names a folder or a glob "
                           f"of {PREDICTIONS_GLOB} files; `mlgen serve` creates it with its first log file)")
        if not _inside(root, folder):
            raise BadInput(f"{shown}: the prediction-log folder lies outside the repository")
        return LogFiles(_regular(root, list(folder.glob(PREDICTIONS_GLOB)), shown),
                        _regular(root, list(folder.glob(FEEDBACK_GLOB)), shown))
    matched = [Path(p) for p in globlib.glob(globlib.escape(str(root)) + "/" + rel, recursive=False)]
    predictions = [p for p in matched if p.match(PREDICTIONS_GLOB)]
    folders = sorted({p.parent for p in predictions})
    feedback = [f for d in folders for f in d.glob(FEEDBACK_GLOB)]
    return LogFiles(_regular(root, predictions, shown), _regular(root, feedback, shown))


def _read(path: Path, root: Path) -> pd.DataFrame:
    rel = path.relative_to(root).as_posix()
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises its own types for truncated files
        raise BadInput(f"{rel}: cannot read this prediction-log file: {type(exc).__name__}: {exc}") from None


def _utc_times(frame: pd.DataFrame, rel: str) -> pd.Series:
    if TIME not in frame.columns:
        raise BadInput(f"{rel}: no `{TIME}` column; is this a prediction log written by `mlgen serve`?")
    return pd.to_datetime(frame[TIME], utc=True)


@dataclass(frozen=True)
class Window:
    frame: pd.DataFrame  # the recent rows, oldest first, with the mlgen_ columns
    files: int  # prediction files read
    files_total: int
    cutoff: datetime | None  # rows before it were dropped (window_days)


def recent(root: Path, files: LogFiles, window_rows: int, window_days: float | None,
           now: datetime | None = None) -> Window:
    """The newest `window_rows` rows of the prediction files, none older than `window_days`."""
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=window_days) if window_days else None
    parts: list[pd.DataFrame] = []
    have = 0
    for path in reversed(files.predictions):  # newest first: stop once the window is full
        rel = path.relative_to(root).as_posix()
        part = _read(path, root)
        times = _utc_times(part, rel)
        part = part.assign(**{TIME: times})
        if cutoff is not None:
            part = part[times >= cutoff]
        parts.append(part)
        have += len(part)
        if have >= window_rows:
            break
    read = len(parts)
    if not parts:
        return Window(pd.DataFrame(), 0, len(files.predictions), cutoff)
    frame = pd.concat(parts[::-1], ignore_index=True)
    frame = frame.sort_values(TIME, kind="stable").tail(window_rows).reset_index(drop=True)
    return Window(frame, read, len(files.predictions), cutoff)


def feedback(root: Path, files: LogFiles) -> pd.DataFrame:
    """Every feedback row, the latest label per (request id, row) (a label sent again corrects the first)."""
    if not files.feedback:
        return pd.DataFrame(columns=[REQUEST_ID, ROW, LABEL, TIME])
    parts = []
    for path in files.feedback:
        rel = path.relative_to(root).as_posix()
        part = _read(path, root)
        missing = [c for c in (REQUEST_ID, ROW, LABEL) if c not in part.columns]
        if missing:
            raise BadInput(f"{rel}: feedback file without {', '.join(f'`{c}`' for c in missing)}")
        parts.append(part.assign(**{TIME: _utc_times(part, rel)}))
    frame = pd.concat(parts, ignore_index=True).sort_values(TIME, kind="stable")
    return frame.drop_duplicates([REQUEST_ID, ROW], keep="last").reset_index(drop=True)


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """The logged feature columns: every reserved `mlgen_` column dropped."""
    return frame[[c for c in frame.columns if not str(c).startswith(RESERVED_PREFIX)]]


def labelled(window: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Window rows that got feedback: prediction and label side by side (inner join on request id, row)."""
    if window.empty or labels.empty:
        return pd.DataFrame(columns=[REQUEST_ID, ROW, VERSION, PREDICTION, LABEL])
    left = window[[REQUEST_ID, ROW, VERSION, PREDICTION]].astype({REQUEST_ID: str, ROW: "int64"})
    right = labels[[REQUEST_ID, ROW, LABEL]].astype({REQUEST_ID: str, ROW: "int64"})
    return left.merge(right, on=[REQUEST_ID, ROW], how="inner", validate="many_to_one")


def describe_window(window: Window) -> dict[str, Any]:
    frame = window.frame
    times = frame[TIME] if TIME in frame.columns and len(frame) else None
    versions = sorted({int(v) for v in frame[VERSION].dropna()}) if VERSION in frame.columns else []
    return {"rows": int(len(frame)), "files_read": window.files, "files": window.files_total,
            "from": times.min().isoformat() if times is not None else None,
            "to": times.max().isoformat() if times is not None else None,
            "cutoff": window.cutoff.isoformat() if window.cutoff else None,
            "model_versions": versions}
