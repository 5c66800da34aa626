"""Jenkins backend: deterministic output, round trip, Groovy-safe strings, deploy guards,
rollback parameters, retraining on drift and reports. (What the conditions *do* for each kind of
build is executed in tests/test_exec_jenkins.py.)"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from mlgen.backends import jenkins
from mlgen.backends.common import GENERATED_MARKER, ReadJob
from mlgen.backends.jenkins.groovy import groovy_comment, groovy_sq, groovy_sq_lines, parse, unescape_sq
from mlgen_runtime.contract import MONITOR_RESULT, Artifact, Environment, Job, Plan, Triggers
from tests.support.sample_plans import full_plan, minimal_plan, reporting

OUT = "Jenkinsfile"
RETRAIN = ("validate", "train", "select", "evaluate", "deploy-staging", "deploy-production")
REPORTING = ("validate", "evaluate", "monitor")


def loop_plan() -> Plan:
    """full_plan with the issue-4 loop: drift-gated retraining, reports, caches, rollback jobs."""
    plan = full_plan()
    jobs = []
    for j in plan.jobs:
        if j.name in RETRAIN:
            j = replace(j, on_drift=True, needs=tuple(sorted({*j.needs, "monitor"})))
        if j.kind in REPORTING:
            j = reporting(j, (f".mlgen/out/{j.kind}/junit.xml",), f".mlgen/out/{j.kind}/report.md")
        if j.kind in ("validate", "train", "select", "evaluate"):
            j = replace(j, cache=j.name, cache_inputs=(".mlgen/plan.json", "data/train.csv"))
        jobs.append(j)
    monitor = next(j for j in jobs if j.name == "monitor")
    jobs = [monitor, *(j for j in jobs if j.name != "monitor")]  # the monitor decides first
    for env in ("staging", "production"):
        jobs.append(Job(f"rollback-{env}", "rollback", (f"python -m mlgen_runtime rollback --plan .mlgen/plan.json --env {env}",),
                        events=("rollback",), default_branch_only=True,
                        environment=Environment(env, "manual" if env == "production" else "auto")))
    return replace(plan, jobs=tuple(jobs))


PLANS = {"full": full_plan, "minimal": minimal_plan, "loop": loop_plan}
HOSTILE = (
    "echo 'single'",
    "echo back\\slash",
    "echo ${env.X}",
    "echo $HOME",
    'echo "double $PATH"',
    "echo \\'",
    "echo \\\\'",
    "ends with \\",
    "'",
    "\\",
    "\\u0041 \\n \\t \\$",
    "'''",
    '"""',
    "${'$'}{x}",
    "ünïcödé ✓ 🚀 中文",
    "tab\there",
    "",
)
# A Groovy single-quoted literal: no raw quote, no raw newline, every backslash escapes one char.
SQ = r"'(?:[^'\\\n]|\\.)*'"


def text(plan: Plan) -> str:
    return jenkins.render(plan)[OUT]


def expected_jobs(plan: Plan) -> list[ReadJob]:
    # stash patterns are `<path>/**`: a trailing slash of a folder is not written twice
    return [ReadJob(j.name, None, j.setup + j.commands, j.shards,
                    tuple(p.rstrip("/") for p in j.produces.paths) if j.produces else ()) for j in plan.jobs]


def stage_block(src: str, name: str) -> str:
    """The source of top-level stage `name` (from its header to the next top-level stage)."""
    start = src.index(f"        stage({groovy_sq(name)}) {{\n")
    nxt = src.find("\n        stage(", start + 1)
    return src[start : nxt if nxt != -1 else len(src)]


def code_outside_literals(src: str) -> str:
    """The source without `//` comment lines and with every single-quoted literal emptied."""
    code = "\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith("//"))
    return re.sub(SQ, "''", code)


def with_commands(plan: Plan, commands: tuple[str, ...]) -> Plan:
    first = replace(plan.jobs[0], commands=commands)
    return replace(plan, jobs=(first, *plan.jobs[1:]))


# --------------------------------------------------------------------------- output shape


@pytest.mark.parametrize("name", sorted(PLANS))
def test_render_is_deterministic_and_ends_with_one_newline(name: str) -> None:
    a, b = jenkins.render(PLANS[name]()), jenkins.render(PLANS[name]())
    assert a == b
    assert list(a) == [OUT]
    assert a[OUT].endswith("}\n") and not a[OUT].endswith("\n\n")


