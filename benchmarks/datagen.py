"""Deterministic synthetic tabular data (numpy seed) with the columns of contract.py.

Imported by the workers in both virtual environments, so it needs numpy and pandas only. The
target depends on a few columns, so a model has something to learn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contract import CATEGORIES, CATEGORY_P, COLUMNS, DRIFTED, FLOATS, INTS, NULLABLE, TARGET


def frame(rows: int, seed: int, *, drifted: bool = False) -> pd.DataFrame:
    """`rows` x 20 columns; `drifted` moves the DRIFTED columns far enough for any test to see."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for i, name in enumerate(FLOATS):
        col = rng.normal(loc=i * 0.5, scale=1.0 + i * 0.1, size=rows)
        if drifted and name in DRIFTED:
            col = col + 0.8 * (1.0 + i * 0.1)  # +0.8 standard deviations
        if name in NULLABLE:
            col[rng.random(rows) < 0.01] = np.nan
        data[name] = np.round(col, 4)  # 4 decimals: a realistic CSV width
    for name, (lo, hi) in INTS.items():
        col = rng.integers(lo, hi + 1, size=rows)
        if drifted and name in DRIFTED:
            col = np.minimum(col + (hi - lo) // 4, hi)
        data[name] = col
    for name, values in CATEGORIES.items():
        p = CATEGORY_P[name][::-1] if drifted and name in DRIFTED else CATEGORY_P[name]
        data[name] = np.asarray(values, dtype=object)[rng.choice(len(values), size=rows, p=p)]
    logit = (0.8 * data["f01"] - 0.5 * data["f04"] + 0.03 * (data["age"] - 50) - 0.02 * data["tenure"]
             + np.where(data["plan"] == "basic", 0.7, -0.3) + rng.normal(scale=1.0, size=rows))
    data[TARGET] = (logit > 0).astype(np.int64)
    return pd.DataFrame(data, columns=COLUMNS)


def write_csv(path: Path, rows: int, seed: int, *, drifted: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame(rows, seed, drifted=drifted).to_csv(path, index=False)
    return path


def rows_for_megabytes(megabytes: float) -> int:
    """Rows of `frame` that make a CSV of about this size (measured on a sample)."""
    sample = frame(2000, seed=0).to_csv(index=False).encode()
    return max(100, int(megabytes * 1e6 / (len(sample) / 2000)))
