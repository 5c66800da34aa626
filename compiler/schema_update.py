"""`python -m mlgen.schema_update`: rewrite schemas/mlproject.schema.json from the model
(for developers working in a checkout)."""

from __future__ import annotations

from pathlib import Path

from mlgen.schema import SCHEMA_FILE, generate_schema

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "schemas" / SCHEMA_FILE
    target.write_text(generate_schema(), encoding="utf-8")
    print(f"wrote {target}")
