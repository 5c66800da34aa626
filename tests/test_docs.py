"""The docs cannot rot: the tutorial's and the migration page's commands run for real, the spec
reference is regenerated from the schema and compared, and the example spec validates.

Convention for runnable blocks in docs/*.md (the first word of the info string is the language,
so GitHub still highlights them; `test` is an extra word it ignores):

    ```console test      lines starting with `$ ` are commands, run one by one with bash; the
                         other lines are output the command must print, in that order (an ordered
                         subsequence of its stdout+stderr, whitespace collapsed; `…` matches
                         anything; lines made only of box-drawing characters are ignored). A
                         command ending in `# exit N` must exit with N, every other one with 0.
    ```sh test           the whole block runs as one `bash -euo pipefail` script.

Every test block of a page runs in order in one fresh temporary folder, with the installed
`mlgen` first on PATH; a `cd` in a console command carries over to the next command.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlgen import docgen
from mlgen.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent

FENCE = re.compile(r"^```(\S*)[ \t]*(.*)$")
EXIT = re.compile(r"\s#\s*exit\s+(\d+)\s*$")
BOX_ONLY = re.compile(r"^[\s\u2500-\u257f]*$")


# --------------------------------------------------------------------------- extraction


@dataclass(frozen=True)
class Command:
    cmd: str
    expect: tuple[str, ...]  # output lines, in order
    code: int
    line: int  # in the Markdown file


@dataclass(frozen=True)
class Block:
    lang: str  # console | sh
    line: int
    commands: tuple[Command, ...] = ()
    script: str = ""


def runnable_blocks(path: Path) -> list[Block]:
    """The fenced blocks marked `test`, in file order."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        lang, info, start = m.group(1), m.group(2).split(), i + 1
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        i += 1
        if "test" not in info:
            continue
        if lang == "sh":
            blocks.append(Block("sh", start, script="\n".join(body) + "\n"))
        elif lang == "console":
            blocks.append(Block("console", start, commands=tuple(_console_commands(body, start))))
        else:
            raise AssertionError(f"{path.name}:{start}: `test` blocks are console or sh, not {lang!r}")
    return blocks


def _console_commands(body: list[str], start: int) -> list[Command]:
    out: list[Command] = []
    for n, text in enumerate(body, start=start + 1):
        if text.startswith("$ "):
            cmd = text[2:]
            m = EXIT.search(cmd)
            code = int(m.group(1)) if m else 0
            out.append(Command(cmd, (), code, n))
        elif out:
            last = out[-1]
            out[-1] = Command(last.cmd, (*last.expect, text), last.code, last.line)
        elif text.strip():
            raise AssertionError(f"line {n}: output before the first `$ ` command")
    return out


# --------------------------------------------------------------------------- running


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "MLGEN_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="Docs Tester",
        GIT_AUTHOR_EMAIL="docs@example.com",
        GIT_COMMITTER_NAME="Docs Tester",
        GIT_COMMITTER_EMAIL="docs@example.com",
        NO_COLOR="1",
        COLUMNS="100",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _collapse(s: str) -> str:
    return " ".join(s.split())


def _pattern(expected: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in _collapse(expected).split("…")]
    return re.compile(".*?".join(parts))


def missing_output(expected: tuple[str, ...], actual: str) -> str | None:
    """The first expected line not found (in order) in `actual`, else None."""
    lines = [_collapse(line) for line in actual.splitlines()]
    pos = 0
    for want in expected:
        if BOX_ONLY.match(want) or not want.strip():
            continue
        pat = _pattern(want)
        while pos < len(lines) and not pat.fullmatch(lines[pos]):
            pos += 1
        if pos == len(lines):
            return want
        pos += 1
    return None


