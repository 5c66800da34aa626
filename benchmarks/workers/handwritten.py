"""The baseline of the full-run benchmark: what a data scientist writes by hand to do the work of
`mlgen run` (validate, train HistGradientBoosting, evaluate with gates and plots, deploy).

One process, one CSV read, the same preprocessing pipeline as mlgen's runtime, the same checks,
metrics, gate and plots; the model is saved with joblib (what such a script usually does) and
copied into a versioned folder. `handwritten.py CSV OUT_DIR`.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import (ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay, accuracy_score,
                             f1_score, roc_auc_score)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from contract import CATEGORIES, TARGET, contract  # noqa: E402

SEED = 42


def validate(frame: pd.DataFrame) -> dict[str, bool]:
    columns = contract()
    checks = {"columns": set(frame.columns) == set(columns) | {TARGET}, "min_rows": len(frame) >= 1000}
    for name, spec in columns.items():
        col = frame[name]
        if spec["type"] == "category":
            checks[f"{name}:values"] = bool(col.dropna().isin(spec["values"]).all())
        else:
            checks[f"{name}:type"] = pd.api.types.is_numeric_dtype(col)
            checks[f"{name}:range"] = bool(col.dropna().between(spec["min"], spec["max"]).all())
        nulls = col.isna().mean()
        checks[f"{name}:nulls"] = nulls <= 0.05 and (spec["nullable"] or nulls == 0)
    checks["duplicates"] = pd.util.hash_pandas_object(frame, index=False).duplicated().mean() <= 0.01
    checks["target"] = frame[TARGET].value_counts().min() >= 2
    return {k: bool(v) for k, v in checks.items()}


def main() -> int:
    csv, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(csv, engine="c", low_memory=False)
    checks = validate(frame)
    (out / "validation.json").write_text(json.dumps(checks))
    if not all(checks.values()):
        return 1

    X, y = frame.drop(columns=[TARGET]), frame[TARGET]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=SEED, stratify=y)
    numeric = [c for c in X.columns if c not in CATEGORIES]
    categorical = list(CATEGORIES)
    model = Pipeline([
        ("preprocess", ColumnTransformer([
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
            ("categorical", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                                      ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]),
             categorical),
        ], sparse_threshold=0.0)),
        ("model", HistGradientBoostingClassifier(max_iter=100, random_state=SEED)),
    ])
    model.fit(X_train, y_train)

    pred, proba = model.predict(X_test), model.predict_proba(X_test)[:, 1]
    metrics = {"f1": f1_score(y_test, pred), "roc_auc": roc_auc_score(y_test, proba),
               "accuracy": accuracy_score(y_test, pred)}
    passed = metrics["roc_auc"] >= 0.6
    (out / "metrics.json").write_text(json.dumps({"metrics": metrics, "passed": passed}))
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    for name, plot in (("confusion_matrix", lambda ax: ConfusionMatrixDisplay.from_predictions(y_test, pred, ax=ax)),
                       ("roc_curve", lambda ax: RocCurveDisplay.from_predictions(y_test, proba, ax=ax)),
                       ("pr_curve", lambda ax: PrecisionRecallDisplay.from_predictions(y_test, proba, ax=ax))):
        fig = Figure(figsize=(5, 4), dpi=100)
        plot(fig.subplots())
        fig.tight_layout()
        fig.savefig(out / f"{name}.png")
    if not passed:
        return 1

    joblib.dump(model, out / "model.joblib")
    version = out / "registry" / "1"  # "deploy": a versioned copy plus an alias
    version.mkdir(parents=True, exist_ok=True)
    shutil.copy(out / "model.joblib", version / "model.joblib")
    (out / "registry" / "aliases.json").write_text(json.dumps({"staging": 1}))
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
