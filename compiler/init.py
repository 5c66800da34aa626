"""`mlgen init`: a starter project that runs as written.

A starter is a folder `templates/init/<name>/` of Jinja2 templates (`*.j2`, rendered with
StrictUndefined): a spec (first line `#:schema`, so editors check it; it extends the shared
`init/mlproject.toml.j2`) and the tiny scripts its `get-data` stage runs to make example data
from a dataset bundled with scikit-learn (no download). `mlgen run` works right after `mlgen init`.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from mlgen.initcheck import preflight
from mlgen.schema import SCHEMA_FILE, packaged_schema

if TYPE_CHECKING:
    import jinja2

SCHEMA_REL = f".mlgen/{SCHEMA_FILE}"
SPEC_FILE = "mlproject.toml"

# name -> one line for `mlgen init --help` and the unknown-template error; the first is the default
TEMPLATES: dict[str, str] = {
    "classification": "binary classification of scikit-learn's breast-cancer set",
    "regression": "regression on scikit-learn's diabetes set",
    "custom-stages": "wine classification with DVC-style get-data and featurize stages, sharded search",
}
DEFAULT_TEMPLATE = "classification"


def project_name(folder: Path) -> str:
    """A valid project name derived from the folder name."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.resolve().name).strip("-_")[:64]
    return name if name and name[0].isalnum() else "ml-project"


@cache
def _env() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mlgen.templates", "init"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        autoescape=False,
    )
    env.filters["toml_string"] = lambda text: json.dumps(str(text), ensure_ascii=False)  # JSON strings are TOML strings
    return env


def unknown_template_message(template: str) -> str:
    listing = "; ".join(f"{name} ({about})" for name, about in TEMPLATES.items())
    return f"unknown template `{template}`; expected one of: {listing}"


def starter_files(template: str, name: str) -> dict[str, str]:
    """Relative path -> text of every file of a starter (the schema excepted)."""
    if template not in TEMPLATES:
        raise ValueError(unknown_template_message(template))
    env = _env()
    prefix = f"{template}/"
    out = {}
    for source in sorted(env.list_templates(extensions=["j2"])):
        if source.startswith(prefix):
            rel = source[len(prefix):].removesuffix(".j2")
            out[rel] = env.get_template(source).render(name=name, template=template)
    assert SPEC_FILE in out, f"starter `{template}` has no {SPEC_FILE}.j2"
    return out


def starter_spec(name: str, template: str = DEFAULT_TEMPLATE) -> str:
    return starter_files(template, name)[SPEC_FILE]


def init_files(folder: Path, template: str = DEFAULT_TEMPLATE) -> dict[str, str]:
    """Every file `mlgen init` writes into `folder`: the starter's files and the schema.
    Raises UsageError when any of them cannot be written (before anything is)."""
    files = {**starter_files(template, project_name(folder)), SCHEMA_REL: packaged_schema()}
    preflight(folder, files)
    return files


def data_files(folder: Path, data: Path, target: str) -> dict[str, str]:
    """What `mlgen init --data PATH --target COLUMN` writes: a spec whose data contract is
    inferred from the file (init_data.py; needs the runtime's packages), and the schema."""
    from mlgen.init_data import infer

    preflight(folder, {SPEC_FILE: "", SCHEMA_REL: ""})  # before reading the data: a wrong folder fails fast
    inferred = infer(data, target, folder)
    spec = _env().get_template("from-data.toml.j2").render(
        name=project_name(folder), template="from-data", data=inferred, min_rows=min(inferred.rows, 100))
    files = {SPEC_FILE: spec, SCHEMA_REL: packaged_schema()}
    preflight(folder, files)
    return files


def user_files(files: dict[str, str]) -> list[str]:
    """The files init writes that belong to the user afterwards (never replaced without --force)."""
    return sorted(rel for rel in files if rel != SCHEMA_REL)
