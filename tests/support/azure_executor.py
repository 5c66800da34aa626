"""Run a generated azure-pipelines.yml as written, without Azure DevOps: a step executor for the
subset the Azure backend emits.

No Azure DevOps server or agent runs offline, so the tests prove the file does its job by
executing it here, for one simulated run (:class:`Run`), the way Azure would:

- Template expressions: only `${{ parameters.<name> }}` (runtime parameters: defaults,
  overrides, `values` validated); any other `${{` raises.
- Stages in file order, each after its `dependsOn`; `condition:` evaluated with Azure's
  functions (`and or not eq ne in succeeded failed canceled succeededOrFailed always`),
  `variables['X']`, `dependencies.<stage>.result` and
  `dependencies.<stage>.outputs['<job>.<step>.<var>']`; no condition = `succeeded()`.
- Jobs: `job` (with `strategy: parallel: N`: N executions, System.JobPositionInPhase 1..N) and
  `deployment` (`environment:` checks: an Approvals check asks the run, which approves unless it
  rejects that environment; recorded; `strategy: runOnce: deploy: steps`, which must start with
  `download: none`). Every job execution is a NEW agent workspace: only pipeline artifacts and
  caches carry files between jobs.
- Variables: pipeline `variables:`, queue-time variables of the run (what a person sets in the
  pipeline's settings, like MLGEN_REGISTRY), predefined ones (Build.Reason, Build.SourceBranch,
  Build.SourcesDirectory, Agent.TempDirectory, Agent.OS, System.JobPositionInPhase,
  System.TotalJobsInPhase, System.AccessToken), job `variables:` and linked variable `group`s
  (their secrets are NOT exported: only a step's `env:` mapping hands one to a step). Every
  non-secret variable reaches a step as an environment variable (upper case, `.` -> `_`), and
  `$(name)` macros of defined variables are expanded in inputs, `env:` values and scripts.
- Steps: `checkout: self`, `download: none`, `script:` (bash; `##vso[task.setvariable ...;
  isOutput=true]` and `##vso[task.uploadsummary]` logging commands read from its output),
  tasks `UsePythonVersion@0`, `DownloadPipelineArtifact@2`, `PublishPipelineArtifact@1`,
  `Cache@2` (restore at the step, save after a successful job when the key missed; `|` key
  segments: quoted strings, or files hashed by content), `PublishTestResults@2` (JUnit parsed).

Anything else raises :class:`UnsupportedConstruct`, so a construct the executor does not
understand can never make a test pass.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REASONS = {"push": "IndividualCI", "pull_request": "PullRequest", "schedule": "Schedule", "manual": "Manual"}
_MACRO = re.compile(r"\$\(([A-Za-z0-9_.]+)\)")
_TEMPLATE = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_SETVAR = re.compile(r"^##vso\[task\.setvariable variable=([A-Za-z0-9_.]+);isOutput=true\](.*)$")
_SUMMARY = re.compile(r"^##vso\[task\.uploadsummary\](.*)$")
OK = ("Succeeded", "SucceededWithIssues")


class UnsupportedConstruct(Exception):
    """The file uses something this executor does not emulate."""


@dataclass(frozen=True)
class Run:
    """One run: why it started, on which branch, its parameters and the approvals it rejects."""

    event: str = "push"  # push | pull_request | schedule | manual
    branch: str = "main"
    parameters: dict[str, str] = field(default_factory=dict)
    reject: frozenset[str] = frozenset()  # environments whose approval is rejected
    target: str = "main"  # a pull request's target branch
    variables: dict[str, str] = field(default_factory=dict)  # queue-time variables


@dataclass
class JobRun:
    stage: str
    status: str = "Skipped"
    workspaces: list[Path] = field(default_factory=list)
    commands: list[tuple[str, int]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # "<step>.<var>" -> value
    env_seen: list[dict[str, str]] = field(default_factory=list)  # the env of each script step


@dataclass
class RunResult:
    result: str
    stages: dict[str, JobRun]  # by stage displayName
    artifacts: dict[str, tuple[str, ...]]
    approvals: list[str]  # environments whose Approvals check was asked
    locks: list[str]  # environments whose deployment ran
    junit: list[tuple[str, int, int]]  # (file, tests, failures)
    summaries: list[str]
    cache_hits: list[tuple[str, str]]  # (stage, "exact" | "partial" | "miss")

    def ran(self) -> list[str]:
        return [n for n, s in self.stages.items() if s.status != "Skipped"]

    def summary(self) -> str:
        lines = [f"run: {self.result}"]
        for name, s in self.stages.items():
            lines.append(f"  {name}: {s.status} {[c for c in s.commands if c[1]]}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- expressions


def _tokens(text: str) -> list[str]:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "'":
            j, buf = i + 1, []
            while True:
                if j >= len(text):
                    raise UnsupportedConstruct(f"unterminated string in {text!r}")
                if text[j] == "'" and text[j + 1:j + 2] == "'":
                    buf.append("'")
                    j += 2
                elif text[j] == "'":
                    break
                else:
                    buf.append(text[j])
                    j += 1
            out.append("'" + "".join(buf))
            i = j + 1
        elif c in "(),[]":
            out.append(c)
            i += 1
        else:
            m = re.match(r"[A-Za-z_][A-Za-z0-9_.]*", text[i:])
            if not m:
                raise UnsupportedConstruct(f"cannot read {text[i:]!r} in {text!r}")
            out.append(m.group(0))
            i += len(m.group(0))
    return out


class _Expr:
    """Azure's condition language, the subset the backend writes."""

    def __init__(self, text: str, ctx: dict[str, Any]) -> None:
        self.toks, self.i, self.ctx, self.text = _tokens(text), 0, ctx, text

    def value(self) -> Any:
        v = self._one()
        if self.i != len(self.toks):
            raise UnsupportedConstruct(f"trailing tokens in {self.text!r}")
        return v

    def _take(self, want: str | None = None) -> str:
        t = self.toks[self.i]
        if want is not None and t != want:
            raise UnsupportedConstruct(f"expected {want!r}, got {t!r} in {self.text!r}")
        self.i += 1
        return t

    def _one(self) -> Any:
        t = self._take()
        if t.startswith("'"):
            return t[1:]
        if t in ("true", "false"):
            return t == "true"
        if t == "variables":
            self._take("[")
            name = self._take()
            self._take("]")
            return self.ctx["variables"].get(name[1:], "")
        if t.startswith("dependencies."):
            parts = t.split(".")
            if len(parts) == 3 and parts[2] == "result":
                return self.ctx["results"].get(parts[1], "")
            if len(parts) == 3 and parts[2] == "outputs":
                self._take("[")
                key = self._take()[1:]
                self._take("]")
                return self.ctx["outputs"].get(parts[1], {}).get(key, "")
            raise UnsupportedConstruct(f"{t} in {self.text!r}")
        self._take("(")
        args: list[Any] = []
        while self.toks[self.i] != ")":
            args.append(self._one())
            if self.toks[self.i] == ",":
                self._take(",")
        self._take(")")
        return self._call(t, args)

    def _call(self, fn: str, args: list[Any]) -> Any:
        status = self.ctx["status"]
        table = {
            "and": lambda: all(_truthy(a) for a in args),
            "or": lambda: any(_truthy(a) for a in args),
            "not": lambda: not _truthy(args[0]),
            "eq": lambda: str(args[0]).lower() == str(args[1]).lower(),
            "ne": lambda: str(args[0]).lower() != str(args[1]).lower(),
            "in": lambda: str(args[0]).lower() in [str(a).lower() for a in args[1:]],
            "succeeded": lambda: status() == "succeeded",
            "failed": lambda: status() == "failed",
            "canceled": lambda: False,  # no run is cancelled here
            "succeededOrFailed": lambda: True,
            "always": lambda: True,
        }
        if fn not in table or (fn in ("succeeded", "failed") and args):
            raise UnsupportedConstruct(f"function {fn}({args}) in {self.text!r}")
        return table[fn]()


