"""Model files: skops only (never pickle/joblib), sha256 verified before every load, and only
types from an explicit allow-list are trusted when loading.

The allow-list (`untrusted_refused`, applied to what `skops.io.get_untrusted_types` reports,
i.e. what skops does not already trust by default) is, exactly:

- skops' own defaults (builtin scalars and containers, numpy arrays/dtypes/ufuncs, scipy sparse
  matrices, scikit-learn's public estimators, its loss and binning types);
- `numpy.dtype` (a dtype object, rebuilt by skops from an empty array: no code);
- classes, never functions, defined in a scikit-learn module (test and mocking modules excluded)
  that are estimators (`BaseEstimator` subclasses) or one of the helper types fitted estimators
  hold (`HELPER_CLASSES`: tree structures, kernels, distance metrics, optimizers...);
- the user's configured estimator class, exactly (`estimator_types`: the spec's
  `train.estimator` dotted path, resolved to the class; not its whole package).

Nothing else: no builtins function (`eval`, `exec`, `getattr`...), no numpy/scipy function
(`numpy.full_like`...), no `functools.partial`, no operator function. A model that needs one
(a FunctionTransformer with a custom function, say) is refused with BadInput (exit 2).

sklearn's `Tree` and HistGradientBoosting's `TreePredictor` keep raw node indices that
scikit-learn follows without bounds checks (skops does not trust them by default for that
reason); mlgen's models contain them, so they are trusted, and every one in a loaded model is
then checked (`check_trees`: children and features in range, children after their parent, so
prediction cannot read outside the arrays or loop).

Inside the local-run worker (`worker.py` calls `enable_memo`), a model already loaded by an
earlier stage of the same run is not parsed again: the file's sha256 is still checked on every
load, and the memo is keyed by that sha256 and the extra trusted types, so the same bytes under
the same allow-list give a copy of the same object."""

from __future__ import annotations

import copy
import functools
import importlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import sha256_bytes, sha256_file, write_bytes_atomic

MODEL_FILE = "model.skops"
META_FILE = "model.json"

# Exact type names trusted besides skops' defaults (names as skops reports them: module.Class).
TRUSTED_EXACT = frozenset({"numpy.dtype"})
# Helper types fitted scikit-learn estimators hold; a class is trusted when it is (a subclass
# of) one of these or of sklearn.base.BaseEstimator (compared by module.qualname along its MRO).
HELPER_CLASSES = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.gaussian_process.kernels.Kernel",
    "sklearn.metrics._dist_metrics.DistanceMetric",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neural_network._stochastic_optimizers.BaseOptimizer",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.utils._bunch.Bunch",
    "sklearn._loss.loss.BaseLoss",
    "sklearn._loss.link.BaseLink",
)
# Module path parts whose classes are never trusted (test doubles take callables and do odd things).
UNTRUSTED_MODULE_PARTS = frozenset({"tests", "test", "conftest", "_testing", "_mocking", "_build_utils"})
MEMO_MODELS = 2  # the candidate and the champion


class _Memo:
    def __init__(self) -> None:
        self.enabled = False
        self.models: OrderedDict[tuple[str, tuple[str, ...]], Any] = OrderedDict()
        # the model each file this process wrote came from, by the file's sha256 (train saves,
        # evaluate loads: the same object, not a parse of its bytes); the types each file lists
        self.saved: OrderedDict[str, Any] = OrderedDict()
        self.types: dict[str, list[str]] = {}


MEMO = _Memo()


def enable_memo(on: bool = True) -> None:
    MEMO.enabled = on
    MEMO.models.clear()
    MEMO.saved.clear()
    MEMO.types.clear()


def _remember(table: OrderedDict[Any, Any], key: Any, model: Any) -> None:
    table[key] = copy.deepcopy(model)
    table.move_to_end(key)
    while len(table) > MEMO_MODELS:
        table.popitem(last=False)


def save_model(model: Any, folder: Path) -> str:
    """Write `folder/model.skops` atomically; return its sha256."""
    import skops.io as sio

    data = sio.dumps(model)
    write_bytes_atomic(folder / MODEL_FILE, data)
    sha = sha256_bytes(data)
    if MEMO.enabled:
        _remember(MEMO.saved, sha, model)
    return sha


