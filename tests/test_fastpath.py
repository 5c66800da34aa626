"""The fast paths of `mlgen compile` and `mlgen run` give exactly what the slow ones gave:

- yamlout's emitter writes what ruamel's round-trip dumper writes, byte for byte (every golden
  document, generated documents, strings and comments), or hands the document to ruamel;
- the small argument parser in cli.py gives the same output and exit codes as the typer app;
- `mlgen run` skips its compile only while the plan is current (runstamp.py), and compiles again
  when the spec, a generated file, a required file or the toolchain changed;
- the plain run summary is what rich prints.
No timings here: benchmarks/ measures speed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlgen import cli, commands, runstamp
from mlgen.backends import common, yamlout
from mlgen.backends.yamlout import DQ, SQ, Literal, Map, Seq
from mlgen.cli import main
from mlgen.localrun import Outcome
from tests.support import golden

# ------------------------------------------------------------------------------------- emitter


def _ruamel_load(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def _same(data: Any) -> str | None:
    """Assert the fast emitter matches ruamel; return its text (None when it declined)."""
    want = yamlout.ruamel_dump(data)
    try:
        got = yamlout.emit(data)
    except yamlout.Unsupported:
        return None
    assert got == want
    return got


@pytest.mark.parametrize("case", golden.cases())
def test_emitter_matches_ruamel_on_every_golden_document(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    dump = common.dump_yaml

    def both(data: Any, header: list[str]) -> str:
        got = yamlout.emit(data)  # the golden documents never need the fallback
        assert got == yamlout.ruamel_dump(data)
        seen.append(got)
        return dump(data, header)

    import importlib

    for name in ("mlgen.backends.github.render", "mlgen.backends.github.rollback", "mlgen.backends.gitlab.render"):
        module = importlib.import_module(name)
        if hasattr(module, "dump_yaml"):
            monkeypatch.setattr(module, "dump_yaml", both)
    spec = golden.copy_inputs(case, tmp_path)
    assert main(["compile", "-q", "--spec", str(spec), "--out", str(tmp_path / "out")]) == 0
    assert seen, "no YAML document was written"


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_ASCII = st.text(st.sampled_from(list(" abyn01:#-'\"!&*?%@`|>,[]{}.=<~\\$()\t\n")), max_size=8)
_STRINGS = st.one_of(_TEXT, _ASCII, st.sampled_from(["yes", "No", "null", "~", "true", "1e3", "0o17", ".5", "-",
                                                      "2001-12-14", "=", "<<", "a: b", "a #b", "- a", "---", "? x"]))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(value=_STRINGS, key=_STRINGS, style=st.sampled_from([str, SQ, DQ]))
@example(value="'a'", key="k", style=str)
@example(value="it's: x", key="k", style=str)
@example(value="", key="", style=str)
def test_emitter_matches_ruamel_on_strings(value: str, key: str, style: type) -> None:
    data = Map()
    data[style(key) if key else SQ(key)] = style(value)
    data["list"] = Seq([style(value), value])
    text = _same(data)
    if text is not None:  # what the emitter writes reads back as written
        back = _ruamel_load(text)
        assert back[key] == value and back["list"] == [value, value]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    keys=st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=5, unique=True),
    ops=st.lists(
        st.tuples(st.sampled_from(["before", "eol"]), st.integers(0, 4), st.sampled_from(["x", "one\ntwo", "\n", "a\n\nb\n"]),
                  st.sampled_from([0, 2, 4])),
        max_size=4,
    ),
    values=st.lists(st.sampled_from(["v", 1, True, None, "", "x: y"]), min_size=5, max_size=5),
    nested=st.booleans(),
)
def test_emitter_matches_ruamel_on_comments(keys: list[str], ops: list[tuple[str, int, str, int]], values: list[Any],
                                            nested: bool) -> None:
    m = Map()
    for i, k in enumerate(keys):
        if i == 1:  # comments are added while the map is built, as the backends do
            for op, idx, text, indent in ops:
                key = keys[idx % len(keys)]
                if op == "before":
                    m.yaml_set_comment_before_after_key(key, before=text, indent=indent)
                elif "\n" not in text:
                    m.yaml_add_eol_comment(text, key)
        m[k] = values[i]
    if nested:
        m["z"] = Map({"sub": Seq([Map(one=1, two=Map(deep="x")), "s", Map()]), "empty": Seq(), "lit": Literal("a\nb c\n")})
    _same(Map(top=m, after=1))


def test_emitter_declines_what_it_cannot_write_exactly() -> None:
    shared = Map(a=1)
    for data in (
        Map(x=Seq([Seq([1, 2])])),  # a sequence in a sequence
        Map(x=Seq([None])),
        Map(x=Literal("  indented\n")),
        Map(x="tab\there"),
        Map(x=1.5),
        Map(a=shared, b=shared),  # anchors
    ):
        with pytest.raises(yamlout.Unsupported):
            yamlout.emit(data)
        assert common.dump_yaml(data, ["h"]) == "# h\n" + yamlout.ruamel_dump(data)


# ---------------------------------------------------------------------------- argument parser

SPEC = """
[project]
name = "fast"

