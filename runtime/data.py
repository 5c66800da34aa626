"""Reading the data and the one train/test split every stage shares.

The split is a pure function of the data and the seed, so validate, train, select and evaluate
in separate CI jobs all see the same held-out rows without passing them around.

Memo (only inside the local-run worker, `worker.py`, which calls `enable_memo`): stages that run
one after the other in the same process share the parsed file and the split row positions. A
file is identified by (path, size, mtime_ns, inode, ctime_ns), so a changed or replaced file is
read again. Callers get their own frame: a lazy copy under pandas' copy-on-write (pandas >= 3),
a deep copy otherwise, so a stage that modifies it cannot change what the next stage sees.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgen_runtime.errors import BadInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MEMO_FILES = 2  # the data and the drift reference
MEMO_SPLITS = 4


class _Memo:
    def __init__(self) -> None:
        self.enabled = False
        self.frames: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()
        self.splits: OrderedDict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def clear(self) -> None:
        self.frames.clear()
        self.splits.clear()


MEMO = _Memo()


def enable_memo(on: bool = True) -> None:
    """Share loaded files and splits between the stages run by this process (local worker)."""
    MEMO.enabled = on
    if not on:
        MEMO.clear()


def file_key(path: Path) -> tuple[Any, ...]:
    """What identifies a file's content without reading it (as `mlgen run`'s stat cache does)."""
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def _own_copy(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    cow = int(pd.__version__.split(".")[0]) >= 3
    return frame.copy(deep=not cow)


def _remember(store: OrderedDict[Any, Any], key: Any, value: Any, size: int) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > size:
        store.popitem(last=False)


def load_frame(path: Path, shown: str | None = None) -> pd.DataFrame:
    """Read a .csv or .parquet file; any failure is BadInput naming the file."""
    name = shown or path.as_posix()
    if not path.is_file():
        raise BadInput(f"{name}: file not found")
    if path.stat().st_size == 0:
        raise BadInput(f"{name}: the file is empty")
    if not MEMO.enabled:
        return _read_frame(path, name)
    key = file_key(path)
    hit = MEMO.frames.get(key)
    if hit is None:
        hit = _read_frame(path, name)
        _remember(MEMO.frames, key, hit, MEMO_FILES)
    return _own_copy(hit)


def _read_frame(path: Path, name: str) -> pd.DataFrame:
    import pandas as pd

    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, engine="c", low_memory=False)
    except pd.errors.EmptyDataError:
        raise BadInput(f"{name}: no columns to read (empty file?)") from None
    except pd.errors.ParserError as exc:
        raise BadInput(f"{name}: not a valid CSV file: {exc}") from None
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        raise BadInput(f"{name}: cannot read it: {exc}") from None
    except Exception as exc:  # pyarrow raises its own types for truncated files
        raise BadInput(f"{name}: cannot read it: {type(exc).__name__}: {exc}") from None
    if frame.shape[1] == 0:
        raise BadInput(f"{name}: no columns")
    if len(set(map(str, frame.columns))) != frame.shape[1]:
        raise BadInput(f"{name}: duplicate column names")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def training_frame(settings: dict[str, Any], root: Path) -> pd.DataFrame:
    """The training data with a usable target column (exit 2 otherwise)."""
    data = settings["data"]
    frame = load_frame(root / data["path"], data["path"])
    target = data["target"]
    if target not in frame.columns:
        raise BadInput(f"{data['path']}: target column `{target}` not found; columns: {', '.join(frame.columns[:20])}")
    missing = frame[target].isna()
    if missing.any():
        row = int(missing.to_numpy().argmax())
        raise BadInput(f"{data['path']}: target column `{target}` is empty in {int(missing.sum())} rows (first: data row {row + 1})")
    if len(frame) < 2:
        raise BadInput(f"{data['path']}: needs at least 2 rows, found {len(frame)}")
    return frame


def split(frame: pd.DataFrame, settings: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shared hold-out split: stratified for classification when every class allows it.

    Exactly `train_test_split(frame, ...)`: the row positions depend only on the row count, the
    target and the seed, so they are computed on positions (memoized in the local worker, keyed
    by those inputs) and the frame is indexed as train_test_split indexes it."""
    from sklearn.utils import _safe_indexing

    train_idx, test_idx = split_positions(frame[settings["data"]["target"]], settings)
    return _safe_indexing(frame, train_idx), _safe_indexing(frame, test_idx)


def split_positions(y: pd.Series, settings: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row positions of the shared split of data whose target column is `y`."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    data = settings["data"]
    seed = int(settings["project"]["seed"])
    stratify = None
    if data["task"] == "classification":
        counts = y.value_counts()
        if len(counts) > 1 and counts.min() >= 2:
            stratify = y
    key = None
    if MEMO.enabled:
        key = (len(y), data["test_size"], seed, stratify is not None, _series_digest(y) if stratify is not None else "")
        hit = MEMO.splits.get(key)
        if hit is not None:
            return hit[0].copy(), hit[1].copy()
    train, test = train_test_split(np.arange(len(y)), test_size=data["test_size"], random_state=seed, stratify=stratify)
    if key is not None:
        _remember(MEMO.splits, key, (train.copy(), test.copy()), MEMO_SPLITS)
    return train, test


def _series_digest(y: pd.Series) -> str:
    import pandas as pd

    h = hashlib.sha256(str(y.dtype).encode())
    h.update(pd.util.hash_pandas_object(y, index=False).to_numpy().tobytes())
    return h.hexdigest()


def features(frame: pd.DataFrame, settings: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series]:
    target = settings["data"]["target"]
    return frame.drop(columns=[target]), frame[target]


def frame_hash(frame: pd.DataFrame) -> str:
    """Content hash of a frame (order-sensitive), for metadata and the local cache."""
    import pandas as pd

    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()
