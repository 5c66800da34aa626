"""The smoke check: load a model file and predict with it in a fresh interpreter, so that a file
whose arrays make compiled code read or write outside them kills that child, not us.

modelcheck.py checks every inconsistency we know compiled code would follow, but no check from
outside is complete (KD/Ball trees, tree internals, HistGradientBoosting predictors, libsvm,
scipy's sparse kernels). So before a process loads a model file (modelio.load_model) the same
bytes go to a child (`python -I`, fed on stdin: the bytes checked are the bytes it loads) that
verifies the sha256, applies the allow-list, loads with skops, runs modelcheck, then calls
predict, predict_proba, decision_function, transform, score_samples on synthetic rows for the
model and one estimator of every class inside it. The model is refused (BadInput) when the child
dies by a signal, exits without its verdict, times out, or refuses the file itself. A Python
exception from a method on synthetic rows is no refusal: the rows are not real data, and an
exception cannot corrupt memory.

Cost: one interpreter that imports skops (which imports scikit-learn's estimators) per model
file, paid once per process: verdicts are kept in memory by (sha256, extra trusted types). They
are never written to disk: anyone who can plant a model file next to a recorded verdict could
plant the verdict too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from typing import Any

from mlgen_runtime.errors import BadInput

TIMEOUT_VAR = "MLGEN_MODEL_CHECK_TIMEOUT"
DEFAULT_TIMEOUT = 600.0  # seconds; a big forest on a slow runner loads and predicts well within it
ROWS = 8
MAX_CLASSES = 64  # estimators exercised at most, one per class
METHODS = ("predict", "predict_proba", "decision_function", "predict_log_proba", "transform", "score_samples")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
BOOT = (
    "import sys, json; h = json.loads(sys.stdin.buffer.readline()); sys.path[:0] = h['sys_path']; "
    "from mlgen_runtime.modelsmoke import child; sys.exit(child(h, sys.stdin.buffer.read()))"
)

_VERDICTS: dict[tuple[str, tuple[str, ...]], str | None] = {}  # None: passed; else the refusal
LAST_SECONDS: list[float] = []  # wall time of each child run in this process (for measurements)


def smoke_check(data: bytes, sha256: str, name: str, extra: tuple[str, ...]) -> None:
    """BadInput unless a child process loads `data` and predicts with it without dying."""
    key = (sha256, tuple(extra))
    if key not in _VERDICTS:
        _VERDICTS[key] = _run_child(data, sha256, name, tuple(extra))
    refusal = _VERDICTS[key]
    if refusal is not None:
        raise BadInput(refusal)


def _timeout() -> float:
    raw = os.environ.get(TIMEOUT_VAR, "").strip()
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise BadInput(f"{TIMEOUT_VAR} must be a number of seconds, got {raw!r}") from None


def _run_child(data: bytes, sha256: str, name: str, extra: tuple[str, ...]) -> str | None:
    header = {"sys_path": [p for p in sys.path if isinstance(p, str)], "sha256": sha256, "name": name,
              "extra": list(extra)}
    env = {**os.environ, **{var: "1" for var in THREAD_VARS}}
    timeout = _timeout()
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-I", "-c", BOOT], input=json.dumps(header).encode() + b"\n" + data,
                              capture_output=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"{name}: loading the model and predicting with it took over {timeout:g}s in a checking process; refusing it"
    except OSError as exc:
        return f"{name}: cannot start the process that checks the model: {exc.strerror or exc}"
    finally:
        LAST_SECONDS.append(time.perf_counter() - start)
    lines = [json.loads(line) for line in done.stdout.decode("utf-8", "replace").splitlines() if line.startswith("{")]
    verdict = next((line for line in lines if "ok" in line or "refused" in line), None)
    if done.returncode == 0 and verdict is not None and verdict.get("ok"):
        return None
    if verdict is not None and "refused" in verdict:
        return str(verdict["refused"])
    step = next((line["step"] for line in reversed(lines) if "step" in line), "loading")
    return f"{name}: the model crashed the process that checked it ({_death(done.returncode)} during {step}: " \
           f"{_last_line(done.stderr)}); the model file was not written by mlgen train or was tampered with"


def _death(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no message"


# -- in the child --------------------------------------------------------------------------------


def child(header: dict[str, Any], data: bytes) -> int:
    """The child's whole life: verdict lines on the real stdout, everything else to stderr."""
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # an estimator that prints must not mix with the verdict
    sys.stdout = sys.stderr

    def say(**line: Any) -> None:
        proto.write(json.dumps(line) + "\n")
        proto.flush()

    from mlgen_runtime import modelio

    try:
        model = modelio.load_checked(data, header["sha256"], header["name"], tuple(header["extra"]))
        exercise(model, lambda step: say(step=step))
    except BadInput as exc:
        say(refused=str(exc))
        return 3
    say(ok=True)
    return 0


