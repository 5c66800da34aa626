"""ARCHITECTURE.md stays true: it lists every module of compiler/ and runtime/, and no other."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from tests.conftest import ROOT


def test_architecture_lists_every_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `((?:compiler|runtime)/[^`]+\.py)` \|", text, re.M))
    present = {
        p.relative_to(ROOT).as_posix()
        for top in ("compiler", "runtime")
        for p in (ROOT / top).rglob("*.py")
        if "__pycache__" not in p.parts and p.name != "__main__.py"
    }
    assert not present - listed, f"add to ARCHITECTURE.md: {sorted(present - listed)}"
    assert not listed - present, f"ARCHITECTURE.md names modules that do not exist: {sorted(listed - present)}"


def _top_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_runtime_imports_none_of_the_compilers_libraries() -> None:
    """The bundled runtime runs in a CI job that installed only its own requirements."""
    compiler_only = {"mlgen", "pydantic", "jinja2", "typer", "click", "rich", "ruamel"}
    bad = {p.name: sorted(_top_imports(p) & compiler_only) for p in sorted((ROOT / "runtime").glob("*.py"))}
    assert not any(bad.values()), {k: v for k, v in bad.items() if v}


def test_every_package_of_the_compiler_is_in_the_wheel() -> None:
    """setuptools lists packages by name: a backend folder missing from pyproject.toml would be
    left out of the wheel while every test in the checkout still passes."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {
        "mlgen" + "".join("." + part for part in p.parent.relative_to(ROOT / "compiler").parts)
        for p in (ROOT / "compiler").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert not found - listed, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"
