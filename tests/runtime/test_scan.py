"""scan: the four detectors on numpy/pandas inputs (fast), planted vulnerabilities end to end
through the runtime CLI, the verdict deploy relies on, and a false-positive study on clean data."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgen.spec.model import Scan
from mlgen_runtime import metrics, pipeline, scan_leakage, scan_overconfidence, scan_report, scan_robustness, scan_slices
from mlgen_runtime.errors import CheckFailed
from mlgen_runtime.scan import scan_verdict
from mlgen_runtime.scan_result import MAJOR, MINOR, PASSED, SKIPPED

OUT = Path(".mlgen/out/scan")
DEFAULTS = Scan().model_dump(mode="json")  # the spec's defaults: what a bare [scan] gives


def cfg(detector: str, **changes) -> dict:
    return {**DEFAULTS[detector], **changes}


def clf_preds(y_pred, proba=None, classes=(0, 1)) -> metrics.Predictions:
    return metrics.Predictions(np.asarray(y_pred), None if proba is None else np.asarray(proba), None, np.asarray(classes))


# --- per-slice metrics agree with metrics.py (sklearn) ------------------------------------


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy", "f1", "precision", "recall", "f1_macro",
                                    "f1_weighted", "roc_auc", "log_loss"])
@pytest.mark.parametrize("k", [2, 3])
def test_group_values_match_sklearn_on_every_group(metric, k):
    rng = np.random.default_rng(k)
    n, G = 600, 5
    classes = np.array(["a", "b", "c"][:k])
    y = classes[rng.integers(0, k, n)]
    proba = rng.dirichlet(np.ones(k), n)
    proba[np.arange(n), np.searchsorted(classes, y)] += 0.6 * rng.random(n)  # some skill
    proba /= proba.sum(axis=1, keepdims=True)
    proba = np.round(proba, 2) / np.round(proba, 2).sum(axis=1, keepdims=True)  # ties for the AUC
    preds = metrics.Predictions(classes[proba.argmax(axis=1)], proba, None, classes)
    g = rng.integers(0, G, n)
    rows = scan_slices.rows_of("classification", y, preds)
    got = scan_slices.group_values(metric, rows, g, G)
    for i in range(G):
        mask = g == i
        want = metrics.value(metric, "classification", y[mask], metrics.subset(preds, mask))
        assert got[i] == pytest.approx(want, abs=1e-9 if metric != "log_loss" else 1e-6), (metric, i)
    whole = scan_slices.group_values(metric, rows, np.zeros(n, dtype=np.int64), 1)[0]
    assert whole == pytest.approx(metrics.value(metric, "classification", y, preds), abs=1e-6)


@pytest.mark.parametrize("metric", ["mse", "rmse", "mae", "mape", "r2", "explained_variance"])
def test_regression_group_values(metric):
    rng = np.random.default_rng(0)
    n, G = 500, 4
    y = rng.normal(10, 3, n)
    pred = y + rng.normal(0, 1 + np.arange(n) % 3, n)
    preds = metrics.Predictions(pred, None, None, None)
    g = rng.integers(0, G, n)
    rows = scan_slices.rows_of("regression", y, preds)
    got = scan_slices.group_values(metric, rows, g, G)
    whole = scan_slices.group_values(metric, rows, np.zeros(n, dtype=np.int64), 1)[0]
    assert whole == pytest.approx(metrics.value(metric, "regression", y, preds))  # the whole set: evaluate's number
    for i in range(G):
        mask = g == i
        if metric in ("r2", "explained_variance"):  # slices divide by the whole set's variance (docstring)
            err = pred[mask] - y[mask]
            num = (err ** 2).mean() if metric == "r2" else err.var()
            assert got[i] == pytest.approx(1 - num / y.var())
        else:
            assert got[i] == pytest.approx(metrics.value(metric, "regression", y[mask], metrics.subset(preds, mask)))


def test_group_auc_with_ties_and_single_class_groups():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    g = np.repeat([0, 1, 2], 50)
    pos = rng.random(150) < 0.4
    pos[100:] = True  # group 2: one class only
    score = np.round(rng.random(150) + 0.3 * pos, 1)
    auc = scan_slices.group_auc(g, 3, pos, score)
    for i in (0, 1):
        assert auc[i] == pytest.approx(roc_auc_score(pos[g == i], score[g == i]))
    assert np.isnan(auc[2])


def test_p_values_are_fisher_exact_and_welch():
    from scipy import stats

    y = np.array([0] * 60 + [1] * 60)
    y_pred = y.copy()
    y_pred[:8] = 1  # 8 errors, all in group 0 (rows 0..29)
    y_pred[100:102] = 0  # 2 errors in group 1
    g = np.repeat([0, 1], [30, 90])
    rows = scan_slices.rows_of("classification", y, clf_preds(y_pred))
    p = scan_slices.p_values("accuracy", rows, g, 2)
    table = [[8, 30 - 8], [2, 90 - 2]]  # errors / right in the slice, in the rest
    assert p[0] == pytest.approx(stats.fisher_exact(table, alternative="greater").pvalue)
    assert p[1] > 0.9
    # a per-row loss metric: Welch's one-sided t-test of the loss
    yr = np.zeros(100)
    pr = np.r_[np.full(30, 2.0), np.full(70, 0.5)] + np.linspace(0, 0.1, 100)
    rr = scan_slices.rows_of("regression", yr, metrics.Predictions(pr, None, None, None))
    gr = np.repeat([0, 1], [30, 70])
    want = stats.ttest_ind(np.abs(pr[:30]), np.abs(pr[30:]), equal_var=False, alternative="greater").pvalue
    assert scan_slices.p_values("mae", rr, gr, 2)[0] == pytest.approx(want)


def test_benjamini_hochberg():
    from scipy import stats

    p = np.array([0.001, 0.04, 0.03, 0.5, 0.01, 0.2])
    assert scan_slices.benjamini_hochberg(p) == pytest.approx(stats.false_discovery_control(p))


def test_feature_codes_bins_values_and_missing():
    x = pd.Series(np.r_[np.arange(100, dtype=float), [np.nan] * 30])
    f = scan_slices.feature_codes("age", x, True, 4, 20)
    assert f.conditions == ["< 24.75", "in [24.75, 49.5)", "in [49.5, 74.25)", ">= 74.25", "is missing"]
    assert np.bincount(f.codes).tolist() == [25, 25, 25, 25, 30]
    flag = scan_slices.feature_codes("vip", pd.Series([0, 1] * 50 + [2] * 5), True, 4, 20)
    assert flag.conditions == ["= 0", "= 1"] and (flag.codes[-5:] == -1).all()  # 5 rows < min_rows: in no slice
    cat = scan_slices.feature_codes("plan", pd.Series(["a"] * 30 + [None] * 25 + ["rare"] * 3), False, 4, 20)
    assert cat.conditions == ["= a", "is missing"]


# --- slices -------------------------------------------------------------------------------


def slice_frame(n=3000, seed=0, bad_share=0.0, bad_value="z"):
    """Two numeric features and a category; predictions right except in the planted slice."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.normal(size=n), "w": rng.normal(size=n),
                      "group": rng.choice(["p", "q", bad_value], size=n, p=[0.5, 0.4, 0.1])})
    y = rng.integers(0, 2, n)
    y_pred = np.where(rng.random(n) < 0.05, 1 - y, y)  # 95 % right everywhere
    bad = (X["group"] == bad_value).to_numpy() & (rng.random(n) < bad_share)
    y_pred = np.where(bad, 1 - y, y_pred)
    return X, y, y_pred


