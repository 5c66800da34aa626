"""GitLab backend: deterministic output, round trip, deploy and rollback rules, retraining child
pipeline, reports, stage cache, YAML-safe strings."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mlgen.backends import gitlab
from mlgen.backends.common import ReadJob, release_branches
from mlgen.backends.gitlab import render as gl
from mlgen.compile import build_plan
from mlgen_runtime.contract import FORMAT_VERSION, MONITOR_RESULT, Artifact, Environment, Job, Plan, Triggers
from tests.support import judges
from tests.support.sample_plans import full_plan, minimal_plan, reporting, reviewed, with_setup

OUT = ".gitlab-ci.yml"
RETRAIN = ".mlgen/gitlab/retrain.yml"
NO_RETRAIN = ".mlgen/gitlab/no-retrain.yml"
ROOT = Path(__file__).resolve().parents[2]
PLANS = {"full": full_plan, "minimal": minimal_plan}
AMBIGUOUS = ("on", "yes", "0o17", "1_000", "a: b", "#x", "'q'", '"dq"', "$HOME")


def shell_plan() -> Plan:
    """A tiny plan of plain shell commands, for executing the output with gitlab-ci-local.

    make -> out/a.txt; shard (x2) -> trials/shard-<i>.txt and checks its shard variables;
    use consumes both; peek needs make without its artifact; deploys run only on the default
    branch (production waits for a person); mr-only must not run on a push pipeline.
    """
    jobs = (
        Job("make", "custom", ("mkdir -p out && echo hi > out/a.txt",),
            produces=Artifact("make", ("out",))),
        Job("peek", "custom", ("test ! -e out/a.txt",), needs=("make",)),
        Job("shard", "train", (
            'echo "shard $MLGEN_SHARD_INDEX/$MLGEN_SHARD_TOTAL"',
            'test "$MLGEN_SHARD_TOTAL" = 2',
            'mkdir -p trials && echo "$MLGEN_SHARD_INDEX" > "trials/shard-$MLGEN_SHARD_INDEX.txt"',
        ), needs=("make",), produces=Artifact("shard", ("trials",)), shards=2),
        Job("use", "custom", (
            "cat out/a.txt",
            'test "$(cat out/a.txt)" = hi',
            "cat trials/shard-1.txt trials/shard-2.txt",
            'test "$LITERAL" = \'a$HOME\'',
            "echo on yes 0o17 1_000 'a: b' '#x'",
        ), needs=("make", "shard"), consumes=("make", "shard")),
        Job("mr-only", "custom", ("echo mr",), events=("pull_request",)),
        Job("deploy-staging", "deploy", ("echo deploy staging",), needs=("use",),
            events=("manual", "push"), default_branch_only=True, environment=Environment("staging")),
        Job("deploy-production", "deploy", ("echo deploy production",), needs=("deploy-staging",),
            events=("manual", "push"), default_branch_only=True,
            environment=Environment("production", "manual")),
    )
    return Plan(
        format_version=FORMAT_VERSION, spec_path="mlproject.toml", spec_sha256="2" * 64,
        project="shell", python="3.12", env=(("LITERAL", "a$HOME"),),
        triggers=Triggers(branches=("main",)), jobs=with_setup(jobs, "echo setup"), providers=("gitlab",),
        timeout_minutes=10, artifact_expire_days=1,
    )


def drift_plan() -> Plan:
    """full_plan as lowering now writes it: retraining on drift, reports, stage cache, rollback."""
    base = full_plan()
    chain = {"validate", "train", "select", "evaluate", "deploy-staging", "deploy-production"}
    with_reports = {"validate", "evaluate", "monitor"}
    jobs = []
    for j in base.jobs:
        if j.name in chain:
            j = replace(j, on_drift=True, needs=tuple(sorted({*j.needs, "monitor"})))
        if j.name in with_reports:
            j = reporting(j, (f".mlgen/out/{j.kind}/junit.xml",), f".mlgen/out/{j.kind}/report.md")
        if j.kind in ("validate", "train", "select", "evaluate"):
            j = replace(j, cache=j.name, cache_inputs=(".mlgen/plan.json", ".mlgen/runtime/MANIFEST.json", "data/train.csv"))
        jobs.append(j)
    monitor = next(j for j in jobs if j.name == "monitor")
    jobs.remove(monitor)
    jobs.insert(1, monitor)  # before the jobs that need it (plan order is topological)
    rollbacks = [
        Job(f"rollback-{env}", "rollback", (f"python -m mlgen_runtime rollback --plan .mlgen/plan.json --env {env}",),
            events=("rollback",), default_branch_only=True, environment=Environment(env, approval), timeout_minutes=60)
        for env, approval in (("staging", "auto"), ("production", "manual"))
    ]
    return reviewed(replace(base, jobs=(*jobs, *rollbacks)))


def demo_plan() -> Plan:
    """The root example (the demo), lowered by the real compiler."""
    return build_plan(ROOT / "mlproject.toml", ROOT)


def load(plan: Plan, path: str = OUT) -> dict[str, Any]:
    doc: dict[str, Any] = YAML(typ="safe", pure=True).load(io.StringIO(gitlab.render(plan)[path]))
    return doc


def load_yaml11(text: str) -> Any:
    """Read as GitLab's YAML 1.1 parser would (yes/on are booleans there, 0o17 is not octal)."""
    return YAML(typ="safe", pure=True).load(io.StringIO("%YAML 1.1\n---\n" + text))