# -- the allow-list ------------------------------------------------------------------------------


def _resolve(name: str) -> Any:
    """The object `module.attr` names (importing the module, as skops would to load it); None
    when it does not resolve."""
    module_name, _, attr = name.rpartition(".")
    if not module_name or not attr:
        return None
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - an unimportable module names nothing we trust
        return None
    return getattr(module, attr, None)


def _type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@functools.lru_cache(maxsize=1024)
def is_trusted_sklearn_class(name: str) -> bool:
    """`name` is a class (not a function) of a scikit-learn module, and an estimator or a
    helper type estimators hold."""
    parts = name.split(".")
    if parts[0] != "sklearn" or len(parts) < 3 or any(p in UNTRUSTED_MODULE_PARTS or p.startswith("test_") for p in parts):
        return False
    cls = _resolve(name)
    if not isinstance(cls, type) or issubclass(cls, BaseException):
        return False
    if _type_name(cls) != name:
        return False  # only a class's own name, as skops writes it: no alias, no re-export, no method
    from sklearn.base import BaseEstimator

    # helper bases by name: their modules need not be imported to compare (the MRO holds real classes)
    return issubclass(cls, BaseEstimator) or any(_type_name(base) in HELPER_CLASSES for base in cls.__mro__)


def estimator_types(extra: tuple[str, ...]) -> set[str]:
    """The names under which the configured estimator class may appear in a model file: the
    dotted path from the spec and the class's own module.qualname. Only classes with `fit`;
    anything else (a function, a module) adds nothing."""
    out: set[str] = set()
    for path in extra:
        if not isinstance(path, str) or "." not in path:
            continue
        cls = _resolve(path)
        if isinstance(cls, type) and not issubclass(cls, BaseException) and callable(getattr(cls, "fit", None)):
            out.update({path, _type_name(cls)})
    return out


def untrusted_refused(found: list[str], extra: tuple[str, ...] = ()) -> list[str]:
    """The types of `found` (skops' untrusted list) that the allow-list does not trust."""
    refused = [t for t in found if t not in TRUSTED_EXACT and not is_trusted_sklearn_class(t)]
    if refused and extra:
        allowed = estimator_types(extra)
        refused = [t for t in refused if t not in allowed]
    return refused


def found_types(data: bytes, name: str, sha: str | None = None) -> list[str]:
    """The types skops does not trust by default that the archive `data` lists (BadInput when
    it is no skops archive: a pickle, say, which is never unpickled). In the local-run worker
    the answer is remembered by the bytes' sha256."""
    if MEMO.enabled:
        sha = sha or sha256_bytes(data)
        if sha in MEMO.types:
            return list(MEMO.types[sha])
    import skops.io as sio

    try:
        found = list(sio.get_untrusted_types(data=data))
    except Exception as exc:  # not a skops archive (e.g. a pickle), or a damaged one
        raise BadInput(f"{name}: not a skops model file ({type(exc).__name__}: {exc})") from None
    if MEMO.enabled and sha is not None:
        MEMO.types[sha] = list(found)
    return found


