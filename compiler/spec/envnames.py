"""Environment variable names a spec secret may not take: the CI providers' own, and those that
change how a job, its shell or its interpreters run.

A secret reaches a job as an environment variable of the same name, so a secret called `PATH`
or `LD_PRELOAD` would replace the job's own (which commands run, which library is loaded into
every process). The names come from the documentation of what every generated job runs:

- CI providers: GitHub refuses secrets named `GITHUB_*` and sets `RUNNER_*`/`ACTIONS_*`
  (docs.github.com, "Variables reference"); GitLab's predefined variables are `CI_*`, `GITLAB_*`
  (docs.gitlab.com, "Predefined CI/CD variables"); Jenkins sets `JENKINS_*`, `BUILD_*`, `JOB_*`,
  `BUILD_NUMBER`, `WORKSPACE`, ... (jenkins.io, "Using environment variables"); mlgen reads `MLGEN_*`.
- bash(1), "Shell Variables", and POSIX sh: the variables the shell reads at start or for every
  command (`BASH_ENV`/`ENV` run a file first, `SHELLOPTS`/`BASHOPTS` set options, `IFS` splits
  words, `PATH`/`CDPATH` find commands and folders, `PS4` runs under `set -x`, ...).
- python(1), "Environment variables": every `PYTHON*` name (`PYTHONPATH`, `PYTHONHOME`,
  `PYTHONSTARTUP`, `PYTHONWARNINGS`, `PYTHON_GIL`, ...) is the interpreter's.
- ld.so(8): every `LD_*` name, and the variables it removes in secure-execution mode
  (`GCONV_PATH`, `LOCPATH`, `MALLOC_TRACE`, `NLSPATH`, `RES_OPTIONS`, `TMPDIR`, ...);
  glibc tunables (`GLIBC_TUNABLES`, `MALLOC_*`).
- git(1), "Environment Variables": every `GIT_*` name (`GIT_DIR`, `GIT_SSH_COMMAND`,
  `GIT_CONFIG_COUNT`, ...).
- pip's configuration ("Environment Variables"): every `PIP_*` name is an option
  (`PIP_INDEX_URL` chooses where packages come from).
- What the providers' own steps run: node (`NODE_OPTIONS`, `NODE_PATH`) for GitHub actions, the
  JVM (`JAVA_TOOL_OPTIONS`, `_JAVA_OPTIONS`, `JDK_JAVA_OPTIONS`) for Jenkins agents, and the
  proxy and certificate variables curl, git, pip and requests all honour.
"""

from __future__ import annotations

RESERVED_PREFIXES = (
    "GITHUB_", "RUNNER_", "ACTIONS_", "CI_", "GITLAB_", "JENKINS_", "MLGEN_",
    "BASH_", "PYTHON", "LD_", "GIT_", "PIP_", "MALLOC_", "LC_", "NODE_", "JAVA_", "_JAVA_", "JDK_",
)

RESERVED_NAMES = frozenset((
    # POSIX sh and bash
    "BASHOPTS", "BASH_ENV", "CDPATH", "ENV", "EXECIGNORE", "FCEDIT", "GLOBIGNORE", "HISTFILE", "HOME",
    "IFS", "INPUTRC", "MAIL", "MAILPATH", "OLDPWD", "OPTARG", "OPTERR", "OPTIND", "PATH", "POSIXLY_CORRECT",
    "PPID", "PROMPT_COMMAND", "PS1", "PS2", "PS3", "PS4", "PWD", "SHELL", "SHELLOPTS", "SHLVL", "TMOUT",
    "TERM", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TZDIR", "TMPDIR", "TMP", "TEMP", "EDITOR", "PAGER",
    # ld.so(8) secure-execution list and glibc
    "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "NIS_PATH",
    "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS",
    # proxies and certificates (curl, git, pip, requests, OpenSSL)
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "FTP_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "CURL_HOME", "OPENSSL_CONF", "OPENSSL_MODULES", "SSH_ASKPASS",
    "VIRTUAL_ENV", "CONDA_PREFIX",
    # Jenkins' own (jenkins.io "Using environment variables")
    "WORKSPACE", "EXECUTOR_NUMBER", "BRANCH_NAME", "TAG_NAME", "CHANGE_ID", "BUILD_ID", "BUILD_NUMBER",
    "BUILD_TAG", "BUILD_URL", "BUILD_DISPLAY_NAME", "JOB_NAME", "JOB_BASE_NAME", "JOB_URL",
))


def reserved(name: str) -> str | None:
    """Why `name` may not be a secret's name, or None when it may."""
    if name.startswith(("GITHUB_", "CI_", "GITLAB_", "RUNNER_", "ACTIONS_", "JENKINS_", "MLGEN_")):
        return "is a CI provider's own variable (or mlgen's)"
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        return "would replace a variable that changes how the job, its shell or its interpreters run"
    return None
