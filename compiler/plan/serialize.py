"""plan.json: the runtime's only input. Its bytes are the contract's (mlgen_runtime/contract.py
`to_json`: sorted keys, fixed indentation); these names stay for the compiler's callers."""

from __future__ import annotations

from mlgen_runtime.contract import plan_dict as plan_to_dict
from mlgen_runtime.contract import to_json as plan_json

__all__ = ["plan_json", "plan_to_dict"]