def trusted_types(path: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """The untrusted types listed in `path`, each checked against the allow-list; BadInput
    naming those that are refused."""
    return _checked_types(path.read_bytes(), path.name, extra)


def _checked_types(data: bytes, name: str, extra: tuple[str, ...], sha: str | None = None) -> list[str]:
    found = found_types(data, name, sha)
    refused = untrusted_refused(found, extra)
    if refused:
        raise BadInput(
            f"{name}: refusing to load untrusted types: {', '.join(sorted(refused))} "
            "(mlgen loads only scikit-learn estimators and their helper classes, numpy/scipy data "
            "and the configured train.estimator class; never functions). The model file was not "
            "written by mlgen train or was tampered with"
        )
    return found


def load_model(path: Path, sha256: str, extra: tuple[str, ...] = ()) -> Any:
    """Load a skops model after checking its hash and the types it contains. `extra`: dotted
    paths of estimator classes trusted exactly, besides the defaults (`estimator_package`)."""
    if not path.is_file():
        raise BadInput(f"{path}: model file not found")
    try:
        data = path.read_bytes()  # one read: the bytes checked are the bytes loaded
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the model file: {exc.strerror or exc}") from None
    actual = sha256_bytes(data)
    if actual != sha256:
        raise BadInput(f"{path}: sha256 mismatch (expected {sha256[:12]}..., found {actual[:12]}...); the model file was modified")
    key = (sha256, tuple(extra))
    if MEMO.enabled and key in MEMO.models:
        MEMO.models.move_to_end(key)
        return copy.deepcopy(MEMO.models[key])  # a stage may change its model; the next must not see it
    # the allow-list always judges the file, as a CI job would, also for a model this process wrote
    trusted = _checked_types(data, str(path), tuple(extra), actual)
    if MEMO.enabled and actual in MEMO.saved:
        model = copy.deepcopy(MEMO.saved[actual])  # these bytes were written from this object
    else:
        import skops.io as sio

        try:
            model = sio.loads(data, trusted=trusted)
        except Exception as exc:
            raise BadInput(f"{path}: cannot load the model: {type(exc).__name__}: {exc}") from None
        check_trees(model, path)
    if MEMO.enabled:
        _remember(MEMO.models, key, model)
    return model


def estimator_package(settings: dict[str, Any]) -> tuple[str, ...]:
    """The configured estimator class (train.estimator, a dotted path), trusted exactly in
    addition to the defaults. (The name is historical: it used to be the whole package.)"""
    return (settings["train"]["estimator"],)


# -- tree structures -----------------------------------------------------------------------------


def _objects(root: Any) -> Iterator[Any]:
    """Every object reachable from `root` through attributes, containers and object arrays."""
    import numpy as np

    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, (str, bytes, int, float, bool)):
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif isinstance(obj, np.ndarray):
            if obj.dtype == object:
                stack.extend(obj.ravel().tolist())
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            stack.extend(vars(obj).values())


def _flat(items: Any) -> list[Any]:
    import numpy as np

    if isinstance(items, np.ndarray):
        return items.ravel().tolist() if items.dtype == object else []
    if isinstance(items, (list, tuple)):
        out: list[Any] = []
        for item in items:
            out.extend(_flat(item) if isinstance(item, (list, tuple, np.ndarray)) else [item])
        return out
    return []


def check_trees(model: Any, path: Path) -> None:
    """BadInput unless every sklearn Tree and HistGradientBoosting TreePredictor in `model` is
    well formed (see the module docstring): a crafted file could otherwise make predict read
    outside its arrays."""
    try:
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
        from sklearn.tree._tree import Tree
    except ImportError:  # pragma: no cover - other sklearn layouts: nothing of ours to check
        return
    for obj in _objects(model):
        problem = None
        if isinstance(obj, Tree):
            problem = _tree_problem(obj)
        elif isinstance(obj, TreePredictor):  # its structure; features are checked by its owner (_hist_problem)
            problem = _predictor_problem(obj)
        if problem is None and isinstance(getattr(obj, "tree_", None), Tree):
            n_in = getattr(obj, "n_features_in_", None)
            if n_in is not None and obj.tree_.n_features != n_in:
                problem = f"{type(obj).__name__}: its tree has {obj.tree_.n_features} features, the estimator {n_in}"
        if problem is None and getattr(obj, "_predictors", None) is not None and hasattr(obj, "_bin_mapper"):
            problem = _hist_problem(obj, TreePredictor)
        if problem is None and getattr(obj, "estimators_", None) is not None:
            problem = _ensemble_problem(obj)
        if problem is not None:
            raise BadInput(f"{path}: malformed model ({problem}); the model file was not written by mlgen train or was tampered with")