def _truthy(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    return str(v).lower() not in ("", "false", "0")


def evaluate(text: str, ctx: dict[str, Any]) -> bool:
    return _truthy(_Expr(text, ctx).value())


# --------------------------------------------------------------------------- the executor


class AzureExecutor:
    """Executes one azure-pipelines.yml for the project folder `project` (copied for each job)."""

    def __init__(self, text: str, project: Path, work: Path, *, python_bin: Path,
                 agent_env: dict[str, str] | None = None, groups: dict[str, dict[str, str]] | None = None,
                 checks: dict[str, str] | None = None) -> None:
        self.text, self.project, self.work, self.python_bin = text, project, work, python_bin
        self.agent_env = dict(agent_env or {})
        self.groups = groups or {}  # variable group -> secret variables
        self.checks = checks or {}  # environment -> "approval" (its Approvals check)
        self.caches: dict[str, Path] = {}  # Cache@2 entries by key, kept across runs (insertion = age)
        self.runs = 0
        self._rejects: frozenset[str] = frozenset()

    # -- template ---------------------------------------------------------------------------

    def _expand(self, node: Any, params: dict[str, str]) -> Any:
        if isinstance(node, dict):
            return {k: self._expand(v, params) for k, v in node.items()}
        if isinstance(node, list):
            return [self._expand(v, params) for v in node]
        if isinstance(node, str) and "${{" in node:
            def sub(m: re.Match[str]) -> str:
                expr = m.group(1)
                if not re.fullmatch(r"parameters\.[A-Za-z_][A-Za-z0-9_]*", expr):
                    raise UnsupportedConstruct(f"template expression {m.group(0)!r}")
                return params[expr.split(".", 1)[1]]
            return _TEMPLATE.sub(sub, node)
        return node

    def _parameters(self, declared: list[dict[str, Any]], given: dict[str, str]) -> dict[str, str]:
        names = {p["name"] for p in declared}
        unknown = set(given) - names
        if unknown:
            raise UnsupportedConstruct(f"parameter(s) {sorted(unknown)} not declared")
        out = {}
        for p in declared:
            if p.get("type", "string") != "string":
                raise UnsupportedConstruct(f"parameter type {p.get('type')}")
            value = given.get(p["name"], p["default"])
            if "values" in p and value not in p["values"]:
                raise UnsupportedConstruct(f"{value!r} is not one of the values of parameter {p['name']}")
            out[p["name"]] = value
        return out

    # -- a run ------------------------------------------------------------------------------

    def run(self, run: Run) -> RunResult:
        self.runs += 1
        self._rejects = run.reject
        raw = YAML(typ="safe", pure=True).load(self.text)
        known = {"trigger", "pr", "schedules", "parameters", "variables", "stages"}
        if set(raw) - known:
            raise UnsupportedConstruct(f"top-level keys {sorted(set(raw) - known)}")
        self._check_trigger(raw, run)
        params = self._parameters(raw.get("parameters", []), run.parameters)
        doc = self._expand(raw, params)
        root = self.work / f"run-{self.runs}"
        store = root / "artifacts"
        store.mkdir(parents=True)
        variables = {
            "Build.Reason": REASONS[run.event] if run.event != "push" else "IndividualCI",
            "Build.SourceBranch": f"refs/heads/{run.branch}",
            "Build.SourceBranchName": run.branch.rsplit("/", 1)[-1],
            "Agent.OS": "Linux",
            "System.AccessToken": "azure-job-token",
            **run.variables,
        }
        for v in doc.get("variables", []):
            if set(v) != {"name", "value"}:
                raise UnsupportedConstruct(f"pipeline variable {v}")
            variables[v["name"]] = self._macros(str(v["value"]), variables)
        result = RunResult("Succeeded", {}, {}, [], [], [], [], [])
        results: dict[str, str] = {}
        outputs: dict[str, dict[str, str]] = {}
        for stage in doc["stages"]:
            sid = stage["stage"]
            deps = stage.get("dependsOn")
            if deps is None or isinstance(deps, str):
                raise UnsupportedConstruct(f"stage {sid}: dependsOn must be a list")
            missing = [d for d in deps if d not in results]
            if missing:
                raise UnsupportedConstruct(f"stage {sid} depends on later or unknown stages {missing}")

            def status(deps: list[str] = deps) -> str:
                if any(results[d] == "Failed" for d in deps):
                    return "failed"
                return "succeeded" if all(results[d] in OK for d in deps) else "other"

            ctx = {"variables": variables, "results": results, "outputs": outputs, "status": status}
            cond = stage.get("condition", "succeeded()")
            job = self._one_job(stage)
            record = JobRun(stage["stage"])
            result.stages[stage.get("displayName", sid)] = record
            if not evaluate(str(cond), ctx):
                results[sid] = "Skipped"
                continue
            outcome = self._job(job, stage, variables, store, root, result, record)
            results[sid] = outcome
            record.status = outcome
            outputs[sid] = {f"{job.get('job')}.{k}": v for k, v in record.outputs.items()}
            if outcome == "Failed":
                result.result = "Failed"
        result.artifacts = {p.name: tuple(sorted(f.relative_to(p).as_posix() for f in p.rglob("*") if f.is_file()))
                            for p in sorted(store.iterdir())}
        return result

    def _check_trigger(self, doc: dict[str, Any], run: Run) -> None:
        def included(block: Any) -> list[str]:
            return block["branches"]["include"] if isinstance(block, dict) else []

        if run.event == "push" and run.branch not in included(doc["trigger"]):
            raise UnsupportedConstruct(f"no CI trigger for branch {run.branch}")
        if run.event == "pull_request" and (doc["pr"] == "none" or run.target not in included(doc["pr"])):
            raise UnsupportedConstruct("no PR trigger")
        if run.event == "schedule" and not any(run.branch in included(s) for s in doc.get("schedules", [])):
            raise UnsupportedConstruct(f"no schedule for branch {run.branch}")

    def _one_job(self, stage: dict[str, Any]) -> dict[str, Any]:
        jobs = stage.get("jobs", [])
        if len(jobs) != 1:
            raise UnsupportedConstruct(f"stage {stage['stage']}: {len(jobs)} jobs (the backend writes one)")
        known = {"stage", "displayName", "dependsOn", "condition", "jobs", "lockBehavior"}
        if set(stage) - known:
            raise UnsupportedConstruct(f"stage keys {sorted(set(stage) - known)}")
        return jobs[0]

    # -- a job ------------------------------------------------------------------------------

    def _job(self, job: dict[str, Any], stage: dict[str, Any], pipeline_vars: dict[str, str], store: Path,
             root: Path, result: RunResult, record: JobRun) -> str:
        job_vars, secrets = {}, {}
        for v in job.get("variables", []):
            if "group" in v:
                secrets.update(self.groups.get(v["group"]) or _raise(f"variable group {v['group']!r} does not exist"))
            else:
                job_vars[v["name"]] = v["value"]
        if "deployment" in job:
            env = job["environment"]["name"]
            if self.checks.get(env) == "approval":
                result.approvals.append(env)
                if env in self._rejects:
                    return "Failed"
            if stage.get("lockBehavior") != "sequential":
                raise UnsupportedConstruct(f"deployment {job['deployment']} without lockBehavior: sequential")
            result.locks.append(env)
            steps = job["strategy"]["runOnce"]["deploy"]["steps"]
            if steps[:1] != [{"download": "none"}]:
                raise UnsupportedConstruct("a deployment job without `download: none` downloads every artifact")
            runs = [None]
        else:
            steps = job["steps"]
            strategy = job.get("strategy") or {}
            if set(strategy) - {"parallel"}:
                raise UnsupportedConstruct(f"strategy {strategy}")
            runs = list(range(1, int(strategy.get("parallel", 1)) + 1)) if strategy else [None]
        outcome = "Succeeded"
        for position in runs:
            if self._execution(job, steps, position, len(runs), pipeline_vars, job_vars, secrets, store, root,
                               result, record) == "Failed":
                outcome = "Failed"
        return outcome

    def _execution(self, job: dict[str, Any], steps: list[dict[str, Any]], position: int | None, total: int,
                   pipeline_vars: dict[str, str], job_vars: dict[str, str], secrets: dict[str, str], store: Path,
                   root: Path, result: RunResult, record: JobRun) -> str:
        name = job.get("job") or job.get("deployment")
        agent = root / f"{name}-{position or 1}"
        src, tmp = agent / "s", agent / "_temp"
        tmp.mkdir(parents=True)
        record.workspaces.append(src)
        variables = {**pipeline_vars, "Build.SourcesDirectory": str(src), "System.DefaultWorkingDirectory": str(src),
                     "Agent.TempDirectory": str(tmp), "System.JobPositionInPhase": str(position or 1),
                     "System.TotalJobsInPhase": str(total)}
        for k, v in job_vars.items():
            variables[k] = self._macros(str(v), variables)
        secret_values = {**secrets, "System.AccessToken": variables["System.AccessToken"]}
        for k in secret_values:
            variables.pop(k, None)
        path = os.environ.get("PATH", "/usr/bin:/bin")
        failed, saves = False, []
        status = {"value": "Succeeded"}
        for step in steps:
            def st() -> str:
                return "failed" if failed else "succeeded"
            ctx = {"variables": variables, "results": {}, "outputs": {}, "status": st}
            cond = step.get("condition", "succeeded()")
            if not evaluate(str(cond), ctx):
                continue
            status["value"] = "Failed" if failed else "Succeeded"
            ok = self._step(step, src, variables, secret_values, store, path, status, result, record, saves)
            if ok == "path":
                path = f"{self.python_bin}:{path}"
            elif ok is False:
                failed = True
        if not failed:
            for key, folder in saves:  # Cache@2's post-job step: save a missed key
                if key not in self.caches and folder.is_dir():
                    self.caches[key] = self.work / f"cache-{len(self.caches)}"
                    shutil.copytree(folder, self.caches[key])
        return "Failed" if failed else "Succeeded"

    def _macros(self, text: str, variables: dict[str, str]) -> str:
        return _MACRO.sub(lambda m: variables.get(m.group(1), m.group(0)), text)

    def _env(self, variables: dict[str, str]) -> dict[str, str]:
        return {k.upper().replace(".", "_"): v for k, v in variables.items()}

    def _step(self, step: dict[str, Any], src: Path, variables: dict[str, str], secrets: dict[str, str], store: Path,
              path: str, status: dict[str, str], result: RunResult, record: JobRun, saves: list[tuple[str, Path]]) -> Any:
        allowed_vars = {**variables, **secrets}
        if "checkout" in step:
            if step["checkout"] != "self" or set(step) - {"checkout", "persistCredentials"}:
                raise UnsupportedConstruct(f"checkout {step}")
            shutil.copytree(self.project, src, dirs_exist_ok=True, symlinks=True)
            return True
        if step == {"download": "none"}:
            return True
        if "script" in step:
            known = {"script", "name", "displayName", "condition", "env"}
            if set(step) - known:
                raise UnsupportedConstruct(f"script step keys {sorted(set(step) - known)}")
            script = self._macros(step["script"], variables)
            env = {**os.environ, **self.agent_env, **self._env(variables), "PATH": path,
                   "AGENT_JOBSTATUS": status["value"]}
            for k in [k for k in env if k.upper().replace(".", "_") in self._env(secrets)]:
                env.pop(k)
            for k, v in (step.get("env") or {}).items():
                env[k] = _MACRO.sub(lambda m: allowed_vars.get(m.group(1), m.group(0)), str(v))
            record.env_seen.append({k: env[k] for k in (step.get("env") or {})})
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], cwd=src, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
            record.commands.append((step["script"], proc.returncode))
            for line in proc.stdout.splitlines():
                if m := _SETVAR.match(line):
                    if "name" not in step:
                        raise UnsupportedConstruct("an output variable from a step without a name")
                    record.outputs[f"{step['name']}.{m.group(1)}"] = m.group(2)
                elif m := _SUMMARY.match(line):
                    result.summaries.append(m.group(1))
            if proc.returncode != 0:
                record.commands[-1] = (step["script"] + "\n" + proc.stdout[-3000:], proc.returncode)
                return False
            return True
        if "task" not in step:
            raise UnsupportedConstruct(f"step {step}")
        if set(step) - {"task", "displayName", "condition", "inputs"}:
            raise UnsupportedConstruct(f"task keys {sorted(step)}")
        inputs = {k: self._macros(str(v), variables) if isinstance(v, str) else v for k, v in step.get("inputs", {}).items()}
        return self._task(step["task"], inputs, src, store, result, record, saves)

    def _task(self, name: str, inputs: dict[str, Any], src: Path, store: Path, result: RunResult,
              record: JobRun, saves: list[tuple[str, Path]]) -> Any:
        if name == "UsePythonVersion@0":
            return "path"
        if name == "DownloadPipelineArtifact@2":
            if inputs.get("buildType") != "current" or set(inputs) != {"buildType", "artifactName", "targetPath"}:
                raise UnsupportedConstruct(f"download {inputs}")
            folder = store / inputs["artifactName"]
            if not folder.is_dir():
                return False  # "Artifact ... was not found"
            shutil.copytree(folder, inputs["targetPath"], dirs_exist_ok=True)
            return True
        if name == "PublishPipelineArtifact@1":
            if inputs.get("publishLocation") != "pipeline" or set(inputs) != {"targetPath", "artifact", "publishLocation"}:
                raise UnsupportedConstruct(f"publish {inputs}")
            folder, target = Path(inputs["targetPath"]), store / inputs["artifact"]
            if target.exists():
                return False  # artifact names are unique per run
            if not folder.exists() or not any(folder.rglob("*")):
                return False
            shutil.copytree(folder, target)
            return True
        if name == "Cache@2":
            if set(inputs) - {"key", "restoreKeys", "path"}:
                raise UnsupportedConstruct(f"cache {inputs}")
            key = self._cache_key(inputs["key"], src)
            if key is None:
                return False
            folder = src / inputs["path"]
            prefix = self._cache_key(inputs.get("restoreKeys", ""), src) if inputs.get("restoreKeys") else None
            hit = key if key in self.caches else next(
                (k for k in reversed(list(self.caches)) if prefix and k.startswith(prefix)), None)
            result.cache_hits.append((record.stage, "exact" if hit == key else "partial" if hit else "miss"))
            if hit:
                shutil.copytree(self.caches[hit], folder, dirs_exist_ok=True)
            if hit != key:
                saves.append((key, folder))
            return True
        if name == "PublishTestResults@2":
            if inputs.get("testResultsFormat") != "JUnit":
                raise UnsupportedConstruct(f"test results {inputs}")
            for pattern in str(inputs["testResultsFiles"]).split("\n"):
                for f in sorted(src.glob(pattern)) if pattern else []:
                    root = ET.parse(f).getroot()
                    suites = [root] if root.tag == "testsuite" else list(root)
                    tests = sum(int(s.get("tests", 0)) for s in suites)
                    failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
                    result.junit.append((f.relative_to(src).as_posix(), tests, failures))
            return True
        raise UnsupportedConstruct(f"task {name}")

    def _cache_key(self, key: str, src: Path) -> str | None:
        parts = []
        for seg in (s.strip() for s in key.split("|")):
            if seg.startswith('"') and seg.endswith('"'):
                parts.append(seg[1:-1])
            elif "/" in seg or "." in seg:
                f = Path(seg) if Path(seg).is_absolute() else src / seg
                if not f.is_file():
                    return None  # Cache@2 fails when a key file is missing
                parts.append(hashlib.sha256(f.read_bytes()).hexdigest())
            else:
                parts.append(seg)
        return "|".join(parts)


def _raise(message: str) -> dict[str, str]:
    raise UnsupportedConstruct(message)
