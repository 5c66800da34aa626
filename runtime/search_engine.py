"""Where a search's trials run: in the train job's process (engine "local"), or on a Dask cluster
through joblib's Dask backend (engine "dask": `distributed.Client` + `joblib.parallel_config`).

The engine decides only where `fn(*args)` runs, never what it computes: every trial is a pure
function of its params, the data and the folds, so a cluster returns the scores a local search
gets, and the refit of the best trial happens in the job's own process either way (the model
bytes are equal). Results come back in trial order.

The scheduler address comes from Dask's own configuration (`DASK_SCHEDULER_ADDRESS`, the
`scheduler-address` key of dask.config) before the spec's `train.search.scheduler`; TLS and
credentials only ever come from Dask's configuration. Connecting uses Dask's connect timeout
(`distributed.comm.timeouts.connect`, default 30 s): an unreachable scheduler is one line, exit 2.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from mlgen_runtime.errors import BadInput

INSTALL_HINT = "pip install 'mlgen[dask]' (in CI the train job installs it: run `mlgen compile`, and `mlgen lock` if the project has a lock)"
# Packages whose versions decide a trial's score or whether a worker can run it at all: the
# workers must have the job's versions (a different scikit-learn gives other CV scores).
SAME_VERSIONS = ("python", "cloudpickle", "numpy", "pandas", "scipy", "sklearn", "skops", "mlgen_runtime")
WAIT_FOR_WORKERS_SECONDS = 60  # a cluster with no worker: joblib gives up after this long


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """fn(*args) and its wall time, measured where it runs (a worker's time, not the queue's)."""
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def run(search: dict[str, Any], fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]],
        shared: Sequence[Any] = ()) -> Iterator[tuple[Any, float]]:
    """(fn(*args), seconds) for every args in `calls`, in order, on the search's engine.
    `shared`: the large arguments every call passes (the data, the folds), sent to each worker once."""
    if search.get("engine", "local") != "dask":
        for args in calls:
            yield timed(fn, *args)
        return
    yield from _on_dask(search, fn, calls, shared)


def scheduler_address(search: dict[str, Any]) -> tuple[str | None, str]:
    """(address, where it came from): Dask's configuration first, then the spec."""
    import dask.config

    configured = dask.config.get("scheduler-address", None)
    if configured:
        return str(configured), "Dask's configuration (DASK_SCHEDULER_ADDRESS / scheduler-address)"
    if search.get("scheduler"):
        return str(search["scheduler"]), "train.search.scheduler"
    return None, ""


def connect(search: dict[str, Any]) -> tuple[Any, str]:
    """(a `distributed.Client` for the search's cluster, checked to run what this job would, its address)."""
    try:
        import dask.config  # noqa: F401
        from distributed import Client
    except ImportError as exc:
        raise BadInput(f"train.search.engine = \"dask\" needs dask[distributed] ({exc.name} is not installed): "
                       f"{INSTALL_HINT}") from None
    address, source = scheduler_address(search)
    if address is None:
        raise BadInput("train.search.engine = \"dask\" but no Dask scheduler is configured: set DASK_SCHEDULER_ADDRESS "
                       "(in CI a variable or secret of the provider) or train.search.scheduler; "
                       "`mlgen run` starts a local cluster itself when neither is set")
    try:
        client = Client(address, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:  # refused, timed out, or not an address Dask reads
        raise BadInput(f"cannot reach the Dask scheduler at {address} (from {source}): {_line(exc)}") from None
    try:
        check_workers(client, address)
    except BaseException:
        client.close()
        raise
    return client, address


def check_workers(client: Any, address: str) -> None:
    """Refuse a cluster whose workers lack this job's versions of the packages that decide a
    score (mlgen_runtime included): their results would differ from a local search, or fail."""
    try:
        found = client.get_versions(packages=["sklearn", "skops", "scipy", "mlgen_runtime"])
    except (OSError, TimeoutError) as exc:
        raise BadInput(f"the Dask scheduler at {address} did not answer: {_line(exc)}") from None
    mine = found["client"]["packages"]
    for worker, info in sorted(found["workers"].items()):
        theirs = (info or {}).get("packages", {})
        wrong = [f"{p} {theirs.get(p) or 'missing'} (here {mine.get(p)})" for p in SAME_VERSIONS
                 if theirs.get(p) != mine.get(p)]
        if wrong:
            raise BadInput(f"Dask worker {worker} of {address} has other package versions than this job: "
                           f"{', '.join(wrong)}; install the job's versions on the workers (mlgen.lock)")


def _on_dask(search: dict[str, Any], fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]],
             shared: Sequence[Any]) -> Iterator[tuple[Any, float]]:
    from joblib import parallel_config

    client, address = connect(search)
    try:
        with parallel_config(backend="dask", client=client, scatter=list(shared),
                             wait_for_workers_timeout=WAIT_FOR_WORKERS_SECONDS):
            results = parallel(fn, calls)
            while True:
                try:
                    item = next(results)
                except StopIteration:
                    break
                except BadInput:
                    raise
                except Exception as exc:  # noqa: BLE001 - a lost worker, a closed comm: the cluster's, not a trial's
                    # (a trial's own failure is a recorded result: search.run_trial catches it)
                    raise BadInput(f"the Dask cluster at {address} could not run the search: {_line(exc)}") from None
                yield item
    finally:
        client.close()


def parallel(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], n_jobs: int = -1) -> Iterator[tuple[Any, float]]:
    """(fn(*args), seconds) per call, in order, on the joblib backend in effect (parallel_config)."""
    from joblib import Parallel, delayed

    return iter(Parallel(n_jobs=n_jobs, return_as="generator")(delayed(timed)(fn, *args) for args in calls))


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
