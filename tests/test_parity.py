"""Parity: reading each provider's file back gives the plan's jobs, needs, commands and shards.

Checked for every golden case and for specs generated with hypothesis; the injection tests feed
arbitrary strings into names, commands and paths: each is rejected with a diagnostic or reaches
the shell byte for byte on every provider."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from mlgen import backends
from mlgen.compile import compile_spec
from mlgen.errors import SpecError
from mlgen.plan.ir import Plan
from tests.support import golden

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_parity(plan: Plan, files: dict[str, str]) -> None:
    for provider in plan.providers:
        got = {j.name: j for j in backends.read(provider, files)}
        assert list(got) == [j.name for j in plan.jobs] or set(got) == {j.name for j in plan.jobs}, provider
        seen: set[str] = set()
        for job in plan.jobs:
            read = got[job.name]
            assert read.commands == plan.setup + job.commands, (provider, job.name)
            assert read.shards == job.shards, (provider, job.name)
            if read.needs is None:  # Jenkins: stages run in file order, which must respect needs
                assert set(job.needs) <= seen, (provider, job.name, "runs before its needs")
            else:
                assert read.needs == job.needs, (provider, job.name)
            seen.add(job.name)
        if provider == "jenkins":
            assert list(got) == [j.name for j in plan.jobs]


@pytest.mark.parametrize("case", golden.cases())
def test_golden_parity(case: str, tmp_path: Path) -> None:
    spec = golden.copy_inputs(case, tmp_path)
    compiled = compile_spec(spec, tmp_path)
    assert_parity(compiled.plan, compiled.files)


# --- generated specs ---------------------------------------------------------------------------

NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True)
SAFE_CMD = st.from_regex(r"[a-z][ -~]{0,40}", fullmatch=True).filter(lambda s: "${{" not in s and "$[[" not in s)


def toml_str(s: str) -> str:
    """A TOML basic string for any text (JSON escapes are valid TOML; DEL must be escaped too)."""
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def render_toml(data: dict[str, Any]) -> str:
    """Tiny TOML writer for the generated specs (tables, arrays of tables, inline values)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return toml_str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{toml_str(k)} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(v)

    lines: list[str] = []
    for table, body in data.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{table}]]")
                lines.extend(f"{toml_str(k)} = {value(v)}" for k, v in item.items())
                lines.append("")
        else:
            lines.append(f"[{table}]")
            lines.extend(f"{toml_str(k)} = {value(v)}" for k, v in body.items())
            lines.append("")
    return "\n".join(lines)


@st.composite
def specs(draw: st.DrawFn, cmd: st.SearchStrategy[str] = SAFE_CMD) -> dict[str, Any]:
    shards = draw(st.integers(1, 4))
    envs = draw(st.lists(NAMES, max_size=3, unique=True))
    train: dict[str, Any] = {"estimator": "sklearn.linear_model.LogisticRegression"}
    data: dict[str, Any] = {
        "project": {"name": draw(NAMES)},
        "data": {"path": "data/train.csv", "target": "y", "task": "classification", "allow_extra": True},
        "train": train,
        "evaluate": {"metrics": ["accuracy"]},
        "ci": {
            "branches": draw(st.lists(st.from_regex(r"[a-z][a-z0-9._/-]{0,10}[a-z0-9]", fullmatch=True), min_size=1, max_size=3, unique=True)),
            "pull_requests": draw(st.booleans()),
        },
    }
    if shards > 1:
        data["train.search"] = {"space": {"C": [0.1 * (i + 1) for i in range(shards)]}, "shards": shards}
    if envs:
        data["deploy"] = {"registry": "models"}
        data["deploy.environments"] = [{"name": e, "approval": draw(st.sampled_from(["auto", "manual"]))} for e in envs]
    if draw(st.booleans()):
        data["monitor"] = {"schedule": "0 6 * * 1", "data": "data/live.csv"}
    stages = []
    for i, name in enumerate(draw(st.lists(NAMES, max_size=4, unique=True))):
        stage: dict[str, Any] = {"name": f"s-{name}", "cmd": draw(cmd)}
        if draw(st.booleans()):
            stage["outs"] = [f"out/{name}"]
        earlier = [s["name"] for s in stages]
        stage["needs"] = draw(st.lists(st.sampled_from(earlier + ["evaluate"]), max_size=2, unique=True))
        if draw(st.booleans()):
            stage["before"] = draw(st.sampled_from(["validate", "train", "evaluate"]))
        stages.append(stage)
    if stages:
        data["stages"] = stages
    return data


