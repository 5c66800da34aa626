"""A small, fast YAML emitter for the generated pipelines, byte-identical to ruamel.yaml's
round-trip dumper as `dump_yaml` configures it (block style, mapping indent 2, sequence indent 4
with offset 2, no line folding).

The backends build their documents from the containers and scalar types below (they mirror the
parts of ruamel's API that mlgen uses: `CommentedMap.yaml_set_comment_before_after_key`,
`yaml_add_eol_comment`, and the single-quoted, double-quoted and literal scalar strings) and
from plain dicts, lists, strings, booleans, integers and None. `emit` writes what it knows to
write exactly as ruamel would; anything else (a shape or a string it has no rule for) raises
`Unsupported`, and `dump_yaml` then hands the same document to ruamel itself (`to_ruamel`), so
the output never depends on which of the two wrote it. tests/test_fastpath.py checks the two
against each other on every golden case and on generated documents.

Importing this module costs nothing: ruamel.yaml is imported only on the fallback path.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["Map", "Seq", "SQ", "DQ", "Literal", "Unsupported", "emit", "to_ruamel"]


class Unsupported(Exception):
    """The document has something this emitter has no exact rule for (ruamel writes it)."""


class Map(dict):  # type: ignore[type-arg]
    """An insertion-ordered mapping with comments, like ruamel's CommentedMap (the subset mlgen uses)."""

    __slots__ = ("before", "eol")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before: dict[Any, list[tuple[int, str]]] = {}  # key -> [(column, line)]
        self.eol: dict[Any, tuple[str, int]] = {}  # key -> (text, column), as ruamel stores them

    def yaml_set_comment_before_after_key(
        self, key: Any, before: str | None = None, indent: int = 0, after: str | None = None,
        after_indent: int | None = None,
    ) -> None:
        if after is not None:
            raise NotImplementedError("comments after a key are not supported")
        if before is None:
            return
        # ruamel: a final newline is dropped (unless the comment is only "\n"); each line
        # becomes "# line", an empty line stays empty
        if len(before) > 1 and before[-1] == "\n":
            before = before[:-1]
        lines = [""] if before == "\n" else before.split("\n")
        self.before.setdefault(key, []).extend((indent, line) for line in lines)

    def yaml_add_eol_comment(self, comment: str, key: Any, column: int | None = None) -> None:
        # ruamel (CommentedMap.yaml_add_eol_comment): without a column, the column is taken
        # from a neighbouring key's end-of-line comment (0 when that key has only comments
        # before it); with none at all the comment becomes " # ..." at column 0, written two
        # spaces after the value
        if column is None:
            column = self._ruamel_column(key)
        if comment[0] != "#":
            comment = "# " + comment
        if column is None:
            comment = " " + comment
            column = 0
        self.eol[key] = (comment, column)

    def _ruamel_column(self, key: Any) -> int | None:
        """CommentedMap._yaml_get_column, quirks included (ca.items = keys with comments)."""
        items = self.before.keys() | self.eol.keys()
        pre = post = last = None
        for x in self:
            if pre is not None and x != key:
                post = x
                break
            if x == key:
                pre = last
            last = x
        sel: Any = None
        if pre in items:
            sel = pre
        elif post in items:
            sel = post
        else:
            for k1 in self:
                if k1 >= key:
                    break
                if k1 in items:
                    sel = k1
        if sel is None:
            return None
        hit = self.eol.get(sel)
        return hit[1] if hit is not None else 0  # ruamel: AttributeError on a missing token -> 0

    def copy(self) -> Map:
        out = Map(self)
        out.before = dict(self.before)
        out.eol = dict(self.eol)
        return out


class Seq(list):  # type: ignore[type-arg]
    """A sequence, like ruamel's CommentedSeq (no comments are used on sequences)."""

    __slots__ = ()


class SQ(str):
    """A string written single-quoted (ruamel's SingleQuotedScalarString)."""

    __slots__ = ()


class DQ(str):
    """A string written double-quoted (ruamel's DoubleQuotedScalarString)."""

    __slots__ = ()


class Literal(str):
    """A string written as a literal block, `|` (ruamel's LiteralScalarString)."""

    __slots__ = ()


# ------------------------------------------------------------------------------------ scalars

# Characters ruamel writes as they are (allow_unicode): printable ASCII and the printable
# Unicode planes, minus the line breaks \x85 \u2028 \u2029 and the BOM. Any other character
# (a control character, a tab, a newline) has rules of its own: ruamel writes such strings.
_ODD_CHAR = re.compile("[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]")

