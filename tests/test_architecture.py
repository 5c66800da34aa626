"""ARCHITECTURE.md stays true: it lists every module of compiler/ and runtime/, and no other."""

from __future__ import annotations

import re

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
