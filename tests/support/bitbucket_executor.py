"""Run a generated `bitbucket-pipelines.yml` as written, without Bitbucket: a step executor for
the subset the Bitbucket backend emits.

Bitbucket Pipelines has no local runner, so the tests prove the file does its job by executing it
here, the way Bitbucket Cloud runs one pipeline (:class:`Run`):

- Which pipeline: a push runs `pipelines.branches.<glob>` matching the branch (else `default`,
  else nothing); a pull request runs `pull-requests.<glob>` matching the *source* branch; a
  custom pipeline (Run pipeline, or a schedule) runs `custom.<name>`, whose `variables` item
  declares the variables a person may set (an undeclared one is refused, as Bitbucket's form has
  no field for it).
- Items in order: a `step`, or a `parallel` group (`steps`, `fail-fast`; its steps run one after the
  other here, each in its own workspace). A failed step stops the pipeline (later steps NOT_RUN).
  A `trigger: manual` step pauses the pipeline until a person runs it: `Run.paused_at` leaves it
  paused, otherwise it is run (recorded). A manual first step is refused, as Bitbucket does.
- Each step: a fresh clone of the project (no files from other steps but artifacts); its
  `artifacts.download` (false / a list of names) restores those named artifacts of earlier steps of
  this run (an unknown name raises); `caches` (each must be defined in `definitions.caches`) are
  restored by name and by the sha256 of their `key.files`, and saved after a successful step only
  when no entry of that key exists (Bitbucket never overwrites a cache); `deployment` binds the
  step to an environment (once per pipeline; its deployment variables join the environment);
  `max-time` bounds the script; `script` lines run in one bash process, stopping at the first
  failing line; `after-script` runs afterwards with BITBUCKET_EXIT_CODE, and cannot fail the step;
  `artifacts.upload` entries are captured per `capture-on` (default success) by glob (`**` spans
  folders); JUnit files under `test-results/` are read for the Tests tab.

Anything else (an unknown key, a pipe, an old-style artifact list) raises
:class:`UnsupportedConstruct`, so a construct the executor does not understand can never make a
test pass.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML

Kind = Literal["push", "pull_request", "custom"]
STEP_KEYS = {"name", "deployment", "trigger", "max-time", "caches", "artifacts", "script", "after-script"}
REPO = "team/demo"


class UnsupportedConstruct(Exception):
    """The file uses something this executor does not emulate (or Bitbucket would refuse)."""


@dataclass(frozen=True)
class Run:
    """One pipeline run: a push to `branch`, a pull request from `branch` into `destination`, or the
    custom pipeline `pipeline` started on `branch` with `variables`."""

    kind: Kind = "push"
    branch: str = "main"
    destination: str = "main"
    pipeline: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)
    number: int = 1
    paused_at: frozenset[str] = frozenset()  # manual steps nobody runs


@dataclass
class StepRun:
    name: str
    status: Literal["SUCCESSFUL", "FAILED", "NOT_RUN", "PAUSED"]
    log: str = ""
    exit_code: int | None = None
    workspace: Path | None = None
    deployment: str | None = None


@dataclass
class RunResult:
    run: Run
    pipeline: str | None
    status: str = "SUCCESSFUL"
    steps: dict[str, StepRun] = field(default_factory=dict)
    events: list[tuple[str, ...]] = field(default_factory=list)  # ("manual", step), ("cache-hit", name), ...
    artifacts: dict[str, dict[str, bytes]] = field(default_factory=dict)
    junit: dict[str, tuple[int, int]] = field(default_factory=dict)  # step -> (tests, failures)

    def ran(self) -> list[str]:
        return [s.name for s in self.steps.values() if s.status in ("SUCCESSFUL", "FAILED")]

    def deployments(self) -> list[tuple[str, str]]:
        return [(s.name, s.deployment) for s in self.steps.values() if s.deployment and s.status == "SUCCESSFUL"]

    def summary(self) -> str:
        lines = [f"{self.run.kind} {self.run.branch} -> {self.pipeline}: {self.status}"]
        for s in self.steps.values():
            lines.append(f"  {s.name}: {s.status}")
            if s.status == "FAILED":
                lines.append("    " + s.log[-3000:].replace("\n", "\n    "))
        return "\n".join(lines)


def _yaml(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def glob_files(root: Path, pattern: str) -> list[str]:
    """Files under `root` matching `pattern` (`**` spans folders; a folder matches nothing itself)."""
    out = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            if _match(pattern, rel):
                out.append(rel)
    return out


def branch_glob(pattern: str, branch: str) -> bool:
    """Bitbucket's branch globs: `**` any branch, `*` within one path segment."""
    if pattern in ("**", branch):
        return True
    return fnmatch.fnmatchcase(branch, pattern) and ("/" not in branch or "/" in pattern)


