"""Distribution drift between a reference sample and a current sample, column by column.

Pure functions on pandas objects; no I/O. Three tests:

- ks: two-sample Kolmogorov-Smirnov on the non-missing values of a numeric column;
  drift when the p-value is below the threshold.
- chi2: chi-squared test of the 2 x k table of category counts (missing values are a category);
  drift when the p-value is below the threshold.
- psi: population stability index over bins fixed by the reference (10 quantile bins for numbers,
  one bin per value for categories, plus a bin for missing values), epsilon-smoothed so an empty bin
  stays finite; drift when the PSI is above the threshold.

`column_drift` picks the test by column kind: ks is for numbers and chi2 for categories, so ks
asked on a category column runs chi2 and chi2 asked on a numeric column runs ks (p-value
thresholds mean the same for both); psi runs on either. Each result says which test ran.

Each column is its own test: k columns at a p-value threshold t give about k * t false alarms
on undrifted data, so pick t with the column count in mind. PSI on small samples is inflated by
noise; the result says so when that noise is near the threshold (see `psi_noise`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

NUMERIC, CATEGORICAL, DATETIME = "numeric", "categorical", "datetime"
METHODS = ("ks", "psi", "chi2")
DEFAULT_METHOD, DEFAULT_THRESHOLD = "psi", 0.2
PSI_BINS = 10
KS_SCIPY_MAX = 10_000  # rows per side up to which scipy.stats.ks_2samp runs (see `ks`)
PSI_EPSILON = 1e-4  # the share an empty bin counts as: keeps ln(p/q) finite
NULL_KEY = "<null>"
# contract type -> kind (see compiler/spec/model.py Column.type)
CONTRACT_KINDS = {"int": NUMERIC, "float": NUMERIC, "category": CATEGORICAL, "bool": CATEGORICAL,
                  "str": CATEGORICAL, "datetime": DATETIME}


# --- column kinds ------------------------------------------------------------------------------

def kind_of(series: pd.Series) -> str:
    """numeric, categorical or datetime, from the dtype (bool counts as categorical)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return CATEGORICAL
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMERIC
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return DATETIME
    return CATEGORICAL


def column_kinds(frame: pd.DataFrame, contract: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str]:
    """Kind of every column: the contract's type when it names the column, else the dtype."""
    contract = contract or {}
    return {c: CONTRACT_KINDS[contract[c]["type"]] if c in contract else kind_of(frame[c]) for c in frame.columns}


def pick_test(kind: str, method: str) -> str | None:
    """The test that runs for a column kind when `method` is asked for; None: not comparable."""
    if method not in METHODS:
        raise ValueError(f"unknown drift method {method!r}; use one of {', '.join(METHODS)}")
    if kind == DATETIME:
        return None
    if method == "psi":
        return "psi"
    return "ks" if kind == NUMERIC else "chi2"


# --- values -----------------------------------------------------------------------------------

def numeric_values(series: pd.Series) -> tuple[np.ndarray, int]:
    """(non-missing values as float64, how many present values were not numbers)."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        not_numbers = 0
    else:  # a mistyped column (numbers read as text): compare what parses, count the rest
        coerced = pd.to_numeric(series, errors="coerce")
        values = coerced.to_numpy(dtype="float64", na_value=np.nan)
        not_numbers = int(series.notna().sum() - coerced.notna().sum())
    return values[~np.isnan(values)], not_numbers


def category_key(value: object) -> str:
    """One spelling per category whatever the file format read: 1, 1.0 and "1" are the same."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return NULL_KEY
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def category_counts(series: pd.Series) -> pd.Series:
    """Count per category (missing values under `<null>`), indexed by the category's text."""
    counts = series.value_counts(dropna=False, sort=False)  # hashes the column once; keys are few
    counts.index = pd.Index([category_key(v) for v in counts.index], dtype=object)
    return counts.groupby(level=0, sort=True).sum()


