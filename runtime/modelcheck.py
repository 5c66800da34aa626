"""Internal consistency of a loaded model: the arrays a trusted class holds must agree with its
structure before compiled code (Cython, libsvm, scipy's sparse kernels) follows them.

skops rebuilds objects from arrays without asking whether they fit together, and scikit-learn's
compiled predict paths index those arrays without bounds checks. A file of trusted classes can
therefore still make `predict` read or write outside an array (SIGSEGV, heap corruption). The
checks here refuse, with BadInput, every inconsistency we know a compiled path would follow:

- decision trees (`Tree`): children in range and after their parent, features in range;
- HistGradientBoosting predictors: node links, features, categorical bitsets and the bin
  mapper's known categories (bitset positions 0..255);
- ensembles: members expect the estimator's features; gradient boosting's estimator array is
  (n_estimators_, trees per iteration) as its classes imply;
- KD and Ball trees: data, index permutation, node ranges, bounds and levels, and the distance
  metric's parameter sizes;
- libsvm models (SVC, SVR, ...): support vectors, their counts per class, dual coefficients,
  intercepts and probability parameters against each other and `n_features_in_`;
- k-means centres, CSR/CSC/COO matrices (full format check), thread and job counts;
- generic counts: `feature_names_in_`, `coef_`, centres, scalers' and imputers' per-feature
  arrays against `n_features_in_`.

What is not listed cannot be checked completely from outside, so modelsmoke.py also loads the
file and predicts in a child process before this process loads it (modelio.load_model)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlgen_runtime.errors import BadInput

MAX_JOBS = 1024  # a thread or job count above this is no machine's: it would only exhaust memory
BITSET_VALUES = 256  # HistGradientBoosting's category bitsets hold codes 0..255
# ensembles that hand their validated X to members without a check (check_input=False, predict_stages)
UNCHECKED_ENSEMBLES = (
    "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor",
    "RandomTreesEmbedding", "IsolationForest", "GradientBoostingClassifier", "GradientBoostingRegressor",
    "BaggingClassifier", "BaggingRegressor",
)
# per-feature arrays: (attribute, axis that has one entry per input feature)
PER_FEATURE = (
    ("feature_names_in_", 0), ("coef_", -1), ("cluster_centers_", 1), ("mean_", -1), ("scale_", -1),
    ("var_", -1), ("statistics_", -1), ("data_min_", -1), ("data_max_", -1), ("center_", -1), ("theta_", -1),
)


def check_model(model: Any, path: Path | str) -> None:
    """BadInput naming the first inconsistency found anywhere in `model`."""
    for obj in objects(model):
        problem = problem_of(obj)
        if problem is not None:
            raise BadInput(f"{path}: malformed model ({problem}); the model file was not written by mlgen train "
                           "or was tampered with")


def problem_of(obj: Any) -> str | None:
    for check in CHECKS:
        try:
            problem = check(obj)
        except Exception as exc:  # noqa: BLE001 - state too broken to inspect is refused, not a crash
            problem = f"{_name(obj)} cannot be inspected: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        if problem is not None:
            return problem
    return None


def objects(root: Any) -> Iterator[Any]:
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


def flat(items: Any) -> list[Any]:
    import numpy as np

    if isinstance(items, np.ndarray):
        return items.ravel().tolist() if items.dtype == object else []
    if isinstance(items, (list, tuple)):
        out: list[Any] = []
        for item in items:
            out.extend(flat(item) if isinstance(item, (list, tuple, np.ndarray)) else [item])
        return out
    return []


def _name(obj: Any) -> str:
    return type(obj).__name__


def _n_in(obj: Any) -> int | None:
    import numpy as np

    n = getattr(obj, "n_features_in_", None)
    return int(n) if isinstance(n, (int, np.integer)) and not isinstance(n, bool) else None


# -- decision trees and gradient boosting -----------------------------------------------------


def tree_problem(obj: Any) -> str | None:
    from sklearn.tree._tree import Tree

    if isinstance(obj, Tree):
        return _tree_nodes(obj)
    tree = getattr(obj, "tree_", None)
    if isinstance(tree, Tree) and _n_in(obj) is not None and tree.n_features != _n_in(obj):
        return f"{_name(obj)}: its tree has {tree.n_features} features, the estimator {_n_in(obj)}"
    return None


def _tree_nodes(tree: Any) -> str | None:
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


def predictor_problem(obj: Any) -> str | None:
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    # its structure; features are checked by its owner (hist_problem)
    return _predictor(obj) if isinstance(obj, TreePredictor) else None


def _predictor(pred: Any, owner: tuple[int, Any] | None = None) -> str | None:
    """What is wrong with a HistGradientBoosting tree; `owner`: the model's (n_features,
    is_categorical mask or None) when known."""
    import numpy as np
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = getattr(pred, "nodes", None)
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1 or len(nodes) < 1:
        return "a gradient-boosting tree without a valid node array"
    bitsets = [getattr(pred, "raw_left_cat_bitsets", None), getattr(pred, "binned_left_cat_bitsets", None)]
    if not all(isinstance(b, np.ndarray) and b.ndim == 2 and b.shape[1] == 8 and b.dtype == np.uint32 for b in bitsets):
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


def hist_problem(est: Any) -> str | None:
    import numpy as np
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    if getattr(est, "_predictors", None) is None or not hasattr(est, "_bin_mapper"):
        return None
    n_features = _n_in(est)
    if n_features is None:
        return f"{_name(est)} without n_features_in_"
    categorical = getattr(est._bin_mapper, "is_categorical_", None)
    if categorical is not None:
        categorical = np.asarray(categorical, dtype=bool)
        if categorical.shape != (n_features,):
            return f"{_name(est)}: its bin mapper does not match its {n_features} features"
        problem = _known_categories(est._bin_mapper, categorical)
        if problem:
            return f"{_name(est)}: {problem}"
    per_iteration = getattr(est, "n_trees_per_iteration_", None)
    for iteration in est._predictors if isinstance(est._predictors, list) else [None]:
        if not isinstance(iteration, list) or (per_iteration is not None and len(iteration) != per_iteration):
            return f"{_name(est)}: an iteration without its {per_iteration} trees"
    for pred in flat(est._predictors):
        if not isinstance(pred, TreePredictor):
            return f"{_name(est)}: a predictor of type {_name(pred)}"
        problem = _predictor(pred, (n_features, categorical))
        if problem:
            return problem
    return None


def _known_categories(mapper: Any, categorical: Any) -> str | None:
    """predict sets a bit per known category of each categorical feature: codes 0..255 only."""
    import numpy as np

    thresholds = getattr(mapper, "bin_thresholds_", None)
    if not isinstance(thresholds, list) or len(thresholds) != len(categorical):
        return "its bin thresholds do not match its features" if categorical.any() else None
    for f in np.flatnonzero(categorical):
        values = np.asarray(thresholds[f])
        if values.ndim != 1 or values.dtype.kind not in "fiu" or not np.all(np.isfinite(values)):
            return f"feature {f} has malformed categories"
        if np.any((values < 0) | (values >= BITSET_VALUES)):
            return f"feature {f} has category codes outside 0..{BITSET_VALUES - 1}"
    return None


def ensemble_problem(est: Any) -> str | None:
    """Ensembles (forests, gradient boosting) pass their validated X to members unchecked
    (check_input=False, predict_stages): members must expect the same features. Bagging
    members see X[:, features], one list per member."""
    import numpy as np
    from sklearn import ensemble

    unchecked = tuple(getattr(ensemble, name) for name in UNCHECKED_ENSEMBLES)
    if getattr(est, "estimators_", None) is None or not isinstance(est, unchecked):
        return None  # other ensembles (chains, stacking...) give members their own validated input
    problem = _boosting_shape(est)
    if problem:
        return problem
    n_in = _n_in(est)
    members = [m for m in flat(est.estimators_) if hasattr(m, "n_features_in_")]
    if n_in is None or not members:
        return None
    subsets = getattr(est, "estimators_features_", None)
    if subsets is not None:
        if len(subsets) != len(members):
            return f"{_name(est)}: {len(members)} members but {len(subsets)} feature subsets"
        for s in subsets:
            s = np.asarray(s)
            if s.dtype.kind not in "iu" or (s.size and (s.min() < 0 or s.max() >= n_in)):
                return f"{_name(est)}: a member's feature subset is outside its {n_in} features"
        expected = [len(s) for s in subsets]
    else:
        expected = [n_in] * len(members)
    for member, want in zip(members, expected):
        if member.n_features_in_ != want:
            return f"{_name(est)}: a member expects {member.n_features_in_} features, not {want}"
    return None


def _boosting_shape(est: Any) -> str | None:
    """Gradient boosting writes tree k's output into column k of an (n, K) buffer without
    bounds checks (predict_stages): the estimator array must be (n_estimators_, K)."""
    import numpy as np
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
    from sklearn.tree import DecisionTreeRegressor

    if not isinstance(est, (GradientBoostingClassifier, GradientBoostingRegressor)):
        return None
    trees = est.estimators_
    if not isinstance(trees, np.ndarray) or trees.ndim != 2 or trees.dtype != object:
        return f"{_name(est)}: its estimator array is not a 2-D array of trees"
    k = 1
    if isinstance(est, GradientBoostingClassifier):
        n_classes = len(getattr(est, "classes_", []))
        k = 1 if n_classes <= 2 else n_classes
        if getattr(est, "n_classes_", n_classes) != n_classes:
            return f"{_name(est)}: n_classes_ disagrees with its {n_classes} classes"
    if getattr(est, "n_trees_per_iteration_", k) != k or trees.shape[1] != k:
        return f"{_name(est)}: {trees.shape[1]} trees per stage, but its classes need {k}"
    if getattr(est, "n_estimators_", trees.shape[0]) != trees.shape[0]:
        return f"{_name(est)}: n_estimators_ is {est.n_estimators_} but it holds {trees.shape[0]} stages"
    for tree in trees.ravel():
        if not isinstance(tree, DecisionTreeRegressor) or getattr(tree, "tree_", None) is None or tree.tree_.n_outputs != 1:
            return f"{_name(est)}: a stage that is not a fitted single-output regression tree"
    return None


# -- neighbours ---------------------------------------------------------------------------------


def binary_tree_problem(obj: Any) -> str | None:
    """KD and Ball trees (get_arrays: data, index permutation, node records, bounds); queries
    follow the index array into the data and node i's children 2i+1, 2i+2 unchecked."""
    import numpy as np
    from sklearn.neighbors import BallTree, KDTree

    if not isinstance(obj, (KDTree, BallTree)):
        return None
    what = _name(obj)
    data, idx, nodes, bounds = obj.get_arrays()
    state = obj.__getstate__()  # the pickle protocol: (arrays..., leaf_size, n_levels, n_nodes, ...)
    n_levels, n_nodes = int(state[5]), int(state[6])
    if data.ndim != 2 or data.shape[0] < 1 or data.dtype != np.float64:
        return f"a {what} without 2-D float data"
    n, d = data.shape
    if idx.shape != (n,) or not np.array_equal(np.sort(idx), np.arange(n)):
        return f"a {what} whose index array is not a permutation of its {n} points"
    if n_nodes != len(nodes) or n_nodes < 1 or n_levels < 1 or n_nodes != 2 ** n_levels - 1:
        return f"a {what} whose node count disagrees with its levels"
    expected = (2 if isinstance(obj, KDTree) else 1, n_nodes, d)
    if bounds.shape != expected:
        return f"a {what} whose node bounds are not {expected}"
    start, end, leaf = nodes["idx_start"].astype(np.int64), nodes["idx_end"].astype(np.int64), nodes["is_leaf"]
    if np.any((start < 0) | (start > end) | (end > n)):
        return f"a {what} node ranging outside its points"
    inner = np.flatnonzero(leaf == 0)
    if np.any(2 * inner + 2 >= n_nodes):
        return f"a {what} inner node without children"
    weights = state[12]
    if weights is not None and np.asarray(weights).shape != (n,):
        return f"a {what} whose sample weights do not match its points"
    return _metric_sizes(state[11], d, what)


