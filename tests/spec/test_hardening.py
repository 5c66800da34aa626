"""Spec inputs attacked by class: path spellings, cron expressions, secret names, size and depth.

- Paths: every spelling of a path that names the same file as its normal form (`./`, `//`,
  `/./`, a trailing `/`) is refused at every path key, with the normal form in the hint; the
  normal form loads. So equivalent spellings never reach the plan as different strings.
- Cron: an expression is accepted exactly when it is in the syntax GitHub, GitLab and Jenkins
  all read (a reference matcher written from the providers' docs, independently of cronspec).
- Secrets: every reserved name or prefix is refused; ordinary names are not.
- Size and depth: refused with exit 2 and one error, whatever the nesting.
- The checked spec: read-only once validated, with defaults of its own (not shared by two loads).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgen.errors import SpecError
from mlgen.spec import envnames
from mlgen.spec.load import MAX_DEPTH, MAX_SPEC_BYTES, load_spec
from mlgen.spec.rules import normal_path

BASE = """\
[project]
name = "demo"
requirements = [{requirements}]

[data]
path = {path}
reference = {reference}
target = "y"
task = "classification"
allow_extra = true

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[evaluate]
metrics = ["accuracy"]

[deploy]
registry = {registry}

[monitor]
schedule = {schedule}
data = {monitor}

