"""Helpers shared by every backend: the generated-file header and safe YAML output."""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from mlgen_runtime.contract import Job, Plan, Triggers
# Every generated file carries this marker near the top; the writer refuses to overwrite a
# file without it (unless --force), so a hand-written pipeline is never lost.
from mlgen_runtime.contract import DO_NOT_EDIT, GENERATED_MARKER  # noqa: F401  (re-exported)


def header_lines(plan: Plan) -> list[str]:
    """The header, without comment prefix. No timestamps or versions: output must be stable."""
    return [
        f"{GENERATED_MARKER} from {plan.spec_path} - {DO_NOT_EDIT}.",
        "Change the spec and run `mlgen compile` instead.",
        f"spec sha256: {plan.spec_sha256}",
    ]


@dataclass(frozen=True)
class ReadJob:
    """What a reader recovers from a provider's file, for the parity tests."""

    name: str
    needs: tuple[str, ...] | None  # sorted; None where the provider has no needs (Jenkins runs stages in order)
    commands: tuple[str, ...]  # every shell line in order: Job.setup then Job.commands
    shards: int = 1
    # the produced artifact's paths, unescaped from the provider's patterns (Job.produces.paths)
    artifact_paths: tuple[str, ...] = ()
    # the files the stage cache is keyed on, unescaped (a subset of Job.cache_inputs, in order);
    # None where the provider keys no cache on files
    cache_files: tuple[str, ...] | None = None


# YAML 1.1 (GitLab's Ruby parser) and 1.2 both resolve some plain scalars to non-strings:
# booleans (yes/on/off/y/n), nulls, numbers (0o17, 1_000, 1:20, .5, 1e3), timestamps. A plain
# scalar is only emitted when it starts with a letter and is not one of the word literals;
# everything else is single-quoted so that it reaches the shell exactly as written.
_PLAIN_OK = re.compile(r"[A-Za-z][A-Za-z0-9_./ =,+@%-]*")
_YAML_WORDS = frozenset(
    "y n yes no on off true false null nan inf".split()
)


def yaml_str(s: str) -> Any:
    """Return `s` as a scalar that every YAML parser reads back as the same string: plain, or
    single-quoted (ruamel's SingleQuotedScalarString)."""
    if _PLAIN_OK.fullmatch(s) and s.lower() not in _YAML_WORDS and not s.endswith(" "):
        return s
    return SingleQuotedScalarString(s)


def _yaml() -> YAML:
    """ruamel's round-trip dumper as every generated file uses it: block style, mapping indent
    2, sequence indent 4 with offset 2 (`  - item`), and no folding of long commands."""
    yaml = YAML(typ="rt", pure=True)
    yaml.default_flow_style = False
    yaml.width = 1_000_000
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


_YAML = _yaml()
_YAML_LOCK = threading.Lock()  # a YAML instance keeps its emitter while it dumps: one dump at a time


def dump_yaml(data: Any, header: list[str]) -> str:
    """Dump `data` (insertion-ordered dicts, lists and ruamel's CommentedMap/CommentedSeq and
    scalar strings, comments set through their public methods) as YAML with a comment header."""
    buf = io.StringIO()
    with _YAML_LOCK:
        _YAML.dump(data, buf)
    body = buf.getvalue()
    head = "".join(f"# {line}\n" if line else "#\n" for line in header)
    return head + body


# Jobs that open the model registry (mlgen.plan.lower.REGISTRY_KINDS; a test keeps them equal):
# evaluate loads the champion, deploys and rollbacks move aliases. They read MLGEN_REGISTRY.
REGISTRY_KINDS = ("evaluate", "deploy", "rollback")
REGISTRY_VAR = "MLGEN_REGISTRY"  # the runtime's override of deploy.registry


def opens_registry(job: Job, plan: Plan) -> bool:
    """Whether the job reads the registry (only plans with a deploy have one)."""
    return job.kind in REGISTRY_KINDS and any(j.kind == "deploy" for j in plan.jobs)


OBJECT_STORE_CREDENTIALS = (
    "object-storage credentials reach only the registry jobs: list them in deploy.secrets"
    " (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AZURE_STORAGE_CONNECTION_STRING,"
    " GOOGLE_APPLICATION_CREDENTIALS), or better use short-lived OIDC credentials (docs/providers.md)."
)


def registry_note(plan: Plan, where: str) -> tuple[str, ...]:
    """The header line saying where MLGEN_REGISTRY comes from (`where`), for plans with deploys."""
    if not any(j.kind == "deploy" for j in plan.jobs):
        return ()
    return (
        f"Registry: set {REGISTRY_VAR}, {where}, to an object-storage URL (s3://bucket/prefix, gs://..., az://container/prefix)"
        " or an absolute path that outlives the jobs; unset, the runtime uses deploy.registry (a folder"
        " there lives in the job's checkout, which is discarded).",
        "Registry: " + OBJECT_STORE_CREDENTIALS,
    )


def release_branches(triggers: Triggers) -> tuple[str, ...]:
    """Branches whose pushes are release builds by the usual convention (and zizmor's
    cache-poisoning audit): their name contains "release". Release builds start clean."""
    return tuple(b for b in triggers.branches if "release" in b.lower())