[data]
path = "data/train.csv"
target = "y"
task = "regression"
allow_extra = true

[train]
estimator = "sklearn.linear_model.Ridge"

[evaluate]
metrics = ["r2"]

[[stages]]
name = "gen"
cmd = "mkdir -p gen && cp src.txt gen/out.txt && echo ran >> log.txt"
deps = ["src.txt"]
outs = ["gen"]
"""


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "mlproject.toml").write_text(SPEC)
    (tmp_path / "src.txt").write_text("a\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["compile"], ("compile", {})),
        (["compile", "-q", "--out", "o", "--spec=s.toml", "--provider", "github", "--provider=gitlab", "--check", "--force"],
         ("compile", {"quiet": True, "out": Path("o"), "spec": Path("s.toml"), "provider": ["github", "gitlab"],
                      "check": True, "force": True})),
        (["run", "score", "--approve", "prod", "--force", "train"],
         ("run", {"stages": ["score", "train"], "approve": ["prod"], "force": True})),
        (["run", "--schedule"], ("run", {"schedule": True})),
        (["compile", "--help"], None),
        (["compile", "--spec"], None),
        (["compile", "--spec", "--check"], None),
        (["compile", "--spec", "a", "--spec", "b"], None),
        (["compile", "extra"], None),
        (["compile", "-qq"], None),
        (["run", "--", "x"], None),
        (["run", "-x"], None),
        (["validate"], None),
        ([], None),
    ],
)
def test_fast_parser_takes_only_plain_invocations(argv: list[str], expected: Any) -> None:
    assert cli.parse_fast(argv) == expected


def _both(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          prepare: Any = None) -> list[tuple[int, str, str]]:
    results = []
    for fast in (True, False):
        if prepare is not None:
            prepare()
        with monkeypatch.context() as m:
            if not fast:
                m.setattr(cli, "parse_fast", lambda argv: None)
            else:
                assert cli.parse_fast(argv) is not None
            rc = main(list(argv))
        out, err = capsys.readouterr()
        results.append((rc, out, err))
    return results


@pytest.mark.parametrize(
    "argv",
    [
        ["compile"],
        ["compile", "--check"],
        ["compile", "-q", "--out", "elsewhere"],
        ["compile", "--provider", "gitlab", "--out", "one"],
        ["compile", "--provider", "nope"],
        ["compile", "--spec", "missing.toml"],
        ["run", "gen"],
        ["run", "nope"],
        ["run", "gen", "--schedule"],
    ],
)
def test_fast_parser_and_typer_agree(argv: list[str], proj: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    def fresh() -> None:  # each path starts from the same files
        for p in proj.iterdir():
            if p.name not in ("mlproject.toml", "src.txt"):
                if p.is_dir():
                    import shutil

                    shutil.rmtree(p)
                else:
                    p.unlink()

    fast, slow = _both(argv, monkeypatch, capsys, fresh)
    assert fast == slow


def test_bad_spec_exit_2_on_both_paths(proj: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (proj / "mlproject.toml").write_text(SPEC.replace('task = "regression"', 'task = "guess"'))
    fast, slow = _both(["compile"], monkeypatch, capsys)
    assert fast == slow
    assert fast[0] == 2 and "mlproject.toml:" in fast[2] and "nothing written" in fast[2]
    assert not (proj / ".mlgen").exists()


# ------------------------------------------------------------------------ run skips the compile


def _count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = commands._compile

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(commands, "_compile", counting)
    return calls


def test_run_skips_compile_while_plan_is_current(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_compiles(monkeypatch)
    assert main(["run", "gen"]) == 0
    assert len(calls) == 1 and (proj / runstamp.STAMP).is_file()
    assert main(["run", "gen"]) == 0
    assert main(["run", "gen"]) == 0
    assert len(calls) == 1, "nothing changed: no compile"
    assert (proj / "log.txt").read_text().split() == ["ran"]


def test_run_recompiles_when_spec_changes(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_compiles(monkeypatch)
    assert main(["run", "gen"]) == 0
    plan = json.loads((proj / ".mlgen/plan.json").read_text())
    (proj / "mlproject.toml").write_text(SPEC.replace("cp src.txt", "cat src.txt src.txt >"))
    assert main(["run", "gen"]) == 0
    assert len(calls) == 2
    new_plan = json.loads((proj / ".mlgen/plan.json").read_text())
    assert new_plan["spec_sha256"] != plan["spec_sha256"]
    assert "cat src.txt src.txt" in new_plan["jobs"][0]["commands"][0]
    assert (proj / "log.txt").read_text().split() == ["ran", "ran"], "the changed stage ran again"


def test_run_recompiles_a_stale_plan_after_compile_of_another_version(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_compiles(monkeypatch)
    assert main(["run", "gen"]) == 0
    original = (proj / "mlproject.toml").read_text()
    (proj / "mlproject.toml").write_text(original.replace('name = "fast"', 'name = "other"'))
    assert main(["compile", "-q"]) == 0
    (proj / "mlproject.toml").write_text(original)  # same spec as the stamp, but the files changed
    assert main(["run", "gen"]) == 0
    assert len(calls) == 3
    assert json.loads((proj / ".mlgen/plan.json").read_text())["project"] == "fast"


@pytest.mark.parametrize("change", ["edit-output", "delete-output", "toolchain", "stamp-garbage"])
def test_run_recompiles_when_anything_else_changed(change: str, proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_compiles(monkeypatch)
    assert main(["run", "gen"]) == 0
    if change == "edit-output":
        with (proj / ".gitlab-ci.yml").open("a") as fh:
            fh.write("# hand edit\n")
    elif change == "delete-output":
        (proj / ".mlgen/plan.json").unlink()
    elif change == "toolchain":
        monkeypatch.setattr(runstamp, "toolchain", lambda: "another mlgen")
    else:
        (proj / runstamp.STAMP).write_text("{not json")
    assert main(["run", "gen"]) == 0
    assert len(calls) == 2
    assert main(["compile", "--check"]) == 0


def test_run_recompiles_when_a_required_file_is_gone(proj: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (proj / "reqs.txt").write_text("numpy\n")
    text = SPEC.replace('name = "fast"', 'name = "fast"\nrequirements = ["reqs.txt"]')
    (proj / "mlproject.toml").write_text(text)
    assert main(["run", "gen"]) == 0
    (proj / "reqs.txt").unlink()
    capsys.readouterr()
    assert main(["run", "gen"]) == 2
    assert "E211" in capsys.readouterr().err


def test_toolchain_fingerprint_is_stable() -> None:
    assert runstamp.toolchain() == runstamp.toolchain()


# ------------------------------------------------------------------------------ plain summary


def _rich_summary(rows: list[Outcome], width: int) -> str:
    from rich.console import Console
    from rich.table import Table

    from mlgen import runview

    table = Table(title=runview.TITLE, title_justify="left")
    for col in runview.COLUMNS:
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for name, status, secs, note in runview._rows(rows):
        table.add_row(name, f"[{runview.STYLE[status]}]{status}[/]", secs, note)
    buf = io.StringIO()
    Console(file=buf, highlight=False, width=width, color_system=None).print(table)
    return buf.getvalue()


@pytest.mark.parametrize("width", [40, 80, 200])
@pytest.mark.parametrize(
    "outcomes",
    [
        [Outcome("prepare", "cached", note="inputs unchanged"), Outcome("fit", "cached", note="inputs unchanged")],
        [Outcome("a", "skipped", note="no drift: nothing to retrain"),
         Outcome("deploy-production", "waiting", note="needs approval: --approve production"),
         Outcome("x", "blocked", note="a did not succeed")],
        [],
    ],
)
def test_plain_summary_is_what_rich_prints(outcomes: list[Outcome], width: int) -> None:
    from mlgen import runview

    text = runview.plain_table(runview._rows(outcomes), width)
    rich_text = _rich_summary(outcomes, width)
    if text is None:  # only where rich has to squeeze the table
        natural = len(runview.plain_table(runview._rows(outcomes), 10_000).splitlines()[1])  # type: ignore[union-attr]
        assert natural > width
    else:
        assert text == rich_text


def test_plain_summary_used_when_nothing_ran(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from mlgen import runview

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    outcomes = [Outcome("prepare", "cached", note="inputs unchanged")]
    runview.print_summary(outcomes)
    assert capsys.readouterr().out == _rich_summary(outcomes, 100)
