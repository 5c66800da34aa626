"""Step builders: tasks pinned to a major version, shell lines, artifacts, caches, reports."""

from __future__ import annotations

import re
import shlex
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import LiteralScalarString

from mlgen.backends.common import yaml_str
from mlgen_runtime.contract import CACHE_DIR, MONITOR_RESULT, UV_CACHE_DIR

from .conditions import DRIFT_STEP, DRIFT_VAR
from .paths import key_segment
from .values import HELPER_PREFIX, UnsafeValue, checked, secret_ref, user_str

# Every task at the major version this backend was written for (Azure runs the newest minor
# and patch of that major; a new major is a new task to review).
PYTHON_TASK = "UsePythonVersion@0"
DOWNLOAD_TASK = "DownloadPipelineArtifact@2"
PUBLISH_TASK = "PublishPipelineArtifact@1"
CACHE_TASK = "Cache@2"
JUNIT_TASK = "PublishTestResults@2"

# Where consumed artifacts land: files keep their repository-relative paths.
SOURCES = "$(Build.SourcesDirectory)"
# The folder a job's outputs are gathered in (repository-relative paths) before publishing.
STAGING = "$(Agent.TempDirectory)/mlgen-artifact"
SHARD_MACRO = "$(System.JobPositionInPhase)"  # 1..N under `strategy: parallel: N`
SHARD_TOTAL_MACRO = "$(System.TotalJobsInPhase)"
# Runs after a failed command too (not after a cancel): a failed gate keeps its report.
SUCCEEDED_OR_FAILED = "succeededOrFailed()"

STAGE_STEP = f"{HELPER_PREFIX}_stage_outputs"
SUMMARY_STEP = f"{HELPER_PREFIX}_summary"
COMMENT_STEP = f"{HELPER_PREFIX}_pr_comment"
_CACHE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_PYTHON = re.compile(r"[0-9][0-9.]*")


def task(name: str, inputs: dict[str, Any], title: str | None = None, condition: str | None = None) -> CommentedMap:
    step = CommentedMap()
    step["task"] = name
    if title:
        step["displayName"] = yaml_str(title)
    if condition:
        step["condition"] = condition
    step["inputs"] = CommentedMap(inputs)
    return step


def checkout() -> CommentedMap:
    step = CommentedMap([("checkout", "self"), ("persistCredentials", yaml_str("false"))])
    step.yaml_add_eol_comment("no token left in .git for later steps", "persistCredentials")
    return step


def no_download() -> CommentedMap:
    """A deployment job downloads every artifact of the run by default: only what it consumes."""
    return CommentedMap(download="none")


def use_python(version: str) -> CommentedMap:
    if not _PYTHON.fullmatch(checked(version, "python version")):
        raise UnsafeValue(f"azure: python version {version!r} must be digits and dots")
    return task(PYTHON_TASK, {"versionSpec": yaml_str(version)})


def run(line: str, secrets: tuple[str, ...] = ()) -> CommentedMap:
    """One shell line, exactly as written; `secrets` are mapped into this step's env only (Azure
    never exports a secret variable by itself)."""
    step = CommentedMap(script=user_str(line, "command"))
    if secrets:
        step["env"] = CommentedMap((name, secret_ref(name)) for name in secrets)
    return step


def helper(name: str, title: str, script: str, condition: str | None = None,
           env: dict[str, str] | None = None) -> CommentedMap:
    """A shell step the backend adds (not a plan command): its `name` starts with mlgen."""
    assert name.startswith(HELPER_PREFIX), name
    step = CommentedMap()
    step["script"] = LiteralScalarString(script) if "\n" in script else script
    step["name"] = name
    step["displayName"] = yaml_str(title)
    if condition:
        step["condition"] = condition
    if env:
        step["env"] = CommentedMap(env)
    return step


def artifact_name(name: str, shard: int | None = None, sharded: bool = False) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", checked(name, "artifact name")):
        raise UnsafeValue(f"azure: artifact name {name!r} must be letters, digits, '.', '_' or '-'")
    if shard is not None:
        return f"{name}-shard-{shard}"
    return f"{name}-shard-{SHARD_MACRO}" if sharded else name