def _match(pattern: str, rel: str) -> bool:
    if pattern.endswith("/**"):
        return rel.startswith(pattern[:-3] + "/")
    return fnmatch.fnmatchcase(rel, pattern) and "**" not in pattern


class BitbucketExecutor:
    """Runs pipelines of one `bitbucket-pipelines.yml` for `project`, keeping caches across runs.

    python_bin: put first on PATH (the test's venv); variables: repository variables;
    deployment_variables: per environment."""

    def __init__(self, text: str, project: Path, work: Path, *, python_bin: Path,
                 variables: Mapping[str, str] | None = None,
                 deployment_variables: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.doc = _yaml(text)
        unknown = set(self.doc) - {"image", "definitions", "pipelines"}
        if unknown:
            raise UnsupportedConstruct(f"top-level keys {sorted(unknown)}")
        self.caches_defined: dict[str, Any] = (self.doc.get("definitions") or {}).get("caches") or {}
        self.project, self.work, self.python_bin = project, work, python_bin
        self.variables = dict(variables or {})
        self.deployment_variables = {k: dict(v) for k, v in (deployment_variables or {}).items()}
        self.cache_store: dict[tuple[str, str], Path] = {}
        self._runs = 0

    # ---------------------------------------------------------------- choosing the pipeline

    def pipeline_for(self, run: Run) -> tuple[str | None, list[Any] | None]:
        p = self.doc["pipelines"]
        if run.kind == "custom":
            if run.pipeline not in (p.get("custom") or {}):
                raise UnsupportedConstruct(f"no custom pipeline {run.pipeline!r}")
            return f"custom.{run.pipeline}", p["custom"][run.pipeline]
        section = "branches" if run.kind == "push" else "pull-requests"
        for pattern, items in (p.get(section) or {}).items():
            if branch_glob(str(pattern), run.branch):
                return f"{section}.{pattern}", items
        if run.kind == "push" and "default" in p:
            return "default", p["default"]
        return None, None

    # ---------------------------------------------------------------- the run

    def run(self, run: Run) -> RunResult:
        self._runs += 1
        name, items = self.pipeline_for(run)
        result = RunResult(run, name)
        if items is None:
            result.status = "NO_PIPELINE"
            return result
        declared: set[str] = set()
        steps: list[tuple[dict[str, Any], int | None]] = []
        for item in items:
            if "variables" in item:
                declared |= {v["name"] for v in item["variables"]}
            elif "step" in item:
                steps.append((item["step"], None))
            elif "parallel" in item:
                group = item["parallel"]
                for s in group["steps"]:
                    steps.append((s["step"], id(group)))
            else:
                raise UnsupportedConstruct(f"pipeline item {sorted(item)}")
        undeclared = set(run.variables) - declared
        if undeclared:
            raise UnsupportedConstruct(f"variables {sorted(undeclared)} are not declared by {name}")
        if steps and steps[0][0].get("trigger") == "manual":
            raise UnsupportedConstruct("the first step of a pipeline cannot be manual")
        base = self._base_env(run)
        deployed: set[str] = set()
        stopped = False
        for step, _group in steps:
            label = str(step["name"])
            if stopped:
                result.steps[label] = StepRun(label, "NOT_RUN")
                continue
            if step.get("trigger") == "manual":
                if label in run.paused_at:
                    result.steps[label] = StepRun(label, "PAUSED")
                    result.status = "PAUSED"
                    stopped = True
                    continue
                result.events.append(("manual", label))
            env_name = step.get("deployment")
            if env_name is not None:
                if env_name in deployed:
                    raise UnsupportedConstruct(f"deployment {env_name!r} used twice in {name}")
                deployed.add(env_name)
            sr = self._step(step, run, base, result)
            result.steps[label] = sr
            if sr.status == "FAILED":
                result.status = "FAILED"
                stopped = True
        return result

    def _base_env(self, run: Run) -> dict[str, str]:
        commit = hashlib.sha1(f"{run.branch}:{run.number}".encode()).hexdigest()
        env = {
            "PATH": os.pathsep.join([str(self.python_bin), os.environ.get("PATH", "/usr/bin:/bin")]),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "CI": "true",
            "BITBUCKET_BRANCH": run.branch,
            "BITBUCKET_COMMIT": commit,
            "BITBUCKET_BUILD_NUMBER": str(run.number),
            "BITBUCKET_REPO_FULL_NAME": REPO,
            "BITBUCKET_REPO_SLUG": REPO.split("/")[1],
            "BITBUCKET_WORKSPACE": REPO.split("/")[0],
        }
        if run.kind == "pull_request":
            env.update(BITBUCKET_PR_ID="7", BITBUCKET_PR_DESTINATION_BRANCH=run.destination)
        env.update(self.variables)
        env.update(run.variables)
        return env

    # ---------------------------------------------------------------- one step

    def _step(self, step: dict[str, Any], run: Run, base: dict[str, str], result: RunResult) -> StepRun:
        label = str(step["name"])
        unknown = set(step) - STEP_KEYS
        if unknown:
            raise UnsupportedConstruct(f"step {label!r}: keys {sorted(unknown)}")
        ws = self.work / f"run-{self._runs}" / label.replace("/", "-").replace(" ", "_")
        if ws.exists():
            shutil.rmtree(ws)
        shutil.copytree(self.project, ws, ignore=shutil.ignore_patterns(".git"), symlinks=True)
        env = dict(base, BITBUCKET_CLONE_DIR=str(ws))
        env_name = step.get("deployment")
        if env_name is not None:
            env.update(self.deployment_variables.get(env_name, {}), BITBUCKET_DEPLOYMENT_ENVIRONMENT=env_name)
        artifacts = step.get("artifacts") or {}
        if isinstance(artifacts, list) or set(artifacts) - {"download", "upload"}:
            raise UnsupportedConstruct(f"step {label!r}: artifacts must be download/upload")
        download = artifacts.get("download", True)
        names = list(result.artifacts) if download is True else [] if download is False else list(download)
        for n in names:
            if n not in result.artifacts:
                raise UnsupportedConstruct(f"step {label!r} downloads artifact {n!r}, which no earlier step uploaded")
            for rel, data in result.artifacts[n].items():
                (ws / rel).parent.mkdir(parents=True, exist_ok=True)
                (ws / rel).write_bytes(data)
        caches = [self._cache_key(c, ws) for c in step.get("caches", [])]
        for cache, key, path in caches:
            stored = self.cache_store.get((cache, key))
            if stored is not None:
                shutil.copytree(stored, ws / path, dirs_exist_ok=True)
                result.events.append(("cache-hit", label, cache))
        script = step["script"]
        if not all(isinstance(line, str) for line in script):
            raise UnsupportedConstruct(f"step {label!r}: only script lines (no pipes)")
        rc, log = self._bash(script, ws, env, 60 * int(step.get("max-time", 120)))
        after = step.get("after-script") or []
        if after:
            _rc, after_log = self._bash(after, ws, dict(env, BITBUCKET_EXIT_CODE=str(rc)), 600)
            log += after_log
        ok = rc == 0
        for upload in artifacts.get("upload", []):
            capture = upload.get("capture-on", "success")
            if capture == "always" or (capture == "success") == ok:
                files = {rel: (ws / rel).read_bytes() for p in upload["paths"] for rel in glob_files(ws, p)}
                result.artifacts[upload["name"]] = files
        self._junit(ws, label, result)
        if ok:
            for cache, key, path in caches:
                if (cache, key) not in self.cache_store and (ws / path).is_dir():
                    dest = self.work / "caches" / f"{cache}-{key[:12]}"
                    shutil.copytree(ws / path, dest, dirs_exist_ok=True)
                    self.cache_store[(cache, key)] = dest
        return StepRun(label, "SUCCESSFUL" if ok else "FAILED", log, rc, ws, env_name)

    def _cache_key(self, name: str, ws: Path) -> tuple[str, str, str]:
        if name not in self.caches_defined:
            raise UnsupportedConstruct(f"cache {name!r} is not defined in definitions.caches")
        d = self.caches_defined[name]
        h = hashlib.sha256()
        for f in (d.get("key") or {}).get("files", []):
            target = ws / f
            h.update(f.encode() + b"\0" + (target.read_bytes() if target.is_file() else b"<missing>"))
        return name, h.hexdigest(), d["path"]

    def _bash(self, lines: list[str], ws: Path, env: dict[str, str], timeout: int) -> tuple[int, str]:
        script = "".join(f"{line}\n__rc=$?; if [ $__rc -ne 0 ]; then exit $__rc; fi\n" for line in lines)
        try:
            p = subprocess.run(["bash", "-c", script], cwd=ws, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, f"step exceeded max-time ({timeout} s)"
        return p.returncode, p.stdout + p.stderr

    def _junit(self, ws: Path, label: str, result: RunResult) -> None:
        tests = failures = 0
        for path in sorted((ws / "test-results").rglob("*.xml")) if (ws / "test-results").is_dir() else []:
            root = ET.parse(path).getroot()
            suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
            for s in suites:
                cases = list(s.iter("testcase"))
                tests += len(cases)
                failures += sum(1 for c in cases if c.find("failure") is not None or c.find("error") is not None)
        if tests:
            result.junit[label] = (tests, failures)