def _metric_sizes(metric: Any, d: int, what: str) -> str | None:
    import numpy as np
    from sklearn.metrics import DistanceMetric

    if not isinstance(metric, DistanceMetric):
        return None
    _, vec, mat = metric.__getstate__()[:3]
    vec, mat = np.asarray(vec), np.asarray(mat)
    kind = _name(metric)
    need_vec = kind.startswith("SEuclidean") or (kind.startswith("Minkowski") and vec.size > 1)
    if vec.ndim != 1 or vec.size not in (1, d) or (need_vec and vec.size != d):
        return f"a {what} whose distance metric weights do not match its {d} features"
    if mat.ndim != 2 or mat.shape not in ((1, 1), (d, d)) or (kind.startswith("Mahalanobis") and mat.shape != (d, d)):
        return f"a {what} whose distance metric matrix does not match its {d} features"
    return None


def neighbours_problem(est: Any) -> str | None:
    """A fitted neighbours estimator: its points, labels and metric parameters agree."""
    import numpy as np

    fit_x = getattr(est, "_fit_X", None)
    if fit_x is None or not hasattr(est, "_fit_method"):
        return None
    n_in = _n_in(est)
    shape = getattr(fit_x, "shape", ())
    if len(shape) != 2 or (n_in is not None and shape[1] != n_in):
        return f"{_name(est)}: its stored points do not have its {n_in} features"
    tree = getattr(est, "_tree", None)
    if tree is not None and hasattr(tree, "get_arrays") and tree.get_arrays()[0].shape != shape:
        return f"{_name(est)}: its tree holds other points than the estimator"
    y = getattr(est, "_y", None)
    if y is not None and np.shape(y)[:1] != shape[:1]:
        return f"{_name(est)}: {np.shape(y)[:1]} labels for {shape[0]} points"
    params = getattr(est, "effective_metric_params_", None) or {}
    for key, value in params.items() if isinstance(params, dict) else ():
        arr = np.asarray(value)
        if key in ("V", "w") and arr.shape != (shape[1],) or key == "VI" and arr.shape != (shape[1], shape[1]):
            return f"{_name(est)}: metric parameter {key} does not match its {shape[1]} features"
    return None


