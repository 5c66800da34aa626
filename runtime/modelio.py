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

Types on the list can still be assembled into a file whose arrays disagree with its structure
(a neighbours tree's index array pointing outside its data, a boosting model's estimator array
wider than its classes), and scikit-learn's compiled predict paths follow such arrays without
bounds checks. So a file is loaded here only after a child process has loaded it and predicted
with it without dying (modelsmoke.py; once per file and process, skipped for files this process
wrote from a model it fitted), and every loaded model is checked for internal consistency
(modelcheck.py: trees, boosting, neighbours, libsvm, k-means, sparse matrices, counts against
n_features_in_ and classes_)."""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import sha256_bytes, write_bytes_atomic

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
# sha256 of every model file this process wrote from a model it fitted (no smoke check needed)
WRITTEN: set[str] = set()


def save_model(model: Any, folder: Path) -> str:
    """Write `folder/model.skops` atomically; return its sha256."""
    import skops.io as sio

    data = normalise_archive(sio.dumps(model))
    write_bytes_atomic(folder / MODEL_FILE, data)
    sha = sha256_bytes(data)
    WRITTEN.add(sha)
    return sha


# -- deterministic bytes ---------------------------------------------------------------------------
# skops names array entries after id(obj) (some after uuid4()), records id(obj) as each node's
# "__id__" and stamps entries with the current time, so two saves of equal models differ. Its
# documented format (a zip whose schema.json names its entries in "file" fields) lets us rewrite
# those parts: same model, same bytes, so the registry (sha256 -> version) reuses a version.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
ENTRY_ATTR = 0o100644 << 16  # a regular, world-readable file


def normalise_archive(data: bytes) -> bytes:
    """`data` (a skops archive) with entries named by content (sha256 + extension), every
    "file" reference in schema.json rewritten, "__id__" values renumbered by first appearance
    (equal ids stay equal: skops' memo), entries in name order with a fixed date and
    attributes, stored uncompressed as skops writes them. BadInput when schema.json names an
    entry the archive lacks (never written)."""
    import io
    import json
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as src:
        entries = {info.filename: src.read(info) for info in src.infolist()}
    schema = json.loads(entries.pop("schema.json"))
    names: dict[str, str] = {}
    ids: dict[Any, int] = {}

    def rewrite(node: Any) -> Any:
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "file" and isinstance(value, str):
                if value not in entries:
                    raise BadInput(f"model archive: schema.json names a missing entry {value!r}")
                suffix = Path(value).suffix
                value = names.setdefault(value, sha256_bytes(entries[value]) + suffix)
            elif key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
                value = ids.setdefault(value, len(ids))
            else:
                value = rewrite(value)
            out[key] = value
        return out

    schema = rewrite(schema)
    files = {new: entries[old] for old, new in names.items()}  # equal contents share one entry
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as dst:
        for name, content in [("schema.json", json.dumps(schema, indent=2).encode())] + sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = ENTRY_ATTR
            info.create_system = 3  # unix, whatever the platform (the attributes are unix modes)
            dst.writestr(info, content)
    return buffer.getvalue()


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


def found_types(data: bytes, name: str) -> list[str]:
    """The types skops does not trust by default that the archive `data` lists (BadInput when
    it is no skops archive: a pickle, say, which is never unpickled)."""
    import skops.io as sio

    try:
        return list(sio.get_untrusted_types(data=data))
    except Exception as exc:  # not a skops archive (e.g. a pickle), or a damaged one
        raise BadInput(f"{name}: not a skops model file ({type(exc).__name__}: {exc})") from None


def trusted_types(path: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """The untrusted types listed in `path`, each checked against the allow-list; BadInput
    naming those that are refused."""
    return _checked_types(path.read_bytes(), path.name, extra)


def _checked_types(data: bytes, name: str, extra: tuple[str, ...]) -> list[str]:
    found = found_types(data, name)
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
    """Load a skops model after checking its hash, the types it contains, that loading and
    predicting with it does not crash a child process (modelsmoke), and its internal
    consistency (modelcheck). `extra`: dotted paths of estimator classes trusted exactly,
    besides the defaults (`estimator_package`)."""
    from mlgen_runtime import modelsmoke

    if not path.is_file():
        raise BadInput(f"{path}: model file not found")
    try:
        data = path.read_bytes()  # one read: the bytes checked are the bytes loaded
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the model file: {exc.strerror or exc}") from None
    actual = sha256_bytes(data)
    if actual != sha256:
        raise BadInput(f"{path}: sha256 mismatch (expected {sha256[:12]}..., found {actual[:12]}...); the model file was modified")
    # the allow-list always judges the file, also for a model this process wrote
    trusted = _checked_types(data, str(path), tuple(extra))
    if actual not in WRITTEN:  # bytes this process made from a model it fitted cannot be crafted
        modelsmoke.smoke_check(data, actual, str(path), tuple(extra))
    return _loads(data, trusted, str(path))


def load_checked(data: bytes, sha256: str, name: str, extra: tuple[str, ...] = ()) -> Any:
    """What the smoke check's child does before predicting: the hash, the allow-list, skops'
    load and the consistency checks, in this process."""
    if sha256_bytes(data) != sha256:
        raise BadInput(f"{name}: sha256 mismatch; the model file was modified")
    return _loads(data, _checked_types(data, name, tuple(extra)), name)


def _loads(data: bytes, trusted: list[str], name: str) -> Any:
    import skops.io as sio

    from mlgen_runtime.modelcheck import check_model

    try:
        model = sio.loads(data, trusted=trusted)
    except Exception as exc:  # noqa: BLE001 - skops and the classes' own setstate raise many kinds
        text = " ".join(str(exc).split())  # one line, however the library formats it
        raise BadInput(f"{name}: cannot load the model: {type(exc).__name__}: {text[:300]}") from None
    check_model(model, name)
    return model


def estimator_package(settings: dict[str, Any]) -> tuple[str, ...]:
    """The configured estimator class (train.estimator, a dotted path), trusted exactly in
    addition to the defaults. (The name is historical: it used to be the whole package.)"""
    return (settings["train"]["estimator"],)
