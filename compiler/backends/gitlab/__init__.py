"""GitLab CI backend: `.gitlab-ci.yml`, plus `.mlgen/gitlab/retrain.yml` and `no-retrain.yml`
(the child pipelines of scheduled retraining) when the plan has a monitor (see ../CONTRACT.md)."""

from __future__ import annotations

from mlgen.backends.gitlab.reader import read
from mlgen.backends.gitlab.render import render

__all__ = ["read", "render"]
