"""GitHub Actions backend (see ../CONTRACT.md): the pipeline, `.github/workflows/mlgen.yml`, and,
when the plan has rollback jobs, the dispatch-only `.github/workflows/mlgen-rollback.yml`."""

from __future__ import annotations

from .reader import read
from .render import render

__all__ = ["read", "render"]
