"""Step builders: pinned actions, shell lines, artifact transfer."""

from __future__ import annotations

import re
import shlex

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import LiteralScalarString

from mlgen.backends.common import yaml_str
from mlgen_runtime.contract import CACHE_DIR, MONITOR_RESULT, UV_CACHE_DIR, Artifact

from .paths import glob_escape, path_problem
from .pins import pin
from .triggers import quote
from .values import UnsafeValue, checked, expression, user_str

# Column of a key inside a step's `with:` (jobs 2, job keys 4, "- " 6, step keys 8, with 10);
# full-line comments before such a key are indented to match.
WITH_KEY_INDENT = 10

# upload-artifact roots the artifact at the least common ancestor of its search paths (and at
# the parent directory of a lone file). A first line at the top of the workspace that matches
# nothing makes that ancestor the workspace itself, so every file keeps its repository-relative
# path and consumers download into `.`, the way GitLab artifacts and Jenkins stashes behave.
ARTIFACT_ROOT_ANCHOR = ".mlgen-artifact-root"

# Characters upload-artifact refuses in artifact names.
_BAD_ARTIFACT_NAME = re.compile(r'["\':<>|*?\\/\r\n]')

# Steps and jobs the backend adds around the plan's commands (provider mechanics, not plan
# jobs) have ids starting with this; plan job names never do, so the reader can skip them.
HELPER_PREFIX = "mlgen-"
DRIFT_STEP = f"{HELPER_PREFIX}drift"
SUMMARY_STEP = f"{HELPER_PREFIX}summary"
COMMENT_STEP = f"{HELPER_PREFIX}comment"
REPORTS_ARTIFACT = f"{HELPER_PREFIX}reports-"  # + job name: reports outside the produced paths

ALWAYS = "always()"
# Cache names become part of cache keys and paths.
_CACHE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def action(
    name: str, with_: CommentedMap | None = None, title: str | None = None, if_: str | None = None
) -> CommentedMap:
    """A `uses:` step pinned to a full commit SHA, the release as a comment."""
    p = pin(name)
    step = CommentedMap()
    if title:
        step["name"] = yaml_str(title)
    if if_:
        step["if"] = expression(if_)
    step["uses"] = p.ref
    step.yaml_add_eol_comment(p.version, "uses")
    if with_:
        step["with"] = with_
    return step


def checkout() -> CommentedMap:
    with_ = CommentedMap({"persist-credentials": False})
    with_.yaml_add_eol_comment("no token left in .git for later steps", "persist-credentials")
    return action("actions/checkout", with_)


def setup_python(version: str) -> CommentedMap:
    return action("actions/setup-python", CommentedMap({"python-version": user_str(version, "python version")}))


_SECRET = re.compile(r"[A-Z_][A-Z0-9_]*")


def run(line: str, secrets: tuple[str, ...] = ()) -> CommentedMap:
    """One shell line, exactly as written (values reach it through `env:`, never `${{ }}`).
    `secrets` are bound on this step only: the setup step (pip) never sees them."""
    step = CommentedMap({"run": user_str(line, "command")})
    if secrets:
        step["env"] = CommentedMap((name, secret_ref(name)) for name in secrets)
    return step


def secret_ref(name: str) -> str:
    if not _SECRET.fullmatch(name) or name.startswith("GITHUB_"):
        raise UnsafeValue(f"secret name {name!r} is not a valid GitHub secret name")
    return f"${{{{ secrets.{name} }}}}"


def artifact_name(name: str) -> str:
    checked(name, "artifact name")
    if not name or _BAD_ARTIFACT_NAME.search(name):
        raise UnsafeValue(f"artifact name {name!r} must not be empty or contain any of \" ' : < > | * ? \\ /")
    return name


def shard_pattern(name: str) -> str:
    """Every shard's artifact of a sharded producer (uploaded as `<name>-shard-<i>`)."""
    return f"{artifact_name(name)}-shard-*"


def download(name: str, sharded: bool, if_: str | None = None) -> CommentedMap:
    with_ = CommentedMap()
    if sharded:
        with_["pattern"] = yaml_str(shard_pattern(name))
        with_["merge-multiple"] = True  # all shards into the same paths
    else:
        with_["name"] = yaml_str(artifact_name(name))
    with_["path"] = "."  # artifacts keep repository-relative paths (see ARTIFACT_ROOT_ANCHOR)
    with_.yaml_add_eol_comment("files keep their repository-relative paths", "path")
    return action("actions/download-artifact", with_, title=f"Download {name}", if_=if_)