def expected(plan: Plan) -> list[ReadJob]:
    def key_files(j: Job) -> tuple[str, ...]:  # GitLab keys on at most two files: plan and first data file
        if not j.cache or j.environment or release_branches(plan.triggers):
            return ()
        return tuple(f for f in j.cache_inputs if not f.endswith("MANIFEST.json"))[:2]

    return [ReadJob(j.name, j.needs, (*j.setup, *j.commands), j.shards, j.produces.paths if j.produces else (),
                    key_files(j)) for j in plan.jobs]


@pytest.mark.parametrize("name", sorted(PLANS))
def test_render_is_deterministic_and_ends_with_one_newline(name: str) -> None:
    a, b = gitlab.render(PLANS[name]()), gitlab.render(PLANS[name]())
    assert a == b and list(a) == [OUT]
    assert a[OUT].endswith("\n") and not a[OUT].endswith("\n\n")
    assert a[OUT].startswith("# generated by mlgen from mlproject.toml - do not edit.\n")


@pytest.mark.parametrize("make", [full_plan, minimal_plan, shell_plan, drift_plan, demo_plan])
def test_round_trip(make: Any) -> None:
    plan = make()
    assert gitlab.read(gitlab.render(plan)) == expected(plan)


def test_pipeline_settings() -> None:
    doc = load(full_plan())
    assert doc["stages"] == [j.name for j in full_plan().jobs]
    assert doc["default"] == {"image": "python:3.12", "interruptible": True}
    assert doc["variables"] == {"PYTHONPATH": ".mlgen/runtime"}
    assert [r["if"] for r in doc["workflow"]["rules"]] == [
        '$CI_PIPELINE_SOURCE == "merge_request_event" && $CI_MERGE_REQUEST_TARGET_BRANCH_NAME == "main"',
        '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == "main"',
        '$CI_PIPELINE_SOURCE == "schedule"',
        '$CI_PIPELINE_SOURCE == "web" && $CI_COMMIT_TAG == null',
    ]
    assert all(list(r) == ["if"] for r in doc["workflow"]["rules"])


