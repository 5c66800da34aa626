"""Scan detector: performance bias on slices.

A slice is a group of test rows sharing one value of a category feature (or a missing value),
one quantile bin of a numeric feature (`bins` bins; a numeric feature with at most `bins`
distinct values is sliced per value), and, with `pairs`, the intersection of two such groups.
The slice's metric is compared with the whole scanned test set:

    worse = (whole - slice) / |whole|     (higher-is-better metrics)
    worse = (slice - whole) / |whole|     (lower-is-better: log_loss, mae, mape, mse, rmse)
    worse = whole - slice                 (r2, explained_variance: skill scores, 0 = the mean;
                                           the gap is the share of the target's variance lost)

`worse` > `minor` is a minor finding, > `major` a major one; slices under `min_rows` rows are
skipped. For accuracy the severity comes from the slice's certain gap: its accuracy replaced by
the one-sided 95 % upper confidence bound (Clopper-Pearson) of it, so a 28-row slice is judged by
what 28 rows can show. A pair slice that only repeats a flagged single-feature slice (its gap is not at least
`minor` larger) is not reported again.

Slices are difficulty-adjusted (classification with predict_proba). The bins of the most
predictive numeric features that hold the decision boundary are harder for ANY model:
on breast cancer (143 test rows, accuracy 0.965) all 5 errors fall in the middle bin of
`worst concave points`, and labels drawn from a logistic model + LogisticRegression gave a major
slice finding in 4-7 of 10 seeds under the plain rule. So are groups whose outcome is close to
a coin toss: on the Titanic, 3rd-class women survived about half the time, and a sound model's
accuracy there is ~0.5 against ~0.8 overall. A sound model knows where it is unsure, so every
slice (numeric bins, category values and their pairs) is flagged only when it is BOTH more than
the threshold worse than the
whole set (as above) AND more than the same threshold worse than what the model itself expects
there; the severity comes from the smaller of the two gaps:

    expected accuracy  = 1 - mean(e'_i) over the slice       (accuracy-type metrics)
    vs_expected        = (expected - accuracy) / expected
    expected log_loss  = mean(H'_i)                          (log_loss; vs_expected the other way)

e_i = 1 - (probability of the predicted class) is the model's own error probability for row i.
e' recalibrates it to the whole scanned set: one shift `a` of the log-odds,
e'_i = expit(logit(e_i) + a), with `a` set (by bisection) so that sum(e') = the observed number
of errors. Without it a globally overconfident model (gradient boosting says 0.999 on errors) would
make every bin "worse than expected" and a globally underconfident one would hide real gaps; the
overconfidence detector judges calibration itself. The shift keeps the model's ranking of which
rows are hard, which is what separates "a hard region" from "a region the model gets wrong without
knowing it". (H'_i: the entropy of row i's probabilities, the log loss the model expects there,
scaled so its sum is the observed total loss.) For metrics other than accuracy and log_loss
(balanced_accuracy, precision, recall, f1*, roc_auc) the expectation is checked on accuracy, the
same error-rate proxy the significance test uses; the finding names both numbers.

Classifiers without predict_proba keep the plain rule: there a slice that is harder by nature can
still be flagged, and fdr is the only guard. Regression has no per-row expected error (a
model-free stand-in such as per-bin target variance cannot tell "noisier here" from "fits worse
here"); instead a regression slice is major only when its errors are OFFSET: Welch's two-sided
test of its mean error against the rest's (BH at `fdr`, `q_offset`), and the offset, shrunk by
`OFFSET_Z` standard errors towards 0 (its certain part), alone makes the gap more than `major`
(`offset_gap`: the gap minus the gap with that offset removed). Larger errors centred on zero are
what a noisier group looks like (the doctor visits of the sick, the prices of large diamonds:
every model's errors are larger there): such a slice is at most minor, and its text says so.

Everything is vectorized: each feature (and pair) is one integer code per row, and a metric per
slice comes from `np.bincount` over those codes (confusion counts per slice for the
classification metrics, sums of errors for the regression ones, ranks inside each slice from one
`np.lexsort` for roc_auc), so 100,000 rows x 20 features with pairs (~3,000 slices) take a
second or two, not one sklearn call per slice.

r2 and explained_variance on a slice use the variance of the target over the WHOLE scanned set
as the denominator (1 - MSE_slice / Var(y)). A slice's own r2 would divide by the variance of y
inside the slice, which is small whenever the slice is a bin of a feature that predicts y, so a
model exactly as accurate there as everywhere else would look "much worse". On the whole set
both definitions are the same number, the r2 of evaluate.

Significance (`fdr`, Benjamini-Hochberg): each slice gets a one-sided p-value for "the model is
worse on this slice than on the REST of the scanned rows" (the complement, so the two samples
are disjoint and independent):
- accuracy-type metrics (accuracy, balanced_accuracy, precision, recall, f1*, roc_auc): Fisher's
  exact test (one-sided) of the slice's error count: given the E errors among the N scanned rows,
  the errors falling into a slice of n rows follow a hypergeometric law under "the slice is no
  worse", so p = P(X >= errors), X ~ Hypergeometric(N, E, n). Exact for accuracy at any slice
  size (20 rows included), conditional on the observed totals (a binomial test against the
  rest's estimated error rate collapses to p = 0 whenever the rest has no error), vectorized
  (scipy's hypergeom.sf over all slices at once) and free of the resampling noise of a bootstrap
  or permutation p-value. For the other classification metrics the error rate is a proxy: a slice
  whose f1 or roc_auc drops while its error rate does not rise is not confirmed (documented
  limitation; a per-slice bootstrap of ~3,000 slices would cost minutes).
- log_loss: Welch's one-sided t-test of the per-row loss in the slice vs the rest, from per-slice
  sums of the loss and its square.
- regression metrics (mse, rmse, r2, explained_variance: squared error; mae: absolute error;
  mape: absolute percentage error): the one-sided Mann-Whitney test of the per-row loss in the
  slice vs the rest (normal approximation with tie and continuity corrections, from one ranking
  of all rows). Rank based: squared errors of real targets are heavy tailed, and a t-test of
  their mean on a 20-row slice is carried by one outlier.
- difficulty-adjusted slices (above): a one-sided test of the EXCESS over the model's own
  expectation instead. Accuracy-type metrics: the slice's error count k is, under "the model is as
  good here as it expects", a sum of independent Bernoulli(e'_i): Poisson-binomial with mean
  mu = sum(e'_i). Its exact tail needs an O(n^2) recursion per slice; the normal approximation is
  anti-conservative exactly where it matters (small mu, right-skewed: a confident model with 0.3
  expected errors in a bin). Hoeffding (1956) bounds it by the binomial with the same mean:
  P(X >= k) <= P(Bin(n, mu/n) >= k) for k >= mu + 1 (the Poisson-binomial is more concentrated),
  so p = binom.sf(k - 1, n, mu/n) is a valid, slightly conservative p-value (exact when the e'_i
  are equal; a model without any confidence spread, e.g. a tree saying 1.0 everywhere, falls back
  to a binomial version of the plain test), one vectorized call for all slices. Below that range
  (mu < k < mu + 1) Markov's bound mu / k is used, and p = 1 when k <= mu. The test is
  conditional on the recalibration, like Fisher's on the total error count. log_loss: Welch's test
  (as above) of the per-row excess loss (loss - H') on the slice vs the rest.
With `fdr` set, only slices whose BH-adjusted p-value (q) is <= fdr are flagged (one BH over all
slices, plain and adjusted); the thresholds still decide minor/major.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlgen_runtime.metrics import LOWER_IS_BETTER, Predictions, positive_scores
from mlgen_runtime.scan_result import FLAGGED, MAJOR, PASSED, DetectorResult, Finding, num, pct, severity, skipped

if TYPE_CHECKING:
    import pandas as pd

NAME = "slices"
MAX_FINDINGS = 10  # findings listed (worst first); every flagged slice is in the details
WORST = 10  # rows of the "worst slices" table
LOSS_METRICS = {"log_loss": "log", "mse": "sq", "rmse": "sq", "r2": "sq", "explained_variance": "sq", "mae": "abs",
                "mape": "ape"}
EPS = np.finfo(np.float64).eps
# skill scores (0 = predicting the mean): their gap is absolute, a share of the target's variance
# lost; relative to a whole-set r2 near 0 any slice would be "100 % worse"
SKILL_METRICS = frozenset({"r2", "explained_variance"})
OFFSET_Z = 1.645  # one-sided 95 %: the part of a regression slice's mean error that is certain
OFFSET_CONFIDENCE = 0.95  # the same level for the certain part of a slice's accuracy


def default_metric(task: str) -> str:
    return "accuracy" if task == "classification" else "r2"


# --- per-row data ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """What the per-slice metrics need, as flat arrays over the scanned rows."""

    task: str
    n: int
    # classification: indices into `labels` (the union of the model's classes, y and y_pred)
    labels: np.ndarray | None = None
    y_idx: np.ndarray | None = None
    p_idx: np.ndarray | None = None
    pos: int | None = None  # binary: index of the positive label (the model's classes_[-1])
    model_classes: np.ndarray | None = None  # indices of the model's classes in `labels`
    proba: np.ndarray | None = None  # columns follow the model's classes
    score: np.ndarray | None = None  # binary: score of the positive class
    orders: tuple[np.ndarray, ...] = ()  # argsort of `score` (binary) or of each proba column
    conf: np.ndarray | None = None  # probability the model gave its predicted class (None: no predict_proba)
    # regression
    y: np.ndarray | None = None
    err: np.ndarray | None = None  # y_pred - y
    var_y: float = 0.0


def rows_of(task: str, y: Any, preds: Predictions) -> Rows:
    if task != "classification":
        yf = np.asarray(y, dtype=float)
        err = np.asarray(preds.y_pred, dtype=float) - yf
        return Rows(task, len(yf), y=yf, err=err, var_y=float(yf.var()))
    y_arr, p_arr = np.asarray(y), np.asarray(preds.y_pred)
    classes = np.asarray(preds.classes)
    labels, inverse = np.unique(np.concatenate([classes, y_arr, p_arr]).astype(object).astype(str), return_inverse=True)
    # np.unique on the string form: mixed int/str labels never compare; the model's order is kept below
    k = len(classes)
    model_classes = inverse[:k]
    y_idx, p_idx = inverse[k:k + len(y_arr)], inverse[k + len(y_arr):]
    pos = int(model_classes[-1]) if k == 2 else None
    score = positive_scores(preds)
    scores = [score] if pos is not None else ([] if preds.proba is None else list(np.asarray(preds.proba).T))
    orders = tuple(np.argsort(s, kind="stable") for s in scores if s is not None)
    conf = None
    if preds.proba is not None:
        col = np.full(len(labels), -1)
        col[model_classes] = np.arange(k)
        j = col[p_idx]
        proba = np.asarray(preds.proba, dtype=float)
        conf = np.where(j >= 0, proba[np.arange(len(p_arr)), np.maximum(j, 0)], np.nan)
        conf = conf if len(conf) and np.isfinite(conf).all() else None
    return Rows(task, len(y_arr), labels=labels, y_idx=y_idx.astype(np.int64), p_idx=p_idx.astype(np.int64), pos=pos,
                model_classes=model_classes, proba=preds.proba, score=score, orders=orders, conf=conf)


# --- metrics per group -------------------------------------------------------------------


def group_values(metric: str, r: Rows, g: np.ndarray, G: int) -> np.ndarray:
    """The metric on each group 0..G-1 of the rows (g: group per row); NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if r.task == "classification":
            return _classification(metric, r, g, G)
        return _regression(metric, r, g, G)


