"""Stage 3: score the model on the rows it did not see (the stage the benchmark edits)."""

import json

import joblib
import numpy as np

data = np.load("build/features.npz")
cut = int(0.8 * len(data["y"]))
model = joblib.load("build/model.joblib")
accuracy = float((model.predict(data["X"][cut:]) == data["y"][cut:]).mean())
with open("build/metrics.json", "w") as fh:
    json.dump({"accuracy": accuracy}, fh)
