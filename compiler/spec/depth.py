"""How deep a spec nests, and where it first goes too deep, without recursion.

tomllib parses nested arrays and inline tables recursively (hundreds of levels end in
RecursionError), and dotted keys (`a.b.c...`) nest without limit; the checks after parsing walk
the document recursively. load.py refuses a spec deeper than its limit, at the place it goes
too deep.
"""

from __future__ import annotations

from typing import Any

from mlgen.spec.positions import Path as KeyPath


def deeper_than(doc: Any, limit: int) -> KeyPath | None:
    """The key path of the first value more than `limit` levels down, or None."""
    stack: list[tuple[Any, KeyPath]] = [(doc, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > limit:
            return path
        if isinstance(node, dict):
            stack.extend((v, path + (k,)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, path + (i,)) for i, v in enumerate(node))
    return None


def bracket_position(text: str, limit: int) -> tuple[int, int]:
    """(line, column) of the first `[` or `{` opened more than `limit` deep in a value, outside
    strings and comments; (1, 1) when there is none."""
    line, col, nest, i = 1, 0, 0, 0
    quote = ""  # the open string's delimiter: ", ', \"\"\" or '''
    while i < len(text):
        c = text[i]
        col += 1
        if c == "\n":
            line, col = line + 1, 0
            if quote in ('"', "'"):  # a one-line string does not go on (tomllib reports it)
                quote = ""
        elif quote:
            if c == "\\" and quote[0] == '"':
                i, col = i + 1, col + 1  # skip the escaped character
            elif text.startswith(quote, i):
                i, col, quote = i + len(quote) - 1, col + len(quote) - 1, ""
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i, col = i + len(quote) - 1, col + len(quote) - 1
        elif c == "#":
            end = text.find("\n", i)
            i, col = (len(text) if end < 0 else end) - 1, col
        elif c in "[{":
            nest += 1
            if nest > limit:
                return line, col
        elif c in "]}":
            nest = max(0, nest - 1)
        i += 1
    return 1, 1


def key_position(text: str, path: KeyPath) -> tuple[int, int]:
    """Where the deepest located part of `path` is written (1, 1 when it cannot be placed)."""
    from mlgen.spec.positions import key_positions, locate

    try:
        return locate(key_positions(text), path)
    except RecursionError:
        return 1, 1
