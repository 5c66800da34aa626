"""Model files: skops only (never pickle/joblib), sha256 verified before every load, and only
types from an explicit allow-list are trusted when loading.

Inside the local-run worker (`worker.py` calls `enable_memo`), a model already loaded by an
earlier stage of the same run is not parsed again: the file's sha256 is still checked on every
load, and the memo is keyed by that sha256 and the trusted prefixes, so the same bytes under the
same allow-list give a copy of the same object."""

from __future__ import annotations

import copy
from collections import OrderedDict
from pathlib import Path
from typing import Any

from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import sha256_file, write_bytes_atomic

MODEL_FILE = "model.skops"
META_FILE = "model.json"

# Modules whose types a model file may contain. The estimator's own top-level package (from the
# spec's dotted path, e.g. "lightgbm") is added by the caller.
TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.", "mlgen_runtime.")
MEMO_MODELS = 2  # the candidate and the champion


class _Memo:
    def __init__(self) -> None:
        self.enabled = False
        self.models: OrderedDict[tuple[str, tuple[str, ...]], Any] = OrderedDict()


MEMO = _Memo()


def enable_memo(on: bool = True) -> None:
    MEMO.enabled = on
    MEMO.models.clear()


def save_model(model: Any, folder: Path) -> str:
    """Write `folder/model.skops` atomically; return its sha256."""
    import skops.io as sio

    data = sio.dumps(model)
    write_bytes_atomic(folder / MODEL_FILE, data)
    return sha256_file(folder / MODEL_FILE)


def trusted_types(path: Path, extra_prefixes: tuple[str, ...] = ()) -> list[str]:
    """The untrusted types listed in `path`, each checked against the allow-list."""
    import skops.io as sio

    prefixes = TRUSTED_MODULE_PREFIXES + tuple(p.rstrip(".") + "." for p in extra_prefixes)
    try:
        found = sio.get_untrusted_types(file=path)
    except Exception as exc:  # not a skops archive (e.g. a pickle), or a damaged one
        raise BadInput(f"{path.name}: not a skops model file ({type(exc).__name__}: {exc})") from None
    refused = [t for t in found if not t.startswith(prefixes)]
    if refused:
        raise BadInput(f"{path.name}: refusing to load untrusted types: {', '.join(refused)}")
    return found


def load_model(path: Path, sha256: str, extra_prefixes: tuple[str, ...] = ()) -> Any:
    """Load a skops model after checking its hash and the types it contains."""
    import skops.io as sio

    if not path.is_file():
        raise BadInput(f"{path}: model file not found")
    actual = sha256_file(path)
    if actual != sha256:
        raise BadInput(f"{path}: sha256 mismatch (expected {sha256[:12]}..., found {actual[:12]}...); the model file was modified")
    key = (sha256, tuple(extra_prefixes))
    if MEMO.enabled and key in MEMO.models:
        MEMO.models.move_to_end(key)
        return copy.deepcopy(MEMO.models[key])  # a stage may change its model; the next must not see it
    trusted = trusted_types(path, extra_prefixes)
    try:
        model = sio.load(path, trusted=trusted)
    except Exception as exc:
        raise BadInput(f"{path}: cannot load the model: {type(exc).__name__}: {exc}") from None
    if MEMO.enabled:
        MEMO.models[key] = copy.deepcopy(model)
        while len(MEMO.models) > MEMO_MODELS:
            MEMO.models.popitem(last=False)
    return model


def estimator_package(settings: dict[str, Any]) -> tuple[str, ...]:
    """The estimator's top-level package, trusted in addition to the defaults."""
    return (settings["train"]["estimator"].split(".")[0],)