def _path_line(path: str) -> str:
    """One upload-artifact `path:` line: an @actions/glob pattern matching exactly `path`."""
    checked(path, "artifact path")
    problem = path_problem("outs", path)
    if not path or "\n" in path or problem:  # the spec checks refuse these first
        raise UnsafeValue(f"artifact path {path!r}: {problem[0] if problem else 'must be one non-empty line'}")
    return glob_escape(path)


def upload(
    artifact: Artifact, shards: int, expire_days: int, *, always: bool = False, required: bool = True
) -> CommentedMap:
    """Upload the artifact; `always` also after a failed command (a failed gate keeps its report)."""
    name = artifact_name(artifact.name)
    lines = [ARTIFACT_ROOT_ANCHOR, *(_path_line(p) for p in artifact.paths)]
    with_ = CommentedMap()
    # Artifact names are unique per run: each shard uploads its own.
    with_["name"] = f"{name}-shard-${{{{ matrix.shard }}}}" if shards > 1 else yaml_str(name)
    with_["path"] = LiteralScalarString("\n".join(lines) + "\n")
    with_.yaml_set_comment_before_after_key(
        "path",
        before=f"{ARTIFACT_ROOT_ANCHOR} matches nothing; it roots the artifact at the workspace",
        indent=WITH_KEY_INDENT,
    )
    with_["retention-days"] = expire_days
    with_["if-no-files-found"] = "error" if required else "ignore"
    with_["include-hidden-files"] = True  # the paths live under .mlgen/
    return action("actions/upload-artifact", with_, title=f"Upload {name}", if_=ALWAYS if always else None)


def helper_run(step_id: str, title: str, script: str, env: CommentedMap | None = None,
               if_: str | None = None) -> CommentedMap:
    """A shell step the backend adds (not a plan command): its id starts with HELPER_PREFIX."""
    assert step_id.startswith(HELPER_PREFIX), step_id
    step = CommentedMap()
    step["name"] = yaml_str(title)
    step["id"] = step_id
    if if_:
        step["if"] = expression(if_)
    if env:
        step["env"] = env
    step["run"] = script  # a constant of this module: ruamel picks a style that reads back the same
    return step


def drift_output() -> CommentedMap:
    """Publish the monitor's verdict file as a step output (the job's `drifted` output)."""
    script = f'echo "drifted=$(cat {shlex.quote(checked(MONITOR_RESULT, "monitor result"))})" >> "$GITHUB_OUTPUT"'
    return helper_run(DRIFT_STEP, "Publish the drift verdict", script)


def summary(path: str) -> CommentedMap:
    """Append the job's Markdown report to the run's summary page, also after a failure."""
    env = CommentedMap(MLGEN_REPORT=user_str(path, "report path"))
    script = 'if [ -f "$MLGEN_REPORT" ]; then cat "$MLGEN_REPORT" >> "$GITHUB_STEP_SUMMARY"; fi'
    return helper_run(SUMMARY_STEP, "Add the report to the job summary", script, env, if_=ALWAYS)


def cache_name(name: str) -> str:
    if not _CACHE_NAME.fullmatch(checked(name, "cache name")):
        raise UnsafeValue(f"cache name {name!r} must be letters, digits, '.', '_' or '-'")
    return name


def _slot_prefix(name: str, sharded: bool) -> tuple[str, str]:
    slot = cache_name(name) + ("-shard-${{ matrix.shard }}" if sharded else "")
    return slot, f"mlgen-${{{{ runner.os }}}}-{slot}-"


NOT_A_TAG = "${{ !startsWith(github.ref, 'refs/tags/') }}"


def stage_cache(name: str, sharded: bool, inputs: tuple[str, ...]) -> CommentedMap:
    """actions/cache/restore of `.mlgen/cache/<name>` before the commands: storage only, the
    runtime decides validity.

    The key is the slot's prefix, which GitHub matches partially: the newest entry of the slot
    this run may read (its own ref's, else the default branch's; a pull request cannot write
    what main restores). The runtime compares its own hash of every input (plan, code, data,
    artifacts, the champion) with the one saved in the folder, so an entry saved for other
    inputs is never used. `stage_cache_save` stores the folder afterwards under that hash.
    `inputs` (Job.cache_inputs) are the files the runtime hashes first; they must be valid paths.
    Never for tags; workflows that build release branches get no cache at all (see
    render.job_steps): release builds start clean.
    """
    if not inputs:
        raise ValueError(f"github: stage cache {name!r} has no input files to key on")
    for f in inputs:
        problem = path_problem("data", f)
        if problem:  # the spec checks refuse it first
            raise UnsafeValue(f"cache input {f!r}: {problem[0]}")
        checked(f, "cache input")
    slot, prefix = _slot_prefix(name, sharded)
    with_ = CommentedMap()
    with_["path"] = f"{CACHE_DIR}/{slot}"
    with_["key"] = prefix
    with_.yaml_add_eol_comment("a prefix: the newest entry of this slot", "key")
    return action("actions/cache/restore", with_, title=f"Stage cache {name}", if_=NOT_A_TAG)


