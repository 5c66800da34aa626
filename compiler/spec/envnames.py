"""Environment variable names a spec secret may not take: the CI providers' own, and those that
change how a job, its shell or its interpreters run.

A secret reaches a job as an environment variable of the same name, so a secret called `PATH`
or `LD_PRELOAD` would replace the job's own (which commands run, which library is loaded into
every process). The names come from the documentation of what every generated job runs:

- CI providers: each backend's `constraints.py` names its own (`env_prefixes`: GitHub's
  `GITHUB_*`, GitLab's `CI_*`, Jenkins' `JENKINS_*`, ...; `env_names`, `env_tool_prefixes`: what
  its jobs and its own steps read, such as Jenkins' `WORKSPACE` or node's `NODE_*`); a secret
  names a repository-wide setting, so the names of every registered provider are refused, not
  only those in `ci.providers`. mlgen reads `MLGEN_*`.
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
- The proxy and certificate variables curl, git, pip and requests all honour.
"""

from __future__ import annotations

from functools import cache
from typing import Any

OWN_PREFIXES = ("MLGEN_",)  # mlgen's own; the providers' come from their constraints
_RUN_PREFIXES = ("BASH_", "PYTHON", "LD_", "GIT_", "PIP_", "MALLOC_", "LC_")

_RUN_NAMES = frozenset((
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
))


@cache
def _tables() -> tuple[tuple[str, ...], tuple[str, ...], frozenset[str]]:
    """(own prefixes, prefixes that change how a job runs, names that do): mlgen's and the
    shell's above, plus those of every registered provider."""
    from mlgen import backends

    own, run, names = list(OWN_PREFIXES), list(_RUN_PREFIXES), set(_RUN_NAMES)
    for provider in backends.names():
        c = backends.constraints(provider)
        own += [p for p in c.env_prefixes if p not in own]
        run += [p for p in c.env_tool_prefixes if p not in run]
        names |= c.env_names
    return tuple(own), tuple(own) + tuple(run), frozenset(names)


def __getattr__(name: str) -> Any:
    # the whole tables (the tests draw names from them), computed from the registry on first use
    if name == "RESERVED_PREFIXES":
        return _tables()[1]
    if name == "RESERVED_NAMES":
        return _tables()[2]
    raise AttributeError(name)


def reserved(name: str) -> str | None:
    """Why `name` may not be a secret's name, or None when it may."""
    own, prefixes, names = _tables()
    if name.startswith(own):
        return "is a CI provider's own variable (or mlgen's)"
    if name in names or name.startswith(prefixes):
        return "would replace a variable that changes how the job, its shell or its interpreters run"
    return None
