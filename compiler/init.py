"""`mlgen init`: a starter spec (first line `#:schema`, so editors check it) and its schema."""

from __future__ import annotations

import re
from pathlib import Path

from mlgen.schema import SCHEMA_FILE, packaged_schema

SCHEMA_REL = f".mlgen/{SCHEMA_FILE}"


def project_name(folder: Path) -> str:
    """A valid project name derived from the folder name."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.resolve().name).strip("-_")[:64]
    return name if name and name[0].isalnum() else "ml-project"


def starter_spec(name: str) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mlgen.templates", "init"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template("mlproject.toml.j2").render(name=name)


def init_files(folder: Path) -> dict[str, str]:
    return {"mlproject.toml": starter_spec(project_name(folder)), SCHEMA_REL: packaged_schema()}