def run_page(page: Path, workdir: Path) -> int:
    """Run every test block of `page` in `workdir`; returns how many commands ran."""
    blocks = runnable_blocks(page)
    assert blocks, f"{page.name} has no test blocks"
    env = _env(workdir)
    cwd = workdir
    pwd_file = workdir.parent / f".{workdir.name}-pwd"
    ran = 0
    for block in blocks:
        where = f"{page.name}:{block.line}"
        if block.lang == "sh":
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block.script], cwd=cwd, env=env,
                                  capture_output=True, text=True)
            assert proc.returncode == 0, f"{where}: sh block exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            ran += 1
            continue
        for c in block.commands:
            script = f'{c.cmd}\nrc=$?\npwd > "{pwd_file}"\nexit $rc\n'
            proc = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True)
            output = proc.stdout + proc.stderr
            at = f"{page.name}:{c.line}: `{c.cmd}`"
            assert proc.returncode == c.code, f"{at} exited {proc.returncode}, expected {c.code}\n{output}"
            gone = missing_output(c.expect, output)
            assert gone is None, f"{at}: expected output line not found (in order):\n  {gone}\nactual output:\n{output}"
            cwd = Path(pwd_file.read_text().strip())
            ran += 1
    return ran


# --------------------------------------------------------------------------- the harness itself


def test_extraction_convention(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```console\n$ not run\n```\n"
        "```console test\n$ echo hello world\nhello   world\n$ false  # exit 1\n```\n"
        "```sh test\nx=1\necho $x\n```\n"
        "```toml\na = 1\n```\n"
    )
    blocks = runnable_blocks(page)
    assert [b.lang for b in blocks] == ["console", "sh"]
    assert blocks[0].commands == (
        Command("echo hello world", ("hello   world",), 0, 6),
        Command("false  # exit 1", (), 1, 8),
    )
    assert blocks[1].script == "x=1\necho $x\n"
    work = tmp_path / "work"
    work.mkdir()
    assert run_page(page, work) == 3


def test_output_matching() -> None:
    out = "a  b\n┏━━┓\nx 1.5 y\nz\n"
    assert missing_output(("a b", "x … y", "z"), out) is None
    assert missing_output(("━━━", "z"), out) is None  # box-drawing lines are decoration
    assert missing_output(("z", "a b"), out) == "a b"  # order matters
    assert missing_output(("x 2 y",), out) == "x 2 y"


# --------------------------------------------------------------------------- the pages


@pytest.mark.slow
def test_tutorial_runs(tmp_path: Path) -> None:
    """Every command of docs/tutorial.md, in order, from an empty folder (trains models)."""
    if shutil.which("git") is None:
        pytest.fail("git is needed by the tutorial", pytrace=False)
    work = tmp_path / "work"
    work.mkdir()
    ran = run_page(DOCS / "tutorial.md", work)
    assert ran >= 15
    project = work / "my-model"
    assert (project / ".github" / "workflows" / "mlgen.yml").is_file()
    assert (project / ".gitlab-ci.yml").is_file() and (project / "Jenkinsfile").is_file()


def test_tutorial_covers_the_commands() -> None:
    """The tutorial runs (not just mentions) each step a newcomer needs."""
    cmds = [c.cmd for b in runnable_blocks(DOCS / "tutorial.md") for c in b.commands]
    cmds += [b.script for b in runnable_blocks(DOCS / "tutorial.md") if b.lang == "sh"]
    text = "\n".join(cmds)
    for needle in [
        "mlgen init my-model --template classification", "mlgen validate", "mlgen compile",
        "mlgen graph", "mlgen run", "--approve production", "mlgen registry list",
        "mlgen registry rollback --env", "git commit", "mlgen compile --check", "mlgen run --schedule",
        "report.md",
    ]:
        assert needle in text, f"the tutorial does not run `{needle}`"


@pytest.mark.slow
def test_migration_page_runs(tmp_path: Path) -> None:
    """The commands of docs/migration.md, for real: GitHub -> GitLab -> Jenkins."""
    work = tmp_path / "work"
    work.mkdir()
    assert run_page(DOCS / "migration.md", work) >= 5


def _providers(spec: Path, names: list[str]) -> None:
    text = spec.read_text()
    new, n = re.subn(r"(?m)^providers = \[.*\]", "providers = [" + ", ".join(f'"{p}"' for p in names) + "]", text)
    assert n == 1
    spec.write_text(new)


