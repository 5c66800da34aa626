"""What GitLab CI refuses or evaluates in the strings of a spec (standard library only)."""

from __future__ import annotations

from mlgen.backends import Constraints

CONSTRAINTS = Constraints(
    outputs=(r"\.gitlab-ci\.yml",),  # the child pipelines live under .mlgen/gitlab/
    # Top-level keys GitLab reads as settings, not jobs ("pages" is a special Pages-publishing
    # job). A plan job with one of these names would silently stop being a job, so it is refused.
    reserved_job_names=frozenset({
        "after_script", "before_script", "cache", "default", "false", "image", "include",
        "nil", "pages", "services", "spec", "stages", "true", "types", "variables", "workflow",
    }),
    # `$[[ ]]` is input interpolation, expanded when the pipeline is created
    expression_openers=(("$[[", "GitLab input interpolation"),),
    # predefined variables (docs.gitlab.com, "Predefined CI/CD variables")
    env_prefixes=("CI_", "GITLAB_"),
)
