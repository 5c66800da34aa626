"""User strings and names on their way into `azure-pipelines.yml`."""

from __future__ import annotations

import re
from typing import Any

from mlgen.backends.common import yaml_str

from .constraints import CONSTRAINTS

# Stage and job ids: letters, digits and `_`, not starting with a digit.
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Helper stages and steps the backend adds (not plan jobs) start with this; plan names never do.
HELPER_PREFIX = "mlgen"
_SECRET = re.compile(r"[A-Z_][A-Z0-9_]*")


class UnsafeValue(ValueError):
    """A user string that Azure Pipelines would not pass through unchanged."""


def checked(s: str, where: str) -> str:
    """`s` unchanged, or UnsafeValue when it holds text Azure expands before the shell runs."""
    for opener, what in CONSTRAINTS.expression_openers:
        if opener in s:
            raise UnsafeValue(
                f"azure: {where} {s!r} contains {opener!r}, which opens an {what}; "
                "pass the value through a file or an environment variable instead"
            )
    return s


def user_str(s: str, where: str) -> Any:
    """A checked user string as a YAML scalar that every parser reads back unchanged."""
    return yaml_str(checked(s, where))


def stage_id(name: str) -> str:
    """The stage (and job) id of plan job `name`: its `-` written as `_` (Azure ids allow no
    `-`); the display name keeps the name itself."""
    checked(name, "job name")
    ident = name.replace("-", "_")
    if not _ID.fullmatch(ident):
        raise UnsafeValue(f"azure: job name {name!r} is not a valid Azure stage id (a letter or _, then letters, digits, - or _)")
    if ident.lower().startswith(HELPER_PREFIX):
        raise UnsafeValue(f"azure: job name {name!r} starts with 'mlgen', which is reserved for mlgen's helper steps")
    return ident


def quote(s: str) -> str:
    """A string literal in an Azure condition expression: single quotes, doubled inside."""
    return "'" + checked(s, "value").replace("'", "''") + "'"


def secret_ref(name: str) -> str:
    """`$(NAME)`: the secret variable of a linked variable group (formed from a checked name)."""
    if not _SECRET.fullmatch(name):
        raise UnsafeValue(f"azure: secret name {name!r} is not a valid variable name")
    return f"$({name})"
