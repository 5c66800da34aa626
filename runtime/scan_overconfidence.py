"""Scan detector: overconfidence (classification with predict_proba).

Among the wrong predictions on the scanned test rows, the share made with a predicted
probability (of the predicted class) >= `probability`. A model that is wrong AND sure of itself
misleads whoever acts on its probabilities (thresholds, triage, abstention). The share is
judged by its one-sided 95 % lower confidence bound (Clopper-Pearson), compared with `minor` /
`major` (strictly more than): 8 of 15 mistakes is 53 %, but what 15 mistakes show for certain is
about 30 %. With fewer than `min_wrong` wrong predictions the share is too noisy to judge and the
detector says so (skipped).

Not applicable (skipped with a note): regression, and classifiers without predict_proba.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlgen_runtime.metrics import Predictions
from mlgen_runtime.scan_result import CONFIDENCE, FLAGGED, PASSED, DetectorResult, Finding, lower_bound, pct, severity, skipped

NAME = "overconfidence"


def confident_errors(y: Any, preds: Predictions, probability: float) -> tuple[int, int, np.ndarray]:
    """(wrong predictions, of which confident, the confidence of each wrong prediction)."""
    y_arr = np.asarray(y)
    proba = np.asarray(preds.proba)
    wrong = y_arr != np.asarray(preds.y_pred)
    # the probability of the predicted class (= the row's maximum for predict's argmax)
    col = np.searchsorted(preds.classes, preds.y_pred)  # type: ignore[arg-type]
    col = np.clip(col, 0, proba.shape[1] - 1)
    conf = proba[np.arange(len(y_arr)), col][wrong]
    return int(wrong.sum()), int((conf >= probability).sum()), conf


def detect(y: Any, preds: Predictions, task: str, cfg: dict[str, Any]) -> DetectorResult:
    block = bool(cfg.get("block", True))
    if task != "classification":
        return skipped(NAME, "regression model: no predicted probabilities to judge", block)
    if preds.proba is None:
        return skipped(NAME, "the classifier has no predict_proba: no probabilities to judge", block)
    probability, minor, major = float(cfg["probability"]), float(cfg["minor"]), float(cfg["major"])
    min_wrong = int(cfg["min_wrong"])
    n = len(np.asarray(y))
    wrong, confident, conf = confident_errors(y, preds, probability)
    details: dict[str, Any] = {"rows": n, "wrong": wrong, "confident_wrong": confident, "probability": probability,
                               "share": confident / wrong if wrong else None,
                               "median_wrong_confidence": float(np.median(conf)) if wrong else None}
    if wrong < min_wrong:
        return skipped(NAME, f"{wrong} wrong prediction(s) on {n:,} scanned rows (< min_wrong {min_wrong}): "
                       "too few to judge", block, **details)
    share = confident / wrong
    low = lower_bound(confident, wrong)
    details.update(share_lower_bound=low, confidence=CONFIDENCE)
    summary = (f"{confident:,} of {wrong:,} wrong predictions ({pct(share)}; {CONFIDENCE:.0%} lower bound {pct(low)}) "
               f"were made with probability >= {probability:g}")
    sev = severity(low, minor, major)
    if sev is None:
        return DetectorResult(NAME, PASSED, summary + f" (flagged above {pct(minor)})", (), details, block)
    limit = major if sev == "major" else minor
    text = (f"{summary}: more than {pct(limit)} ({sev}); the median confidence of a wrong prediction is "
            f"{details['median_wrong_confidence']:.3g}. The probabilities overstate how sure the model is: "
            "calibrate it (sklearn.calibration.CalibratedClassifierCV, isotonic or sigmoid), regularize it, "
            "or look for mislabelled rows among the confident mistakes.")
    finding = Finding(NAME, sev, f"{pct(share)} of the wrong predictions are made with probability >= {probability:g}",
                      text, details)
    return DetectorResult(NAME, FLAGGED, summary, (finding,), details, block)
