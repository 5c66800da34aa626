"""Stage 1 of the cache benchmark's pipeline: CSV -> a numeric feature sample."""

import os

import numpy as np
import pandas as pd

frame = pd.read_csv("data/data.csv")
sample = frame.sample(n=min(len(frame), 50_000), random_state=0)
numeric = sample.select_dtypes("number").drop(columns=["churned"]).fillna(0.0)
dummies = pd.get_dummies(sample[["plan", "region", "channel"]], dtype="float32")
X = np.hstack([numeric.to_numpy("float32"), dummies.to_numpy("float32")])
os.makedirs("build", exist_ok=True)
np.savez("build/features.npz", X=X, y=sample["churned"].to_numpy())
