"""GitHub Actions backend: one workflow, `.github/workflows/mlgen.yml` (see ../CONTRACT.md)."""

from __future__ import annotations

from .reader import read
from .render import render

__all__ = ["read", "render"]
