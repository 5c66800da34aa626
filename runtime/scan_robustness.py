"""Scan detector: robustness to small perturbations of the input.

One perturbed copy of the scanned rows (seeded). Every perturbation keeps the feature's type
and range as the TRAINING rows show them (`profiles`), so a perturbed row is one the data could
hold: a model is not asked about fractional counts or negative ages, which no real input has and
which a sound model has never seen (Gaussian noise turned integer counts into fractions and
"flipped" 17 % of a sound model's answers on survey data).

- continuous numeric features (more than `FEW_VALUES` distinct values): every value moves by
  `noise` x the feature's standard deviation x a standard normal draw, then is clipped to the
  observed [min, max] (narrowed to the contract's `min`/`max` when given) and, when the values
  lie on a grid (integers, or a fixed number of decimals: a step of the column's observed
  resolution), put back on the grid by stochastic rounding: the value moves to the grid point
  below or above with the probabilities that keep its expected move, so a perturbation smaller
  than one step still moves a row by one step with the matching probability. Integers stay
  integers. A value held by at least `STATE_SHARE` of the training rows (0 mm of rain, no
  spending) is a state, not a reading: rows there keep it;
- discrete features (category features, and numeric ones with at most `FEW_VALUES` distinct
  values: flags, Likert scales, small counts): a `noise` share of the rows (e.g. 5 %) get ONE of
  their discrete values changed: a category to another value observed in training (drawn by
  frequency), a discrete number to a neighbouring observed value (one step up or down). Such a
  feature has no "small" move below one step, so its perturbation is small in reach rather than
  in size: a model that changed its answer on every such move would change at most a `noise`
  share of its answers this way;
- missing values stay missing.

The measure is the share of rows whose prediction changes:
- classification: the predicted label differs;
- regression: the prediction moves by more than the tolerance
      max(RMSE of the model on the scanned rows, `REGRESSION_TOLERANCE` x noise x std(y)),
  i.e. the answer moves by as much as the model is typically wrong. The RMSE term: tree
  ensembles are piecewise constant and step by small amounts under any noise (on clean data a
  HistGradientBoosting regressor moves 5-10 % of its predictions by more than 3 x noise x std(y),
  but under 2 % by more than its RMSE); those steps are not another answer. The second term
  keeps a near-perfect model (RMSE ~ 0) from flagging every row: a smooth model moves its
  prediction by about noise x std(prediction) <= noise x std(y) (exactly so for a linear model
  on independent features; the move is then normal and exceeds 3 x that in 0.3 % of the rows).
  A move beyond the tolerance is out of proportion with the change of the input: a nearest
  neighbour switching, a jumpy tree, weights that cancel across correlated features.
The share is judged by its one-sided 95 % lower confidence bound (Clopper-Pearson), compared
with `minor` / `major` (strictly more than): on a small test split a few rows are several
percent, and the bound says what the scanned rows show for certain. When flagged, the details
also give the shares of the continuous noise alone and of the discrete moves alone, so the
finding says where it comes from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlgen_runtime.scan_result import CONFIDENCE, FLAGGED, PASSED, DetectorResult, Finding, lower_bound, pct, severity, skipped

if TYPE_CHECKING:
    import pandas as pd

NAME = "robustness"
REGRESSION_TOLERANCE = 3.0
# At most this many distinct values: a discrete feature (moved to a neighbouring value). One
# step is then at least a tenth of the value range, not a perturbation "below the measurement
# noise"; 10 covers flags, Likert scales (5 or 7 points) and small counts.
FEW_VALUES = 10
MAX_DECIMALS = 6  # a finer resolution than this is continuous (measured or computed values)
# A value held by at least this share of the training rows is a state (no rain, no spending, no
# report), not a reading with measurement noise: rows there keep it under the continuous noise.
# No reading of a measured quantity repeats that often; moving "0 mm" to "0.3 mm" turns a dry
# day into a rainy one, and a model is right to answer differently.
STATE_SHARE = 0.10


@dataclass(frozen=True)
class Profile:
    """What a feature's values look like in training: how it may be perturbed."""

    kind: str  # "continuous" | "discrete" | "category"
    values: np.ndarray  # sorted distinct observed values (discrete/category: what a move may reach)
    weights: np.ndarray  # their frequencies (category swaps are drawn by them)
    lo: float = -np.inf  # continuous: the allowed range
    hi: float = np.inf
    step: float | None = None  # continuous: the grid of the values (None: no grid)
    std: float = 0.0
    states: np.ndarray = field(default_factory=lambda: np.array([]))  # continuous: mass points, kept as they are


