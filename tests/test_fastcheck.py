"""The fast spec checker (spec/fastcheck.py) agrees with the pydantic model it stands in for.

- shapes.py, the table it walks, is what the model generates now;
- on every spec in the repository (goldens, error corpus, starters, the demo) and on generated
  documents: when it accepts, pydantic accepts too, with the same records and the same dump;
- on documents built to be valid it accepts whenever pydantic does (so compiles take the fast
  path), and a compile of a valid spec never imports pydantic.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgen.spec import diagnose, fastcheck
from mlgen.spec.record import Record
from mlgen.spec.shapegen import generate_shapes
from mlgen.spec.shapes import MODELS, ROOT
from tests.support import golden

REPO = Path(__file__).resolve().parent.parent
SHAPES_FILE = REPO / "compiler" / "spec" / "shapes.py"
ESTIMATORS_FILE = REPO / "compiler" / "spec" / "estimators.py"


def _spec_files() -> list[Path]:
    found = [REPO / "mlproject.toml"]
    found += sorted((REPO / "tests" / "golden").glob("*/mlproject.toml"))
    found += sorted((REPO / "tests" / "golden").glob("*/pyproject.toml"))
    found += sorted((REPO / "tests" / "error_corpus").glob("*/*.toml"))
    found += sorted((REPO / "docs" / "examples").glob("**/mlproject.toml"))
    return found


def _document(path: Path) -> Any:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    return doc.get("tool", {}).get("mlgen") if path.name == "pyproject.toml" else doc


def _agree(data: Any) -> bool:
    """Assert fast-accepts => pydantic accepts with equal records and dump; True if fast accepted."""
    fast = fastcheck.check(data)
    slow = diagnose.validate(data)
    if fast is None:
        return False
    assert not slow.issues, f"fast path accepted what pydantic refuses: {slow.issues}"
    assert fast[0] == slow.spec
    assert fast[1] == slow.settings
    assert repr(fast[1]) == repr(slow.settings)  # same types too (1.0 vs 1), in the same key order
    return True


def test_committed_shapes_are_current() -> None:
    assert SHAPES_FILE.read_text(encoding="utf-8") == generate_shapes(), \
        "compiler/spec/shapes.py is stale: run `python -m mlgen.schema_update`"


def test_committed_estimator_table_is_current() -> None:
    """compiler/spec/estimators.py is what the installed scikit-learn answers (it records the
    version it came from; another version may know other estimators, so then there is nothing to
    compare)."""
    import sklearn

    from mlgen.spec import estimators
    from mlgen.spec.estimatorgen import generate_estimators

    if sklearn.__version__ != estimators.SKLEARN_VERSION:
        pytest.skip(f"table from scikit-learn {estimators.SKLEARN_VERSION}, {sklearn.__version__} installed")
    assert ESTIMATORS_FILE.read_text(encoding="utf-8") == generate_estimators(), \
        "compiler/spec/estimators.py is stale: run `python -m mlgen.schema_update`"


@pytest.mark.parametrize("path", _spec_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_agrees_with_pydantic_on_every_spec_in_the_repository(path: Path) -> None:
    data = _document(path)
    if data is None:
        pytest.skip("not TOML (a parse-error case)")
    accepted = _agree(data)
    if "error_corpus" not in path.parts:
        assert accepted, "a valid spec must take the fast path"


# ------------------------------------------------------------------------- generated documents

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_ANY_SCALAR = st.one_of(st.booleans(), st.integers(-10, 300), st.floats(allow_nan=True, allow_infinity=True), _TEXT)


def _valid(shape: tuple[Any, ...], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values the model should accept for `shape` (value checks like `no ..` may still refuse)."""
    tag = shape[0]
    if tag == "str":
        _, pattern, min_len, max_len, _checks = shape
        if pattern:
            base: st.SearchStrategy[str] = st.from_regex(pattern, fullmatch=True)
        else:
            base = st.text(min_size=min_len or 0, max_size=20)
        return base.filter(lambda s: (min_len is None or len(s) >= min_len) and (max_len is None or len(s) <= max_len))
    if tag in ("int", "float"):
        _, ge, gt, le, lt = shape
        lo = ge if ge is not None else gt
        hi = le if le is not None else lt
        if tag == "int":
            lo_i = -5 if lo is None else int(lo) + (gt is not None)
            hi_i = lo_i + 50 if hi is None else int(hi) - (lt is not None)
            return st.integers(lo_i, min(hi_i, lo_i + 10**6))
        floats = st.floats(min_value=lo, max_value=hi, exclude_min=gt is not None, exclude_max=lt is not None,
                           allow_nan=False, allow_infinity=False)
        ints = st.integers(math.ceil(lo) if lo is not None else -5, math.floor(hi) if hi is not None else 50)
        return st.one_of(floats, ints.filter(lambda v: (gt is None or v > gt) and (lt is None or v < lt)))
    if tag == "bool":
        return st.booleans()
    if tag == "lit":
        return st.sampled_from(shape[1])
    if tag == "list":
        return st.lists(_valid(shape[1], depth + 1), min_size=shape[2] or 0, max_size=3)
    if tag == "dict":
        return st.dictionaries(st.from_regex(r"\A[a-z_]{1,8}\Z"), _valid(shape[1], depth + 1),
                               min_size=shape[2] or 0, max_size=3)
    if tag == "model":
        return _valid_model(shape[1], depth + 1)
    if tag == "opt":
        return _valid(shape[1], depth)
    if tag == "union":
        return st.one_of([_valid(s, depth) for s in shape[1]])
    raise AssertionError(tag)