def _classification(metric: str, r: Rows, g: np.ndarray, G: int) -> np.ndarray:
    n = np.bincount(g, minlength=G).astype(float)
    if metric == "log_loss":
        loss = row_loss(metric, r)
        return np.where(n > 0, np.bincount(g, weights=loss, minlength=G) / n, np.nan)
    if metric == "roc_auc":
        return _roc_auc(r, g, G)
    K = len(r.labels)  # type: ignore[arg-type]
    C = np.bincount((g * K + r.y_idx) * K + r.p_idx, minlength=G * K * K).reshape(G, K, K).astype(float)
    tp = np.diagonal(C, axis1=1, axis2=2)
    support, predicted = C.sum(axis=2), C.sum(axis=1)
    if metric == "accuracy":
        out = tp.sum(axis=1) / n
    elif metric == "balanced_accuracy":
        recall = tp / support
        out = np.nanmean(np.where(support > 0, recall, np.nan), axis=1) if K else np.full(G, np.nan)
    elif metric in ("precision", "recall", "f1") and r.pos is not None:
        p = r.pos
        out = {"precision": _div0(tp[:, p], predicted[:, p]), "recall": _div0(tp[:, p], support[:, p]),
               "f1": _div0(2 * tp[:, p], support[:, p] + predicted[:, p])}[metric]
    elif metric in ("precision", "recall", "f1", "f1_macro", "f1_weighted"):
        per_class = {"precision": _div0(tp, predicted), "recall": _div0(tp, support)}.get(
            metric, _div0(2 * tp, support + predicted))
        present = (support + predicted) > 0
        if metric == "f1_weighted":
            out = _div0((per_class * support).sum(axis=1), support.sum(axis=1))
        else:
            out = _div0((per_class * present).sum(axis=1), present.sum(axis=1))
    else:
        raise ValueError(f"`{metric}` is not a classification metric")
    return np.where(n > 0, out, np.nan)