def test_workflow_follows_triggers_and_skips_duplicate_mr_pipelines() -> None:
    t = Triggers(branches=("main", "dev"), pull_requests=True, schedules=(), manual=False)
    rules = load(replace(minimal_plan(), triggers=t))["workflow"]["rules"]
    assert [r["if"] for r in rules] == [
        '$CI_PIPELINE_SOURCE == "merge_request_event" && $CI_MERGE_REQUEST_TARGET_BRANCH_NAME == "main"',
        '$CI_PIPELINE_SOURCE == "merge_request_event" && $CI_MERGE_REQUEST_TARGET_BRANCH_NAME == "dev"',
        '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == "main"',
        '$CI_PIPELINE_SOURCE == "push" && $CI_OPEN_MERGE_REQUESTS',
        '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == "dev"',
    ]
    assert rules[3]["when"] == "never"
    no_mr = load(replace(minimal_plan(), triggers=replace(t, pull_requests=False)))["workflow"]["rules"]
    assert all("merge_request" not in r["if"] and "OPEN_MERGE" not in r["if"] for r in no_mr)


def test_needs_download_only_consumed_artifacts() -> None:
    plan = full_plan()
    doc = load(plan)
    for job in plan.jobs:
        got = {n["job"]: n["artifacts"] for n in doc[job.name]["needs"]}
        assert got == {n: n in job.consumes for n in job.needs}


def test_shards_use_parallel_and_node_variables() -> None:
    train = load(full_plan())["train"]
    assert train["parallel"] == 2
    assert train["variables"] == {
        "MLGEN_SHARD_INDEX": "$CI_NODE_INDEX",
        "MLGEN_SHARD_TOTAL": "$CI_NODE_TOTAL",
    }
    assert "parallel" not in load(full_plan())["select"]


def test_every_job_has_timeout_and_artifacts_expire() -> None:
    plan = full_plan()
    doc = load(plan)
    for job in plan.jobs:
        assert doc[job.name]["timeout"] == f"{job.timeout_minutes} minutes"
        if job.produces:
            assert doc[job.name]["artifacts"] == {"paths": list(job.produces.paths), "expire_in": "7 days"}
        else:
            assert "artifacts" not in doc[job.name]
    assert load(shell_plan())["make"]["artifacts"]["expire_in"] == "1 day"


def test_deploy_jobs_are_bound_serialized_and_never_interrupted() -> None:
    plan = full_plan()
    doc = load(plan)
    for job in plan.jobs:
        body = doc[job.name]
        if job.environment is None:
            assert "environment" not in body and "resource_group" not in body
            assert "interruptible" not in body  # inherits default: true
            continue
        assert body["environment"] == {"name": job.environment.name}
        assert body["resource_group"] == job.environment.name
        assert body["interruptible"] is False


def test_manual_environment_is_manual_only_on_default_branch() -> None:
    doc = load(full_plan())
    prod, staging = doc["deploy-production"]["rules"], doc["deploy-staging"]["rules"]
    manual = {"when": "manual", "allow_failure": False}
    assert prod == [
        {"if": '$CI_PIPELINE_SOURCE == "web" && $CI_COMMIT_BRANCH == "main"', **manual},
        {"if": '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == "main"', **manual},
    ]
    assert staging == [{"if": r["if"]} for r in prod]  # auto approval: no when: manual
    # no other job is manual, and no deploy runs for merge requests
    for name, body in doc.items():
        if isinstance(body, dict) and "script" in body and name != "deploy-production":
            assert all("when" not in r for r in body["rules"]), name
    assert all("merge_request" not in r["if"] for r in prod + staging)


def test_job_rules_follow_events() -> None:
    doc = load(full_plan())
    assert [r["if"] for r in doc["monitor"]["rules"]] == [
        '$CI_PIPELINE_SOURCE == "web"', '$CI_PIPELINE_SOURCE == "schedule"',
    ]
    assert [r["if"] for r in doc["featurize"]["rules"]] == [
        '$CI_PIPELINE_SOURCE == "web"', '$CI_PIPELINE_SOURCE == "merge_request_event"',
        '$CI_PIPELINE_SOURCE == "push"',
    ]