def grid_step(values: np.ndarray) -> float | None:
    """The resolution of the values: the largest step s with every value an integer multiple of
    s (integers: their gcd; fixed decimals: the gcd at that scale); None when the values need
    more than MAX_DECIMALS decimals (continuous)."""
    v = np.unique(values[np.isfinite(values)])
    if len(v) < 2:
        return None
    for decimals in range(MAX_DECIMALS + 1):
        scaled = v * 10.0 ** decimals
        ints = np.round(scaled)
        if np.all(np.abs(scaled - ints) <= 1e-6 * np.maximum(1.0, np.abs(scaled))) and np.all(np.abs(ints) < 2 ** 53):
            g = int(np.gcd.reduce(np.abs(np.diff(ints)).astype(np.int64)))
            return g / 10.0 ** decimals if g > 0 else None
    return None


def profile(values: pd.Series, numeric: bool, contract: Mapping[str, Any] | None = None) -> Profile:
    """The profile of one feature from its training values (`contract`: the column's data.columns
    entry, whose min/max narrow the range and whose int type forces an integer grid)."""
    contract = contract or {}
    if not numeric:
        observed = values.dropna()
        counts = observed.astype(str).value_counts(sort=False)
        originals = observed.groupby(observed.astype(str), sort=False).first()  # one value per string form
        return Profile("category", originals.loc[counts.index].to_numpy(dtype=object), counts.to_numpy(dtype=float))
    import pandas as pd

    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    x = x[np.isfinite(x)]
    distinct, counts = np.unique(x, return_counts=True)
    if len(distinct) <= FEW_VALUES:
        return Profile("discrete", distinct, counts.astype(float))
    lo, hi = (float(distinct[0]), float(distinct[-1])) if len(distinct) else (-np.inf, np.inf)
    if contract.get("min") is not None:
        lo = max(lo, float(contract["min"]))
    if contract.get("max") is not None:
        hi = min(hi, float(contract["max"]))
    step = grid_step(distinct)
    if contract.get("type") == "int":
        step = max(1.0, float(np.round(step))) if step is not None else 1.0
    states = distinct[counts >= STATE_SHARE * len(x)]
    return Profile("continuous", distinct, counts.astype(float), lo, hi, step, float(np.std(x)) if len(x) > 1 else 0.0,
                   states)


def profiles(X: pd.DataFrame, numeric: Iterable[str], categorical: Iterable[str],
             contract: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Profile]:
    """Profiles of the features from the training rows `X`."""
    contract = contract or {}
    out = {c: profile(X[c], True, contract.get(c)) for c in numeric}
    out.update({c: profile(X[c], False, contract.get(c)) for c in categorical})
    return out


def _continuous(x: np.ndarray, p: Profile, noise: float, rng: np.random.Generator) -> np.ndarray:
    moved = np.clip(x + noise * p.std * rng.standard_normal(len(x)), p.lo, p.hi)
    if p.step:
        # stochastic rounding to the grid (anchored at the smallest observed value): unbiased
        base = p.values[0] if len(p.values) else 0.0
        units = (moved - base) / p.step
        low = np.floor(units)
        units = low + (rng.random(len(x)) < units - low)
        moved = base + units * p.step
        # the grid points nearest the bounds may lie just outside them (a contract bound between points)
        moved = np.where(moved > p.hi, moved - p.step, np.where(moved < p.lo, moved + p.step, moved))
        moved = np.round(moved, MAX_DECIMALS)  # 0.1 * 3 -> 0.3, as the data writes it
    keep = np.isnan(x) | np.isin(x, p.states)  # missing stays missing, a state stays that state
    return np.where(keep, x, moved)


