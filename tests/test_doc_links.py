"""No document in the repository points outside it: every relative link of every committed
Markdown file resolves to a file or folder of the repository, and no text names a path of the
machine it was written on. A newcomer with a clone has every page a page links to."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINK = re.compile(r"\]\(([^)\s]+)\)")
OUTSIDE_WORDS = re.compile(r"\.\./shared|/work/|DESIGN\.md")


def _markdown_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines() if line]


def _prose(text: str) -> str:
    """The page without code blocks and inline code (examples of other projects' files, regexes)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


@pytest.mark.parametrize("page", _markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_stays_inside_the_repository(page: Path) -> None:
    text = _prose(page.read_text(encoding="utf-8"))
    bad = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL or an anchor on the same page
        where = (page.parent / target.split("#", 1)[0]).resolve()
        if not where.is_relative_to(ROOT) or not where.exists():
            bad.append(target)
    assert not bad, f"{page.relative_to(ROOT)} links outside the repository or to nothing: {bad}"
    named = OUTSIDE_WORDS.findall(text)
    assert not named, f"{page.relative_to(ROOT)} names a document outside the repository: {named}"
