"""Azure Pipelines backend: `azure-pipelines.yml` (see ../CONTRACT.md). Opt-in: a spec lists
`azure` in `ci.providers`."""

from __future__ import annotations

from mlgen.backends.azure.reader import read
from mlgen.backends.azure.render import render

__all__ = ["read", "render"]
