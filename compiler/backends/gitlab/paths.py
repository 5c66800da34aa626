"""Repository paths in `.gitlab-ci.yml`: what each place does with them, and the escapes.

User paths land in three places:
- `artifacts:paths` (stage `outs`): the runner expands CI/CD variables in them, then matches
  each as a glob (gitlab-runner commands/helpers/file_archiver.go: doublestar / filepath.Glob,
  where `\\` makes the next character literal, whatever it is);
- `cache:key:files` (the first data file the stage reads): patterns that GitLab itself resolves,
  as git pathspecs or as globs depending on its version (gitlab-org/gitlab issues 547149,
  572701, 595745), so no escape holds for both;
- `script:` lines (`dvc pull`, `pip install -r`): shell-quoted by the plan; GitLab passes script
  lines to the shell unexpanded.

So `$` is refused in both YAML places (there is no escape for variable expansion there), glob
characters and `\\` are refused in `cache:key:files`, and an artifact path has a backslash
before every ASCII character that is not a letter, a digit or one of `_./-`: the glob reads it
as that character. (gitlab-ci-local, the test suite's runner, pastes artifact paths into a bash
glob, where the same backslashes make spaces and quotes literal too.)
"""

from __future__ import annotations

import re

_PLAIN = re.compile(r"[A-Za-z0-9_./-]")
KEY_FILE_REFUSED = "*?[]{}\\"


def artifact_pattern(path: str) -> str:
    """`path` as an `artifacts:paths` glob that matches exactly that path."""
    return "".join(c if c >= "\x80" or _PLAIN.fullmatch(c) else "\\" + c for c in path)


def artifact_unescape(pattern: str) -> str:
    """Inverse of `artifact_pattern` (for the parity reader)."""
    return re.sub(r"\\(.)", r"\1", pattern, flags=re.DOTALL)


def path_problem(role: str, path: str) -> tuple[str, str] | None:
    """(message, hint) when GitLab CI cannot carry `path` in its `role` (the spec key: outs,
    data, reference, monitor, requirements, deps), else None."""
    if role == "outs" and "$" in path:
        return ("GitLab `artifacts:paths`: GitLab expands `$` (CI/CD variables) in artifact paths",
                "rename the file or folder without `$`")
    if role == "data":
        if "$" in path:
            return ("GitLab `cache:key:files`: GitLab expands `$` (CI/CD variables) in cache keys",
                    "rename the data file without `$`")
        bad = sorted({c for c in path if c in KEY_FILE_REFUSED})
        if bad:
            shown = " ".join(f"`{c}`" for c in bad)
            return (f"GitLab `cache:key:files` reads {shown} as a pattern (a glob or a git pathspec, "
                    "depending on the GitLab version), with no escape that holds for both",
                    "rename the data file without " + ", ".join(f"`{c}`" for c in KEY_FILE_REFUSED))
    return None
