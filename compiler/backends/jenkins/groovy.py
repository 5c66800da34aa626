"""Groovy literals, both ways: the escaping render.py uses and the small parser `read()` uses
on the subset of Groovy that render.py generates.

Only single-quoted literals are ever emitted: Groovy never interpolates them (no `${}`, no `$x`),
so a user string reaches Jenkins exactly as written once `\\` and `'` are escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Characters that end a line (or a file) inside Groovy source: a string holding one cannot be a
# single-quoted literal or a `//` comment. The spec layer rejects them first; this is the backstop.
_FORBIDDEN = {"\n": "newline", "\r": "carriage return", "\x00": "NUL"}


def _check_one_line(s: str, what: str) -> None:
    for ch, name in _FORBIDDEN.items():
        if ch in s:
            raise ValueError(f"{what} contains a {name}, which Groovy cannot hold on one line: {s!r}")


def groovy_sq(s: str) -> str:
    """`s` as a Groovy single-quoted string literal (backslash first, then the quote). Non-ASCII
    characters are written as `\\uXXXX` escapes (UTF-16, as Groovy reads them): the Jenkinsfile
    stays ASCII, so a controller reading it in another default charset than UTF-8 still gets
    `données` and `中文` exactly."""
    if not isinstance(s, str):
        raise TypeError(f"groovy_sq expects a str, got {type(s).__name__}: {s!r}")
    _check_one_line(s, "string")
    body = s.replace("\\", "\\\\").replace("'", "\\'")
    if not body.isascii():
        body = _NON_ASCII.sub(_u_escape, body)
    return "'" + body + "'"


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _u_escape(m: re.Match[str]) -> str:
    units = m.group().encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}" for i in range(0, len(units), 2))


def groovy_sq_lines(lines: tuple[str, ...] | list[str]) -> str:
    """Several lines as one single-quoted literal joined by the `\\n` escape (a cron spec)."""
    return "'" + "\\n".join(groovy_sq(line)[1:-1] for line in lines) + "'"


def groovy_comment(s: str) -> str:
    """`s` as the text of a `//` comment. Groovy (like Java) decodes `\\uXXXX` anywhere in the
    source, comments included, so a stray `\\u` would be a syntax error: refuse it."""
    _check_one_line(s, "comment")
    if re.search(r"(?<!\\)(\\\\)*\\u", s):
        raise ValueError(f"comment contains a '\\u' sequence that Groovy would decode: {s!r}")
    return s


# Escapes a Groovy single-quoted literal may contain. We only emit \\ and \', the rest is here so
# that a hand-touched file still reads back the way Groovy would read it.
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "$": "$", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def unescape_sq(literal: str) -> str:
    """Inverse of `groovy_sq`: the value of a single-quoted literal (quotes included)."""
    if len(literal) < 2 or literal[0] != "'" or literal[-1] != "'":
        raise ValueError(f"not a single-quoted Groovy literal: {literal!r}")
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        if nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            raise ValueError(f"unknown escape \\{nxt} in {literal!r}")
    # \uXXXX pairs may encode an astral character as surrogates; join them back.
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")


# --------------------------------------------------------------------------- reader side

_TOKEN = re.compile(
    r"""
      (?P<ws>[ \t\f]+)
    | (?P<nl>\r?\n)
    | (?P<comment>//[^\n]*|/\*.*?\*/)
    | (?P<sq>'(?:[^'\\\n]|\\.)*')
    | (?P<dq>"(?:[^"\\\n]|\\.)*")
    | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*|\d+)
    | (?P<punct>==|!=|&&|\|\||[{}()\[\],:;=?.!+<>-])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str  # sq | dq | word | punct | nl
    text: str
    line: int


@dataclass
class Node:
    """One statement: `name args... { body }`. `body` is None when there is no block."""

    name: str
    args: list[Token] = field(default_factory=list)
    body: list[Node] | None = None
    line: int = 0

    def children(self, name: str) -> list[Node]:
        return [n for n in self.body or [] if n.name == name]

    def child(self, name: str) -> Node | None:
        found = self.children(name)
        return found[0] if found else None

    def strings(self) -> list[str]:
        """The values of the single-quoted literals among the arguments, in order."""
        return [unescape_sq(t.text) for t in self.args if t.kind == "sq"]


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"Jenkinsfile:{line}: unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind in ("nl", "sq", "dq", "word", "punct"):
            tokens.append(Token(kind, m.group(), line))
        line += m.group().count("\n")
        pos = m.end()
    return tokens


def parse(text: str) -> list[Node]:
    """Parse the generated subset into statements. A statement runs to the end of its line
    (or `;`), unless a `{` opens its block; parentheses may span lines."""
    tokens = tokenize(text)
    nodes, pos = _block(tokens, 0, top=True)
    if pos != len(tokens):
        raise ValueError(f"Jenkinsfile:{tokens[pos].line}: unexpected {tokens[pos].text!r}")
    return nodes


def _block(tokens: list[Token], pos: int, *, top: bool) -> tuple[list[Node], int]:
    nodes: list[Node] = []
    while pos < len(tokens):
        tok = tokens[pos]
        if tok.kind == "nl" or tok.text == ";":
            pos += 1
        elif tok.text == "}":
            if top:
                raise ValueError(f"Jenkinsfile:{tok.line}: unbalanced '}}'")
            return nodes, pos + 1
        elif tok.kind == "word" or tok.text == "!":  # `!` opens a negated `expression { }` body
            node, pos = _statement(tokens, pos)
            nodes.append(node)
        else:
            raise ValueError(f"Jenkinsfile:{tok.line}: expected a statement, got {tok.text!r}")
    if not top:
        raise ValueError("Jenkinsfile: unexpected end of file, missing '}'")
    return nodes, pos


def _statement(tokens: list[Token], pos: int) -> tuple[Node, int]:
    head = tokens[pos]
    node = Node(head.text, line=head.line)
    pos += 1
    depth = 0  # open ( and [: newlines inside them do not end the statement
    while pos < len(tokens):
        tok = tokens[pos]
        if depth == 0 and (tok.kind == "nl" or tok.text in (";", "}")):
            return node, pos  # the enclosing block consumes the terminator
        if depth == 0 and tok.text == "{":
            node.body, pos = _block(tokens, pos + 1, top=False)
            return node, pos
        if tok.text in ("(", "["):
            depth += 1
        elif tok.text in (")", "]"):
            depth -= 1
        if tok.kind != "nl":
            node.args.append(tok)
        pos += 1
    return node, pos