def download(name: str, shards: int) -> list[CommentedMap]:
    """The consumed artifact into the sources folder; a sharded producer's shards one by one,
    merged into the same paths (the runtime gives shard outputs distinct names)."""
    names = [artifact_name(name, i) for i in range(1, shards + 1)] if shards > 1 else [artifact_name(name)]
    return [task(DOWNLOAD_TASK, {"buildType": "current", "artifactName": n, "targetPath": SOURCES}, title=f"Download {n}")
            for n in names]


def stage_outputs(paths: tuple[str, ...], always: bool) -> CommentedMap:
    """Gather the job's outputs, at their repository-relative paths, into STAGING (one artifact
    is one folder). A missing output fails a successful job; after a failure what exists goes."""
    quoted = " ".join(shlex.quote(checked(p, "artifact path")) for p in paths)
    script = (
        'dest="$AGENT_TEMPDIRECTORY/mlgen-artifact"\n'
        'rm -rf "$dest" && mkdir -p "$dest"\n'
        f"for p in {quoted}; do\n"
        '  if [ -e "$p" ]; then cp -R --parents -- "$p" "$dest"/\n'
        '  elif [ "$AGENT_JOBSTATUS" = Succeeded ]; then echo "missing output: $p" >&2; exit 1; fi\n'
        "done\n"
    )
    return helper(STAGE_STEP, "Gather outputs", script, SUCCEEDED_OR_FAILED if always else None)


def publish(name: str, sharded: bool, always: bool) -> CommentedMap:
    artifact = artifact_name(name, sharded=sharded)
    return task(PUBLISH_TASK, {"targetPath": STAGING, "artifact": artifact, "publishLocation": "pipeline"},
                title=f"Publish {name}", condition=SUCCEEDED_OR_FAILED if always else None)


def cache_name(name: str) -> str:
    if not _CACHE_NAME.fullmatch(checked(name, "cache name")):
        raise UnsafeValue(f"azure: cache name {name!r} must be letters, digits, '.', '_' or '-'")
    return name


KEY_STEP = f"{HELPER_PREFIX}_cache_key"


def stage_cache(name: str, sharded: bool, inputs: tuple[str, ...]) -> list[CommentedMap]:
    """Cache@2 of `.mlgen/cache/<name>`: storage only, the runtime decides validity.

    The key hashes the files the runtime's own key starts from (the plan, the runtime manifest,
    the data): a helper step writes their sha256 sums to one file, which is the key's one file
    segment (Cache@2 reads a file segment as glob patterns split on `,`, with no escape, so the
    user's paths stay in a shell-quoted script line). The same inputs restore their entry; other
    inputs restore the newest entry of the slot (`restoreKeys`), which the runtime then rejects
    or reuses by its own hash, and Cache@2 saves the folder under the new key after the job
    succeeded. Azure scopes entries by branch: a pull request reads its target branch's entries
    and never writes them."""
    if not inputs:
        raise ValueError(f"azure: stage cache {name!r} has no input files to key on")
    slot = cache_name(name) + (f"-shard-{SHARD_MACRO}" if sharded else "")
    key_file = f"$(Agent.TempDirectory)/mlgen-cache-key-{cache_name(name)}"
    quoted = " ".join(shlex.quote(checked(f, "cache input")) for f in inputs)
    hashed = helper(KEY_STEP, f"Stage cache key {name}",
                    f'sha256sum -- {quoted} > "$AGENT_TEMPDIRECTORY/mlgen-cache-key-{cache_name(name)}"')
    prefix = f'"mlgen" | "$(Agent.OS)" | "{slot}"'
    restore = task(CACHE_TASK, {"key": f"{prefix} | {key_file}", "restoreKeys": prefix, "path": f"{CACHE_DIR}/{slot}"},
                   title=f"Stage cache {name}")
    return [hashed, restore]


def uv_cache(install_cache: str, python: str) -> CommentedMap:
    """Cache@2 of uv's download cache, keyed by the job's install file (the locked requirements)
    and the Python version, as on GitHub and GitLab: jobs that install the same lock share it."""
    checked(python, "python version")
    prefix = f'"mlgen-uv" | "$(Agent.OS)" | "py{python}"'
    return task(CACHE_TASK, {"key": f"{prefix} | {key_segment(install_cache)}", "restoreKeys": prefix,
                             "path": UV_CACHE_DIR}, title="uv download cache")