def _div0(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b with 0 where b is 0 (scikit-learn's zero_division=0)."""
    return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)


def _roc_auc(r: Rows, g: np.ndarray, G: int) -> np.ndarray:
    if r.pos is not None:
        if r.score is None:
            return np.full(G, np.nan)
        return group_auc(g, G, r.y_idx == r.pos, r.score, r.orders[0] if r.orders else None)
    if r.proba is None:
        return np.full(G, np.nan)
    # one-vs-rest, macro; undefined on a slice where a class is absent (as metrics.py says)
    aucs = [group_auc(g, G, r.y_idx == k, r.proba[:, j], r.orders[j] if r.orders else None)
            for j, k in enumerate(r.model_classes)]  # type: ignore[arg-type]
    return np.mean(aucs, axis=0)  # NaN propagates


def group_auc(g: np.ndarray, G: int, positive: np.ndarray, score: np.ndarray,
              score_order: np.ndarray | None = None) -> np.ndarray:
    """ROC AUC of `score` for `positive` inside each group (Mann-Whitney with tied ranks
    averaged); NaN for a group with a single class. Rows are ordered by (group, score): with
    `score_order` (a stable argsort of `score`, shared by every slicing) that is one stable
    sort of small integer codes (radix sort) instead of a lexsort per slicing."""
    n = len(g)
    if score_order is None:
        order = np.lexsort((score, g))
    else:
        codes = g[score_order]
        codes = codes.astype(np.int16) if G < 2 ** 15 else codes
        order = score_order[np.argsort(codes, kind="stable")]
    gs, ss, ps = g[order], score[order], positive[order].astype(float)
    idx = np.arange(n)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = gs[1:] != gs[:-1]
    new_run = new_group.copy()
    new_run[1:] |= ss[1:] != ss[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, idx, 0))
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_start, n))
    # average 1-based rank of each run of ties inside its group
    run_rank = (run_start - group_start[run_start]) + (run_len + 1) / 2.0
    rank = np.repeat(run_rank, run_len)
    P = np.bincount(gs, weights=ps, minlength=G)
    N = np.bincount(gs, minlength=G) - P
    R = np.bincount(gs, weights=rank * ps, minlength=G)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((P > 0) & (N > 0), (R - P * (P + 1) / 2) / (P * N), np.nan)