def test_slices_flag_the_planted_slice_as_major():
    X, y, y_pred = slice_frame(bad_share=0.4)  # the `z` rows: ~57 % accuracy vs ~91 % overall
    r = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred), "classification", cfg("slices"))
    assert r.status == "flagged" and r.major
    top = r.findings[0]
    z = next(f for f in r.findings if f.details["slice"] == "`group` = z")
    assert z.severity == MAJOR and z.title.startswith("`group` = z: accuracy 0.")
    assert "worse (major: more than 10%)" in z.text and "rows" in z.text
    # the 8 pairs of `group` = z with the x/w bins mostly only repeat it: not reported again
    pairs = [f for f in r.findings if "`group` = z" in f.title and " and " in f.title]
    assert len(pairs) < 4, [f.title for f in pairs]


def test_slices_minor_lower_is_better_min_rows_and_columns():
    X, y, y_pred = slice_frame(n=20000, bad_share=0.08, seed=3)  # ~7 % relative drop on `z`
    r = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred), "classification", cfg("slices", pairs=False))
    assert [(f.severity, f.details["slice"]) for f in r.findings] == [(MINOR, "`group` = z")]
    # columns restricts the features; min_rows above the slice's size skips it
    r = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred), "classification", cfg("slices", columns=["x"]))
    assert r.details["features"] == ["x"] and not r.findings
    r = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred), "classification", cfg("slices", min_rows=3000, pairs=False))
    assert all("`group` = z" != s["slice"] for s in r.details["worst"])
    # regression with a lower-is-better metric: mae twice as large in one bin of x
    rng = np.random.default_rng(0)
    Xr = pd.DataFrame({"x": rng.normal(size=4000)})
    yr = rng.normal(size=4000)
    top = (Xr["x"] > Xr["x"].quantile(0.75)).to_numpy()
    noisier = yr + rng.normal(0, 1, 4000) * np.where(top, 2.0, 1.0)  # larger errors, centred on zero
    r = scan_slices.detect(Xr, {"x"}, yr, metrics.Predictions(noisier, None, None, None), "regression",
                           cfg("slices", metric="mae"))
    assert r.findings[0].severity == MINOR and r.findings[0].details["slice"].startswith("`x` >= ")
    assert "as in a group whose target is noisier" in r.findings[0].text and r.details["lower_is_better"] is True
    offset = yr + rng.normal(0, 1, 4000) + np.where(top, 1.5, 0.0)  # the model misses the group: major
    r = scan_slices.detect(Xr, {"x"}, yr, metrics.Predictions(offset, None, None, None), "regression",
                           cfg("slices", metric="mae"))
    assert r.findings[0].severity == MAJOR and r.findings[0].details["slice"].startswith("`x` >= ")
    assert r.findings[0].details["q_offset"] < 1e-6


def test_slices_find_an_interaction_only_as_a_pair():
    rng = np.random.default_rng(5)
    n = 6000
    X = pd.DataFrame({"a": rng.choice(["u", "v"], n), "b": rng.choice(["s", "t"], n)})
    y = rng.integers(0, 2, n)
    y_pred = np.where(rng.random(n) < 0.03, 1 - y, y)
    both = ((X["a"] == "v") & (X["b"] == "t")).to_numpy()
    y_pred = np.where(both & (rng.random(n) < 0.3), 1 - y, y_pred)
    r = scan_slices.detect(X, set(), y, clf_preds(y_pred), "classification", cfg("slices", fdr=0.05))
    titles = [f.details["slice"] for f in r.findings]
    assert titles[0] == "`a` = v and `b` = t" and r.findings[0].severity == MAJOR
    assert r.findings[0].details["q"] < 1e-6


def test_fdr_and_the_accuracy_bound_keep_noisy_small_slices_quiet():
    X, y, y_pred = slice_frame(n=400, seed=11)  # no planted slice; 10-100 row slices are noisy
    quiet = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred), "classification", cfg("slices", fdr=0.05))
    assert not quiet.findings and quiet.status == PASSED
    # without fdr, the point gaps of the noisiest slices are "major"; their certain part (the upper
    # bound of the slice's accuracy) is not, and neither is any finding
    no_fdr = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred), "classification", cfg("slices", fdr=1.0))
    assert no_fdr.details["worst"][0]["worse"] > DEFAULTS["slices"]["major"]
    assert not [f for f in no_fdr.findings if f.severity == MAJOR]


def test_slices_skip_when_the_metric_is_undefined():
    X, y, y_pred = slice_frame(n=200)
    r = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred), "classification", cfg("slices", metric="log_loss"))
    assert r.status == SKIPPED and "log_loss cannot be computed" in r.summary


# --- slices with probabilities: difficulty-adjusted by the model's own confidence ---------------


def binary_proba(y_pred, conf):
    """Probabilities for classes (0, 1) that give the predicted class `conf`."""
    p1 = np.where(np.asarray(y_pred) == 1, conf, 1 - np.asarray(conf))
    return np.column_stack([1 - p1, p1])