@pytest.mark.parametrize("name", sorted(PLANS))
def test_header_names_spec_and_says_generated(name: str) -> None:
    first = text(PLANS[name]()).splitlines()[0]
    assert first.startswith("// ") and GENERATED_MARKER in first and "mlproject.toml" in first


@pytest.mark.parametrize("name", sorted(PLANS))
def test_round_trip(name: str) -> None:
    plan = PLANS[name]()
    assert jenkins.read(jenkins.render(plan)) == expected_jobs(plan)


@pytest.mark.parametrize("name", sorted(PLANS))
def test_pipeline_options(name: str) -> None:
    plan = PLANS[name]()
    src = text(plan)
    assert "    agent none\n" in src
    options = re.search(r"\n    options \{\n(.*?)\n    \}\n", src, re.S)
    assert options is not None
    body = options.group(1)
    assert "disableConcurrentBuilds()" in body
    assert f"timeout(time: {plan.timeout_minutes}, unit: 'MINUTES')" in body
    assert "buildDiscarder(logRotator(numToKeepStr: '30'," in body
    assert f"artifactDaysToKeepStr: '{plan.artifact_expire_days}'" in body
    assert "environment {\n        PYTHONPATH = '.mlgen/runtime'\n    }" in src


@pytest.mark.parametrize("name", sorted(PLANS))
def test_every_stage_that_runs_has_agent_and_timeout(name: str) -> None:
    plan = PLANS[name]()
    src = text(plan)
    for job in plan.jobs:
        block = stage_block(src, job.name)
        runs = block.count("steps {")
        assert runs == job.shards
        assert block.count(f"image 'python:{plan.python}'") == runs
        assert block.count(f"timeout(time: {job.timeout_minutes}, unit: 'MINUTES')") == runs


# --------------------------------------------------------------------------- Groovy safety


@pytest.mark.parametrize("name", sorted(PLANS))
def test_every_sh_argument_is_a_single_quoted_literal(name: str) -> None:
    plan = PLANS[name]()
    src = text(plan)
    sh_lines = [ln.strip() for ln in src.splitlines() if ln.strip().startswith("sh")]
    assert len(sh_lines) == sum((len(j.setup) + len(j.commands)) * j.shards for j in plan.jobs)
    for ln in sh_lines:
        assert re.fullmatch(rf"sh {SQ}", ln), ln


@pytest.mark.parametrize("name", sorted(PLANS))
def test_no_double_quoted_strings_at_all(name: str) -> None:
    # Stricter than "no double-quoted string containing `$`": no GString can exist at all.
    assert '"' not in code_outside_literals(text(PLANS[name]()))


def test_hostile_commands_stay_single_quoted_and_read_back() -> None:
    plan = with_commands(full_plan(), HOSTILE)
    src = text(plan)
    assert '"' not in code_outside_literals(src)  # the `"` and `$` of commands stay inside literals
    for ln in src.splitlines():
        if ln.strip().startswith("sh "):
            assert re.fullmatch(rf"sh {SQ}", ln.strip()), ln
    assert jenkins.read({OUT: src}) == expected_jobs(plan)


@pytest.mark.parametrize("s", HOSTILE)
def test_groovy_sq_round_trips_byte_identical(s: str) -> None:
    lit = groovy_sq(s)
    assert re.fullmatch(SQ, lit)
    assert unescape_sq(lit) == s
    assert unescape_sq(lit).encode() == s.encode()
    # and through the reader's tokenizer, as an argument of a step
    (node,) = parse(f"sh {lit}\n")
    assert node.strings() == [s]


def test_groovy_sq_escapes_backslash_before_quote() -> None:
    assert groovy_sq("a'b") == "'a\\'b'"
    assert groovy_sq("a\\b") == "'a\\\\b'"
    assert groovy_sq("\\'") == "'\\\\\\''"
    assert groovy_sq("${x}") == "'${x}'"


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b"])
def test_groovy_sq_rejects_line_breaks_and_nul(bad: str) -> None:
    with pytest.raises(ValueError, match="Groovy cannot hold"):
        groovy_sq(bad)


def test_groovy_sq_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        groovy_sq(3)  # type: ignore[arg-type]


def test_groovy_sq_lines_joins_with_escape() -> None:
    assert groovy_sq_lines(("TZ=UTC", "0 6 * * 1")) == "'TZ=UTC\\n0 6 * * 1'"


def test_unescape_understands_groovy_escapes_we_do_not_emit() -> None:
    assert unescape_sq("'\\u00e9\\t\\$\\\"'") == 'é\t$"'
    assert unescape_sq("'\\ud83d\\ude80'") == "🚀"
    with pytest.raises(ValueError, match="unknown escape"):
        unescape_sq("'\\q'")


