"""drift.py: KS, chi² and PSI on real data (scikit-learn's breast cancer and wine sets).

"No drift" is a random split of one data set; "drift" is the same data shifted. The splits use
fixed seeds, so the verdicts are deterministic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from mlgen_runtime import drift
from tests.runtime.conftest import breast_cancer, wine

# ks / chi2: drift when p < this. Each of the 32 columns is its own test, so at 0.01 a random
# split shows "drift" somewhere about a quarter of the time; 0.001 keeps that near 3 %.
P_THRESHOLD = 0.001
PSI_THRESHOLD = 0.2  # psi: drift when PSI > this


def halves(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    cut = len(shuffled) // 2
    return shuffled.iloc[:cut].reset_index(drop=True), shuffled.iloc[cut:].reset_index(drop=True)


def with_size(frame: pd.DataFrame) -> pd.DataFrame:
    """Breast cancer plus a category column derived from `mean_area` (as the demo does)."""
    size = np.where(frame["mean_area"] < 500, "small", np.where(frame["mean_area"] < 1000, "medium", "large"))
    return frame.assign(size=size)


def shifted(frame: pd.DataFrame) -> pd.DataFrame:
    """Production data gone wrong: one measurement 30 % larger; mostly large tumours."""
    out = frame.assign(mean_radius=frame["mean_radius"] * 1.3)
    large = out[out["size"] == "large"]
    return pd.concat([out, large, large, large], ignore_index=True)


@pytest.mark.parametrize("method", ["ks", "psi", "chi2"])
def test_no_drift_between_random_halves(method: str) -> None:
    ref, cur = halves(with_size(breast_cancer()))
    threshold = PSI_THRESHOLD if method == "psi" else P_THRESHOLD
    result = drift.column_drift(ref, cur, method, threshold)
    assert [c for c, r in result.items() if r["drifted"]] == []
    assert set(result) == set(ref.columns)


@pytest.mark.parametrize(("method", "column", "test"), [
    ("ks", "mean_radius", "ks"), ("psi", "mean_radius", "psi"), ("psi", "size", "psi"),
    ("chi2", "size", "chi2"), ("ks", "size", "chi2"), ("chi2", "mean_radius", "ks"),
])
def test_drift_detected_on_shifted_data(method: str, column: str, test: str) -> None:
    ref, cur = halves(with_size(breast_cancer()))
    threshold = PSI_THRESHOLD if method == "psi" else P_THRESHOLD
    result = drift.column_drift(ref, shifted(cur), method, threshold)
    assert result[column]["drifted"] is True
    assert result[column]["test"] == test


def test_the_test_follows_the_column_kind_and_says_so() -> None:
    ref, cur = halves(with_size(breast_cancer()))
    ks_on_category = drift.column_drift(ref, cur, "ks", 0.05)["size"]
    assert ks_on_category["test"] == "chi2"
    assert ks_on_category["note"] == "ks does not apply to a categorical column; ran chi2"
    chi2_on_number = drift.column_drift(ref, cur, "chi2", 0.05)["mean_radius"]
    assert chi2_on_number["test"] == "ks"
    assert "ran ks" in chi2_on_number["note"]
    assert "note" not in drift.column_drift(ref, cur, "psi", 0.2)["size"]


def test_kinds_from_the_contract_override_the_dtype() -> None:
    """wine's `cultivar` is 0/1/2 in an int column; the contract says it is a category."""
    ref, cur = halves(wine())
    kinds = drift.column_kinds(ref, {"cultivar": {"type": "category"}})
    assert kinds["cultivar"] == drift.CATEGORICAL and kinds["alcohol"] == drift.NUMERIC
    result = drift.column_drift(ref, cur, "ks", 0.05, kinds)
    assert result["cultivar"]["test"] == "chi2"
    assert result["alcohol"]["test"] == "ks"


def test_ks_matches_scipy_on_small_and_large_samples() -> None:
    ref, cur = halves(breast_cancer())
    stat, p = drift.ks(ref["mean_radius"].to_numpy(), cur["mean_radius"].to_numpy())
    expected = ks_2samp(ref["mean_radius"], cur["mean_radius"])
    assert (stat, p) == pytest.approx((expected.statistic, expected.pvalue))
    # past KS_SCIPY_MAX rows the asymptotic p-value is used: same statistic, p within 2 %
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=30_000), rng.normal(0.02, 1, size=25_000)
    stat, p = drift.ks(a, b)
    expected = ks_2samp(a, b)
    assert stat == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=0.02)


def test_chi2_is_the_contingency_test_of_category_counts() -> None:
    ref, cur = halves(with_size(breast_cancer()))
    result = drift.column_drift(ref[["size"]], cur[["size"]], "chi2", 0.05)["size"]
    table = pd.crosstab(pd.concat([ref["size"], cur["size"]], ignore_index=True),
                        np.r_[np.zeros(len(ref)), np.ones(len(cur))])
    expected = chi2_contingency(table.T.to_numpy())
    assert result["statistic"] == pytest.approx(expected.statistic)
    assert result["p_value"] == pytest.approx(expected.pvalue)


