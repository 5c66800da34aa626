"""Jenkins backend: one declarative `Jenkinsfile` (see ../CONTRACT.md).

Python decides (model.py), the Jinja2 template lays out, groovy.py escapes and reads back.
"""

from __future__ import annotations

from functools import lru_cache

import jinja2

from mlgen.backends.common import ReadJob
from mlgen.backends.jenkins.groovy import Node, groovy_comment, groovy_sq, groovy_sq_lines, parse
from mlgen.backends.jenkins.model import pipeline
from mlgen.plan.ir import Plan

__all__ = ["render", "read", "groovy_sq"]

OUTPUT = "Jenkinsfile"


def groovy_args(args: tuple[tuple[str, str], ...]) -> str:
    """Arguments of a `when` condition: ` 'v'`, ` key: 'v', key2: 'w'`, or `()` for none."""
    if not args:
        return "()"
    return " " + ", ".join(f"{k}: {groovy_sq(v)}" if k else groovy_sq(v) for k, v in args)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's own cache of compiled templates (a private folder of the user's in the temp dir,
    keyed by the template's source): compiling the template took longer than rendering it."""
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mlgen.backends.jenkins", ""),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Groovy, not HTML: escaping is explicit, through the filters below
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        groovy_sq=groovy_sq, groovy_sq_lines=groovy_sq_lines, groovy_comment=groovy_comment, groovy_args=groovy_args
    )
    return env.get_template("Jenkinsfile.j2")


def render(plan: Plan) -> dict[str, str]:
    text = _template().render(p=pipeline(plan))
    return {OUTPUT: text.rstrip("\n") + "\n"}


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


def _read_stage(stage: Node) -> ReadJob:
    (name,) = stage.strings()
    parallel = stage.child("parallel")
    if parallel is None:
        return ReadJob(name=name, needs=None, commands=_sh_lines(stage))
    shards = parallel.children("stage")
    commands = {_sh_lines(s) for s in shards}
    if len(commands) != 1:
        raise ValueError(f"Jenkinsfile:{stage.line}: shards of {name!r} run different commands")
    return ReadJob(name=name, needs=None, commands=commands.pop(), shards=len(shards))


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