def test_comment_rejects_unicode_escape_and_newline() -> None:
    assert groovy_comment("path a\\\\u b") == "path a\\\\u b"  # escaped backslash: Groovy leaves it
    with pytest.raises(ValueError, match="decode"):
        groovy_comment("C:\\users")
    with pytest.raises(ValueError):
        groovy_comment("x\ny")


def test_newline_in_a_command_is_refused() -> None:
    with pytest.raises(ValueError, match="newline"):
        jenkins.render(with_commands(minimal_plan(), ("echo a\necho b",)))


def test_env_value_with_dollar_is_refused() -> None:
    # Jenkins resolves $VAR inside environment { } values, even single-quoted ones.
    with pytest.raises(ValueError, match="expand"):
        jenkins.render(replace(minimal_plan(), env=(("X", "a$HOME"),)))
    with pytest.raises(ValueError, match="identifier"):
        jenkins.render(replace(minimal_plan(), env=(("NOT-OK", "x"),)))


# --------------------------------------------------------------------------- stages


def test_shards_fan_out_into_parallel_stages_with_their_own_stash() -> None:
    src = text(full_plan())
    block = stage_block(src, "train")
    assert "parallel {" in block
    for i in (1, 2):
        assert f"stage('train-{i}') {{" in block
        assert f"MLGEN_SHARD_INDEX = '{i}'" in block
        assert f"stash name: 'train-{i}', includes: '.mlgen/out/trials/**'" in block
    assert block.count("MLGEN_SHARD_TOTAL = '2'") == 2
    select = stage_block(src, "select")
    assert "unstash 'featurize'\n" in select
    assert "unstash 'train-1'\n" in select and "unstash 'train-2'\n" in select
    assert re.search(r"unstash 'train-2'\n\s+sh ", select)  # downloads come first


def test_produced_artifact_is_stashed_after_the_commands() -> None:
    block = stage_block(text(minimal_plan()), "evaluate")
    steps = block[block.index("steps {") :]
    assert steps.index("unstash 'train'") < steps.index("sh ") < steps.index("stash name: 'evaluate'")
    assert "includes: '.mlgen/out/evaluate/**'" in steps


def test_manual_deploy_has_input_and_lock_decided_before_both() -> None:
    block = stage_block(text(full_plan()), "deploy-production")
    assert "lock(resource: 'mlgen-deploy-production')" in block
    assert re.search(r"input \{\n\s+message 'Deploy churn to production\?'\n\s+ok 'Deploy'\n\s+\}", block)
    for flag in ("beforeOptions true", "beforeInput true", "beforeAgent true"):
        assert flag in block
    assert "changeRequest target:" not in block  # never for pull requests
    assert "branch pattern: 'main', comparator: 'EQUALS'" in block


def test_auto_deploy_has_lock_but_no_input() -> None:
    block = stage_block(text(full_plan()), "deploy-staging")
    assert "lock(resource: 'mlgen-deploy-staging')" in block
    assert "input {" not in block and "beforeInput" not in block


def test_only_scheduled_jobs_run_in_timer_builds() -> None:
    plan = full_plan()
    src = text(plan)
    assert "cron(env.BRANCH_NAME == 'main' ? 'TZ=UTC\\n0 6 * * 1' : '')" in src
    for job in plan.jobs:
        block = stage_block(src, job.name)
        excluded = "not { triggeredBy 'TimerTrigger' }" in block
        assert excluded == ("schedule" not in job.events), job.name
    assert "triggeredBy 'TimerTrigger'" in stage_block(src, "monitor")


def test_no_triggers_without_schedules() -> None:
    assert "triggers {" not in text(minimal_plan())


def test_branches_are_matched_exactly() -> None:
    plan = replace(minimal_plan(), triggers=Triggers(branches=("main", "release/*")))
    block = stage_block(text(plan), "validate")
    assert "branch pattern: 'release/*', comparator: 'EQUALS'" in block
    assert "changeRequest target: 'release/*', comparator: 'EQUALS'" in block


def test_disabled_triggers_drop_their_conditions() -> None:
    plan = replace(minimal_plan(), triggers=Triggers(branches=("main",), pull_requests=False, manual=False))
    block = stage_block(text(plan), "validate")
    assert "changeRequest target" not in block
    assert "not { triggeredBy cause: 'UserIdCause' }" in block  # push still excludes user builds
    assert "triggeredBy cause: 'UserIdCause'\n" not in block  # but no manual alternative