# -- libsvm, k-means, sparse matrices, counts ----------------------------------------------------


def libsvm_problem(est: Any) -> str | None:
    """libsvm's predict sizes everything from the support vectors and the per-class counts."""
    import numpy as np
    from scipy import sparse
    from sklearn.base import is_classifier
    from sklearn.svm._base import BaseLibSVM

    if not isinstance(est, BaseLibSVM) or getattr(est, "support_", None) is None:
        return None
    what = _name(est)
    sv, support, n_support = est.support_vectors_, np.asarray(est.support_), np.asarray(est._n_support)
    dual, intercept = np.asarray(est._dual_coef_), np.asarray(est._intercept_)
    n_sv = sv.shape[0] if sv.ndim == 2 else -1
    n_class = len(est.classes_) if is_classifier(est) else 2
    n_pairs = n_class * (n_class - 1) // 2
    shape_fit = tuple(getattr(est, "shape_fit_", ()))
    if sv.ndim != 2 or (not sparse.issparse(sv) and (sv.dtype != np.float64 or not sv.flags["C_CONTIGUOUS"])):
        return f"{what}: malformed support vectors"
    if est.kernel != "precomputed" and sv.shape[1] != _n_in(est):
        return f"{what}: support vectors of {sv.shape[1]} features, the estimator has {_n_in(est)}"
    if support.dtype != np.int32 or support.shape != (n_sv,) or len(shape_fit) != 2 or np.any(support < 0) \
            or np.any(support >= shape_fit[0]):
        return f"{what}: support indices do not match its {n_sv} support vectors"
    if n_support.dtype != np.int32 or n_support.shape != (n_class,) or np.any(n_support < 0) or np.any(n_support > n_sv) \
            or (is_classifier(est) and n_support.sum() != n_sv):
        return f"{what}: support vectors per class do not add up to {n_sv}"
    if dual.dtype != np.float64 or dual.shape != (n_class - 1, n_sv) or intercept.shape != (n_pairs,):
        return f"{what}: dual coefficients or intercepts do not match {n_class} classes and {n_sv} support vectors"
    for name in ("_probA", "_probB"):
        if np.asarray(getattr(est, name, np.empty(0))).shape not in ((0,), (n_pairs,)):
            return f"{what}: {name} does not match its {n_class} classes"
    weights = getattr(est, "class_weight_", None)
    if is_classifier(est) and (weights is None or np.shape(weights) != (n_class,)):
        return f"{what}: class weights do not match its {n_class} classes"
    return None


