"""GitLab CI backend: one `.gitlab-ci.yml` (see ../CONTRACT.md)."""

from __future__ import annotations

from mlgen.backends.gitlab.reader import read
from mlgen.backends.gitlab.render import render

__all__ = ["read", "render"]
