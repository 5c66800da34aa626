"""strategy = "optuna": an Optuna study (TPE) whose workers are the train shard jobs.

- The study lives in train.search.storage (an RDB URL, or a journal file for one machine) or
  in the RDB URL held by the environment variable train.search.storage_env (credentials stay in
  a CI secret); without either (shards = 1 only) it lives in memory.
- Its name is the project and the search fingerprint (training settings, data bytes, seed):
  the shards of one pipeline share it; a rerun with the same settings and data over the same
  storage finds the finished study and runs no new trial (like the stage cache); other
  settings, data or seed get a fresh study.
- Each worker (shard i of n) asks for trials until the study has n_iter finished ones. Near the
  end two workers may each start one more: those extras are kept in the study but not used;
  the trials used are the n_iter finished ones with the lowest numbers.
- Seeds: worker i's sampler is seeded from (project.seed, i). One worker: the same seed gives
  the same trials and best params. Several workers: which worker's suggestion comes first, and
  what TPE has seen when it suggests, depends on timing, so the trials (and maybe the best
  params) can differ between runs; the CV folds and each trial's score for given params do not.
"""

from __future__ import annotations

import os
import random
import time
import warnings
from pathlib import Path
from typing import Any

from mlgen_runtime import pipeline, search, search_space
from mlgen_runtime.errors import BadInput
from mlgen_runtime.progress import Progress

