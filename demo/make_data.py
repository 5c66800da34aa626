"""Write the demo data from scikit-learn's bundled breast-cancer set (no download).

data/train.csv      the labelled training data (the first 80 % of a seeded shuffle)
data/reference.csv  the same population, for drift checks
data/live.csv       the held-back 20 %, standing in for production traffic
All 30 measurements are kept; a `size` category column is derived from `mean area` so the demo
has a slice to report on.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer

def main(out: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    # sklearn codes 0 = malignant; the demo predicts "malignant" as the positive class
    frame = frame.assign(malignant=(frame.pop("target") == 0).astype(int))
    frame.insert(0, "size", np.where(frame["mean area"] < 500, "small", np.where(frame["mean area"] < 1000, "medium", "large")))
    shuffled = frame.sample(frac=1.0, random_state=42).reset_index(drop=True)
    cut = int(len(shuffled) * 0.8)
    out.mkdir(parents=True, exist_ok=True)
    shuffled.iloc[:cut].to_csv(out / "train.csv", index=False)
    shuffled.iloc[:cut].sample(frac=0.5, random_state=7).to_csv(out / "reference.csv", index=False)
    shuffled.iloc[cut:].drop(columns=["malignant"]).to_csv(out / "live.csv", index=False)
    print(f"wrote {cut} training rows and {len(shuffled) - cut} live rows to {out}/")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "data"))
