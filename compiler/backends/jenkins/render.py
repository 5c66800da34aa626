"""Plan -> `Jenkinsfile`. Layout only: model.py decides every value, and every user string goes
through groovy.py's `groovy_sq` (or `groovy_comment` for the header).

Plain Python rather than a Jinja2 template: importing and loading Jinja cost more of a compile
than the whole render. Each function returns the lines of one construct without indentation;
the caller nests them with `_indent`, so every indent is visible where the block is placed.
"""

from __future__ import annotations

from mlgen.backends.jenkins.groovy import groovy_comment, groovy_sq, groovy_sq_lines
from mlgen.backends.jenkins.model import Archive, Cond, Param, Pipeline, Stage, When, pipeline
from mlgen_runtime.contract import Plan

OUTPUT = "Jenkinsfile"

Lines = list[str]


def _indent(lines: Lines, width: int = 4) -> Lines:
    # Blank lines stay empty: no trailing whitespace in the file.
    pad = " " * width
    return [pad + line if line else line for line in lines]


def groovy_args(args: tuple[tuple[str, str], ...]) -> str:
    """Arguments of a `when` condition: ` 'v'`, ` key: 'v', key2: 'w'`, or `()` for none."""
    if not args:
        return "()"
    return " " + ", ".join(f"{k}: {groovy_sq(v)}" if k else groovy_sq(v) for k, v in args)


# --------------------------------------------------------------------------- when


def _conditions(conds: tuple[Cond, ...]) -> Lines:
    """Conditions one after another, each under its `//` note."""
    out: Lines = []
    for c in conds:
        if c.note is not None:
            out.append(f"// {c.note}")
        out += cond(c)
    return out


def cond(c: Cond) -> Lines:
    if c.expr is not None:
        return [f"expression {{ {c.expr} }}"]
    if c.children is None:
        return [c.op + groovy_args(c.args)]
    if c.op == "not" and c.children[0].children is None:
        # A negated leaf fits on one line, which leaves no room for its note.
        (inner,) = cond(c.children[0])
        return [f"not {{ {inner} }}"]
    return [f"{c.op} {{", *_indent(_conditions(c.children)), "}"]


def when(w: When) -> Lines:
    body = [f"{flag} true" for flag in w.before] + _conditions(w.conditions)
    return ["when {", *_indent(body), "}"]


# --------------------------------------------------------------------------- stage


def agent(image: str, docker_args: str) -> Lines:
    docker = [f"image {groovy_sq(image)}", f"args {groovy_sq(docker_args)}"]
    return ["agent {", *_indent(["docker {", *_indent(docker), "}"]), "}"]


def stage_environment(s: Stage) -> Lines:
    body = [f"{name} = {groovy_sq(value)}" for name, value in s.env]
    body += [f"{name} = credentials({groovy_sq(name)})" for name in s.credentials]
    return ["environment {", *_indent(body), "}"]


def stage_options(s: Stage) -> Lines:
    body: Lines = []
    if s.timeout_minutes is not None:
        body.append(f"timeout(time: {s.timeout_minutes}, unit: 'MINUTES')")
    if s.lock is not None:
        body.append(f"lock(resource: {groovy_sq(s.lock)})")
    return ["options {", *_indent(body), "}"]


def approval(s: Stage) -> Lines:
    assert s.input_message is not None
    body = [f"message {groovy_sq(s.input_message)}", f"ok {groovy_sq(s.input_ok)}"]
    return ["input {", *_indent(body), "}"]


def steps(s: Stage) -> Lines:
    """Downloads, shell lines, variables read back for later `when`s, then the upload."""
    body = [f"unstash {groovy_sq(name)}" for name in s.unstash]
    body += [f"sh {groovy_sq(line)}" for line in s.sh]
    for name, path in s.read_env:
        body += ["script {", *_indent([f"env.{name} = readFile({groovy_sq(path)}).trim()"]), "}"]
    if s.stash is not None:
        # no default excludes: a declared output named `x~` or `#x#` must travel too (paths.py)
        body.append(f"stash name: {groovy_sq(s.stash.name)}, includes: {groovy_sq(s.stash.includes)}, useDefaultExcludes: false")
    return ["steps {", *_indent(body), "}"]


