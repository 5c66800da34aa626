"""End-to-end spec folders under tests/golden/: each holds a spec (plus any files it refers to).

- A *golden* case also holds `expected/`, every file `mlgen compile` writes for it, compared byte
  for byte (tests/test_golden.py).
- A *scenario* has no `expected/`: the tests compile it into a temporary folder and check what
  they check of every spec there (judges, parity, plan.json round trip, schema, ruamel range).

The tests find the folders themselves; see tests/golden/README.md."""

from __future__ import annotations

import contextlib
import shutil
import tomllib
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
EXPECTED = "expected"


def _folders() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def cases() -> list[str]:
    """The byte goldens: folders with `expected/`."""
    return [c for c in _folders() if (GOLDEN / c / EXPECTED).is_dir()]


def scenarios() -> list[str]:
    """The folders without `expected/`: compiled by the tests, never compared byte for byte."""
    return [c for c in _folders() if not (GOLDEN / c / EXPECTED).is_dir()]


def all_specs() -> list[str]:
    """Goldens and scenarios: every end-to-end spec folder."""
    return _folders()


def spec_name(case: str) -> str:
    return "mlproject.toml" if (GOLDEN / case / "mlproject.toml").exists() else "pyproject.toml"


def providers(case: str) -> list[str]:
    """The providers the spec compiles for (`ci.providers`; the default ones when it says none)."""
    from mlgen import backends

    doc = tomllib.loads((GOLDEN / case / spec_name(case)).read_text(encoding="utf-8"))
    if spec_name(case) == "pyproject.toml":
        doc = doc["tool"]["mlgen"]
    return list(doc.get("ci", {}).get("providers", backends.default_names()))


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


def compile_into(case: str, dest: Path) -> dict[str, bytes]:
    """Compile the case inside `dest` as tests/test_golden.py does (cwd `dest`); return what it wrote."""
    from mlgen.cli import main

    dest.mkdir(parents=True, exist_ok=True)
    spec = copy_inputs(case, dest)
    with contextlib.chdir(dest):
        rc = main(["compile", "-q", "--spec", spec.name, "--out", "."])
    assert rc == 0, f"compile failed for {case}"
    return tree(dest, exclude=inputs(case))


def outputs(case: str, work: Path) -> dict[str, bytes]:
    """A golden's expected files, or a scenario compiled into `work` (an empty folder)."""
    return expected(case) if (GOLDEN / case / EXPECTED).is_dir() else compile_into(case, work)


# The bundled runtime is the same for every case; tests/test_bundle.py checks it once instead of
# a copy in every golden folder.
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