def _discrete_move(current: np.ndarray, p: Profile, rng: np.random.Generator) -> np.ndarray:
    """Each value to a neighbouring observed value (up or down at random; the only one at an end)."""
    k = len(p.values)
    pos = np.clip(np.searchsorted(p.values, current), 0, k - 1)
    up = rng.random(len(current)) < 0.5
    up = np.where(pos == 0, True, np.where(pos == k - 1, False, up))
    return p.values[np.clip(pos + np.where(up, 1, -1), 0, k - 1)]


def _category_swap(current: np.ndarray, p: Profile, rng: np.random.Generator) -> np.ndarray:
    draw = rng.choice(len(p.values), size=len(current), p=p.weights / p.weights.sum())
    same = p.values.astype(str)[draw] == current.astype(str)
    draw = np.where(same, (draw + 1) % len(p.values), draw)  # a draw equal to the current value: the next one
    return p.values[draw]


def perturb(X: pd.DataFrame, numeric: list[str], categorical: list[str], noise: float, rng: np.random.Generator,
            do_numeric: bool = True, do_categories: bool = True,
            profiles_: Mapping[str, Profile] | None = None) -> pd.DataFrame:
    """A perturbed copy of X (see the module docstring). `profiles_`: from the training rows
    (default: from X itself). `do_numeric`: the continuous noise; `do_categories`: the discrete
    moves (categories and few-valued numbers)."""
    prof = dict(profiles_) if profiles_ is not None else profiles(X, numeric, categorical)
    for c in [*numeric, *categorical]:
        if c not in prof:
            prof[c] = profile(X[c], c in numeric)
    out = X.copy()
    n = len(X)
    if do_numeric:
        for c in numeric:
            if prof[c].kind == "continuous":
                out[c] = _continuous(X[c].to_numpy(dtype=float, na_value=np.nan), prof[c], noise, rng)
    discrete = [c for c in [*numeric, *categorical] if prof[c].kind != "continuous" and len(prof[c].values) >= 2]
    if do_categories and discrete and n:
        touched = rng.random(n) < noise  # one discrete value changed in a `noise` share of the rows
        which = rng.integers(0, len(discrete), size=n)
        for j, c in enumerate(discrete):
            rows = np.flatnonzero(touched & (which == j))
            present = X[c].iloc[rows].notna().to_numpy()
            rows = rows[present]  # missing stays missing
            if not len(rows):
                continue
            current = X[c].iloc[rows].to_numpy()
            if prof[c].kind == "discrete":
                new_values: np.ndarray = _discrete_move(np.asarray(current, dtype=float), prof[c], rng)
                new = out[c].to_numpy(dtype=float, na_value=np.nan, copy=True)
            else:
                new_values = _category_swap(current.astype(object), prof[c], rng)
                new = out[c].astype(object).to_numpy(copy=True)
            new[rows] = new_values
            out[c] = new
    return out


def changed(before: np.ndarray, after: np.ndarray, task: str, tolerance: float = 0.0) -> np.ndarray:
    """Which predictions changed: another label, or (regression) a move larger than `tolerance`."""
    if task == "classification":
        return np.asarray(before) != np.asarray(after)
    return np.abs(np.asarray(after, dtype=float) - np.asarray(before, dtype=float)) > tolerance


