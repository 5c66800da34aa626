"""Per-feature fixtures of tests/backends/features/: finding them and compiling their specs.

Shared by tests/backends/test_features.py (fragments) and tests/test_golden_judges.py (every
compiled fixture passes the providers' judges). See tests/backends/features/README.md."""

from __future__ import annotations

import contextlib
import re
import shutil
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FEATURES = Path(__file__).resolve().parent.parent / "backends" / "features"
EXT = {"github": "yml", "gitlab": "yml", "jenkins": "groovy", "azure": "yml", "bitbucket": "yml"}
_FRAGMENT_LINE = re.compile(r"^# fragment ([a-z]+):(.*)$")
_FEATURE_TAG = re.compile(r"#\s*feature\s*$")


@dataclass(frozen=True)
class Fixture:
    name: str
    spec: str
    selectors: dict[str, tuple[str, ...]]  # provider -> selectors, in the order written

    @property
    def files_dir(self) -> Path:
        """Files the spec refers to (an estimator module, ...), copied beside it."""
        return FEATURES / f"{self.name}.files"

    def expected_path(self, provider: str) -> Path:
        return FEATURES / f"{self.name}.{provider}.{EXT[provider]}"

    def without_feature(self) -> str | None:
        """The spec minus its `# feature` lines; None when it has none (an always-on feature)."""
        kept = [ln for ln in self.spec.splitlines(keepends=True) if not _FEATURE_TAG.search(ln)]
        return None if len(kept) == len(self.spec.splitlines()) else "".join(kept)

    def providers(self) -> list[str]:
        """The providers the spec compiles for: `ci.providers` (the default ones when it says
        none), plus every provider it has `# fragment` lines for (how a fixture opts a provider
        that is not on by default in without listing it)."""
        return spec_providers(self.spec)


def spec_providers(spec: str) -> list[str]:
    """See `Fixture.providers`."""
    from mlgen import backends

    listed = list(tomllib.loads(spec).get("ci", {}).get("providers", backends.default_names()))
    tagged = [m[1] for line in spec.splitlines() if (m := _FRAGMENT_LINE.match(line))]
    return listed + [p for p in dict.fromkeys(tagged) if p not in listed]


def load(name: str) -> Fixture:
    spec = (FEATURES / f"{name}.toml").read_text(encoding="utf-8")
    selectors: dict[str, tuple[str, ...]] = {}
    for line in spec.splitlines():
        if m := _FRAGMENT_LINE.match(line):
            selectors[m[1]] = (*selectors.get(m[1], ()), *m[2].split())
    return Fixture(name, spec, selectors)


def fixtures() -> list[Fixture]:
    return [load(p.stem) for p in sorted(FEATURES.glob("*.toml"))]


@cache
def compile_spec(name: str, spec: str, workdir: Path) -> dict[str, str]:
    """Every generated file of fixture `name`'s `spec` (path -> text), compiled in `workdir` (cwd
    too) as a user would; the runtime bundle left out. Cached: one compile per folder and spec."""
    from mlgen.cli import main

    fixture_files = FEATURES / f"{name}.files"
    if fixture_files.is_dir():
        shutil.copytree(fixture_files, workdir, dirs_exist_ok=True)
    (workdir / "mlproject.toml").write_text(spec, encoding="utf-8")
    inputs = {p for p in workdir.rglob("*") if p.is_file()}
    with contextlib.chdir(workdir):
        chosen = [arg for p in spec_providers(spec) for arg in ("--provider", p)]
        rc = main(["compile", "--spec", str(workdir / "mlproject.toml"), "--out", str(workdir), *chosen])
    assert rc == 0, f"{name}: mlgen compile failed"
    generated = (p for p in sorted(workdir.rglob("*")) if p.is_file() and p not in inputs)
    return {
        rel: p.read_text(encoding="utf-8")
        for p in generated
        if not (rel := p.relative_to(workdir).as_posix()).startswith(".mlgen/runtime/")
    }
