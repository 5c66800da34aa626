"""A damaged `.mlgen/cache/run.json` (issue 13, item 11) is a cold cache, whatever is in it:
invalid JSON, JSON of another shape (lists, strings, numbers), or the right outer shape with
wrong types inside. `mlgen run` runs (exit 0, no error line), and the next run is cached again."""

from __future__ import annotations

import io
import json
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgen.cli import main
from mlgen.localrun import CACHE_FILE, run_plan
from tests.test_localrun import SPEC

_TMP = tempfile.TemporaryDirectory()
ROOT = Path(_TMP.name)
(ROOT / "mlproject.toml").write_text(SPEC)
(ROOT / "src.txt").write_text("a\nb\n")
assert main(["compile", "-q", "--spec", str(ROOT / "mlproject.toml")]) == 0

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=10)
NAMES = st.sampled_from(["gen", "use", "boom", str(ROOT / "src.txt"), "gen/out.txt", "count.txt"])
# the right outer shape, wrong types below: each table and each entry may be junk
SHAPED = st.fixed_dictionaries({}, optional={
    "keys": JSON | st.dictionaries(NAMES, JSON, max_size=3),
    "stat": JSON | st.dictionaries(NAMES, JSON | st.lists(SCALARS, min_size=5, max_size=5), max_size=3),
    "outputs": JSON | st.dictionaries(NAMES, JSON | st.dictionaries(NAMES, JSON, max_size=2), max_size=3),
})
CONTENT = (
    JSON.map(json.dumps) | SHAPED.map(json.dumps)
    | st.binary(max_size=40).map(lambda b: b.decode("latin-1"))
    | st.just("[" * 3000)  # nested too deep for the parser
)


def _run() -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        code = main(["run", "use", "--spec", str(ROOT / "mlproject.toml")])
    return code, err.getvalue()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CONTENT)
def test_any_run_cache_file_is_a_cold_cache(content: str) -> None:
    (ROOT / CACHE_FILE).parent.mkdir(parents=True, exist_ok=True)
    (ROOT / CACHE_FILE).write_text(content, encoding="utf-8", errors="surrogateescape")
    code, stderr = _run()
    assert (code, stderr) == (0, ""), stderr
    assert (ROOT / "count.txt").read_text().split() == ["4"]
    assert {o.name: o.status for o in run_plan(ROOT, ["use"])} == {"gen": "cached", "use": "cached"}


# the compile stamp (.mlgen/cache/compile.json, runstamp.py) next to it: damaged, it only means
# compiling again
STAMP_SHAPED = st.fixed_dictionaries({"format": st.just(1) | JSON}, optional={
    key: JSON for key in ("files", "requires", "spec", "spec_sha256", "toolchain", "estimator", "code")
})
STAMP_CONTENT = CONTENT | STAMP_SHAPED.map(json.dumps)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STAMP_CONTENT)
def test_any_compile_stamp_means_compiling_again_or_nothing(content: str) -> None:
    (ROOT / ".mlgen" / "cache").mkdir(parents=True, exist_ok=True)
    (ROOT / ".mlgen" / "cache" / "compile.json").write_text(content, encoding="utf-8", errors="surrogateescape")
    code, stderr = _run()
    assert (code, stderr) == (0, ""), stderr
    assert (ROOT / "count.txt").read_text().split() == ["4"]
