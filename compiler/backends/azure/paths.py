"""Repository paths in `azure-pipelines.yml`: what each place does with them.

User paths land in two places:
- `script:` lines (the plan's `dvc pull`, `pip install -r`, and the helper step that gathers a
  stage's `outs` into the folder PublishPipelineArtifact@1 uploads): shell-quoted, passed to bash
  as written once the spec checks have refused Azure's `$(`, `${{` and `$[` (constraints.py);
- the `key:` of Cache@2 (the files the stage cache and uv's download cache are keyed on): a
  `|`-separated list of segments where a segment is hashed as a file only when the agent reads
  it as a path (it holds a `/` or a `.`, azure-pipelines-agent FingerprintCreator), and is read
  as a comma-separated list of glob patterns, with surrounding blanks trimmed. There is no escape
  for any of that, so a key file must be plain: letters, digits and `_./-`.
"""

from __future__ import annotations

import re

KEY_FILE = re.compile(r"[A-Za-z0-9_./-]+")


def key_segment(path: str) -> str:
    """A file `path` as a Cache@2 key segment the agent hashes as that one file."""
    problem = path_problem("data", path)
    if problem:  # the spec checks refuse it first
        raise ValueError(f"azure: cache key file {path!r}: {problem[0]}")
    return path if "/" in path else "./" + path


def key_segment_path(segment: str) -> str:
    """Inverse of `key_segment` (for the parity reader)."""
    return segment.removeprefix("./") if segment.count("/") == 1 and segment.startswith("./") else segment


def path_problem(role: str, path: str) -> tuple[str, str] | None:
    """(message, hint) when Azure Pipelines cannot carry `path` in its `role` (the spec key:
    outs, data, reference, monitor, requirements, deps), else None."""
    if role == "data" and (not KEY_FILE.fullmatch(path) or path.endswith(".") and "/" not in path):
        return ("Azure Cache@2 `key:` reads a file path as glob patterns split on `,` and `|`, with no escape",
                "rename the data file with only letters, digits, `_`, `.`, `/` and `-`")
    return None
