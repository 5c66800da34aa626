"""What Bitbucket Pipelines refuses or evaluates in the strings of a spec (standard library only).

Bitbucket hands `script` lines to the shell as written (it has no template or macro syntax of its
own in them); it expands `$VAR` only in a few YAML places mlgen never fills with user text (image
credentials, pipe variables), so no opener is refused. Paths are checked in paths.py."""

from __future__ import annotations

from mlgen.backends import Constraints

CONSTRAINTS = Constraints(
    # the Code Insights poster lives under .mlgen/bitbucket/
    outputs=(r"bitbucket-pipelines\.yml",),
    # added after GitHub, GitLab and Jenkins: a user opts in by listing it in ci.providers
    default=False,
    # default variables (support.atlassian.com, "Variables and secrets"): BITBUCKET_* and CI
    env_prefixes=("BITBUCKET_",),
    env_names=frozenset({"CI", "DOCKER_HOST", "PIPELINES_JWT_TOKEN"}),
)