def test_expectation_is_recalibrated_and_the_excess_test_is_binomial():
    from scipy import stats

    rng = np.random.default_rng(0)
    n = 1000
    y = rng.integers(0, 2, n)
    conf = rng.uniform(0.9, 1.0, n)  # overconfident: ~5 % expected errors, 15 % observed
    y_pred = np.where(rng.random(n) < 0.15, 1 - y, y)
    rows = scan_slices.rows_of("classification", y, clf_preds(y_pred, binary_proba(y_pred, conf)))
    assert rows.conf == pytest.approx(conf)
    x = scan_slices.expectation("accuracy", rows)
    assert x.kind == "errors" and x.per_row.sum() == pytest.approx((y != y_pred).sum(), rel=1e-6)
    e = 1 - conf
    assert np.all(np.diff(x.per_row[np.argsort(e)]) >= -1e-12)  # the model's ranking of hard rows is kept
    # equal confidences: e' is the observed error rate and the p-value the binomial tail, exactly
    flat = scan_slices.rows_of("classification", y, clf_preds(y_pred, binary_proba(y_pred, np.full(n, 0.99))))
    xf = scan_slices.expectation("accuracy", flat)
    g = np.repeat([0, 1], [100, 900])
    k = int((y != y_pred)[:100].sum())
    rate = (y != y_pred).mean()
    assert xf.per_row == pytest.approx(np.full(n, rate))
    assert scan_slices.excess_p_values(xf, flat, g, 2)[0] == pytest.approx(
        stats.binom.sf(k - 1, 100, rate) if k >= 100 * rate + 1 else min(1.0, 100 * rate / k))
    assert scan_slices.expectation("accuracy", scan_slices.rows_of("classification", y, clf_preds(y_pred))) is None
    lx = scan_slices.expectation("log_loss", rows)
    assert lx.kind == "loss" and lx.excess.sum() == pytest.approx(0.0, abs=1e-6)


def numeric_bin_frame(n=4000, seed=0, *, knows: bool):
    """A model ~87 % right and calibrated everywhere, except in the top quartile of `x`: there it
    is right only ~57 % of the time, either knowing it (confidence ~0.57: the data is harder
    there) or not (35 % of the predictions flipped, each made with confidence 0.97)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.normal(size=n), "w": rng.normal(size=n), "group": rng.choice(["p", "q"], n)})
    y = rng.integers(0, 2, n)
    top = (X["x"] >= X["x"].quantile(0.75)).to_numpy()
    conf = rng.uniform(0.75, 1.0, n)
    if knows:
        conf = np.where(top, rng.uniform(0.5, 0.65, n), conf)
    y_pred = np.where(rng.random(n) < conf, y, 1 - y)
    if not knows:
        flip = top & (rng.random(n) < 0.35)
        y_pred = np.where(flip, 1 - y, y_pred)
        conf = np.where(flip, 0.97, conf)
    return X, y, y_pred, binary_proba(y_pred, conf)


@pytest.mark.parametrize("pairs", [False, True])
def test_a_planted_numeric_bin_the_model_gets_wrong_unknowingly_is_major(pairs):
    X, y, y_pred, proba = numeric_bin_frame(knows=False)
    r = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred, proba), "classification", cfg("slices", pairs=pairs))
    top = r.findings[0]
    assert top.severity == MAJOR and top.details["slice"].startswith("`x` >= ")
    assert top.details["expected"] > 0.8 and top.details["vs_expected"] > 0.25 and top.details["q"] < 1e-6
    assert "the model expected accuracy 0.8" in top.text and "worse than it expected" in top.text
    assert r.details["major"] == 1, [f.title for f in r.findings]  # its pairs only repeat it


def test_a_numeric_bin_the_model_knows_is_hard_is_not_flagged():
    X, y, y_pred, proba = numeric_bin_frame(knows=True)
    r = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred, proba), "classification", cfg("slices"))
    assert r.status == PASSED and r.details["difficulty_adjusted"] > 0, [f.title for f in r.findings]
    s = next(s for s in r.details["worst"] if s["slice"].startswith("`x` >= ") and " and " not in s["slice"])
    assert s["worse"] > 0.25 and abs(s["vs_expected"]) < 0.05  # far worse than the whole set, as expected
    # without probabilities there is no expectation: the plain rule flags the same slice
    plain = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred), "classification", cfg("slices"))
    assert plain.findings[0].severity == MAJOR and plain.findings[0].details["slice"].startswith("`x` >= ")
    assert plain.findings[0].details["expected"] is None


def test_a_category_the_model_knows_is_hard_is_not_flagged_one_it_does_not_know_is():
    # as 3rd-class women on the Titanic: about half survived, and a sound model says ~0.5 there
    X, y, y_pred = slice_frame(bad_share=0.4)
    z = (X["group"] == "z").to_numpy()
    known = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred, binary_proba(y_pred, np.where(z, 0.55, 0.95))),
                               "classification", cfg("slices"))
    assert not [f for f in known.findings if "`group` = z" in f.details["slice"]]
    unaware = scan_slices.detect(X, {"x", "w"}, y, clf_preds(y_pred, binary_proba(y_pred, np.full(len(y), 0.95))),
                                 "classification", cfg("slices"))
    single = [f for f in unaware.findings if f.details["slice"] == "`group` = z"]
    assert single and single[0].severity == MAJOR and single[0].details["expected"] > 0.8


@pytest.mark.parametrize("pairs", [False, True])
def test_breast_cancer_boundary_bins_give_no_major(pairs):
    """`mlgen init --template classification`: HistGradientBoosting on breast cancer, 25 % stratified
    test split (143 rows). Under the plain rule seed 42 gave 5 major slices (10 with pairs), all
    bins that hold the decision boundary of the most predictive features, seed 1 gave 4."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    y = (y == 0).astype(int)
    majors = {}
    for seed in (0, 1, 2, 3, 4, 42):
        Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
        cols = pipeline.columns(Xa, {})
        settings = {"project": {"seed": seed}, "data": {"task": "classification"},
                    "train": {"estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
                              "params": {"max_iter": 100}}}
        model = pipeline.build(settings, cols).fit(Xa, ya)
        r = scan_slices.detect(Xb, frozenset(cols.numeric), yb, metrics.predict(model, Xb, "classification"),
                               "classification", cfg("slices", pairs=pairs))
        majors[seed] = [f.title for f in r.findings if f.severity == MAJOR]
    assert not any(majors.values()), majors


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_logistic_labels_and_logistic_regression_give_no_major(scale):
    """Labels drawn from a logistic model (every region near its boundary is noisy) and the
    well-specified LogisticRegression: 10 seeds x 2,000 rows (500 scanned), default slices (fdr
    0.05) with and without pairs. The plain rule gave a major slice finding in 6/10 seeds without
    pairs and 2/10 with them (scale 1), 1/10 and 4/10 (scale 2); difficulty-adjusted: 0 findings."""
    from sklearn.model_selection import train_test_split

    majors = {}
    for seed in range(10):
        rng = np.random.default_rng(seed)
        n = 2000
        X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
        X["c1"] = rng.choice(["a", "b", "c"], n)
        X["c2"] = rng.choice(["u", "v"], n, p=[0.7, 0.3])
        lin = X["x0"] + 0.8 * X["x1"] - 0.6 * X["x2"] + np.where(X["c1"] == "a", 0.5, -0.2)
        y = (rng.random(n) < 1 / (1 + np.exp(-scale * lin))).astype(int)
        Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.25, random_state=seed)
        cols = pipeline.columns(Xa, {})
        settings = {"project": {"seed": seed}, "data": {"task": "classification"},
                    "train": {"estimator": "sklearn.linear_model.LogisticRegression", "params": {}}}
        model = pipeline.build(settings, cols).fit(Xa, ya)
        preds = metrics.predict(model, Xb, "classification")
        for pairs in (False, True):
            r = scan_slices.detect(Xb, frozenset(cols.numeric), yb, preds, "classification", cfg("slices", pairs=pairs))
            majors[(seed, pairs)] = [f.title for f in r.findings if f.severity == MAJOR]
    assert not any(majors.values()), {k: v for k, v in majors.items() if v}


