"""Scan detector: leakage.

1. A single feature that predicts the target almost perfectly on its own. Each feature gets a
   one-feature model FITTED ON THE TRAINING SPLIT and SCORED ON THE TEST SPLIT (so an ID-like
   column that merely memorizes the training rows scores nothing):
   - binned target means: numeric features cut into up to 64 quantile bins (of the training
     rows), category features per value; missing values are a bin of their own, and values
     unseen in training get the training prior. This catches non-monotonic leaks (|x|, x^2, a
     code per class);
   - numeric features also: the raw value itself (classification, rank based), or for
     regression a straight line and a line per bin (piecewise linear), which resolve monotonic
     and smooth non-monotonic leaks (y = x^2) that bin means blur in wide tail bins.
   The score is the better of the two: ROC AUC for classification, max(auc, 1 - auc), one-vs-rest
   macro for multiclass; R2 for regression. A score >= `minor` is a minor finding, >= `major` a
   major one.
2. Rows shared by train and test: the share of test rows whose FEATURE values (the target left
   out) all occur in one training row. The model may have memorized those rows, so the test
   metrics overstate it. A share above `overlap` is flagged; it is major when it exceeds `overlap`
   by more than 5 percentage points (`OVERLAP_MAJOR`): from then on the held-out metrics are
   measurably inflated; below, it is a warning about a few duplicates. Features with few distinct
   combinations repeat by nature: then raise `overlap`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mlgen_runtime.scan_result import FLAGGED, MAJOR, PASSED, DetectorResult, Finding, at_least, pct
from mlgen_runtime.scan_slices import group_auc, quote

if TYPE_CHECKING:
    import pandas as pd

NAME = "leakage"
MAX_BINS = 64
MIN_BIN_ROWS = 25  # fewer training rows per bin on average: fewer bins
OVERLAP_MAJOR = 0.05  # overlap share beyond `overlap` + this: major
SMOOTHING = 1.0  # pseudo-rows of the prior in each bin's mean


def _bin_codes(train: pd.Series, test: pd.Series, numeric: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of train and test rows on bins learned from the training rows; (codes, codes, count).
    Code count-1 is "missing"; test values unseen in training get code -1."""
    import pandas as pd

    if numeric:
        a = pd.to_numeric(train, errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(test, errors="coerce").to_numpy(dtype=float)
        ok = a[~np.isnan(a)]
        bins = int(np.clip(len(ok) // MIN_BIN_ROWS, 1, MAX_BINS))
        edges = np.unique(np.quantile(ok, np.linspace(0, 1, bins + 1)[1:-1])) if len(ok) and bins > 1 else np.array([])
        k = len(edges) + 1
        ca = np.where(np.isnan(a), k, np.searchsorted(edges, a, side="right"))
        cb = np.where(np.isnan(b), k, np.searchsorted(edges, b, side="right"))
        return ca, cb, k + 1
    cats = pd.Index(pd.unique(train.dropna().astype(str)))
    ca = np.where(train.isna().to_numpy(), len(cats), cats.get_indexer(train.astype(str)))
    cb = np.where(test.isna().to_numpy(), len(cats), cats.get_indexer(test.astype(str)))
    return ca, cb, len(cats) + 1


def _binned_means(ca: np.ndarray, cb: np.ndarray, k: int, target: np.ndarray) -> np.ndarray:
    """Test-row predictions: the smoothed training mean of `target` in the row's bin."""
    prior = float(target.mean())
    sums = np.bincount(ca, weights=target, minlength=k)
    counts = np.bincount(ca, minlength=k)
    means = (sums + SMOOTHING * prior) / (counts + SMOOTHING)
    return np.where(cb >= 0, means[np.maximum(cb, 0)], prior)


def _auc(positive: np.ndarray, score: np.ndarray) -> float:
    v = float(group_auc(np.zeros(len(score), dtype=np.int64), 1, positive, score)[0])
    return max(v, 1 - v) if np.isfinite(v) else float("nan")


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    var = float(((y - y.mean()) ** 2).sum())
    return 1 - float(((y - pred) ** 2).sum()) / var if var > 0 else float("nan")


def feature_score(train: pd.Series, y_train: np.ndarray, test: pd.Series, y_test: np.ndarray, numeric: bool,
                  task: str, classes: np.ndarray | None = None) -> float:
    """How well this one feature predicts the target on the test rows (ROC AUC or R2)."""
    import pandas as pd

    ca, cb, k = _bin_codes(train, test, numeric)
    raw_test = None
    if numeric:
        raw_test = pd.to_numeric(test, errors="coerce").to_numpy(dtype=float)
        fill = np.nanmedian(raw_test) if np.isfinite(raw_test).any() else 0.0
        raw_test = np.where(np.isnan(raw_test), fill, raw_test)
    if task == "classification":
        labels = classes if classes is not None else np.unique(y_test)
        one_vs_rest = labels[-1:] if len(labels) == 2 else labels
        scores = []
        for label in one_vs_rest:
            pos_train, pos_test = y_train == label, y_test == label
            s = _auc(pos_test, _binned_means(ca, cb, k, pos_train.astype(float)))
            if raw_test is not None:
                s = np.fmax(s, _auc(pos_test, raw_test))
            scores.append(s)
        return float(np.mean(scores)) if scores else float("nan")
    yt, ye = y_train.astype(float), y_test.astype(float)
    score = _r2(ye, _binned_means(ca, cb, k, yt))
    if numeric:
        xa = pd.to_numeric(train, errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(xa)
        if ok.sum() > 2 and np.ptp(xa[ok]) > 0:
            slope, intercept = np.polyfit(xa[ok], yt[ok], 1)
            score = float(np.fmax(score, _r2(ye, slope * raw_test + intercept)))
            score = float(np.fmax(score, _r2(ye, _piecewise_linear(xa, ca, yt, raw_test, cb, k))))
    return score


def _piecewise_linear(xa: np.ndarray, ca: np.ndarray, ya: np.ndarray, xb: np.ndarray, cb: np.ndarray, k: int) -> np.ndarray:
    """Test-row predictions of a least-squares line per training bin (binned means with a slope):
    resolves a smooth non-monotonic leak (y = x^2) that plain bin means blur in the wide tail bins."""
    ok = ~np.isnan(xa)
    c, x, y = ca[ok], xa[ok], ya[ok]
    n = np.bincount(c, minlength=k).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = np.bincount(c, weights=x, minlength=k) / n
        my = np.bincount(c, weights=y, minlength=k) / n
        vx = np.bincount(c, weights=x * x, minlength=k) / n - mx ** 2
        cxy = np.bincount(c, weights=x * y, minlength=k) / n - mx * my
        slope = np.where((n >= 3) & (vx > 1e-12 * np.maximum(mx ** 2, 1)), cxy / vx, 0.0)
    prior = float(ya.mean())
    # missing values and unseen bins: the bin mean / the prior (as the binned means do)
    fallback = _binned_means(ca, cb, k, ya)
    idx = np.clip(cb, 0, k - 1)
    pred = my[idx] + np.nan_to_num(slope[idx]) * (xb - mx[idx])
    return np.where((cb >= 0) & (n[idx] > 0) & np.isfinite(pred), pred, np.where(np.isfinite(fallback), fallback, prior))


def overlap_share(train_X: pd.DataFrame, test_X: pd.DataFrame) -> tuple[int, int]:
    """(test rows whose feature values all occur in a training row, test rows)."""
    import pandas as pd

    from mlgen_runtime.validate import row_hashes

    if len(test_X) == 0:
        return 0, 0
    shared = np.isin(row_hashes(test_X), pd.unique(row_hashes(train_X)))
    return int(shared.sum()), len(test_X)


def detect(train_X: pd.DataFrame, y_train: Any, test_X: pd.DataFrame, y_test: Any, numeric: set[str] | frozenset[str],
           task: str, cfg: dict[str, Any], overlap: tuple[int, int] | None = None,
           classes: np.ndarray | None = None) -> DetectorResult:
    """`train_X`/`test_X`: the (sampled) feature rows of each split; `overlap`: precomputed on the
    full splits (default: computed on the given rows)."""
    block = bool(cfg.get("block", True))
    minor, major = float(cfg["minor"]), float(cfg["major"])
    allowed = float(cfg["overlap"])
    ya, yb = np.asarray(y_train), np.asarray(y_test)
    metric = "ROC AUC" if task == "classification" else "R2"
    scores = {c: feature_score(train_X[c], ya, test_X[c], yb, c in numeric, task, classes) for c in test_X.columns}
    ranked = sorted(((s, c) for c, s in scores.items() if np.isfinite(s)), key=lambda t: (-t[0], t[1]))
    findings: list[Finding] = []
    for s, c in ranked:
        sev = at_least(s, minor, major)
        if sev is None:
            break
        limit = major if sev == MAJOR else minor
        findings.append(Finding(
            NAME, sev, f"{quote(c)} alone predicts the target ({metric} {s:.4f})",
            f"A one-feature model on {quote(c)}, fitted on the training split, reaches {metric} {s:.4f} on the test "
            f"rows (>= {limit:g}: {sev}). A feature this close to the answer is usually derived from the target "
            "or recorded after the outcome (a leak), and the model will not have it, or not in this form, in "
            f"production. Check how {quote(c)} is produced; drop it from the data if it is not known at prediction "
            "time, or raise scan.leakage.minor/major if it truly is this predictive.",
            {"feature": c, "score": s, "metric": metric}))
    shared, n_test = overlap if overlap is not None else overlap_share(train_X, test_X)
    share = shared / n_test if n_test else 0.0
    if share > allowed:
        sev = MAJOR if share > allowed + OVERLAP_MAJOR else "minor"
        findings.append(Finding(
            NAME, sev, f"{pct(share)} of the test rows also occur in the training split",
            f"{shared:,} of {n_test:,} test rows ({pct(share)}) have feature values identical to a training row "
            f"(allowed: {pct(allowed)}; major beyond {pct(allowed + OVERLAP_MAJOR)}): the model may have "
            "memorized them, so the test metrics overstate how it does on new data. Remove duplicated records "
            "before the split (or split by entity); if the features naturally have few distinct combinations, "
            "raise scan.leakage.overlap.",
            {"shared_rows": shared, "test_rows": n_test, "share": share, "allowed": allowed}))
    details = {"metric": metric, "scores": {c: (None if not np.isfinite(s) else s) for c, s in scores.items()},
               "top": [{"feature": c, "score": s} for s, c in ranked[:5]],
               "overlap": {"shared_rows": shared, "test_rows": n_test, "share": share, "allowed": allowed}}
    best = f"best single feature: {quote(ranked[0][1])} ({metric} {ranked[0][0]:.4f})" if ranked else "no feature scored"
    summary = f"{best}; {pct(share)} of the test rows also in the training split"
    return DetectorResult(NAME, FLAGGED if findings else PASSED, summary, tuple(findings), details, block)
