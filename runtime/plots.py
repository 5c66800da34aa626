"""Evaluation plots as PNG files with fixed names (report.md names them as artifact files, as text:
a relative link is dead in a PR/MR comment; report_charts.py draws the same in Markdown and Mermaid).

Matplotlib runs headless (Agg) and PNGs are written without the "Software" metadata, so the
same predictions give the same bytes with the same matplotlib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlgen_runtime.metrics import Predictions, positive_label, positive_scores

DPI = 100
# a plot shows at most this many classes (the most common in the held-out split; the confusion
# matrix puts the rest in one "other" row and column): 1,000 classes would be a million-cell
# matrix that takes minutes to draw and cannot be read. Metrics still count every class.
MAX_DRAWN_CLASSES = 20
TITLES = {
    "confusion_matrix.png": "confusion matrix",
    "roc_curve.png": "ROC curve",  # multiclass: one curve per class, one-vs-rest
    "pr_curve.png": "precision-recall curve",
    "residuals.png": "residuals",
    "predicted_vs_actual.png": "predicted vs actual",
}


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=True)  # CI runners have no display
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 4), dpi=DPI)
    return fig, fig.subplots()


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})


def write(folder: Path, task: str, y_true: Any, p: Predictions) -> list[str]:
    """Write the plots that apply to the task; return their file names in a fixed order."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()  # a plot that no longer applies must not linger in the artifact
    y = np.asarray(y_true)
    names: list[str] = []
    if task == "classification":
        names.append(_confusion(folder, y, p))
        scores = positive_scores(p)
        if scores is not None and len(np.unique(y)) == 2:
            names += _roc_pr(folder, y == positive_label(p.classes), scores, str(positive_label(p.classes)))
        elif _multiclass_proba(p) and len(np.unique(y)) >= 2:
            names += _roc_pr_one_vs_rest(folder, y, p.proba, p.classes)  # type: ignore[arg-type]
    else:
        names += _regression(folder, y.astype(float), p.y_pred.astype(float))
    return names


def most_common(y: np.ndarray, classes: Any, limit: int = MAX_DRAWN_CLASSES) -> list[Any]:
    """The `limit` classes with the most held-out rows (ties: in `classes` order)."""
    order = list(classes) if classes is not None else list(np.unique(y))
    counts = {c: 0 for c in order}
    values, n = np.unique(y, return_counts=True)
    counts.update({v: int(k) for v, k in zip(values.tolist(), n.tolist()) if v in counts})
    return sorted(order, key=lambda c: -counts.get(c, 0))[:limit]


def _confusion(folder: Path, y: np.ndarray, p: Predictions) -> str:
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = _figure()
    labels = list(p.classes) if p.classes is not None else list(np.unique(np.concatenate([y, p.y_pred])))
    title = "Confusion matrix (held-out split)"
    truth, pred = y, p.y_pred
    if len(labels) > MAX_DRAWN_CLASSES:
        shown = most_common(y, labels, MAX_DRAWN_CLASSES - 1)
        other = f"other ({len(labels) - len(shown):,})"
        keep = set(shown)
        truth = np.array([str(v) if v in keep else other for v in y.tolist()], dtype=object)
        pred = np.array([str(v) if v in keep else other for v in np.asarray(p.y_pred).tolist()], dtype=object)
        title = f"Confusion matrix, the {len(shown)} most common of {len(labels):,} classes (held-out split)"
        labels = [str(c) for c in shown] + [other]
    ConfusionMatrixDisplay.from_predictions(truth, pred, labels=labels, ax=ax, colorbar=False)
    if len(labels) > 10:
        ax.tick_params(axis="x", labelrotation=90, labelsize="x-small")
        ax.tick_params(axis="y", labelsize="x-small")
    ax.set_title(title, fontsize="small")
    _save(fig, folder / "confusion_matrix.png")
    return "confusion_matrix.png"


