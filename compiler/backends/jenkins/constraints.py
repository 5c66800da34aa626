"""What Jenkins refuses or evaluates in the strings of a spec (standard library only).

Every user string is a single-quoted Groovy literal (never a GString), so nothing in it is
evaluated: no expression openers."""

from __future__ import annotations

from mlgen.backends import Constraints

CONSTRAINTS = Constraints(
    outputs=(r"Jenkinsfile",),
    shard_job_names=True,  # a sharded job's parallel stages are named `<job>-<i>`
    # jenkins.io, "Using environment variables"; agents run a JVM (JAVA_TOOL_OPTIONS, ...)
    env_prefixes=("JENKINS_",),
    env_names=frozenset((
        "WORKSPACE", "EXECUTOR_NUMBER", "BRANCH_NAME", "TAG_NAME", "CHANGE_ID", "BUILD_ID", "BUILD_NUMBER",
        "BUILD_TAG", "BUILD_URL", "BUILD_DISPLAY_NAME", "JOB_NAME", "JOB_BASE_NAME", "JOB_URL",
    )),
    env_tool_prefixes=("JAVA_", "_JAVA_", "JDK_"),
)