def test_switch_github_to_gitlab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """What docs/migration.md promises: one word in ci.providers, recompile, delete the old files."""
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--template", "classification"]) == 0
    spec = tmp_path / "mlproject.toml"
    _providers(spec, ["github"])
    assert main(["compile", "--quiet"]) == 0
    gh = tmp_path / ".github" / "workflows" / "mlgen.yml"
    gh_rollback = tmp_path / ".github" / "workflows" / "mlgen-rollback.yml"
    assert gh.is_file() and gh_rollback.is_file()
    assert not (tmp_path / ".gitlab-ci.yml").exists() and not (tmp_path / "Jenkinsfile").exists()
    runtime_before = (tmp_path / ".mlgen" / "runtime" / "MANIFEST.json").read_text()

    _providers(spec, ["gitlab"])
    capsys.readouterr()
    assert main(["compile"]) == 0
    out = capsys.readouterr().out
    gl = tmp_path / ".gitlab-ci.yml"
    assert gl.is_file() and "new" in out and ".gitlab-ci.yml" in out
    head = gl.read_text().splitlines()[0]
    assert head.startswith("# generated by mlgen from mlproject.toml")
    # the same jobs, the same commands: only the provider's file differs
    gl_text, gh_text = gl.read_text(), gh.read_text()
    import json

    plan = json.loads((tmp_path / ".mlgen" / "plan.json").read_text())
    commands = [c for job in plan["jobs"] for c in job["commands"]]
    assert "python scripts/make_data.py data" in commands and len(commands) >= 6
    for line in commands:
        assert line in gl_text, line
        assert line in gh_text or line in gh_rollback.read_text(), line
    assert "when: manual" in gl_text and "resource_group: production" in gl_text
    assert "MLGEN_REGISTRY" in gl_text and "MLGEN_GITLAB_TOKEN" in gl_text
    # compile never deletes: the GitHub files are still there until you remove them
    assert gh.is_file() and gh_rollback.is_file()
    assert (tmp_path / ".mlgen" / "runtime" / "MANIFEST.json").read_text() == runtime_before
    gh.unlink()
    gh_rollback.unlink()
    assert main(["compile", "--check"]) == 0

    _providers(spec, ["jenkins"])
    assert main(["compile", "--quiet"]) == 0
    jf = (tmp_path / "Jenkinsfile").read_text()
    assert "input {" in jf and "lock(resource: 'mlgen-deploy-production')" in jf
    assert "MLGEN_ROLLBACK" in jf
    gl.unlink()
    assert main(["compile", "--check"]) == 0


# --------------------------------------------------------------------------- the reference