def _valid_model(name: str, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    required = {key: _valid(shape, depth) for _a, key, shape, default in MODELS[name] if default[0] == "required"}
    optional = {key: _valid(shape, depth) for _a, key, shape, default in MODELS[name] if default[0] != "required"}
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def _mutated(draw: st.DrawFn) -> Any:
    """A valid document with one thing broken or bent: a value swapped, a key dropped or added."""
    doc = draw(_valid_model(ROOT))
    tables = [doc] + [v for v in doc.values() if isinstance(v, dict)]
    table = draw(st.sampled_from(tables))
    action = draw(st.sampled_from(["swap", "drop", "add"]))
    if action == "swap" and table:
        table[draw(st.sampled_from(sorted(table)))] = draw(st.one_of(_ANY_SCALAR, st.lists(_ANY_SCALAR, max_size=2),
                                                                     st.dictionaries(_TEXT, _ANY_SCALAR, max_size=2)))
    elif action == "drop" and table:
        del table[draw(st.sampled_from(sorted(table)))]
    else:
        table[draw(_TEXT)] = draw(_ANY_SCALAR)
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(_valid_model(ROOT))
def test_documents_built_valid_take_the_fast_path_when_pydantic_accepts(data: dict[str, Any]) -> None:
    slow = diagnose.validate(data)
    accepted = _agree(data)
    if not slow.issues and _plain(data):
        assert accepted, "pydantic accepts this printable-ASCII spec, so the fast path should too"


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(_mutated())
def test_bent_documents_are_never_accepted_wrongly(data: Any) -> None:
    _agree(data)


def _plain(value: Any) -> bool:
    """Every string printable ASCII (where the fast path matches patterns itself)."""
    if isinstance(value, str):
        return value.isascii() and value.isprintable()
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return True


# ------------------------------------------------------------------------------------ records

def test_records_are_read_only_and_compare_by_value() -> None:
    data = _document(REPO / "mlproject.toml")
    first, second = fastcheck.check(data), fastcheck.check(data)
    assert first is not None and second is not None
    spec: Record = first[0]
    assert spec == second[0] and spec is not second[0]
    with pytest.raises(AttributeError, match="read-only"):
        spec.project = None  # type: ignore[attr-defined]
    assert type(spec.data).__name__ == "Data" and spec.validate_.min_rows >= 0  # type: ignore[attr-defined]
    assert "validate" in first[1] and "validate_" not in first[1]  # the dump is by TOML key


def test_defaults_are_fresh_objects() -> None:
    data = _document(golden.GOLDEN / "minimal" / "mlproject.toml")
    a, b = fastcheck.check(data), fastcheck.check(data)
    assert a is not None and b is not None
    a[0].ci.branches.append("other")  # type: ignore[attr-defined]
    assert b[0].ci.branches == ["main"]  # type: ignore[attr-defined]
    assert fastcheck.check(data)[0].ci.branches == ["main"]  # type: ignore[index,attr-defined]


def test_a_valid_compile_never_imports_pydantic(tmp_path: Path) -> None:
    golden.copy_inputs("full", tmp_path)
    code = "import sys; from mlgen.cli import main; rc = main(['compile', '-q']); print(rc, 'pydantic' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert res.stdout.strip().splitlines()[-1] == "0 False"
