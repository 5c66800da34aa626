"""Run generated GitHub Actions workflows with nektos/act, offline (tests only).

One `act` process per run, in host mode (`-P ubuntu-24.04=-self-hosted`: jobs run on this
machine, each in its own fresh workspace), on a throw-away git repo holding a copy of the
project. act evaluates the workflow itself: the event and its payload, `needs`, `if:`, job and
step outputs, matrix, `env`, `vars` (given with `--var`, as repository variables) and secrets.
Only the official actions are replaced, by the stand-ins in tests/support/act_actions/, mapped
with `--local-repository`: every `uses:` of the workflow must have one (no action is ever
fetched), and act runs with `--no-skip-checkout` (the checkout stand-in clones the test repo),
`--no-cache-server` (the cache stand-in keeps its own store), no artifact server (nektos/act
#6022) and no version check. The runner's PATH is a stub dir (a `gh` that keeps the pull
requests' comments in a JSON file), Node 24 (the cache stand-in is a node24 action) and the
system dirs; the test venv's Python reaches PATH only through the setup-python stand-in, so the
workflow's `pip install` lines find everything installed (PIP_NO_INDEX keeps pip offline).

Not emulated by act: environment protection rules and approvals (an `environment:` job just
runs), OIDC tokens, `concurrency` groups (runs here are sequential anyway); `vars` exist only as
given to the runner.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.support import judges

REPOSITORY = "mlgen-tests/demo"
DEFAULT_BRANCH = "main"
FAKE_TOKEN = "ghs_fake-token-for-offline-tests"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
ACTIONS = Path(__file__).resolve().parent / "act_actions"
#: action repository -> stand-in folder (actions/cache/restore and /save are folders of actions/cache)
STANDINS = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "actions/cache": "cache",
}
ACT_TIMEOUT = 1800
SUCCESS, FAILURE, SKIPPED = "success", "failure", "skipped"


class Unsupported(ValueError):
    """A workflow needs something the stand-ins do not provide (so nothing is fetched or guessed)."""


@dataclass(frozen=True)
class Event:
    """The event a run simulates, as the payload act reads with `-e`."""

    name: str  # push | pull_request | schedule | workflow_dispatch
    ref: str = f"refs/heads/{DEFAULT_BRANCH}"
    inputs: Mapping[str, str] = field(default_factory=dict)
    number: int = 7
    head: str = "feature"
    head_repo: str = REPOSITORY

    @classmethod
    def push(cls, branch: str = DEFAULT_BRANCH) -> Event:
        return cls("push", ref=f"refs/heads/{branch}")

    @classmethod
    def pull_request(cls, number: int = 7, head_repo: str = REPOSITORY) -> Event:
        return cls("pull_request", ref=f"refs/pull/{number}/merge", number=number, head_repo=head_repo)

    @classmethod
    def schedule(cls) -> Event:
        return cls("schedule")

    @classmethod
    def dispatch(cls, branch: str = DEFAULT_BRANCH, **inputs: str) -> Event:
        return cls("workflow_dispatch", ref=f"refs/heads/{branch}", inputs=inputs)

    @property
    def branch(self) -> str:
        """The branch the repo has checked out (a pull request runs on its head branch)."""
        return self.head if self.name == "pull_request" else self.ref.removeprefix("refs/heads/")

    def payload(self, repository: str) -> dict[str, Any]:
        owner, name = repository.split("/")
        repo = {"full_name": repository, "name": name, "owner": {"login": owner}, "default_branch": DEFAULT_BRANCH}
        doc: dict[str, Any] = {"repository": repo, "sender": {"login": "mlgen-tests"}}
        if self.name == "pull_request":
            doc |= {"action": "synchronize", "number": self.number, "pull_request": {
                "number": self.number,
                "head": {"ref": self.head, "repo": {"full_name": self.head_repo}},
                "base": {"ref": DEFAULT_BRANCH, "repo": {"full_name": repository}},
            }}
        elif self.name == "schedule":
            doc["schedule"] = "0 6 * * 1"
        else:
            doc["ref"] = self.ref
        if self.name == "workflow_dispatch":
            doc["inputs"] = dict(self.inputs)
        return doc


@dataclass
class JobRun:
    """One job (or one matrix instance of it) as act reported it."""

    job: str
    matrix: dict[str, Any]
    result: str = ""
    lines: list[str] = field(default_factory=list)
    summary: str = ""
    outputs: dict[str, str] = field(default_factory=dict)  # every step's ::set-output::

    def log(self) -> str:
        return "".join(line if line.endswith("\n") else line + "\n" for line in self.lines)


@dataclass
class ActRun:
    returncode: int
    output: str
    jobs: list[str]  # the workflow's job ids, in file order
    runs: list[JobRun]
    folder: Path

    @property
    def artifacts(self) -> Path:
        return self.folder / "artifacts"

    def __getitem__(self, job: str) -> list[JobRun]:
        return [r for r in self.runs if r.job == job]

    @property
    def results(self) -> dict[str, str]:
        """Each job's result: a job act never started was skipped (its `if:` or a need said so)."""
        out = {}
        for job in self.jobs:
            got = {r.result for r in self[job]}
            out[job] = SKIPPED if not got else FAILURE if got - {SUCCESS} else SUCCESS
        return out

    def log(self, job: str) -> str:
        return "\n".join(r.log() for r in self[job])

    def summary(self, job: str | None = None) -> str:
        return "".join(r.summary for r in self.runs if job in (None, r.job))

    def failures(self) -> str:
        """The failed jobs' logs (tails) and act's own errors, for assertion messages."""
        failed = [r.log()[-4000:] for r in self.runs if r.result != SUCCESS]
        errors = [ln for ln in self.output.splitlines() if not ln.startswith("{")]
        return "\n".join([*failed, *errors[-20:]])


