"""Error corpus: every folder under tests/error_corpus/ is a bad project. `mlgen compile` (or the
arguments in args.txt) must exit 2, print exactly expected.txt on stderr, and write nothing.

`pytest --update-golden` rewrites expected.txt; review the diff."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlgen.cli import main

CORPUS = Path(__file__).resolve().parent.parent / "error_corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
META = {"expected.txt", "args.txt"}


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_bad_spec(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], update_golden: bool) -> None:
    src = CORPUS / case
    for f in src.iterdir():
        if f.name not in META:
            shutil.copy2(f, tmp_path / f.name)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    args_file = src / "args.txt"
    args = args_file.read_text().split("\n") if args_file.exists() else ["compile"]
    monkeypatch.chdir(tmp_path)

    rc = main([a for a in args if a])
    err = capsys.readouterr().err

    assert rc == 2, err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "files were written"
    if update_golden:
        (src / "expected.txt").write_text(err)
    assert err == (src / "expected.txt").read_text()


# ----------------------------------------------------------------- docs show the real output

ROOT = CORPUS.parent.parent


def _text_blocks(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [b.split("\n", 1)[1] for b in text.split("```text")[1:] for b in [b.split("```", 1)[0]] if "error[" in b]


def test_readme_shows_the_readme_example_output() -> None:
    """README's error block is the real stderr of tests/error_corpus/readme-example."""
    expected = (CORPUS / "readme-example" / "expected.txt").read_text()
    assert expected in _text_blocks(ROOT / "README.md")


def test_tutorial_error_is_part_of_the_readme_example_output() -> None:
    expected = (CORPUS / "readme-example" / "expected.txt").read_text()
    blocks = _text_blocks(ROOT / "docs" / "tutorial.md")
    assert blocks and all(b in expected for b in blocks)


# ---------------------------------------------- schema errors never hide the semantic ones

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlgen.errors import SpecError  # noqa: E402
from mlgen.spec.load import load_spec  # noqa: E402

_BROKEN_SPEC = """\
[project]
name = "demo"
seed = 1

[data]
path = "data/train.csv"
target = "y"
test_size = 0.2

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[evaluate]
metrics = ["accuracy"]
gates = { f1 = { min = 0.5 } }

[[stages]]
name = "a"
cmd = "python a.py"
needs = ["b"]
deps = ["data/raw.csv"]

[[stages]]
name = "b"
cmd = "python b.py"
needs = ["a"]
"""
# (line to delete or replace, schema error code it causes)
_SCHEMA_BREAKS = [
    ('name = "demo"\n', "", "E102"),
    ('path = "data/train.csv"\n', "", "E102"),
    ('target = "y"\n', "", "E102"),
    ('estimator = "sklearn.linear_model.LogisticRegression"\n', "", "E102"),
    ('cmd = "python a.py"\n', "", "E102"),
    ('cmd = "python b.py"\n', "", "E102"),
    ("seed = 1\n", 'seed = "one"\n', "E105"),
    ("test_size = 0.2\n", "test_size = 2\n", "E106"),
    ('deps = ["data/raw.csv"]\n', 'deps = ["/abs.csv"]\n', "E104"),
    ('deps = ["data/raw.csv"]\n', "deps = [3]\n", "E105"),
    ('name = "demo"\n', 'name = "demo"\nbogus = 1\n', "E101"),
    ('metrics = ["accuracy"]\n', "metrics = []\n", "E107"),
]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(range(len(_SCHEMA_BREAKS))), min_size=1, max_size=4, unique=True))
def test_schema_errors_never_hide_the_cycle_or_the_gate(tmp_path_factory: pytest.TempPathFactory, picks: list[int]) -> None:
    """Any mix of missing keys, wrong types and refused values: the cycle between the stages and
    the gate on a metric that is not computed are still reported, in the same run."""
    text, applied = _BROKEN_SPEC, []
    for i in picks:
        old, new, _ = _SCHEMA_BREAKS[i]
        if old in text:  # two breaks of one line: the first one wins
            text = text.replace(old, new, 1)
            applied.append(i)
    picks = applied
    root = tmp_path_factory.mktemp("spec")
    (root / "mlproject.toml").write_text(text)
    with pytest.raises(SpecError) as exc:
        load_spec(root / "mlproject.toml")
    codes = [d.code for d in exc.value.diagnostics]
    assert {_SCHEMA_BREAKS[i][2] for i in picks} <= set(codes), str(exc.value)
    assert "E202" in codes, str(exc.value)  # the cycle
    gate_hidden = any(_SCHEMA_BREAKS[i][1] == "metrics = []\n" for i in picks)  # its list was refused
    assert gate_hidden or ("E204", "evaluate.gates.f1") in [(d.code, d.path) for d in exc.value.diagnostics], str(exc.value)
    assert not any("placeholder" in d.message for d in exc.value.diagnostics), str(exc.value)