def _regression(metric: str, r: Rows, g: np.ndarray, G: int) -> np.ndarray:
    n = np.bincount(g, minlength=G).astype(float)
    e = r.err
    if metric in ("mse", "rmse", "r2"):
        mse = np.bincount(g, weights=e * e, minlength=G) / n  # type: ignore[operator]
        out = {"mse": mse, "rmse": np.sqrt(mse), "r2": 1 - mse / r.var_y if r.var_y > 0 else np.full(G, np.nan)}[metric]
    elif metric == "explained_variance":
        mean = np.bincount(g, weights=e, minlength=G) / n
        var_e = np.bincount(g, weights=e * e, minlength=G) / n - mean ** 2  # type: ignore[operator]
        out = 1 - np.maximum(var_e, 0) / r.var_y if r.var_y > 0 else np.full(G, np.nan)
    elif metric in ("mae", "mape"):
        out = np.bincount(g, weights=row_loss(metric, r), minlength=G) / n
    else:
        raise ValueError(f"`{metric}` is not a regression metric")
    return np.where(n > 0, out, np.nan)


def row_loss(metric: str, r: Rows) -> np.ndarray | None:
    """The per-row loss whose mean the metric is (or grows with); None for accuracy-type metrics."""
    kind = LOSS_METRICS.get(metric)
    if kind is None:
        return None
    if kind == "log":
        if r.proba is None:
            return np.full(r.n, np.nan)
        col = np.full(len(r.labels), -1)  # type: ignore[arg-type]
        col[r.model_classes] = np.arange(len(r.model_classes))  # type: ignore[arg-type]
        j = col[r.y_idx]
        p = np.where(j >= 0, r.proba[np.arange(r.n), np.maximum(j, 0)], np.nan)
        return -np.log(np.clip(p, EPS, 1.0))
    e = r.err
    if kind == "sq":
        return e * e  # type: ignore[operator]
    if kind == "abs":
        return np.abs(e)  # type: ignore[arg-type]
    return np.abs(e) / np.maximum(np.abs(r.y), EPS)  # type: ignore[arg-type]


# --- significance ------------------------------------------------------------------------