# --- robustness -----------------------------------------------------------------------------


class Fragile:
    """Predicts from the 3rd decimal of x: any tiny noise flips it."""

    def predict(self, X):
        return (np.floor(np.asarray(X["x"], dtype=float) * 1000) % 2).astype(int)


class Stable:
    def predict(self, X):
        return (np.asarray(X["x"], dtype=float) > 0).astype(int)


class OnCategory:
    def predict(self, X):
        return (X["plan"] == "pro").astype(int).to_numpy()


def robust_frame(n=2000):
    rng = np.random.default_rng(2)
    return pd.DataFrame({"x": rng.normal(size=n), "plan": rng.choice(["basic", "pro", "team"], n)})


def test_robustness_flags_a_model_that_flips_under_tiny_noise():
    X = robust_frame()
    y = np.zeros(len(X))
    r = scan_robustness.detect(Fragile(), X, ["x"], ["plan"], y, "classification", cfg("robustness"), seed=1)
    assert r.status == "flagged" and r.findings[0].severity == MAJOR
    assert r.details["numeric_share"] > 0.4 and "Numeric noise alone changes" in r.findings[0].text
    ok = scan_robustness.detect(Stable(), X, ["x"], ["plan"], y, "classification", cfg("robustness"), seed=1)
    assert ok.status == PASSED and ok.details["share"] < 0.05


def test_category_swaps_touch_a_noise_share_of_the_rows():
    X = robust_frame(20000)
    out = scan_robustness.perturb(X, [], ["plan"], 0.05, np.random.default_rng(0))
    moved = (out["plan"] != X["plan"]).mean()
    assert 0.04 < moved < 0.06 and set(out["plan"]) == {"basic", "pro", "team"}
    # a model that follows the category flips on (part of) the swapped rows only
    r = scan_robustness.detect(OnCategory(), X, [], ["plan"], np.zeros(len(X)), "classification", cfg("robustness"), seed=0)
    assert r.details["share"] < 0.05 and r.status == PASSED
    off = scan_robustness.detect(OnCategory(), X, [], ["plan"], np.zeros(len(X)), "classification",
                                 cfg("robustness", categories=False), seed=0)
    assert off.status == SKIPPED


def test_regression_robustness_tolerance():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=3000)})
    y = 3 * X["x"].to_numpy()

    class Linear:
        def predict(self, X):
            return 3 * np.asarray(X["x"], dtype=float)

    class Jumpy:  # steps of 2 std(y) every 0.01 of x
        def predict(self, X):
            return 6 * (np.floor(np.asarray(X["x"], dtype=float) * 100) % 2)

    lin = scan_robustness.detect(Linear(), X, ["x"], [], y, "regression", cfg("robustness"), seed=0)
    assert lin.status == PASSED and lin.details["share"] < 0.01
    assert lin.details["tolerance"] == pytest.approx(3 * 0.05 * y.std())  # RMSE 0: the noise term
    jumpy = scan_robustness.detect(Jumpy(), X, ["x"], [], y, "regression", cfg("robustness"), seed=0)
    assert jumpy.findings[0].severity == MAJOR


def test_overconfidence_is_judged_by_the_lower_bound_of_its_share():
    # 15 mistakes, 9 of them made with probability 0.95: 60 %, but 15 mistakes show for certain ~36 %
    n = 200
    y = np.zeros(n, dtype=int)
    y_pred = np.where(np.arange(n) < 15, 1, 0)
    conf = np.where(np.arange(n) < 9, 0.95, 0.6)
    r = scan_overconfidence.detect(y, clf_preds(y_pred, binary_proba(y_pred, conf)), "classification",
                                   cfg("overconfidence"))
    assert r.details["share"] > DEFAULTS["overconfidence"]["major"]
    assert r.details["share_lower_bound"] == pytest.approx(0.36, abs=0.01)
    assert r.findings[0].severity == MINOR and not r.blocking


# --- typed perturbations (property-based) -----------------------------------------------------


@st.composite
def typed_frames(draw):
    """A training frame and scanned rows drawn from it: an integer count on a grid (step 1, 5 or
    25), a bounded reading with 0-2 decimals, a few-valued code, a category, all with missing
    values; and contract bounds inside the observed range for the count."""
    n = draw(st.integers(12, 80))
    rows = st.lists(st.tuples(
        st.one_of(st.none(), st.integers(0, 40)),
        st.one_of(st.none(), st.integers(-500, 500)),
        st.one_of(st.none(), st.sampled_from([1, 2, 3, 4, 5])),
        st.one_of(st.none(), st.sampled_from(["red", "green", "blue", "black"])),
    ), min_size=n, max_size=n)
    step = draw(st.sampled_from([1, 5, 25]))
    decimals = draw(st.integers(0, 2))
    data = draw(rows)
    frame = pd.DataFrame({
        "count": [np.nan if r[0] is None else float(r[0] * step) for r in data],
        "reading": [np.nan if r[1] is None else r[1] / 10 ** decimals for r in data],
        "code": [np.nan if r[2] is None else float(r[2]) for r in data],
        "colour": [np.nan if r[3] is None else r[3] for r in data],
    })
    return frame, step, decimals, draw(st.integers(0, 2 ** 16))


def on_grid(values: np.ndarray, step: float, base: float) -> bool:
    units = (values - base) / step
    return bool(np.all(np.abs(units - np.round(units)) < 1e-6))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_frames(), st.sampled_from([0.05, 0.3, 1.0]))
