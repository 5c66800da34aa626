"""train.search.space values: lists, and numeric ranges `{low, high, log, step}`.

Which strategy takes what (the spec checks refuse the rest, semantic.py E231/E232):
- grid: lists, and ranges with a `step` (expanded to low, low + step, ... <= high);
- random: lists (sampled without replacement when every value is a list, as
  ParameterSampler does) and ranges, sampled from scipy.stats distributions (uniform,
  loguniform, randint); a range with a `step` is sampled from its values;
- optuna: lists (suggest_categorical) and ranges (suggest_int / suggest_float with log, step).
"""

from __future__ import annotations

import math
from typing import Any


def is_range(value: Any) -> bool:
    return isinstance(value, dict)


def is_int(r: dict[str, Any]) -> bool:
    """An int range: low, high and step (if any) are all ints (bools are not numbers here)."""
    return all(isinstance(r[k], int) and not isinstance(r[k], bool) for k in ("low", "high", "step")
               if r.get(k) is not None)


def stepped(r: dict[str, Any]) -> list[Any]:
    """A range with a step as its list of values (high included when it is on the step)."""
    low, high, step = r["low"], r["high"], r["step"]
    if is_int(r):
        return list(range(low, high + 1, step))
    n = math.floor((high - low) / step + 1e-9)
    return [round(low + k * step, 12) for k in range(n + 1)]  # round: 0.1 + 2 * 0.1 is not 0.3


class _LogInt:
    """Ints sampled log-uniformly (scipy has no such distribution): what ParameterSampler calls."""

    def __init__(self, low: int, high: int) -> None:
        from scipy.stats import loguniform

        self.low, self.high, self.dist = low, high, loguniform(low, high + 1)

    def rvs(self, random_state: Any = None) -> int:
        return min(self.high, int(self.dist.rvs(random_state=random_state)))


def sklearn_space(space: dict[str, Any], strategy: str) -> dict[str, Any]:
    """The space as ParameterGrid (grid) or ParameterSampler (random) take it."""
    out: dict[str, Any] = {}
    for key, value in space.items():
        if not is_range(value):
            out[key] = list(value)
        elif value.get("step") is not None or strategy == "grid":
            out[key] = stepped(value)
        else:
            out[key] = _distribution(value)
    return out


def _distribution(r: dict[str, Any]) -> Any:
    from scipy.stats import loguniform, randint, uniform

    low, high = r["low"], r["high"]
    if is_int(r):
        return _LogInt(low, high) if r.get("log") else randint(low, high + 1)
    return loguniform(low, high) if r.get("log") else uniform(low, high - low)


def suggest(trial: Any, key: str, value: Any) -> Any:
    """One parameter of an Optuna trial."""
    if not is_range(value):
        return trial.suggest_categorical(key, list(value))
    low, high, step, log = value["low"], value["high"], value.get("step"), bool(value.get("log"))
    if is_int(value):
        return trial.suggest_int(key, low, high, step=step or 1, log=log)
    return trial.suggest_float(key, float(low), float(high), step=None if step is None else float(step), log=log)


def count(space: dict[str, Any]) -> int | None:
    """How many combinations a grid has (None: a range without a step, which is infinite)."""
    total = 1
    for value in space.values():
        if is_range(value) and value.get("step") is None:
            return None
        total *= len(stepped(value)) if is_range(value) else len(value)
    return total
