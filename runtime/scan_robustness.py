"""Scan detector: robustness to small perturbations of the input.

One perturbed copy of the scanned rows (seeded):
- every numeric feature of every row moves by `noise` x the feature's standard deviation x a
  standard normal draw (missing values stay missing);
- with `categories`, a `noise` share of the rows (e.g. 5 %) get ONE of their category values
  swapped to another value observed in that column (drawn by frequency). A category has no
  "small" step, so its perturbation is small in reach rather than in size: a model that flipped
  on every swap would change at most a `noise` share of its answers this way.

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
The share is compared with `minor` / `major` (strictly more than). When flagged, the details also give the
shares of the numeric noise alone and of the swaps alone, so the finding says where it comes from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mlgen_runtime.scan_result import FLAGGED, PASSED, DetectorResult, Finding, pct, severity, skipped

if TYPE_CHECKING:
    import pandas as pd

NAME = "robustness"
REGRESSION_TOLERANCE = 3.0


def perturb(X: pd.DataFrame, numeric: list[str], categorical: list[str], noise: float, rng: np.random.Generator,
            do_numeric: bool = True, do_categories: bool = True) -> pd.DataFrame:
    """A perturbed copy of X (see the module docstring)."""
    out = X.copy()
    n = len(X)
    if do_numeric:
        for c in numeric:
            x = X[c].to_numpy(dtype=float)
            std = float(np.nanstd(x)) if n > 1 else 0.0
            out[c] = x + noise * std * rng.standard_normal(n)
    if do_categories and categorical and n:
        touched = rng.random(n) < noise
        which = rng.integers(0, len(categorical), size=n)
        for j, c in enumerate(categorical):
            rows = np.flatnonzero(touched & (which == j))
            if not len(rows):
                continue
            col = X[c]
            observed = col.dropna()
            counts = observed.astype(str).value_counts(sort=False)
            if len(counts) < 2:
                continue
            # one representative original value per distinct string form, drawn by frequency
            originals = observed.groupby(observed.astype(str), sort=False).first()
            values = originals.loc[counts.index].to_numpy(dtype=object)
            p = counts.to_numpy(dtype=float)
            current = col.iloc[rows].astype(str).to_numpy()
            draw = rng.choice(len(values), size=len(rows), p=p / p.sum())
            # a draw equal to the current value moves to the next value: always a real swap
            same = values.astype(str)[draw] == current
            draw = np.where(same, (draw + 1) % len(values), draw)
            new = out[c].astype(object).to_numpy(copy=True)
            new[rows] = values[draw]
            out[c] = new
    return out


def changed(before: np.ndarray, after: np.ndarray, task: str, tolerance: float = 0.0) -> np.ndarray:
    """Which predictions changed: another label, or (regression) a move larger than `tolerance`."""
    if task == "classification":
        return np.asarray(before) != np.asarray(after)
    return np.abs(np.asarray(after, dtype=float) - np.asarray(before, dtype=float)) > tolerance


def detect(model: Any, X: pd.DataFrame, numeric: list[str], categorical: list[str], y: Any, task: str,
           cfg: dict[str, Any], seed: int, y_pred: np.ndarray | None = None) -> DetectorResult:
    block = bool(cfg.get("block", True))
    noise, minor, major = float(cfg["noise"]), float(cfg["minor"]), float(cfg["major"])
    cats = list(categorical) if cfg.get("categories", True) else []
    if not numeric and not cats:
        return skipped(NAME, "no numeric feature to perturb (and category swaps are off)", block)
    n = len(X)
    base = np.asarray(model.predict(X)) if y_pred is None else np.asarray(y_pred)
    tol = 0.0
    if task != "classification":
        y_arr = np.asarray(y, dtype=float)
        rmse = float(np.sqrt(np.mean((base.astype(float) - y_arr) ** 2))) if n else 0.0
        tol = max(rmse, REGRESSION_TOLERANCE * noise * float(np.std(y_arr)))
    # one generator per pass, all from the seed: each pass is reproducible on its own
    both = changed(base, model.predict(perturb(X, numeric, cats, noise, np.random.default_rng([seed, 1]))), task, tol)
    share = float(both.mean()) if n else 0.0
    parts: dict[str, float | None] = {"numeric": None, "categories": None}
    sev = severity(share, minor, major)
    if numeric and cats and sev is not None:  # where it comes from: two more passes, only when flagged
        parts["numeric"] = float(changed(base, model.predict(perturb(
            X, numeric, cats, noise, np.random.default_rng([seed, 2]), do_categories=False)), task, tol).mean())
        parts["categories"] = float(changed(base, model.predict(perturb(
            X, numeric, cats, noise, np.random.default_rng([seed, 3]), do_numeric=False)), task, tol).mean())
    elif numeric and not cats:
        parts["numeric"] = share
    elif cats and not numeric:
        parts["categories"] = share
    what = []
    if numeric:
        what.append(f"{len(numeric)} numeric feature(s) moved by {noise:g} x their std")
    if cats:
        what.append(f"one category value swapped in {pct(noise)} of the rows ({len(cats)} category feature(s))")
    change = "label" if task == "classification" else f"prediction (by more than {tol:.4g})"
    details = {"rows": n, "changed": int(both.sum()), "share": share, "numeric_share": parts["numeric"],
               "categories_share": parts["categories"], "noise": noise, "tolerance": tol if task != "classification" else None,
               "numeric_features": list(numeric), "category_features": cats}
    summary = f"{pct(share)} of {n:,} predictions change their {change} when {' and '.join(what)}"
    if sev is None:
        return DetectorResult(NAME, PASSED, summary + f" (flagged above {pct(minor)})", (), details, block)
    source = ""
    if parts["numeric"] is not None and parts["categories"] is not None:
        source = (f" Numeric noise alone changes {pct(parts['numeric'])}, the category swaps alone "
                  f"{pct(parts['categories'])}.")
    limit = major if sev == "major" else minor
    text = (f"{int(both.sum()):,} of {n:,} scanned test rows ({pct(share)}) get another {change} when "
            f"{' and '.join(what)}: more than {pct(limit)} ({sev}).{source} The model reacts to changes smaller "
            "than the measurement noise of real data; regularize it (shallower trees, more neighbours, a larger "
            "penalty), smooth or bin the sensitive inputs, or train with noise-augmented rows.")
    finding = Finding(NAME, sev, f"{pct(share)} of the predictions change under tiny input perturbations", text, details)
    return DetectorResult(NAME, FLAGGED, summary, (finding,), details, block)
