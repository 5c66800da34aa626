"""Step builders: pinned actions, shell lines, artifact transfer."""

from __future__ import annotations

import re

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import LiteralScalarString

from mlgen.backends.common import yaml_str
from mlgen.plan.ir import Artifact

from .pins import pin
from .values import UnsafeValue, checked, user_str

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


def action(name: str, with_: CommentedMap | None = None, title: str | None = None) -> CommentedMap:
    """A `uses:` step pinned to a full commit SHA, the release as a comment."""
    p = pin(name)
    step = CommentedMap()
    if title:
        step["name"] = yaml_str(title)
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


def run(line: str) -> CommentedMap:
    """One shell line, exactly as written (values reach it through `env:`, never `${{ }}`)."""
    return CommentedMap({"run": user_str(line, "command")})


def artifact_name(name: str) -> str:
    checked(name, "artifact name")
    if not name or _BAD_ARTIFACT_NAME.search(name):
        raise UnsafeValue(f"artifact name {name!r} must not be empty or contain any of \" ' : < > | * ? \\ /")
    return name


def shard_pattern(name: str) -> str:
    """Every shard's artifact of a sharded producer (uploaded as `<name>-shard-<i>`)."""
    return f"{artifact_name(name)}-shard-*"


def download(name: str, sharded: bool) -> CommentedMap:
    with_ = CommentedMap()
    if sharded:
        with_["pattern"] = yaml_str(shard_pattern(name))
        with_["merge-multiple"] = True  # all shards into the same paths
    else:
        with_["name"] = yaml_str(artifact_name(name))
    with_["path"] = "."  # artifacts keep repository-relative paths (see ARTIFACT_ROOT_ANCHOR)
    with_.yaml_add_eol_comment("files keep their repository-relative paths", "path")
    return action("actions/download-artifact", with_, title=f"Download {name}")


def _path_line(path: str) -> str:
    checked(path, "artifact path")
    # One glob pattern per line: a newline would split it, `!` negates, `#` comments it out.
    if not path or "\n" in path or path[0] in "!#" or path != path.strip():
        raise UnsafeValue(f"artifact path {path!r} must be one line, without surrounding blanks or a leading ! or #")
    return path


def upload(artifact: Artifact, shards: int, expire_days: int) -> CommentedMap:
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
    with_["if-no-files-found"] = "error"
    with_["include-hidden-files"] = True  # the paths live under .mlgen/
    return action("actions/upload-artifact", with_, title=f"Upload {name}")
