"""What GitHub Actions refuses or evaluates in the strings of a spec (standard library only)."""

from __future__ import annotations

from mlgen.backends import Constraints

CONSTRAINTS = Constraints(
    outputs=(r"\.github/workflows/mlgen.*\.yml",),
    # job ids: "must start with a letter or `_` and contain only alphanumeric characters, `-`,
    # or `_`" (docs.github.com, workflow syntax, jobs.<job_id>); the spec's name pattern already
    # allows only letters, digits, `_` and `-`, so a leading digit is the one way to miss it
    job_id_pattern=r"[A-Za-z_][A-Za-z0-9_-]*",
    job_id_problem=("starts with a digit", "stage names become job ids; start it with a letter"),
    # `${{ }}` is evaluated anywhere in a workflow, `run:` lines included, before the shell runs
    expression_openers=(("${{", "GitHub expression"),),
    # GitHub refuses secrets named GITHUB_* and sets RUNNER_*/ACTIONS_* (docs.github.com,
    # "Variables reference"); its JavaScript actions run on node, which reads NODE_*
    env_prefixes=("GITHUB_", "RUNNER_", "ACTIONS_"),
    env_tool_prefixes=("NODE_",),
)
