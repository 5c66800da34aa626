"""plan.json: the runtime's only input. Stable bytes: sorted keys, fixed indentation."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from mlgen.backends.common import DO_NOT_EDIT, GENERATED_MARKER
from mlgen.plan.ir import Plan


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    data = dataclasses.asdict(plan)
    data["_generated"] = f"{GENERATED_MARKER} from {plan.spec_path} - {DO_NOT_EDIT}"
    return data


def plan_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
