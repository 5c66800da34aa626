"""Deterministic model files (modelio.normalise_archive): for every trusted class, two fits with
the same seed give the same bytes; the normalised file loads with skops and the unchanged
allow-list and predicts exactly what the original does; a schema.json naming a missing entry is
refused."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgen_runtime import modelio
from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import sha256_bytes
from tests.runtime.test_model_safety import _fit, _zoo_data, trusted_savable_classes


def _seeded_fit(cls: type, kind: str) -> Any:
    """`cls` fitted on the small data with every random_state fixed (nested ones too)."""
    X, yc, yr = _zoo_data()
    np.random.seed(0)  # estimators reading the global generator
    est = _fit(cls, kind, X, yc, yr)
    if est is None:
        return None
    seeds = {k: 0 for k in est.get_params(deep=True) if k == "random_state" or k.endswith("__random_state")}
    if seeds:
        np.random.seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = _fit_again(est.set_params(**seeds), kind, X, yc, yr)
    return est


def _fit_again(est: Any, kind: str, X: np.ndarray, yc: np.ndarray, yr: np.ndarray) -> Any:
    n = getattr(est, "n_features_in_", X.shape[1])
    x = X[:, :n]
    for y in ([yc, yc % 2, np.column_stack([yc % 2, yc // 2])] if kind == "classifier"
              else [yr, np.column_stack([yr, -yr])] if kind == "regressor" else [None]):
        try:
            return est.fit(x, y) if y is not None else est.fit(x)
        except Exception:  # noqa: BLE001 - the next shape of y
            continue
    return None


def _saved(cls: type, kind: str) -> bytes | None:
    est = _seeded_fit(cls, kind)
    if est is None:
        return None
    try:
        raw = sio.dumps(est)
    except sio.exceptions.UnsupportedTypeException:
        return None
    if modelio.untrusted_refused(sio.get_untrusted_types(data=raw)):
        return None  # never loaded by mlgen: nothing to compare
    return raw


@pytest.fixture(scope="module")
def pairs() -> dict[str, tuple[bytes, bytes]]:
    """Per trusted savable class: (raw skops bytes of fit 1, raw bytes of fit 2)."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cls, kind in trusted_savable_classes():
            first, second = _saved(cls, kind), _saved(cls, kind)
            if first is not None and second is not None:
                out[cls.__name__] = (first, second)
    return out


def test_most_trusted_classes_are_compared(pairs: dict[str, tuple[bytes, bytes]]) -> None:
    assert len(pairs) >= 100, sorted(pairs)


def _outputs(model: Any, X: np.ndarray) -> list[np.ndarray]:
    out = []
    for method in ("predict", "predict_proba", "decision_function", "transform"):
        if hasattr(model, method):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    got = getattr(model, method)(X[:, : getattr(model, "n_features_in_", X.shape[1])])
                    out.append(np.asarray(got.toarray() if hasattr(got, "toarray") else got))
                except Exception:  # noqa: BLE001 - a method the fitted model does not support
                    out.append(np.asarray([]))
    return out


def test_same_seed_same_bytes_and_same_predictions(pairs: dict[str, tuple[bytes, bytes]]) -> None:
    """Every class at once (one fixture): raw skops bytes differ, normalised bytes do not, and
    the normalised model predicts bit for bit what the original predicts."""
    X = _zoo_data()[0]
    differ, raw_equal = [], 0
    for name, (first, second) in sorted(pairs.items()):
        a, b = modelio.normalise_archive(first), modelio.normalise_archive(second)
        raw_equal += first == second
        if a != b:
            differ.append(name)
            continue
        original = sio.loads(first, trusted=sio.get_untrusted_types(data=first))
        found = modelio.found_types(a, name)
        assert sorted(found) == sorted(sio.get_untrusted_types(data=first)), name  # the allow-list sees the same types
        normalised = modelio.load_checked(a, sha256_bytes(a), name)
        for want, got in zip(_outputs(original, X), _outputs(normalised, X), strict=True):
            np.testing.assert_array_equal(got, want, err_msg=name)
        assert modelio.normalise_archive(a) == a, name  # idempotent
    assert differ == []
    assert raw_equal < len(pairs)  # the raw files really differ (or this proves nothing)


def test_entries_are_named_by_content_with_fixed_metadata(pairs: dict[str, tuple[bytes, bytes]]) -> None:
    data = modelio.normalise_archive(pairs["RandomForestClassifier"][0])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos = z.infolist()
        assert infos[0].filename == "schema.json"
        assert [i.filename for i in infos[1:]] == sorted(i.filename for i in infos[1:])
        for info in infos:
            assert info.date_time == modelio.FIXED_DATE and info.external_attr == modelio.ENTRY_ATTR
            assert info.compress_type == zipfile.ZIP_STORED
            if info.filename != "schema.json":
                assert info.filename.split(".")[0] == sha256_bytes(z.read(info))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_schema_naming_a_missing_entry_is_refused(pairs: dict[str, tuple[bytes, bytes]], data: st.DataObject) -> None:
    """Any archive with any one referenced entry removed: BadInput, nothing written."""
    name = data.draw(st.sampled_from(sorted(pairs)))
    raw = pairs[name][0]
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        entries = {i.filename: z.read(i) for i in z.infolist()}
    arrays = sorted(n for n in entries if n != "schema.json")
    if not arrays:
        return
    gone = data.draw(st.sampled_from(arrays))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for n, content in entries.items():
            if n != gone:
                z.writestr(n, content)
    with pytest.raises(BadInput, match="missing entry"):
        modelio.normalise_archive(buffer.getvalue())


def test_save_model_writes_the_normalised_bytes(tmp_path: Path, pairs: dict[str, tuple[bytes, bytes]]) -> None:
    model = sio.loads(pairs["Ridge"][0], trusted=sio.get_untrusted_types(data=pairs["Ridge"][0]))
    sha_a = modelio.save_model(model, tmp_path / "a")
    sha_b = modelio.save_model(model, tmp_path / "b")
    assert sha_a == sha_b == sha256_bytes((tmp_path / "a" / modelio.MODEL_FILE).read_bytes())
    schema = json.loads(zipfile.ZipFile(tmp_path / "a" / modelio.MODEL_FILE).read("schema.json"))
    assert 0 <= schema["__id__"] < 1000  # renumbered, no longer an id() address