def test_reference_is_current() -> None:
    """docs/reference.md is what `python -m mlgen.docgen` writes from the committed schema."""
    expected = docgen.generate()
    actual = (DOCS / "reference.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/reference.md is stale; run `python -m mlgen.docgen`"


def test_docgen_check_cli(tmp_path: Path) -> None:
    out = tmp_path / "reference.md"
    cmd = [sys.executable, "-m", "mlgen.docgen", "--out", str(out)]
    assert subprocess.run([*cmd, "--check"], capture_output=True).returncode == 1  # missing
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    first = out.read_bytes()
    assert subprocess.run([*cmd, "--check"], capture_output=True).returncode == 0
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert out.read_bytes() == first  # deterministic
    out.write_text(first.decode() + "edited\n")
    proc = subprocess.run([*cmd, "--check"], capture_output=True, text=True)
    assert proc.returncode == 1 and "stale" in proc.stderr


def _schema_keys(schema: dict, node: dict, path: tuple[str, ...], out: set[tuple[str, ...]]) -> None:
    """Every (path..., key) of the schema, walked independently of docgen."""
    def deref(n: dict) -> dict:
        while "$ref" in n:
            n = schema["$defs"][n["$ref"].rsplit("/", 1)[1]]
        return n

    node = deref(node)
    for alt in node.get("anyOf", []):
        _schema_keys(schema, alt, path, out)
    for key, prop in node.get("properties", {}).items():
        out.add((*path, key))
        _schema_keys(schema, prop, (*path, key), out)
    if isinstance(node.get("items"), dict):
        _schema_keys(schema, node["items"], path, out)
    if isinstance(node.get("additionalProperties"), dict):
        _schema_keys(schema, node["additionalProperties"], path, out)  # a map's entries: its own section


def test_reference_documents_every_key() -> None:
    import json

    schema = json.loads(docgen.SCHEMA.read_text())
    keys: set[tuple[str, ...]] = set()
    _schema_keys(schema, schema, (), keys)
    text = docgen.generate()
    sections = {m.group(1): m.start() for m in re.finditer(r'<a id="([^"]+)"></a>', text)}
    for key in sorted(keys):
        parent = ".".join(key[:-1])
        anchor = docgen.anchor(parent)
        assert anchor in sections, f"no section for {parent!r}"
        start = sections[anchor]
        end = min([p for p in sections.values() if p > start], default=len(text))
        assert f"| `{key[-1]}` |" in text[start:end], f"{'.'.join(key)} is not in the reference"


def test_docgen_is_generic() -> None:
    """A schema docgen has never seen: refs, nullable refs, maps, arrays of tables, enums,
    patterns, bounds, a const and a type list - all rendered, nothing hard-coded."""
    schema = {
        "$defs": {
            "Thing": {
                "type": "object",
                "description": "A thing.",
                "properties": {
                    "mode": {"enum": ["a", "b"], "type": "string", "default": "a"},
                    "size": {"type": "integer", "minimum": 2, "maximum": 9},
                    "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                    "tag": {"type": "string", "pattern": "^x+$"},
                    "kind": {"const": "k"},
                    "either": {"type": ["string", "null"], "default": None},
                },
                "required": ["size"],
            },
            "Item": {"type": "object", "properties": {"id": {"type": "string", "minLength": 1},
                                                      "weight": {"type": "number", "default": 1.5}}},
        },
        "type": "object",
        "properties": {
            "thing": {"anyOf": [{"$ref": "#/$defs/Thing"}, {"type": "null"}], "default": None},
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            "named": {"type": "object", "additionalProperties": {"$ref": "#/$defs/Item"}},
            "scores": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
        },
        "required": ["thing"],
    }
    text = docgen.render(schema, {"thing": {"size": 3}, "named": {"first": {"id": "x"}}})
    assert text == docgen.render(schema, {"thing": {"size": 3}, "named": {"first": {"id": "x"}}})
    for needle in [
        "## `[thing]`", "## `[[items]]`", "## `[named]`", "A thing.",
        '| `mode` | string | `"a"` | one of `"a"`, `"b"` |',
        "| `size` | integer | **required** | from 2 to 9 |",
        "| `ratio` | number | optional | > 0 and < 1 |",
        "matches `^x+$`", "exactly `\"k\"`",
        "| `either` | string | none |",
        "| `scores` | table of numbers | optional | keys: your names; each value: ≥ 0 |",
        "| `id` | string | optional | not empty |",
        '```toml\n[thing]\nsize = 3\n```', '[named]\nfirst = { id = "x" }',
        "Example (the defaults):\n\n```toml\n[[items]]\nweight = 1.5\n```",
    ]:
        assert needle in text, needle


def test_example_spec_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/examples/mlproject.toml (where the reference's examples come from) is a valid spec."""
    monkeypatch.chdir(DOCS / "examples")
    assert main(["validate", "--spec", "mlproject.toml"]) == 0


def test_docs_index_links_resolve() -> None:
    """Relative links between the docs (and to the repository) point at files that exist."""
    for page in sorted(DOCS.glob("*.md")):
        text = re.sub(r"(?ms)^```.*?^```", "", page.read_text(encoding="utf-8"))  # fenced blocks
        text = re.sub(r"(`+)[^\n]*?(?<!`)\1(?!`)", "", text)  # code spans (same-length fences)
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"^[a-z]+:", target):
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("docs/README.md", "docs/tutorial.md", "docs/reference.md", "docs/migration.md", "docs/providers.md"):
        assert f"]({name})" in readme, f"README.md does not link {name}"
