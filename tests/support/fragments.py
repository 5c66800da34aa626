"""Fragments of generated files: only the part a feature produces, for tests/backends/features/.

A selector names one part of one provider's output:

- YAML (GitHub, GitLab): a dotted key path (`on`, `jobs.deploy-production`, `deploy-production`)
  in the provider's main file, or `<file>:<path>` for another of its files (`mlgen-rollback.yml:jobs`,
  matched by file name or by path). The file is parsed with ruamel.yaml and the key is located with
  its documented line information (`lc.key`); the fragment is the key's own lines as generated (its
  ancestors' key lines above it), so quoting and escaping show byte for byte and a comment stays with
  the key it describes (a re-dump would hang it on the key before).
- Jenkins: `stage:<name>` for a `stage('<name>') { ... }` block, or the name of a pipeline-level
  block (`options`, `triggers`, `parameters`, `environment`), by brace matching outside strings
  and comments. Comment lines right above a block belong to it.
- `header` (every provider): the file's leading comment lines after mlgen's three standard ones
  (marker, "change the spec", spec sha256), which say which triggers, plugins or setup apply.

A selector that matches nothing raises `Missing`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

MAIN_FILE = {"github": ".github/workflows/mlgen.yml", "gitlab": ".gitlab-ci.yml", "jenkins": "Jenkinsfile",
             "bitbucket": "bitbucket-pipelines.yml", "azure": "azure-pipelines.yml"}
STANDARD_HEADER_LINES = 3  # generated-by marker, "change the spec", spec sha256


class Missing(LookupError):
    """The selector names nothing in the generated files (the feature renders no such part)."""


@dataclass(frozen=True)
class Selector:
    file: str  # path of the generated file, relative to the output directory
    part: str  # `header`, a dotted YAML key path, `stage:<name>` or a pipeline-level block name


def parse_selectors(provider: str, items: Iterable[str], files: dict[str, str]) -> list[Selector]:
    out = []
    for item in items:
        name, sep, part = item.partition(":")
        if provider != "jenkins" and sep and name.endswith((".yml", ".yaml")):
            out.append(Selector(_find_file(name, files), part))
        else:
            out.append(Selector(MAIN_FILE[provider], item))
    return out


def _find_file(name: str, files: dict[str, str]) -> str:
    hits = [p for p in files if p == name or p.endswith("/" + name)]
    if len(hits) != 1:
        raise Missing(f"{name}: {'no generated file' if not hits else 'several files'} of that name ({sorted(files)})")
    return hits[0]


def extract(provider: str, items: Iterable[str], files: dict[str, str]) -> str:
    """The fragment of `files` (path -> text, as compiled) that `items` select, for `provider`."""
    selectors = parse_selectors(provider, items, files)
    by_file: dict[str, list[str]] = {}
    for sel in selectors:
        by_file.setdefault(sel.file, []).append(sel.part)
    sections = []
    for path, parts in by_file.items():
        if path not in files:
            raise Missing(f"{path} was not generated")
        text = files[path]
        if provider == "jenkins":
            sections.append("\n".join(_jenkins_part(text, p) for p in parts))
        else:
            sections.append(f"--- # {path}\n" + _yaml_parts(text, parts))
    return "\n".join(sections)


# --- header -------------------------------------------------------------------------------------

def _header(text: str, prefix: str) -> str:
    lines = text.splitlines(keepends=True)
    head = lines[STANDARD_HEADER_LINES:_header_end(lines, prefix)]
    while head and head[0].strip() == prefix:  # the separator under the standard lines
        head = head[1:]
    if not head:
        raise Missing("header: no comment lines after the standard three")
    return "".join(head)


def _header_end(lines: list[str], prefix: str) -> int:
    end = 0
    while end < len(lines) and lines[end].startswith(prefix):
        end += 1
    return end


# --- YAML ---------------------------------------------------------------------------------------

def _yaml_parts(text: str, parts: list[str]) -> str:
    lines = text.splitlines(keepends=True)
    doc = YAML(typ="rt").load(text)
    chunks: list[tuple[int, str]] = []  # (first line, text) so parts come out in file order
    emitted: set[int] = set()  # ancestor key lines already written
    head = ""
    spans = []
    for part in parts:
        if part == "header":
            head = _header(text, "#")
            continue
        spans.append(_yaml_span(doc, part.split("."), lines))
    for ancestors, start, end in sorted(spans, key=lambda s: s[1]):
        start = max(start, _header_end(lines, "#"))  # the file's header is `header`, not a key's comment
        pre = "".join(lines[a] for a in ancestors if a not in emitted)
        emitted.update(ancestors)
        chunks.append((start, pre + "".join(lines[start:end])))
    return head + "".join(c for _, c in chunks)


def _yaml_span(doc: CommentedMap, path: list[str], lines: list[str]) -> tuple[list[int], int, int]:
    """(ancestor key lines, first line, end line) of the key at `path`, with its comments above."""
    node, ancestors, end = doc, [], len(lines)
    for depth, key in enumerate(path):
        if isinstance(node, CommentedSeq):  # a list of mappings (Azure's stages): the item whose first value is `key`
            found = [i for i, item in enumerate(node) if isinstance(item, CommentedMap) and item and next(iter(item.values())) == key]
            if not found:
                raise Missing(f"{'.'.join(path)}: no item {key!r} in {'.'.join(path[:depth])}")
            i = found[0]
            if i + 1 < len(node):
                end = _leading_comments(lines, node.lc.item(i + 1)[0])
            start = _leading_comments(lines, node.lc.item(i)[0])
            if depth < len(path) - 1:
                ancestors.append(node.lc.item(i)[0])
            node = node[i]
            continue
        if not isinstance(node, CommentedMap) or key not in node:
            where = ".".join(path[:depth]) or "the top level"
            keys = list(node) if isinstance(node, CommentedMap) else []
            raise Missing(f"{'.'.join(path)}: no key {key!r} at {where} (keys: {keys})")
        keys = list(node)
        i = keys.index(key)
        if i + 1 < len(keys):  # a following sibling ends this key, minus the comments that open it
            end = _leading_comments(lines, node.lc.key(keys[i + 1])[0])
        start = _leading_comments(lines, node.lc.key(key)[0])
        if depth < len(path) - 1:
            ancestors.append(node.lc.key(key)[0])
        node = node[key]
    while end > start and not lines[end - 1].strip():
        end -= 1
    return ancestors, start, end


def _leading_comments(lines: list[str], key_line: int) -> int:
    """The first of the comment lines directly above `key_line` at its indentation (they describe it)."""
    indent = len(lines[key_line]) - len(lines[key_line].lstrip())
    start = key_line
    while start > 0:
        above = lines[start - 1]
        if not above.lstrip().startswith("#") or len(above) - len(above.lstrip()) != indent:
            break
        start -= 1
    return start


# --- Jenkins ------------------------------------------------------------------------------------

_PIPELINE_BLOCK = re.compile(r"[a-z]+")


def _jenkins_part(text: str, part: str) -> str:
    if part == "header":
        return _header(text, "//")
    braces = _code_braces(text)
    if part.startswith("stage:"):
        opener = re.compile(r"^[ \t]*stage\('" + re.escape(part[len("stage:"):]) + r"'\) \{[ \t]*$", re.M)
        want_depth = None
    elif _PIPELINE_BLOCK.fullmatch(part):
        opener = re.compile(r"^[ \t]*" + part + r" \{[ \t]*$", re.M)
        want_depth = 1  # directly inside `pipeline {`
    else:
        raise Missing(f"{part}: not a Jenkins selector (stage:<name>, a pipeline block name or header)")
    for m in opener.finditer(text):
        open_pos = m.start() + m.group(0).rindex("{")
        if open_pos not in braces:
            continue  # inside a string or comment
        if want_depth is not None and _depth(braces, open_pos) != want_depth:
            continue
        close = _matching(braces, open_pos)
        lines = text.splitlines(keepends=True)
        first = text.count("\n", 0, m.start())
        last = text.count("\n", 0, close)
        while first > _header_end(lines, "//") and lines[first - 1].lstrip().startswith("//"):
            first -= 1
        return textwrap.dedent("".join(lines[first:last + 1]))
    raise Missing(f"{part}: no such block in the Jenkinsfile")


def _code_braces(text: str) -> dict[int, str]:
    """Position -> brace for every `{`/`}` outside Groovy strings and comments."""
    out: dict[int, str] = {}
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith(("'''", '"""'), i):
            close = text.find(text[i:i + 3], i + 3)
            i = n if close < 0 else close + 3
        elif c in "'\"":
            i += 1
            while i < n and text[i] != c:
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif text.startswith("//", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = n if close < 0 else close + 2
        else:
            if c in "{}":
                out[i] = c
            i += 1
    return out


def _depth(braces: dict[int, str], pos: int) -> int:
    return sum(1 if c == "{" else -1 for p, c in braces.items() if p < pos)


def _matching(braces: dict[int, str], open_pos: int) -> int:
    depth = 0
    for p in sorted(q for q in braces if q >= open_pos):
        depth += 1 if braces[p] == "{" else -1
        if depth == 0:
            return p
    raise Missing("unbalanced braces in the Jenkinsfile")