def test_ambiguous_strings_read_back_identical() -> None:
    base = minimal_plan()
    job = replace(base.jobs[0], setup=AMBIGUOUS, commands=AMBIGUOUS)
    plan = replace(base, jobs=(job, *base.jobs[1:]),
                   env=tuple((f"V{i}", s) for i, s in enumerate(AMBIGUOUS)))
    text = gitlab.render(plan)[OUT]
    assert gitlab.read({OUT: text})[0].commands == AMBIGUOUS + AMBIGUOUS
    for doc in (YAML(typ="safe", pure=True).load(text), load_yaml11(text)):  # YAML 1.2 and 1.1
        assert doc["validate"]["script"] == list(AMBIGUOUS + AMBIGUOUS)
        values = [v["value"] if isinstance(v, dict) else v for v in doc["variables"].values()]
        assert values == list(AMBIGUOUS)
    # GitLab would expand $HOME inside a variable value: it is kept literal.
    assert load_yaml11(text)["variables"]["V8"] == {"value": "$HOME", "expand": False}


@pytest.mark.parametrize("name", ["variables", "workflow", "default", "pages", ".hidden"])
def test_reserved_job_names_are_refused(name: str) -> None:
    base = minimal_plan()
    plan = replace(base, jobs=(replace(base.jobs[0], name=name), *base.jobs[1:]))
    with pytest.raises(ValueError, match="GitLab keyword or a hidden job"):
        gitlab.render(plan)


def test_strings_gitlab_would_expand_are_refused() -> None:
    base = minimal_plan()
    job = replace(base.jobs[0], produces=Artifact("validate", ("out/$CI_JOB_ID",)))
    with pytest.raises(ValueError, match="artifact path 'out/\\$CI_JOB_ID': GitLab .artifacts:paths.: GitLab expands"):
        gitlab.render(replace(base, jobs=(job, *base.jobs[1:])))


# ------------------------------------------------------------------ issue 4: rollback


@pytest.mark.parametrize("make", [drift_plan, demo_plan])
def test_rollback_jobs_are_optional_manual_jobs_on_the_default_branch(make: Any) -> None:
    plan = make()
    doc = load(plan)
    rollbacks = [j for j in plan.jobs if j.kind == "rollback"]
    assert [j.name for j in rollbacks] == ["rollback-staging", "rollback-production"]
    for job in rollbacks:
        body = doc[job.name]
        env = job.environment.name  # type: ignore[union-attr]
        assert body["needs"] == []
        assert body["rules"] == [
            {"if": f'$CI_PIPELINE_SOURCE == "{src}" && $CI_COMMIT_BRANCH == "main"', "when": "manual", "allow_failure": True}
            for src in ("web", "push")
        ]
        assert body["environment"] == {"name": env}
        assert body["resource_group"] == env == doc[f"deploy-{env}"]["resource_group"]
        assert body["interruptible"] is False
        assert body["script"] == [*job.setup, *job.commands]
        assert "cache" not in body and "artifacts" not in body and "after_script" not in body
    text = gitlab.render(plan)[OUT]
    assert "MLGEN_ROLLBACK_TO" in text.split("workflow:")[0]  # documented in the header


# ------------------------------------------------------------------ issue 4: retraining on drift


def test_without_retraining_there_is_one_file() -> None:
    for plan in (full_plan(), minimal_plan(), shell_plan()):
        files = gitlab.render(plan)
        assert list(files) == [OUT]
        assert not any(name.startswith("mlgen") for name in load(plan))


@pytest.mark.parametrize("make", [drift_plan, demo_plan])
def test_retraining_renders_three_files_with_the_header(make: Any) -> None:
    plan = make()
    files = gitlab.render(plan)
    assert list(files) == [OUT, RETRAIN, NO_RETRAIN]
    assert files == gitlab.render(make())
    for text in files.values():
        assert text.startswith("# generated by mlgen from mlproject.toml - do not edit.\n")
        assert f"# spec sha256: {plan.spec_sha256}\n" in text
        assert text.endswith("\n") and not text.endswith("\n\n")
        assert "&id" not in text and "*id" not in text  # no YAML anchors/aliases


