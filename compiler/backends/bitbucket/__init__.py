"""Bitbucket Pipelines backend: `bitbucket-pipelines.yml`, plus `.mlgen/bitbucket/insights.py`
(the Code Insights poster of the review steps) when the plan has review jobs (see ../CONTRACT.md).
Opt-in: compiled only when `ci.providers` lists `bitbucket`."""

from __future__ import annotations

from mlgen.backends.bitbucket.reader import read
from mlgen.backends.bitbucket.render import render

__all__ = ["read", "render"]
