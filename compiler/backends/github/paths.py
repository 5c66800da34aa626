"""Repository paths in a GitHub workflow: what each place does with them, and the escapes.

User paths land in three places:
- `actions/upload-artifact` `path:` (stage `outs`): one @actions/glob pattern per line;
- `hashFiles(...)` in the `actions/cache` key (the data files): @actions/glob patterns too
  (actions/runner src/Misc/expressionFunc/hashFiles: `glob.create(patterns)`), inside a
  single-quoted expression literal;
- `run:` lines (`dvc pull`, `pip install -r`): shell-quoted by the plan, passed as written.

@actions/glob (actions/toolkit packages/glob/src/internal-pattern.ts, internal-globber.ts):
each line is trimmed, a line starting with `#` is a comment, a leading `!` negates, a leading
`~/` is the home directory, `*` `?` `[...]` are wildcards (braces and extglobs are off:
`nobrace`, `noext`), and on Linux `\\` escapes the next character; a `.` segment after the first
is refused outright. upload-artifact then refuses files whose path holds `"` `:` `<` `>` `|`
`*` `?` (actions/toolkit packages/artifact/src/internal/upload/path-and-artifact-name-validation.ts:
NTFS-compatible names). So: glob characters and a leading `!`/`#`/`~` are escaped with `\\`,
blanks at either end become one-character classes (`[ ]`, which trimming keeps), the NTFS
characters are refused in outs, a `.` segment after the first is refused everywhere.
"""

from __future__ import annotations

# escaped with a backslash wherever they are
_GLOB = frozenset("\\*?[]")
# characters upload-artifact refuses in an uploaded file's path
UPLOAD_REFUSED = '":<>|*?'
# what JavaScript's String.prototype.trim() removes (ECMA-262 WhiteSpace and LineTerminator)
_JS_SPACE = frozenset(" \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                      "\u2028\u2029\u202f\u205f\u3000\ufeff")


def glob_escape(path: str) -> str:
    """`path` as an @actions/glob pattern that matches exactly that path."""
    lead = len(path) - len(path.lstrip("".join(_JS_SPACE)))
    trail = len(path) - len(path.rstrip("".join(_JS_SPACE))) if lead < len(path) else 0
    core = path[lead:len(path) - trail]
    body = "".join("\\" + c if c in _GLOB else c for c in core)
    if core[:1] in ("!", "#") or core == "~" or core.startswith("~/"):
        body = "\\" + body
    return _classes(path[:lead]) + body + _classes(path[len(path) - trail:])


def _classes(blanks: str) -> str:
    """Each character as a one-character class: matched literally, and not trimmed away."""
    return "".join(f"[{c}]" for c in blanks)


def glob_unescape(pattern: str) -> str:
    """Inverse of `glob_escape` (for the parity reader)."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
        elif c == "[" and pattern[i + 2:i + 3] == "]":
            out.append(pattern[i + 1])
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def path_problem(role: str, path: str) -> tuple[str, str] | None:
    """(message, hint) when GitHub Actions cannot carry `path` in its `role` (the spec key:
    outs, data, reference, monitor, requirements, deps), else None."""
    segments = path.split("/")
    globbed = role in ("outs", "data", "reference")
    if globbed and any(s == "." for s in segments[1:]):
        where = "actions/upload-artifact `path:`" if role == "outs" else "`hashFiles()` (actions/cache key)"
        return (f"GitHub {where}: @actions/glob refuses a `.` segment after the first one",
                "drop the `./` inside the path")
    if role == "outs":
        bad = sorted({c for c in path if c in UPLOAD_REFUSED})
        if bad:
            shown = " ".join(f"`{c}`" for c in bad)
            return (f"GitHub actions/upload-artifact refuses {shown} in the paths of uploaded files "
                    "(names must also be valid on NTFS)", "rename the file or folder without "
                    + ", ".join(f"`{c}`" for c in UPLOAD_REFUSED))
    return None
