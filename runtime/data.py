"""Reading the data and the one train/test split every stage shares.

The split is a pure function of the data and the seed, so validate, train, select and evaluate
in separate CI jobs all see the same held-out rows without passing them around.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgen_runtime.errors import BadInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def load_frame(path: Path, shown: str | None = None) -> pd.DataFrame:
    """Read a .csv or .parquet file; any failure is BadInput naming the file."""
    name = shown or path.as_posix()
    if not path.is_file():
        raise BadInput(f"{name}: file not found")
    if path.stat().st_size == 0:
        raise BadInput(f"{name}: the file is empty")
    import pandas as pd

    if path.suffix != ".parquet":
        _check_csv_header(path, name)
    else:
        _check_parquet_names(path, name)
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
        names = [str(c) for c in frame.columns]
        twice = sorted({c for c in names if names.count(c) > 1})
        raise BadInput(f"{name}: column names appear twice: {', '.join(f'`{c}`' for c in twice)}; rename them")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _check_parquet_names(path: Path, name: str) -> None:
    """BadInput naming the columns a Parquet schema holds twice (pyarrow then fails with its
    internal field lookup); a file whose schema cannot be read is left to the reader."""
    try:
        import pyarrow.parquet as pq

        names = [str(n) for n in pq.read_schema(path).names]
    except Exception:  # not Parquet, truncated, no pyarrow: pandas' reader says what is wrong
        return
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadInput(f"{name}: the schema names column {', '.join(f'`{c}`' for c in twice)} twice; rename one of each")


def _check_csv_header(path: Path, name: str) -> None:
    """BadInput when the header names a column twice: pandas would rename the second `x` to
    `x.1` and train it as one more feature. Read from the header itself (pandas' own names are
    already renamed), with pandas' defaults: `,`, `"` quotes, UTF-8 with or without a BOM."""
    import csv

    header: list[str] = []
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        try:
            for row in csv.reader(f):
                if row and not (len(row) == 1 and not row[0].strip()):  # pandas skips blank lines before the header
                    header = row
                    break
        except csv.Error:  # NUL bytes, a giant field: pandas reads (or refuses) the file itself
            return
    seen: dict[str, int] = {}
    for i, column in enumerate(header, start=1):
        if column == "":
            continue  # pandas names each empty one `Unnamed: <n>`: not a repeat
        if column in seen:
            raise BadInput(f"{name}: the header names column `{column}` twice (columns {seen[column]} and {i}); "
                           f"pandas would read the second as `{column}.1`: rename one of them")
        seen[column] = i


@dataclass(frozen=True)
class Training:
    """The training file as every stage reads it: `frame` holds the rows with a target (their
    index is their position in the file, so messages can name data rows), `raw` the whole file."""

    frame: pd.DataFrame
    raw: pd.DataFrame
    dropped: int  # rows left out because their target is missing
    first_dropped: int | None  # 0-based position in the file of the first of them

    def note(self, target: str) -> str | None:
        """What the reports say about the dropped rows (None when there are none)."""
        if not self.dropped:
            return None
        rows = f"{self.dropped:,} row{'s' if self.dropped != 1 else ''}"
        return (f"{rows} with a missing target `{target}` left out (first: data row {self.first_dropped + 1}); "
                'data.missing_target = "error" refuses them instead')


def load_training(settings: dict[str, Any], root: Path) -> Training:
    """The training data with a usable target column (exit 2 otherwise). Rows whose target is
    missing are left out and counted, or refused with data.missing_target = "error"."""
    data = settings["data"]
    raw = load_frame(root / data["path"], data["path"])
    target = data["target"]
    if target not in raw.columns:
        raise BadInput(f"{data['path']}: target column `{target}` not found; columns: {', '.join(raw.columns[:20])}")
    from mlgen_runtime.profile import nested_kind

    nested = nested_kind(raw[target].dropna())
    if nested is not None:
        raise BadInput(f"{data['path']}: target column `{target}` holds {nested}; the target must be one value a row")
    if data.get("task") == "regression":
        _check_target_scale(raw[target], data["path"])
    training = with_target(raw, target)
    if training.dropped and data.get("missing_target", "drop") == "error":
        raise BadInput(f"{data['path']}: target column `{target}` is empty in {training.dropped:,} rows "
                       f"(first: data row {training.first_dropped + 1}); data.missing_target = \"error\"")
    if len(training.frame) < 2:
        raise BadInput(f"{data['path']}: needs at least 2 rows with a target, found {len(training.frame)}")
    return training


def _check_target_scale(y: pd.Series, where: str) -> None:
    """BadInput when a regression target is finite but so large that centring it overflows
    float64 (estimators then see NaN and say "contains infs or NaNs")."""
    import numpy as np
    from pandas.api import types as t

    from mlgen_runtime.pipeline import overflow_message, overflows

    if not t.is_float_dtype(y.dtype):
        return  # integers stay below 1e19; text is validate's `target` check
    values = y.to_numpy(dtype="float64", na_value=np.nan)
    if overflows(values[np.isfinite(values)]):
        raise BadInput(f"{where}: target {overflow_message(str(y.name), values)}")