def kmeans_problem(est: Any) -> str | None:
    import numpy as np
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if not isinstance(est, (KMeans, MiniBatchKMeans)) or getattr(est, "cluster_centers_", None) is None:
        return None
    centers = est.cluster_centers_
    if not isinstance(centers, np.ndarray) or centers.ndim != 2 or centers.shape[0] < 1 \
            or centers.dtype not in (np.float32, np.float64):
        return f"{_name(est)}: malformed cluster centres"
    return None


def sparse_problem(obj: Any) -> str | None:
    """A matrix whose indices leave its shape makes scipy's kernels read and write outside it."""
    import numpy as np
    from scipy import sparse

    if not sparse.issparse(obj):
        return None
    if obj.format in ("csr", "csc", "bsr"):
        try:
            obj.check_format(full_check=True)
        except ValueError as exc:
            return f"a sparse matrix that is not well formed ({exc})"
        return None
    if obj.format == "coo":
        rows, cols = np.asarray(obj.row), np.asarray(obj.col)
        if rows.shape != cols.shape or rows.shape != np.asarray(obj.data).shape or (rows.size and (
                rows.min() < 0 or cols.min() < 0 or rows.max() >= obj.shape[0] or cols.max() >= obj.shape[1])):
            return "a sparse matrix with entries outside its shape"
        return None
    return f"a sparse matrix in {obj.format} format (only csr, csc, bsr and coo are checked)"


