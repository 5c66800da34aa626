"""Parity: reading each provider's file back gives the plan's jobs, needs, commands and shards.

Checked for every golden case and scenario of tests/golden/ and for specs generated with
hypothesis; the injection tests feed arbitrary strings into names, commands and paths: each is
rejected with a diagnostic or reaches the shell byte for byte on every provider."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from mlgen import backends
from mlgen.compile import compile_spec
from mlgen.errors import SpecError
from mlgen_runtime.contract import Plan
from tests.support import golden

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_parity(plan: Plan, files: dict[str, str]) -> None:
    for provider in plan.providers:
        got = {j.name: j for j in backends.read(provider, files)}
        assert list(got) == [j.name for j in plan.jobs] or set(got) == {j.name for j in plan.jobs}, provider
        seen: set[str] = set()
        for job in plan.jobs:
            read = got[job.name]
            assert read.commands == job.setup + job.commands, (provider, job.name)
            assert read.shards == job.shards, (provider, job.name)
            if read.needs is None:  # Jenkins: stages run in file order, which must respect needs
                assert set(job.needs) <= seen, (provider, job.name, "runs before its needs")
            else:
                assert read.needs == job.needs, (provider, job.name)
            seen.add(job.name)
        if provider == "jenkins":
            assert list(got) == [j.name for j in plan.jobs]


@pytest.mark.parametrize("case", golden.all_specs())
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
@example(name="prep", out="out/it's [1] #x {a} ~b & (c); d | e")
@example(name="prep", out="!neg")
@example(name="prep", out=" lead")
@example(name="prep", out="données 中文/ß")
def test_names_and_paths_are_rejected_or_exact(name: str, out: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    text = _one_stage_spec(name, "python prep.py", out)
    try:
        plan, files = compile_text(text, tmp_path_factory.mktemp("n"))
    except SpecError as exc:
        # E201: a stage named `validate` is `before` itself; E218: a provider cannot carry the path
        assert {d.code for d in exc.diagnostics} <= {"E104", "E201", "E203", "E207", "E208", "E218"}, str(exc)
        assert all(d.path == "stages[0].outs[0]" for d in exc.diagnostics if d.code == "E218"), str(exc)
        return
    for provider in plan.providers:
        read = {j.name: j for j in backends.read(provider, files)}
        assert read[name].artifact_paths == ((out.rstrip("/"),) if provider == "jenkins" else (out,)), provider
    assert_gitlab_artifacts(files, name, [out])
    plan_data = json.loads(files[".mlgen/plan.json"])
    assert plan_data["settings"]["stages"][0]["outs"] == [out]


def assert_gitlab_artifacts(files: dict[str, str], job: str, paths: list[str]) -> None:
    """GitLab's own YAML 1.1 reading of the artifact globs gives back the paths."""
    from mlgen.backends.gitlab.paths import artifact_unescape

    gitlab = _yaml(files[".gitlab-ci.yml"], yaml11=True)
    assert [artifact_unescape(p) for p in gitlab[job]["artifacts"]["paths"]] == paths


# --- paths and names as people write them --------------------------------------------------------
# Letters of any script, digits, spaces and every ASCII punctuation mark (`/` separates folders):
# each generated path and column name is either refused with a diagnostic naming its key, or
# reaches every generated file (and plan.json) byte for byte.

PATH_CHARS = "abcXYZ019 éüßñØΩ中文数据" + "!\"#$%&'()*+,-.:;<=>?@[\\]^_`{|}~" + "/"


def _path_text(refused: str = "") -> st.SearchStrategy[str]:
    return st.text(alphabet=st.sampled_from(sorted(set(PATH_CHARS) - set(refused))), min_size=1, max_size=16)


