"""Evaluation plots as Markdown a PR/MR comment renders: a confusion-matrix table and Mermaid
`xychart-beta` charts (ROC, precision-recall, residual histogram). GitHub and GitLab render
```mermaid blocks in comments and job summaries; the PNGs (plots.py) stay in the artifacts.

No matplotlib here (deploy jobs install without it): numpy and sklearn.metrics only.
Curves are resampled on a fixed grid of GRID points, so the report size does not grow with the
number of held-out rows. Class names are user data: table cells go through report_md.escape,
chart text through `mermaid_text`, which keeps only characters that cannot end a quoted string
or a statement (no quotes, brackets, `-->`, backticks, newlines).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from mlgen_runtime import report_md as md
from mlgen_runtime.metrics import Predictions, positive_label, positive_scores

GRID = 21  # points per curve: x = 0, 0.05, ..., 1
MAX_TABLE_CLASSES = 12  # confusion table columns; the rest go in one "other" row and column
MAX_CHART_CLASSES = 5  # one-vs-rest charts (xychart-beta has no legend: one chart per class)
HISTOGRAM_BINS = 15
_UNSAFE = re.compile(r"[^\w .,:;+=/()%?!@&*'-]")


def mermaid_text(value: object, limit: int = 60) -> str:
    """A value as text that is safe inside a Mermaid "quoted string" on one line."""
    text = _UNSAFE.sub("?", " ".join(str(value).split()))
    text = re.sub(r"-{2,}", "-", text)[:limit]  # `-->` is the axis range arrow
    return text.strip() or "?"


def _num(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") if np.isfinite(x) else "0"


def xychart(title: str, x_axis: str, y_axis: str, series: dict[str, list[float]],
            x_range: tuple[float, float] | None = None, x_categories: list[str] | None = None,
            y_range: tuple[float, float] | None = None) -> str:
    """One ```mermaid xychart-beta block; `series` maps "line"/"bar" to its values."""
    if x_categories is not None:
        x = "[" + ", ".join(f'"{mermaid_text(c, 20)}"' for c in x_categories) + "]"
    else:
        lo, hi = x_range or (0.0, 1.0)
        x = f"{_num(lo)} --> {_num(hi)}"
    lines = ["```mermaid", "xychart-beta", f'    title "{mermaid_text(title)}"',
             f'    x-axis "{mermaid_text(x_axis)}" {x}']
    y = f" {_num(y_range[0])} --> {_num(y_range[1])}" if y_range else ""
    lines.append(f'    y-axis "{mermaid_text(y_axis)}"{y}')
    for kind, values in series.items():
        lines.append(f"    {kind} [" + ", ".join(_num(v) for v in values) + "]")
    return "\n".join(lines + ["```", ""])


def confusion_table(y: Any, pred: Any, classes: Any) -> str:
    """Counts and row-normalised rates (true class per row); the most common classes only."""
    from mlgen_runtime.plots import most_common  # plots imports matplotlib lazily, only to draw

    y, pred = np.asarray(y), np.asarray(pred)
    labels = list(classes) if classes is not None else list(np.unique(np.concatenate([y, pred])))
    shown = labels if len(labels) <= MAX_TABLE_CLASSES else most_common(y, labels, MAX_TABLE_CLASSES - 1)
    other = len(shown) < len(labels)
    index = {c: k for k, c in enumerate(shown)}
    n = len(shown) + other
    counts = np.zeros((n, n), dtype=int)
    for t, p in zip(y.tolist(), pred.tolist()):
        counts[index.get(t, n - 1), index.get(p, n - 1)] += 1
    names = [str(c) for c in shown] + ([f"other ({len(labels) - len(shown):,} classes)"] if other else [])
    rows = []
    for k, name in enumerate(names):
        total = counts[k].sum()
        cells = [md.Md(f"{c:,} ({c / total:.0%})" if total else "0") for c in counts[k]]
        rows.append([md.bold(name), *cells])
    note = ("Rows: true class; columns: predicted; each cell: count (share of its row)."
            + (f" The {len(shown)} most common of {len(labels):,} classes." if other else ""))
    head = ["true \\ predicted", *names]
    return md.table(head, rows, align="l" + "r" * n) + "\n" + md.escape(note) + "\n"