[[stages]]
name = "get-data"
cmd = "python get.py"
deps = [{deps}]
outs = [{outs}]
"""

DEFAULTS = {
    "requirements": "req.txt", "path": "data/train.csv", "reference": "data/ref.csv", "registry": "models",
    "monitor": "data/live.csv", "deps": "get.py", "outs": "data/train.csv", "schedule": "0 6 * * 1",
}
KEYS = {  # placeholder -> dotted key path in diagnostics
    "requirements": "project.requirements[0]", "path": "data.path", "reference": "data.reference",
    "registry": "deploy.registry", "monitor": "monitor.data", "deps": "stages[0].deps[0]",
    "outs": "stages[0].outs[0]",
}
SUFFIX = {"path": ".csv", "reference": ".csv", "monitor": ".csv", "requirements": ".txt"}


def _toml(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _load(tmp: Path, **values: str) -> Any:
    v = {**DEFAULTS, **values}
    (tmp / v["requirements"]).parent.mkdir(parents=True, exist_ok=True)
    (tmp / v["requirements"]).touch()
    spec = tmp / "mlproject.toml"
    spec.write_text(BASE.format(**{k: _toml(x) for k, x in v.items()}), encoding="utf-8")
    return load_spec(spec)


segment = st.text(st.sampled_from("abcxyz09_-é "), min_size=1, max_size=6).filter(lambda s: s.strip() == s and s not in (".", ".."))
normal = st.lists(segment, min_size=1, max_size=4).map("/".join)


@st.composite
def respelled(draw: st.DrawFn, path: str) -> str:
    """`path` spelled another way that names the same file."""
    parts = path.split("/")
    how = draw(st.lists(st.sampled_from(["dot-prefix", "double", "dot-part", "trailing"]), min_size=1, max_size=3))
    if "dot-part" in how:
        parts.insert(draw(st.integers(0, len(parts))), ".")
    out = "/".join(parts)
    if "double" in how:
        i = draw(st.integers(0, out.count("/")))
        pieces = out.split("/")
        out = "/".join(pieces[: i + 1]) + ("//" + "/".join(pieces[i + 1:]) if pieces[i + 1:] else "//")
    if "dot-prefix" in how:
        out = "./" + out
    if "trailing" in how and not out.endswith("/"):
        out += "/"
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(KEYS)), body=normal, data=st.data())
def test_equivalent_spellings_are_refused_with_the_normal_form(tmp_path: Path, key: str, body: str, data: st.DataObject) -> None:
    if key == "registry":
        body = re.sub(r"[^A-Za-z0-9_/-]", "_", body)  # a registry folder keeps plain characters
    path = body + SUFFIX.get(key, "")
    other = data.draw(respelled(path))
    assert other != path and posixpath.normpath(other) == posixpath.normpath(path) == normal_path(other)
    _load(tmp_path, **{key: path})  # the normal form loads
    with pytest.raises(SpecError) as err:
        _load(tmp_path, **{key: other})
    [d] = err.value.diagnostics
    assert (d.path, d.code, d.hint) == (KEYS[key], "E104", f"write `{path}`")


@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("spelling", [".", "./", ".//", "./."])
def test_the_repository_itself_is_not_a_path(tmp_path: Path, key: str, spelling: str) -> None:
    with pytest.raises(SpecError) as err:
        _load(tmp_path, **{key: spelling})
    assert any(d.path == KEYS[key] for d in err.value.diagnostics)


# ------------------------------------------------------------------------------------ cron

FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _reference_cron(expr: str) -> bool:
    """The intersection of the providers' documented syntax, written out on its own: per field a
    list of `*`, `*/s`, `n`, `a-b`, `a-b/s` with numbers in range, a <= b, 1 <= s <= the top."""
    fields = expr.split(" ")
    if len(fields) != 5:
        return False
    for text, (lo, hi) in zip(fields, FIELDS):
        for item in text.split(","):
            base, _, step = item.partition("/")
            if step and not (step.isdigit() and len(step) <= 2 and 1 <= int(step) <= hi):
                return False
            if base == "*":
                continue
            a, dash, b = base.partition("-")
            if step and not dash:
                return False
            for n in (a, b) if dash else (a,):
                if not (n.isascii() and n.isdigit() and len(n) <= 2 and lo <= int(n) <= hi):
                    return False
            if dash and int(a) > int(b):
                return False
    return True


number = st.integers(0, 70).map(str)
item = st.one_of(
    st.just("*"), number, st.builds(lambda a, b: f"{a}-{b}", number, number),
    st.builds(lambda s: f"*/{s}", number), st.builds(lambda a, b, s: f"{a}-{b}/{s}", number, number, number),
    st.builds(lambda a, s: f"{a}/{s}", number, number), st.sampled_from(["JAN", "MON", "H", "L", "?", "$(id)", "7#2", "", "1-"]),
)
field = st.lists(item, min_size=1, max_size=3).map(",".join)
expression = st.lists(field, min_size=5, max_size=5).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expr=expression)
def test_cron_is_accepted_exactly_when_every_provider_reads_it(tmp_path: Path, expr: str) -> None:
    if _reference_cron(expr):
        _load(tmp_path, schedule=expr)
    else:
        with pytest.raises(SpecError) as err:
            _load(tmp_path, schedule=expr)
        [d] = err.value.diagnostics
        assert d.path == "monitor.schedule" and d.hint.startswith("for example")


@pytest.mark.parametrize("expr", ["0 6 * * 1", "*/15 * * * *", "0 0 1,15 * *", "30 8-18/2 * 1-11 1-5", "0 0 * * 0"])
def test_common_schedules_load(tmp_path: Path, expr: str) -> None:
    assert _load(tmp_path, schedule=expr).spec.monitor.schedule == expr


# --------------------------------------------------------------------------------- secrets

SECRETS = """\
[project]
name = "demo"

[data]
path = "data/train.csv"
target = "y"
task = "classification"
allow_extra = true
dvc = true
dvc_secrets = [{name}]

[train]
estimator = "sklearn.linear_model.LogisticRegression"

[evaluate]
metrics = ["accuracy"]

