"""Hand-built plans for backend development and unit tests (independent of spec lowering)."""

from __future__ import annotations

from dataclasses import replace

from mlgen_runtime.contract import FORMAT_VERSION, Artifact, Environment, Job, Plan, Triggers

RT = "python -m mlgen_runtime"
P = "--plan .mlgen/plan.json"


def full_plan() -> Plan:
    """Roughly what the full example spec (tests/golden/full) lowers to: custom stage, shards, two environments, monitor."""
    jobs = (
        Job(
            name="featurize",
            kind="custom",
            commands=("python featurize.py",),
            produces=Artifact("featurize", ("data/train.csv",)),
            timeout_minutes=60,
        ),
        Job(
            name="validate",
            kind="validate",
            commands=(f"{RT} check {P}", f"{RT} validate {P}"),
            needs=("featurize",),
            consumes=("featurize",),
            produces=Artifact("validate", (".mlgen/out/validate",)),
            timeout_minutes=60,
        ),
        Job(
            name="train",
            kind="train",
            commands=(f"{RT} train {P}",),
            needs=("featurize", "validate"),
            consumes=("featurize",),
            produces=Artifact("train", (".mlgen/out/trials",)),
            shards=2,
            timeout_minutes=60,
        ),
        Job(
            name="select",
            kind="select",
            commands=(f"{RT} select {P}",),
            needs=("featurize", "train"),
            consumes=("featurize", "train"),
            produces=Artifact("select", (".mlgen/out/model",)),
            timeout_minutes=60,
        ),
        Job(
            name="evaluate",
            kind="evaluate",
            commands=(f"{RT} evaluate {P}",),
            needs=("featurize", "select"),
            consumes=("featurize", "select"),
            produces=Artifact("evaluate", (".mlgen/out/evaluate",)),
            timeout_minutes=60,
        ),
        Job(
            name="deploy-staging",
            kind="deploy",
            commands=(f"{RT} deploy {P} --env staging",),
            needs=("evaluate", "select"),
            events=("manual", "push"),
            default_branch_only=True,
            consumes=("evaluate", "select"),
            environment=Environment("staging", "auto"),
            timeout_minutes=60,
        ),
        Job(
            name="deploy-production",
            kind="deploy",
            commands=(f"{RT} deploy {P} --env production",),
            needs=("deploy-staging", "evaluate", "select"),
            events=("manual", "push"),
            default_branch_only=True,
            consumes=("evaluate", "select"),
            environment=Environment("production", "manual"),
            timeout_minutes=60,
        ),
        Job(
            name="monitor",
            kind="monitor",
            commands=(f"{RT} monitor {P}",),
            events=("manual", "schedule"),
            produces=Artifact("monitor", (".mlgen/out/monitor",)),
            timeout_minutes=60,
        ),
    )
    return Plan(
        format_version=FORMAT_VERSION,
        spec_path="mlproject.toml",
        spec_sha256="0" * 64,
        project="churn",
        python="3.12",
        env=(("PYTHONPATH", ".mlgen/runtime"),),
        triggers=Triggers(branches=("main",), pull_requests=True, schedules=("0 6 * * 1",), manual=True),
        jobs=with_setup(jobs, "python -m pip install -r requirements.txt -r .mlgen/runtime/requirements.txt"),
        providers=("github", "gitlab", "jenkins"),
        timeout_minutes=120,
        artifact_expire_days=7,
    )


def minimal_plan() -> Plan:
    """validate -> train -> evaluate; no deploy, no schedule."""
    jobs = (
        Job("validate", "validate", (f"{RT} check {P}", f"{RT} validate {P}"),
            produces=Artifact("validate", (".mlgen/out/validate",))),
        Job("train", "train", (f"{RT} train {P}",), needs=("validate",),
            produces=Artifact("train", (".mlgen/out/model",))),
        Job("evaluate", "evaluate", (f"{RT} evaluate {P}",), needs=("train",), consumes=("train",),
            produces=Artifact("evaluate", (".mlgen/out/evaluate",))),
    )
    return Plan(
        format_version=FORMAT_VERSION, spec_path="mlproject.toml", spec_sha256="1" * 64,
        project="tiny", python="3.12",
        env=(("PYTHONPATH", ".mlgen/runtime"),), triggers=Triggers(branches=("main",)),
        jobs=with_setup(jobs, "python -m pip install -r .mlgen/runtime/requirements.txt"), providers=("github", "gitlab", "jenkins"), timeout_minutes=60, artifact_expire_days=7,
    )


def reporting(job: Job, reports: tuple[str, ...], summary: str | None) -> Job:
    """`job` writing `reports` and `summary`, with what lowering decides for such a job: they
    upload even when it fails (and evaluate's plots beside its report)."""
    plots = (summary.rsplit("/", 1)[0] + "/plots/*.png",) if job.kind == "evaluate" and summary else ()
    return replace(job, reports=reports, summary=summary, always_upload=(*((summary,) if summary else ()), *reports, *plots))


def reviewed(plan: Plan) -> Plan:
    """`plan` with `Job.posts_review` as lowering sets it: evaluate, then the scan, among the jobs
    with a summary; the last posts always, an earlier one only when it failed."""
    names = [j.name for kind in ("evaluate", "scan") for j in plan.jobs if j.kind == kind and j.summary]
    return replace(plan, jobs=tuple(
        replace(j, posts_review=("always" if j.name == names[-1] else "failed") if j.name in names else None)
        for j in plan.jobs))


def with_setup(jobs: tuple[Job, ...], *lines: str) -> tuple[Job, ...]:
    """`jobs`, each with `lines` as its setup (what lowering gives every job today)."""
    return tuple(replace(j, setup=lines) for j in jobs)