def test_perturbations_keep_type_range_and_observed_values(drawn, noise):
    train, step, decimals, seed = drawn
    scanned = train.sample(frac=0.6, random_state=seed % 1000)
    numeric, cats = ["count", "reading", "code"], ["colour"]
    count = train["count"].dropna()
    contract = {"count": {"type": "int", "min": float(count.min()) + step if len(count) else None}}
    prof = scan_robustness.profiles(train, numeric, cats, contract)
    out = scan_robustness.perturb(scanned, numeric, cats, noise, np.random.default_rng(seed), profiles_=prof)
    # missing stays missing, nothing new goes missing
    for c in [*numeric, *cats]:
        assert (out[c].isna().to_numpy() == scanned[c].isna().to_numpy()).all(), c
    for c in numeric:
        p, moved = prof[c], out[c].dropna().to_numpy(dtype=float)
        if not len(moved):
            continue
        if p.kind == "discrete":  # few values: only values observed in training
            assert set(moved) <= set(p.values), c
            continue
        # continuous: within the observed (and contract) range, on the observed grid
        stayed = moved == scanned[c].dropna().to_numpy(dtype=float)
        assert np.all((moved[~stayed] >= p.lo - 1e-9) & (moved[~stayed] <= p.hi + 1e-9)), c
        assert p.step is not None and on_grid(moved, p.step, p.values[0]), c
        if c == "count":  # an integer count stays an integer, on its step
            assert on_grid(moved, float(step), 0.0) and np.all(moved == np.round(moved))
        if c == "reading":
            assert on_grid(moved, 10.0 ** -decimals, 0.0)
    assert set(out["colour"].dropna()) <= set(train["colour"].dropna())


def test_grid_step_and_profiles():
    assert scan_robustness.grid_step(np.array([0, 25, 100, 3250.0])) == 25
    assert scan_robustness.grid_step(np.array([0.5, 2.5, 6, 9, 16.5])) == 0.5
    assert scan_robustness.grid_step(np.random.default_rng(0).normal(size=50)) is None
    x = pd.Series([0.0] * 30 + list(np.arange(1, 71, dtype=float)))  # 30 % zeros: a state
    p = scan_robustness.profile(x, numeric=True, contract={"max": 50})
    assert p.kind == "continuous" and p.step == 1 and p.hi == 50 and list(p.states) == [0.0]
    moved = scan_robustness.perturb(pd.DataFrame({"x": x}), ["x"], [], 0.5, np.random.default_rng(0),
                                    profiles_={"x": p})["x"]
    assert (moved[x == 0] == 0).all() and moved.max() <= 50 and (moved[x > 0] != x[x > 0]).any()
    assert scan_robustness.profile(pd.Series([1, 2, 2, 3.0]), numeric=True).kind == "discrete"


