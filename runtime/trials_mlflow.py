"""Search trials as MLflow runs: one parent run per pipeline, each trial a child run.

Tracking is on when MLFLOW_TRACKING_URI is set in the job's environment (a CI variable; its
credentials, if any, through MLflow's own MLFLOW_TRACKING_TOKEN / _USERNAME / _PASSWORD).
deploy.registry's URI is not used: the train jobs do not get the registry's secrets.
The experiment is `mlgen-<project>`. The parent is found by the tag `mlgen.pipeline` (the CI
pipeline id, search_optuna.pipeline_id), so the shards of one pipeline share it: a shard that
finds none creates one, then keeps the oldest with that tag (two shards racing each make one;
the younger is deleted). Outside a pipeline each process has its own parent. A tracking failure
is a warning: the trials' results and the model do not depend on it.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

from mlgen_runtime.errors import BadInput
from mlgen_runtime.search import TrialResult
from mlgen_runtime.search_optuna import pipeline_id

PIPELINE_TAG = "mlgen.pipeline"
ROLE_TAG = "mlgen.role"


def tracking_uri() -> str | None:
    return os.environ.get("MLFLOW_TRACKING_URI", "").strip() or None


def log(settings: dict[str, Any], results: list[TrialResult], scoring: str, label: str = "") -> str | None:
    """Log `results` as child runs; the parent's run id (None: tracking is off)."""
    uri = tracking_uri()
    if uri is None or not results:
        return None
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise BadInput("MLFLOW_TRACKING_URI is set, so the search logs its trials to MLflow, but the mlflow "
                       "package is not installed: add mlflow-skinny to project.requirements") from None
    try:
        client = MlflowClient(tracking_uri=uri)
        experiment = _experiment(client, f"mlgen-{settings['project']['name']}")
        run = re.sub(r"[^A-Za-z0-9._-]", "_", pipeline_id() or f"local-{uuid.uuid4().hex[:12]}")
        parent = _parent(client, experiment, run, settings)
        for r in results:
            _child(client, experiment, parent, run, r, scoring)
    except Exception as exc:  # noqa: BLE001 - the tracking server's errors; the search itself succeeded
        print(f"warning: MLflow tracking{label}: trials not logged ({type(exc).__name__}: {str(exc)[:200]})", flush=True)
        return None
    print(f"MLflow{label}: {len(results)} trial run(s) under parent run {parent} (experiment mlgen-"
          f"{settings['project']['name']})", flush=True)
    return parent


def _experiment(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name))
    except Exception:  # noqa: BLE001 - another shard created it first
        return str(client.get_experiment_by_name(name).experiment_id)


def _parents(client: Any, experiment: str, run: str) -> list[Any]:
    return list(client.search_runs([experiment], f"tags.`{PIPELINE_TAG}` = '{run}' and tags.`{ROLE_TAG}` = 'search'",
                                   order_by=["attributes.start_time ASC"], max_results=50))


def _parent(client: Any, experiment: str, run: str, settings: dict[str, Any]) -> str:
    found = _parents(client, experiment, run)
    if found:
        return str(found[0].info.run_id)
    mine = client.create_run(experiment, run_name=f"search {run}", tags={PIPELINE_TAG: run, ROLE_TAG: "search"})
    client.log_param(mine.info.run_id, "strategy", settings["train"]["search"].get("strategy", "grid"))
    oldest = min(_parents(client, experiment, run), key=lambda r: (r.info.start_time, r.info.run_id))
    if oldest.info.run_id != mine.info.run_id:  # lost a race with another shard: use its parent
        client.delete_run(mine.info.run_id)
    return str(oldest.info.run_id)


def _child(client: Any, experiment: str, parent: str, run: str, r: TrialResult, scoring: str) -> None:
    from mlflow.entities import Metric, Param

    child = client.create_run(experiment, run_name=f"trial {r.index}",
                              tags={"mlflow.parentRunId": parent, PIPELINE_TAG: run, "mlgen.trial": str(r.index)})
    metrics = {"cv_mean": r.mean, "cv_std": r.std, "fit_time": r.fit_time, "score_time": r.score_time,
               **{f"cv_fold_{k}": s for k, s in enumerate(r.fold_scores, 1)}}
    client.log_batch(child.info.run_id,
                     metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items() if v is not None],
                     params=[Param(k, str(v)[:500]) for k, v in r.params.items()] + [Param("scoring", scoring)])
    if r.error:
        client.set_tag(child.info.run_id, "mlgen.error", r.error[:500])
    client.set_terminated(child.info.run_id, "FAILED" if r.mean is None else "FINISHED")
