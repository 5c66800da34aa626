"""Run a generated Jenkinsfile as written, without Jenkins: a step executor for the declarative
subset that the Jenkins backend emits.

No Jenkins exists offline, so the tests prove the Jenkinsfile does its job by executing it here.
The file is read with the backend's own Groovy reader (`mlgen.backends.jenkins.groovy.parse`);
everything else is emulated the way a Jenkins controller with the Docker Pipeline, Lockable
Resources and JUnit plugins would do it, for one simulated build (:class:`Build`):

- Directives: `agent none` / `agent { docker { image; args } }` (a docker agent is a NEW
  workspace: every stage runs in a fresh copy of the project, so only stashes carry files
  between stages; `-e K=V` docker args become environment, with the container's private /tmp
  mapped to a per-build folder), `options` (timeouts enforced, `lock` recorded),
  `triggers { cron(...) }` (a timer build needs a non-empty cron spec on its branch),
  `parameters` (choice / string; defaults, overrides, and choice validation), `environment`
  (literals, and `credentials('id')` secret text from the executor's credentials),
  `when` with `beforeOptions` / `beforeInput` / `beforeAgent` honoured in Jenkins' order,
  `input` (auto-approved unless the build rejects it; recorded), `parallel` (run one after the
  other; a failing branch does not stop its siblings), `post` (always / success / failure /
  unstable / cleanup).
- Conditions: `branch`, `changeRequest`, `triggeredBy` (matched against the build cause's class
  name, as Jenkins does), `environment`, `not` / `allOf` / `anyOf`, and exactly the
  `expression { }` forms the backend emits (`env.X == 'v'`, `params.X == 'v'`, `!params.X`).
- Steps: `sh` (a single-quoted literal only; run with `bash -e -o pipefail -c` in the stage's
  workspace), `stash` / `unstash` (Ant patterns with Jenkins' default excludes, into a
  build-scoped store), `script { env.X = readFile('p').trim() }`, `junit`, `archiveArtifacts`,
  `echo`.

Anything else (an unknown directive, step, condition or expression form) raises
:class:`UnsupportedConstruct` instead of being skipped, so a construct the executor does not
understand can never make a test pass.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlgen.backends.jenkins.groovy import Node, Token, parse, unescape_sq

Trigger = Literal["branch", "change_request", "timer", "user"]
Status = Literal["SUCCESS", "UNSTABLE", "FAILURE", "ABORTED", "SKIPPED"]

# The cause class Jenkins attaches to each kind of build; `triggeredBy 'X'` matches a cause whose
# class name contains X.
CAUSES: dict[str, str] = {
    "branch": "jenkins.branch.BranchEventCause",
    "change_request": "jenkins.branch.BranchEventCause",
    "timer": "hudson.triggers.TimerTrigger$TimerTriggerCause",
    "user": "hudson.model.Cause$UserIdCause",
}

JENKINS_URL = "http://jenkins.invalid/"

# Ant's DirectoryScanner default excludes, which stash / junit / archiveArtifacts apply.
DEFAULT_EXCLUDES = (
    "**/*~", "**/#*#", "**/.#*", "**/%*%", "**/._*",
    "**/CVS", "**/CVS/**", "**/.cvsignore", "**/SCCS", "**/SCCS/**", "**/vssver.scc",
    "**/.svn", "**/.svn/**", "**/.DS_Store",
    "**/.git", "**/.git/**", "**/.gitattributes", "**/.gitignore", "**/.gitmodules",
    "**/.hg", "**/.hg/**", "**/.hgignore", "**/.hgsub", "**/.hgsubstate", "**/.hgtags",
    "**/.bzr", "**/.bzr/**", "**/.bzrignore",
)  # fmt: skip

_UNITS = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "DAYS": 86400}
_SEVERITY = {"SUCCESS": 0, "UNSTABLE": 1, "FAILURE": 2, "ABORTED": 3}


class UnsupportedConstruct(Exception):
    """The Jenkinsfile uses something this executor does not emulate."""


class StepFailed(Exception):
    """A step failed the stage (what Jenkins reports as an error in the stage)."""

    def __init__(self, message: str, status: Status = "FAILURE") -> None:
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------- the build


@dataclass(frozen=True)
class Build:
    """One simulated build of a multibranch job.

    branch: a branch build of `branch` started by the SCM;  change_request: a pull request from
    `branch` into `target` (BRANCH_NAME is `PR-<change_id>`);  timer: the cron trigger of
    `branch`;  user: "Build" / "Build with Parameters" pressed by `user` on `branch`.
    """

    trigger: Trigger = "branch"
    branch: str = "main"
    target: str = "main"
    change_id: str = "1"
    number: int = 1
    params: Mapping[str, str] = field(default_factory=dict)
    user: str = "alice"
    reject: frozenset[str] = frozenset()  # stages whose `input` a person refuses

    @property
    def branch_name(self) -> str:
        return f"PR-{self.change_id}" if self.trigger == "change_request" else self.branch

    @property
    def cause(self) -> str:
        return CAUSES[self.trigger]


@dataclass
class StageRun:
    name: str
    status: Status
    reason: str = ""
    parent: str | None = None  # the parallel stage it belongs to
    workspace: Path | None = None
    commands: list[tuple[str, int]] = field(default_factory=list)  # (sh literal, exit code)
    log: str = ""


@dataclass(frozen=True)
class JUnitRecord:
    stage: str
    files: tuple[str, ...]  # workspace-relative
    tests: int
    failures: int
    errors: int
    skipped: int
    cases: tuple[tuple[str, str], ...]  # (name, "passed" | "failed" | "skipped")


@dataclass(frozen=True)
class Archived:
    stage: str
    files: tuple[str, ...]


@dataclass
class BuildResult:
    build: Build
    dir: Path
    result: Status = "SUCCESS"
    stages: dict[str, StageRun] = field(default_factory=dict)
    events: list[tuple[str, ...]] = field(default_factory=list)  # ("lock"|"input"|"agent"|..., stage, ...)
    junit: list[JUnitRecord] = field(default_factory=list)
    archived: list[Archived] = field(default_factory=list)
    stashes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # build-wide values set by `env.X = ...`
    cron: str | None = None

    @property
    def archive_dir(self) -> Path:
        return self.dir / "archive"

    def ran(self) -> list[str]:
        """Stages that executed steps (parallel branches by their own names), in order."""
        return [s.name for s in self.stages.values() if s.status != "SKIPPED" and s.workspace is not None]

    def status(self, name: str) -> Status:
        return self.stages[name].status

    def inputs(self) -> list[str]:
        return [e[1] for e in self.events if e[0] == "input"]

    def locks(self) -> list[tuple[str, str]]:
        return [(e[1], e[2]) for e in self.events if e[0] == "lock"]

    def junit_for(self, stage: str) -> list[JUnitRecord]:
        return [r for r in self.junit if r.stage == stage]

    def summary(self) -> str:
        """One line per stage, for assertion messages."""
        lines = [f"build #{self.build.number} ({self.build.trigger} {self.build.branch_name}): {self.result}"]
        for s in self.stages.values():
            lines.append(f"  {s.name}: {s.status}" + (f" ({s.reason})" if s.reason else ""))
            if s.status in ("FAILURE", "ABORTED"):
                lines.append("    " + s.log[-3000:].replace("\n", "\n    "))
        return "\n".join(lines)

    def _worsen(self, status: Status) -> None:
        if status != "SKIPPED" and _SEVERITY[status] > _SEVERITY[self.result]:
            self.result = status


# --------------------------------------------------------------------------- arguments


def _fail(node: Node | Token, message: str) -> UnsupportedConstruct:
    return UnsupportedConstruct(f"Jenkinsfile:{node.line}: {message}")


class _Args:
    """A Groovy argument list: `'a'`, `key: 'v', k2: true`, `(k: 1, l: ['x', 'y'])`, `f(...)`."""

    def __init__(self, tokens: list[Token], where: Node) -> None:
        self.toks, self.pos, self.where = tokens, 0, where

    def parse(self) -> tuple[list[Any], dict[str, Any]]:
        toks = self.toks
        wrapped = bool(toks) and toks[0].text == "(" and self._closing(0) == len(toks) - 1
        if wrapped:
            self.toks = toks[1:-1]
        positional, named = self._arglist(end=None)
        if self.pos != len(self.toks):
            raise _fail(self.where, f"cannot read the arguments of {self.where.name!r}")
        return positional, named

    def _closing(self, start: int) -> int:
        depth = 0
        for i in range(start, len(self.toks)):
            t = self.toks[i].text
            if t in ("(", "["):
                depth += 1
            elif t in (")", "]"):
                depth -= 1
                if depth == 0:
                    return i
        raise _fail(self.where, "unbalanced parentheses")

    def _peek(self, k: int = 0) -> Token | None:
        i = self.pos + k
        return self.toks[i] if i < len(self.toks) else None

    def _arglist(self, end: str | None) -> tuple[list[Any], dict[str, Any]]:
        positional: list[Any] = []
        named: dict[str, Any] = {}
        while (tok := self._peek()) is not None and tok.text != end:
            nxt = self._peek(1)
            if tok.kind == "word" and nxt is not None and nxt.text == ":":
                self.pos += 2
                named[tok.text] = self._value()
            else:
                positional.append(self._value())
            sep = self._peek()
            if sep is not None and sep.text == ",":
                self.pos += 1
            elif sep is not None and sep.text != end:
                raise _fail(sep, f"unexpected {sep.text!r} in the arguments of {self.where.name!r}")
        return positional, named

    def _value(self) -> Any:
        tok = self._peek()
        if tok is None:
            raise _fail(self.where, f"missing value in the arguments of {self.where.name!r}")
        self.pos += 1
        if tok.kind == "sq":
            return unescape_sq(tok.text)
        if tok.text == "[":
            items, named = self._arglist(end="]")
            if named:
                raise _fail(tok, "maps are not supported")
            self.pos += 1
            return items
        if tok.kind == "word" and tok.text in ("true", "false"):
            return tok.text == "true"
        if tok.kind == "word" and tok.text.isdigit():
            return int(tok.text)
        nxt = self._peek()
        if tok.kind == "word" and nxt is not None and nxt.text == "(":
            self.pos += 1
            args, named = self._arglist(end=")")
            self.pos += 1
            return ("call", tok.text, args, named)
        if tok.kind == "dq":
            raise _fail(tok, f"double-quoted string {tok.text} (a GString) in {self.where.name!r}")
        raise _fail(tok, f"unsupported value {tok.text!r} in the arguments of {self.where.name!r}")


def args_of(node: Node) -> tuple[list[Any], dict[str, Any]]:
    return _Args(list(node.args), node).parse()


def named_only(node: Node, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    positional, named = args_of(node)
    if positional:
        raise _fail(node, f"{node.name}: unexpected positional arguments {positional!r}")
    unknown = set(named) - allowed
    if unknown:
        raise _fail(node, f"{node.name}: unsupported arguments {sorted(unknown)}")
    missing = set(required) - set(named)
    if missing:
        raise _fail(node, f"{node.name}: missing arguments {sorted(missing)}")
    return named


def one_string(node: Node) -> str:
    """The single single-quoted literal argument of `sh 'x'`, `unstash 'x'`, `image 'x'`..."""
    if len(node.args) != 1 or node.args[0].kind != "sq" or node.body is not None:
        raise _fail(node, f"{node.name} must take exactly one single-quoted literal")
    return unescape_sq(node.args[0].text)


def no_args(node: Node) -> None:
    if node.args and [t.text for t in node.args] != ["(", ")"]:
        raise _fail(node, f"{node.name} takes no arguments here")


# --------------------------------------------------------------------------- Ant patterns


def _segment_regex(segment: str) -> re.Pattern[str]:
    out = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in segment)
    return re.compile(out)


def _match(pattern: list[str], path: list[str]) -> bool:
    if not pattern:
        return not path
    head = pattern[0]
    if head == "**":
        return any(_match(pattern[1:], path[i:]) for i in range(len(path) + 1))
    return bool(path) and bool(_segment_regex(head).fullmatch(path[0])) and _match(pattern[1:], path[1:])


def ant_match(pattern: str, path: str) -> bool:
    """Ant path matching, as Jenkins' DirectoryScanner does it (case-sensitive; a trailing `/`
    means `/**`; `**` matches zero or more directories, so `d/**` also matches a file `d`)."""
    pattern = pattern.strip().replace("\\", "/")
    if pattern.endswith("/"):
        pattern += "**"
    return _match([p for p in pattern.split("/") if p], [p for p in path.split("/") if p])


def scan(root: Path, includes: str, excludes: str = "", default_excludes: bool = True) -> list[str]:
    """Workspace-relative POSIX paths of the files matching comma-separated Ant `includes`
    (hudson.Util.createFileSet: split on `,`, each pattern trimmed)."""
    inc = [p for p in includes.split(",") if p.strip()]
    exc = [p for p in excludes.split(",") if p.strip()] + (list(DEFAULT_EXCLUDES) if default_excludes else [])
    found: list[str] = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            rel = (Path(dirpath) / f).relative_to(root).as_posix()
            if any(ant_match(p, rel) for p in inc) and not any(ant_match(p, rel) for p in exc):
                found.append(rel)
    return sorted(found)


def copy_files(src_root: Path, dst_root: Path, rels: list[str] | tuple[str, ...]) -> None:
    for rel in rels:
        dst = dst_root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src_root / rel, dst)


# --------------------------------------------------------------------------- the executor


@dataclass
class _StageCtx:
    """What a running stage sees."""

    name: str
    run: StageRun
    workspace: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    deadline: float = float("inf")


class JenkinsExecutor:
    """Executes one Jenkinsfile against copies of `project`.

    python_bin: a directory put first on PATH (the test's venv: `python` and its packages);
    agent_env: what the agent's operator configured (e.g. MLGEN_REGISTRY, PIP_NO_INDEX);
    credentials: the controller's secret-text credentials, id -> value (`credentials('id')`);
    workdir: where builds keep their workspaces, stashes, archives and test results.
    """

    def __init__(
        self,
        jenkinsfile: str,
        project: Path,
        workdir: Path,
        *,
        python_bin: Path,
        agent_env: Mapping[str, str] | None = None,
        credentials: Mapping[str, str] | None = None,
        job: str = "mlgen",
    ) -> None:
        self.project = Path(project)
        self.credentials = dict(credentials or {})  # secret-text credentials by id
        self.workdir = Path(workdir)
        self.python_bin = Path(python_bin)
        self.agent_env = dict(agent_env or {})
        self.job = job
        top = parse(jenkinsfile)
        pipelines = [n for n in top if n.name == "pipeline"]
        if len(top) != 1 or len(pipelines) != 1:
            raise UnsupportedConstruct("Jenkinsfile: expected exactly one top-level `pipeline { }` block")
        self.pipeline = pipelines[0]
        self._check_children(self.pipeline, {"agent", "options", "triggers", "parameters", "environment", "stages"})

    # ---------------------------------------------------------------- build

    def run(self, build: Build) -> BuildResult:
        bdir = self.workdir / f"build-{build.number}-{build.trigger}-{_safe(build.branch_name)}"
        if bdir.exists():
            shutil.rmtree(bdir)
        bdir.mkdir(parents=True)
        result = BuildResult(build=build, dir=bdir)
        p = self.pipeline

        agent = p.child("agent")
        if agent is None or agent.body is not None or [t.text for t in agent.args] != ["none"]:
            raise _fail(agent or p, "only `agent none` is supported at the pipeline level")
        self.pipeline_timeout = self._pipeline_options(p.child("options"))
        result.cron = self._cron(p.child("triggers"), build)
        if build.trigger == "timer" and not result.cron:
            raise UnsupportedConstruct(f"a timer build of {build.branch_name!r} cannot happen: its cron spec is empty")
        result.params = self._params(p.child("parameters"), build)
        self.pipeline_env = self._environment(p.child("environment"))
        stages = p.child("stages")
        if stages is None:
            raise _fail(p, "pipeline without stages")
        self._check_children(stages, {"stage"})

        deadline = time.monotonic() + self.pipeline_timeout
        failed = False
        for stage in stages.children("stage"):
            if failed:
                self._skip(result, stage, "skipped due to earlier failure(s)")
                continue
            status = self._stage(result, stage, None, deadline)
            if status in ("FAILURE", "ABORTED"):
                failed = True
        return result

    # ---------------------------------------------------------------- pipeline-level directives

    def _pipeline_options(self, options: Node | None) -> float:
        timeout = float("inf")
        for opt in options.body or [] if options else []:
            if opt.name == "disableConcurrentBuilds":
                no_args(opt)
            elif opt.name == "timeout":
                timeout = _timeout_seconds(opt)
            elif opt.name == "buildDiscarder":
                (call,), named = args_of(opt)
                if named or not (isinstance(call, tuple) and call[1] == "logRotator"):
                    raise _fail(opt, "buildDiscarder expects logRotator(...)")
                allowed = {"numToKeepStr", "daysToKeepStr", "artifactDaysToKeepStr", "artifactNumToKeepStr"}
                if call[2] or set(call[3]) - allowed:
                    raise _fail(opt, f"logRotator: unsupported arguments {sorted(set(call[3]) - allowed)}")
            else:
                raise _fail(opt, f"unsupported pipeline option {opt.name!r}")
        return timeout

    def _cron(self, triggers: Node | None, build: Build) -> str | None:
        if triggers is None:
            return None
        self._check_children(triggers, {"cron"})
        (cron,) = triggers.body or []
        toks = [(t.kind, t.text) for t in cron.args]
        shape = [k if k == "sq" else t for k, t in toks]
        if shape == ["(", "sq", ")"]:
            return unescape_sq(toks[1][1]) or None
        # cron(env.BRANCH_NAME == 'main' ? 'spec' : '')
        if shape == ["(", "env", ".", "BRANCH_NAME", "==", "sq", "?", "sq", ":", "sq", ")"]:
            branch, yes, no = (unescape_sq(toks[i][1]) for i in (5, 7, 9))
            return (yes if build.branch_name == branch else no) or None
        raise _fail(cron, "unsupported cron(...) form")

    def _params(self, parameters: Node | None, build: Build) -> dict[str, str]:
        values: dict[str, str] = {}
        choices: dict[str, list[str]] = {}
        for q in parameters.body or [] if parameters else []:
            if q.name == "choice":
                named = named_only(q, {"name", "choices", "description"}, {"name", "choices"})
                if not named["choices"] or not all(isinstance(c, str) for c in named["choices"]):
                    raise _fail(q, "choice needs a non-empty list of strings")
                choices[named["name"]] = named["choices"]
                values[named["name"]] = named["choices"][0]
            elif q.name == "string":
                named = named_only(q, {"name", "defaultValue", "description", "trim"}, {"name"})
                values[named["name"]] = named.get("defaultValue", "")
            else:
                raise _fail(q, f"unsupported parameter type {q.name!r}")
        for key, value in build.params.items():
            if key not in values:
                raise UnsupportedConstruct(f"build parameter {key!r} is not declared by the Jenkinsfile")
            if key in choices and value not in choices[key]:
                raise UnsupportedConstruct(f"{value!r} is not a choice of {key} ({choices[key]})")
            if build.trigger != "user":
                raise UnsupportedConstruct("only a person (a user build) passes build parameters")
            values[key] = value
        return values

    def _environment(self, node: Node | None) -> dict[str, str]:
        env: dict[str, str] = {}
        for entry in node.body or [] if node else []:
            toks = entry.args
            if [t.text for t in toks[:3]] == ["=", "credentials", "("] and len(toks) == 5 and toks[3].kind == "sq" and toks[4].text == ")":
                cid = unescape_sq(toks[3].text)
                if cid not in self.credentials:  # Jenkins fails the stage before its steps
                    raise StepFailed(f"ERROR: Could not find credentials entry with ID '{cid}'")
                env[entry.name] = self.credentials[cid]
                continue
            if len(toks) != 2 or toks[0].text != "=" or toks[1].kind != "sq":
                raise _fail(entry, f"environment entry {entry.name!r} must be NAME = 'literal'")
            value = unescape_sq(toks[1].text)
            if "$" in value:
                raise _fail(entry, f"environment value {value!r}: Jenkins would expand '$' (not emulated)")
            env[entry.name] = value
        return env

    # ---------------------------------------------------------------- stages

    def _skip(self, result: BuildResult, stage: Node, reason: str, parent: str | None = None) -> None:
        name = _stage_name(stage)
        result.stages[name] = StageRun(name, "SKIPPED", reason, parent)
        for child in (stage.child("parallel").children("stage") if stage.child("parallel") else []):
            self._skip(result, child, reason, name)

    def _stage(self, result: BuildResult, stage: Node, parent: str | None, deadline: float) -> Status:
        name = _stage_name(stage)
        self._check_children(stage, {"agent", "environment", "options", "when", "input", "steps", "parallel", "post"})
        when = stage.child("when")
        flags: dict[str, bool] = {}
        conditions: list[Node] = []
        if when is not None:
            for c in when.body or []:
                if c.name in ("beforeAgent", "beforeInput", "beforeOptions"):
                    if [t.text for t in c.args] not in (["true"], ["false"]):
                        raise _fail(c, f"{c.name} takes true or false")
                    flags[c.name] = c.args[0].text == "true"
                else:
                    conditions.append(c)
            if not conditions:
                raise _fail(when, "when without conditions")
        ctx = _StageCtx(name, StageRun(name, "SUCCESS", parent=parent))
        params = result.params

        def when_holds() -> bool:
            env = {**self._build_env(result.build), **params, **self.pipeline_env, **result.env}
            return all(self._cond(c, result.build, env, params) for c in conditions)

        evaluated = False

        def decide(point: str) -> bool:
            """Evaluate `when` at `point` unless already done; False = the stage is skipped."""
            nonlocal evaluated
            if evaluated or not conditions or (point != "end" and not flags.get(point)):
                return True
            evaluated = True
            return when_holds()

        skipped = StageRun(name, "SKIPPED", "when condition is false", parent)
        if not decide("beforeOptions"):
            result.stages[name] = skipped
            self._skip_children(result, stage, name)
            return "SKIPPED"
        lock, timeout = self._stage_options(stage.child("options"))
        if lock is not None:
            result.events.append(("lock", name, lock))
        try:
            ctx.deadline = min(deadline, time.monotonic() + timeout)
            if not decide("beforeInput"):
                result.stages[name] = skipped
                self._skip_children(result, stage, name)
                return "SKIPPED"
            inp = stage.child("input")
            if inp is not None:
                message, ok = self._input(inp)
                result.events.append(("input", name, message, ok))
                if name in result.build.reject:
                    result.stages[name] = StageRun(name, "ABORTED", f"input {message!r} refused", parent)
                    result._worsen("ABORTED")
                    return "ABORTED"
            if not decide("beforeAgent"):
                result.stages[name] = skipped
                self._skip_children(result, stage, name)
                return "SKIPPED"
            parallel = stage.child("parallel")
            agent = stage.child("agent")
            if parallel is not None:
                if agent is not None or stage.child("steps") is not None:
                    raise _fail(stage, "a parallel stage has neither agent nor steps of its own")
                if not decide("end"):
                    result.stages[name] = skipped
                    self._skip_children(result, stage, name)
                    return "SKIPPED"
                result.stages[name] = ctx.run
                self._check_children(parallel, {"stage"})
                worst: Status = "SUCCESS"
                for child in parallel.children("stage"):
                    status = self._stage(result, child, name, ctx.deadline)
                    if status != "SKIPPED" and _SEVERITY[status] > _SEVERITY[worst]:
                        worst = status
                ctx.run.status = worst
                return worst
            if agent is None:
                raise _fail(stage, f"stage {name!r} runs steps without an agent (the pipeline has `agent none`)")
            image, docker_env = self._agent(agent)
            ctx.workspace = self._checkout(result, name)
            result.events.append(("agent", name, image))
            ctx.run.workspace = ctx.workspace
            if not decide("end"):
                result.stages[name] = skipped
                return "SKIPPED"
            result.stages[name] = ctx.run
            try:
                stage_env = self._environment(stage.child("environment"))
            except StepFailed as exc:
                ctx.run.status, ctx.run.reason = exc.status, str(exc)
                result._worsen(ctx.run.status)
                return ctx.run.status
            ctx.env = {
                **self._build_env(result.build),
                **self._docker_env(docker_env, result.dir),
                **self.agent_env,
                **params,
                **self.pipeline_env,
                **result.env,
                **stage_env,
                "WORKSPACE": str(ctx.workspace),
            }
            steps = stage.child("steps")
            if steps is None:
                raise _fail(stage, f"stage {name!r} has no steps")
            try:
                self._steps(result, ctx, steps)
            except StepFailed as exc:
                ctx.run.status, ctx.run.reason = exc.status, str(exc)
            self._post(result, ctx, stage.child("post"))
            result._worsen(ctx.run.status)
            return ctx.run.status
        finally:
            if lock is not None:
                result.events.append(("unlock", name, lock))

    def _skip_children(self, result: BuildResult, stage: Node, name: str) -> None:
        parallel = stage.child("parallel")
        for child in parallel.children("stage") if parallel else []:
            self._skip(result, child, "parent stage skipped", name)

    def _stage_options(self, options: Node | None) -> tuple[str | None, float]:
        lock, timeout = None, float("inf")
        for opt in options.body or [] if options else []:
            if opt.name == "timeout":
                timeout = _timeout_seconds(opt)
            elif opt.name == "lock":
                lock = named_only(opt, {"resource"}, {"resource"})["resource"]
            else:
                raise _fail(opt, f"unsupported stage option {opt.name!r}")
        return lock, timeout

    def _input(self, inp: Node) -> tuple[str, str]:
        message, ok = None, "Proceed"
        for d in inp.body or []:
            if d.name == "message":
                message = one_string(d)
            elif d.name == "ok":
                ok = one_string(d)
            else:
                raise _fail(d, f"unsupported input directive {d.name!r}")
        if message is None:
            raise _fail(inp, "input without message")
        return message, ok

    def _agent(self, agent: Node) -> tuple[str, list[str]]:
        self._check_children(agent, {"docker"})
        (docker,) = agent.body or []
        if docker.args:
            raise _fail(docker, "docker agent: use the block form")
        self._check_children(docker, {"image", "args"})
        image_node = docker.child("image")
        if image_node is None:
            raise _fail(docker, "docker agent without image")
        args_node = docker.child("args")
        return one_string(image_node), shlex.split(one_string(args_node)) if args_node else []

    def _docker_env(self, args: list[str], bdir: Path) -> dict[str, str]:
        """`-e K=V` of the docker args; the container's /tmp is private, so it maps to the build's."""
        env: dict[str, str] = {}
        it = iter(args)
        for a in it:
            if a in ("-e", "--env"):
                kv = next(it, None)
            elif a.startswith("--env="):
                kv = a[len("--env="):]
            else:
                raise UnsupportedConstruct(f"docker agent argument {a!r} is not emulated")
            if kv is None or "=" not in kv:
                raise UnsupportedConstruct(f"docker agent: -e needs K=V, got {kv!r}")
            key, value = kv.split("=", 1)
            if value == "/tmp" or value.startswith("/tmp/"):
                tmp = bdir / "container-tmp"
                tmp.mkdir(exist_ok=True)
                value = str(tmp) + value[len("/tmp"):]
            env[key] = value
        return env

    def _checkout(self, result: BuildResult, stage: str) -> Path:
        """A docker agent's fresh workspace: the project as checked out, nothing else."""
        ws = result.dir / "ws" / _safe(stage)
        if ws.exists():
            shutil.rmtree(ws)
        shutil.copytree(self.project, ws, ignore=shutil.ignore_patterns(".git"), symlinks=True)
        return ws

    def _build_env(self, build: Build) -> dict[str, str]:
        branch = build.branch_name
        commit = hashlib.sha1(f"{build.branch}:{build.number}".encode()).hexdigest()
        env = {
            "PATH": os.pathsep.join([str(self.python_bin), os.environ.get("PATH", "/usr/bin:/bin")]),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "CI": "true",
            "JENKINS_URL": JENKINS_URL,
            "JOB_NAME": f"{self.job}/{branch}",
            "JOB_BASE_NAME": branch,
            "JOB_URL": f"{JENKINS_URL}job/{self.job}/job/{branch}/",
            "BUILD_NUMBER": str(build.number),
            "BUILD_ID": str(build.number),
            "BUILD_TAG": f"jenkins-{self.job}-{branch}-{build.number}",
            "BUILD_URL": f"{JENKINS_URL}job/{self.job}/job/{branch}/{build.number}/",
            "NODE_NAME": "docker-agent",
            "EXECUTOR_NUMBER": "0",
            "BRANCH_NAME": branch,
            "GIT_COMMIT": commit,
            "GIT_BRANCH": branch,
        }
        if build.trigger == "change_request":
            env.update(
                CHANGE_ID=build.change_id,
                CHANGE_TARGET=build.target,
                CHANGE_BRANCH=build.branch,
                CHANGE_URL=f"https://scm.invalid/pulls/{build.change_id}",
                CHANGE_AUTHOR=build.user,
            )
        if build.trigger == "user":
            env["BUILD_USER_ID"] = build.user
        return env

    # ---------------------------------------------------------------- conditions

    def _cond(self, c: Node, build: Build, env: dict[str, str], params: dict[str, str]) -> bool:
        def kids() -> list[Node]:
            if c.args or not c.body:
                raise _fail(c, f"{c.name} needs a block of conditions")
            return c.body

        if c.name == "not":
            inner = kids()
            if len(inner) != 1:
                raise _fail(c, "not { } takes exactly one condition")
            return not self._cond(inner[0], build, env, params)
        if c.name == "allOf":
            return all([self._cond(k, build, env, params) for k in kids()])
        if c.name == "anyOf":
            return any([self._cond(k, build, env, params) for k in kids()])
        if c.body is not None and c.name != "expression":
            raise _fail(c, f"unsupported condition block {c.name!r}")
        if c.name == "branch":
            positional, named = args_of(c)
            if positional:
                if len(positional) != 1 or named:
                    raise _fail(c, "branch 'pattern' takes one argument")
                named = {"pattern": positional[0]}
            extra = set(named) - {"pattern", "comparator"}
            if extra:
                raise _fail(c, f"branch: unsupported arguments {sorted(extra)}")
            # BRANCH_NAME: a change request build is `PR-<id>`, so `branch` never matches it by name
            return _compare(c, named.get("comparator", "GLOB"), named["pattern"], build.branch_name)
        if c.name == "changeRequest":
            if build.trigger != "change_request":
                # still validate the arguments
                args_of(c)
                return False
            if [t.text for t in c.args] in ([], ["(", ")"]):
                return True
            named = named_only(c, {"target", "branch", "id", "comparator"})
            comparator = named.pop("comparator", "GLOB")
            actual = {"target": build.target, "branch": build.branch, "id": build.change_id}
            return all(_compare(c, comparator, v, actual[k]) for k, v in named.items())
        if c.name == "triggeredBy":
            positional, named = args_of(c)
            if positional and not named and len(positional) == 1:
                cause = positional[0]
            elif not positional and set(named) <= {"cause", "detail"} and "cause" in named:
                cause = named["cause"]
                if "detail" in named and not (build.trigger == "user" and named["detail"] == build.user):
                    return False
            else:
                raise _fail(c, "triggeredBy 'Cause' or triggeredBy cause: 'Cause'[, detail: 'x']")
            return cause in build.cause
        if c.name == "environment":
            named = named_only(c, {"name", "value"}, {"name", "value"})
            return env.get(named["name"]) == named["value"]
        if c.name == "expression":
            return self._expression(c, env, params)
        raise _fail(c, f"unsupported when condition {c.name!r}")

    def _expression(self, c: Node, env: dict[str, str], params: dict[str, str]) -> bool:
        """Exactly the expression forms the backend emits; anything else raises."""
        if c.args or not c.body or len(c.body) != 1:
            raise _fail(c, "expression { } must hold one expression")
        (stmt,) = c.body
        toks = [(stmt.name, "word")] + [(t.text, t.kind) for t in stmt.args]
        texts = [t for t, _k in toks]
        scopes = {"env": env, "params": params}
        # env.NAME == 'v'  |  params.NAME == 'v'
        if len(toks) == 5 and texts[0] in scopes and texts[1] == "." and texts[3] == "==" and toks[4][1] == "sq":
            return scopes[texts[0]].get(texts[2]) == unescape_sq(texts[4])
        # !params.NAME  |  !env.NAME  (Groovy truth: null and '' are false)
        if len(toks) == 4 and texts[0] == "!" and texts[1] in scopes and texts[2] == ".":
            return not scopes[texts[1]].get(texts[3])
        raise _fail(stmt, f"unsupported expression {' '.join(texts)!r}")

    # ---------------------------------------------------------------- steps

    def _steps(self, result: BuildResult, ctx: _StageCtx, steps: Node) -> None:
        for step in steps.body or []:
            self._step(result, ctx, step)

    def _step(self, result: BuildResult, ctx: _StageCtx, step: Node) -> None:
        ws = ctx.workspace
        assert ws is not None
        if step.name == "sh":
            self._sh(ctx, one_string(step))
        elif step.name == "echo":
            ctx.run.log += one_string(step) + "\n"
        elif step.name == "unstash":
            name = one_string(step)
            store = result.dir / "stashes" / name
            if name not in result.stashes:
                raise StepFailed(f"No such saved stash {name!r}")
            copy_files(store, ws, result.stashes[name])
            ctx.run.log += f"[unstash {name}] {len(result.stashes[name])} files\n"
        elif step.name == "stash":
            named = named_only(step, {"name", "includes", "excludes", "allowEmpty", "useDefaultExcludes"}, {"name"})
            files = scan(ws, named.get("includes", "**"), named.get("excludes", ""),
                         default_excludes=named.get("useDefaultExcludes", True) is not False)
            if not files and not named.get("allowEmpty", False):
                raise StepFailed(f"No files included in stash {named['name']!r}")
            store = result.dir / "stashes" / named["name"]
            if store.exists():
                shutil.rmtree(store)
            store.mkdir(parents=True)
            copy_files(ws, store, files)
            result.stashes[named["name"]] = tuple(files)
            ctx.run.log += f"[stash {named['name']}] {len(files)} files\n"
        elif step.name == "script":
            for stmt in step.body if step.body is not None and not step.args else self._bad(step):
                self._script_statement(result, ctx, stmt)
        elif step.name == "junit":
            self._junit(result, ctx, step)
        elif step.name == "archiveArtifacts":
            self._archive(result, ctx, step)
        else:
            raise _fail(step, f"unsupported step {step.name!r}")

    @staticmethod
    def _bad(step: Node) -> list[Node]:
        raise _fail(step, f"{step.name}: expected a block")

    def _sh(self, ctx: _StageCtx, command: str) -> None:
        ws = ctx.workspace
        assert ws is not None
        remaining = ctx.deadline - time.monotonic()
        if remaining <= 0:
            raise StepFailed("Timeout has been exceeded", "ABORTED")
        ctx.run.log += f"+ {command}\n"
        try:
            proc = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", command],
                cwd=ws,
                env=ctx.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                timeout=None if remaining == float("inf") else remaining,
                check=False,
            )
        except subprocess.TimeoutExpired:
            ctx.run.commands.append((command, -1))
            raise StepFailed("Timeout has been exceeded", "ABORTED") from None
        ctx.run.log += proc.stdout
        ctx.run.commands.append((command, proc.returncode))
        if proc.returncode != 0:
            raise StepFailed(f"script returned exit code {proc.returncode}: {command}")

    def _script_statement(self, result: BuildResult, ctx: _StageCtx, stmt: Node) -> None:
        """Only `env.NAME = readFile('path').trim()`."""
        shape = [stmt.name] + [t.kind if t.kind == "sq" else t.text for t in stmt.args]
        if shape[:2] != ["env", "."] or shape[3:] != ["=", "readFile", "(", "sq", ")", ".", "trim", "(", ")"]:
            raise _fail(stmt, f"unsupported script statement {' '.join([stmt.name] + [t.text for t in stmt.args])!r}")
        name = stmt.args[1].text
        path = unescape_sq(stmt.args[5].text)
        file = ctx.workspace / path if ctx.workspace else None
        if file is None or not file.is_file():
            raise StepFailed(f"readFile: no such file {path!r} in the workspace")
        value = file.read_text(encoding="utf-8").strip()
        result.env[name] = value
        ctx.env[name] = value
        ctx.run.log += f"[script] env.{name} = {value!r}\n"

    def _junit(self, result: BuildResult, ctx: _StageCtx, step: Node) -> None:
        named = named_only(step, {"testResults", "allowEmptyResults", "skipPublishingChecks"}, {"testResults"})
        ws = ctx.workspace
        assert ws is not None
        files = scan(ws, named["testResults"])
        if not files and not named.get("allowEmptyResults", False):
            raise StepFailed(f"No test report files were found ({named['testResults']})")
        tests = failures = errors = skipped = 0
        cases: list[tuple[str, str]] = []
        for rel in files:
            try:
                root = ET.parse(ws / rel).getroot()
            except ET.ParseError as exc:
                raise StepFailed(f"junit: {rel} is not valid XML: {exc}") from None
            for case in root.iter("testcase"):
                tests += 1
                if case.find("failure") is not None:
                    failures += 1
                    cases.append((case.get("name", ""), "failed"))
                elif case.find("error") is not None:
                    errors += 1
                    cases.append((case.get("name", ""), "failed"))
                elif case.find("skipped") is not None:
                    skipped += 1
                    cases.append((case.get("name", ""), "skipped"))
                else:
                    cases.append((case.get("name", ""), "passed"))
        copy_files(ws, result.dir / "junit" / _safe(ctx.name), files)
        result.junit.append(JUnitRecord(ctx.name, tuple(files), tests, failures, errors, skipped, tuple(cases)))
        if failures or errors:
            # Jenkins marks the build (and the stage) unstable; a failed step already failed it.
            if ctx.run.status == "SUCCESS":
                ctx.run.status = "UNSTABLE"
            result._worsen("UNSTABLE")

    def _archive(self, result: BuildResult, ctx: _StageCtx, step: Node) -> None:
        named = named_only(step, {"artifacts", "allowEmptyArchive", "fingerprint", "excludes", "onlyIfSuccessful"},
                           {"artifacts"})
        if named.get("onlyIfSuccessful") and ctx.run.status != "SUCCESS":
            return
        ws = ctx.workspace
        assert ws is not None
        files = scan(ws, named["artifacts"], named.get("excludes", ""))
        if not files and not named.get("allowEmptyArchive", False):
            raise StepFailed(f"No artifacts found that match the file pattern {named['artifacts']!r}")
        copy_files(ws, result.archive_dir, files)
        result.archived.append(Archived(ctx.name, tuple(files)))

    def _post(self, result: BuildResult, ctx: _StageCtx, post: Node | None) -> None:
        if post is None:
            return
        self._check_children(post, {"always", "success", "failure", "unstable", "cleanup"})
        order = ("always", "success", "unstable", "failure", "cleanup")
        for kind in order:
            block = post.child(kind)
            if block is None:
                continue
            status = ctx.run.status
            wanted = {"always": True, "cleanup": True, "success": status == "SUCCESS",
                      "unstable": status == "UNSTABLE", "failure": status == "FAILURE"}[kind]
            if not wanted:
                continue
            try:
                self._steps(result, ctx, block)
            except StepFailed as exc:
                ctx.run.status, ctx.run.reason = "FAILURE", f"post {kind}: {exc}"

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _check_children(node: Node, allowed: set[str]) -> None:
        if node.body is None:
            raise _fail(node, f"{node.name} needs a block")
        for child in node.body:
            if child.name not in allowed:
                raise _fail(child, f"unsupported {child.name!r} inside {node.name!r}")


def _stage_name(stage: Node) -> str:
    names = stage.strings()
    if len(names) != 1 or [t.kind for t in stage.args] != ["punct", "sq", "punct"]:
        raise _fail(stage, "stage('name') expected")
    return names[0]


def _timeout_seconds(opt: Node) -> float:
    named = named_only(opt, {"time", "unit"}, {"time"})
    unit = named.get("unit", "MINUTES")
    if unit not in _UNITS or not isinstance(named["time"], int):
        raise _fail(opt, f"timeout: unsupported time/unit {named!r}")
    return float(named["time"] * _UNITS[unit])


def _compare(where: Node, comparator: str, pattern: str, actual: str) -> bool:
    if comparator == "EQUALS":
        return actual == pattern
    if comparator == "GLOB":
        return ant_match(pattern, actual)
    if comparator == "REGEXP":
        return re.fullmatch(pattern, actual) is not None
    raise _fail(where, f"unsupported comparator {comparator!r}")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"