def _roc_pr(folder: Path, positive: np.ndarray, scores: np.ndarray, label: str) -> list[str]:
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    fig, ax = _figure()
    RocCurveDisplay.from_predictions(positive, scores, ax=ax, name="candidate")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set_title(f"ROC curve (positive class: {label})")
    _save(fig, folder / "roc_curve.png")

    fig, ax = _figure()
    PrecisionRecallDisplay.from_predictions(positive, scores, ax=ax, name="candidate")
    ax.set_title(f"Precision-recall curve (positive class: {label})")
    _save(fig, folder / "pr_curve.png")
    return ["roc_curve.png", "pr_curve.png"]


def _multiclass_proba(p: Predictions) -> bool:
    return (p.classes is not None and len(p.classes) > 2 and p.proba is not None
            and p.proba.ndim == 2 and p.proba.shape[1] == len(p.classes))


def _roc_pr_one_vs_rest(folder: Path, y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> list[str]:
    """One ROC and one PR curve per class (that class vs the rest, scored by its probability),
    plus the micro-average over every (row, class) pair. A class with no held-out row (or every
    row) has no curve; the micro-average still counts it."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    truth = np.column_stack([y == c for c in classes])
    drawable = {k for k in range(len(classes)) if 0 < truth[:, k].sum() < len(y)}
    position = {c: k for k, c in enumerate(classes.tolist())}
    common = [position[c] for c in most_common(y, classes.tolist(), len(classes)) if position[c] in drawable]
    drawn = sorted(common[:MAX_DRAWN_CLASSES])  # the rest count in the micro-average only
    micro_truth, micro_scores = truth.ravel(), proba.ravel()

    fig, ax = _figure()
    for k in drawn:
        fpr, tpr, _ = roc_curve(truth[:, k], proba[:, k])
        ax.plot(fpr, tpr, linewidth=1.2, label=f"{classes[k]} vs rest (AUC = {auc(fpr, tpr):.3f})")
    fpr, tpr, _ = roc_curve(micro_truth, micro_scores)
    ax.plot(fpr, tpr, color="black", linestyle=":", linewidth=1.5, label=f"micro-average (AUC = {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_title("ROC curves, one-vs-rest (held-out split)")
    ax.legend(loc="lower right", fontsize="small")
    _save(fig, folder / "roc_curve.png")

    fig, ax = _figure()
    for k in drawn:
        precision, recall, _ = precision_recall_curve(truth[:, k], proba[:, k])
        ap = average_precision_score(truth[:, k], proba[:, k])
        ax.plot(recall, precision, drawstyle="steps-post", linewidth=1.2, label=f"{classes[k]} vs rest (AP = {ap:.3f})")
    precision, recall, _ = precision_recall_curve(micro_truth, micro_scores)
    ap = average_precision_score(micro_truth, micro_scores)
    ax.plot(recall, precision, drawstyle="steps-post", color="black", linestyle=":", linewidth=1.5,
            label=f"micro-average (AP = {ap:.3f})")
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_ylim(0, 1.05)
    ax.set_title("Precision-recall curves, one-vs-rest (held-out split)")
    ax.legend(loc="lower left", fontsize="small")
    _save(fig, folder / "pr_curve.png")
    return ["roc_curve.png", "pr_curve.png"]


def _regression(folder: Path, y: np.ndarray, pred: np.ndarray) -> list[str]:
    fig, ax = _figure()
    ax.scatter(pred, y - pred, s=10, alpha=0.6)
    ax.axhline(0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual - predicted")
    ax.set_title("Residuals (held-out split)")
    _save(fig, folder / "residuals.png")

    fig, ax = _figure()
    ax.scatter(y, pred, s=10, alpha=0.6)
    lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.set_title("Predicted vs actual (held-out split)")
    _save(fig, folder / "predicted_vs_actual.png")
    return ["residuals.png", "predicted_vs_actual.png"]