def test_stage_name_clash_is_refused() -> None:
    plan = full_plan()
    clash = Job("train-1", "custom", ("true",), produces=Artifact("train-1", ("x",)))
    with pytest.raises(ValueError, match="used twice"):
        jenkins.render(replace(plan, jobs=(*plan.jobs, clash)))


def test_read_rejects_a_file_without_pipeline() -> None:
    with pytest.raises(ValueError, match="one pipeline"):
        jenkins.read({OUT: "// nothing\n"})


def test_hostile_names_and_environment_reach_the_file_as_literals() -> None:
    plan = minimal_plan()
    odd = replace(plan.jobs[0], name="it's\\odd", environment=Environment("pro'd", "manual"))
    plan = replace(plan, jobs=(odd, *plan.jobs[1:]))
    src = text(plan)
    assert "stage('it\\'s\\\\odd') {" in src
    assert "lock(resource: 'mlgen-deploy-pro\\'d')" in src
    assert jenkins.read({OUT: src})[0].name == "it's\\odd"


# --------------------------------------------------------------------------- rollback


def test_rollback_is_a_parameterized_build() -> None:
    src = text(loop_plan())
    params = re.search(r"\n    parameters \{\n(.*?)\n    \}\n", src, re.S)
    assert params is not None
    lines = [ln.strip() for ln in params.group(1).splitlines()]
    assert lines[0].startswith("choice(name: 'MLGEN_ROLLBACK', choices: ['', 'staging', 'production'], description: '")
    assert lines[1].startswith("string(name: 'MLGEN_ROLLBACK_TO', defaultValue: '', description: '")
    assert len(lines) == 2


def test_no_parameters_without_rollback_jobs() -> None:
    for plan in (minimal_plan(), full_plan()):
        src = text(plan)
        assert "parameters {" not in src and "params." not in src


def test_rollback_stages_run_only_for_their_environment() -> None:
    src = text(loop_plan())
    for env in ("staging", "production"):
        block = stage_block(src, f"rollback-{env}")
        assert f"expression {{ params.MLGEN_ROLLBACK == '{env}' }}" in block
        assert "!params.MLGEN_ROLLBACK" not in block
        assert f"lock(resource: 'mlgen-deploy-{env}')" in block
        assert "branch pattern: 'main', comparator: 'EQUALS'" in block
        assert "not { changeRequest() }" in block
        assert "beforeOptions true" in block
    production = stage_block(src, "rollback-production")
    assert re.search(r"input \{\n\s+message 'Roll churn back in production\?'\n\s+ok 'Roll back'\n\s+\}", production)
    assert "beforeInput true" in production
    assert "input {" not in stage_block(src, "rollback-staging")


def test_every_other_stage_is_skipped_in_a_rollback_build() -> None:
    plan = loop_plan()
    src = text(plan)
    for job in plan.jobs:
        block = stage_block(src, job.name)
        guarded = "expression { !params.MLGEN_ROLLBACK }" in block
        assert guarded == ("rollback" not in job.events), job.name


def test_rollback_environment_names_stay_literals() -> None:
    plan = loop_plan()
    odd = Environment("pro'd\\x", "manual")
    jobs = tuple(replace(j, environment=odd) if j.name == "rollback-production" else j for j in plan.jobs)
    src = text(replace(plan, jobs=jobs))
    assert "expression { params.MLGEN_ROLLBACK == 'pro\\'d\\\\x' }" in src
    assert "choices: ['', 'staging', 'pro\\'d\\\\x']" in src
    assert '"' not in code_outside_literals(src)


def test_rollback_job_without_environment_is_refused() -> None:
    plan = loop_plan()
    jobs = tuple(replace(j, environment=None) if j.name == "rollback-staging" else j for j in plan.jobs)
    with pytest.raises(ValueError, match="no environment"):
        jenkins.render(replace(plan, jobs=jobs))
    twice = tuple(replace(j, environment=Environment("staging")) if j.name == "rollback-production" else j
                  for j in plan.jobs)
    with pytest.raises(ValueError, match="two rollback jobs"):
        jenkins.render(replace(plan, jobs=twice))


# --------------------------------------------------------------------------- retraining on drift


def test_monitor_reads_its_verdict_into_a_build_variable() -> None:
    block = stage_block(text(loop_plan()), "monitor")
    steps = block[block.index("steps {") :]
    script = f"script {{\n                    env.MLGEN_DRIFTED = readFile('{MONITOR_RESULT}').trim()\n                }}"
    assert script in steps
    # after the monitor's commands, before its stash; and not an `sh` (parity counts those)
    assert steps.rindex("\n                sh '") < steps.index("script {") < steps.index("stash name: 'monitor'")


