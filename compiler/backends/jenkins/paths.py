"""Repository paths in the Jenkinsfile: what each place does with them.

User paths land in two places:
- `stash includes:` (stage `outs`, as `<path>/**`): Jenkins splits includes on `,` and trims
  each pattern (hudson.Util.createFileSet; spaces do not split, unlike Ant's own
  FileSet.setIncludes), then matches Ant patterns, where `*` and `?` are wildcards with no
  escape and `\\` is a second directory separator. The stash step is written with
  `useDefaultExcludes: false`, so Ant's default excludes (`**/*~`, `**/#*#`, `**/.git`, ...)
  never drop a declared output;
- `sh` arguments (`dvc pull`, `pip install -r`): shell-quoted by the plan, then a single-quoted
  Groovy literal (groovy.py escapes `\\` and `'`; never a GString, so `$` stays as written).

So outs refuse `,`, `*`, `?`, `\\` and a leading blank.
"""

from __future__ import annotations

STASH_REFUSED = ",*?\\"


def path_problem(role: str, path: str) -> tuple[str, str] | None:
    """(message, hint) when Jenkins cannot carry `path` in its `role` (the spec key: outs,
    data, reference, monitor, requirements, deps), else None."""
    if role != "outs":
        return None
    bad = sorted({c for c in path if c in STASH_REFUSED})
    if bad:
        shown = " ".join(f"`{c}`" for c in bad)
        return (f"Jenkins `stash includes:` cannot hold {shown}: `,` separates patterns, `*` and `?` are "
                "Ant wildcards without an escape, `\\` is a directory separator there",
                "rename the file or folder without " + ", ".join(f"`{c}`" for c in STASH_REFUSED))
    if path[:1] == " ":
        return ("Jenkins `stash includes:` trims each pattern, so a leading space is lost",
                "rename the file or folder without the leading space")
    return None