# YAML 1.2 implicit resolvers of ruamel (resolver.py), by first character: a plain scalar that
# matches one of these would read back as a bool, number, null, ... and must be quoted.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT = re.compile(r"""^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$""", re.X)
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL| )$")
_TIMESTAMP = re.compile(
    r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
    (?:[Tt]|[ \t]+)[0-9][0-9]?
    :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
    (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
    re.X,
)
_RESOLVERS: dict[str, list[re.Pattern[str]]] = {}
for _pattern, _first in (
    (_BOOL, "tTfF"),
    (_FLOAT, "-+0123456789."),
    (_INT, "-+0123456789"),
    (re.compile(r"^(?:<<)$"), "<"),
    (_NULL, "~nN"),
    (_TIMESTAMP, "0123456789"),
    (re.compile(r"^(?:=)$"), "="),
    (re.compile(r"^(?:!|&|\*)$"), "!&*"),
):
    for _ch in _first:
        _RESOLVERS.setdefault(_ch, []).append(_pattern)


def _resolves_to_str(s: str) -> bool:
    return not any(p.match(s) for p in _RESOLVERS.get(s[0], ()))


_LEADING_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")


def _plain_ok(s: str) -> bool:
    """Would ruamel write this non-empty, single-line string plain in block context?
    (Emitter.analyze_scalar + choose_scalar_style, for strings without odd characters.)"""
    if s[0] == " " or s[-1] == " " or s.startswith(("---", "...")):
        return False
    first = s[0]
    if first in _LEADING_INDICATORS:
        return False
    if first in "?:-" and (len(s) == 1 or s[1] == " "):
        return False
    if ": " in s or (len(s) > 1 and s[-1] == ":") or " #" in s:
        return False
    return _resolves_to_str(s)


_cache: dict[tuple[type, str, bool], str] = {}


def _scalar(value: Any, key: bool = False) -> str:
    """A scalar as ruamel writes it (keys are in simple-key context)."""
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind not in (str, SQ, DQ):
        raise Unsupported(f"scalar of type {kind.__name__}")
    cache_key = (kind, value, key)
    hit = _cache.get(cache_key)
    if hit is not None:
        return hit
    if _ODD_CHAR.search(value):
        raise Unsupported("a string with a line break or a control character")
    if key and len(value) >= 128:
        raise Unsupported("a key of 128 characters or more")
    if kind is DQ:
        out = _double(value)
    elif kind is SQ:
        out = "'" + value.replace("'", "''") + "'"
    elif value and _plain_ok(value):
        out = value
    elif "'" in value:
        out = _double(value)
    else:
        out = "'" + value.replace("'", "''") + "'"
    _cache[cache_key] = out
    return out


def _double(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal_lines(value: str) -> list[str]:
    """The lines of a literal block when ruamel writes it without indicators: one final
    newline, no leading or trailing blanks, no empty lines."""
    if not value.endswith("\n") or value.endswith("\n\n") or value[0] in " \n":
        raise Unsupported("a literal block that needs indicators")
    lines = value[:-1].split("\n")
    for line in lines:
        if not line or line[-1] == " " or _ODD_CHAR.search(line):
            raise Unsupported("a literal block with blank or odd lines")
    return lines


# ---------------------------------------------------------------------------------- documents

_MAPS = (Map, dict)
_SEQS = (Seq, list)


def emit(data: Any) -> str:
    """`data` (a mapping) as YAML, exactly as ruamel's round-trip dumper writes it; raises
    Unsupported for anything outside the subset above."""
    if not isinstance(data, _MAPS) or not data:
        raise Unsupported("the document is not a non-empty mapping")
    out: list[str] = []
    _map(data, 0, out, set(), None)
    return "".join(out)


def _map(m: dict[Any, Any], indent: int, out: list[str], seen: set[int], first_prefix: str | None) -> None:
    """A non-empty block mapping whose keys sit at column `indent`; when `first_prefix` is
    given (a sequence item, "  - "), the first key follows it on the same line."""
    if id(m) in seen:  # an object used twice would get an anchor and an alias from ruamel
        raise Unsupported("a shared container (anchors and aliases)")
    seen.add(id(m))
    if type(m) is Map:
        before = m.before
        eol = m.eol
    else:
        before = eol = _NONE
    pad = " " * indent
    inner = None
    prefix = first_prefix if first_prefix is not None else pad
    first = True
    for k, v in m.items():
        if before:
            comment = before.get(k)
            if comment is not None:
                if first and (first_prefix is not None or indent == 0 or any(not line for _, line in comment)):
                    # ruamel places these its own way (or drops an empty line)
                    raise Unsupported("a comment before the first key of a sequence item or document")
                out.extend([f"{' ' * col}# {line}\n" if line else "\n" for col, line in comment])
        kind = type(k)
        if kind is str:
            key = _cache.get((str, k, True)) or _scalar(k, key=True)
        elif kind is SQ or kind is DQ:
            key = _scalar(k, key=True)
        else:
            raise Unsupported("a non-string key")
        head = prefix + key + ":"
        prefix = pad
        first = False
        note = eol.get(k) if eol else None
        vt = type(v)
        if vt is str:
            hit = _cache.get((str, v, False))
            out.append(_eol(f"{head} {hit if hit is not None else _scalar(v)}", note))
        elif vt is Map or vt is dict:
            if not v:
                _seen(v, seen)
                out.append(_eol(head + " {}", note))
                continue
            if note is not None:
                raise Unsupported("an end-of-line comment on a block mapping")
            out.append(head + "\n")
            _map(v, indent + 2, out, seen, None)
        elif vt is Seq or vt is list:
            if not v:
                _seen(v, seen)
                out.append(_eol(head + " []", note))
                continue
            if note is not None:
                raise Unsupported("an end-of-line comment on a block sequence")
            out.append(head + "\n")
            _seq(v, indent + 2, out, seen)
        elif v is None:
            if note is not None:
                raise Unsupported("an end-of-line comment on an empty value")
            out.append(head + "\n")
        elif vt is Literal:
            if note is not None:
                raise Unsupported("an end-of-line comment on a literal block")
            if inner is None:
                inner = " " * (indent + 2)
            out.append(head + " |\n")
            out.extend([f"{inner}{line}\n" for line in _literal_lines(v)])
        elif isinstance(v, (dict, list)):
            raise Unsupported(f"a container of type {vt.__name__}")
        else:
            out.append(_eol(f"{head} {_scalar(v)}", note))


_NONE: dict[Any, Any] = {}


def _seen(obj: Any, seen: set[int]) -> None:
    if id(obj) in seen:
        raise Unsupported("a shared container (anchors and aliases)")
    seen.add(id(obj))


def _eol(line: str, note: tuple[str, int] | None) -> str:
    """The line and its end-of-line comment as ruamel's Emitter.write_comment places it."""
    if note is None:
        return line + "\n"
    text, col = note
    return line + " " * max(col - len(line), 1) + text + "\n"


def _seq(s: list[Any], indent: int, out: list[str], seen: set[int]) -> None:
    """A non-empty block sequence whose dashes sit at column `indent`."""
    _seen(s, seen)
    dash = " " * indent + "- "
    for item in s:
        kind = type(item)
        if kind is str:
            hit = _cache.get((str, item, False))
            out.append(f"{dash}{hit if hit is not None else _scalar(item)}\n")
        elif kind is Map or kind is dict:
            if not item:
                _seen(item, seen)
                out.append(dash + "{}\n")
            else:
                _map(item, indent + 2, out, seen, dash)
        elif kind is Seq or kind is list:
            if item:
                raise Unsupported("a sequence inside a sequence")
            _seen(item, seen)
            out.append(dash + "[]\n")
        elif item is None or kind is Literal:
            raise Unsupported("an empty value or a literal block in a sequence")
        elif isinstance(item, (dict, list)):
            raise Unsupported(f"a container of type {kind.__name__}")
        else:
            out.append(dash + _scalar(item) + "\n")


# ----------------------------------------------------------------------------------- fallback


def to_ruamel(data: Any) -> Any:
    """The same document as ruamel objects (CommentedMap with the same comments, ...)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import (
        DoubleQuotedScalarString,
        LiteralScalarString,
        SingleQuotedScalarString,
    )

    memo: dict[int, Any] = {}

    def conv(x: Any) -> Any:
        if type(x).__module__.startswith("ruamel."):
            return x  # already a ruamel object
        if isinstance(x, (dict, list)) and id(x) in memo:
            return memo[id(x)]  # shared stays shared (ruamel then writes an anchor)
        if isinstance(x, Map):
            m = CommentedMap()
            memo[id(x)] = m
            for k, v in x.items():
                m[conv(k)] = conv(v)
            for k, lines in x.before.items():
                for indent, line in lines:
                    m.yaml_set_comment_before_after_key(conv(k), before=line or "\n", indent=indent)
            if x.eol:
                from ruamel.yaml.error import CommentMark
                from ruamel.yaml.tokens import CommentToken

                for k, (text, col) in x.eol.items():
                    m._yaml_add_eol_comment([CommentToken(text, CommentMark(col)), None], key=conv(k))
            return m
        if isinstance(x, dict):
            d: dict[Any, Any] = {}
            memo[id(x)] = d
            for k, v in x.items():
                d[conv(k)] = conv(v)
            return d
        if isinstance(x, Seq):
            s = CommentedSeq()
            memo[id(x)] = s
            s.extend(conv(i) for i in x)
            return s
        if isinstance(x, list):
            lst: list[Any] = []
            memo[id(x)] = lst
            lst.extend(conv(i) for i in x)
            return lst
        if type(x) is SQ:
            return SingleQuotedScalarString(x)
        if type(x) is DQ:
            return DoubleQuotedScalarString(x)
        if type(x) is Literal:
            return LiteralScalarString(x)
        return x

    return conv(data)


def ruamel_dump(data: Any) -> str:
    """What ruamel's round-trip dumper writes for `data` (the reference and the fallback)."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="rt", pure=True)
    yaml.width = 1_000_000  # never fold long commands over lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    yaml.dump(to_ruamel(data), buf)
    return buf.getvalue()