[deploy]
secrets = [{name}]
"""


def _secret(tmp: Path, name: str) -> SpecError | None:
    spec = tmp / "mlproject.toml"
    spec.write_text(SECRETS.format(name=_toml(name)))
    try:
        load_spec(spec)
    except SpecError as err:
        return err
    return None


reserved = st.one_of(
    st.sampled_from(sorted(envnames.RESERVED_NAMES)),
    st.builds(lambda p, rest: (p + rest)[:64], st.sampled_from(envnames.RESERVED_PREFIXES), st.from_regex(r"[A-Z0-9_]{0,10}", fullmatch=True)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=reserved)
def test_reserved_environment_names_are_refused_as_secrets(tmp_path: Path, name: str) -> None:
    err = _secret(tmp_path, name)
    assert err is not None
    assert {d.path for d in err.diagnostics} == {"data.dvc_secrets[0]", "deploy.secrets[0]"}


@pytest.mark.parametrize("name", ["PATH", "PYTHONPATH", "BASH_ENV", "LD_PRELOAD", "HOME", "SHELL", "IFS", "ENV", "GIT_DIR",
                                  "PIP_INDEX_URL", "NODE_OPTIONS", "GLIBC_TUNABLES", "PYTHON_GIL", "GITHUB_TOKEN", "CI_JOB_TOKEN"])
def test_named_variables_are_refused(tmp_path: Path, name: str) -> None:
    assert _secret(tmp_path, name) is not None


@pytest.mark.parametrize("name", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_TRACKING_TOKEN", "MY_TOKEN",
                                  "AZURE_STORAGE_KEY", "GDRIVE_CREDENTIALS_DATA", "PATHWAY_KEY"])
def test_ordinary_secret_names_load(tmp_path: Path, name: str) -> None:
    assert _secret(tmp_path, name) is None


# --------------------------------------------------------------------------- size and depth

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(levels=st.integers(MAX_DEPTH + 1, 3000), kind=st.sampled_from(["array", "inline", "dotted", "header", "mixed"]))
def test_any_nesting_too_deep_is_one_error(tmp_path: Path, levels: int, kind: str) -> None:
    text = {
        "array": "x = " + "[" * levels + "]" * levels,
        "inline": "x = " + "{a=" * levels + "1" + "}" * levels,
        "dotted": ".".join(["a"] * levels) + " = 1",
        "header": "[" + ".".join(["a"] * levels) + "]",
        "mixed": "x = " + "[{a=" * (levels // 2) + "1" + "}]" * (levels // 2),
    }[kind]
    spec = tmp_path / "mlproject.toml"
    spec.write_text("[project]\nname = 'x'\n" + text + "\n" if kind != "header" else text + "\n")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    [d] = err.value.diagnostics
    assert d.code in ("E006", "E003") and (d.code == "E003" or str(MAX_DEPTH) in d.message)


def test_a_spec_over_the_size_limit_is_refused_after_reading_the_limit(tmp_path: Path) -> None:
    spec = tmp_path / "mlproject.toml"
    spec.write_bytes(b"#" * (MAX_SPEC_BYTES + 1))
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert [d.code for d in err.value.diagnostics] == ["E005"]


def test_a_device_is_read_with_a_bound() -> None:
    with pytest.raises(SpecError) as err:
        load_spec(Path("/dev/zero"))
    assert [d.code for d in err.value.diagnostics] == ["E005"]


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs")
def test_a_fifo_nobody_writes_to_does_not_block(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "mlproject.toml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError) as err:  # read as an empty file: the required tables are missing
        load_spec(fifo)
    assert {d.code for d in err.value.diagnostics} == {"E102"}


# --------------------------------------------------------------------------- the checked spec

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def test_the_checked_spec_is_read_only_and_its_settings_are_by_toml_key() -> None:
    loaded = load_spec(Path(__file__).resolve().parents[2] / "mlproject.toml")
    with pytest.raises(ValidationError, match="frozen"):
        loaded.spec.project = None  # type: ignore[misc]
    assert type(loaded.spec.data).__name__ == "Data" and loaded.spec.validate_.min_rows >= 0
    assert "validate" in loaded.settings and "validate_" not in loaded.settings


def test_defaults_are_not_shared_between_loads() -> None:
    first, second = load_spec(GOLDEN / "minimal" / "mlproject.toml"), load_spec(GOLDEN / "minimal" / "mlproject.toml")
    first.spec.ci.branches.append("other")
    assert second.spec.ci.branches == ["main"]
    assert load_spec(GOLDEN / "minimal" / "mlproject.toml").spec.ci.branches == ["main"]