GH_STUB = """\
#!@PYTHON@
# A stand-in for the GitHub CLI. It records each call (with the body it was given) and keeps the
# pull requests' comments in a JSON file, for the calls the generated workflows make:
#   gh pr comment N --repo R --body-file F               -> a new comment by github-actions[bot]
#   gh api repos/R/issues/N/comments --paginate --jq Q   -> the ids Q selects (Q must be the
#                                                           workflow's query; it is evaluated here)
#   gh api --method PATCH repos/R/issues/comments/ID -F body=@F --silent -> edits comment ID
# Anything else fails, so a workflow cannot rely on a call the stub does not understand.
import json, os, sys
args = sys.argv[1:]
store_path, marker, query = @STORE@, @MARKER@, @QUERY@
store = json.load(open(store_path, encoding="utf-8")) if os.path.exists(store_path) else []
def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()
body = None
if args[:2] == ["pr", "comment"] and "--body-file" in args:
    body = read(args[args.index("--body-file") + 1])
    store.append({"id": 100 + len(store), "issue": args[2], "user": {"login": "github-actions[bot]"}, "body": body})
elif args[:1] == ["api"] and "--jq" in args and "--method" not in args:
    if args[args.index("--jq") + 1] != query:
        sys.exit("gh stub: unexpected --jq " + args[args.index("--jq") + 1])
    issue = args[1].split("/")[-2]
    for c in store:
        if c["issue"] == issue and c["user"]["login"] == "github-actions[bot]" and c["body"].startswith(marker):
            print(c["id"])
elif args[:3] == ["api", "--method", "PATCH"] and "-F" in args:
    field = args[args.index("-F") + 1]
    assert field.startswith("body=@"), field
    body = read(field[len("body=@"):])
    wanted = int(args[3].rsplit("/", 1)[1])
    (hit,) = [c for c in store if c["id"] == wanted]
    hit["body"] = body
else:
    sys.exit("gh stub: unsupported call: gh " + " ".join(args))
with open(store_path, "w", encoding="utf-8") as f:
    json.dump(store, f)
record = {
    "args": args,
    "cwd": os.getcwd(),
    "body": body,
    "env": {k: os.environ.get(k) for k in ("GH_TOKEN", "PR_NUMBER", "GITHUB_REPOSITORY")},
}
with open(@LOG@, "a", encoding="utf-8") as f:
    f.write(json.dumps(record) + "\\n")
"""


