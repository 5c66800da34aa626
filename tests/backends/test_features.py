"""Per-feature fixtures, found as jenkins-job-builder finds its scenarios: every
tests/backends/features/<feature>.toml is a minimal spec with one feature; beside it, per provider,
the fragment of the generated file that the feature produces (<feature>.github.yml,
<feature>.gitlab.yml, <feature>.jenkins.groovy). The spec's `# fragment <provider>: ...` comment
lines say which parts (selectors: tests/support/fragments.py); lines ending in `# feature` are the
feature itself. See tests/backends/features/README.md.

`pytest --update-golden` rewrites the fragments; review the diff before committing."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from tests.support import fragments
from tests.support.features import FEATURES, Fixture, compile_spec, fixtures

ALL = fixtures()
PAIRS = [pytest.param(f, p, id=f"{f.name}-{p}") for f in ALL for p in f.selectors]


_WORK: dict[tuple[str, str], Path] = {}  # one folder per (fixture, variant): compiled once per session


def compiled(fixture: Fixture, variant: str, tmp_path_factory: pytest.TempPathFactory,
             monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The fixture's generated files: variant "spec" as written, "without" minus its `# feature` lines."""
    spec = fixture.spec if variant == "spec" else fixture.without_feature()
    assert spec is not None
    if (fixture.name, variant) not in _WORK:
        _WORK[(fixture.name, variant)] = tmp_path_factory.mktemp(f"{fixture.name}-{variant}")
    workdir = _WORK[(fixture.name, variant)]
    monkeypatch.chdir(workdir)
    return compile_spec(fixture.name, spec, workdir)


def _diff(want: str, got: str, path: Path) -> str:
    lines = difflib.unified_diff(want.splitlines(keepends=True), got.splitlines(keepends=True),
                                 fromfile=str(path.relative_to(FEATURES.parent.parent.parent)), tofile="generated")
    return "".join(lines)


def test_found_fixtures() -> None:
    assert len(ALL) >= 17, [f.name for f in ALL]
    for f in ALL:
        assert f.selectors, f"{f.name}.toml has no `# fragment <provider>: ...` line"


def test_no_orphan_fragments(update_golden: bool) -> None:
    """Every fragment file belongs to a fixture's provider line (a renamed feature leaves none behind)."""
    wanted = {f.expected_path(p) for f in ALL for p in f.selectors}
    orphans = sorted(p for p in FEATURES.glob("*.*.*") if p.suffix in (".yml", ".groovy") and p not in wanted)
    if update_golden:
        for p in orphans:
            p.unlink()
        return
    assert not orphans, f"fragments without a `# fragment` line in their spec: {[p.name for p in orphans]}"


@pytest.mark.parametrize(("fixture", "provider"), PAIRS)
def test_feature_fragment(fixture: Fixture, provider: str, update_golden: bool,
                          tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    files = compiled(fixture, "spec", tmp_path_factory, monkeypatch)
    got = fragments.extract(provider, fixture.selectors[provider], files)
    path = fixture.expected_path(provider)
    if update_golden:
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"{path.name} is missing: run pytest --update-golden and review it"
    want = path.read_text(encoding="utf-8")
    assert got == want, f"{fixture.name} on {provider} differs (pytest --update-golden rewrites it):\n" + _diff(want, got, path)


WITH_FEATURE_LINES = [p for p in PAIRS if p.values[0].without_feature() is not None]


@pytest.mark.parametrize(("fixture", "provider"), WITH_FEATURE_LINES)
def test_fragment_needs_the_feature(fixture: Fixture, provider: str, tmp_path_factory: pytest.TempPathFactory,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Without its `# feature` lines the spec renders another fragment, or none: the fragment shows the feature."""
    with_it = fragments.extract(provider, fixture.selectors[provider], compiled(fixture, "spec", tmp_path_factory, monkeypatch))
    files = compiled(fixture, "without", tmp_path_factory, monkeypatch)
    try:
        without = fragments.extract(provider, fixture.selectors[provider], files)
    except fragments.Missing:
        return
    assert without != with_it, f"{fixture.name} on {provider}: the fragment is the same without the `# feature` lines"


def test_extractor_matches_braces_outside_strings_and_names_what_is_missing() -> None:
    jenkinsfile = "pipeline {\n    stages {\n        // one\n        stage('a') {\n            steps { sh 'echo }' }\n        }\n    }\n}\n"
    assert fragments.extract("jenkins", ["stage:a"], {"Jenkinsfile": jenkinsfile}) == (
        "// one\nstage('a') {\n    steps { sh 'echo }' }\n}\n"
    )
    with pytest.raises(fragments.Missing, match="stage:b"):
        fragments.extract("jenkins", ["stage:b"], {"Jenkinsfile": jenkinsfile})
    with pytest.raises(fragments.Missing, match="no key 'c' at a"):
        fragments.extract("gitlab", ["a.c"], {".gitlab-ci.yml": "a:\n  b: 1\n"})
