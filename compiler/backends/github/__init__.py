"""GitHub Actions backend (see ../CONTRACT.md): the pipeline, `.github/workflows/mlgen.yml`, and,
when the plan has rollback jobs, the dispatch-only `.github/workflows/mlgen-rollback.yml`."""

from __future__ import annotations

from typing import Any

from .render import render

__all__ = ["read", "render"]


def __getattr__(name: str) -> Any:
    # the reader parses YAML with ruamel (parity tests); compiling never needs it
    if name == "read":
        from .reader import read

        return read
    raise AttributeError(name)