def compile_text(text: str, tmp: Path) -> tuple[Plan, dict[str, str]]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "mlproject.toml").write_text(text, encoding="utf-8")
    compiled = compile_spec(tmp / "mlproject.toml", tmp)
    return compiled.plan, compiled.files


@SETTINGS
@given(spec=specs())
def test_generated_specs_parity(spec: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> None:
    text = render_toml(spec)
    assert tomllib.loads(text)  # the writer produces valid TOML
    try:
        plan, files = compile_text(text, tmp_path_factory.mktemp("p"))
    except SpecError as exc:
        # generated stages may form a cycle (needs evaluate + before validate); nothing else
        assert {d.code for d in exc.diagnostics} == {"E202"}, str(exc)
        assume(False)
        return
    assert_parity(plan, files)


# --- injection ---------------------------------------------------------------------------------

ANY_TEXT = st.text(min_size=1, max_size=40)


def _one_stage_spec(name: str, cmd: str, out: str) -> str:
    return render_toml({
        "project": {"name": "inj"},
        "data": {"path": "data/train.csv", "target": "y", "task": "regression", "allow_extra": True},
        "train": {"estimator": "sklearn.linear_model.Ridge"},
        "evaluate": {"metrics": ["r2"]},
        "stages": [{"name": name, "cmd": cmd, "outs": [out], "before": "validate"}],
    })


@SETTINGS
@given(cmd=ANY_TEXT)
@example(cmd="echo ${{ github.token }}")
@example(cmd="echo $[[ inputs.x ]]")
@example(cmd="a\nb")
@example(cmd="on")
@example(cmd="yes")
@example(cmd="0o17")
@example(cmd="1_000")
@example(cmd="'quoted' \"double\" \\back ${env.HOME} $HOME `id` #c: x")
@example(cmd="- item")
@example(cmd="  padded  ")
@example(cmd="\u2028")
@example(cmd="é ☃ 🚀")
def test_commands_are_rejected_or_exact(cmd: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    text = _one_stage_spec("prep", cmd, "data/train.csv")
    try:
        plan, files = compile_text(text, tmp_path_factory.mktemp("c"))
    except SpecError as exc:
        assert all(d.code == "E208" and d.path == "stages[0].cmd" for d in exc.diagnostics), str(exc)
        return
    for provider in plan.providers:
        (prep,) = [j for j in backends.read(provider, files) if j.name == "prep"]
        assert prep.commands[-1] == cmd, provider
    # GitLab parses YAML 1.1 (yes/on are booleans there): the script line must survive it too
    assert _yaml(files[".gitlab-ci.yml"], yaml11=True)["prep"]["script"][-1] == cmd
    github = _yaml(files[".github/workflows/mlgen.yml"], yaml11=True)
    assert github["jobs"]["prep"]["steps"][-2]["run"] == cmd


@SETTINGS
@given(name=ANY_TEXT, out=ANY_TEXT)
@example(name="on", out="0o17")
@example(name="yes", out="data/${{x}}")
@example(name="prep", out="data/$HOME")
@example(name="a b", out="../up")
@example(name="validate", out="0")
def test_names_and_paths_are_rejected_or_exact(name: str, out: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    text = _one_stage_spec(name, "python prep.py", out)
    try:
        plan, files = compile_text(text, tmp_path_factory.mktemp("n"))
    except SpecError as exc:
        # E201: a stage named `validate` is `before` itself
        assert {d.code for d in exc.diagnostics} <= {"E104", "E201", "E203", "E207", "E208"}, str(exc)
        return
    for provider in plan.providers:
        assert name in {j.name for j in backends.read(provider, files)}, provider
    gitlab = _yaml(files[".gitlab-ci.yml"])
    assert list(gitlab[name]["artifacts"]["paths"]) == [out]
    plan_data = json.loads(files[".mlgen/plan.json"])
    assert plan_data["settings"]["stages"][0]["outs"] == [out]


def _yaml(text: str, yaml11: bool = False) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(("%YAML 1.1\n---\n" if yaml11 else "") + text)
