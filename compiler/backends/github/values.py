"""User strings on their way into the workflow."""

from __future__ import annotations

from typing import Any

from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from mlgen.backends.common import yaml_str

# GitHub evaluates `${{ ... }}` in (almost) every string of a workflow, `run:` included, and
# has no escape for it: such a string cannot reach the shell as written, so it is rejected.
EXPRESSION_OPEN = "${{"


class UnsafeValue(ValueError):
    """A user string that GitHub Actions would not pass through unchanged."""


def checked(s: str, where: str) -> str:
    if EXPRESSION_OPEN in s:
        raise UnsafeValue(
            f"{where} {s!r} contains {EXPRESSION_OPEN!r}, which GitHub Actions evaluates as an "
            "expression; pass the value through an environment variable instead"
        )
    return s


def user_str(s: str, where: str) -> Any:
    """A checked user string as a YAML scalar that every parser reads back unchanged."""
    return yaml_str(checked(s, where))


def expression(s: str) -> Any:
    """An `if:` expression as a YAML scalar: plain where YAML allows (quoted otherwise, as
    ruamel would), double-quoted when it starts with `!` (a tag indicator), which keeps the
    inner '' readable."""
    return DoubleQuotedScalarString(s) if s.startswith("!") else s
