"""What Azure Pipelines refuses or evaluates in the strings of a spec (standard library only)."""

from __future__ import annotations

from mlgen.backends import Constraints

CONSTRAINTS = Constraints(
    outputs=(r"azure-pipelines\.yml",),
    # stage and job ids: "may only contain alphanumeric characters and '_' and may not start with
    # a number" (learn.microsoft.com, YAML schema, stages.stage / jobs.job); the renderer writes a
    # stage name's `-` as `_` (the display name keeps the name), so a leading digit is what is left
    job_id_pattern=r"[A-Za-z_][A-Za-z0-9_-]*",
    job_id_problem=("starts with a digit", "stage names become Azure stage ids; start it with a letter"),
    # Azure expands these anywhere in the file, `script:` lines included, before the shell runs:
    # `$(name)` macros at run time, `${{ }}` template expressions when the run is created,
    # `$[ ]` runtime expressions in variables (learn.microsoft.com, "Define variables").
    # None has an escape, so no user string may hold one.
    expression_openers=(
        ("$(", "Azure Pipelines macro"),
        ("${{", "Azure Pipelines template expression"),
        ("$[", "Azure Pipelines runtime expression"),
    ),
    # The agent's predefined variables (learn.microsoft.com, "Predefined variables") reach every
    # step as environment variables of these names: AGENT_*, BUILD_*, SYSTEM_*, ... and TF_BUILD.
    env_prefixes=("AGENT_", "BUILD_", "SYSTEM_", "PIPELINE_", "ENVIRONMENT_", "RESOURCES_", "STRATEGY_"),
    env_names=frozenset({"TF_BUILD", "ENDPOINT_URL_SYSTEMVSSCONNECTION"}),
    # Azure is opt-in: listed in `ci.providers`, never written into a repository by an upgrade
    default=False,
)
