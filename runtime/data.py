"""Reading the data and the one train/test split every stage shares.

The split is a pure function of the data and the seed, so validate, train, select and evaluate
in separate CI jobs all see the same held-out rows without passing them around.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgen_runtime.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd


def load_frame(path: Path, shown: str | None = None) -> pd.DataFrame:
    """Read a .csv or .parquet file; any failure is BadInput naming the file."""
    import pandas as pd

    name = shown or path.as_posix()
    if not path.is_file():
        raise BadInput(f"{name}: file not found")
    if path.stat().st_size == 0:
        raise BadInput(f"{name}: the file is empty")
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
    """The shared hold-out split: stratified for classification when every class allows it."""
    from sklearn.model_selection import train_test_split

    data = settings["data"]
    seed = int(settings["project"]["seed"])
    y = frame[data["target"]]
    stratify = None
    if data["task"] == "classification":
        counts = y.value_counts()
        if len(counts) > 1 and counts.min() >= 2:
            stratify = y
    train, test = train_test_split(frame, test_size=data["test_size"], random_state=seed, stratify=stratify)
    return train, test


def features(frame: pd.DataFrame, settings: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series]:
    target = settings["data"]["target"]
    return frame.drop(columns=[target]), frame[target]


def frame_hash(frame: pd.DataFrame) -> str:
    """Content hash of a frame (order-sensitive), for metadata and the local cache."""
    import hashlib

    import pandas as pd

    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()