@pytest.mark.parametrize("make", [drift_plan, demo_plan])
def test_parent_keeps_normal_rules_and_makes_the_monitor_need_optional(make: Any) -> None:
    plan = make()
    doc = load(plan)
    for job in plan.jobs:
        needs = {n["job"]: n for n in doc[job.name]["needs"]}
        assert set(needs) == set(job.needs)
        for name, need in needs.items():
            optional = job.on_drift and name == "monitor"
            assert need.get("optional", False) is optional, (job.name, name)
        if job.on_drift:
            assert all("schedule" not in r["if"] and "parent_pipeline" not in r["if"] for r in doc[job.name]["rules"])


@pytest.mark.parametrize("make", [drift_plan, demo_plan])
def test_helper_jobs_run_the_child_pipeline_on_schedules_only(make: Any) -> None:
    plan = make()
    doc = load(plan)
    assert doc["stages"][-2:] == ["mlgen-drift-gate", "mlgen-retrain"]
    gate, trigger = doc["mlgen-drift-gate"], doc["mlgen-retrain"]
    schedule = [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert gate["rules"] == schedule and trigger["rules"] == schedule
    assert gate["needs"] == [{"job": "monitor", "artifacts": True}]
    assert gate["artifacts"]["paths"] == [".mlgen/out/mlgen-drift-gate/pipeline.yml"]
    assert trigger["needs"] == [{"job": "mlgen-drift-gate", "artifacts": True}]
    assert trigger["trigger"]["include"] == [
        {"artifact": ".mlgen/out/mlgen-drift-gate/pipeline.yml", "job": "mlgen-drift-gate"}
    ]
    assert trigger["trigger"]["strategy"] == "depend"
    assert "script" not in trigger
    # the reader skips helper jobs: parity holds
    assert [j.name for j in gitlab.read(gitlab.render(plan))] == [j.name for j in plan.jobs]


@pytest.mark.parametrize("make", [drift_plan, demo_plan])
def test_child_pipeline_runs_the_retraining_jobs_as_written(make: Any) -> None:
    plan = make()
    child = load(plan, RETRAIN)
    names = [k for k, v in child.items() if isinstance(v, dict) and "script" in v]
    gated = {j.name for j in plan.jobs if j.on_drift}
    needed = {n for j in plan.jobs if j.on_drift for n in j.needs} - {"monitor"}
    expected = [j.name for j in plan.jobs if j.name in gated | needed]
    assert len(expected) > len(gated)  # featurize / get-data: needed, not drift-gated themselves
    assert names == expected and "monitor" not in names
    assert child["stages"] == names
    assert child["variables"] == load(plan)["variables"]
    parent = load(plan)
    for name in names:
        job, body = plan.job(name), child[name]
        assert body["script"] == [*job.setup, *job.commands]
        assert [n["job"] for n in body["needs"]] == [n for n in job.needs if n != "monitor"]
        assert all("optional" not in n for n in body["needs"])
        for key in ("artifacts", "cache", "after_script", "environment", "resource_group", "interruptible", "parallel"):
            assert body.get(key) == parent[name].get(key), (name, key)
        cond = '$CI_PIPELINE_SOURCE == "parent_pipeline"'
        if job.default_branch_only:
            cond += ' && $CI_COMMIT_BRANCH == "main"'
        manual = {"when": "manual", "allow_failure": False} if job.environment and job.environment.approval == "manual" else {}
        assert body["rules"] == [{"if": cond, **manual}], name
    assert child["deploy-production"]["rules"][0]["when"] == "manual"  # approval is kept


def test_no_retrain_child_is_one_job() -> None:
    doc = load(drift_plan(), NO_RETRAIN)
    jobs = [k for k, v in doc.items() if isinstance(v, dict) and "script" in v]
    assert jobs == ["mlgen-no-drift"]
    assert doc["stages"] == ["mlgen-no-drift"]


@pytest.mark.parametrize("drifted, chosen, rc", [("true", RETRAIN, 0), ("false", NO_RETRAIN, 0), ("maybe", None, 1)])
def test_drift_gate_script_picks_the_child_pipeline(tmp_path: Path, drifted: str, chosen: str | None, rc: int) -> None:
    files = gitlab.render(drift_plan())
    for rel in (RETRAIN, NO_RETRAIN):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(files[rel])
    (tmp_path / MONITOR_RESULT).parent.mkdir(parents=True)
    (tmp_path / MONITOR_RESULT).write_text(drifted + "\n")
    script = load(drift_plan())["mlgen-drift-gate"]["script"]
    proc = subprocess.run(["bash", "-c", "set -eo pipefail\n" + "\n".join(script)], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == rc, proc.stderr
    out = tmp_path / ".mlgen/out/mlgen-drift-gate/pipeline.yml"
    if chosen is None:
        assert not out.exists() and "unexpected" in proc.stderr
    else:
        assert out.read_text() == files[chosen]


def test_helper_prefix_is_refused_for_plan_jobs() -> None:
    base = minimal_plan()
    plan = replace(base, jobs=(replace(base.jobs[0], name="mlgen-x"), *base.jobs[1:]))
    with pytest.raises(ValueError, match="kept for mlgen's helper jobs"):
        gitlab.render(plan)


# ------------------------------------------------------------------ issue 4: reports


@pytest.mark.parametrize("make", [drift_plan, demo_plan])
def test_reports_publish_junit_even_when_the_job_fails(make: Any) -> None:
    plan = make()
    doc = load(plan)
    for job in plan.jobs:
        body = doc[job.name]
        if job.reports:
            assert body["artifacts"]["when"] == "always"
            assert body["artifacts"]["reports"] == {"junit": list(job.reports)}
        elif "artifacts" in body:
            assert "reports" not in body["artifacts"] and "when" not in body["artifacts"]
        if job.summary:
            assert body["after_script"][0] == f"if [ -f {job.summary} ]; then cat {job.summary}; fi"
            assert len(body["after_script"]) == (2 if job in plan.review_jobs() else 1)
        else:
            assert "after_script" not in body
    last = plan.review_jobs()[-1]
    note = doc[last.name]["after_script"][1]
    assert (
        'curl --fail -sS -o /dev/null -X POST -H "PRIVATE-TOKEN: $MLGEN_GITLAB_TOKEN"'
        f' --data-urlencode "body@.mlgen/out/{last.kind}/report.md"'
        ' "$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"'
    ) in note
    assert "CI_JOB_STATUS" not in note  # the last review job always posts
    if len(plan.review_jobs()) > 1:  # evaluate before a scan posts only when it failed
        assert doc["evaluate"]["after_script"][1].startswith('if [ "${CI_JOB_STATUS:-}" = failed ] && ')
    head = gitlab.render(plan)[OUT].split("workflow:")[0]
    assert "masked CI/CD variable MLGEN_GITLAB_TOKEN and mark it protected" in head
    # the safe setup (issue 13, item 16): protected, least role and scope, why never unprotected
    assert "Reporter role and the `api` scope" in head and "never a personal token" in head
    assert "Never leave it unprotected" in head and "not protected" not in head


def _run_after_script(tmp_path: Path, lines: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Each after_script line in bash, like the runner, with a `curl` stub that logs its argv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "curl.log"
    stub = bin_dir / "curl"
    stub.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$CURL_LOG"\n')
    stub.chmod(0o755)
    full_env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "CURL_LOG": str(log), **env}
    proc = subprocess.run(["bash", "-c", "\n".join(lines)], cwd=tmp_path / "work", env=full_env,
                          capture_output=True, text=True, check=False)
    return proc, log


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_review_after_script_prints_the_report_and_posts_the_note_only_with_a_token(tmp_path: Path) -> None:
    lines = load(demo_plan())["scan"]["after_script"]
    report = tmp_path / "work/.mlgen/out/scan/report.md"
    report.parent.mkdir(parents=True)
    report.write_text("# Evaluation\nall gates passed\n")
    ci = {"CI_API_V4_URL": "https://gitlab.example.com/api/v4", "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7"}

    proc, log = _run_after_script(tmp_path, lines, {**ci, "MLGEN_GITLAB_TOKEN": "glpat-secret"})
    assert proc.returncode == 0, proc.stderr
    assert "all gates passed" in proc.stdout and "report posted to merge request !7" in proc.stdout
    assert log.read_text().splitlines() == [
        "--fail", "-sS", "-o", "/dev/null", "-X", "POST", "-H", "PRIVATE-TOKEN: glpat-secret",
        "--data-urlencode", "body@.mlgen/out/scan/report.md",
        "https://gitlab.example.com/api/v4/projects/42/merge_requests/7/notes",
    ]
    log.unlink()
    # no token, or not a merge request pipeline: no API call, the report is only in the log
    for env in ({**ci}, {**ci, "MLGEN_GITLAB_TOKEN": "glpat-secret", "CI_MERGE_REQUEST_IID": ""}):
        proc, log = _run_after_script(tmp_path, lines, env)
        assert proc.returncode == 0 and "all gates passed" in proc.stdout and not log.exists()
    # the job failed before writing a report: nothing to print or post
    report.unlink()
    proc, log = _run_after_script(tmp_path, lines, {**ci, "MLGEN_GITLAB_TOKEN": "t"})
    assert proc.returncode == 0 and proc.stdout == "" and not log.exists()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_evaluate_posts_its_report_only_when_it_failed_and_the_scan_cannot_run(tmp_path: Path) -> None:
    lines = load(demo_plan())["evaluate"]["after_script"]
    report = tmp_path / "work/.mlgen/out/evaluate/report.md"
    report.parent.mkdir(parents=True)
    report.write_text("# Evaluation\nf1 gate failed\n")
    ci = {"CI_API_V4_URL": "https://gitlab.example.com/api/v4", "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
          "MLGEN_GITLAB_TOKEN": "t"}
    proc, log = _run_after_script(tmp_path, lines, {**ci, "CI_JOB_STATUS": "success"})
    assert proc.returncode == 0 and "f1 gate failed" in proc.stdout and not log.exists()  # the scan posts
    proc, log = _run_after_script(tmp_path, lines, {**ci, "CI_JOB_STATUS": "failed"})
    assert proc.returncode == 0 and "body@.mlgen/out/evaluate/report.md" in log.read_text().splitlines()


# ------------------------------------------------------------------ issue 4: stage cache


def stage_and_uv_caches(body: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A job's (stage cache, uv download cache) entries."""
    raw = body.get("cache")
    entries = raw if isinstance(raw, list) else [raw] if raw else []
    uv = [e for e in entries if e["key"]["prefix"].startswith("mlgen-uv-")]
    stage = [e for e in entries if not e["key"]["prefix"].startswith("mlgen-uv-")]
    assert len(uv) <= 1 and len(stage) <= 1, entries
    return (stage[0] if stage else None), (uv[0] if uv else None)


@pytest.mark.parametrize("make", [drift_plan, demo_plan])
def test_stage_cache_persists_the_runtime_cache_folder(make: Any) -> None:
    plan = make()
    for path in (OUT, RETRAIN):
        doc = load(plan, path)
        for job in plan.jobs:
            if job.name not in doc:
                continue
            stage, uv = stage_and_uv_caches(doc[job.name])
            if job.install_cache is None or job.environment is not None:
                assert uv is None, job.name
            else:  # uv's downloads, keyed by the job's install file and the Python version
                assert uv == {"key": {"files": [job.install_cache], "prefix": f"mlgen-uv-py{plan.python}"},
                              "paths": [".mlgen/uv-cache/"]}, job.name
            if job.cache is None or job.environment is not None:
                assert stage is None, job.name
            elif job.shards > 1:
                assert stage == {
                    "key": {"files": [".mlgen/plan.json", "data/train.csv"], "prefix": f"mlgen-{job.cache}-$CI_NODE_INDEX"},
                    "paths": [f".mlgen/cache/{job.cache}-shard-$CI_NODE_INDEX/"],
                }
            else:
                # keyed on the plan and the data (GitLab hashes two files at most; not the manifest)
                assert stage == {"key": {"files": [".mlgen/plan.json", "data/train.csv"], "prefix": f"mlgen-{job.cache}"},
                                 "paths": [f".mlgen/cache/{job.cache}/"]}
    doc = load(plan)
    assert [n for n in doc if isinstance(doc[n], dict) and stage_and_uv_caches(doc[n])[0]] == [
        "validate", "train", "select", "evaluate"]


def test_no_stage_cache_when_release_branches_are_built() -> None:
    """As on GitHub: a release build starts clean, never from a cache another branch wrote."""
    plan = drift_plan()
    release = replace(plan, triggers=replace(plan.triggers, branches=(*plan.triggers.branches, "release/2.x")))
    assert not any("cache" in body for body in load(release).values() if isinstance(body, dict))


def test_deploys_never_get_a_cache_even_if_the_plan_asks() -> None:
    base = drift_plan()
    jobs = tuple(replace(j, cache="x", cache_inputs=(".mlgen/plan.json",)) if j.environment else j for j in base.jobs)
    doc = load(replace(base, jobs=jobs))
    assert not any("cache" in doc[j.name] for j in jobs if j.environment)


# ------------------------------------------------------------------ judges


@pytest.mark.parametrize("make", [drift_plan, demo_plan, full_plan, shell_plan])
def test_every_output_file_passes_the_gitlab_schema(make: Any, tmp_path: Path) -> None:
    paths = []
    for rel, text in gitlab.render(make()).items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        paths.append(target)
    judges.check_jsonschema("vendor.gitlab-ci", paths)


def test_reports_without_produced_files_still_publish_junit() -> None:
    base = minimal_plan()
    job = reporting(replace(base.jobs[0], produces=None), ("out/junit.xml",), None)
    body = load(replace(base, jobs=(job, *base.jobs[1:])))["validate"]
    assert body["artifacts"] == {"expire_in": "7 days", "when": "always", "reports": {"junit": ["out/junit.xml"]}}


# Names people give files, and decoys an unescaped glob would also match. The artifact globs are
# backslash-escaped (paths.py); bash reads `\c` as the character c in a glob as the runner's
# doublestar / filepath.Match do, so a bash glob over the same files shows what each matches.
TRICKY_NAMES = ["in put é.csv", "a[1].csv", "x*y?.txt", "{a,b}.txt", "it's #1 ~b & c (2).csv", "中文 数据.csv",
                "back\\slash", "!neg", "%p@q+r=s", "semi;colon|pipe<lt>gt\"dq\"`bt`"]
DECOYS = ["in", "put", "a1.csv", "xAyB.txt", "a.txt", "b.txt", "it's", "neg"]


@pytest.mark.parametrize("name", TRICKY_NAMES)
def test_artifact_globs_match_exactly_their_path(name: str, tmp_path: Path) -> None:
    from mlgen.backends.gitlab.paths import artifact_pattern, artifact_unescape

    for n in (name, *DECOYS):
        (tmp_path / n).write_text("x")
    pattern = artifact_pattern(name)
    assert artifact_unescape(pattern) == name
    script = f"shopt -s nullglob dotglob; for f in {pattern}; do printf '%s\\0' \"$f\"; done"
    out = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert out.split("\0")[:-1] == [name]
