"""The model: automatic preprocessing and the user's estimator in ONE sklearn Pipeline.

    Pipeline([("preprocess", ColumnTransformer([...])), ("model", <estimator>)])

numeric columns      -> SimpleImputer(median) + StandardScaler
categorical columns  -> SimpleImputer(most_frequent) + OneHotEncoder(max_categories=50, rare values
                        and unseen ones in one "infrequent" column)
date/time columns    -> days since 1970-01-01 (by `prepare`, before the model), then as numeric
ids, free text       -> left out with a warning (profile.py)

Everything in it is a stock scikit-learn type, so skops loads it with the default trusted
list, and the saved file serves predictions without mlgen installed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgen_runtime.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

MODEL_STEP = "model"
SHOWN = 5  # problems spelled out in one message
# one-hot columns per category column at most: the rarest values share one "infrequent" column,
# so a column with thousands of values (a zip code, a product) does not make thousands of dense
# columns (the output is dense: HistGradientBoosting and others refuse sparse input)
MAX_CATEGORIES = 50


@dataclass(frozen=True)
class Columns:
    numeric: tuple[str, ...]  # dates included (converted to numbers by `prepare`)
    categorical: tuple[str, ...]
    dropped: tuple[str, ...]
    notes: tuple[str, ...]
    dates: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {"numeric": list(self.numeric), "categorical": list(self.categorical), "dropped": list(self.dropped),
                "dates": list(self.dates)}

    @classmethod
    def from_dict(cls, features: dict[str, Any]) -> Columns:
        """The columns a trained model reads, from its model.json `features`."""
        return cls(tuple(features.get("numeric") or ()), tuple(features.get("categorical") or ()),
                   tuple(features.get("dropped") or ()), (), tuple(features.get("dates") or ()))


def columns(X: pd.DataFrame, contract: dict[str, dict[str, Any]], exclude: tuple[str, ...] | list[str] = ()) -> Columns:
    """Sort the feature columns into numeric / categorical / dropped (profile.py: the contract
    type first, then what the values are). Pass the whole training data's features, so every
    stage sorts the same columns the same way.

    A contract int/float column is numeric whatever pandas read it as: one stray string makes a
    CSV column `object`, and one-hot encoding a column of numbers would be silently wrong
    (`number_problems` refuses such values before training)."""
    from mlgen_runtime import profile

    return from_profile(profile.profile(X, target="", contract=contract, exclude=exclude))


def columns_for(frame: pd.DataFrame, settings: dict[str, Any]) -> Columns:
    """The columns of the whole training data as the spec has them used (profile.of_settings)."""
    from mlgen_runtime import profile

    return from_profile(profile.of_settings(frame, settings))


def from_profile(prof: Any) -> Columns:
    from mlgen_runtime.profile import LEFT_OUT_KINDS

    return Columns(prof.names("numeric", "datetime"), prof.names("categorical"), prof.names(*LEFT_OUT_KINDS),
                   prof.notes, prof.names("datetime"), prof.warnings)


def prepare(X: pd.DataFrame, cols: Columns) -> pd.DataFrame:
    """Missing values as NaN everywhere, so the imputers see them.

    Parquet gives None in object columns and pd.NA in nullable dtypes (Int64, boolean,
    string); SimpleImputer recognises neither. Train and evaluate both call this first.
    """
    import numpy as np
    import pandas as pd

    from mlgen_runtime.profile import as_days

    out = X.copy()
    for name in cols.dates:
        if name in out.columns:
            out[name] = as_days(out[name]).astype("float64")
    for name in cols.categorical:
        s = out[name]
        out[name] = s.astype(object).where(s.notna(), np.nan)
    for name in cols.numeric:
        s = out[name]
        if s.dtype.kind in "fiu":
            continue
        if s.dtype.kind == "b" or isinstance(s.dtype, pd.BooleanDtype):  # nullable extension dtypes
            out[name] = s.astype("float64")
            continue
        values = pd.to_numeric(s, errors="coerce").astype("float64")  # numbers as text (a contract int/float column)
        lost = values.isna().to_numpy() & s.notna().to_numpy()
        if lost.any():  # train refuses these first, naming the row (number_problems); never guess a number
            raise BadInput(f"column `{name}` is numeric but holds {s[lost].iloc[0]!r}, which is not a number")
        out[name] = values
    return out


def number_problems(X: pd.DataFrame, cols: Columns) -> list[str]:
    """Why the numeric feature columns cannot be trained on: values that are not numbers (a
    contract int/float column read as text) and +-inf. X is the data file's rows in file order,
    so positions are data rows (1-based, header excluded, as validate counts). [] when fine."""
    import numpy as np
    import pandas as pd
    from pandas.api import types as t

    from mlgen_runtime.profile import nested_mask

    problems = []
    for name in cols.categorical:  # a contract category/str column can still hold lists (Parquet)
        nested = nested_mask(X[name]) if name in X.columns else None
        if nested is not None:
            problems.append(_first_problem(name, nested, X[name], "is a list or record, which no model reads "
                                           "(list the column in data.exclude)"))
    dates = set(cols.dates)
    for name in cols.numeric:
        if name in dates:
            continue  # read as dates by `prepare`; what does not parse is a missing value
        s = X[name]
        if t.is_integer_dtype(s.dtype) or t.is_bool_dtype(s.dtype):
            continue  # always finite
        if t.is_numeric_dtype(s.dtype):
            values = s.to_numpy(dtype="float64", na_value=np.nan)
        else:
            values = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            text = np.isnan(values) & s.notna().to_numpy()
            if text.any():
                problems.append(_first_problem(name, text, s, "is not a number"))
        inf = np.isinf(values)
        if inf.any():
            problems.append(_first_problem(name, inf, values, "is not finite"))
        elif overflows(values):
            problems.append(overflow_message(name, values))
    return problems


def overflows(values: Any) -> bool:
    """Would standardising these (finite) values overflow float64? StandardScaler sums them for
    the mean and sums squared deviations for the variance: values near +-1e308 make the sum inf,
    inf - inf is NaN, and every scaled value becomes NaN ("Input X contains NaN" at fit)."""
    import warnings

    import numpy as np
    from sklearn.preprocessing import StandardScaler

    finite = values[np.isfinite(values)]
    if not len(finite) or float(np.abs(finite).max()) < 1e150:  # squares of n < 1e8 such values stay finite
        return False
    # the scaler train fits, asked directly: its statistics and the extremes it would produce
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        scaler = StandardScaler().fit(finite.reshape(-1, 1))
        ends = scaler.transform(np.array([[finite.min()], [finite.max()]]))
    return not (np.isfinite(scaler.mean_).all() and np.isfinite(scaler.scale_).all() and np.isfinite(ends).all())


def overflow_message(name: str, values: Any) -> str:
    import numpy as np

    finite = values[np.isfinite(values)]
    return (f"column `{name}` holds values as large as {float(np.abs(finite).max()):.3g}, too large to standardise "
            "(their sum or variance overflows float64); rescale the column (divide by a power of ten, or take its log)")


def _first_problem(name: str, mask: Any, values: Any, what: str) -> str:
    import numpy as np

    pos, count = int(np.argmax(mask)), int(mask.sum())
    value = values.iloc[pos] if hasattr(values, "iloc") else values[pos]
    value = repr(float(value)) if isinstance(value, (float, np.floating)) else repr(value)  # inf, not np.float64(inf)
    more = f" ({count:,} rows in all)" if count > 1 else ""
    return f"column `{name}`: data row {pos + 1} has {value}, which {what}{more}"


def check_numbers(X: pd.DataFrame, cols: Columns, source: str) -> None:
    """BadInput naming the column and row when a numeric feature holds something no model can fit."""
    problems = number_problems(X, cols)
    if problems:
        more = f"; ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise BadInput(f"{source}: {'; '.join(problems[:SHOWN])}{more} (`validate` reports every check)")


def estimator_class(path: str) -> type:
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BadInput(
            f"train.estimator `{path}`: cannot import module `{module_name}` ({exc}); "
            "is its package listed in project.requirements?"
        ) from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise BadInput(f"train.estimator `{path}`: module `{module_name}` has no `{attr}`")
    if not isinstance(cls, type) or not hasattr(cls, "fit"):
        raise BadInput(f"train.estimator `{path}` is not an estimator class (no `fit` method)")
    return cls


def make_estimator(path: str, params: dict[str, Any], task: str) -> Any:
    from sklearn.base import is_classifier, is_regressor

    cls = estimator_class(path)
    try:
        est = cls(**params)
    except TypeError as exc:
        raise BadInput(f"train.params: {path.rsplit('.', 1)[-1]} rejected the parameters: {exc}") from None
    if task == "classification" and is_regressor(est):
        raise BadInput(f"train.estimator `{path}` is a regressor but data.task is classification")
    if task == "regression" and is_classifier(est):
        raise BadInput(f"train.estimator `{path}` is a classifier but data.task is regression")
    return est


def preprocessor(cols: Columns) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if cols.numeric:
        parts.append(("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                      list(cols.numeric)))
    if cols.categorical:
        parts.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES,
                                     sparse_output=False)),
        ]), list(cols.categorical)))
    if not parts:
        raise BadInput("no usable feature columns (every column is the target, excluded, an id, free text or of an "
                       "unsupported type; see the notes above)")
    # dense output: several estimators (HistGradientBoosting...) refuse sparse input
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


def build(settings: dict[str, Any], cols: Columns, extra: dict[str, Any] | None = None) -> Pipeline:
    """The unfitted pipeline: train.params plus `extra` (a search trial) on the estimator,
    and every random_state from the seed except those the user set explicitly."""
    from sklearn.pipeline import Pipeline

    train = settings["train"]
    est = make_estimator(train["estimator"], dict(train.get("params") or {}), settings["data"]["task"])
    pipe = Pipeline([("preprocess", preprocessor(cols)), (MODEL_STEP, est)])
    if extra:
        set_estimator_params(pipe, extra)
    explicit = {f"{MODEL_STEP}__{k}" for k in [*(train.get("params") or {}), *(extra or {})]}
    seed_random_states(pipe, int(settings["project"]["seed"]), keep=explicit)
    return pipe


def set_estimator_params(pipe: Pipeline, params: dict[str, Any]) -> None:
    """Search params apply to the estimator step (`max_depth` -> `model__max_depth`)."""
    try:
        pipe.set_params(**{f"{MODEL_STEP}__{k}": v for k, v in params.items()})
    except ValueError as exc:
        raise BadInput(f"train.search.space: {exc}") from None


def seed_random_states(pipe: Any, seed: int, keep: frozenset[str] | set[str] = frozenset()) -> dict[str, int]:
    """Set every `random_state` in the (nested) pipeline to the seed; returns what was set."""
    names = sorted(k for k in pipe.get_params(deep=True) if (k == "random_state" or k.endswith("__random_state")) and k not in keep)
    if names:
        pipe.set_params(**dict.fromkeys(names, seed))
    return dict.fromkeys(names, seed)


def fit(pipe: Pipeline, X: Any, y: Any) -> Pipeline:
    """Fit. BadInput (exit 2, no traceback) when the estimator refuses its parameters (sklearn
    validates them at fit time) or the data (a ValueError from fit: non-finite values, a single
    class...), with the estimator's own message. Anything else is a bug and propagates."""
    try:
        return pipe.fit(X, y)
    except Exception as exc:
        if type(exc).__name__ == "InvalidParameterError":  # sklearn's param validation
            raise BadInput(f"train: {exc}") from None
        if isinstance(exc, ValueError):
            est = pipe.named_steps[MODEL_STEP] if hasattr(pipe, "named_steps") else pipe
            raise BadInput(f"train: {type(est).__name__} cannot be fitted on this data: {exc}") from None
        raise


def json_params(est: Any) -> dict[str, Any]:
    """The estimator's own parameters, JSON-safe (nested estimators shown by their class)."""
    out: dict[str, Any] = {}
    for k, v in sorted(est.get_params(deep=False).items()):
        if v is None or isinstance(v, (bool, int, float, str)):
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) for x in v):
            out[k] = list(v)
        else:
            out[k] = type(v).__name__ if hasattr(v, "get_params") else repr(v)
    return out