def test_only_the_monitor_reads_the_verdict() -> None:
    src = text(loop_plan())
    assert src.count("readFile(") == 1
    assert "MLGEN_DRIFTED" not in text(full_plan())  # a monitor, but nothing waits for its verdict


def test_drift_gated_stages_run_in_cron_builds_only_after_drift() -> None:
    plan = loop_plan()
    src = text(plan)
    drift = (
        "// schedule: retrain when the monitor stage found drift\n"
        "{i}allOf {{\n"
        "{i}    branch pattern: 'main', comparator: 'EQUALS'\n"
        "{i}    triggeredBy 'TimerTrigger'\n"
        "{i}    expression {{ env.MLGEN_DRIFTED == 'true' }}\n"
        "{i}}}"
    )
    for job in plan.jobs:
        block = stage_block(src, job.name)
        gated = "env.MLGEN_DRIFTED == 'true'" in block
        assert gated == job.on_drift, job.name
        if job.on_drift:
            indent = re.search(r"\n( +)// schedule: retrain", block).group(1)  # type: ignore[union-attr]
            assert drift.format(i=indent) in block
            # every other build: the usual events, and never a cron build
            assert "// builds other than cron" in block and "not { triggeredBy 'TimerTrigger' }" in block


def test_drift_gating_needs_a_monitor_job() -> None:
    plan = loop_plan()
    with pytest.raises(ValueError, match="no 'monitor' job"):
        jenkins.render(replace(plan, jobs=tuple(j for j in plan.jobs if j.name != "monitor")))


def test_negated_expression_reads_back() -> None:
    (node,) = parse("expression { !params.MLGEN_ROLLBACK }\n")
    (inner,) = node.body or []
    assert inner.name == "!" and [t.text for t in inner.args] == ["params", ".", "MLGEN_ROLLBACK"]


# --------------------------------------------------------------------------- reports and cache


def test_stages_with_reports_record_junit_and_archive_always() -> None:
    plan = loop_plan()
    src = text(plan)
    for job in plan.jobs:
        block = stage_block(src, job.name)
        if job.kind in REPORTING:
            k = job.kind
            assert re.search(
                r"\n            post \{\n                always \{\n"
                rf"                    junit allowEmptyResults: true, testResults: '\.mlgen/out/{k}/junit\.xml'\n"
                rf"                    archiveArtifacts artifacts: '\.mlgen/out/{k}/report\.md,\.mlgen/out/{k}/junit\.xml"
                + (rf",\.mlgen/out/{k}/plots/\*\.png" if k == "evaluate" else "") + "', "
                r"allowEmptyArchive: true, fingerprint: false\n",
                block,
            ), job.name
        else:
            assert "post {" not in block, job.name


def test_a_summary_without_junit_is_archived_only() -> None:
    plan = minimal_plan()
    jobs = (reporting(plan.jobs[0], (), "out/report.md"), *plan.jobs[1:])
    block = stage_block(text(replace(plan, jobs=jobs)), "validate")
    assert "archiveArtifacts artifacts: 'out/report.md'," in block and "junit " not in block


def test_sharded_stages_record_reports_per_shard() -> None:
    plan = loop_plan()
    jobs = tuple(reporting(j, ("r/junit.xml",), None) if j.name == "train" else j for j in plan.jobs)
    block = stage_block(text(replace(plan, jobs=jobs)), "train")
    assert block.count("junit allowEmptyResults: true, testResults: 'r/junit.xml'") == 2


def test_comma_in_a_report_path_is_refused() -> None:
    plan = minimal_plan()
    jobs = (reporting(plan.jobs[0], ("a,b.xml",), None), *plan.jobs[1:])
    with pytest.raises(ValueError, match="','"):
        jenkins.render(replace(plan, jobs=jobs))


def test_header_says_jenkins_has_no_cross_build_cache() -> None:
    src = text(loop_plan())
    header = " ".join(ln[3:] for ln in src[: src.index("\npipeline {")].splitlines() if ln.startswith("// "))
    assert "Jenkins has no built-in cross-build cache" in header
    assert "the runtime's own .mlgen/cache/ only helps when an agent reuses the workspace" in header
    assert "cross-build cache" not in text(full_plan())  # no job asks for a cache


def test_plugins_note_names_junit_when_reports_exist() -> None:
    assert "JUnit (test results)" in text(loop_plan())
    assert "JUnit" not in text(full_plan())