def drift_output() -> CommentedMap:
    """The monitor's verdict file as an output variable that later stages' conditions read."""
    script = (f"read -r drifted < {shlex.quote(MONITOR_RESULT)}\n"
              f'echo "##vso[task.setvariable variable={DRIFT_VAR};isOutput=true]$drifted"\n')
    step = helper(DRIFT_STEP, "Publish the drift verdict", script)
    return step


def summary(path: str) -> CommentedMap:
    """The job's Markdown report on the run's summary page (Extensions tab), also after a failure."""
    script = ('if [ -f "$MLGEN_REPORT" ]; then echo "##vso[task.uploadsummary]$BUILD_SOURCESDIRECTORY/$MLGEN_REPORT"; fi')
    return helper(SUMMARY_STEP, "Add the report to the run summary", script, SUCCEEDED_OR_FAILED,
                  {"MLGEN_REPORT": user_str(path, "report path")})


def junit(paths: tuple[str, ...], job_name: str) -> CommentedMap:
    files = "\n".join(checked(p, "report path") for p in paths)
    return task(JUNIT_TASK, {
        "testResultsFormat": "JUnit",
        "testResultsFiles": LiteralScalarString(files + "\n") if len(paths) > 1 else yaml_str(files),
        "testRunTitle": yaml_str(job_name),
        "failTaskOnMissingResultsFile": False,
    }, title="Publish test results", condition=SUCCEEDED_OR_FAILED)


COMMENT_MARKER = "<!-- mlgen:report -->"
# Posts (or edits in place) one pull-request thread holding the report, through the Azure DevOps
# REST API (Git > Pull Request Threads, api-version 7.1) with the job's System.AccessToken.
_COMMENT_PROGRAM = """\
import json, os, sys, urllib.request
marker, report = sys.argv[1], sys.argv[2]
if not os.path.isfile(report):
    sys.exit(0)
with open(report, encoding="utf-8") as f:
    body = marker + "\\n" + f.read()
env = os.environ
base = (env["SYSTEM_COLLECTIONURI"] + env["SYSTEM_TEAMPROJECTID"] + "/_apis/git/repositories/"
        + env["BUILD_REPOSITORY_ID"] + "/pullRequests/" + env["SYSTEM_PULLREQUEST_PULLREQUESTID"] + "/threads")
def call(method, url, data=None):
    req = urllib.request.Request(url + "?api-version=7.1", method=method,
                                 data=None if data is None else json.dumps(data).encode(),
                                 headers={"Authorization": "Bearer " + env["SYSTEM_ACCESSTOKEN"],
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)
threads = call("GET", base)["value"]
mine = [t for t in threads if t.get("comments") and (t["comments"][0].get("content") or "").startswith(marker)]
if mine:
    call("PATCH", f"{base}/{mine[-1]['id']}/comments/{mine[-1]['comments'][0]['id']}", {"content": body})
else:
    call("POST", base, {"comments": [{"parentCommentId": 0, "content": body, "commentType": 1}], "status": 1})
print("report posted to pull request", env["SYSTEM_PULLREQUEST_PULLREQUESTID"])
"""


def pr_comment(report: str, reporter: str) -> CommentedMap:
    """The reviewers' report as one PR thread, edited in place on later pushes (Azure Repos
    only: a GitHub-hosted repository's PR number is not an Azure PR). `reporter`: "always" for
    the last review job, "failed" for an earlier one (posted only when it failed)."""
    first = "failed()" if reporter == "failed" else SUCCEEDED_OR_FAILED
    condition = (f"and({first}, eq(variables['Build.Reason'], 'PullRequest'),"
                 " eq(variables['Build.Repository.Provider'], 'TfsGit'))")
    script = (f"python - {shlex.quote(COMMENT_MARKER)} {shlex.quote(checked(report, 'report path'))} <<'MLGEN_PY'\n"
              + _COMMENT_PROGRAM + "MLGEN_PY\n")
    return helper(COMMENT_STEP, "Comment on the pull request", script, condition,
                  {"SYSTEM_ACCESSTOKEN": "$(System.AccessToken)"})
