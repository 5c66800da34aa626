"""`python -m mlgen.schema_update`: rewrite the files generated from the spec model and from
the installed scikit-learn (for developers working in a checkout): schemas/mlproject.schema.json
and compiler/spec/estimators.py."""

from __future__ import annotations

from pathlib import Path

from mlgen.schema import SCHEMA_FILE, generate_schema
from mlgen.spec.estimatorgen import generate_estimators

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for target, text in ((here.parent / "schemas" / SCHEMA_FILE, generate_schema()),
                         (here / "spec" / "estimators.py", generate_estimators())):
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
