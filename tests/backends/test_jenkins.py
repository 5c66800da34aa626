"""Jenkins backend: deterministic output, round trip, Groovy-safe strings, deploy guards."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from mlgen.backends import jenkins
from mlgen.backends.common import GENERATED_MARKER, ReadJob
from mlgen.backends.jenkins.groovy import groovy_comment, groovy_sq, groovy_sq_lines, parse, unescape_sq
from mlgen.plan.ir import Artifact, Environment, Job, Plan, Triggers
from tests.support.sample_plans import full_plan, minimal_plan

OUT = "Jenkinsfile"
PLANS = {"full": full_plan, "minimal": minimal_plan}
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
    return [ReadJob(j.name, None, plan.setup + j.commands, j.shards) for j in plan.jobs]


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
    assert len(sh_lines) == sum((len(plan.setup) + len(j.commands)) * j.shards for j in plan.jobs)
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
