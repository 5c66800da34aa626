"""The plan: lowering a checked spec into the provider-neutral plan, whose types are the runtime's
contract (mlgen_runtime/contract.py)."""
