"""The files `python -m mlgen.schema_update` writes are current: the JSON Schema (from the model)
and the estimator table (from the installed scikit-learn)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from mlgen.cli import main
from mlgen.schema import generate_schema, packaged_schema
from tests.support import golden

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "schemas" / "mlproject.schema.json").read_text()
    assert committed == generate_schema(), "schema is stale: run `python -m mlgen.schema_update` (see README)"


def test_committed_estimator_table_is_current() -> None:
    """compiler/spec/estimators.py is what the installed scikit-learn answers (it records the
    version it came from; another version may know other estimators, so then there is nothing to
    compare)."""
    import sklearn

    from mlgen.spec import estimators
    from mlgen.spec.estimatorgen import generate_estimators

    if sklearn.__version__ != estimators.SKLEARN_VERSION:
        pytest.skip(f"table from scikit-learn {estimators.SKLEARN_VERSION}, {sklearn.__version__} installed")
    committed = (ROOT / "compiler" / "spec" / "estimators.py").read_text(encoding="utf-8")
    assert committed == generate_estimators(), "compiler/spec/estimators.py is stale: run `python -m mlgen.schema_update`"


def test_mlgen_schema_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == packaged_schema()


@pytest.mark.parametrize("case", golden.all_specs())
def test_golden_specs_satisfy_the_schema(case: str) -> None:
    """A JSON Schema validator (not pydantic) accepts every valid spec."""
    schema = json.loads(packaged_schema())
    doc = tomllib.loads((golden.GOLDEN / case / golden.spec_name(case)).read_text())
    data = doc["tool"]["mlgen"] if golden.spec_name(case) == "pyproject.toml" else doc
    jsonschema.Draft202012Validator(schema).validate(data)


def test_schema_rejects_unknown_keys() -> None:
    schema = json.loads(packaged_schema())
    doc = tomllib.loads((golden.GOLDEN / "minimal" / "mlproject.toml").read_text())
    doc["train"]["estimatr"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(doc)
