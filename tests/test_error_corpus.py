"""Error corpus: every folder under tests/error_corpus/ is a bad project. `mlgen compile` (or the
arguments in args.txt) must exit 2, print exactly expected.txt on stderr, and write nothing.

`pytest --update-golden` rewrites expected.txt; review the diff."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlgen.cli import main

CORPUS = Path(__file__).resolve().parent / "error_corpus"
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
