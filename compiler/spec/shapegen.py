"""Generate `shapes.py`, the table the fast checker walks, from the pydantic model.

The model stays the one source of truth: this reads its fields, types, constraints, value
checks and defaults, and refuses (raises) anything the fast checker would not reproduce
exactly, so a new kind of rule cannot slip past it. `python -m mlgen.schema_update` rewrites
the file; a test fails when it is stale.

Type descriptors (tuples, cheap to walk):
  ("str", pattern, min_len, max_len, checks)    ("int", ge, gt, le, lt)    ("float", ge, gt, le, lt)
  ("bool",)    ("lit", values)    ("list", item, min_len)    ("dict", value, min_len)
  ("model", name)    ("opt", inner)    ("union", members)
Defaults: ("required",) | ("value", json value) | ("model", name) (a model built from `{}`).
"""

from __future__ import annotations

import pprint
import types
import typing
from typing import Any

import annotated_types as at
from pydantic import AfterValidator, BaseModel, StringConstraints
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mlgen.spec import model as m
from mlgen.spec.rules import CHECKS

Shape = tuple[Any, ...]


class Unsupported(TypeError):
    """The model uses something the fast checker does not reproduce: extend both, or keep it out."""


def _constraints(meta: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"checks": []}
    for item in meta:
        if isinstance(item, FieldInfo):  # Annotated[int, Field(ge=0)]
            nested = _constraints(list(item.metadata))
            out["checks"] += nested.pop("checks")
            out.update(nested)
        elif isinstance(item, StringConstraints):
            if any(getattr(item, a) is not None for a in ("strip_whitespace", "to_upper", "to_lower", "strict", "ascii_only")):
                raise Unsupported(f"string transform in {item!r}")
            for attr, key in (("pattern", "pattern"), ("min_length", "min_len"), ("max_length", "max_len")):
                if getattr(item, attr) is not None:
                    out[key] = getattr(item, attr)
        elif isinstance(item, (at.Ge, at.Gt, at.Le, at.Lt)):
            name = type(item).__name__.lower()
            out[name] = getattr(item, name)
        elif isinstance(item, at.MinLen):
            out["min_len"] = item.min_length
        elif isinstance(item, at.MaxLen):
            out["max_len"] = item.max_length
        elif isinstance(item, AfterValidator):
            name = item.func.__name__
            if CHECKS.get(name) is not item.func:
                raise Unsupported(f"value check {name} is not in rules.CHECKS")
            out["checks"].append(name)
        else:
            raise Unsupported(f"constraint {item!r}")
    return out


def _shape(tp: Any, meta: list[Any]) -> Shape:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _shape(args[0], [*meta, *tp.__metadata__])
    c = _constraints(meta)
    used = {k for k, v in c.items() if v not in ([], None)}

    def only(*allowed: str) -> None:
        if used - set(allowed):
            raise Unsupported(f"{sorted(used - set(allowed))} on {tp!r}")

    if origin in (typing.Union, types.UnionType):
        only()
        members = [a for a in args if a is not type(None)]
        inner = _shape(members[0], []) if len(members) == 1 else ("union", tuple(_shape(a, []) for a in members))
        return ("opt", inner) if len(members) < len(args) else inner
    if origin is typing.Literal:
        only()
        if not all(type(a) is str for a in args):
            raise Unsupported(f"non-string literal {tp!r}")
        return ("lit", tuple(args))
    if origin is list:
        only("min_len")
        return ("list", _shape(args[0], []), c.get("min_len"))
    if origin is dict:
        only("min_len")
        if args[0] is not str:
            raise Unsupported(f"dict keys {args[0]!r}")
        return ("dict", _shape(args[1], []), c.get("min_len"))
    if tp is str:
        only("pattern", "min_len", "max_len", "checks")
        return ("str", c.get("pattern"), c.get("min_len"), c.get("max_len"), tuple(c["checks"]))
    if tp in (int, float):
        only("ge", "gt", "le", "lt")
        return (tp.__name__, c.get("ge"), c.get("gt"), c.get("le"), c.get("lt"))
    if tp is bool:
        only()
        return ("bool",)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        only()
        return ("model", tp.__name__)
    raise Unsupported(f"type {tp!r}")


def _default(field: FieldInfo) -> Shape:
    if field.default_factory is not None:
        made = field.default_factory()  # type: ignore[call-arg]
        if isinstance(made, BaseModel):
            if made != type(made)():
                raise Unsupported(f"default {made!r} is not the model's own defaults")
            return ("model", type(made).__name__)
        return ("value", made)
    if field.default is PydanticUndefined:
        return ("required",)
    return ("value", field.default)


def _models(root: type[BaseModel]) -> dict[str, tuple[Shape, ...]]:
    found: dict[str, tuple[Shape, ...]] = {}
    todo = [root]
    while todo:
        cls = todo.pop()
        if cls.__name__ in found:
            continue
        cfg = cls.model_config
        if (cfg.get("extra"), cfg.get("strict"), cfg.get("frozen")) != ("forbid", True, True):
            raise Unsupported(f"{cls.__name__}: the fast checker assumes extra=forbid, strict, frozen")
        decorators = cls.__pydantic_decorators__
        if any((decorators.validators, decorators.field_validators, decorators.model_validators,
                decorators.root_validators, decorators.field_serializers, decorators.model_serializers)):
            raise Unsupported(f"{cls.__name__}: validators/serializers on the class")
        fields = []
        for name, field in cls.model_fields.items():
            shape = _shape(field.annotation, list(field.metadata))
            fields.append((name, field.alias or name, shape, _default(field)))
        found[cls.__name__] = tuple(fields)
        todo += [t for t in _nested(cls) if t.__name__ not in found]
    return dict(sorted(found.items()))


def _nested(cls: type[BaseModel]) -> list[type[BaseModel]]:
    out: list[type[BaseModel]] = []

    def walk(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            out.append(tp)
        for a in typing.get_args(tp):
            walk(a)

    for field in cls.model_fields.values():
        walk(field.annotation)
    return out


def generate_shapes() -> str:
    """The text of shapes.py."""
    models = _models(m.Spec)
    body = pprint.pformat(models, width=110, sort_dicts=False)
    return (
        '"""Generated by `python -m mlgen.schema_update` from compiler/spec/model.py - do not edit.\n\n'
        'The fields, types, constraints and defaults of every spec table, for `fastcheck.py`."""\n\n'
        f'ROOT = "Spec"\n\nMODELS = {body}\n'
    )
