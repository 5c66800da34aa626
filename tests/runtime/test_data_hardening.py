"""Data inputs attacked by class (issue 13, item 12).

- Lists and records (Parquet list/struct/map columns): never a crash; left out of the features
  with a warning naming the column, refused (naming it) where the contract or the target needs
  one value a row; the whole pipeline trains and evaluates around them.
- CSV headers naming a column twice: refused from the header itself, naming the column and
  both positions; headers without a repeat read back exactly as written.
- Huge finite values: `finite` fails and train refuses, naming the column, exactly when the
  scaler train fits would produce a non-finite value (the oracle is StandardScaler itself).
- Many classes: the plots draw a bounded number of classes; the metrics count all of them.
"""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgen_runtime import data, pipeline, plots, profile, validate
from mlgen_runtime.errors import BadInput
from mlgen_runtime.metrics import Predictions

N = 60


def _settings(**data_keys: Any) -> dict[str, Any]:
    d = {"path": "data/train.parquet", "target": "y", "task": "classification", "test_size": 0.25, "columns": {},
         "exclude": [], "split": {}, "allow_extra": True, **data_keys}
    return {"project": {"seed": 0, "name": "t"}, "data": d,
            "validate": {"min_rows": 1, "max_null_fraction": 1.0, "max_duplicate_fraction": 1.0,
                         "max_overlap_fraction": 1.0, "drift": None}}


# --------------------------------------------------------------------------- lists and records

KINDS = {  # one Parquet schema per column: lists of ints, structs, lists of lists, maps
    "list": st.lists(st.integers(-5, 5), min_size=1, max_size=4),
    "struct": st.fixed_dictionaries({"a": st.integers(0, 3), "b": st.text("xy", max_size=2)}),
    "nested": st.lists(st.lists(st.integers(0, 2), max_size=2), min_size=1, max_size=2),
    "map": st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 3)), min_size=1, max_size=3),
}


