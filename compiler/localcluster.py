"""`mlgen run` with train.search.engine = "dask" and no scheduler configured: a Dask cluster on
this machine (`distributed.LocalCluster`, one single-threaded worker process per core, on
loopback) for the run's train job, whose address reaches the job as DASK_SCHEDULER_ADDRESS.

With an address configured (DASK_SCHEDULER_ADDRESS or dask.config's `scheduler-address`, or
train.search.scheduler) nothing is started: the job connects there, as in CI. Without dask
installed nothing is started either: the train job then stops with its one line naming the
`dask` extra. dask is imported only here and only for such a spec (`mlgen compile` never does).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from typing import Any

from mlgen_runtime.contract import Job, Plan

ADDRESS_VAR = "DASK_SCHEDULER_ADDRESS"


def wants_local_cluster(plan: Plan, job: Job) -> bool:
    search = plan.settings["train"].get("search") or {}
    if job.kind != "train" or search.get("engine") != "dask" or search.get("scheduler"):
        return False
    if os.environ.get(ADDRESS_VAR) or importlib.util.find_spec("distributed") is None:
        return False
    import dask.config

    return not dask.config.get("scheduler-address", None)


class LocalClusters:
    """At most one local cluster per `mlgen run`, started for the first job that needs it and
    closed (workers and scheduler) when the run ends, Ctrl-C included."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._address: str | None = None

    def env_for(self, plan: Plan, job: Job) -> dict[str, str]:
        if not wants_local_cluster(plan, job):
            return {}
        if self._address is None:
            self._address = self._start()
        return {ADDRESS_VAR: self._address}

    def _start(self) -> str:
        from distributed import LocalCluster

        workers = os.cpu_count() or 1
        before = dict(os.environ)
        try:
            cluster: Any = self._stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"))
        finally:
            # starting workers sets OMP_NUM_THREADS=1, PYTHONHASHSEED... in this process's environment
            # (distributed.nanny.pre-spawn-environ): the jobs must not inherit them (a 1-thread refit of
            # an OpenMP estimator gives other model bytes than the job would in CI)
            os.environ.clear()
            os.environ.update(before)
        print(f"mlgen: started a local Dask cluster ({workers} worker processes) at {cluster.scheduler_address} "
              f"for the search; set {ADDRESS_VAR} to use another", file=sys.stderr, flush=True)
        return str(cluster.scheduler_address)

    def close(self) -> None:
        self._stack.close()
