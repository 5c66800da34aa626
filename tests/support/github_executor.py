"""A small offline executor for the generated GitHub Actions workflows (tests only).

No runner exists offline, so this runs a workflow file the way GitHub would, for the subset of
the syntax mlgen generates, and refuses everything else (an unknown `uses:`, expression form,
context or shell raises :class:`Unsupported` instead of being skipped or guessed):

- the event must be one the workflow listens to (`on:`, branch filters, dispatch inputs with
  their defaults and choices);
- jobs run in `needs` order (ties in file order); each job's `if:` is evaluated for the
  simulated event with a tiny evaluator of exactly the forms the backend emits (`github.*`,
  `needs.<job>.result/outputs`, `inputs`, `matrix`, `steps`, `runner.os`, `vars.*` (the
  repository variables a test gives, '' when unset, never environment variables), `==`/`!=`, `!`,
  `&&`, `||`, `always()`, `cancelled()`, `failure()`, `success()`, `startsWith()`, `format()` with
  `{N}` placeholders, `hashFiles()` of the job's workspace), with GitHub's
  implicit `success() &&` when the condition calls no status function;
- a matrix job runs once per combination (`fail-fast` honoured);
- every job (and matrix instance) runs in a fresh copy of the project (the checkout), so only
  declared artifacts and caches travel between jobs;
- `run:` steps run with `bash --noprofile --norc -eo pipefail` (the `shell: bash` default), in
  the runner's usual environment (GITHUB_*, RUNNER_*, CI=true) plus the workflow, job and step
  `env:` with their `${{ }}` expressions substituted, and PATH = a stub dir (a fake `gh` that
  records its calls), then this Python's bin dir (so `python` has every dependency and the
  pip lines find everything satisfied; PIP_NO_INDEX keeps pip off the network);
- step outputs (GITHUB_OUTPUT), job outputs, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY;
- actions/checkout and actions/setup-python are no-ops (the copy is the checkout, this Python is
  the setup); upload-artifact / download-artifact copy files through a run-scoped store, rooted
  like upload-artifact roots them (least common ancestor of the search paths); actions/cache
  is a store that outlives runs, scoped by ref (a run reads its own ref's entries and the
  default branch's); a restore tries the exact key, then the key as a prefix, then each
  restore-key prefix (newest entry first), as GitHub documents; actions/cache saves at the end
  of a successful job unless the key matched exactly, actions/cache/restore never saves, and
  actions/cache/save stores under its key unless that key exists (entries are immutable).

Environment protection (approval) counts as given; concurrency groups are not simulated (runs
are sequential). Workspaces are kept under the executor's work dir for assertions.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPOSITORY = "mlgen-tests/demo"
DEFAULT_BRANCH = "main"
FAKE_TOKEN = "ghs_fake-token-for-offline-tests"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"

SUCCESS, FAILURE, SKIPPED, CANCELLED = "success", "failure", "skipped", "cancelled"


class Unsupported(ValueError):
    """Workflow syntax this executor does not implement (so a test cannot silently pass)."""


# --------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Event:
    """The event a run simulates."""

    name: str  # push | pull_request | schedule | workflow_dispatch
    ref: str = f"refs/heads/{DEFAULT_BRANCH}"
    inputs: Mapping[str, str] = field(default_factory=dict)
    pr_number: int | None = None
    base_branch: str | None = None  # pull_request: the target branch
    head_branch: str | None = None
    head_repo: str = REPOSITORY  # pull_request: where the head branch lives (a fork if different)

    @classmethod
    def push(cls, branch: str = DEFAULT_BRANCH) -> Event:
        return cls("push", ref=f"refs/heads/{branch}")

    @classmethod
    def pull_request(cls, number: int = 7, base: str = DEFAULT_BRANCH, head: str = "feature",
                     head_repo: str = REPOSITORY) -> Event:
        return cls("pull_request", ref=f"refs/pull/{number}/merge", pr_number=number, base_branch=base,
                   head_branch=head, head_repo=head_repo)

    @classmethod
    def schedule(cls) -> Event:
        return cls("schedule")  # scheduled runs use the default branch

    @classmethod
    def dispatch(cls, branch: str = DEFAULT_BRANCH, **inputs: str) -> Event:
        return cls("workflow_dispatch", ref=f"refs/heads/{branch}", inputs=dict(inputs))

    @property
    def branch(self) -> str:
        """The branch that `on.<event>.branches` filters: the pushed one, or a PR's target."""
        if self.name == "pull_request":
            assert self.base_branch
            return self.base_branch
        return self.ref.removeprefix("refs/heads/")


# ---------------------------------------------------------------------------------- expressions

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>&&|\|\||==|!=|[!(),])"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*))"
)
STATUS_FUNCTIONS = ("always", "cancelled", "failure", "success")
FUNCTIONS = (*STATUS_FUNCTIONS, "startsWith", "hashFiles", "format")


def tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Unsupported(f"expression {text!r}: cannot read {text[pos:]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class Expr:
    """A parsed expression: a tree of tuples; `calls` names the functions it calls."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.calls: set[str] = set()
        self.tree = self._or()
        if self.pos != len(self.tokens):
            raise Unsupported(f"expression {text!r}: unexpected {self.tokens[self.pos][1]!r}")

    # recursive descent: or > and > comparison > not > primary
    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self, value: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise Unsupported(f"expression {self.text!r}: ends too early")
        tok = self.tokens[self.pos]
        if value is not None and tok[1] != value:
            raise Unsupported(f"expression {self.text!r}: expected {value!r}, got {tok[1]!r}")
        self.pos += 1
        return tok

    def _or(self) -> tuple[Any, ...]:
        node = self._and()
        while self._peek() == "||":
            self._take()
            node = ("or", node, self._and())
        return node

    def _and(self) -> tuple[Any, ...]:
        node = self._cmp()
        while self._peek() == "&&":
            self._take()
            node = ("and", node, self._cmp())
        return node

    def _cmp(self) -> tuple[Any, ...]:
        node = self._not()
        if self._peek() in ("==", "!="):
            op = self._take()[1]
            node = (op, node, self._not())
        return node

    def _not(self) -> tuple[Any, ...]:
        if self._peek() == "!":
            self._take()
            return ("not", self._not())
        return self._primary()

    def _primary(self) -> tuple[Any, ...]:
        kind, value = self._take()
        if value == "(" and kind == "op":
            node = self._or()
            self._take(")")
            return node
        if kind == "str":
            return ("lit", value[1:-1].replace("''", "'"))
        if kind == "num":
            return ("lit", float(value))
        if kind == "ident":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value == "null":
                return ("lit", None)
            if self._peek() == "(":
                if value not in FUNCTIONS:
                    raise Unsupported(f"expression {self.text!r}: function {value}() is not supported")
                self._take("(")
                args: list[tuple[Any, ...]] = []
                while self._peek() != ")":
                    args.append(self._or())
                    if self._peek() == ",":
                        self._take(",")
                self._take(")")
                self.calls.add(value)
                return ("call", value, args)
            return ("ctx", value.split("."))
        raise Unsupported(f"expression {self.text!r}: unexpected {value!r}")


def truthy(v: Any) -> bool:
    return v not in (None, False, "", 0, 0.0)


def _number(v: Any) -> float:
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(v.strip()) if v.strip() else 0.0
    except ValueError:
        return float("nan")


def equal(a: Any, b: Any) -> bool:
    """GitHub's `==`: strings compare ignoring case; other mixed types compare as numbers."""
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if type(a) is type(b) and not isinstance(a, float):
        return bool(a == b)
    return _number(a) == _number(b)


def to_text(v: Any) -> str:
    """How `${{ }}` renders a value into a string."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


@dataclass
class Scope:
    """What an expression may read, and what the status functions mean where it is evaluated."""

    github: dict[str, Any]
    needs: dict[str, dict[str, Any]] | None = None  # job level: the job's direct needs
    inputs: dict[str, str] | None = None
    matrix: dict[str, Any] | None = None
    steps: dict[str, dict[str, Any]] | None = None
    status: Callable[[str], bool] | None = None  # status function -> value
    workspace: Path | None = None  # for hashFiles(): the job's workspace (steps only)
    # configuration variables (repository / organization / environment): GitHub exposes them
    # only as the `vars` context, never as environment variables; unset ones read as ''
    vars: Mapping[str, str] = field(default_factory=dict)


def evaluate(expr: Expr | str, scope: Scope) -> Any:
    e = expr if isinstance(expr, Expr) else Expr(expr)
    return _eval(e.tree, scope, e.text)


def _eval(node: tuple[Any, ...], scope: Scope, text: str) -> Any:
    op = node[0]
    if op == "lit":
        return node[1]
    if op == "or":
        left = _eval(node[1], scope, text)
        return left if truthy(left) else _eval(node[2], scope, text)
    if op == "and":
        left = _eval(node[1], scope, text)
        return _eval(node[2], scope, text) if truthy(left) else left
    if op == "not":
        return not truthy(_eval(node[1], scope, text))
    if op in ("==", "!="):
        same = equal(_eval(node[1], scope, text), _eval(node[2], scope, text))
        return same if op == "==" else not same
    if op == "call":
        name, args = node[1], node[2]
        if name == "startsWith":
            if len(args) != 2:
                raise Unsupported(f"{text!r}: startsWith takes 2 arguments")
            a, b = (to_text(_eval(x, scope, text)) for x in args)
            return a.casefold().startswith(b.casefold())
        if name == "format":
            if not args:
                raise Unsupported(f"{text!r}: format() needs a format string")
            values = [to_text(_eval(x, scope, text)) for x in args]
            if re.search(r"\{\{|\}\}|\{(?!\d+\})", values[0]):
                raise Unsupported(f"{text!r}: only {{N}} placeholders of format() are simulated")
            return re.sub(r"\{(\d+)\}", lambda m: values[1 + int(m.group(1))], values[0])
        if name == "hashFiles":
            if scope.workspace is None or not args:
                raise Unsupported(f"{text!r}: hashFiles() needs a workspace and at least one pattern")
            return hash_files(scope.workspace, [to_text(_eval(x, scope, text)) for x in args])
        if args:
            raise Unsupported(f"{text!r}: {name}() takes no arguments")
        if scope.status is None:
            raise Unsupported(f"{text!r}: {name}() is not available here")
        return scope.status(name)
    if op == "ctx":
        return lookup(node[1], scope, text)
    raise AssertionError(node)  # pragma: no cover


# What JavaScript's trim() removes: @actions/glob trims every pattern line.
_JS_SPACE = " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000\ufeff"


def actions_patterns(lines: list[str], where: str) -> list[str]:
    """@actions/glob pattern lines (trimmed; `#` lines are comments) in Python glob syntax. On
    Linux `\\` escapes the next character there; Python's glob has no escape, so an escaped
    character becomes itself (a one-character class for the magic ones). `!` negation and a
    leading `~` (home) are not simulated."""
    out = []
    for raw in lines:
        line = raw.strip(_JS_SPACE)
        if not line or line.startswith("#"):
            continue
        if line.startswith("!") or line == "~" or line.startswith("~/"):
            raise Unsupported(f"{where}: pattern {line!r} (negation or home) is not simulated")
        chars, i = [], 0
        while i < len(line):
            if line[i] == "\\" and i + 1 < len(line):
                chars.append(glob.escape(line[i + 1]))
                i += 2
            else:
                chars.append(line[i])
                i += 1
        out.append("".join(chars))
    return out


def literal_prefix(pattern: str) -> str:
    """The search path of a translated pattern: its segments before the first one with a
    wildcard (a one-character class is a literal character, as @actions/glob's getLiteral)."""
    literal = []
    for seg in pattern.split("/"):
        plain = re.sub(r"\[(.)\]", r"\1", seg)
        if re.search(r"[*?\[]", plain):
            break
        literal.append(plain)
    return "/".join(literal)


def hash_files(workspace: Path, patterns: list[str]) -> str:
    """GitHub's hashFiles(): the sha256 of the matched files' sha256 digests, in path order;
    "" when nothing matches (@actions/glob patterns relative to the workspace)."""
    translated = actions_patterns(patterns, "hashFiles()")
    hits = {h for pat in translated for h in glob.glob(pat, root_dir=workspace, recursive=True, include_hidden=True)}
    matched = sorted(workspace / h for h in hits if (workspace / h).is_file())
    if not matched:
        return ""
    outer = hashlib.sha256()
    for path in matched:
        outer.update(hashlib.sha256(path.read_bytes()).digest())
    return outer.hexdigest()


def lookup(path: list[str], scope: Scope, text: str) -> Any:
    """A context value; any path the backend does not emit raises."""
    head, rest = path[0], path[1:]
    where = ".".join(path)
    if head == "github":
        key = ".".join(rest)
        if key not in scope.github:
            raise Unsupported(f"{text!r}: github context {where} is not simulated")
        return scope.github[key]
    if head == "needs":
        if scope.needs is None:
            raise Unsupported(f"{text!r}: the needs context is not available here")
        if len(rest) < 2 or rest[0] not in scope.needs:
            raise Unsupported(f"{text!r}: {where}: not a job this one needs")
        need = scope.needs[rest[0]]
        if rest[1:] == ["result"]:
            return need["result"]
        if len(rest) == 3 and rest[1] == "outputs":
            return need["outputs"].get(rest[2], "")
        raise Unsupported(f"{text!r}: {where} is not simulated")
    if head == "inputs":
        if scope.inputs is None or len(rest) != 1 or rest[0] not in scope.inputs:
            raise Unsupported(f"{text!r}: {where}: not an input of this workflow")
        return scope.inputs[rest[0]]
    if head == "matrix":
        if scope.matrix is None or len(rest) != 1 or rest[0] not in scope.matrix:
            raise Unsupported(f"{text!r}: {where}: not a matrix value of this job")
        return scope.matrix[rest[0]]
    if head == "steps":
        if scope.steps is None or len(rest) < 2:
            raise Unsupported(f"{text!r}: {where} is not available here")
        step = scope.steps.get(rest[0])
        if step is None:
            return None  # a step that has not run (yet) has no outputs
        if len(rest) == 3 and rest[1] == "outputs":
            return step["outputs"].get(rest[2], "")
        if len(rest) == 2 and rest[1] in ("outcome", "conclusion"):
            return step[rest[1]]
        raise Unsupported(f"{text!r}: {where} is not simulated")
    if head == "vars":
        if len(rest) != 1:
            raise Unsupported(f"{text!r}: {where} is not a variable")
        return scope.vars.get(rest[0], "")
    if head == "runner" and rest == ["os"]:
        return "Linux"
    raise Unsupported(f"{text!r}: context {where} is not simulated")


_INTERPOLATION = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def interpolate(value: Any, scope: Scope) -> str:
    """A workflow string with every `${{ expr }}` replaced by its value."""
    if isinstance(value, bool):
        return to_text(value)
    return _INTERPOLATION.sub(lambda m: to_text(evaluate(m.group(1).strip(), scope)), str(value))


def condition(raw: Any, scope: Scope) -> bool:
    """An `if:` value (bool or expression, `${{ }}` optional) with the implicit `success() &&`."""
    if isinstance(raw, bool):
        return raw and scope.status is not None and scope.status("success")
    text = str(raw).strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
    if m:
        text = m.group(1).strip()
    expr = Expr(text)
    if not expr.calls & set(STATUS_FUNCTIONS):
        assert scope.status is not None
        if not scope.status("success"):
            return False
    return truthy(evaluate(expr, scope))


# ---------------------------------------------------------------------------------- run results


@dataclass
class StepRun:
    name: str
    id: str | None
    outcome: str  # success | failure | skipped
    log: str = ""


@dataclass
class JobRun:
    """One execution of a job (one per matrix combination)."""

    job: str
    matrix: dict[str, Any]
    workspace: Path
    result: str = SUCCESS
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    def log(self) -> str:
        return "\n".join(f"--- {s.name} [{s.outcome}]\n{s.log}" for s in self.steps)


@dataclass
class JobResult:
    name: str
    result: str
    outputs: dict[str, str] = field(default_factory=dict)
    runs: list[JobRun] = field(default_factory=list)
    environment: str | None = None  # the deployment environment it ran in (approval counts as given)

    @property
    def workspace(self) -> Path:
        if len(self.runs) != 1:
            raise ValueError(f"job {self.name} ran {len(self.runs)} times; pick one of .runs")
        return self.runs[0].workspace

    @property
    def summary(self) -> str:
        return "".join(r.summary for r in self.runs)

    def log(self) -> str:
        return "\n".join(r.log() for r in self.runs)


@dataclass
class RunResult:
    run_id: int
    event: Event
    jobs: dict[str, JobResult]
    artifacts: Path  # the run's artifact store: <name>/<files>

    @property
    def results(self) -> dict[str, str]:
        return {name: job.result for name, job in self.jobs.items()}

    @property
    def summary(self) -> str:
        """The run's summary page: every job's step summaries, in job order."""
        return "".join(job.summary for job in self.jobs.values())

    def __getitem__(self, name: str) -> JobResult:
        return self.jobs[name]

    def logs(self) -> str:
        return "\n".join(f"===== {n}: {j.result}\n{j.log()}" for n, j in self.jobs.items())


# ------------------------------------------------------------------------------------- executor

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


class GitHubExecutor:
    """Runs generated workflows of the project in `source`; state lives under `work`.

    `env` is what a runner operator would set in the runner's environment; `vars` are the
    repository's configuration variables (e.g. MLGEN_REGISTRY), readable only as `${{ vars.X }}`
    the way GitHub provides them, never exported into jobs. The cache
    store outlives runs; each run gets a new run id and its own artifact store.
    """

    def __init__(self, source: Path, work: Path, *, env: Mapping[str, str] | None = None,
                 vars: Mapping[str, str] | None = None, python_bin: Path | None = None, repository: str = REPOSITORY) -> None:
        self.source = Path(source)
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.env = dict(env or {})
        self.vars = dict(vars or {})
        self.python_bin = Path(python_bin) if python_bin else Path(sys.executable).parent
        self.repository = repository
        self.run_count = 0
        self.cache_dir = self.work / "cache"
        self.cache_dir.mkdir(exist_ok=True)
        self.stub_dir = self.work / "stubs"
        self.stub_dir.mkdir(exist_ok=True)
        self.gh_log = self.work / "gh-calls.jsonl"
        gh = self.stub_dir / "gh"
        self.comments_file = self.work / "gh-comments.json"
        from mlgen.backends.github.steps import COMMENT_MARKER, COMMENT_QUERY

        stub = (GH_STUB.replace("@PYTHON@", sys.executable).replace("@LOG@", repr(str(self.gh_log)))
                .replace("@STORE@", repr(str(self.comments_file))).replace("@MARKER@", repr(COMMENT_MARKER))
                .replace("@QUERY@", repr(COMMENT_QUERY)))
        gh.write_text(stub, encoding="utf-8")
        gh.chmod(0o755)

    # -- public -----------------------------------------------------------------------------

    def comments(self, issue: int | str) -> list[dict[str, Any]]:
        """The comments on pull request `issue`, as the stub keeps them."""
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
        return [json.loads(line) for line in self.gh_log.read_text(encoding="utf-8").splitlines() if line]

    def run(self, workflow: str | Path, event: Event, *, source: Path | None = None) -> RunResult:
        """Run `workflow` (a path relative to the project, or absolute) for `event`."""
        src = Path(source) if source else self.source
        path = Path(workflow) if Path(workflow).is_absolute() else src / workflow
        doc = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
        inputs = self._check_trigger(doc, event)
        self.run_count += 1
        run_id = 1000 + self.run_count
        run_dir = self.work / f"run-{self.run_count}"
        run_dir.mkdir()
        artifacts = run_dir / "artifacts"
        artifacts.mkdir()
        ctx = _RunContext(self, doc, event, inputs, run_id, run_dir, artifacts, src)
        for value in (doc.get("concurrency") or {}).values():  # not simulated, but must evaluate
            interpolate(value, Scope(github=ctx.github, inputs=inputs, vars=self.vars))
        jobs = doc.get("jobs") or {}
        results: dict[str, JobResult] = {}
        for name in job_order(jobs):
            results[name] = ctx.run_job(name, jobs[name], results)
        return RunResult(run_id, event, results, artifacts)

    # -- triggers ---------------------------------------------------------------------------

    def _check_trigger(self, doc: dict[str, Any], event: Event) -> dict[str, str] | None:
        on = doc.get("on")
        if isinstance(on, str):
            on = {on: None}
        if isinstance(on, list):
            on = dict.fromkeys(on)
        if not isinstance(on, dict) or event.name not in on:
            raise Unsupported(f"the workflow does not run on {event.name} (on: {sorted(on or {})})")
        spec = on[event.name] or {}
        if event.name in ("push", "pull_request"):
            if set(spec) - {"branches"}:
                raise Unsupported(f"on.{event.name}: only `branches` is simulated, got {sorted(spec)}")
            branches = spec.get("branches")
            if branches is not None and not any(fnmatch.fnmatchcase(event.branch, b) for b in branches):
                raise Unsupported(f"on.{event.name}.branches {branches} does not match {event.branch!r}")
        if event.name != "workflow_dispatch":
            if event.inputs:
                raise Unsupported("inputs are for workflow_dispatch only")
            return None
        declared = (spec or {}).get("inputs") or {}
        unknown = set(event.inputs) - set(declared)
        if unknown:
            raise Unsupported(f"unknown workflow_dispatch inputs {sorted(unknown)}")
        values: dict[str, str] = {}
        for name, decl in declared.items():
            value = event.inputs.get(name, to_text(decl.get("default", "")))
            if decl.get("required") and value == "":
                raise Unsupported(f"workflow_dispatch input {name!r} is required")
            if decl.get("type") == "choice" and value not in decl.get("options", []):
                raise Unsupported(f"input {name!r}: {value!r} is not one of {decl.get('options')}")
            values[name] = value
        return values


def job_order(jobs: Mapping[str, Any]) -> list[str]:
    """Jobs in `needs` order; ties keep file order. Unknown needs and cycles raise."""
    names = list(jobs)
    needs = {n: _needs(jobs[n]) for n in names}
    for n, deps in needs.items():
        missing = [d for d in deps if d not in jobs]
        if missing:
            raise Unsupported(f"job {n} needs unknown jobs {missing}")
    done: list[str] = []
    while len(done) < len(names):
        ready = [n for n in names if n not in done and all(d in done for d in needs[n])]
        if not ready:
            raise Unsupported(f"needs cycle among {[n for n in names if n not in done]}")
        done.append(ready[0])
    return done


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else [str(n) for n in needs]


KNOWN_JOB_KEYS = {
    "name", "if", "needs", "runs-on", "timeout-minutes", "permissions", "environment", "concurrency",
    "strategy", "env", "outputs", "steps", "defaults",
}
KNOWN_STEP_KEYS = {"name", "id", "if", "uses", "with", "run", "env", "shell", "working-directory",
                   "continue-on-error", "timeout-minutes"}


class _RunContext:
    """One workflow run."""

    def __init__(self, ex: GitHubExecutor, doc: dict[str, Any], event: Event, inputs: dict[str, str] | None,
                 run_id: int, run_dir: Path, artifacts: Path, source: Path) -> None:
        self.ex, self.doc, self.event, self.inputs = ex, doc, event, inputs
        self.run_id, self.run_dir, self.artifacts, self.source = run_id, run_dir, artifacts, source
        self.sha = f"{run_id:040x}"
        self.github: dict[str, Any] = {
            "event_name": event.name,
            "ref": event.ref,
            "repository": ex.repository,
            "workflow": str(doc.get("name", "")),
            "run_id": str(run_id),
            "run_attempt": "1",
            "sha": self.sha,
            "token": FAKE_TOKEN,
        }
        if event.name == "pull_request":
            self.github["event.pull_request.number"] = event.pr_number
            self.github["event.pull_request.head.repo.full_name"] = event.head_repo
        self.event_path = run_dir / "event.json"
        self.event_path.write_text(json.dumps(self._event_payload()), encoding="utf-8")

    def _event_payload(self) -> dict[str, Any]:
        if self.event.name == "pull_request":
            return {"number": self.event.pr_number, "pull_request": {
                "number": self.event.pr_number,
                "head": {"ref": self.event.head_branch, "repo": {"full_name": self.event.head_repo}},
                "base": {"ref": self.event.base_branch, "repo": {"full_name": self.ex.repository}},
            }}
        if self.event.name == "workflow_dispatch":
            return {"inputs": self.inputs, "ref": self.event.ref}
        return {"ref": self.event.ref}

    # -- jobs -------------------------------------------------------------------------------

    def run_job(self, name: str, job: dict[str, Any], done: dict[str, JobResult]) -> JobResult:
        unknown = set(job) - KNOWN_JOB_KEYS
        if unknown:
            raise Unsupported(f"job {name}: keys {sorted(unknown)} are not simulated")
        needs = _needs(job)
        ancestors = self._ancestors(name)
        results = {a: done[a].result for a in ancestors}

        def job_status(fn: str) -> bool:
            if fn == "always":
                return True
            if fn == "cancelled":
                return False  # runs are never cancelled here
            if fn == "failure":
                return any(r == FAILURE for r in results.values())
            return all(r == SUCCESS for r in results.values())  # success(): every ancestor

        scope = Scope(
            github=self.github,
            needs={n: {"result": done[n].result, "outputs": done[n].outputs} for n in needs},
            inputs=self.inputs,
            status=job_status,
            vars=self.ex.vars,
        )
        should_run = condition(job["if"], scope) if "if" in job else job_status("success")
        if not should_run:
            return JobResult(name, SKIPPED)
        # Not simulated (runs are sequential, approvals given), but their expressions must evaluate.
        for key in ("runs-on", "concurrency", "environment"):
            value = job.get(key)
            for v in value.values() if isinstance(value, dict) else [value] if value is not None else []:
                interpolate(v, scope)
        environment = job.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name")
        runs: list[JobRun] = []
        strategy = job.get("strategy") or {}
        combos = matrix_combinations(strategy.get("matrix"))
        fail_fast = strategy.get("fail-fast", True)
        for i, combo in enumerate(combos):
            if fail_fast and any(r.result == FAILURE for r in runs):
                runs.append(JobRun(name, combo, Path(), result=CANCELLED))
                continue
            label = name + "".join(f"-{k}-{v}" for k, v in combo.items())
            runs.append(self._run_instance(name, job, combo, scope, label))
        result = SUCCESS if all(r.result == SUCCESS for r in runs) else FAILURE
        outputs: dict[str, str] = {}
        for r in runs:
            outputs.update({k: v for k, v in r.outputs.items() if v != ""})
        return JobResult(name, result, outputs, runs, None if environment is None else str(environment))

    def _ancestors(self, name: str) -> set[str]:
        jobs = self.doc["jobs"]
        seen: set[str] = set()
        todo = _needs(jobs[name])
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(_needs(jobs[n]))
        return seen

    def _run_instance(self, name: str, job: dict[str, Any], combo: dict[str, Any], job_scope: Scope,
                      label: str) -> JobRun:
        workspace = self.run_dir / "jobs" / label
        shutil.copytree(self.source, workspace, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        temp = self.run_dir / "tmp" / label
        temp.mkdir(parents=True)
        run = JobRun(name, combo, workspace)
        steps_ctx: dict[str, dict[str, Any]] = {}
        failed = False

        def step_status(fn: str) -> bool:
            return {"always": True, "cancelled": False, "failure": failed, "success": not failed}[fn]

        scope = Scope(github=self.github, needs=job_scope.needs, inputs=self.inputs, matrix=combo or None,
                      steps=steps_ctx, status=step_status, workspace=workspace, vars=self.ex.vars)
        env_scope = Scope(github=self.github, needs=job_scope.needs, inputs=self.inputs, matrix=combo or None,
                          vars=self.ex.vars)
        env: dict[str, str] = self._runner_env(name, workspace, temp)
        for layer in (self.doc.get("env"), job.get("env")):
            env.update({str(k): interpolate(v, env_scope) for k, v in (layer or {}).items()})
        shell = ((job.get("defaults") or {}).get("run") or {}).get("shell") or \
            ((self.doc.get("defaults") or {}).get("run") or {}).get("shell")
        post: list[Callable[[bool], None]] = []
        timeout = float(job.get("timeout-minutes", 360)) * 60
        for index, step in enumerate(job.get("steps") or []):
            unknown = set(step) - KNOWN_STEP_KEYS
            if unknown:
                raise Unsupported(f"job {name} step {index}: keys {sorted(unknown)} are not simulated")
            title = str(step.get("name") or step.get("run") or step.get("uses"))
            step_id = step.get("id")
            should_run = condition(step["if"], scope) if "if" in step else not failed
            if not should_run:
                run.steps.append(StepRun(title, step_id, SKIPPED))
                if step_id:
                    steps_ctx[step_id] = {"outputs": {}, "outcome": SKIPPED, "conclusion": SKIPPED}
                continue
            step_env = dict(env)
            step_env.update({str(k): interpolate(v, scope) for k, v in (step.get("env") or {}).items()})
            if "run" in step:
                outcome, log, outputs = self._run_shell(step, step_env, workspace, temp, shell, timeout, run)
            elif "uses" in step:
                outcome, log, outputs = self._use(step, scope, workspace, post)
            else:
                raise Unsupported(f"job {name} step {index}: neither run nor uses")
            if outcome == FAILURE and step.get("continue-on-error") is True:
                conclusion = SUCCESS
            else:
                conclusion = outcome
            run.steps.append(StepRun(title, step_id, outcome, log))
            if step_id:
                steps_ctx[step_id] = {"outputs": outputs, "outcome": outcome, "conclusion": conclusion}
            if conclusion == FAILURE:
                failed = True
            env.update(self._read_env_file(temp / "env"))
            extra_path = self._read_lines(temp / "path")
            if extra_path:
                env["PATH"] = os.pathsep.join([*reversed(extra_path), env["PATH"]])
        for action in reversed(post):
            action(not failed)
        run.result = FAILURE if failed else SUCCESS
        for key, value in (job.get("outputs") or {}).items():
            run.outputs[str(key)] = interpolate(value, scope)
        logs = self.run_dir / "logs"
        logs.mkdir(exist_ok=True)
        (logs / f"{label}.log").write_text(f"{run.result}\n{run.log()}", encoding="utf-8")
        return run

    def _runner_env(self, job: str, workspace: Path, temp: Path) -> dict[str, str]:
        home = self.run_dir / "home"
        home.mkdir(exist_ok=True)
        env = {
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PATH": os.pathsep.join([str(self.ex.stub_dir), str(self.ex.python_bin), SYSTEM_PATH]),
            "TMPDIR": str(temp),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": self.event.name,
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_REF": self.event.ref,
            "GITHUB_REF_NAME": self.event.ref.split("/", 2)[-1],
            "GITHUB_SHA": self.sha,
            "GITHUB_REPOSITORY": self.ex.repository,
            "GITHUB_RUN_ID": str(self.run_id),
            "GITHUB_RUN_NUMBER": str(self.ex.run_count),
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_JOB": job,
            "GITHUB_WORKFLOW": str(self.doc.get("name", "")),
            "GITHUB_ACTOR": "mlgen-tests",
            "GITHUB_SERVER_URL": "https://github.com",
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(temp),
            "PIP_NO_INDEX": "1",  # everything is installed already: never reach for the network
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        if self.event.name == "pull_request":
            env["GITHUB_HEAD_REF"] = self.event.head_branch or ""
            env["GITHUB_BASE_REF"] = self.event.base_branch or ""
        env.update(self.ex.env)
        return env

    # -- run: -------------------------------------------------------------------------------

    def _run_shell(self, step: dict[str, Any], env: dict[str, str], workspace: Path, temp: Path,
                   default_shell: str | None, timeout: float, run: JobRun) -> tuple[str, str, dict[str, str]]:
        shell = step.get("shell", default_shell)
        if shell == "bash":
            argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
        elif shell is None:
            argv = ["bash", "-e"]  # GitHub's default on Linux when bash exists
        else:
            raise Unsupported(f"shell {shell!r} is not simulated")
        script = temp / "script.sh"
        script.write_text(str(step["run"]) + "\n", encoding="utf-8")
        files = {"GITHUB_OUTPUT": temp / "output", "GITHUB_STEP_SUMMARY": temp / "summary",
                 "GITHUB_ENV": temp / "env", "GITHUB_PATH": temp / "path"}
        for var, f in files.items():
            f.write_text("", encoding="utf-8")
            env[var] = str(f)
        cwd = workspace / str(step.get("working-directory", "."))
        try:
            proc = subprocess.run([*argv, str(script)], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  errors="replace", timeout=timeout, check=False)
            outcome, log = (SUCCESS if proc.returncode == 0 else FAILURE), proc.stdout
            if proc.returncode:
                log += f"\n[exit {proc.returncode}]"
        except subprocess.TimeoutExpired as exc:
            outcome, log = FAILURE, f"{exc.output or ''}\n[timed out after {timeout:.0f}s]"
        run.summary += files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8")
        return outcome, log, self._read_env_file(files["GITHUB_OUTPUT"])

    @staticmethod
    def _read_lines(path: Path) -> list[str]:
        return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln] if path.is_file() else []

    @staticmethod
    def _read_env_file(path: Path) -> dict[str, str]:
        """`name=value` lines and `name<<DELIM` ... `DELIM` blocks (GITHUB_OUTPUT / GITHUB_ENV)."""
        out: dict[str, str] = {}
        if not path.is_file():
            return out
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line:
                continue
            if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
                key, delim = line.split("<<", 1)
                body: list[str] = []
                while i < len(lines) and lines[i] != delim:
                    body.append(lines[i])
                    i += 1
                if i >= len(lines):
                    raise Unsupported(f"{path.name}: {key} has no closing {delim}")
                i += 1
                out[key] = "\n".join(body)
            elif "=" in line:
                key, value = line.split("=", 1)
                out[key] = value
            else:
                raise Unsupported(f"{path.name}: cannot read line {line!r}")
        return out

    # -- uses: ------------------------------------------------------------------------------

    def _use(self, step: dict[str, Any], scope: Scope, workspace: Path,
             post: list[Callable[[bool], None]]) -> tuple[str, str, dict[str, str]]:
        uses = str(step["uses"])
        action, _, ref = uses.partition("@")
        if not re.fullmatch(r"[0-9a-f]{40}", ref):
            raise Unsupported(f"{uses}: actions must be pinned to a full commit SHA")
        with_ = {str(k): interpolate(v, scope) for k, v in (step.get("with") or {}).items()}
        handlers: dict[str, Callable[..., tuple[str, str, dict[str, str]]]] = {
            "actions/checkout": lambda: (SUCCESS, "checkout: the job's workspace is a fresh copy", {}),
            "actions/setup-python": lambda: (SUCCESS, f"setup-python: using {self.ex.python_bin}", {}),
            "actions/upload-artifact": lambda: self._upload(with_, workspace),
            "actions/download-artifact": lambda: self._download(with_, workspace),
            "actions/cache": lambda: self._cache(with_, workspace, post, save=True),
            "actions/cache/restore": lambda: self._cache(with_, workspace, post, save=False),
            "actions/cache/save": lambda: self._cache_save_step(with_, workspace),
        }
        if action not in handlers:
            raise Unsupported(f"uses: {action} is not emulated")
        return handlers[action]()

    def _upload(self, w: dict[str, str], workspace: Path) -> tuple[str, str, dict[str, str]]:
        allowed = {"name", "path", "retention-days", "if-no-files-found", "include-hidden-files",
                   "compression-level", "overwrite"}
        if set(w) - allowed:
            raise Unsupported(f"upload-artifact: inputs {sorted(set(w) - allowed)} are not simulated")
        name = w.get("name", "artifact")
        patterns = actions_patterns(w.get("path", "").splitlines(), "upload-artifact")
        hidden = w.get("include-hidden-files", "false") == "true"
        files: list[Path] = []
        search_paths: list[Path] = []
        for pattern in patterns:
            literal = literal_prefix(pattern)
            search_paths.append((workspace / literal).resolve() if literal else workspace.resolve())
            for hit in sorted(glob.glob(pattern, root_dir=workspace, recursive=True, include_hidden=True)):
                p = workspace / hit
                found = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
                files += [f.resolve() for f in found]
        files = list(dict.fromkeys(files))
        if len(files) == 1 and len(search_paths) == 1 and search_paths[0] == files[0]:
            root = files[0].parent  # a lone file is uploaded at the artifact's top
        elif len(search_paths) == 1:
            root = search_paths[0]
        else:
            root = Path(os.path.commonpath([str(p) for p in search_paths]))
        if not hidden:
            files = [f for f in files if not any(part.startswith(".") for part in f.relative_to(root).parts)]
        if not files:
            mode = w.get("if-no-files-found", "warn")
            msg = f"upload-artifact {name}: no files found for {patterns}"
            return (FAILURE if mode == "error" else SUCCESS), msg, {}
        for f in files:  # actions/toolkit path-and-artifact-name-validation.ts (NTFS-safe names)
            bad = sorted(set(str(f.relative_to(root))) & set('":<>|*?\r\n'))
            if bad:
                return FAILURE, f"upload-artifact {name}: the path {f.relative_to(root)} contains {bad}", {}
        dest = self.artifacts / name
        if dest.exists():
            return FAILURE, f"upload-artifact: an artifact named {name!r} already exists in this run", {}
        for f in files:
            target = dest / f.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
        return SUCCESS, f"uploaded {len(files)} files as {name} (root {root})", {}

    def _download(self, w: dict[str, str], workspace: Path) -> tuple[str, str, dict[str, str]]:
        allowed = {"name", "pattern", "merge-multiple", "path"}
        if set(w) - allowed:
            raise Unsupported(f"download-artifact: inputs {sorted(set(w) - allowed)} are not simulated")
        dest = (workspace / w.get("path", ".")).resolve()
        available = sorted(p.name for p in self.artifacts.iterdir())
        if "name" in w:
            if w["name"] not in available:
                return FAILURE, f"download-artifact: no artifact named {w['name']!r} (have {available})", {}
            chosen, merge = [w["name"]], True
        else:
            pattern = w.get("pattern", "*")
            chosen = [a for a in available if fnmatch.fnmatchcase(a, pattern)]
            merge = w.get("merge-multiple", "false") == "true"
        for art in chosen:
            target = dest if merge else dest / art
            shutil.copytree(self.artifacts / art, target, dirs_exist_ok=True)
        return SUCCESS, f"downloaded {chosen} into {dest}", {}

    def _cache(self, w: dict[str, str], workspace: Path, post: list[Callable[[bool], None]],
               save: bool) -> tuple[str, str, dict[str, str]]:
        allowed = {"path", "key", "restore-keys", "lookup-only", "fail-on-cache-miss", "enableCrossOsArchive"}
        if set(w) - allowed:
            raise Unsupported(f"cache: inputs {sorted(set(w) - allowed)} are not simulated")
        paths = [p.strip() for p in w["path"].splitlines() if p.strip()]
        if any(glob.has_magic(p) or p.startswith("!") for p in paths):
            raise Unsupported("cache: only literal paths are simulated")
        key = w["key"]
        prefixes = [p.strip() for p in w.get("restore-keys", "").splitlines() if p.strip()]
        entry, exact = self._cache_lookup(key, prefixes)
        log = [f"cache key {key}"]
        if entry is not None and w.get("lookup-only", "false") != "true":
            for rel in paths:
                stored = entry / "files" / rel
                if stored.exists():
                    target = workspace / rel
                    if stored.is_dir():
                        shutil.copytree(stored, target, dirs_exist_ok=True)
                    else:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(stored, target)
            log.append(f"restored from {json.loads((entry / 'meta.json').read_text())['key']}")
        elif entry is None:
            log.append("cache miss")
            if w.get("fail-on-cache-miss", "false") == "true":
                return FAILURE, "\n".join(log), {"cache-hit": "false"}
        if save and not exact:
            post.append(lambda ok: self._cache_save(ok, key, paths, workspace))
        return SUCCESS, "\n".join(log), {"cache-hit": "true" if exact else "false"}

    def _cache_save_step(self, w: dict[str, str], workspace: Path) -> tuple[str, str, dict[str, str]]:
        """actions/cache/save: stores the paths under `key` unless that key exists already
        (GitHub keeps an existing entry and only warns)."""
        allowed = {"path", "key", "upload-chunk-size", "enableCrossOsArchive"}
        if set(w) - allowed:
            raise Unsupported(f"cache/save: inputs {sorted(set(w) - allowed)} are not simulated")
        paths = [p.strip() for p in w["path"].splitlines() if p.strip()]
        if any(glob.has_magic(p) or p.startswith("!") for p in paths):
            raise Unsupported("cache/save: only literal paths are simulated")
        saved = self._cache_save(True, w["key"], paths, workspace)
        return SUCCESS, (f"cache saved with key {w['key']}" if saved else
                         f"cache not saved: key {w['key']} exists or nothing to save"), {}

    def _cache_entries(self) -> list[tuple[int, dict[str, Any], Path]]:
        """(sequence, meta, dir) of the entries this run may read: its ref and the default branch."""
        readable = {self.event.ref, f"refs/heads/{DEFAULT_BRANCH}"}
        out = []
        for d in self.ex.cache_dir.iterdir():
            meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
            if meta["ref"] in readable:
                out.append((meta["seq"], meta, d))
        return sorted(out, key=lambda t: t[0], reverse=True)  # newest first

    def _cache_lookup(self, key: str, prefixes: list[str]) -> tuple[Path | None, bool]:
        entries = self._cache_entries()
        for _, meta, d in entries:
            if meta["key"] == key:
                return d, True
        for prefix in [key, *prefixes]:  # GitHub matches the key partially too, then restore-keys
            for _, meta, d in entries:
                if meta["key"].startswith(prefix):
                    return d, False
        return None, False

    def _cache_save(self, ok: bool, key: str, paths: list[str], workspace: Path) -> bool:
        if not ok or any(json.loads((d / "meta.json").read_text())["key"] == key and
                         json.loads((d / "meta.json").read_text())["ref"] == self.event.ref
                         for d in self.ex.cache_dir.iterdir()):
            return False  # only successful jobs save; an existing key is immutable
        present = [rel for rel in paths if (workspace / rel).exists()]
        if not present:
            return False  # actions/cache warns and saves nothing
        seq = len(list(self.ex.cache_dir.iterdir())) + 1
        entry = self.ex.cache_dir / f"entry-{seq}"
        for rel in present:
            src, dst = workspace / rel, entry / "files" / rel
            if src.is_dir():
                shutil.copytree(src, dst)
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        (entry / "meta.json").write_text(json.dumps({"key": key, "ref": self.event.ref, "seq": seq}))
        return True


def matrix_combinations(matrix: Any) -> list[dict[str, Any]]:
    """Every combination of a `strategy.matrix` of plain lists (include/exclude raise)."""
    if not matrix:
        return [{}]
    if not isinstance(matrix, dict) or {"include", "exclude"} & set(matrix):
        raise Unsupported(f"matrix {matrix!r}: only plain lists are simulated")
    keys = list(matrix)
    for k in keys:
        if not isinstance(matrix[k], list):
            raise Unsupported(f"matrix.{k}: only lists are simulated")
    return [dict(zip(keys, values)) for values in itertools.product(*(matrix[k] for k in keys))]


def workflow_conditions(text: str) -> dict[str, Any]:
    """job id -> its raw `if:` (True when it has none), for condition tables in tests."""
    doc = YAML(typ="safe", pure=True).load(text)
    return {str(n): j.get("if", True) for n, j in doc["jobs"].items()}


def job_runs(conditions_of: Mapping[str, Any], needs_of: Mapping[str, Iterable[str]], job: str,
             event: Event, results: Mapping[str, str], outputs: Mapping[str, Mapping[str, str]] | None = None,
             inputs: dict[str, str] | None = None, ancestors: Iterable[str] | None = None) -> bool:
    """Would `job` run, given the results of the jobs before it? (No execution: conditions only.)"""
    anc = set(ancestors if ancestors is not None else needs_of[job])
    status: dict[str, Callable[[], bool]] = {
        "always": lambda: True,
        "cancelled": lambda: False,
        "failure": lambda: any(results[a] == FAILURE for a in anc),
        "success": lambda: all(results[a] == SUCCESS for a in anc),
    }
    github: dict[str, Any] = {"event_name": event.name, "ref": event.ref, "repository": REPOSITORY}
    if event.name == "pull_request":
        github["event.pull_request.head.repo.full_name"] = event.head_repo
    scope = Scope(
        github=github,
        needs={n: {"result": results[n], "outputs": dict((outputs or {}).get(n, {}))} for n in needs_of[job]},
        inputs=inputs,
        status=lambda fn: status[fn](),
    )
    raw = conditions_of[job]
    if raw is True:
        return status["success"]()
    return condition(raw, scope)


__all__ = [
    "Event", "GitHubExecutor", "JobResult", "RunResult", "Unsupported", "evaluate", "Expr", "Scope",
    "condition", "job_order", "job_runs", "matrix_combinations", "workflow_conditions",
]