def uses_of(workflow: Path) -> set[str]:
    """Every `uses:` of the workflow's steps."""
    doc = YAML(typ="safe", pure=True).load(workflow.read_text(encoding="utf-8"))
    return {str(s["uses"]) for job in (doc.get("jobs") or {}).values() for s in job.get("steps") or [] if "uses" in s}


def local_repositories(workflow: Path) -> list[str]:
    """`--local-repository` values mapping each pinned action repo to its stand-in."""
    mapped: dict[str, str] = {}
    for uses in sorted(uses_of(workflow)):
        action, _, ref = uses.partition("@")
        repo = "/".join(action.split("/")[:2])
        if repo not in STANDINS:
            raise Unsupported(f"uses: {action} has no stand-in in {ACTIONS}")
        if not re.fullmatch(r"[0-9a-f]{40}", ref):
            raise Unsupported(f"{uses}: actions must be pinned to a full commit SHA")
        mapped[f"{repo}@{ref}"] = str(ACTIONS / STANDINS[repo])
    return [f"{k}={v}" for k, v in mapped.items()]


def parse(output: str, jobs: Iterable[str]) -> list[JobRun]:
    """act's `--json` lines -> one JobRun per job instance (keyed by act's job label)."""
    runs: dict[str, JobRun] = {}
    for line in output.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict) or "jobID" not in rec:
            continue
        label = str(rec.get("job", "")).strip()
        run = runs.setdefault(label, JobRun(str(rec["jobID"]), dict(rec.get("matrix") or {})))
        run.lines.append(str(rec.get("msg", "")))
        if rec.get("command") == "summary":
            run.summary += str(rec.get("content", ""))
        if rec.get("command") == "set-output":
            run.outputs[str(rec.get("name"))] = str(rec.get("arg", ""))
        if "jobResult" in rec:
            run.result = str(rec["jobResult"])
    known = set(jobs)
    unknown = {r.job for r in runs.values()} - known
    assert not unknown, f"act reported jobs the workflow does not have: {unknown}"
    return sorted(runs.values(), key=lambda r: (r.job, json.dumps(r.matrix, sort_keys=True)))