def test_psi_is_zero_for_the_same_data_and_finite_for_unseen_values() -> None:
    frame = with_size(breast_cancer())
    same = drift.column_drift(frame, frame, "psi", 0.2)
    assert all(r["statistic"] == pytest.approx(0.0, abs=1e-12) for r in same.values())
    # a category never seen in the reference: an empty bin smoothed with epsilon, not infinity
    new = frame.assign(size=np.where(frame.index % 2 == 0, "huge", frame["size"]))
    r = drift.column_drift(frame, new, "psi", 0.2)["size"]
    assert np.isfinite(r["statistic"]) and r["drifted"]


def test_psi_bins_are_quantiles_of_the_reference() -> None:
    values = breast_cancer()["mean_radius"].to_numpy()
    edges = drift.psi_bins(values)
    assert len(edges) == drift.PSI_BINS - 1
    counts = drift.binned_counts(values, edges, missing=0)
    # ten bins of roughly a tenth of the reference each, and an empty bin for missing values
    assert counts[-1] == 0
    assert np.all(np.abs(counts[:-1] / len(values) - 0.1) < 0.02)


def test_missing_values_are_a_category_and_a_psi_bin() -> None:
    ref, cur = halves(with_size(breast_cancer()))
    holes = cur.copy()
    holes.loc[holes.index[: len(holes) // 3], ["size", "mean_radius"]] = None
    result = drift.column_drift(ref, holes, "psi", 0.2)
    assert result["size"]["drifted"] and result["mean_radius"]["drifted"]
    assert drift.column_drift(ref, holes, "chi2", P_THRESHOLD)["size"]["drifted"]
    # KS compares the values that are there: the same distribution, no drift
    assert not drift.column_drift(ref, holes, "ks", P_THRESHOLD)["mean_radius"]["drifted"]


def test_numbers_read_as_text_are_compared_and_the_rest_counted() -> None:
    ref, cur = halves(breast_cancer())
    text = cur["mean_radius"].astype(str)
    text.iloc[3] = "n/a"
    r = drift.compare(ref["mean_radius"], text, drift.NUMERIC, "ks", P_THRESHOLD)
    assert r["test"] == "ks" and not r["drifted"]
    assert r["note"] == "1 current values are not numbers and were left out"


def test_category_spellings_from_different_formats_match() -> None:
    """1 (CSV int), 1.0 (float with blanks) and "1" (text) are one category."""
    ref = pd.Series([1, 2, 1, 2] * 50)
    cur = pd.Series(["1", "2", "1", "2"] * 50)
    r = drift.compare(ref, cur, drift.CATEGORICAL, "chi2", 0.05)
    assert r["statistic"] == 0.0 and not r["drifted"]
    assert list(drift.category_counts(pd.Series([1.0, 2.0, None])).index) == ["1", "2", "<null>"]


def test_datetime_and_empty_columns_are_reported_not_compared() -> None:
    ref = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=10), "x": np.arange(10.0)})
    cur = pd.DataFrame({"when": pd.date_range("2025-01-01", periods=10), "x": [np.nan] * 10})
    result = drift.column_drift(ref, cur, "ks", 0.05)
    assert result["when"]["test"] is None and result["when"]["note"] == "datetime columns are not compared"
    assert result["x"]["drifted"] is False and result["x"]["note"] == "no numbers in the current data"


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown drift method 'wasserstein'"):
        drift.pick_test(drift.NUMERIC, "wasserstein")


def test_settings_fall_back_in_order() -> None:
    assert drift.settings_drift(None, {"method": "ks", "threshold": 0.05}) == ("ks", 0.05)
    assert drift.settings_drift({"method": "chi2", "threshold": 0.01}, {"method": "ks", "threshold": 0.05}) == ("chi2", 0.01)
    assert drift.settings_drift(None, None) == ("psi", 0.2)


def test_markdown_table_escapes_column_names() -> None:
    ref = pd.DataFrame({"a|b": np.arange(50.0), "<img>": ["x", "y"] * 25})
    text = drift.markdown_table(drift.column_drift(ref, ref, "psi", 0.2))
    assert "`a\\|b`" in text and "`<img>`" in text
    assert len(text.strip().splitlines()) == 4


def test_psi_on_small_samples_says_how_much_is_noise() -> None:
    """PSI ~ (1/n + 1/m) chi²(bins - 1) without drift: 114 vs 228 rows give ~0.12 from noise."""
    ref, cur = halves(breast_cancer())
    r = drift.column_drift(ref.iloc[:228], cur.iloc[:114], "psi", 0.2)["mean_radius"]
    assert r["note"] == "small samples: PSI from noise alone is about 0.12"
    assert drift.psi_noise(np.ones(10) * 22.8, np.ones(10) * 11.4) == pytest.approx(9 * (1 / 228 + 1 / 114))
    assert "note" not in drift.column_drift(ref, cur, "psi", 0.2)["mean_radius"]  # 284 vs 285 rows


def test_columns_without_a_test_are_listed_with_the_reason() -> None:
    frame = with_size(breast_cancer()).assign(when=pd.Timestamp("2024-01-01"))
    reference = frame.assign(mean_radius=np.nan)  # no numbers on the reference side
    columns = drift.column_drift(reference, frame, "psi", PSI_THRESHOLD)
    assert drift.not_compared(columns) == {"mean_radius": "no numbers in the reference data",
                                           "when": "datetime columns are not compared"}