def test_counts_are_not_turned_into_fractions():
    """A count model that thresholds at integers (as trees fitted on counts do) must not flip on
    fractions no real row holds: integer perturbations move it only where a real neighbour does."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"visits": rng.poisson(6, 3000).astype(float)})

    class AtCounts:  # a tree's split between 5 and 6, at 5.5
        def predict(self, X):
            return (np.asarray(X["visits"], dtype=float) > 5.5).astype(int)

    y = AtCounts().predict(X)
    r = scan_robustness.detect(AtCounts(), X, ["visits"], [], y, "classification", cfg("robustness"), seed=0)
    moved = scan_robustness.perturb(X, ["visits"], [], 0.05, np.random.default_rng([0, 1]))["visits"]
    assert (moved == np.round(moved)).all()
    # 0.05 x std (~0.12) moves a row by one count with probability ~0.1 (stochastic rounding), and
    # only rows at 5 or 6 cross the split: about 0.1 x P(5 or 6) ~ 3 % of the rows
    assert r.status == PASSED and r.details["share"] < 0.05


# --- overconfidence ----------------------------------------------------------------------------


def test_overconfidence():
    rng = np.random.default_rng(0)
    n = 1000
    y = rng.integers(0, 2, n)
    wrong = rng.random(n) < 0.1
    y_pred = np.where(wrong, 1 - y, y)
    sure = np.where(wrong, 0.99, 0.97)  # wrong and sure of it
    proba = np.where(y_pred[:, None] == [0, 1], sure[:, None], 1 - sure[:, None])
    r = scan_overconfidence.detect(y, clf_preds(y_pred, proba), "classification", cfg("overconfidence"))
    assert r.findings[0].severity == MAJOR and r.details["share"] == 1.0 and "calibrate" in r.findings[0].text
    unsure = np.where(wrong, 0.6, 0.95)
    proba = np.where(y_pred[:, None] == [0, 1], unsure[:, None], 1 - unsure[:, None])
    ok = scan_overconfidence.detect(y, clf_preds(y_pred, proba), "classification", cfg("overconfidence"))
    assert ok.status == PASSED and ok.details["confident_wrong"] == 0
    few = scan_overconfidence.detect(y[:50], clf_preds(y_pred[:50], proba[:50]), "classification",
                                     cfg("overconfidence", min_wrong=50))
    assert few.status == SKIPPED and "too few to judge" in few.summary
    assert scan_overconfidence.detect(y, clf_preds(y_pred), "classification", cfg("overconfidence")).status == SKIPPED
    assert scan_overconfidence.detect(y, clf_preds(y_pred), "regression", cfg("overconfidence")).status == SKIPPED


# --- leakage ------------------------------------------------------------------------------------


def leak_frames(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = pd.DataFrame({
        "honest": rng.normal(size=n) + 0.5 * y,
        "leak": y + rng.normal(0, 0.01, n),  # the label, barely disguised
        "folded": np.where(y == 1, 1, -1) * (2 + rng.random(n)) * rng.choice([-1, 1], n),  # |x| > 2 iff y: not monotonic
        "id": [f"row{i}" for i in range(n)],  # unique per row: memorizes, predicts nothing new
    })
    X.loc[y == 0, "folded"] = rng.uniform(-1.9, 1.9, int((y == 0).sum()))
    half = n // 2
    return X.iloc[:half], y[:half], X.iloc[half:], y[half:]


def test_leakage_single_feature_monotonic_and_not():
    Xa, ya, Xb, yb = leak_frames()
    r = scan_leakage.detect(Xa, ya, Xb, yb, {"honest", "leak", "folded"}, "classification", cfg("leakage"))
    sev = {f.details["feature"]: f.severity for f in r.findings if "feature" in f.details}
    assert sev == {"leak": MAJOR, "folded": MAJOR}
    assert r.details["scores"]["honest"] < 0.8 and r.details["scores"]["id"] == pytest.approx(0.5, abs=0.05)
    assert "drop it from the data if it is not known at prediction time" in r.findings[0].text


def test_leakage_regression_and_multiclass():
    rng = np.random.default_rng(1)
    x = rng.normal(size=4000)
    X = pd.DataFrame({"x": x, "noise": rng.normal(size=4000), "sq": x ** 2})
    y = x ** 2 + rng.normal(0, 0.05, 4000)  # sq: linear leak; x: non-monotonic (binned means)
    r = scan_leakage.detect(X[:2000], y[:2000], X[2000:], y[2000:], {"x", "noise", "sq"}, "regression", cfg("leakage"))
    scores = r.details["scores"]
    assert scores["sq"] > 0.99 and scores["x"] > 0.95 and scores["noise"] < 0.05
    cls = np.array(["a", "b", "c"])[rng.integers(0, 3, 4000)]
    Xc = pd.DataFrame({"code": np.char.add("k", cls), "n": rng.normal(size=4000)})
    r = scan_leakage.detect(Xc[:2000], cls[:2000], Xc[2000:], cls[2000:], {"n"}, "classification", cfg("leakage"),
                            classes=np.array(["a", "b", "c"]))
    assert r.details["scores"]["code"] == pytest.approx(1.0) and r.findings[0].severity == MAJOR


def test_leakage_overlap_rule():
    Xa, ya, Xb, yb = leak_frames(1000)
    keep = ["honest"]
    none = scan_leakage.detect(Xa[keep], ya, Xb[keep], yb, {"honest"}, "classification", cfg("leakage"))
    assert none.status == PASSED
    for copies, severity in ((10, MINOR), (100, MAJOR)):  # 2 % and 20 % of the 500 test rows
        Xt = pd.concat([Xa[keep].iloc[:copies], Xb[keep].iloc[copies:]])
        yt = np.concatenate([ya[:copies], yb[copies:]])  # whole training rows: features and target
        r = scan_leakage.detect(Xa[keep], ya, Xt, yt, {"honest"}, "classification", cfg("leakage"))
        f = r.findings[-1]
        assert f.severity == severity and f.details["shared_rows"] == copies
    allowed = scan_leakage.detect(Xa[keep], ya, Xt, yt, {"honest"}, "classification", cfg("leakage", overlap=0.25))
    assert allowed.status == PASSED
    # the same features with another target: not a memorized example
    other = scan_leakage.detect(Xa[keep], ya, Xt, np.concatenate([1 - ya[:copies], yb[copies:]]), {"honest"},
                                "classification", cfg("leakage"))
    assert other.details["overlap"]["shared_rows"] < copies / 2


# --- report, junit, verdict --------------------------------------------------------------------


def test_report_escapes_user_columns_and_values():
    import re

    evil, ticks = "<img src=x onerror=alert(1)>|x", "a`b`<b>c"
    rng = np.random.default_rng(0)
    n = 2000
    X = pd.DataFrame({evil: rng.choice(["[click](http://evil)", "@here\n# title"], n),
                      ticks: rng.choice(["<script>", "ok"], n)})
    y = rng.integers(0, 2, n)
    y_pred = np.where((X[evil] == "@here\n# title").to_numpy() & (rng.random(n) < 0.5), 1 - y, y)
    r = scan_slices.detect(X, set(), y, clf_preds(y_pred), "classification", cfg("slices", pairs=True, block=True))
    result = {"rows": {"scanned": n, "test": n, "max_rows": 100_000}}
    text = scan_report.section(result, [r])
    assert text.startswith("## Scan\n") and r.findings
    outside_code = re.sub(r"(`+).*?\1", "", text)  # code spans show their text literally
    assert "<" not in outside_code and not re.search(r"(?<!\\)\]\(", outside_code) and "@here" not in text
    assert not re.search(r"^#+ title", text, re.M)
    for block in text.split("\n\n"):  # every table row has the header's cell count
        rows = [ln for ln in block.splitlines() if ln.startswith("| ")]
        if rows:
            widths = {len(re.split(r"(?<!\\)\|", re.sub(r"(`+).*?\1", "c", ln))) for ln in rows}
            assert len(widths) == 1, rows
    cases = scan_report.junit_cases([r])
    assert cases[0].name == "scan: performance bias on slices" and not cases[0].passed
    assert any(not c.passed and c.classname == "mlgen.scan.slices" for c in cases[1:])


def verdict_ctx(tmp_path: Path, with_job: bool = True):
    from mlgen_runtime.context import Context
    from tests.support.sample_plans import minimal_plan

    from dataclasses import replace

    plan = minimal_plan()
    jobs = (*plan.jobs, replace(plan.jobs[-1], name="scan", kind="scan")) if with_job else plan.jobs
    return Context(plan=replace(plan, jobs=jobs), root=tmp_path)


def test_scan_verdict(tmp_path):
    ctx = verdict_ctx(tmp_path)
    with pytest.raises(CheckFailed, match="scan.json not found"):
        scan_verdict(ctx)
    scan_verdict(verdict_ctx(tmp_path, with_job=False))  # no scan in the plan, no file: nothing to check
    path = tmp_path / ".mlgen/out/scan/scan.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(CheckFailed, match="unreadable"):
        scan_verdict(ctx)
    path.write_text(json.dumps({"passed": False, "blocked_by": ["leakage"], "model_sha256": "abc"}))
    with pytest.raises(CheckFailed, match="major finding.*from leakage"):
        scan_verdict(verdict_ctx(tmp_path, with_job=False))
    path.write_text(json.dumps({"passed": True, "blocked_by": [], "model_sha256": "abc"}))
    scan_verdict(ctx)
    scan_verdict(ctx, model_sha256="abc")
    with pytest.raises(CheckFailed, match="about another model"):
        scan_verdict(ctx, model_sha256="def")


# --- end to end: planted vulnerabilities through the runtime CLI -------------------------------

SPEC = """
[project]
name = "scanned"
seed = 7

[data]
path = "data/train.csv"
target = "label"
task = "classification"
test_size = 0.3
allow_extra = true

[train]
estimator = "{estimator}"
params = {params}

[evaluate]
metrics = ["accuracy", "roc_auc"]