@st.composite
def nested_frame(draw: st.DrawFn) -> pd.DataFrame:
    """A Parquet round trip of a frame with a feature, a target and 1-3 container columns
    (values drawn per column, missing in some rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    base = pd.DataFrame({"x": rng.normal(size=N), "y": np.where(np.arange(N) % 2 == 0, "a", "b")})
    table = pa.Table.from_pandas(base, preserve_index=False)
    for k in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(sorted(KINDS)))
        values = [draw(KINDS[kind]) for _ in range(3)]
        column = [None if i % 7 == 3 else values[i % 3] for i in range(N)]
        typ = pa.map_(pa.string(), pa.int64()) if kind == "map" else None
        table = table.append_column(f"c{k}_{kind}", pa.array(column, type=typ))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return pd.read_parquet(io.BytesIO(buf.getvalue()))


@settings(max_examples=25, deadline=None)
@given(frame=nested_frame())
def test_container_columns_are_left_out_with_a_warning_naming_them(frame: pd.DataFrame) -> None:
    s = _settings()
    nested = [c for c in frame.columns if c.startswith("c")]
    prof = profile.of_settings(frame, s)
    assert prof.features == ("x",)
    assert all(any(f"`{c}`" in w for w in prof.warnings) for c in nested)
    checks = {c.name: c for c in validate.validate_frame(frame, s)}
    assert checks["features"].warning and all(f"`{c}`" in checks["features"].message for c in nested)
    assert not [c.name for c in checks.values() if not c.passed]
    # everything downstream copes: hashes, the split, training
    assert len(data.hash_rows(frame)) == N and data.frame_hash(frame)
    cols = pipeline.columns_for(frame, s)
    assert pipeline.number_problems(frame, cols) == []
    train, _ = data.split(frame, s)
    X, y = data.features(train, s)
    model = pipeline.fit(pipeline.build({**s, "train": {"estimator": "sklearn.linear_model.LogisticRegression"}}, cols),
                         pipeline.prepare(X, cols), y)
    assert len(model.predict(pipeline.prepare(X, cols))) == len(X)


def test_long_lists_hash_by_their_whole_content() -> None:
    a, b = np.arange(2000), np.arange(2000)
    b[1000] = -1  # str() of both elides the middle: "[0 1 2 ... 1997 1998 1999]"
    frame = pd.DataFrame({"l": [a, b]})
    assert str(a) == str(b)
    first, second = data.hash_rows(frame)
    assert first != second


def test_a_contract_type_on_a_list_column_is_refused_naming_it() -> None:
    frame = pd.DataFrame({"x": np.arange(N, dtype=float), "tags": [[1, 2]] * N, "y": ["a", "b"] * (N // 2)})
    s = _settings(columns={"tags": {"type": "category"}})
    types = {c.name: c for c in validate.validate_frame(frame, s)}["types"]
    assert not types.passed and types.bad_input and "column `tags`" in types.message
    cols = pipeline.columns_for(frame, s)
    [problem] = pipeline.number_problems(frame, cols)
    assert problem.startswith("column `tags`: data row 1") and "data.exclude" in problem


def test_a_list_target_is_refused(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(N, dtype=float), "y": [[i % 2] for i in range(N)]})
    frame.to_parquet(tmp_path / "t.parquet")
    with pytest.raises(BadInput, match="target column `y` holds lists"):
        data.load_training(_settings(path="t.parquet"), tmp_path)


# ------------------------------------------------------------------------------ CSV headers

name = st.text(st.sampled_from("ab1 ,\".é"), min_size=1, max_size=4)


def _csv(header: list[str], bom: bool = False) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerow(range(len(header)))
    return ("\ufeff" if bom else "") + out.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(name, min_size=1, max_size=5, unique=True), data_=st.data(), bom=st.booleans())
def test_a_repeated_header_name_is_refused_naming_it(tmp_path: Path, names: list[str], data_: st.DataObject, bom: bool) -> None:
    dup = data_.draw(st.sampled_from(names))
    at = data_.draw(st.integers(0, len(names)))
    header = names[:at] + [dup] + names[at:]
    path = tmp_path / "d.csv"
    path.write_text(_csv(header, bom), encoding="utf-8")
    with pytest.raises(BadInput) as err:
        data.load_frame(path, "d.csv")
    first, second = sorted(i + 1 for i, n in enumerate(header) if n == dup)
    assert f"names column `{dup}` twice (columns {first} and {second})" in str(err.value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(name, min_size=1, max_size=5, unique=True).filter(lambda n: len(n) > 1 or n[0].strip()),
       bom=st.booleans())
def test_a_header_without_repeats_reads_as_written(tmp_path: Path, names: list[str], bom: bool) -> None:
    # (a header of one blank name is a blank line to pandas, which skips it)
    path = tmp_path / "d.csv"
    path.write_text("\n\n" + _csv(names, bom).lstrip("\ufeff") if not bom else _csv(names, bom), encoding="utf-8")
    assert list(data.load_frame(path, "d.csv").columns) == names


# --------------------------------------------------------------------------- huge finite values

def _scaler_is_finite(values: np.ndarray) -> bool:
    from sklearn.preprocessing import StandardScaler

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return bool(np.isfinite(StandardScaler().fit_transform(values.reshape(-1, 1))).all())


magnitude = st.one_of(st.floats(-10, 10), st.floats(140, 308)).map(lambda e: 10.0 ** e)
column = st.lists(st.tuples(magnitude, st.sampled_from([-1.0, 1.0, 0.5])).map(lambda t: min(t[0] * t[1], 1.7e308) if t[1] > 0 else max(t[0] * t[1], -1.7e308)),
                  min_size=2, max_size=40).map(np.array)


@settings(max_examples=200, deadline=None)
@given(values=column)
def test_finite_fails_exactly_when_scaling_would_not_be_finite(values: np.ndarray) -> None:
    frame = pd.DataFrame({"big": values, "y": ["a", "b"] * (len(values) // 2) + ["a"] * (len(values) % 2)})
    finite = validate.check_finite(frame, {}, "y", {})
    assert finite.passed == _scaler_is_finite(values)
    problems = pipeline.number_problems(frame.drop(columns="y"), pipeline.Columns(("big",), (), (), ()))
    assert (problems == []) == _scaler_is_finite(values)
    if not finite.passed:
        assert "column `big`" in finite.message and "column `big`" in problems[0]


def test_values_near_the_float_limit_fail_validate_and_train_naming_the_column(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=N), "big": rng.choice([1e308, -1e308, 5e307], size=N),
                          "y": ["a", "b"] * (N // 2)})
    s = _settings()
    finite = {c.name: c for c in validate.validate_frame(frame, s)}["finite"]
    assert not finite.passed and "column `big`" in finite.message and "too large" in finite.message
    with pytest.raises(BadInput, match="column `big`"):
        pipeline.check_numbers(frame, pipeline.columns_for(frame, s), "data/train.csv")


# --------------------------------------------------------------------------------- many classes

@pytest.mark.parametrize("n_classes", [3, plots.MAX_DRAWN_CLASSES, plots.MAX_DRAWN_CLASSES + 1, 1000])
def test_plots_draw_a_bounded_number_of_classes(n_classes: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.metrics import ConfusionMatrixDisplay

    rng = np.random.default_rng(0)
    classes = np.array([f"c{i:04d}" for i in range(n_classes)])
    y = classes[rng.integers(0, n_classes, size=3 * n_classes)]
    y[: n_classes] = classes  # every class held out at least once
    pred = np.where(rng.random(len(y)) < 0.5, y, classes[0])
    proba = rng.random((len(y), n_classes))
    proba /= proba.sum(axis=1, keepdims=True)
    drawn: list[int] = []
    real = ConfusionMatrixDisplay.from_predictions.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, y_true: Any, y_pred: Any, **kw: Any) -> Any:
        drawn.append(len(kw["labels"]))
        return real(cls, y_true, y_pred, **kw)

    monkeypatch.setattr(ConfusionMatrixDisplay, "from_predictions", classmethod(counting))
    names = plots.write(tmp_path, "classification", y, Predictions(pred, proba, None, classes))
    assert drawn == [min(n_classes, plots.MAX_DRAWN_CLASSES)]
    assert "confusion_matrix.png" in names and (tmp_path / "confusion_matrix.png").stat().st_size > 0


def test_most_common_ranks_by_held_out_rows() -> None:
    y = np.array(["b", "c", "c", "a", "c", "b"])
    assert plots.most_common(y, ["a", "b", "c", "d"], 3) == ["c", "b", "a"]


def test_a_parquet_schema_naming_a_column_twice_is_refused_naming_it(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table([pa.array([1, 2]), pa.array([3, 4]), pa.array([0, 1])], names=["a", "a", "y"]),
                   tmp_path / "d.parquet")
    with pytest.raises(BadInput, match="names column `a` twice"):
        data.load_frame(tmp_path / "d.parquet", "d.parquet")


def test_a_regression_target_too_large_to_centre_is_refused_naming_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=N), "y": rng.choice([1e308, -1e308, 5e307], size=N)}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(BadInput, match="target column `y` holds values as large as 1e\\+308"):
        data.load_training(_settings(path="t.parquet", task="regression"), tmp_path)
    pd.DataFrame({"x": rng.normal(size=N), "y": rng.normal(size=N) * 1e100}).to_parquet(tmp_path / "t.parquet")
    assert len(data.load_training(_settings(path="t.parquet", task="regression"), tmp_path).frame) == N
