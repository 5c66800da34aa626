"""Stage 2: fit a model on the features."""

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

data = np.load("build/features.npz")
cut = int(0.8 * len(data["y"]))
model = LogisticRegression(max_iter=300).fit(data["X"][:cut], data["y"][:cut])
joblib.dump(model, "build/model.joblib")
