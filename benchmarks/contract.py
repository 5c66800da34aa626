"""The benchmark data's columns and data contract (standard library only: run.py reads it too).

20 columns: 12 floats (two nullable), 4 ints, 3 categories and a binary target.
"""

from __future__ import annotations

from typing import Any

TARGET = "churned"
FLOATS = [f"f{i:02d}" for i in range(1, 13)]
NULLABLE = ("f11", "f12")
INTS = {"age": (18, 90), "tenure": (0, 120), "visits": (0, 50), "tickets": (0, 9)}
CATEGORIES = {
    "plan": ["basic", "pro", "team"],
    "region": ["north", "south", "east", "west", "centre", "islands"],
    "channel": ["web", "app", "store", "phone"],
}
CATEGORY_P = {"plan": [0.5, 0.3, 0.2], "region": [0.2, 0.2, 0.2, 0.2, 0.1, 0.1], "channel": [0.4, 0.3, 0.2, 0.1]}
FEATURES = FLOATS + list(INTS) + list(CATEGORIES)
COLUMNS = FEATURES + [TARGET]
DRIFTED = ("f01", "f02", "f03", "age", "plan")  # the columns a drifted sample moves
MAX_NULL_FRACTION = 0.05


def contract() -> dict[str, dict[str, Any]]:
    """What every validation contender checks: types, bounds, allowed values, nullability."""
    out: dict[str, dict[str, Any]] = {}
    for name in FLOATS:
        out[name] = {"type": "float", "min": -50.0, "max": 50.0, "nullable": name in NULLABLE}
    for name, (lo, hi) in INTS.items():
        out[name] = {"type": "int", "min": lo, "max": hi, "nullable": False}
    for name, values in CATEGORIES.items():
        out[name] = {"type": "category", "values": values, "nullable": False}
    return out


def contract_toml() -> str:
    """The contract as mlproject.toml's [data.columns] table."""
    lines = ["[data.columns]"]
    for name, spec in contract().items():
        parts = [f'type = "{spec["type"]}"']
        if "min" in spec:
            parts += [f"min = {spec['min']}", f"max = {spec['max']}"]
        if "values" in spec:
            parts.append("values = [" + ", ".join(f'"{v}"' for v in spec["values"]) + "]")
        if spec["nullable"]:
            parts.append("nullable = true")
        lines.append(f"{name} = {{ {', '.join(parts)} }}")
    return "\n".join(lines) + "\n"