class ActRunner:
    """Runs workflows of projects with act; state that outlives a run lives under `work`.

    `vars` are the repository's configuration variables (`${{ vars.X }}`), `secrets` its
    secrets (GITHUB_TOKEN is a fake token). The cache store and the pull requests' comments
    outlive runs; each run gets a folder of its own (repo copy, event, artifacts, act's output).
    """

    def __init__(self, work: Path, *, vars: Mapping[str, str] | None = None,
                 secrets: Mapping[str, str] | None = None, repository: str = REPOSITORY,
                 caches: Path | None = None) -> None:
        self.act = judges.require("act")
        self.node = judges.require("node24")
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.vars = dict(vars or {})
        self.secrets = {"GITHUB_TOKEN": FAKE_TOKEN, **(secrets or {})}
        self.repository = repository
        self.count = 0
        self.caches = Path(caches) if caches else self.work / "caches"  # shared: another runner's store
        self.stubs = self.work / "stubs"
        self.stubs.mkdir(exist_ok=True)
        self.gh_log = self.work / "gh-calls.jsonl"
        self.comments_file = self.work / "gh-comments.json"
        from mlgen.backends.github.steps import COMMENT_MARKER, COMMENT_QUERY

        stub = (GH_STUB.replace("@PYTHON@", sys.executable).replace("@LOG@", repr(str(self.gh_log)))
                .replace("@STORE@", repr(str(self.comments_file))).replace("@MARKER@", repr(COMMENT_MARKER))
                .replace("@QUERY@", repr(COMMENT_QUERY)))
        (self.stubs / "gh").write_text(stub, encoding="utf-8")
        (self.stubs / "gh").chmod(0o755)

    # -- the pull requests' comments (the gh stub's store) ----------------------------------

    def comments(self, issue: int | str) -> list[dict[str, Any]]:
        if not self.comments_file.is_file():
            return []
        return [c for c in json.loads(self.comments_file.read_text(encoding="utf-8")) if c["issue"] == str(issue)]

    def add_comment(self, issue: int | str, login: str, body: str) -> None:
        """A comment someone else (a person, another workflow) wrote on the pull request."""
        store = json.loads(self.comments_file.read_text(encoding="utf-8")) if self.comments_file.is_file() else []
        store.append({"id": 100 + len(store), "issue": str(issue), "user": {"login": login}, "body": body})
        self.comments_file.write_text(json.dumps(store), encoding="utf-8")

    def gh_calls(self) -> list[dict[str, Any]]:
        if not self.gh_log.is_file():
            return []
        return [json.loads(line) for line in self.gh_log.read_text(encoding="utf-8").splitlines()]

    # -- runs -------------------------------------------------------------------------------

    def _repo(self, source: Path, dest: Path, branch: str) -> None:
        """A git repo of `source`'s files on `branch`, with the repository as its origin."""
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".git", "__pycache__"), symlinks=True)
        git = ["git", "-C", str(dest), "-c", "user.name=mlgen-tests", "-c", "user.email=tests@mlgen.invalid",
               "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]
        for args in (["init", "-q", "-b", branch], ["remote", "add", "origin", f"https://github.com/{self.repository}.git"],
                     ["add", "-A", "-f", "."], ["commit", "-q", "-m", "test run"]):
            subprocess.run([*git, *args], check=True, capture_output=True,
                           env={**os.environ, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"})

    def runner_env(self, folder: Path) -> dict[str, str]:
        """The act process's environment, which host-mode jobs inherit (the runner's environment)."""
        home = folder / "home"
        home.mkdir(exist_ok=True)
        return {
            "HOME": str(home),  # no ~/.actrc, no user git config
            "LANG": "C.UTF-8",
            "PATH": os.pathsep.join([str(self.stubs), str(self.node.parent), SYSTEM_PATH]),
            "ACT_DISABLE_VERSION_CHECK": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "PIP_NO_INDEX": "1",  # everything is installed already: never reach for the network
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "ACT_STANDIN_SOURCE": str(folder / "repo"),
            "ACT_STANDIN_PYTHON": sys.executable,
            "ACT_STANDIN_ARTIFACTS": str(folder / "artifacts"),
            "ACT_STANDIN_CACHES": str(self.caches),
        }

    def run(self, source: Path, workflow: str, event: Event) -> ActRun:
        """Run `workflow` (a path inside `source`) of a copy of `source` for `event`."""
        self.count += 1
        folder = self.work / f"run-{self.count}"
        folder.mkdir()
        repo = folder / "repo"
        self._repo(Path(source), repo, event.branch)
        wf = repo / workflow
        doc = YAML(typ="safe", pure=True).load(wf.read_text(encoding="utf-8"))
        (folder / "event.json").write_text(json.dumps(event.payload(self.repository)), encoding="utf-8")
        none = str(folder / "none")  # no .env/.secrets/.vars/.input file is ever read
        cmd = [str(self.act), event.name, "-W", workflow, "-e", str(folder / "event.json"), "--json",
               "-P", "ubuntu-24.04=-self-hosted", "--no-skip-checkout", "--no-cache-server",
               "--action-offline-mode", "--action-cache-path", str(folder / "act"), "--concurrent-jobs", "2",
               "--env-file", none, "--secret-file", none, "--var-file", none, "--input-file", none]
        for value in local_repositories(wf):
            cmd += ["--local-repository", value]
        for k, v in self.vars.items():
            cmd += ["--var", f"{k}={v}"]
        for k, v in self.secrets.items():
            cmd += ["-s", f"{k}={v}"]
        proc = subprocess.run(cmd, cwd=repo, env=self.runner_env(folder), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                              timeout=ACT_TIMEOUT, check=False)
        (folder / "act.jsonl").write_text(proc.stdout, encoding="utf-8")
        jobs = list(doc.get("jobs") or {})
        return ActRun(proc.returncode, proc.stdout, jobs, parse(proc.stdout, jobs), folder)