def post(a: Archive) -> Lines:
    always: Lines = []
    if a.junit is not None:
        always.append(f"junit allowEmptyResults: true, testResults: {groovy_sq(a.junit)}")
    if a.artifacts is not None:
        always.append(
            f"archiveArtifacts artifacts: {groovy_sq(a.artifacts)}, allowEmptyArchive: true, fingerprint: false"
        )
    return [
        "// Recorded even when a check or gate failed the stage.",
        "post {",
        *_indent(["always {", *_indent(always), "}"]),
        "}",
    ]


def stage(s: Stage) -> Lines:
    """Blocks in the order Jenkins' declarative syntax documents them."""
    body: Lines = []
    if s.image is not None:
        body += agent(s.image, s.docker_args)
    if s.env or s.credentials:
        body += stage_environment(s)
    if s.timeout_minutes is not None or s.lock is not None:
        body += stage_options(s)
    if s.when is not None:
        body += when(s.when)
    if s.input_message is not None:
        body += approval(s)
    if s.parallel:
        # A parallel parent has no steps of its own: its shards are whole stages.
        shards = [line for p in s.parallel for line in stage(p)]
        body += ["parallel {", *_indent(shards), "}"]
    else:
        body += steps(s)
    if s.post is not None:
        body += post(s.post)
    return [f"stage({groovy_sq(s.name)}) {{", *_indent(body), "}"]


# --------------------------------------------------------------------------- pipeline


def pipeline_options(p: Pipeline) -> Lines:
    discarder = (
        f"buildDiscarder(logRotator(numToKeepStr: {groovy_sq(p.builds_to_keep)}, "
        f"artifactDaysToKeepStr: {groovy_sq(p.artifact_days_to_keep)}, "
        f"artifactNumToKeepStr: {groovy_sq(p.artifact_builds_to_keep)}))"
    )
    body = ["disableConcurrentBuilds()", f"timeout(time: {p.timeout_minutes}, unit: 'MINUTES')", discarder]
    return ["options {", *_indent(body), "}"]


def triggers(branch: str, cron_lines: tuple[str, ...]) -> Lines:
    cron = f"cron(env.BRANCH_NAME == {groovy_sq(branch)} ? {groovy_sq_lines(cron_lines)} : '')"
    return [
        "// Cron only in the default branch's job; other branch and pull-request jobs get no timer.",
        "triggers {",
        *_indent([cron]),
        "}",
    ]


def param(q: Param) -> str:
    if q.kind == "choice":
        choices = ", ".join(groovy_sq(c) for c in q.choices)
        return f"choice(name: {groovy_sq(q.name)}, choices: [{choices}], description: {groovy_sq(q.description)})"
    return (
        f"string(name: {groovy_sq(q.name)}, defaultValue: {groovy_sq(q.default)}, "
        f"description: {groovy_sq(q.description)})"
    )


def parameters(params: tuple[Param, ...]) -> Lines:
    return [
        '// Rollback: "Build with Parameters" in the default branch\'s job. The first build of a branch',
        "// registers the parameters; Jenkins passes them to every `sh` as environment variables.",
        "parameters {",
        *_indent([param(q) for q in params]),
        "}",
    ]


def pipeline_environment(env: tuple[tuple[str, str], ...]) -> Lines:
    return ["environment {", *_indent([f"{name} = {groovy_sq(value)}" for name, value in env]), "}"]


def pipeline_block(p: Pipeline) -> Lines:
    """The `pipeline { }` block; optional sections are each preceded by a blank line."""
    body = [
        "// No global agent: an approval waits without holding an executor; each stage takes its own.",
        "agent none",
        "",
        *pipeline_options(p),
    ]
    if p.cron_branch is not None:
        body += ["", *triggers(p.cron_branch, p.cron_lines)]
    if p.params:
        body += ["", *parameters(p.params)]
    if p.env:
        body += ["", *pipeline_environment(p.env)]
    stages = [line for s in p.stages for line in stage(s)]
    body += ["", "// Stages run in plan order, which satisfies every job's needs.", "stages {", *_indent(stages), "}"]
    return ["pipeline {", *_indent(body), "}"]


def jenkinsfile(p: Pipeline) -> str:
    """The whole file: the header as `//` comments, a blank line, the pipeline; one final newline."""
    lines = [f"// {groovy_comment(line)}" for line in p.header] + ["", *pipeline_block(p)]
    return "\n".join(lines) + "\n"


def render(plan: Plan) -> dict[str, str]:
    return {OUTPUT: jenkinsfile(pipeline(plan))}