STORAGE_ATTEMPTS = 5
INSTALL_HINT = "pip install 'optuna>=4.0' (mlgen's `optuna` extra)"
# CI pipeline ids: GitHub (per attempt), GitLab, Jenkins; MLGEN_RUN_ID for anything else
PIPELINE_VARS = (("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"), ("CI_PIPELINE_ID",), ("BUILD_TAG",), ("MLGEN_RUN_ID",))


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise BadInput(f"train.search.strategy = \"optuna\" needs the optuna package: {INSTALL_HINT}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own progress lines, not Optuna's per trial
    return optuna


def pipeline_id() -> str | None:
    """The CI pipeline (or `mlgen run`) this job belongs to, or None outside one."""
    for names in PIPELINE_VARS:
        values = [os.environ.get(n, "").strip() for n in names]
        if values[0]:
            return "-".join(v for v in values if v)
    return None


def study_name(settings: dict[str, Any], fingerprint: str) -> str:
    """Keyed like a cache entry: the same settings, data and seed find the same study (a rerun,
    a pipeline whose train shards came from the stage cache); anything else gets a new one."""
    return f"mlgen-{settings['project']['name']}-{fingerprint[:16]}"


def storage(settings: dict[str, Any], root: Path) -> Any:
    """The study's storage (None: in memory). Never echoes a URL read from the environment."""
    optuna = _optuna()
    s = settings["train"]["search"]
    env = s.get("storage_env")
    if env:
        url = os.environ.get(env, "").strip()
        if not url:
            raise BadInput(f"train.search.storage_env: the environment variable {env} is not set (it holds the "
                           "study's storage URL: set it as a CI secret)")
        where = f"the storage URL in ${env}"
    elif s.get("storage"):
        url = s["storage"]
        where = f"train.search.storage `{url}`"
    else:
        return None
    if "://" not in url:  # a journal file, relative to the repository
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        path = root / url
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        db = root / url[len("sqlite:///"):]  # relative to the repository, like the other paths
        db.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{db}"
    # sqlite: wait for the other workers' writes instead of failing with "database is locked"
    kwargs = {"connect_args": {"timeout": 120}} if url.startswith("sqlite:") else {}
    for attempt in range(1, STORAGE_ATTEMPTS + 1):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except ImportError as exc:
            raise BadInput(f"{where}: its database driver is not installed ({exc.name or exc}); add it to "
                           "project.requirements") from None
        except Exception as exc:  # noqa: BLE001 - sqlalchemy's errors for an unreachable or bad database
            # shards starting at once on a new database race to create its tables: the loser retries
            if attempt == STORAGE_ATTEMPTS:
                raise BadInput(f"{where}: cannot open the study's storage ({type(exc).__name__})") from None
            time.sleep(attempt * (0.5 + random.random()))
    raise AssertionError("unreachable")


def open_study(settings: dict[str, Any], root: Path, fingerprint: str, shard: int, greater_is_better: bool) -> Any:
    optuna = _optuna()
    import numpy as np

    seed = int(np.random.SeedSequence([int(settings["project"]["seed"]), shard]).generate_state(1)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # constant_liar
        # constant_liar: a worker's TPE treats the other workers' running trials as bad, so they
        # do not all suggest the same point; with one worker there are none, so it changes nothing
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    return optuna.create_study(study_name=study_name(settings, fingerprint), storage=storage(settings, root),
                               sampler=sampler, direction="maximize" if greater_is_better else "minimize",
                               load_if_exists=True)


def _finished(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))


def work(settings: dict[str, Any], root: Path, t: Any, fingerprint: str, shard: int,
         shards: int) -> tuple[Any, list[search.TrialResult]]:
    """One worker: run trials until the study has n_iter finished ones; (the study, the trials it ran)."""
    from optuna.trial import TrialState

    s = settings["train"]["search"]
    budget = int(s.get("n_iter", 10))
    sc = search.scoring(settings)
    cv_folds = search.folds(settings["data"]["task"], int(s.get("cv", 5)), int(settings["project"]["seed"]),
                            t.X, t.y, t.groups, t.by_time)
    if shards > 1 and not (s.get("storage") or s.get("storage_env")):
        raise BadInput(f"train.search.shards = {shards} with strategy optuna: set train.search.storage (or "
                       "storage_env) so the shards share one study")
    study = open_study(settings, root, fingerprint, shard, sc.greater_is_better)
    label = f" shard {shard}/{shards}" if shards > 1 else ""
    print(f"search{label}: optuna study {study.study_name}, {budget} trials ({shards} worker(s)), "
          f"{len(cv_folds)}-fold CV, scoring {sc.name} ({'higher' if sc.greater_is_better else 'lower'} is better)",
          flush=True)
    mine: list[search.TrialResult] = []
    with Progress(budget, f"search{label}") as progress:
        while len(_finished(study)) < budget:
            trial = study.ask()
            params = {k: search.plain(search_space.suggest(trial, k, v)) for k, v in sorted(s["space"].items())}
            r = search.run_trial(settings, t.cols, t.X, t.y, trial.number, params, sc, cv_folds)
            for key in ("fold_scores", "std", "error", "fit_time", "score_time"):
                trial.set_user_attr(key, getattr(r, key))
            if r.mean is None:
                study.tell(trial, state=TrialState.FAIL)
            else:
                study.tell(trial, r.mean)
            outcome = f"{sc.name} = {r.mean:.4f} ± {r.std:.4f}" if r.mean is not None else f"failed: {r.error}"
            progress.step(f"trial #{r.index} {search._show(params)}: {outcome} [{(r.fit_time or 0) + (r.score_time or 0):.1f}s/fold]",
                          important=r.mean is None)
            mine.append(r)
    return study, mine


def stored(settings: dict[str, Any], root: Path, fingerprint: str, greater_is_better: bool) -> list[search.TrialResult]:
    """select: the results of the study the shards shared."""
    return results(settings, open_study(settings, root, fingerprint, 0, greater_is_better))


def results(settings: dict[str, Any], study: Any) -> list[search.TrialResult]:
    """The n_iter finished trials with the lowest numbers, as search results."""
    budget = int(settings["train"]["search"].get("n_iter", 10))
    done = sorted(_finished(study), key=lambda tr: tr.number)
    if len(done) < budget:
        raise BadInput(f"optuna study {study.study_name}: {len(done)} of {budget} trials finished; "
                       "rerun the train shards (every shard job must finish before select)")
    return [as_result(tr) for tr in done[:budget]]


def as_result(tr: Any) -> search.TrialResult:
    a = tr.user_attrs
    return search.TrialResult(tr.number, {k: search.plain(v) for k, v in sorted(tr.params.items())},
                              a.get("fold_scores", []), tr.value if tr.values else None, a.get("std"),
                              a.get("error"), a.get("fit_time"), a.get("score_time"))
