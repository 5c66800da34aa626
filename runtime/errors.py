"""Exit codes and the two ways a stage stops early."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # a check or gate failed
EXIT_BAD_INPUT = 2  # bad spec/plan, data, or usage


class BadInput(Exception):
    """The input cannot be used (missing file, wrong types, tampered model...): exit 2."""


class CheckFailed(Exception):
    """A check or gate failed; reports were written: exit 1."""