def with_target(raw: pd.DataFrame, target: str) -> Training:
    """The rows of `raw` whose target is present (`raw` itself when they all are)."""
    missing = raw[target].isna().to_numpy()
    dropped = int(missing.sum())
    if not dropped:
        return Training(raw, raw, 0, None)
    return Training(raw[~missing], raw, dropped, int(missing.argmax()))


def training_frame(settings: dict[str, Any], root: Path) -> pd.DataFrame:
    """The rows of the training data that have a target (see `load_training`)."""
    return load_training(settings, root).frame


def split(frame: pd.DataFrame, settings: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shared hold-out split of the training rows (`split_positions`), as frames."""
    from sklearn.utils import _safe_indexing

    parts = split_positions(frame, settings)
    return _safe_indexing(frame, parts.train), _safe_indexing(frame, parts.test)


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # row positions in the frame
    test: np.ndarray
    how: dict[str, Any]  # for provenance: method, columns, groups, cutoff
    groups: np.ndarray | None = None  # group number per row when rows were joined ("grouped")
    keys: np.ndarray | None = None  # feature_keys per row (not for a time split)


def split_positions(frame: pd.DataFrame, settings: dict[str, Any]) -> Split:
    """(train, test) row positions of the shared split. A pure function of the data and the seed:

    - rows with identical features are one group, so a held-out row never has a twin the model
      trained on (survey and panel data repeat whole rows); with `data.split.group` rows of one
      group value also stay together (groups joined through shared rows are one);
    - classification: stratified by the target (groups by their most common class);
    - `data.split.time`: the latest `test_size` share is held out, all rows of the boundary
      time on the held-out side; identical rows at different times are not joined (that would
      break the order): validate's `leakage` reports them as a warning.
    Without repeated rows or a group column this is exactly `train_test_split` on positions."""
    d = settings["data"]
    plan = d.get("split") or {}
    group_col, time_col = plan.get("group"), plan.get("time")
    for key, col in (("group", group_col), ("time", time_col)):
        if col is not None and col not in frame.columns:
            raise BadInput(f"data.split.{key}: column `{col}` is not in {d['path']}")
    y = frame[d["target"]]
    keys = None if time_col is not None else feature_keys(frame, settings)
    if time_col is not None:
        return _time_split(frame[time_col], d)
    result = _grouped_split(y, keys, None if group_col is None else frame[group_col], settings)
    return Split(result.train, result.test, result.how, result.groups, keys)


def feature_keys(frame: pd.DataFrame, settings: dict[str, Any]) -> np.ndarray:
    """One uint64 per row over the columns the model reads: equal features, equal keys."""
    from mlgen_runtime.profile import of_settings

    columns = list(of_settings(frame, settings).features)
    if not columns:  # nothing to compare: every row is its own group
        import numpy as np

        return np.arange(len(frame), dtype="uint64")
    return hash_rows(frame[columns])


def hash_rows(frame: pd.DataFrame) -> np.ndarray:
    """One uint64 per row over all its values: equal rows, equal hashes (collisions: ~n²/2⁶⁵).
    Lists and records (Parquet list/struct/map columns) are hashed by their full JSON text (str()
    of a long array elides its middle, which would make different rows equal)."""
    import pandas as pd

    try:
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:  # unhashable values in an object column
        plain = frame.copy()
        for name in plain.columns:
            if plain[name].dtype == object:
                plain[name] = plain[name].map(_as_text)
        return pd.util.hash_pandas_object(plain, index=False).to_numpy()


def _as_text(value: Any) -> Any:
    import json

    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return json.dumps(_plain(value), sort_keys=True, default=str)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


def _groups(keys: np.ndarray, group: pd.Series | None) -> np.ndarray:
    """Group number per row: rows with equal keys, and (with a group column) rows of one group
    value, transitively (connected components of rows, keys and group values)."""
    import numpy as np
    import pandas as pd

    codes, _ = pd.factorize(keys)
    if group is None:
        return codes
    gcodes, uniques = pd.factorize(group)  # a missing group value: each such row on its own
    lone = gcodes < 0
    gcodes[lone] = len(uniques) + np.arange(int(lone.sum()))
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n_keys, n_groups = int(codes.max()) + 1, int(gcodes.max()) + 1
    # a graph of feature keys and group values, one edge per row
    graph = coo_matrix((np.ones(len(codes)), (codes, n_keys + gcodes)), shape=(n_keys + n_groups,) * 2)
    _, labels = connected_components(graph, directed=False)
    return labels[codes]


def _stratify(labels: pd.Series, test_size: float) -> pd.Series | None:
    """`labels` when train_test_split can stratify by them (every class twice, room for each)."""
    import math

    counts = labels.value_counts()
    if len(counts) < 2 or counts.min() < 2 or math.ceil(test_size * len(labels)) < len(counts):
        return None
    return labels


def _grouped_split(y: pd.Series, keys: np.ndarray, group: pd.Series | None, settings: dict[str, Any]) -> Split:
    import numpy as np
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    d = settings["data"]
    seed, test_size = int(settings["project"]["seed"]), d["test_size"]
    classify = d["task"] == "classification"
    groups = _groups(keys, group)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    how: dict[str, Any] = {"method": "random", "stratified": False, "group": None if group is None else group.name,
                           "rows": len(groups), "groups": n_groups}
    if n_groups == len(y):  # no two rows together: the plain split
        stratify = _stratify(y, test_size) if classify else None
        positions = np.arange(len(y))
        train, test = train_test_split(positions, test_size=test_size, random_state=seed, stratify=stratify)
        how["stratified"] = stratify is not None
        return Split(train, test, how)
    how["method"] = "grouped"
    if n_groups < 2:
        raise BadInput(f"{d['path']}: every row is in one group (identical features"
                       f"{' or one data.split.group value' if group is not None else ''}); nothing can be held out")
    stratify = None
    if classify:
        stratify = _stratify(majority(groups, y), test_size)
    if stratify is not None:
        ids = np.arange(n_groups)
        _, test_groups = train_test_split(ids, test_size=test_size, random_state=seed, stratify=stratify.to_numpy())
        test_mask = np.isin(groups, test_groups)
        how["stratified"] = True
    else:
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        _, test = next(splitter.split(np.zeros(len(y)), groups=groups))
        test_mask = np.zeros(len(y), dtype=bool)
        test_mask[test] = True
    return Split(np.flatnonzero(~test_mask), np.flatnonzero(test_mask), how, groups)


def majority(groups: np.ndarray, y: pd.Series) -> pd.Series:
    """Each group's most common class (ties: the class seen first in the file), by group number."""
    import pandas as pd

    codes, classes = pd.factorize(y)
    counts = pd.DataFrame({"g": groups, "c": codes}).value_counts().reset_index(name="n")
    top = counts.sort_values(["g", "n", "c"], ascending=[True, False, True], kind="stable").drop_duplicates("g")
    return pd.Series(classes.take(top["c"].to_numpy()), index=top["g"].to_numpy()).sort_index()


def time_values(series: pd.Series, where: str) -> np.ndarray:
    """The time column as orderable float64 (dates as days); BadInput when it is neither."""
    import numpy as np
    from pandas.api import types as t

    from mlgen_runtime.profile import as_days

    if t.is_numeric_dtype(series.dtype) and not t.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    values = as_days(series).to_numpy(dtype="float64", na_value=np.nan)
    bad = np.isnan(values) & series.notna().to_numpy()
    if bad.any():
        pos = int(np.argmax(bad))
        raise BadInput(f"{where}: data.split.time column `{series.name}` is neither a date/time nor a number "
                       f"({int(bad.sum()):,} values, first: {series.iloc[pos]!r})")
    return values


def time_order(frame: pd.DataFrame, settings: dict[str, Any]) -> np.ndarray:
    """Positions of `frame`'s rows in data.split.time order (stable: ties keep file order; rows
    without a time first, as the split counts them among the past)."""
    import numpy as np

    values = time_values(frame[settings["data"]["split"]["time"]], settings["data"]["path"])
    return np.argsort(np.where(np.isnan(values), -np.inf, values), kind="stable")


def _time_split(series: pd.Series, d: dict[str, Any]) -> Split:
    """The latest `test_size` share held out; ties at the boundary all held out (all kept when
    that would leave no training row). Rows without a time are training rows: they cannot be
    placed after anything."""
    import math

    import numpy as np

    values = time_values(series, d["path"])
    known = ~np.isnan(values)
    n_test = math.ceil(d["test_size"] * len(values))
    ordered = np.sort(values[known])
    if len(ordered) < 2 or ordered[0] == ordered[-1]:
        raise BadInput(f"{d['path']}: data.split.time column `{series.name}` needs at least two different times")
    cutoff = ordered[max(len(ordered) - n_test, 0)]
    test_mask = known & (values >= cutoff)
    if test_mask.sum() == known.sum():  # the cutoff is the earliest time: hold out the later ones only
        test_mask = known & (values > cutoff)
        cutoff = float(ordered[ordered > cutoff][0])
    how = {"method": "time", "stratified": False, "time": series.name, "cutoff": _time_label(series, values, cutoff),
           "rows_without_time": int((~known).sum())}
    return Split(np.flatnonzero(~test_mask), np.flatnonzero(test_mask), how)


def _time_label(series: pd.Series, values: np.ndarray, cutoff: float) -> Any:
    """The boundary as the data spells it (the first row with that time)."""
    import numpy as np

    value = series.iloc[int(np.argmax(values == cutoff))]
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (int, float, str)) else str(value)


def features(frame: pd.DataFrame, settings: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series]:
    target = settings["data"]["target"]
    return frame.drop(columns=[target]), frame[target]


def frame_hash(frame: pd.DataFrame) -> str:
    """Content hash of a frame (order-sensitive), for metadata and the local cache."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(hash_rows(frame).tobytes())
    return h.hexdigest()