def _aligned(ref: pd.Series, cur: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    keys = ref.index.union(cur.index)
    return (ref.reindex(keys, fill_value=0).to_numpy(dtype="float64"),
            cur.reindex(keys, fill_value=0).to_numpy(dtype="float64"), list(keys))


# --- the tests --------------------------------------------------------------------------------

def ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """(KS statistic, p-value) of two samples of numbers.

    Small samples go to scipy's ks_2samp (exact p-values). Past KS_SCIPY_MAX rows per side its
    p-value (kstwo.sf) costs ~50 ms per drifted column, so the statistic is computed the same way
    (sorted samples, searchsorted) and the p-value from the asymptotic Kolmogorov distribution,
    which agrees with scipy to ~1 % relative at that size."""
    n, m = len(reference), len(current)
    if min(n, m) <= KS_SCIPY_MAX:
        from scipy.stats import ks_2samp

        result = ks_2samp(reference, current)
        return float(result.statistic), float(result.pvalue)
    from scipy.special import kolmogorov

    a, b = np.sort(reference), np.sort(current)
    # the largest ECDF gap is at a sample point: each ECDF is known at its own points (last of a
    # run of ties), so only the other one needs a search, with sorted needles (cache-friendly)
    xa, fa = _ecdf_at_own_points(a)
    xb, fb = _ecdf_at_own_points(b)
    d = max(float(np.max(np.abs(fa - np.searchsorted(b, xa, side="right") / m))),
            float(np.max(np.abs(np.searchsorted(a, xb, side="right") / n - fb))))
    return d, float(kolmogorov(np.sqrt(n * m / (n + m)) * d))


def _ecdf_at_own_points(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, ECDF at each) of a sorted sample."""
    last = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))
    return ordered[last], (last + 1) / len(ordered)


def chi2(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """(chi-squared statistic, p-value) of two count vectors over the same categories."""
    from scipy.stats import chi2_contingency

    table = np.vstack([reference_counts, current_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:  # one category on both sides: nothing can differ
        return 0.0, 1.0
    result = chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of two count vectors over the same bins."""
    p = np.maximum(reference_counts / max(reference_counts.sum(), 1), epsilon)
    q = np.maximum(current_counts / max(current_counts.sum(), 1), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_noise(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """The PSI two samples of these sizes show with no drift at all: PSI is about
    (1/n + 1/m) * chi-squared with (bins - 1) degrees of freedom, so its mean is (bins - 1)(1/n + 1/m)."""
    bins = int(np.count_nonzero(reference_counts + current_counts))
    return max(bins - 1, 0) * (1 / max(reference_counts.sum(), 1) + 1 / max(current_counts.sum(), 1))


def psi_bins(reference: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Inner edges of `bins` quantile bins of the reference (fewer when values tie)."""
    inner = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(inner)


def binned_counts(values: np.ndarray, edges: np.ndarray, missing: int) -> np.ndarray:
    """Counts per bin (values below the first edge go to the first bin, above the last to the
    last), then the count of missing values as one more bin."""
    idx = np.searchsorted(edges, values, side="right")
    return np.append(np.bincount(idx, minlength=len(edges) + 1), missing).astype("float64")


# --- one column, all columns ------------------------------------------------------------------

def compare(reference: pd.Series, current: pd.Series, kind: str, method: str, threshold: float) -> dict[str, Any]:
    """Drift of one column: which test ran, its statistic and p-value, and the verdict."""
    test = pick_test(kind, method)
    out: dict[str, Any] = {"kind": kind, "test": test, "statistic": None, "p_value": None, "drifted": False,
                           "reference_rows": int(len(reference)), "current_rows": int(len(current))}
    notes = []
    if test is None:
        return {**out, "note": f"{kind} columns are not compared"}
    if test != method:
        notes.append(f"{method} does not apply to a {kind} column; ran {test}")
    if kind == NUMERIC:
        ref, ref_bad = numeric_values(reference)
        cur, cur_bad = numeric_values(current)
        for side, bad in (("reference", ref_bad), ("current", cur_bad)):
            if bad:
                notes.append(f"{bad} {side} values are not numbers and were left out")
        if len(ref) == 0 or len(cur) == 0:
            empty = "reference" if len(ref) == 0 else "current"
            return {**out, "note": "; ".join(notes + [f"no numbers in the {empty} data"])}
        if test == "ks":
            stat, p = ks(ref, cur)
        elif len(np.unique(ref)) <= PSI_BINS:  # few distinct values: one bin each, as categories
            r, c, _ = _aligned(category_counts(reference), category_counts(current))
        else:
            edges = psi_bins(ref)
            r = binned_counts(ref, edges, len(reference) - len(ref))
            c = binned_counts(cur, edges, len(current) - len(cur))
    else:
        if len(reference) == 0 or len(current) == 0:
            return {**out, "note": "; ".join(notes + ["no rows to compare"])}
        r, c, _ = _aligned(category_counts(reference), category_counts(current))
        if test == "chi2":
            stat, p = chi2(r, c)
    if test == "psi":
        stat, p = psi(r, c), None
        noise = psi_noise(r, c)
        if noise > threshold / 2:
            notes.append(f"small samples: PSI from noise alone is about {noise:.2g}")
        drifted = stat > threshold
    else:
        drifted = p < threshold
    out.update(statistic=stat, p_value=p, drifted=bool(drifted))
    if notes:
        out["note"] = "; ".join(notes)
    return out


def column_drift(reference: pd.DataFrame, current: pd.DataFrame, method: str, threshold: float,
                 kinds: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Drift of every column the two frames share (in the reference's order).

    `kinds` (column -> numeric|categorical|datetime) overrides the kind read from the reference
    dtype; pass `column_kinds(reference, contract)` to follow the data contract.
    """
    kinds = kinds or {}
    shared = [c for c in reference.columns if c in current.columns]
    return {c: compare(reference[c], current[c], kinds.get(c) or kind_of(reference[c]), method, threshold)
            for c in shared}


def not_compared(columns: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Shared columns that got no test (datetime, no numbers on one side...), with the reason."""
    return {c: str(r.get("note") or "not compared") for c, r in columns.items() if r["statistic"] is None}


def summary(columns: Mapping[str, Mapping[str, Any]], method: str, threshold: float) -> dict[str, Any]:
    """The overall verdict: drifted when any column drifted."""
    drifted = sorted(c for c, r in columns.items() if r["drifted"])
    return {"drifted": bool(drifted), "method": method, "threshold": threshold,
            "drifted_columns": drifted, "columns": dict(columns)}


def settings_drift(*candidates: Mapping[str, Any] | None) -> tuple[str, float]:
    """(method, threshold) from the first drift setting that is set, else psi / 0.2."""
    for c in candidates:
        if c:
            return str(c["method"]), float(c["threshold"])
    return DEFAULT_METHOD, DEFAULT_THRESHOLD


def markdown_table(columns: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per column: kind, test, statistic, p-value, verdict, note."""
    from mlgen_runtime.report_md import Md, code, inline, number, table

    rows = []
    for name, r in columns.items():
        verdict = Md("—") if r["statistic"] is None else Md("⚠️ drift") if r["drifted"] else Md("ok")
        rows.append([code(name), r["kind"], r["test"] or "—", number(r["statistic"]), number(r["p_value"]),
                     verdict, inline(r.get("note", ""))])
    return table(["Column", "Kind", "Test", "Statistic", "p-value", "Drift", "Note"], rows, "lllrrll")