def _tree_problem(tree: Any) -> str | None:
    import numpy as np

    n = int(tree.node_count)
    left, right, feature = (np.asarray(a, dtype=np.int64) for a in (tree.children_left, tree.children_right, tree.feature))
    if n < 1 or not (len(left) == len(right) == len(feature) == n):
        return "a decision tree with inconsistent node arrays"
    idx = np.arange(n)
    inner = left != -1
    if np.any(right[~inner] != -1):
        return "a decision tree leaf with a child"
    if np.any((left[inner] <= idx[inner]) | (left[inner] >= n) | (right[inner] <= idx[inner]) | (right[inner] >= n)):
        return "a decision tree node pointing outside the tree or backwards"
    if np.any((feature[inner] < 0) | (feature[inner] >= int(tree.n_features))):
        return "a decision tree split on a feature the tree does not have"
    return None


def _predictor_problem(pred: Any, owner: tuple[int, Any] | None = None) -> str | None:
    """What is wrong with a HistGradientBoosting tree; `owner`: the model's (n_features,
    is_categorical mask or None) when known."""
    import numpy as np
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = getattr(pred, "nodes", None)
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1 or len(nodes) < 1:
        return "a gradient-boosting tree without a valid node array"
    bitsets = [getattr(pred, "raw_left_cat_bitsets", None), getattr(pred, "binned_left_cat_bitsets", None)]
    if not all(isinstance(b, np.ndarray) and b.ndim == 2 and b.shape[1] == 8 for b in bitsets):
        return "a gradient-boosting tree with malformed category bitsets"
    n = len(nodes)
    idx = np.arange(n)
    inner = nodes["is_leaf"] == 0
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    if np.any((left[inner] <= idx[inner]) | (left[inner] >= n) | (right[inner] <= idx[inner]) | (right[inner] >= n)):
        return "a gradient-boosting tree node pointing outside the tree or backwards"
    if np.any(nodes["feature_idx"][inner] < 0):
        return "a gradient-boosting split on a feature the model does not have"
    cat = inner & (nodes["is_categorical"] != 0)
    if np.any(nodes["bitset_idx"][cat] >= min(b.shape[0] for b in bitsets)):
        return "a gradient-boosting categorical split without its bitset"
    if owner is None:
        return None
    n_features, categorical = owner
    if np.any(nodes["feature_idx"][inner] >= n_features):
        return "a gradient-boosting split on a feature the model does not have"
    # predict looks up the feature's known categories: it must be a categorical feature
    if np.any(cat) and (categorical is None or not np.all(categorical[nodes["feature_idx"][cat]])):
        return "a gradient-boosting categorical split on a feature that is not categorical"
    return None


def _hist_problem(est: Any, predictor_type: type) -> str | None:
    import numpy as np

    n_features = getattr(est, "n_features_in_", None)
    if not isinstance(n_features, (int, np.integer)):
        return f"{type(est).__name__} without n_features_in_"
    categorical = getattr(est._bin_mapper, "is_categorical_", None)
    if categorical is not None:
        categorical = np.asarray(categorical, dtype=bool)
        if categorical.shape != (int(n_features),):
            return f"{type(est).__name__}: its bin mapper does not match its {n_features} features"
    for pred in _flat(est._predictors):
        if not isinstance(pred, predictor_type):
            return f"{type(est).__name__}: a predictor of type {type(pred).__name__}"
        problem = _predictor_problem(pred, (int(n_features), categorical))
        if problem:
            return problem
    return None


def _ensemble_problem(est: Any) -> str | None:
    """Ensembles (forests, gradient boosting) pass their validated X to members unchecked
    (check_input=False, predict_stages): members must expect the same features. Bagging
    members see X[:, features], one list per member."""
    n_in = getattr(est, "n_features_in_", None)
    members = [m for m in _flat(est.estimators_) if hasattr(m, "n_features_in_")]
    if n_in is None or not members:
        return None
    subsets = getattr(est, "estimators_features_", None)
    if subsets is not None:
        if len(subsets) != len(members):
            return f"{type(est).__name__}: {len(members)} members but {len(subsets)} feature subsets"
        expected = [len(s) for s in subsets]
    else:
        expected = [n_in] * len(members)
    for member, want in zip(members, expected):
        if member.n_features_in_ != want:
            return f"{type(est).__name__}: a member expects {member.n_features_in_} features, not {want}"
    return None