# Every character, and (as often) only the characters no provider refuses in that place, so that
# most examples compile and are read back: outs (GitHub uploads, GitLab `$`, Jenkins Ant
# patterns), data files (GitLab cache:key:files, and outs too: the stage writes them).
PATH_TEXT = _path_text()
OUT_TEXT = st.one_of(_path_text(), _path_text('$,*?\\":<>|'))
DATA_TEXT = st.one_of(_path_text(), _path_text('$,*?\\":<>|[]{}'))
NAME_TEXT = st.text(alphabet=st.sampled_from(sorted(set("abcXYZ019 éüßñØΩ中文数据" + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"))),
                    min_size=1, max_size=12)
PATH_CODES = {"E104", "E208", "E218"}  # the path pattern / `..`, provider syntax, a provider's limits


def _paths_spec(data: str, ref: str, req: str, dep: str, out: str, columns: list[str], dvc: bool) -> str:
    return render_toml({
        "project": {"name": "paths", "requirements": [req]},
        "data": {"path": data, "target": columns[0], "task": "regression", "reference": ref, "dvc": dvc,
                 "allow_extra": True},
        "data.columns": {c: {"type": "float", "nullable": True} for c in columns},
        "train": {"estimator": "sklearn.linear_model.Ridge"},
        "evaluate": {"metrics": ["r2"]},
        "stages": [{"name": "prep", "cmd": "python prep.py", "deps": [dep], "outs": [data, out], "before": "validate"}],
    })


@SETTINGS
@given(stem=DATA_TEXT, ref=DATA_TEXT, req=PATH_TEXT, dep=PATH_TEXT, out=OUT_TEXT,
       columns=st.lists(NAME_TEXT, min_size=1, max_size=3, unique=True), dvc=st.booleans())
@example(stem="data/in put", ref="data/référence 中文", req="requirements ü", dep="raw/données brutes.csv",
         out="out/it's [1] #x {a} ~b", columns=["classé", "a b", "数据"], dvc=True)
@example(stem="-lead/x", ref="!r", req="-r", dep="d", out="o", columns=["c"], dvc=True)
def test_paths_and_column_names_reach_every_provider_exactly(
    stem: str, ref: str, req: str, dep: str, out: str, columns: list[str], dvc: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    import shlex

    data, reference, requirements = f"{stem}.csv", f"{ref}.csv", f"{req}.txt"
    assume(len({data, reference, out}) == 3 and not out.startswith(data + "/") and not data.startswith(out.rstrip("/") + "/"))
    tmp = tmp_path_factory.mktemp("paths")
    try:
        (tmp / requirements).parent.mkdir(parents=True, exist_ok=True)
        (tmp / requirements).write_text("")
    except OSError:  # a name this file system refuses (`..`, an absolute path): the spec refuses it too
        pass
    text = _paths_spec(data, reference, requirements, dep, out, columns, dvc)
    try:
        plan, files = compile_text(text, tmp)
    except SpecError as exc:
        keys = {"data.path", "data.reference", "project.requirements[0]", "stages[0].deps[0]", "stages[0].outs[0]",
                "stages[0].outs[1]", "project.requirements"}
        # a column name holding a provider's expression opener (`$[[`, `${{`) is refused too
        named = [d for d in exc.diagnostics if d.code == "E208" and (d.path == "data.target" or d.path.startswith("data.columns."))]
        bad = [d for d in exc.diagnostics
               if not (d.code in PATH_CODES and d.path in keys) and d.code != "E211" and d not in named]
        assert not bad, str(exc)  # E211: the requirements file could not be created under that name
        event("refused: " + " ".join(sorted({d.code for d in exc.diagnostics})))
        return
    event("compiled and read back")
    settings = json.loads(files[".mlgen/plan.json"])["settings"]
    assert settings["data"]["path"] == data and settings["data"]["reference"] == reference
    assert sorted(settings["data"]["columns"]) == sorted(columns) and settings["data"]["target"] == columns[0]
    assert settings["project"]["requirements"] == [requirements]
    assert settings["stages"][0]["deps"] == [dep] and settings["stages"][0]["outs"] == [data, out]
    as_word = (lambda p: "./" + p if p.startswith("-") else p)  # noqa: E731
    for provider in plan.providers:
        read = {j.name: j for j in backends.read(provider, files)}
        setup = shlex.split(read["validate"].commands[0])
        assert setup[-2:] == ["-r", as_word(requirements)], provider
        if dvc:  # validate pulls the reference (the data comes from prep's artifact)
            assert shlex.split(read["validate"].commands[1]) == ["dvc", "pull", as_word(reference)], provider
        stage_out = (data, out.rstrip("/")) if provider == "jenkins" else (data, out)
        assert read["prep"].artifact_paths == stage_out, provider
        pointer = (lambda p: f"{p}.dvc" if dvc else p)  # noqa: E731
        if provider == "github":  # keyed on the runtime's own key file (steps.stage_cache_save)
            assert read["validate"].cache_files == ()
        elif provider == "gitlab":
            assert read["validate"].cache_files == (".mlgen/plan.json", pointer(data))
    assert_gitlab_artifacts(files, "prep", [data, out])


def _yaml(text: str, yaml11: bool = False) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(("%YAML 1.1\n---\n" if yaml11 else "") + text)