[scan]
max_rows = 5000
{scan}
"""


def spec(estimator="sklearn.linear_model.LogisticRegression", params="{ max_iter = 1000 }", scan=""):
    return SPEC.format(estimator=estimator, params=params, scan=scan)


def planted_data(n=3000, seed=0, *, bad_group=False, leak=False, random_labels=False):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(5)})
    frame["region"] = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    y = (frame["x0"] + 0.8 * frame["x1"] - 0.5 * frame["x2"] > 0).astype(int)
    y = np.where(rng.random(n) < 0.05, 1 - y, y)
    if bad_group:  # in the west the label follows nothing the model can see
        west = (frame["region"] == "west").to_numpy()
        y = np.where(west, rng.integers(0, 2, n), y)
    if random_labels:
        y = rng.integers(0, 2, n)
    if leak:
        frame["audit_flag"] = y + rng.normal(0, 0.01, n)
    frame["label"] = y
    return frame


def scan_json(root: Path) -> dict:
    return json.loads((root / OUT / "scan.json").read_text())


def findings(root: Path, detector: str) -> list[dict]:
    return [f for f in scan_json(root)["findings"] if f["detector"] == detector]


def test_scan_report_is_bounded_for_a_comment_and_keeps_the_whole_report(project, rt):
    """The scan's report.md is what the PR/MR comment shows: cut to the comment limit like
    evaluate's, with every line of evaluate's whole report and the scan in report-full.md."""
    from mlgen_runtime import report_md

    root = project(spec(), {"data/train.csv": planted_data()})
    assert rt("train") == 0 and rt("evaluate") == 0
    evaluate_out = root / ".mlgen/out/evaluate"
    whole = (evaluate_out / "report.md").read_text() + "".join(f"| row {i} | {'x' * 60} |\n" for i in range(2000))
    (evaluate_out / "report-full.md").write_text(whole)  # as evaluate leaves a report it had to cut
    assert rt("scan") == 0
    shown = (root / OUT / "report.md").read_text()
    full = (root / OUT / "report-full.md").read_text()
    assert len(shown.encode()) <= report_md.COMMENT_LIMIT and "`report-full.md`" in shown
    assert full.startswith(whole.rstrip("\n")) and "\n## Scan\n" in full


def test_planted_slice_is_reported_and_does_not_block_by_default(project, rt):
    """Slices warn by default (scan.slices.block = false): a gap is for the reviewer to weigh."""
    root = project(spec(scan="[scan.leakage]\noverlap = 0.01"), {"data/train.csv": planted_data(bad_group=True)})
    assert rt("train") == 0 and rt("evaluate") == 0
    assert rt("scan") == 0
    r = scan_json(root)
    assert r["passed"] is True and r["blocked_by"] == []
    top = findings(root, "slices")[0]
    assert top["severity"] == MAJOR and top["details"]["slice"] == "`region` = west"
    assert "| `region` = west |" in (root / OUT / "report.md").read_text()


def test_planted_slice_blocks_with_report_and_junit(project, rt, capsys):
    root = project(spec(scan="[scan.slices]\nblock = true\n[scan.leakage]\noverlap = 0.01"),
                   {"data/train.csv": planted_data(bad_group=True)})
    assert rt("train") == 0 and rt("evaluate") == 0
    assert rt("scan") == 1
    err = capsys.readouterr()
    assert "major finding(s) block deployment: slices: `region` = west" in err.err
    assert "FAIL performance bias on slices" in err.out
    r = scan_json(root)
    assert r["passed"] is False and r["blocked_by"] == ["slices"] and r["rows"]["scanned"] == 900
    top = findings(root, "slices")[0]
    assert top["severity"] == MAJOR and top["details"]["slice"] == "`region` = west"
    report = (root / OUT / "report.md").read_text()
    evaluate_report = (root / ".mlgen/out/evaluate/report.md").read_text()
    assert report.startswith(evaluate_report.rstrip("\n") + "\n\n## Scan\n")
    assert "### Worst slices" in report and "| `region` = west |" in report
    cases = {tc.get("name"): tc for tc in ET.parse(root / OUT / "junit.xml").iter("testcase")}
    assert cases["scan: performance bias on slices"].find("failure") is not None
    assert cases["scan: leakage"].find("failure") is None
    with pytest.raises(CheckFailed, match="blocked this model"):
        from mlgen_runtime.context import load_context

        scan_verdict(load_context(Path(".mlgen/plan.json")))


def test_planted_leak_is_major_and_a_non_blocking_detector_only_warns(project, rt):
    root = project(spec(scan="[scan.slices]\nenabled = false\n[scan.leakage]\nblock = false"),
                   {"data/train.csv": planted_data(leak=True)})
    assert rt("train") == 0 and rt("evaluate") == 0
    assert rt("scan") == 0  # major, but leakage.block = false
    leak = findings(root, "leakage")
    assert leak[0]["severity"] == MAJOR and leak[0]["details"]["feature"] == "audit_flag"
    assert scan_json(root)["passed"] is True
    assert [d["status"] for d in scan_json(root)["detectors"]][0] == SKIPPED


def test_planted_fragile_and_overconfident_model(project, rt):
    # a fully grown tree on labels it cannot learn: every leaf is pure (probability 1) and tiny
    root = project(spec("sklearn.tree.DecisionTreeClassifier", "{}", "[scan.slices]\nenabled = false"),
                   {"data/train.csv": planted_data(random_labels=True)})
    assert rt("train") == 0 and rt("evaluate") == 0
    assert rt("scan") == 1
    assert findings(root, "robustness")[0]["severity"] == MAJOR
    over = findings(root, "overconfidence")[0]
    assert over["severity"] == MAJOR and over["details"]["share"] == 1.0
    assert set(scan_json(root)["blocked_by"]) == {"robustness", "overconfidence"}


def test_bad_inputs_exit_2(project, rt, capsys):
    project(spec(scan='[scan.slices]\ncolumns = ["nope"]'), {"data/train.csv": planted_data(n=500)})
    assert rt("scan") == 2
    assert "run train (or select) first" in capsys.readouterr().err
    assert rt("train") == 0
    assert rt("scan") == 2
    assert "scan.slices.columns: column `nope` is not a feature of data/train.csv" in capsys.readouterr().err


def test_regression_scan_end_to_end(project, rt):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.choice(["x", "y"], 2000)})
    frame["label"] = 2 * frame["a"] + np.where(frame["b"] == "x", 1.0, 0.0) + rng.normal(0, 0.3, 2000)
    text = spec("sklearn.linear_model.Ridge", "{}").replace('task = "classification"', 'task = "regression"') \
        .replace('metrics = ["accuracy", "roc_auc"]', 'metrics = ["r2"]')
    root = project(text, {"data/train.csv": frame})
    assert rt("train") == 0 and rt("evaluate") == 0 and rt("scan") == 0
    r = scan_json(root)
    status = {d["name"]: d["status"] for d in r["detectors"]}
    assert status == {"slices": PASSED, "robustness": PASSED, "overconfidence": SKIPPED, "leakage": PASSED}
    assert r["detectors"][0]["details"]["metric"] == "r2"


# --- false positives on clean data ---------------------------------------------------------


def clean_run(n: int, seed: int, task: str, estimator: str, config: dict) -> list:
    """Clean data (no planted problem) and a sound, well-specified model; all four detectors."""
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
    X["c1"] = rng.choice(["a", "b", "c"], n)
    X["c2"] = rng.choice(["u", "v"], n, p=[0.7, 0.3])
    lin = X["x0"] + 0.8 * X["x1"] - 0.6 * X["x2"] + np.where(X["c1"] == "a", 0.5, -0.2)
    if task == "classification":  # a rule plus 10 % label noise everywhere: no group is harder
        y = np.where(rng.random(n) < 0.1, 1 - (lin > 0), lin > 0).astype(int)
    else:
        y = 3 * lin.to_numpy() + rng.normal(size=n)
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.25, random_state=seed)
    cols = pipeline.columns(Xa, {})
    settings = {"project": {"seed": seed}, "data": {"task": task}, "train": {"estimator": estimator, "params": {}}}
    model = pipeline.build(settings, cols).fit(Xa, ya)
    preds = metrics.predict(model, Xb, task)
    numeric = frozenset(cols.numeric)
    return [
        scan_slices.detect(Xb, numeric, yb, preds, task, config["slices"]),
        scan_robustness.detect(model, Xb, list(cols.numeric), list(cols.categorical), yb, task, config["robustness"],
                               seed, preds.y_pred),
        scan_overconfidence.detect(yb, preds, task, config["overconfidence"]),
        scan_leakage.detect(Xa, ya, Xb, yb, numeric, task, config["leakage"], classes=preds.classes),
    ]


@pytest.mark.parametrize(("task", "estimator"), [
    pytest.param("classification", "sklearn.ensemble.HistGradientBoostingClassifier", marks=pytest.mark.slow),
    ("regression", "sklearn.linear_model.Ridge"),
])
def test_false_positive_rate_on_clean_data(task, estimator, capsys):
    """10 seeds (0-9) x 8,000 rows (2,000 scanned test rows), the bare [scan] defaults plus
    slices.fdr = 0.05 (with fdr unset, slices of 20-100 rows are pure noise at this size: the
    threshold alone gave a major slice finding in 10 of 10 seeds; see the issue 7 report).

    Observed: no major finding in 10 of 10 seeds for either task (every slice difficulty-adjusted
    for the classifier; for Ridge the regression rule: rank test, major only when offset).
    - classification (HistGradientBoosting, a linear rule + 10 % uniform label noise): minor
      findings: overconfidence 2/10 seeds (judged by its 95 % lower bound; the model is right to
      be ~0.9 sure everywhere, so many of its unavoidable errors sit at the 0.9 threshold),
      slices 0/10, robustness 0/10, leakage 0/10.
    - regression (Ridge, linear target + normal noise): no finding at all (0/10).
    """
    config = {**DEFAULTS, "slices": cfg("slices", fdr=0.05)}
    seeds = range(10)
    counts: dict[tuple[str, str], int] = {}
    for seed in seeds:
        for r in clean_run(8000, seed, task, estimator, config):
            for sev in {f.severity for f in r.findings}:
                counts[(r.name, sev)] = counts.get((r.name, sev), 0) + 1
    with capsys.disabled():
        print(f"\nfalse positives, {task}, {len(seeds)} seeds: "
              + (", ".join(f"{d} {s}: {k}/{len(seeds)}" for (d, s), k in sorted(counts.items())) or "none"))
    assert not any(sev == MAJOR for _, sev in counts), counts


# --- real data (tests/realdata): the runtime's own split, pipeline and scan ---------------------


def _benchmark():
    """benchmarks/scan_false_positives.py, whose `run_one` is the measured pipeline."""
    import importlib.util
    import sys

    if "scan_false_positives" in sys.modules:
        return sys.modules["scan_false_positives"]
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "scan_false_positives.py"
    spec = importlib.util.spec_from_file_location("scan_false_positives", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["scan_false_positives"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["iris", "breast_cancer", "diabetes", "fair", "fair_any", "anes96", "grunfeld",
                                  "spector", "penguins", "titanic_survival", "titanic_counts", "hitters", "carseats",
                                  "seattle_weather"])
@pytest.mark.parametrize("family", ["default", "linear"])
def test_sound_real_data_gets_no_blocking_finding(name, family, tmp_path):
    """Real data with string categories, missing values, repeated rows, ids and dates, and sound
    models (HistGradientBoosting, LogisticRegression / Ridge): the scan must not block."""
    from tests.realdata.datasets import by_name

    bench = _benchmark()
    outcome = bench.run_one(by_name(name), family, tmp_path)
    assert outcome.expect == "sound" and outcome.blocking == [], outcome.majors


@pytest.mark.parametrize("name", ["wage", "iris_leak", "diabetes_leak", "fair_leak", "penguins_leak",
                                  "titanic_counts_leak", "spector_leak"])
def test_a_feature_that_encodes_the_target_still_blocks(name, tmp_path):
    from tests.realdata.datasets import by_name

    dataset = by_name(name)
    outcome = _benchmark().run_one(dataset, "default", tmp_path)
    assert outcome.leak_found and "leakage" in outcome.blocking, outcome.findings
    assert any(f"`{dataset.problem_column}` alone predicts the target" in t for t in outcome.majors)


def test_a_one_sided_leak_is_at_least_named():
    """creditcard: `expenditure` is 0 for every applicant refused a card, and positive for 98 % of
    the others: ROC AUC 0.990, above every honest feature of the registry (at most 0.976) but
    below the major bound. It is reported (minor) with the column named."""
    from tests.realdata.datasets import by_name

    dataset = by_name("creditcard")
    frame = dataset.frame()
    half = len(frame) // 2
    X = frame.drop(columns=[dataset.target])
    numeric = set(X.select_dtypes("number").columns)
    y = frame[dataset.target].to_numpy()
    r = scan_leakage.detect(X.iloc[:half], y[:half], X.iloc[half:], y[half:], numeric, "classification",
                            cfg("leakage"))
    named = {f.details.get("feature") for f in r.findings}
    assert "expenditure" in named and "income" not in named
