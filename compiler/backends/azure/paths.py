"""Repository paths in `azure-pipelines.yml`: what each place does with them.

User paths land only in `script:` lines, shell-quoted: the plan's own lines (`dvc pull`,
`pip install -r`), the helper step that gathers a stage's `outs` into the folder
PublishPipelineArtifact@1 uploads, and the helper step that hashes the stage cache's input files
into the one file the Cache@2 key names. Bash gets them as written once the spec checks have
refused Azure's `$(`, `${{` and `$[` in every user string (constraints.py), so no path is refused
here. The one path in a Cache@2 key itself, the job's install file (uv's download cache), is
mlgen's own (`.mlgen/install/<job>.txt`); `key_segment` checks that it is plain.
"""

from __future__ import annotations

import re

# Cache@2 reads a key segment with a `/` or a `.` as a file, as glob patterns split on `,`,
# trimmed: such a segment must be plain to mean the one file.
KEY_FILE = re.compile(r"[A-Za-z0-9_.-]*/[A-Za-z0-9_./-]+")


def key_segment(path: str) -> str:
    """A file `path` as a Cache@2 key segment the agent hashes as that one file."""
    if not KEY_FILE.fullmatch(path):
        raise ValueError(f"azure: cache key file {path!r} must be a plain path with a folder")
    return path


def path_problem(role: str, path: str) -> tuple[str, str] | None:
    """(message, hint) when Azure Pipelines cannot carry `path` in its `role`, else None: every
    repository path reaches Azure shell-quoted (see above)."""
    return None
