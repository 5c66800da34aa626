"""Model files: skops only (never pickle/joblib), sha256 verified before every load, and only
types from an explicit allow-list are trusted when loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgen_runtime.errors import BadInput
from mlgen_runtime.fsutil import sha256_file, write_bytes_atomic

MODEL_FILE = "model.skops"
META_FILE = "model.json"

# Modules whose types a model file may contain. The estimator's own top-level package (from the
# spec's dotted path, e.g. "lightgbm") is added by the caller.
TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.", "mlgen_runtime.")


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
    trusted = trusted_types(path, extra_prefixes)
    try:
        return sio.load(path, trusted=trusted)
    except Exception as exc:
        raise BadInput(f"{path}: cannot load the model: {type(exc).__name__}: {exc}") from None


def estimator_package(settings: dict[str, Any]) -> tuple[str, ...]:
    """The estimator's top-level package, trusted in addition to the defaults."""
    return (settings["train"]["estimator"].split(".")[0],)