def detect(model: Any, X: pd.DataFrame, numeric: list[str], categorical: list[str], y: Any, task: str,
           cfg: dict[str, Any], seed: int, y_pred: np.ndarray | None = None,
           profiles_: Mapping[str, Profile] | None = None) -> DetectorResult:
    """`profiles_`: the features' profiles from the training rows (`profiles`); default: from X."""
    block = bool(cfg.get("block", True))
    noise, minor, major = float(cfg["noise"]), float(cfg["minor"]), float(cfg["major"])
    cats = list(categorical) if cfg.get("categories", True) else []
    prof = dict(profiles_) if profiles_ is not None else profiles(X, numeric, cats)
    for c in [*numeric, *cats]:
        if c not in prof:
            prof[c] = profile(X[c], c in numeric)
    continuous = [c for c in numeric if prof[c].kind == "continuous"]
    discrete = [c for c in [*numeric, *cats] if prof[c].kind != "continuous" and len(prof[c].values) >= 2]
    if not continuous and not discrete:
        return skipped(NAME, "no feature to perturb (and category swaps are off)", block)
    n = len(X)
    base = np.asarray(model.predict(X)) if y_pred is None else np.asarray(y_pred)
    tol = 0.0
    if task != "classification":
        y_arr = np.asarray(y, dtype=float)
        rmse = float(np.sqrt(np.mean((base.astype(float) - y_arr) ** 2))) if n else 0.0
        tol = max(rmse, REGRESSION_TOLERANCE * noise * float(np.std(y_arr)))

    def changed_share(rng_id: int, do_numeric: bool = True, do_categories: bool = True) -> np.ndarray:
        # one generator per pass, all from the seed: each pass is reproducible on its own
        moved = perturb(X, numeric, cats, noise, np.random.default_rng([seed, rng_id]), do_numeric, do_categories, prof)
        return changed(base, model.predict(moved), task, tol)

    both = changed_share(1)
    share = float(both.mean()) if n else 0.0
    low = lower_bound(int(both.sum()), n)
    parts: dict[str, float | None] = {"numeric": None, "categories": None}
    sev = severity(low, minor, major)
    if continuous and discrete and sev is not None:  # where it comes from: two more passes, only when flagged
        parts["numeric"] = float(changed_share(2, do_categories=False).mean())
        parts["categories"] = float(changed_share(3, do_numeric=False).mean())
    elif continuous and not discrete:
        parts["numeric"] = share
    elif discrete and not continuous:
        parts["categories"] = share
    what = []
    if continuous:
        what.append(f"{len(continuous)} continuous feature(s) moved by {noise:g} x their std (kept on their "
                    "observed grid and range)")
    if discrete:
        what.append(f"one discrete value moved to another observed one in {pct(noise)} of the rows "
                    f"({len(discrete)} category or few-valued feature(s))")
    change = "label" if task == "classification" else f"prediction (by more than {tol:.4g})"
    details = {"rows": n, "changed": int(both.sum()), "share": share, "share_lower_bound": low,
               "confidence": CONFIDENCE, "numeric_share": parts["numeric"],
               "categories_share": parts["categories"], "noise": noise, "tolerance": tol if task != "classification" else None,
               "numeric_features": list(numeric), "category_features": cats, "continuous_features": continuous,
               "discrete_features": discrete}
    summary = f"{pct(share)} of {n:,} predictions change their {change} when {' and '.join(what)}"
    bound = f"; {CONFIDENCE:.0%} lower bound {pct(low)}" if n else ""
    if sev is None:
        return DetectorResult(NAME, PASSED, summary + f"{bound} (flagged when the bound is above {pct(minor)})", (),
                              details, block)
    source = ""
    if parts["numeric"] is not None and parts["categories"] is not None:
        source = (f" Numeric noise alone changes {pct(parts['numeric'])}, the discrete moves alone "
                  f"{pct(parts['categories'])}.")
    limit = major if sev == "major" else minor
    text = (f"{int(both.sum()):,} of {n:,} scanned test rows ({pct(share)}) get another {change} when "
            f"{' and '.join(what)}: with {CONFIDENCE:.0%} confidence at least {pct(low)}, more than {pct(limit)} "
            f"({sev}).{source} The model reacts to changes smaller "
            "than the measurement noise of real data; regularize it (shallower trees, more neighbours, a larger "
            "penalty), smooth or bin the sensitive inputs, or train with noise-augmented rows.")
    finding = Finding(NAME, sev, f"{pct(share)} of the predictions change under tiny input perturbations", text, details)
    return DetectorResult(NAME, FLAGGED, summary, (finding,), details, block)
