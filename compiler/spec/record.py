"""The checked spec as the compiler reads it: read-only records, one class per spec table.

Records mirror the pydantic model's attribute names and values (`spec.validate_.drift.method`),
but building them costs nothing at import time, so a compile of a valid spec never loads
pydantic. Both validators hand records onward: the fast checker builds them directly, the
pydantic path converts its model (`from_model`).
"""

from __future__ import annotations

from typing import Any


class Record:
    """A read-only bag of fields; equal when kind and values are equal."""

    __slots__ = ("__dict__",)

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]  (lists inside: not hashable, as in the model)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


_KINDS: dict[str, type[Record]] = {}


def kind(name: str) -> type[Record]:
    """The record class of the spec table `name` (e.g. "Data"), made once."""
    cls = _KINDS.get(name)
    if cls is None:
        cls = _KINDS[name] = type(name, (Record,), {"__slots__": ()})
    return cls


def from_model(value: Any) -> Any:
    """Pydantic model instances (nested in lists and dicts too) -> records."""
    fields = getattr(type(value), "model_fields", None)
    if fields is not None:
        return kind(type(value).__name__)({n: from_model(getattr(value, n)) for n in fields})
    if isinstance(value, list):
        return [from_model(v) for v in value]
    if isinstance(value, dict):
        return {k: from_model(v) for k, v in value.items()}
    return value
