"""GitHub Actions backend: determinism, round trip, pinning, permissions, deploys, safe strings."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from importlib import resources
from typing import Any

import pytest
from ruamel.yaml import YAML

from mlgen.backends import github
from mlgen.backends.common import ReadJob, header_lines, release_branches
from mlgen.backends.github.values import UnsafeValue
from mlgen.backends.github.pins import pin
from mlgen_runtime.contract import SHARD_INDEX_VAR, SHARD_TOTAL_VAR, Artifact, Environment, Job, Plan, Triggers
from tests.support.sample_plans import P, RT, full_plan, minimal_plan, reporting, reviewed

OUT = ".github/workflows/mlgen.yml"
PLANS = {"full": full_plan, "minimal": minimal_plan}
AMBIGUOUS = ("on", "yes", "0o17", "1_000", "a: b", "#x", "'q'", '"dq"', "$HOME")
# More strings a YAML parser could type, fold or cut: indicators, comments, anchors, blanks.
TRICKY = AMBIGUOUS + (
    "no", "off", "y", "n", "~", "null", "true", "1e3", ".5", "12:30", "2024-01-01", "0x1F",
    "- item", "? key", "{x}", "[y]", "*alias", "&anchor", "!tag", "|", ">", "%x", "@at", "`tick`",
    "echo 'a: b' # c", 'echo "x" | tee y', "  leading", "trailing  ", "tab\there", "back\\slash",
    "echo ${HOME} $((1+2))", "ünïcode ✓",
)


def text_of(plan: Plan) -> str:
    files = github.render(plan)
    assert list(files) == [OUT]
    return files[OUT]


def load(plan: Plan) -> Any:
    return YAML(typ="safe", pure=True).load(text_of(plan))


def expected_jobs(plan: Plan) -> list[ReadJob]:
    # the stage cache is keyed on the runtime's key file, on no input file: cache_files is ()
    return [ReadJob(j.name, j.needs, j.setup + j.commands, j.shards, j.produces.paths if j.produces else (), ())
            for j in plan.jobs]


def all_steps(doc: Any) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job["steps"]]


def with_commands(plan: Plan, commands: tuple[str, ...]) -> Plan:
    first = replace(plan.jobs[0], commands=commands)
    return replace(plan, jobs=(first, *plan.jobs[1:]))


@pytest.fixture(params=sorted(PLANS))
def plan(request: pytest.FixtureRequest) -> Plan:
    return PLANS[request.param]()


# --------------------------------------------------------------------------- file shape


def test_render_is_deterministic_and_ends_with_one_newline(plan: Plan) -> None:
    first, second = text_of(plan), text_of(plan)
    assert first == second
    assert first.endswith("\n") and not first.endswith("\n\n")


def test_file_starts_with_the_header(plan: Plan) -> None:
    head = [f"# {line}" for line in header_lines(plan)]
    assert text_of(plan).splitlines()[: len(head)] == head


def test_round_trip_gives_jobs_needs_commands_and_shards(plan: Plan) -> None:
    assert github.read(github.render(plan)) == expected_jobs(plan)


def test_jobs_in_plan_order_named_after_the_plan_jobs(plan: Plan) -> None:
    jobs = load(plan)["jobs"]
    assert list(jobs) == [j.name for j in plan.jobs]
    assert [j["name"] for j in jobs.values()] == [j.name for j in plan.jobs]


def test_every_job_has_runner_timeout_and_checkout_grant(plan: Plan) -> None:
    text = text_of(plan)
    for job, spec in zip(plan.jobs, load(plan)["jobs"].values()):
        assert spec["runs-on"] == "ubuntu-24.04"
        assert spec["timeout-minutes"] == job.timeout_minutes
        assert spec["permissions"] == {"contents": "read"}
    # each grant says why
    assert text.count("contents: read  # checkout") == len(plan.jobs)


def test_workflow_env_comes_from_the_plan(plan: Plan) -> None:
    assert load(plan)["env"] == dict(plan.env)


# --------------------------------------------------------------------------- security rules


def test_top_level_permissions_are_empty(plan: Plan) -> None:
    assert load(plan)["permissions"] == {}


def test_every_action_is_pinned_to_a_full_sha_with_its_version(plan: Plan) -> None:
    pins = json.loads(resources.files("mlgen.backends.github").joinpath("pins.json").read_text())
    uses_lines = [line.strip().removeprefix("- ") for line in text_of(plan).splitlines() if "uses:" in line]
    assert len(uses_lines) == len([s for s in all_steps(load(plan)) if "uses" in s]) > 0
    for line in uses_lines:
        m = re.fullmatch(r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40})  # (v\d+(?:\.\d+)*)", line)
        assert m, line
        action, sha, version = m.groups()
        assert pins[action] == {"commit": sha, "version": version}


def test_pin_table_holds_only_full_shas() -> None:
    pins = json.loads(resources.files("mlgen.backends.github").joinpath("pins.json").read_text())
    for action, pin in pins.items():
        assert re.fullmatch(r"[0-9a-f]{40}", pin["commit"]), action
        assert re.fullmatch(r"v\d+\.\d+\.\d+", pin["version"]), action


def test_checkout_never_persists_credentials(plan: Plan) -> None:
    checkouts = [s for s in all_steps(load(plan)) if s.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == len(plan.jobs)
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)


def test_no_expression_inside_any_run(plan: Plan) -> None:
    runs = [s["run"] for s in all_steps(load(plan)) if "run" in s]
    assert runs
    assert not [r for r in runs if "${{" in r]


def test_triggers_never_use_pull_request_target(plan: Plan) -> None:
    assert "pull_request_target" not in text_of(plan)
    on = load(plan)["on"]
    assert on["push"] == {"branches": list(plan.triggers.branches)}
    assert on["pull_request"] == {"branches": list(plan.triggers.branches)}
    assert "workflow_dispatch" in on


def test_schedules_become_cron_entries() -> None:
    on = load(full_plan())["on"]
    assert on["schedule"] == [{"cron": "0 6 * * 1"}]
    assert "schedule" not in load(minimal_plan())["on"]


def test_optional_triggers_are_left_out() -> None:
    plan = replace(minimal_plan(), triggers=Triggers(branches=("main",), pull_requests=False, manual=False))
    assert load(plan)["on"] == {"push": {"branches": ["main"]}}


def test_workflow_concurrency_cancels_only_pull_request_runs(plan: Plan) -> None:
    concurrency = load(plan)["concurrency"]
    # pushes, schedules and dispatches each get their own group (the run id): a run waiting for
    # a production approval never holds back, or gets cancelled by, later runs
    assert concurrency["group"] == "${{ github.workflow }}-${{ github.event_name == 'pull_request' && github.ref || github.run_id }}"
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


# --------------------------------------------------------------------------- events


def test_jobs_on_every_configured_event_have_no_condition() -> None:
    assert all("if" not in job for job in load(minimal_plan())["jobs"].values())


def test_conditions_follow_job_events() -> None:
    jobs = load(full_plan())["jobs"]
    # a schedule is configured, so pipeline jobs must not run on it
    assert jobs["train"]["if"] == (
        "github.event_name == 'workflow_dispatch' || github.event_name == 'pull_request'"
        " || github.event_name == 'push'"
    )
    assert jobs["monitor"]["if"] == "github.event_name == 'workflow_dispatch' || github.event_name == 'schedule'"
    assert jobs["deploy-staging"]["if"] == (
        "(github.event_name == 'workflow_dispatch' || github.event_name == 'push')"
        " && github.ref == 'refs/heads/main'"
    )


def test_default_branch_only_job_never_runs_for_pull_requests() -> None:
    deploy = replace(minimal_plan().jobs[0], events=("pull_request", "push"), default_branch_only=True)
    plan = replace(minimal_plan(), triggers=Triggers(branches=("release/it's",)), jobs=(deploy,))
    # the branch is a quoted expression literal ('' inside)
    assert load(plan)["jobs"]["validate"]["if"] == (
        "github.event_name == 'push' && github.ref == 'refs/heads/release/it''s'"
    )


def test_job_whose_events_are_not_configured_never_runs() -> None:
    plan = minimal_plan()
    only_scheduled = replace(plan.jobs[0], events=("schedule",))
    assert load(replace(plan, jobs=(only_scheduled,)))["jobs"]["validate"]["if"] is False


# --------------------------------------------------------------------------- deploys


def test_deploy_jobs_have_environment_and_non_cancelling_concurrency() -> None:
    plan = full_plan()
    jobs = load(plan)["jobs"]
    deploys = [j for j in plan.jobs if j.environment]
    assert len(deploys) == 2
    groups = set()
    for job in deploys:
        spec = jobs[job.name]
        assert spec["environment"] == {"name": job.environment.name}
        assert spec["concurrency"]["cancel-in-progress"] is False
        groups.add(spec["concurrency"]["group"])
    assert len(groups) == len(deploys)  # one group per environment
    assert not [n for n, spec in jobs.items() if "concurrency" in spec and n not in {j.name for j in deploys}]


def test_manual_approval_says_where_reviewers_are_configured() -> None:
    text = text_of(full_plan())
    assert "# approval: manual - add required reviewers to environment 'production'" in text
    assert "# approval: auto" in text


def test_environment_url_is_kept() -> None:
    plan = full_plan()
    jobs = tuple(
        replace(j, environment=Environment(j.environment.name, j.environment.approval, "https://x.test/a?b=1"))
        if j.environment else j
        for j in plan.jobs
    )
    spec = load(replace(plan, jobs=jobs))["jobs"]["deploy-staging"]
    assert spec["environment"] == {"name": "staging", "url": "https://x.test/a?b=1"}


# --------------------------------------------------------------------------- shards and artifacts


def test_sharded_job_is_a_matrix_with_shard_variables() -> None:
    train = load(full_plan())["jobs"]["train"]
    assert train["strategy"] == {"fail-fast": False, "matrix": {"shard": [1, 2]}}
    assert train["env"] == {SHARD_INDEX_VAR: "${{ matrix.shard }}", SHARD_TOTAL_VAR: "2"}
    upload = train["steps"][-1]
    assert upload["with"]["name"] == "train-shard-${{ matrix.shard }}"


def test_consumers_download_every_shard_merged() -> None:
    steps = load(full_plan())["jobs"]["select"]["steps"]
    downloads = [s["with"] for s in steps if s.get("uses", "").startswith("actions/download-artifact@")]
    assert downloads == [
        {"name": "featurize", "path": "."},
        {"pattern": "train-shard-*", "merge-multiple": True, "path": "."},
    ]


def test_artifact_clashing_with_a_shard_pattern_is_rejected() -> None:
    plan = full_plan()
    clash = Job("train-shard-x", "custom", ("true",), produces=Artifact("train-shard-x", ("x",)))
    with pytest.raises(UnsafeValue, match="'train-shard-x' would be downloaded with the shards of 'train'"):
        github.render(replace(plan, jobs=(*plan.jobs, clash)))


def test_step_order_is_download_setup_commands_upload(plan: Plan) -> None:
    for job, spec in zip(plan.jobs, load(plan)["jobs"].values()):
        kinds = [
            "run" if "run" in s else s["uses"].split("@")[0].removeprefix("actions/")
            for s in spec["steps"]
        ]
        expected = ["checkout", "setup-python", *["download-artifact"] * len(job.consumes)]
        expected += ["run"] * (len(job.setup) + len(job.commands))
        expected += ["upload-artifact"] if job.produces else []
        assert kinds == expected, job.name


def test_uploads_expire_fail_when_empty_and_keep_hidden_paths(plan: Plan) -> None:
    for job, spec in zip(plan.jobs, load(plan)["jobs"].values()):
        if not job.produces:
            continue
        with_ = spec["steps"][-1]["with"]
        assert with_["retention-days"] == plan.artifact_expire_days
        assert with_["if-no-files-found"] == "error"
        assert with_["include-hidden-files"] is True
        # the anchor line first keeps the artifact rooted at the workspace
        assert with_["path"].splitlines() == [".mlgen-artifact-root", *job.produces.paths]


def test_python_version_stays_a_string(plan: Plan) -> None:
    setups = [s for s in all_steps(load(plan)) if s.get("uses", "").startswith("actions/setup-python@")]
    assert {s["with"]["python-version"] for s in setups} == {plan.python}


# --------------------------------------------------------------------------- user strings


@pytest.mark.parametrize("command", TRICKY)
def test_yaml_ambiguous_command_reads_back_identical(command: str) -> None:
    plan = with_commands(minimal_plan(), (command,))
    assert github.read(github.render(plan)) == expected_jobs(plan)


def test_ambiguous_commands_survive_a_yaml_1_1_parser() -> None:
    yaml11 = pytest.importorskip("yaml")  # PyYAML: YAML 1.1 rules (yes/on are booleans there)
    plan = with_commands(minimal_plan(), TRICKY)
    doc = yaml11.safe_load(text_of(plan))
    runs = [s["run"] for s in doc["jobs"]["validate"]["steps"] if "run" in s]
    assert runs == [*plan.jobs[0].setup, *TRICKY]
    assert doc["on"]["push"]["branches"] == ["main"]


def test_ambiguous_branch_env_and_names_stay_strings() -> None:
    plan = replace(
        minimal_plan(),
        project="on",
        env=(("A", "yes"), ("B", "0o17"), ("C", "a: b")),
        triggers=Triggers(branches=("1_000", "on")),
    )
    doc = load(plan)
    assert doc["name"] == "mlgen on"
    assert doc["env"] == {"A": "yes", "B": "0o17", "C": "a: b"}
    assert doc["on"]["push"]["branches"] == ["1_000", "on"]


@pytest.mark.parametrize("name", ["on", "yes", "null", "no", "true"])
def test_job_ids_that_yaml_could_type_stay_strings(name: str) -> None:
    yaml11 = pytest.importorskip("yaml")
    plan = minimal_plan()
    first = replace(plan.jobs[0], name=name, produces=Artifact(name, (".mlgen/out/x",)))
    second = replace(plan.jobs[1], needs=(name,))
    plan = replace(plan, jobs=(first, second))
    assert github.read(github.render(plan)) == expected_jobs(plan)
    assert list(yaml11.safe_load(text_of(plan))["jobs"]) == [name, "train"]


@pytest.mark.parametrize(
    "change",
    [
        lambda p: with_commands(p, ("echo ${{ github.head_ref }}",)),
        lambda p: replace(p, jobs=(replace(p.jobs[0], setup=("pip install ${{x}}",)), *p.jobs[1:])),
        lambda p: replace(p, env=(("X", "${{ secrets.T }}"),)),
        lambda p: replace(p, triggers=Triggers(branches=("${{ evil }}",))),
        lambda p: replace(p, jobs=(replace(p.jobs[0], produces=Artifact("validate", ("${{ x }}",))),)),
    ],
)
def test_expressions_in_user_strings_are_rejected(change: Any) -> None:
    with pytest.raises(UnsafeValue, match=r"contains '\$\{\{'"):
        github.render(change(minimal_plan()))


@pytest.mark.parametrize("name", ["1job", "a.b", "a b", ""])
def test_job_names_that_are_not_job_ids_are_rejected(name: str) -> None:
    job = Job(name, "custom", ("true",))
    with pytest.raises(UnsafeValue, match="not a valid GitHub Actions job id"):
        github.render(replace(minimal_plan(), jobs=(job,)))


@pytest.mark.parametrize("path", ["a\nb", "", "a*b", "a:b", 'a"b', "a/./b"])
def test_artifact_paths_github_cannot_upload_are_rejected(path: str) -> None:
    job = replace(minimal_plan().jobs[0], produces=Artifact("validate", (path,)))
    with pytest.raises(UnsafeValue, match="artifact path"):
        github.render(replace(minimal_plan(), jobs=(job,)))


# @actions/glob: `!` negates, `#` comments, `~/` is home, the line is trimmed, `[` `]` `\\` are
# pattern syntax; each is escaped so the pattern matches exactly the path.
GLOB_CASES = {
    "!x": "\\!x", "#x": "\\#x", "~/x": "\\~/x", " x ": "[ ]x[ ]", "a[1]b": "a\\[1\\]b",
    "back\\slash": "back\\\\slash", "données 中文/é.csv": "données 中文/é.csv", "x!#~": "x!#~",
}


@pytest.mark.parametrize("path", sorted(GLOB_CASES))
def test_artifact_paths_are_escaped_globs(path: str) -> None:
    from mlgen.backends.github.paths import glob_escape, glob_unescape

    assert glob_escape(path) == GLOB_CASES[path]
    assert glob_unescape(glob_escape(path)) == path
    job = replace(minimal_plan().jobs[0], produces=Artifact("validate", (path,)), cache="validate",
                  cache_inputs=(".mlgen/plan.json", path))
    plan = replace(minimal_plan(), jobs=(job,))
    (read,) = github.read(github.render(plan))
    assert read.artifact_paths == (path,) and read.cache_files == ()  # keyed on the runtime's key file


# --------------------------------------------------------------------------- the ML loop (issue 4)
# A plan with what the CI/CD-for-ML loop adds: drift-gated retraining below a monitor, reports
# and summaries, stage caches, and rollback jobs with their own workflow.

ROLLBACK_OUT = ".github/workflows/mlgen-rollback.yml"
RETRAIN = ("validate", "train", "select", "evaluate", "deploy-staging", "deploy-production")


def loop_plan() -> Plan:
    plan = full_plan()
    jobs: list[Job] = []
    for job in plan.jobs:
        if job.name == "monitor":
            job = reporting(replace(job, needs=("featurize",), consumes=("featurize",)),
                            (".mlgen/out/monitor/junit.xml",), ".mlgen/out/monitor/report.md")
        if job.name in RETRAIN:
            job = replace(job, on_drift=True, needs=tuple(sorted({*job.needs, "monitor"})))
        if job.kind in ("validate", "evaluate"):
            job = reporting(job, (f".mlgen/out/{job.kind}/junit.xml",), f".mlgen/out/{job.kind}/report.md")
        if job.kind in ("validate", "train", "select", "evaluate"):
            job = replace(job, cache=job.name, cache_inputs=(".mlgen/plan.json", "data/train.csv"))
        jobs.append(job)
    jobs.insert(1, jobs.pop())  # monitor right after featurize, before validate (topological)
    rollbacks = tuple(
        Job(f"rollback-{env}", "rollback", (f"{RT} rollback {P} --env {env}",), events=("rollback",),
            default_branch_only=True, environment=Environment(env, approval), timeout_minutes=60,
            setup=plan.jobs[0].setup)
        for env, approval in (("staging", "auto"), ("production", "manual"))
    )
    return reviewed(replace(plan, jobs=(*jobs, *rollbacks)))


def load_file(plan: Plan, path: str) -> Any:
    return YAML(typ="safe", pure=True).load(github.render(plan)[path])


def steps_of(job: dict[str, Any]) -> list[str]:
    """A job's steps as short labels: action name, `run`, or the helper step's id."""
    out = []
    for s in job["steps"]:
        if "uses" in s:
            out.append(s["uses"].split("@")[0].removeprefix("actions/"))
        else:
            out.append(s.get("id", "run"))
    return out


def test_loop_plan_renders_two_deterministic_files_with_headers() -> None:
    plan = loop_plan()
    files = github.render(plan)
    assert list(files) == [OUT, ROLLBACK_OUT]
    assert files == github.render(plan)
    head = [f"# {line}" for line in header_lines(plan)]
    for text in files.values():
        assert text.splitlines()[: len(head)] == head and text.endswith("\n") and not text.endswith("\n\n")


def test_loop_plan_round_trips_every_plan_job_and_no_helper() -> None:
    plan = loop_plan()
    assert github.read(github.render(plan)) == expected_jobs(plan)


def test_plans_without_rollback_jobs_have_one_workflow(plan: Plan) -> None:
    assert list(github.render(plan)) == [OUT]


def test_rollback_jobs_leave_the_main_workflow() -> None:
    jobs = load_file(loop_plan(), OUT)["jobs"]
    assert not [n for n in jobs if n.startswith("rollback-")]
    assert list(jobs)[-1] == "mlgen-pr-comment"


def test_rollback_workflow_is_a_dispatch_with_environment_and_version_inputs() -> None:
    doc = load_file(loop_plan(), ROLLBACK_OUT)
    assert doc["on"] == {"workflow_dispatch": {"inputs": {
        "environment": {"description": "Environment to roll back", "type": "choice", "required": True,
                        "options": ["staging", "production"]},
        "to": {"description": "Registry version to go back to (empty: the version deployed before the current one)",
               "type": "string", "required": False, "default": ""},
    }}}
    assert doc["permissions"] == {}
    assert doc["defaults"] == {"run": {"shell": "bash"}}
    assert list(doc["jobs"]) == ["rollback-staging", "rollback-production"]


def test_each_rollback_job_is_protected_and_serialized_with_its_deploys() -> None:
    plan = loop_plan()
    main_jobs = load_file(plan, OUT)["jobs"]
    for env in ("staging", "production"):
        job = load_file(plan, ROLLBACK_OUT)["jobs"][f"rollback-{env}"]
        assert job["if"] == f"inputs.environment == '{env}' && github.ref == 'refs/heads/main'"
        assert job["environment"] == {"name": env}
        assert job["concurrency"] == main_jobs[f"deploy-{env}"]["concurrency"] == {
            "group": f"deploy-{env}", "cancel-in-progress": False,
        }
        assert job["permissions"] == {"contents": "read"}
        # the version never reaches run: as code; the registry location is the repository variable
        assert job["env"] == {"MLGEN_ROLLBACK_TO": "${{ inputs.to }}", "MLGEN_REGISTRY": "${{ vars.MLGEN_REGISTRY }}"}
        assert steps_of(job) == ["checkout", "setup-python", "run", "run"]
        assert job["steps"][0]["with"]["persist-credentials"] is False
        assert [s["run"] for s in job["steps"] if "run" in s] == [
            *plan.job(f"rollback-{env}").setup, f"{RT} rollback {P} --env {env}",
        ]
    assert "# approval: manual - add required reviewers to environment 'production'" in github.render(plan)[ROLLBACK_OUT]


def test_monitor_publishes_its_verdict_as_a_job_output() -> None:
    monitor = load_file(loop_plan(), OUT)["jobs"]["monitor"]
    assert monitor["outputs"] == {"drifted": "${{ steps.mlgen-drift.outputs.drifted }}"}
    assert steps_of(monitor) == [
        "checkout", "setup-python", "download-artifact", "run", "run", "mlgen-drift", "mlgen-summary", "upload-artifact",
    ]
    drift = monitor["steps"][5]
    assert drift["run"] == 'echo "drifted=$(cat .mlgen/out/monitor/drifted)" >> "$GITHUB_OUTPUT"'
    assert "if" not in drift  # only after the monitor command succeeded


def test_no_monitor_output_without_retraining_jobs() -> None:
    plan = loop_plan()
    plain = replace(plan, jobs=tuple(replace(j, on_drift=False) for j in plan.jobs))
    assert "outputs" not in load_file(plain, OUT)["jobs"]["monitor"]


def test_retraining_jobs_run_on_their_events_or_on_drift_and_never_after_a_failure() -> None:
    jobs = load_file(loop_plan(), OUT)["jobs"]
    usual = ("github.event_name == 'workflow_dispatch' || github.event_name == 'pull_request'"
             " || github.event_name == 'push'")
    drift = "github.event_name == 'schedule' && needs.monitor.outputs.drifted == 'true'"
    assert jobs["validate"]["if"] == (
        f"!cancelled() && !failure() && needs.featurize.result == 'success' && (({usual}) || ({drift}))"
    )
    main = "github.ref == 'refs/heads/main'"
    assert jobs["deploy-production"]["if"] == (
        "!cancelled() && !failure() && needs.deploy-staging.result == 'success'"
        " && needs.evaluate.result == 'success' && needs.select.result == 'success'"
        f" && (((github.event_name == 'workflow_dispatch' || github.event_name == 'push') && {main})"
        f" || ({drift} && {main}))"
    )
    # the monitor itself keeps its plain event condition
    assert jobs["monitor"]["if"] == "github.event_name == 'workflow_dispatch' || github.event_name == 'schedule'"
    assert "monitor" in jobs["validate"]["needs"]


def test_a_job_below_the_monitor_that_does_not_retrain_states_its_needs() -> None:
    plan = loop_plan()
    notify = Job("notify", "custom", ("echo done",), needs=("deploy-production",), events=("manual", "push"),
                 default_branch_only=True)
    plan = replace(plan, jobs=(*plan.jobs, notify))
    assert load_file(plan, OUT)["jobs"]["notify"]["if"] == (
        "!cancelled() && !failure() && needs.deploy-production.result == 'success'"
        " && ((github.event_name == 'workflow_dispatch' || github.event_name == 'push')"
        " && github.ref == 'refs/heads/main')"
    )


def test_reports_go_to_the_step_summary_and_are_uploaded_after_failures() -> None:
    jobs = load_file(loop_plan(), OUT)["jobs"]
    for name in ("validate", "evaluate"):
        steps = jobs[name]["steps"]
        summary = next(s for s in steps if s.get("id") == "mlgen-summary")
        assert summary["if"] == "always()"
        assert summary["env"] == {"MLGEN_REPORT": f".mlgen/out/{name}/report.md"}
        assert summary["run"] == 'if [ -f "$MLGEN_REPORT" ]; then cat "$MLGEN_REPORT" >> "$GITHUB_STEP_SUMMARY"; fi'
        upload = steps[-1]
        assert upload["uses"].startswith("actions/upload-artifact@") and upload["if"] == "always()"
        assert steps.index(summary) == len(steps) - 2
    # jobs without reports upload only on success (a failed training has nothing to hand on)
    assert "if" not in jobs["train"]["steps"][-1]
    assert not [s for s in jobs["train"]["steps"] if s.get("id", "").startswith("mlgen-")]


def test_reports_outside_the_produced_paths_get_their_own_artifact() -> None:
    plan = loop_plan()
    jobs = tuple(
        reporting(j, ("reports/validate.xml",), "reports/validate.md") if j.name == "validate" else j
        for j in plan.jobs
    )
    steps = load_file(replace(plan, jobs=jobs), OUT)["jobs"]["validate"]["steps"]
    extra = steps[-1]
    assert extra["if"] == "always()"
    assert extra["with"]["name"] == "mlgen-reports-validate"
    assert extra["with"]["path"].splitlines() == [".mlgen-artifact-root", "reports/validate.xml", "reports/validate.md"]
    assert extra["with"]["if-no-files-found"] == "ignore"


def test_pr_comment_job_posts_the_evaluation_with_a_write_grant_of_its_own() -> None:
    plan = loop_plan()
    text = github.render(plan)[OUT]
    job = load_file(plan, OUT)["jobs"]["mlgen-pr-comment"]
    assert job["if"] == (
        "!cancelled() && github.event_name == 'pull_request'"
        " && github.event.pull_request.head.repo.full_name == github.repository"
        " && needs.evaluate.result != 'skipped'"
    )
    assert job["needs"] == ["evaluate"]
    assert job["permissions"] == {"pull-requests": "write"}
    assert "pull-requests: write  # create/edit the report comment" in text
    assert text.count("pull-requests: write") == 1  # no other job can write
    assert job["timeout-minutes"] > 0 and job["runs-on"] == "ubuntu-24.04"
    download, comment = job["steps"]
    assert download["with"] == {"name": "evaluate", "path": "."}
    assert comment["id"] == "mlgen-comment"
    assert comment["env"] == {"GH_TOKEN": "${{ github.token }}", "PR_NUMBER": "${{ github.event.pull_request.number }}"}
    script = comment["run"]
    assert script.startswith("report=.mlgen/out/evaluate/report.md\n")
    # found again by its marker and author, edited in place; created the first time
    assert "{ echo '<!-- mlgen:report -->'; cat \"$report\"; } > \"$body\"" in script
    assert '.user.login == "github-actions[bot]"' in script and "--method PATCH" in script
    assert 'gh pr comment "$PR_NUMBER" --repo "$GITHUB_REPOSITORY" --body-file "$body"' in script
    assert "${{" not in script
    assert "pull_request_target" not in text


@pytest.mark.parametrize(
    "change",
    [
        lambda p: replace(p, triggers=replace(p.triggers, pull_requests=False)),
        lambda p: replace(p, jobs=tuple(replace(j, summary=None, posts_review=None) if j.kind == "evaluate" else j for j in p.jobs)),
    ],
    ids=["no-pull-requests", "no-report"],
)
def test_no_pr_comment_job_without_pull_requests_or_report(change: Any) -> None:
    assert "mlgen-pr-comment" not in load_file(change(loop_plan()), OUT)["jobs"]


def test_stage_cache_is_restored_before_the_commands_and_saved_under_the_runtime_key() -> None:
    jobs = load_file(loop_plan(), OUT)["jobs"]
    assert steps_of(jobs["select"]) == [
        "checkout", "setup-python", "download-artifact", "download-artifact", "cache/restore", "run", "run",
        "cache/save", "upload-artifact",
    ]
    restore, save = jobs["select"]["steps"][4], jobs["select"]["steps"][7]
    assert restore["uses"].split("@")[1] == save["uses"].split("@")[1] == pin("actions/cache").commit
    assert restore["if"] == "${{ !startsWith(github.ref, 'refs/tags/') }}"
    # a prefix: GitHub restores the newest entry of the slot; the runtime checks its own key
    assert restore["with"] == {"path": ".mlgen/cache/select", "key": "mlgen-${{ runner.os }}-select-"}
    # saved under the runtime's key (it covers the champion): a new key is saved, an old one not
    assert save["with"] == {
        "path": ".mlgen/cache/select",
        "key": "mlgen-${{ runner.os }}-select-${{ hashFiles('.mlgen/cache/select/key') }}",
    }
    assert save["if"] == ("${{ success() && !startsWith(github.ref, 'refs/tags/') && "
                          "hashFiles('.mlgen/cache/select/key') != '' }}")
    shard = [s for s in jobs["train"]["steps"] if s.get("uses", "").startswith("actions/cache/")]
    assert [s["with"] for s in shard] == [
        {"path": ".mlgen/cache/train-shard-${{ matrix.shard }}", "key": "mlgen-${{ runner.os }}-train-shard-${{ matrix.shard }}-"},
        {"path": ".mlgen/cache/train-shard-${{ matrix.shard }}",
         "key": "mlgen-${{ runner.os }}-train-shard-${{ matrix.shard }}-"
                "${{ hashFiles(format('.mlgen/cache/train-shard-{0}/key', matrix.shard)) }}"},
    ]


def test_no_stage_cache_for_deploys_even_if_asked() -> None:
    plan = loop_plan()
    jobs = tuple(replace(j, cache=j.name, cache_inputs=(".mlgen/plan.json", "data/train.csv")) if j.environment else j for j in plan.jobs)
    files = github.render(replace(plan, jobs=jobs))
    for path in (OUT, ROLLBACK_OUT):
        for name, job in YAML(typ="safe", pure=True).load(files[path])["jobs"].items():
            if name.startswith(("deploy-", "rollback-")):
                assert "cache" not in steps_of(job), name


@pytest.mark.parametrize("name", ["a b", "x,y", "../up", "-x"])
def test_unsafe_cache_names_are_rejected(name: str) -> None:
    plan = minimal_plan()
    job = replace(plan.jobs[0], cache=name, cache_inputs=(".mlgen/plan.json",))
    with pytest.raises(UnsafeValue, match="cache name"):
        github.render(replace(plan, jobs=(job, *plan.jobs[1:])))


@pytest.mark.parametrize("name", ["mlgen-x", "MLGEN", "mlgenerate"])
def test_job_names_reserved_for_helpers_are_rejected(name: str) -> None:
    with pytest.raises(UnsafeValue, match="reserved"):
        github.render(replace(minimal_plan(), jobs=(Job(name, "custom", ("true",)),)))


def test_security_rules_hold_in_both_loop_workflows() -> None:
    files = github.render(loop_plan())
    for path, text in files.items():
        doc = YAML(typ="safe", pure=True).load(text)
        assert doc["permissions"] == {}, path
        steps = [s for job in doc["jobs"].values() for s in job["steps"]]
        assert not [s["run"] for s in steps if "run" in s and "${{" in s["run"]], path
        for job in doc["jobs"].values():
            assert job["timeout-minutes"] > 0
            assert set(job["permissions"]) <= {"contents", "pull-requests"}


def test_release_branches_build_without_the_stage_cache() -> None:
    """A restored cache in a release build could be poisoned (zizmor: cache-poisoning): a
    workflow that also builds release branches restores none."""
    plan = loop_plan()
    plan = replace(plan, triggers=replace(plan.triggers, branches=("main", "Release/2.x")))
    text = github.render(plan)[OUT]
    assert "actions/cache@" not in text
    assert "# no stage cache: this workflow also builds release branches ('Release/2.x')" in text


@pytest.mark.parametrize("branches", [("main",), ("main", "release/1.x")], ids=["main", "release"])
def test_judges_accept_the_loop_workflows(tmp_path: Any, branches: tuple[str, ...]) -> None:
    from tests.support import judges

    plan = loop_plan()
    files = github.render(replace(plan, triggers=replace(plan.triggers, branches=branches)))
    paths = []
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        paths.append(p)
    judges.check_jsonschema("vendor.github-workflows", paths)
    judges.actionlint(paths)
    judges.zizmor(paths, persona="auditor")


def test_pr_comment_downloads_the_report_where_it_was_uploaded() -> None:
    plan = loop_plan()
    jobs = tuple(reporting(j, j.reports, "reports/evaluate.md") if j.name == "evaluate" else j for j in plan.jobs)
    comment = load_file(replace(plan, jobs=jobs), OUT)["jobs"]["mlgen-pr-comment"]
    assert comment["steps"][0]["with"] == {"name": "mlgen-reports-evaluate", "path": "."}
    assert comment["steps"][1]["run"].startswith("report=reports/evaluate.md\n")


# @actions/glob trims each line, reads `#` as a comment and `!` as a negation, then matches with
# minimatch (dot, nobrace, noext, nocomment, nonegate). Checked here with the minimatch the judges
# install: each escaped pattern survives that reading and matches its path and no decoy.
TRICKY_NAMES = ["in put é.csv", "a[1].csv", "{a,b}.txt", "it's #1 ~b & c (2).csv", "中文 数据.csv", "back\\slash",
                "!neg", "#hash", " lead and trail ", "~", "+(x)", "%p@q=s;t"]
DECOYS = ["in", "a1.csv", "a.txt", "neg", "hash", "lead and trail", "x", "backslash", "back/slash"]


def test_glob_escapes_match_exactly_their_path_under_minimatch(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from mlgen.backends.github.paths import glob_escape
    from tests.support import judges

    modules = judges.tools_dir() / "node" / "node_modules"
    node = shutil.which("node")
    if node is None or not (modules / "minimatch").is_dir():
        pytest.skip("node or the judges' minimatch is not installed (scripts/install-judges.sh)")
    cases = [{"pattern": glob_escape(n), "name": n} for n in TRICKY_NAMES]
    script = """
const {Minimatch} = require("minimatch");
const {cases, decoys} = JSON.parse(require("fs").readFileSync(0, "utf8"));
const opts = {dot: true, nobrace: true, noext: true, nocomment: true, nonegate: true};
const out = cases.map(({pattern, name}) => {
  const line = pattern.trim();
  const mm = new Minimatch(line, opts);
  return {name, kept: line === pattern && !line.startsWith("!") && !line.startsWith("#"),
          own: mm.match(name), decoys: decoys.filter((d) => d !== name && mm.match(d))};
});
console.log(JSON.stringify(out));
"""
    proc = subprocess.run([node, "-e", script], input=json.dumps({"cases": cases, "decoys": DECOYS + TRICKY_NAMES}),
                          capture_output=True, text=True, env={"NODE_PATH": str(modules), "PATH": ""}, check=True)
    for result in json.loads(proc.stdout):
        assert result == {"name": result["name"], "kept": True, "own": True, "decoys": []}, result
