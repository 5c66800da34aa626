"""Jenkins backend: one declarative `Jenkinsfile` (see ../CONTRACT.md).

Python decides (model.py), render.py lays out, groovy.py escapes and reads back.
"""

from __future__ import annotations

from mlgen.backends.common import ReadJob
from mlgen.backends.jenkins.groovy import Node, groovy_sq, parse
from mlgen.backends.jenkins.render import OUTPUT, render

__all__ = ["render", "read", "groovy_sq"]


# --------------------------------------------------------------------------- reader


def _sh_lines(stage: Node) -> tuple[str, ...]:
    steps = stage.child("steps")
    if steps is None:
        raise ValueError(f"Jenkinsfile:{stage.line}: stage without steps")
    lines: list[str] = []
    for step in steps.body or []:
        if step.name == "sh":
            (line,) = step.strings()
            lines.append(line)
    return tuple(lines)


def _stashed(stage: Node) -> tuple[str, ...]:
    """The paths of the stage's `stash includes:` (each written as `<path>/**`)."""
    steps = stage.child("steps")
    for step in steps.body or [] if steps is not None else []:
        if step.name == "stash":
            _, includes = step.strings()
            return tuple(p.removesuffix("/**") for p in includes.split(","))
    return ()


def _read_stage(stage: Node) -> ReadJob:
    (name,) = stage.strings()
    parallel = stage.child("parallel")
    if parallel is None:
        return ReadJob(name=name, needs=None, commands=_sh_lines(stage), artifact_paths=_stashed(stage))
    shards = parallel.children("stage")
    commands = {_sh_lines(s) for s in shards}
    if len(commands) != 1:
        raise ValueError(f"Jenkinsfile:{stage.line}: shards of {name!r} run different commands")
    return ReadJob(name=name, needs=None, commands=commands.pop(), shards=len(shards),
                   artifact_paths=_stashed(shards[0]))


def read(files: dict[str, str]) -> list[ReadJob]:
    """Jobs back from the generated Jenkinsfile: one per top-level stage (shards folded)."""
    top = parse(files[OUTPUT])
    pipelines = [n for n in top if n.name == "pipeline"]
    if len(pipelines) != 1:
        raise ValueError(f"Jenkinsfile: expected one pipeline block, found {len(pipelines)}")
    stages = pipelines[0].child("stages")
    if stages is None:
        raise ValueError("Jenkinsfile: pipeline has no stages")
    return [_read_stage(s) for s in stages.children("stage")]