def equal(y: np.ndarray, label: Any) -> np.ndarray:
    """`y == label` element by element in Python: numpy turns a str label into its fixed-width
    string type first, which drops trailing NULs ("\x00" would match nothing)."""
    return np.fromiter((v == label for v in y.tolist()), dtype=bool, count=len(y))


def _roc_grid(truth: np.ndarray, scores: np.ndarray) -> tuple[list[float], float]:
    from sklearn.metrics import auc, roc_curve

    fpr, tpr, _ = roc_curve(truth, scores)
    grid = np.linspace(0, 1, GRID)
    return np.interp(grid, fpr, tpr).tolist(), float(auc(fpr, tpr))


def _pr_grid(truth: np.ndarray, scores: np.ndarray) -> tuple[list[float], float]:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(truth, scores)
    order = np.argsort(recall, kind="stable")  # recall comes out decreasing
    grid = np.linspace(0, 1, GRID)
    return np.interp(grid, recall[order], precision[order]).tolist(), float(average_precision_score(truth, scores))


def _curves(truth: np.ndarray, scores: np.ndarray, name: str) -> list[str]:
    roc, roc_auc = _roc_grid(truth, scores)
    pr, ap = _pr_grid(truth, scores)
    return [
        xychart(f"ROC {name} (AUC {roc_auc:.3f})", "false positive rate", "true positive rate",
                {"line": roc}, y_range=(0, 1)),
        xychart(f"Precision-recall {name} (AP {ap:.3f})", "recall", "precision", {"line": pr}, y_range=(0, 1)),
    ]


def classification(y: Any, p: Predictions) -> list[str]:
    """Markdown parts: the confusion table, then ROC/PR charts where scores exist."""
    from mlgen_runtime.plots import most_common

    y = np.asarray(y)
    parts = ["#### Confusion matrix\n", confusion_table(y, p.y_pred, p.classes)]
    scores = positive_scores(p)
    if scores is not None and len(np.unique(y)) == 2:
        label = positive_label(p.classes)
        parts += ["#### ROC and precision-recall\n", *_curves(equal(y, label), scores, f"positive class {label}")]
    elif (p.classes is not None and len(p.classes) > 2 and p.proba is not None and p.proba.ndim == 2
          and p.proba.shape[1] == len(p.classes)):
        classes = list(p.classes)
        drawable = [c for c in most_common(y, classes, len(classes)) if 0 < int(equal(y, c).sum()) < len(y)]
        parts.append("#### ROC and precision-recall, one-vs-rest\n")
        for c in drawable[:MAX_CHART_CLASSES]:
            parts += _curves(equal(y, c), p.proba[:, classes.index(c)], f"{c} vs rest")
        if len(drawable) > MAX_CHART_CLASSES:
            parts.append(md.escape(f"The {MAX_CHART_CLASSES} most common of {len(drawable)} classes; "
                                   "every class is in the roc_curve.png and pr_curve.png artifacts.") + "\n")
    else:
        parts.append(md.escape("No ROC or precision-recall chart: the model gives no class probabilities.") + "\n")
    return parts


def regression(y: Any, pred: Any) -> list[str]:
    """Markdown parts: a histogram of residuals (actual - predicted) as a Mermaid bar chart."""
    residual = np.asarray(y, dtype=float) - np.asarray(pred, dtype=float)
    residual = residual[np.isfinite(residual)]
    if residual.size == 0:
        return []
    counts, edges = np.histogram(residual, bins=HISTOGRAM_BINS)
    centres = [f"{(a + b) / 2:.3g}" for a, b in zip(edges[:-1], edges[1:])]
    return ["#### Residuals\n", xychart("Residuals, actual - predicted (held-out split)", "residual (bin centre)",
                                        "rows", {"bar": counts.astype(float).tolist()}, x_categories=centres)]


def section(task: str, y: Any, p: Predictions) -> str:
    """Everything the report shows of the plots, as Markdown."""
    parts = classification(y, p) if task == "classification" else regression(y, p.y_pred)
    return "\n".join(parts)