def stage_cache_save(name: str, sharded: bool) -> CommentedMap:
    """actions/cache/save after the commands succeeded, keyed by the runtime's own key file
    (`.mlgen/cache/<slot>/key`, which covers the champion): a new key is saved, an unchanged
    one already exists and is not duplicated (GitHub keeps an existing key as it is)."""
    slot, prefix = _slot_prefix(name, sharded)
    # the shard's folder is named inside an expression with format(), never a nested ${{ }}
    key_file = (f"format('{glob_escape(CACHE_DIR)}/{cache_name(name)}-shard-{{0}}/key', matrix.shard)" if sharded
                else quote(glob_escape(f"{CACHE_DIR}/{slot}/key")))
    with_ = CommentedMap()
    with_["path"] = f"{CACHE_DIR}/{slot}"
    with_["key"] = prefix + f"${{{{ hashFiles({key_file}) }}}}"
    return action(
        "actions/cache/save", with_, title=f"Save stage cache {name}",
        if_=f"${{{{ success() && !startsWith(github.ref, 'refs/tags/') && hashFiles({key_file}) != '' }}}}",
    )


def uv_cache(install_cache: str, python: str) -> CommentedMap:
    """actions/cache of uv's download cache (UV_CACHE_DIR), keyed by the job's install file
    (`Job.install_cache`: the locked requirements it installs) and the Python version: the same
    lock restores exactly its wheels and saves nothing new; another lock restores the newest
    entry for that Python (uv still checks every hash) and saves its own. Never in deploys,
    rollbacks, tags or release-branch workflows (render.job_steps)."""
    problem = path_problem("data", install_cache)
    if problem:
        raise UnsafeValue(f"install cache file {install_cache!r}: {problem[0]}")
    if not re.fullmatch(r"[0-9][0-9.]*", checked(python, "python version")):
        raise UnsafeValue(f"python version {python!r} must be digits and dots")
    prefix = f"mlgen-uv-${{{{ runner.os }}}}-py{python}-"
    with_ = CommentedMap()
    with_["path"] = UV_CACHE_DIR
    with_["key"] = prefix + f"${{{{ hashFiles({quote(glob_escape(checked(install_cache, 'install cache file')))}) }}}}"
    with_["restore-keys"] = prefix
    return action("actions/cache", with_, title="uv download cache", if_=NOT_A_TAG)


COMMENT_MARKER = "<!-- mlgen:report -->"
# The token's own earlier report comment on the PR: its first line is the marker, its author the
# workflow token's user (a person's comment quoting the marker is never edited).
COMMENT_QUERY = (
    '.[] | select(.user.login == "github-actions[bot]" and (.body | startswith("' + COMMENT_MARKER + '"))) | .id'
)


def pr_comment(report: str, fuller: str | None = None) -> CommentedMap:
    """Post the report as one pull-request comment, edited in place on every later push;
    `fuller` (the scan's report, which extends evaluate's) is posted instead when it exists.

    The comment starts with a hidden marker; a later run finds the comment by that marker and
    its author and edits it (`gh api` PATCH), else creates it, so the PR keeps a single mlgen
    comment and another workflow's comments are never overwritten (`gh pr comment
    --edit-last` would edit whichever comment the token user wrote last).
    """
    env = CommentedMap()
    env["GH_TOKEN"] = "${{ github.token }}"
    env["PR_NUMBER"] = "${{ github.event.pull_request.number }}"
    report_file = shlex.quote(checked(report, "report path"))
    pick = f"report={report_file}\n"
    if fuller is not None:
        full = shlex.quote(checked(fuller, "report path"))
        pick += f"if [ -f {full} ]; then report={full}; fi\n"
    script = LiteralScalarString(
        pick
        + 'body="$RUNNER_TEMP/mlgen-pr-comment.md"\n'
        + f"{{ echo {shlex.quote(COMMENT_MARKER)}; cat \"$report\"; }} > \"$body\"\n"
        + 'id=$(gh api "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" --paginate \\\n'
        + f"  --jq {shlex.quote(COMMENT_QUERY)} | tail -n 1)\n"
        + 'if [ -n "$id" ]; then\n'
        + '  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -F "body=@$body" --silent\n'
        + "else\n"
        + '  gh pr comment "$PR_NUMBER" --repo "$GITHUB_REPOSITORY" --body-file "$body"\n'
        + "fi\n"
    )
    return helper_run(COMMENT_STEP, "Comment on the pull request", script, env)
