"""Repository paths in `bitbucket-pipelines.yml`: what each place does with them.

User paths land in three places:
- `artifacts:upload:paths` (stage `outs`): glob patterns Bitbucket matches against the clone
  directory; its documentation names no escape for glob characters;
- `definitions:caches:<name>:key:files` (the data files a stage's cache is keyed on): globs too;
- `script:` lines (`dvc pull`, `pip install -r`): shell-quoted by the plan; Bitbucket passes script
  lines to the shell unexpanded.

So the glob characters and `\\` are refused in both YAML places (no escape is documented that
would make them literal), and `$` too (Bitbucket resolves variables in some YAML values; a path is
not worth the guess). Every other character is written as is, through `yaml_str`.
"""

from __future__ import annotations

GLOB_REFUSED = "*?[]{}\\$"


def _refused(path: str) -> list[str]:
    bad = sorted({c for c in path if c in GLOB_REFUSED})
    if path.startswith("!"):
        bad.insert(0, "!")  # a leading `!` negates a pattern in Bitbucket's globs
    return bad


def path_problem(role: str, path: str) -> tuple[str, str] | None:
    """(message, hint) when Bitbucket cannot carry `path` in its `role` (the spec key: outs,
    data, reference, monitor, requirements, deps), else None."""
    if role not in ("outs", "data"):
        return None  # only reaches script lines, shell-quoted by the plan
    bad = _refused(path)
    if not bad:
        return None
    where = "artifact paths" if role == "outs" else "cache key files (`key: files:`)"
    shown = " ".join(f"`{c}`" for c in bad)
    return (f"Bitbucket {where} are glob patterns: {shown} would be read as pattern syntax, with no documented escape",
            "rename the file or folder without " + ", ".join(f"`{c}`" for c in GLOB_REFUSED) + " or a leading `!`")
