"""Gate verdicts (pure): absolute bounds and change vs the deployed ("champion") model.

Semantics follow MLflow's MetricThreshold / TFX blessing:
- `min` / `max`: the candidate's value must be >= min / <= max.
- `max_drop`: the largest allowed worsening vs the champion on the same held-out data:
  higher-is-better metrics need value >= champion - max_drop; lower-is-better metrics
  (log_loss, mae, mape, mse, rmse) need value <= champion + max_drop.
- No champion yet (first run): change gates pass with the note "no deployed model yet".
- A value that cannot be computed fails its gate (a gate must never pass by accident).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlgen_runtime.metrics import LOWER_IS_BETTER

KINDS = ("min", "max", "max_drop")
FIRST_RUN = "no deployed model yet"
# champion - max_drop is computed in floating point: 0.4 - 0.1 is 0.30000000000000004
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Verdict:
    metric: str
    kind: str  # "min" | "max" | "max_drop"
    limit: float  # the number in the spec
    passed: bool
    value: float | None
    bound: float | None  # what the value was compared with (None when there was nothing to compare)
    champion: float | None = None
    delta: float | None = None  # value - champion
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.metric} {self.kind} {self.limit:g}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "name": self.name}


def check(
    gates: dict[str, dict[str, float | None]],
    values: dict[str, float | None],
    champion: dict[str, float | None] | None = None,
    *,
    champion_error: str | None = None,
    notes: dict[str, str] | None = None,
) -> list[Verdict]:
    """One verdict per bound of every gate, in (metric, min/max/max_drop) order.

    `champion` holds the champion's metrics on the same data (None: no champion);
    `champion_error` says why a champion exists but could not be scored.
    """
    notes = notes or {}
    out: list[Verdict] = []
    for metric in sorted(gates):
        gate = gates[metric]
        value = values.get(metric)
        champ = None if champion is None else champion.get(metric)
        delta = value - champ if value is not None and champ is not None else None
        for kind in KINDS:
            limit = gate.get(kind)
            if limit is None:
                continue
            limit = float(limit)
            if value is None:
                out.append(Verdict(metric, kind, limit, False, None, None, champ, None,
                                   f"{metric} could not be computed: {notes.get(metric, 'no value')}"))
            elif kind == "min":
                out.append(Verdict(metric, kind, limit, value >= limit, value, limit, champ, delta))
            elif kind == "max":
                out.append(Verdict(metric, kind, limit, value <= limit, value, limit, champ, delta))
            else:
                out.append(_change(metric, limit, value, champion, champ, champion_error))
    return out


def _change(metric: str, max_drop: float, value: float, champion: dict[str, float | None] | None,
            champ: float | None, champion_error: str | None) -> Verdict:
    if champion_error is not None:
        return Verdict(metric, "max_drop", max_drop, False, value, None, None, None,
                       f"the deployed model could not be evaluated on this data: {champion_error}")
    if champion is None:
        return Verdict(metric, "max_drop", max_drop, True, value, None, None, None, FIRST_RUN)
    if champ is None:
        return Verdict(metric, "max_drop", max_drop, False, value, None, None, None,
                       f"the deployed model has no {metric} value on this data")
    delta = value - champ
    if metric in LOWER_IS_BETTER:
        bound = champ + max_drop
        passed = value <= bound + TOLERANCE
    else:
        bound = champ - max_drop
        passed = value >= bound - TOLERANCE
    return Verdict(metric, "max_drop", max_drop, passed, value, bound, champ, delta)


def describe(v: Verdict) -> str:
    """One line for logs and JUnit: what was compared and how it went."""
    if v.value is None or v.bound is None:
        return v.note
    op = {"min": ">=", "max": "<="}.get(v.kind) or ("<=" if v.metric in LOWER_IS_BETTER else ">=")
    text = f"{v.metric} = {v.value:.4f}, required {op} {v.bound:.4f}"
    if v.kind == "max_drop" and v.champion is not None:
        text += f" (champion {v.champion:.4f} {'+' if v.metric in LOWER_IS_BETTER else '-'} {v.limit:g})"
    return text + (f"; {v.note}" if v.note else "")