def counts_problem(est: Any) -> str | None:
    """Thread and job counts a model brings along, and per-feature arrays against n_features_in_."""
    import numpy as np

    for name in ("n_jobs", "_n_threads"):
        value = getattr(est, name, None) if hasattr(est, "get_params") else None
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and abs(int(value)) > MAX_JOBS:
            return f"{_name(est)}: {name}={value}"
    n_in = _n_in(est)
    if n_in is None or not hasattr(est, "get_params"):
        return None
    if n_in < 1:
        return f"{_name(est)}: n_features_in_={n_in}"
    for name, axis in PER_FEATURE:
        value = est.__dict__.get(name)
        if not isinstance(value, np.ndarray) or value.ndim == 0:
            continue
        if value.ndim <= (axis if axis >= 0 else -axis - 1) or value.shape[axis] != n_in:
            return f"{_name(est)}: {name} has shape {value.shape}, not {n_in} features"
    classes = est.__dict__.get("classes_")
    if isinstance(classes, np.ndarray) and (classes.ndim != 1 or classes.size < 1):
        return f"{_name(est)}: classes_ of shape {classes.shape}"
    return None


CHECKS = (tree_problem, predictor_problem, hist_problem, ensemble_problem, binary_tree_problem, neighbours_problem,
          libsvm_problem, kmeans_problem, sparse_problem, counts_problem)
