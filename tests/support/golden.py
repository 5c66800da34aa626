"""Golden cases: each folder under tests/golden/ holds a spec (plus any files it refers to) and
`expected/`, every file `mlgen compile` writes for it. The tests find the folders themselves."""

from __future__ import annotations

import shutil
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
EXPECTED = "expected"


def cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def spec_name(case: str) -> str:
    return "mlproject.toml" if (GOLDEN / case / "mlproject.toml").exists() else "pyproject.toml"


def copy_inputs(case: str, dest: Path) -> Path:
    """Copy the case's inputs (everything but expected/) into `dest`; return the spec path."""
    src = GOLDEN / case
    for item in src.iterdir():
        if item.name == EXPECTED:
            continue
        if item.is_dir():
            shutil.copytree(item, dest / item.name)
        else:
            shutil.copy2(item, dest / item.name)
    return dest / spec_name(case)


# The bundled runtime is the same for every case; tests/test_bundle.py checks it once instead of
# nine copies in the golden folders.
BUNDLE = ".mlgen/runtime/"


def tree(root: Path, exclude: set[str] = frozenset()) -> dict[str, bytes]:  # type: ignore[assignment]
    """Every file under `root` as {posix relative path: bytes}, without the runtime bundle."""
    return {
        rel: p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and (rel := p.relative_to(root).as_posix()) not in exclude and not rel.startswith(BUNDLE)
    }


def inputs(case: str) -> set[str]:
    src = GOLDEN / case
    return {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file() and EXPECTED not in p.relative_to(src).parts[:1]}


def expected(case: str) -> dict[str, bytes]:
    return tree(GOLDEN / case / EXPECTED)


def write_expected(case: str, files: dict[str, bytes]) -> None:
    out = GOLDEN / case / EXPECTED
    shutil.rmtree(out, ignore_errors=True)
    for rel, data in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
