"""Scan detector: leakage.

1. A single feature that predicts the target almost perfectly on its own. Each feature gets a
   one-feature model, CROSS-FITTED over the scanned test rows and a same-size sample of the
   training rows together (`FOLDS` folds, seeded): every row is scored by a model fitted on the
   other folds, so an ID-like column that merely memorizes rows scores nothing, and the score
   rests on every scanned row rather than on the test rows alone (on a 32-row data set the test
   split has 7 rows, and two honest features reached ROC AUC 1.0 on them by chance). The
   one-feature models:
   - binned target means: numeric features cut into up to 64 quantile bins (of the fitting
     rows), category features per value; missing values are a bin of their own, and values
     unseen in fitting get the prior. This catches non-monotonic leaks (|x|, x^2, a code per
     class);
   - numeric features also: the raw value itself (classification, rank based: no fit), or for
     regression a straight line and a line per bin (piecewise linear), which resolve monotonic
     and smooth non-monotonic leaks (y = x^2) that bin means blur in wide tail bins.
   The score is the better of the two: ROC AUC for classification, max(auc, 1 - auc), one-vs-rest
   macro for multiclass; R2 for regression. A score >= `minor` is a minor finding, >= `major` a
   major one.
2. Rows shared by train and test: the share of test rows whose feature values AND target all
   occur in one training row. The model may have memorized those examples with their answers,
   so the test metrics overstate it. Equal features with another target are not counted: a model
   cannot have memorized an answer it was not shown (survey data with a few discrete columns
   repeats feature combinations by nature), and the shared split keeps identical rows on one
   side. A share above `overlap` is flagged; it is major when it exceeds `overlap` by more than
   5 percentage points (`OVERLAP_MAJOR`): from then on the held-out metrics are measurably
   inflated; below, it is a warning about a few duplicates.
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
VALUE_BINS = 16  # a numeric feature with at most this many distinct values is binned per value
OVERLAP_MAJOR = 0.05  # overlap share beyond `overlap` + this: major
SMOOTHING = 1.0  # pseudo-rows of the prior in each bin's mean
FOLDS = 5  # cross-fitting folds of the one-feature models
TARGET = "\x00target"  # the target's column when rows are compared whole (no feature has this name)


def _bin_codes(train: pd.Series, test: pd.Series, numeric: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of train and test rows on bins learned from the training rows; (codes, codes, count).
    Code count-1 is "missing"; test values unseen in training get code -1."""
    import pandas as pd

    if numeric:
        a = pd.to_numeric(train, errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(test, errors="coerce").to_numpy(dtype=float)
        ok = a[~np.isnan(a)]
        distinct = np.unique(ok)
        if len(distinct) <= VALUE_BINS:  # a code, a flag, a scale: one bin per value, whatever the row count
            edges = distinct[1:]
        else:
            bins = int(np.clip(len(ok) // MIN_BIN_ROWS, 1, MAX_BINS))
            edges = np.unique(np.quantile(ok, np.linspace(0, 1, bins + 1)[1:-1])) if bins > 1 else np.array([])
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


def fold_ids(n: int, seed: int) -> np.ndarray:
    """A fold per row (0..FOLDS-1), balanced and seeded."""
    return np.random.default_rng([seed, 17]).permutation(np.arange(n) % FOLDS)


def cross_fitted_score(x: pd.Series, y: np.ndarray, numeric: bool, task: str, folds: np.ndarray,
                       classes: np.ndarray | None = None) -> float:
    """How well this one feature predicts the target (ROC AUC or R2) from out-of-fold
    predictions: the one-feature models of the module docstring, each row scored by a model
    fitted on the other folds."""
    import pandas as pd

    x = x.reset_index(drop=True)
    raw = pd.to_numeric(x, errors="coerce").to_numpy(dtype=float) if numeric else None
    if raw is not None:
        fill = np.nanmedian(raw) if np.isfinite(raw).any() else 0.0
        raw = np.where(np.isnan(raw), fill, raw)
    parts = [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in np.unique(folds)]
    codes = [_bin_codes(x.iloc[a], x.iloc[b], numeric) for a, b in parts]

    def oof(fit_predict: Any) -> np.ndarray:
        out = np.empty(len(y))
        for (a, b), (ca, cb, k) in zip(parts, codes):
            out[b] = fit_predict(a, b, ca, cb, k)
        return out

    if task == "classification":
        labels = classes if classes is not None else np.unique(y)
        one_vs_rest = labels[-1:] if len(labels) == 2 else labels
        scores = []
        for label in one_vs_rest:
            pos = (y == label).astype(float)
            s = _auc(pos > 0, oof(lambda a, b, ca, cb, k: _binned_means(ca, cb, k, pos[a])))
            if raw is not None:
                s = np.fmax(s, _auc(pos > 0, raw))
            scores.append(s)
        return float(np.mean(scores)) if scores else float("nan")
    yf = y.astype(float)
    score = _r2(yf, oof(lambda a, b, ca, cb, k: _binned_means(ca, cb, k, yf[a])))
    if raw is not None and np.ptp(raw) > 0:
        def line(a: np.ndarray, b: np.ndarray, ca: np.ndarray, cb: np.ndarray, k: int) -> np.ndarray:
            if np.ptp(raw[a]) == 0:
                return np.full(len(b), yf[a].mean())
            slope, intercept = np.polyfit(raw[a], yf[a], 1)
            return slope * raw[b] + intercept

        xa_all = pd.to_numeric(x, errors="coerce").to_numpy(dtype=float)
        score = float(np.fmax(score, _r2(yf, oof(line))))
        score = float(np.fmax(score, _r2(yf, oof(
            lambda a, b, ca, cb, k: _piecewise_linear(xa_all[a], ca, yf[a], raw[b], cb, k)))))
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
           classes: np.ndarray | None = None, seed: int = 0) -> DetectorResult:
    """`train_X`/`test_X`: the (sampled) feature rows of each split; `overlap`: precomputed on the
    full splits with their targets (default: computed on the given rows and targets)."""
    import pandas as pd

    block = bool(cfg.get("block", True))
    minor, major = float(cfg["minor"]), float(cfg["major"])
    allowed = float(cfg["overlap"])
    ya, yb = np.asarray(y_train), np.asarray(y_test)
    metric = "ROC AUC" if task == "classification" else "R2"
    X_all = pd.concat([train_X, test_X], ignore_index=True)  # both splits' (sampled) rows, cross-fitted
    y_all = np.concatenate([ya, yb])
    folds = fold_ids(len(X_all), seed)
    scores = {c: cross_fitted_score(X_all[c], y_all, c in numeric, task, folds, classes) for c in test_X.columns}
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
    shared, n_test = overlap if overlap is not None else overlap_share(train_X.assign(**{TARGET: ya}),
                                                                         test_X.assign(**{TARGET: yb}))
    share = shared / n_test if n_test else 0.0
    if share > allowed:
        sev = MAJOR if share > allowed + OVERLAP_MAJOR else "minor"
        findings.append(Finding(
            NAME, sev, f"{pct(share)} of the test rows also occur in the training split",
            f"{shared:,} of {n_test:,} test rows ({pct(share)}) have feature values and target identical to a training row "
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