def p_values(metric: str, r: Rows, g: np.ndarray, G: int) -> np.ndarray:
    """One-sided p-value per group: is the model worse on the group than on all other rows?
    (Fisher's exact test of the error count, or Welch's t-test of the per-row loss; module docstring)"""
    from scipy import stats

    n = np.bincount(g, minlength=G).astype(float)
    rest_n = r.n - n
    loss = row_loss(metric, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        if loss is None:
            wrong = (r.y_idx != r.p_idx).astype(np.int64)
            k = np.bincount(g, weights=wrong, minlength=G).round().astype(np.int64)
            p = stats.hypergeom.sf(k - 1, r.n, int(wrong.sum()), n.astype(np.int64))
            return np.where(rest_n > 0, np.nan_to_num(p, nan=1.0), 1.0)
    if r.task != "classification":
        return mann_whitney_greater(np.nan_to_num(loss, nan=0.0, posinf=0.0), g, G)  # type: ignore[arg-type]
    return welch_greater(loss, g, G)


def _accuracy_upper_bound(r: Rows, g: np.ndarray, G: int) -> np.ndarray:
    """Per group, the one-sided 95 % (Clopper-Pearson) upper confidence bound of its accuracy:
    what the slice's rows show for certain. 12 errors in 28 rows is accuracy 0.57, but the rows
    are as consistent with 0.73; a 28-row slice is major only when even that is major."""
    from scipy import stats

    n = np.bincount(g, minlength=G)
    k = np.bincount(g, weights=(r.y_idx != r.p_idx).astype(float), minlength=G).round()  # type: ignore[operator]
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(k > 0, stats.beta.ppf(1 - OFFSET_CONFIDENCE, k, n - k + 1), 0.0)
    return 1.0 - np.nan_to_num(low, nan=0.0)


def _centred(r: Rows, g: np.ndarray, G: int) -> Rows:
    """`r` with each group's mean error removed as far as it is certain: the offset shrunk by
    `OFFSET_Z` standard errors towards 0 (its one-sided 95 % lower bound). On 111 rows of a
    heavy-tailed count the mean error is uncertain by a visit; only what is certainly offset
    counts towards a major finding."""
    from dataclasses import replace

    err = np.asarray(r.err, dtype=float)
    n = np.maximum(np.bincount(g, minlength=G), 1).astype(float)
    mean = np.bincount(g, weights=err, minlength=G) / n
    var = np.maximum(np.bincount(g, weights=err * err, minlength=G) / n - mean ** 2, 0.0) * n / np.maximum(n - 1, 1)
    certain = np.sign(mean) * np.maximum(np.abs(mean) - OFFSET_Z * np.sqrt(var / n), 0.0)
    return replace(r, err=err - certain[g])


def offset_p_values(r: Rows, g: np.ndarray, G: int) -> np.ndarray:
    """Regression: Welch's two-sided p-value per group that its mean error differs from the
    rest's. A test of the mean, not of ranks: for a skewed target (a count that is mostly 0) a
    model that is right on average has positive median errors wherever it predicts more than 0,
    which a rank test would call an offset. It separates a model that misses a group (its errors
    are offset there) from a group that is only noisier (a count or a price whose spread grows
    with its level: every model's errors are larger there, centred on zero)."""
    err = np.asarray(r.err, dtype=float)
    return np.minimum(1.0, 2 * np.minimum(welch_greater(err, g, G), welch_greater(-err, g, G)))


def mann_whitney_greater(values: np.ndarray, g: np.ndarray, G: int) -> np.ndarray:
    """Mann-Whitney U per group (one-sided: the group's values tend to be larger than the rest's),
    normal approximation with the tie correction and a continuity correction (slices have at
    least min_rows rows), from one ranking of all rows: sum of the group's ranks by bincount."""
    from scipy import stats

    N = len(values)
    ranks = stats.rankdata(values)  # average ranks for ties
    _, ties = np.unique(values, return_counts=True)
    tie_term = float((ties.astype(float) ** 3 - ties).sum()) / (N * (N - 1)) if N > 1 else 0.0
    n1 = np.bincount(g, minlength=G).astype(float)
    n2 = N - n1
    W = np.bincount(g, weights=ranks, minlength=G)
    U = W - n1 * (n1 + 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(n1 * n2 / 12.0 * ((N + 1) - tie_term))
        z = (U - n1 * n2 / 2 - 0.5) / sigma
        p = stats.norm.sf(z)
    return np.where((n1 > 0) & (n2 > 0) & (sigma > 0), np.nan_to_num(p, nan=1.0), 1.0)


def welch_greater(loss: np.ndarray, g: np.ndarray, G: int) -> np.ndarray:
    """Welch's one-sided t-test per group: is the mean of `loss` larger on the group than on
    all other rows? From per-group sums of the loss and its square."""
    from scipy import stats

    n = np.bincount(g, minlength=G).astype(float)
    rest_n = len(g) - n
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.nan_to_num(loss, nan=0.0, posinf=0.0)
        s1 = np.bincount(g, weights=loss, minlength=G)
        s2 = np.bincount(g, weights=loss * loss, minlength=G)
        t1, t2 = loss.sum(), (loss * loss).sum()
        m_s, m_r = s1 / n, (t1 - s1) / rest_n
        v_s = np.maximum(s2 - n * m_s ** 2, 0) / (n - 1)
        v_r = np.maximum((t2 - s2) - rest_n * m_r ** 2, 0) / (rest_n - 1)
        a, b = v_s / n, v_r / rest_n
        se = np.sqrt(a + b)
        t = (m_s - m_r) / se
        df = (a + b) ** 2 / (a ** 2 / (n - 1) + b ** 2 / (rest_n - 1))
        p = stats.t.sf(t, df)
        p = np.where(se > 0, p, np.where(m_s > m_r, 0.0, 1.0))
        return np.where((n > 1) & (rest_n > 1), np.nan_to_num(p, nan=1.0), 1.0)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values (q): slice i is a discovery at level a when q_i <= a."""
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.clip(q, 0.0, 1.0)
    return out


# --- the model's own expectation (numeric-feature slices) -----------------------------------


@dataclass(frozen=True)
class Expectation:
    """Per row, what the model itself expects, recalibrated to the whole scanned set (module
    docstring): the probability of an error (kind "errors": accuracy-type metrics) or the log
    loss (kind "loss": log_loss)."""

    kind: str
    per_row: np.ndarray  # e'_i, or H'_i
    excess: np.ndarray | None = None  # "loss": loss_i - H'_i, the quantity Welch's test compares


def expectation(metric: str, r: Rows) -> Expectation | None:
    """None without predicted probabilities (and for regression): then no slice is difficulty-adjusted."""
    if r.task != "classification" or r.conf is None:
        return None
    if metric == "log_loss":
        proba = np.clip(np.asarray(r.proba, dtype=float), EPS, 1.0)
        entropy = -(proba * np.log(proba)).sum(axis=1)  # the loss the model expects on each row
        loss = row_loss(metric, r)
        total, expected = float(np.sum(loss)), float(entropy.sum())  # type: ignore[arg-type]
        if not (np.isfinite(total) and np.isfinite(expected) and expected > 0):
            return None
        h = entropy * (total / expected)
        return Expectation("loss", h, loss - h)  # type: ignore[operator]
    wrong = (r.y_idx != r.p_idx)  # type: ignore[operator]
    errors = int(wrong.sum())
    if errors == 0:
        return Expectation("errors", np.zeros(r.n))
    from scipy.special import expit

    e = np.clip(1.0 - r.conf, 1e-9, 1 - 1e-9)
    z = np.log(e) - np.log1p(-e)
    lo, hi = -60.0, 60.0  # shift of the error log-odds so that the expected errors add up to the observed ones
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expit(z + mid).sum() < errors else (lo, mid)
    return Expectation("errors", expit(z + (lo + hi) / 2))


def expected_values(x: Expectation, r: Rows, g: np.ndarray, G: int) -> tuple[np.ndarray, np.ndarray]:
    """(observed, expected) per group: accuracy and 1 - mean e' ("errors"), or mean log loss and
    mean H' ("loss")."""
    n = np.bincount(g, minlength=G).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if x.kind == "loss":
            loss = row_loss("log_loss", r)
            return np.bincount(g, weights=loss, minlength=G) / n, np.bincount(g, weights=x.per_row, minlength=G) / n
        wrong = (r.y_idx != r.p_idx).astype(float)  # type: ignore[operator]
        return (1 - np.bincount(g, weights=wrong, minlength=G) / n,
                1 - np.bincount(g, weights=x.per_row, minlength=G) / n)


def excess_p_values(x: Expectation, r: Rows, g: np.ndarray, G: int) -> np.ndarray:
    """One-sided p-value per group: does the model make more errors (or lose more) on the group
    than it expects there? "errors": P(X >= k) for the Poisson-binomial X of the group's error
    probabilities, bounded by Hoeffding's binomial with the same mean (module docstring);
    "loss": Welch's test of the excess loss (loss - H') on the group vs the rest."""
    if x.kind == "loss":
        return welch_greater(x.excess, g, G)  # type: ignore[arg-type]
    from scipy import stats

    n = np.bincount(g, minlength=G).astype(float)
    wrong = (r.y_idx != r.p_idx).astype(float)  # type: ignore[operator]
    k = np.bincount(g, weights=wrong, minlength=G).round()
    mu = np.bincount(g, weights=x.per_row, minlength=G)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = stats.binom.sf(k - 1, n.astype(np.int64), np.clip(mu / n, 0.0, 1.0))
        p = np.where(k >= mu + 1, p, np.minimum(mu / k, 1.0))  # Hoeffding's range; Markov below it
    return np.where((n > 0) & (k > mu), np.nan_to_num(p, nan=1.0), 1.0)


# --- slices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureCodes:
    """One feature cut into slices: a code per row (-1: a value with fewer than min_rows rows)
    and the condition of each code, e.g. ("age", ">= 61.5")."""

    name: str
    codes: np.ndarray
    conditions: list[str]


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def feature_codes(name: str, values: pd.Series, numeric: bool, bins: int, min_rows: int) -> FeatureCodes:
    """Category values (missing as its own slice) or numeric quantile bins."""
    import pandas as pd

    conditions: list[str]
    if numeric:
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        missing = np.isnan(x)
        distinct = np.unique(x[~missing])
        if len(distinct) <= bins:  # few values (a flag, a count): one slice per value
            codes = np.searchsorted(distinct, x)
            conditions = [f"= {_fmt(v)}" for v in distinct]
        else:
            edges = np.unique(np.quantile(x[~missing], np.linspace(0, 1, bins + 1)[1:-1]))
            codes = np.searchsorted(edges, x, side="right")
            conditions = [f"< {_fmt(edges[0])}"]
            conditions += [f"in [{_fmt(lo)}, {_fmt(hi)})" for lo, hi in zip(edges[:-1], edges[1:])]
            conditions.append(f">= {_fmt(edges[-1])}")
        codes = np.where(missing, len(conditions), codes)
        conditions.append("is missing")
    else:
        codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
        codes = np.where(codes < 0, len(uniques), codes)
        conditions = [f"= {v}" for v in uniques] + ["is missing"]
    counts = np.bincount(codes, minlength=len(conditions))
    keep = counts >= min_rows
    remap = np.full(len(conditions), -1)
    remap[keep] = np.arange(int(keep.sum()))
    return FeatureCodes(name, remap[codes].astype(np.int64), [c for c, k in zip(conditions, keep) if k])


@dataclass(frozen=True)
class Slicing:
    """Slices of one feature or one pair: codes per row (-1: in none) and, per code, the
    condition on each feature (as (feature, code) of the single-feature slices)."""

    features: tuple[str, ...]
    codes: np.ndarray
    parts: list[tuple[tuple[str, int], ...]]


def slicings(features: list[FeatureCodes], pairs: bool, min_rows: int) -> Iterator[Slicing]:
    for f in features:
        if len(f.conditions):
            yield Slicing((f.name,), f.codes, [((f.name, i),) for i in range(len(f.conditions))])
    if not pairs:
        return
    for i, a in enumerate(features):
        ka = len(a.conditions)
        for b in features[i + 1:]:
            kb = len(b.conditions)
            if not ka or not kb:
                continue
            valid = (a.codes >= 0) & (b.codes >= 0)
            combo = a.codes * kb + b.codes
            if ka * kb <= 4 * len(combo):
                counts = np.bincount(combo[valid], minlength=ka * kb)
                kept = np.flatnonzero(counts >= min_rows)
                remap = np.full(ka * kb, -1)
                remap[kept] = np.arange(len(kept))
                codes = np.where(valid, remap[np.where(valid, combo, 0)], -1)
            else:  # two high-cardinality features: only the combinations that occur
                uniq, inverse, counts = np.unique(combo[valid], return_inverse=True, return_counts=True)
                kept = uniq[counts >= min_rows]
                remap = np.full(len(uniq), -1)
                remap[counts >= min_rows] = np.arange(len(kept))
                codes = np.full(len(combo), -1)
                codes[valid] = remap[inverse.ravel()]
            if len(kept):
                yield Slicing((a.name, b.name), codes.astype(np.int64),
                              [((a.name, int(c // kb)), (b.name, int(c % kb))) for c in kept])


# --- the detector ------------------------------------------------------------------------


def detect(X: pd.DataFrame, numeric: set[str] | frozenset[str], y: Any, preds: Predictions, task: str,
           cfg: dict[str, Any], columns: list[str] | None = None) -> DetectorResult:
    """Run the slice scan. `X`: the scanned feature rows; `numeric`: which of its columns are
    numeric (the others are categories); `columns`: the features to slice on (default: all)."""
    block = bool(cfg.get("block", False))
    metric = cfg.get("metric") or default_metric(task)
    minor, major = float(cfg["minor"]), float(cfg["major"])
    min_rows, fdr = int(cfg["min_rows"]), cfg.get("fdr")
    names = list(columns or cfg.get("columns") or X.columns)
    r = rows_of(task, y, preds)
    whole = float(group_values(metric, r, np.zeros(r.n, dtype=np.int64), 1)[0])
    if not np.isfinite(whole):
        return skipped(NAME, f"{metric} cannot be computed on the scanned rows (e.g. no predict_proba "
                       "for log_loss, or a single class): slices not judged", block, metric=metric)
    if abs(whole) < 1e-12 and metric not in SKILL_METRICS:
        return skipped(NAME, f"{metric} is 0 on the whole test set: a relative comparison is meaningless",
                       block, metric=metric, whole=whole)
    lower = metric in LOWER_IS_BETTER
    feats = [feature_codes(c, X[c], c in numeric, int(cfg["bins"]), min_rows) for c in names]
    labels = {f.name: f.conditions for f in feats}

    expect = expectation(metric, r)
    found: list[dict[str, Any]] = []
    undefined = adjusted_slices = 0
    for s in slicings(feats, bool(cfg.get("pairs", True)), min_rows):
        G = len(s.parts)
        g = np.where(s.codes >= 0, s.codes, G)  # rows in no slice: one extra group, ignored
        vals = group_values(metric, r, g, G + 1)[:G]
        counts = np.bincount(g, minlength=G + 1)[:G]
        x = expect  # with probabilities: every slice is judged against the model's own expectation too
        if x is not None:
            observed, expected = (v[:G] for v in expected_values(x, r, g, G + 1))
            p = excess_p_values(x, r, g, G + 1)[:G] if fdr is not None else np.full(G, np.nan)
        else:
            p = p_values(metric, r, g, G + 1)[:G] if fdr is not None else np.full(G, np.nan)
        # accuracy: its certain part, the 95 % upper bound of the slice's accuracy, decides the severity
        best = _accuracy_upper_bound(r, g, G + 1)[:G] if metric == "accuracy" else vals
        regression = task != "classification" and fdr is not None
        p_off = offset_p_values(r, g, G + 1)[:G] if regression else np.full(G, np.nan)
        # the slice's metric with its certain offset removed: what is left is "noisier", not "off"
        centred = group_values(metric, _centred(r, g, G + 1), g, G + 1)[:G] if regression else vals
        for k in range(G):
            if not np.isfinite(vals[k]):
                undefined += 1
                continue
            scale = 1.0 if metric in SKILL_METRICS else abs(whole)
            worse = ((vals[k] - whole) if lower else (whole - vals[k])) / scale
            certain = ((best[k] - whole) if lower else (whole - best[k])) / scale
            f = {"features": list(s.features), "parts": s.parts[k], "rows": int(counts[k]),
                 "value": float(vals[k]), "worse": float(worse), "p": float(p[k]), "gap": float(certain),
                 "p_offset": float(p_off[k])}
            if regression:
                rest = ((centred[k] - whole) if lower else (whole - centred[k])) / (1.0 if metric in SKILL_METRICS else abs(whole))
                f["offset_gap"] = float(worse - rest)  # the part of the gap the slice's offset makes
            if x is not None:
                adjusted_slices += 1
                exp_k, obs_k = float(expected[k]), float(observed[k])
                vs = ((obs_k - exp_k) if x.kind == "loss" else (exp_k - obs_k)) / max(abs(exp_k), EPS)
                vs_certain = (exp_k - float(best[k])) / max(abs(exp_k), EPS) if metric == "accuracy" else vs
                f.update(expected_metric="log_loss" if x.kind == "loss" else "accuracy", observed=obs_k,
                         expected=exp_k, vs_expected=float(vs), gap=float(min(certain, vs_certain)))
            found.append(f)
    if fdr is not None and found:
        q = benjamini_hochberg(np.array([f["p"] for f in found]))
        for f, qk in zip(found, q):
            f["q"] = float(qk)
        if task != "classification":
            for f, qk in zip(found, benjamini_hochberg(np.array([f["p_offset"] for f in found]))):
                f["q_offset"] = float(qk)
    for f in found:
        f["slice"] = " and ".join(f"{quote(c)} {labels[c][i]}" for c, i in f["parts"])
        f["conditions"] = [{"column": c, "condition": labels[c][i]} for c, i in f["parts"]]
        sev = severity(f["gap"], minor, major)
        if sev is not None and fdr is not None and not f["q"] <= float(fdr):
            sev = None
        if sev == MAJOR and "q_offset" in f and not (f["q_offset"] <= float(fdr) and f["offset_gap"] > major):  # type: ignore[arg-type]
            sev, f["noisier"] = "minor", True  # larger errors, not (enough) from an offset: a noisier group, a warning
        f["severity"] = sev

    # a pair slice that only repeats a flagged single-feature slice is not reported again
    single = {f["parts"][0]: f for f in found if len(f["parts"]) == 1}
    for f in found:
        if f["severity"] and len(f["parts"]) == 2:
            parts = [single.get((c, i)) for c, i in f["parts"]]
            if any(c is not None and c["severity"] and f["gap"] < c["gap"] + minor for c in parts):
                f["severity"], f["explained"] = None, True

    found.sort(key=lambda f: (-f["worse"], f["slice"]))
    flagged = [f for f in found if f["severity"]]
    flagged.sort(key=lambda f: (f["severity"] != MAJOR, -f["gap"], f["slice"]))
    n_major = sum(f["severity"] == MAJOR for f in flagged)
    findings = tuple(_finding(f, metric, whole, r.n, minor, major, fdr) for f in flagged[:MAX_FINDINGS])
    details = {
        "metric": metric, "whole": whole, "lower_is_better": lower, "rows": r.n, "features": names,
        "slices": len(found), "undefined": undefined, "flagged": len(flagged), "major": n_major,
        "fdr": fdr, "difficulty_adjusted": adjusted_slices, "worst": [_public(f) for f in found[:WORST]],
        "flagged_slices": [_public(f) for f in flagged],
    }
    summary = (f"{len(found):,} slices of {len(names)} feature(s){' and their pairs' if cfg.get('pairs', True) else ''}"
               f" (>= {min_rows} rows), {metric} {num(whole)} on the whole set: ")
    if not flagged:
        also = " (numeric-feature slices: also than the model's own confidence there)" if adjusted_slices else ""
        return DetectorResult(NAME, PASSED, summary + f"none is more than {pct(minor)} worse{also}"
                              + (f" with BH q <= {fdr:g}" if fdr is not None else ""), (), details, block)
    more = f"; {len(flagged) - MAX_FINDINGS} more in scan.json" if len(flagged) > MAX_FINDINGS else ""
    return DetectorResult(NAME, FLAGGED, summary + f"{len(flagged)} flagged ({n_major} major){more}",
                          findings, details, block)


def quote(name: str) -> str:
    """A column name as `code` in finding texts (report_md.inline renders it as a code span);
    a name that itself holds a backtick stays plain text, which inline escapes."""
    return name if "`" in name else f"`{name}`"


def _public(f: dict[str, Any]) -> dict[str, Any]:
    keys = ("slice", "conditions", "rows", "value", "worse", "severity", "p", "q", "expected_metric", "expected",
            "vs_expected", "q_offset", "offset_gap")
    out = {k: f.get(k) for k in keys}
    out["p"] = None if out["p"] is None or not np.isfinite(out["p"]) else out["p"]
    return out


def _finding(f: dict[str, Any], metric: str, whole: float, n: int, minor: float, major: float,
             fdr: float | None) -> Finding:
    sev = f["severity"]
    limit = major if sev == MAJOR else minor
    title = f"{f['slice']}: {metric} {num(f['value'])} vs {num(whole)} on the whole test set"
    text = (f"On the {f['rows']:,} scanned test rows ({pct(f['rows'] / n)}) where {f['slice']}, {metric} is "
            f"{num(f['value'])} against {num(whole)} on all {n:,}: {pct(f['worse'])} worse")
    if f.get("expected") is not None:
        em = f["expected_metric"]
        got = "" if em == metric else f" ({em} {num(f['observed'])})"
        text += (f"; the model expected {em} {num(f['expected'])} here (its own confidence on these rows, "
                 f"rescaled to its {'loss' if em == 'log_loss' else 'error rate'} on the whole set), so it is also "
                 f"{pct(f['vs_expected'])} worse than it expected{got} ({sev}: both gaps more than {pct(limit)})")
        evidence = (f"; BH q = {f['q']:.2g} (fdr {fdr:g}) for more {'loss' if em == 'log_loss' else 'errors'} "
                    "than expected" if fdr is not None else "")
    else:
        text += f" ({sev}: more than {pct(limit)})"
        evidence = f"; BH q = {f['q']:.2g} (fdr {fdr:g})" if fdr is not None else ""
        if f.get("noisier"):
            evidence += (f"; minor, not major: the errors there are larger, but their offset (the mean error there vs "
                         f"the rest: BH q = {f['q_offset']:.2g}) makes only {pct(max(f['offset_gap'], 0.0))} of the "
                         f"gap (major needs more than {pct(major)}), as in a group whose target is noisier")
    text += (f"{evidence}. Check whether rows like these are rare or labelled differently in the "
             "training data; collect or weight more of them, or give the model features that explain the "
             "difference, and retrain. If the group is simply harder, raise scan.slices.minor/major or set "
             "scan.slices.fdr.")
    return Finding(NAME, sev, title, text, _public(f))