def exercise(model: Any, step: Any) -> None:
    """Call every prediction method of `model` and of one estimator per class inside it on
    synthetic rows; `step(name)` is told before each call (a crash is then attributed)."""
    from mlgen_runtime.modelcheck import objects

    seen: set[type] = set()
    targets = []
    for obj in objects(model):
        if type(obj) in seen or not hasattr(obj, "get_params") or not any(hasattr(obj, m) for m in METHODS):
            continue
        seen.add(type(obj))
        targets.append(obj)
        if len(targets) >= MAX_CLASSES:
            break
    for obj in targets:
        for rows in synthetic_inputs(obj):
            for method in METHODS:
                fn = getattr(obj, method, None) if _has(obj, method) else None
                if fn is None:
                    continue
                step(f"{type(obj).__name__}.{method}")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        fn(rows)
                    except Exception:  # noqa: BLE001 - synthetic rows may be refused; only a crash counts
                        pass


def _has(obj: Any, method: str) -> bool:
    try:
        return callable(getattr(obj, method))
    except Exception:  # noqa: BLE001 - available_if raises AttributeError (or worse) when not applicable
        return False


def synthetic_inputs(est: Any) -> list[Any]:
    """Rows shaped like what `est` was fitted on: a frame with its column names (categories
    taken from the encoders inside it) or a numeric array of n_features_in_ columns; ordinary,
    large and missing values."""
    import numpy as np

    n_in = getattr(est, "n_features_in_", None)
    names = getattr(est, "feature_names_in_", None)
    if not isinstance(n_in, (int, np.integer)) or n_in < 1 or n_in > 100_000:
        return []
    rng = np.random.default_rng(0)
    blocks = [rng.normal(size=(ROWS, n_in)), np.zeros((1, n_in)), np.full((1, n_in), 1e6), np.full((1, n_in), -1e6),
              np.full((1, n_in), np.nan)]
    arrays = [np.vstack(blocks[:4]), blocks[4]]
    if names is None or len(names) != n_in:
        return arrays
    return [_frame(est, list(names), a) for a in arrays] + arrays


def _frame(est: Any, names: list[str], values: Any) -> Any:
    import pandas as pd

    from mlgen_runtime.modelcheck import objects

    categories: dict[str, list[Any]] = {}
    for obj in objects(est):
        cats, cols = getattr(obj, "categories_", None), getattr(obj, "feature_names_in_", None)
        if isinstance(cats, list) and cols is not None and len(cols) == len(cats):
            for col, values_of in zip(cols, cats):
                categories.setdefault(str(col), [v for v in list(values_of) if v == v][:5] + ["?unseen?"])
    frame = pd.DataFrame(values, columns=names)
    for col, known in categories.items():
        if col in frame.columns:
            frame[col] = [known[i % len(known)] for i in range(len(frame))]
            frame[col] = frame[col].astype(object)
    return frame
