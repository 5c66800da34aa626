"""Golden cases: compile each tests/golden/<case>/ spec that has `expected/` and compare every
output byte for byte; every scenario (no `expected/`) still compiles, recompiles as a no-op and
gives the same bytes under any hash seed.

`pytest --update-golden` rewrites the expectations; review the diff before committing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlgen.cli import main
from tests.support import golden

CASES = golden.cases()
ALL = golden.all_specs()


def compile_case(case: str, work: Path) -> dict[str, bytes]:
    spec = golden.copy_inputs(case, work)
    rc = main(["compile", "--spec", str(spec), "--out", str(work)])
    assert rc == 0, f"compile failed for {case}"
    return golden.tree(work, exclude=golden.inputs(case))


def test_three_or_four_goldens_and_many_specs() -> None:
    """Issue 14: a few end-to-end byte goldens; features have their fragments (tests/backends/features/)."""
    assert 3 <= len(CASES) <= 4, CASES
    assert len(ALL) >= 8, ALL


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, tmp_path: Path, update_golden: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    got = compile_case(case, tmp_path)
    if update_golden:
        golden.write_expected(case, got)
    want = golden.expected(case)
    assert sorted(got) == sorted(want), "a different set of files was generated"
    for rel in want:
        assert got[rel].decode() == want[rel].decode(), f"{case}/{rel} differs (run pytest --update-golden and review)"


@pytest.mark.parametrize("case", ALL)
def test_recompile_is_a_noop(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = compile_case(case, tmp_path)
    assert main(["compile", "--spec", str(tmp_path / golden.spec_name(case)), "--check"]) == 0
    assert golden.tree(tmp_path, exclude=golden.inputs(case)) == first


_ALL_CASES_SCRIPT = """
import json, sys, tempfile, pathlib
from mlgen.cli import main
from tests.support import golden
out = {}
for case in golden.all_specs():
    with tempfile.TemporaryDirectory() as d:
        spec = golden.copy_inputs(case, pathlib.Path(d))
        assert main(["compile", "--spec", str(spec), "--out", d]) == 0
        t = golden.tree(pathlib.Path(d), exclude=golden.inputs(case))
        out[case] = {k: v.decode() for k, v in t.items()}
print(json.dumps(out, sort_keys=True))
"""


@pytest.mark.parametrize("seed", ["0", "4242"])
def test_same_bytes_across_hash_seeds(seed: str, tmp_path: Path) -> None:
    """A fresh interpreter with another PYTHONHASHSEED must produce the golden bytes, and each
    scenario's bytes as this interpreter compiles them."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONHASHSEED": seed}
    res = subprocess.run(
        [sys.executable, "-c", _ALL_CASES_SCRIPT], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    got = json.loads(res.stdout.splitlines()[-1])
    assert sorted(got) == ALL
    for case in ALL:
        want = {k: v.decode() for k, v in golden.outputs(case, tmp_path / case).items()}
        assert got[case] == want, f"{case} differs under PYTHONHASHSEED={seed}"
