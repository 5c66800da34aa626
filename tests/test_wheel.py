"""A wheel built from the repository works outside it: templates and schemas are inside."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.support import golden

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True,
    )
    (whl,) = out.glob("mlgen-*.whl")
    return whl


def test_wheel_contains_templates_schemas_and_pins(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "mlgen/schemas/mlproject.schema.json",
        "mlgen/templates/init/mlproject.toml.j2",
        "mlgen/backends/jenkins/render.py",
        "mlgen/backends/github/pins.json",
        "mlgen/cli.py",
        "mlgen_runtime/cli.py",
        "mlgen_runtime/requirements.txt",
    ):
        assert needed in names, needed


def test_wheel_installs_and_compiles_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # The dependencies come from this interpreter's site-packages through a .pth line (no network
    # in tests). A path listed in a .pth is not itself scanned for .pth files, so the editable
    # install of mlgen there is invisible: mlgen can only come from the wheel.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "_mlgen_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    work = tmp_path / "project"
    work.mkdir()
    golden.copy_inputs("full", work)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([py, "-c", "import mlgen; print(mlgen.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(venv)), f"mlgen imported from {where}, not the wheel"
    mlgen = venv / "bin" / "mlgen"
    res = subprocess.run([mlgen, "compile"], cwd=work, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    for rel, data in golden.expected("full").items():
        assert (work / rel).read_bytes() == data, rel
    assert (work / ".mlgen/runtime/MANIFEST.json").is_file(), "the runtime bundle comes from the wheel"
    init_dir = tmp_path / "fresh"
    init_dir.mkdir()
    assert subprocess.run([mlgen, "init"], cwd=init_dir, env=env).returncode == 0
    assert subprocess.run([mlgen, "compile"], cwd=init_dir, env=env).returncode == 0


def _third_party_imports(package: Path, module_level: bool = False) -> dict[str, set[str]]:
    """Top-level modules imported anywhere in `package` that are neither stdlib nor ours
    (`module_level`: only the imports a module runs when it is imported: not inside a function
    nor under `if TYPE_CHECKING:`)."""
    import ast

    def lazy(node: ast.AST) -> bool:
        return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) or (
            isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test))

    def walk(node: ast.AST):  # ast.walk, without descending into lazy code when module_level
        yield node
        for child in ast.iter_child_nodes(node):
            if not (module_level and lazy(child)):
                yield from walk(child)

    found: dict[str, set[str]] = {}
    for source in package.rglob("*.py"):
        for node in walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("mlgen", "mlgen_runtime", "__future__"):
                    found.setdefault(top, set()).add(source.relative_to(ROOT).as_posix())
    return found


def _requirement_names(wheel: Path, extra: str | None) -> set[str]:
    """Normalized names of the wheel's Requires-Dist: the base ones, or those of one extra."""
    import re

    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    names = set()
    for line in meta.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        marker = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", line)
        if (marker.group(1) if marker else None) == extra:
            names.add(_normal(re.split(r"[\s<>=!~;\[(]", line.split(":", 1)[1].strip())[0]))
    return names


def _extras(wheel: Path) -> list[str]:
    """The wheel's Provides-Extra names."""
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    return [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Provides-Extra:")]


def _normal(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def test_wheel_declares_every_library_the_compiler_imports(wheel: Path) -> None:
    """The install test above borrows this venv's site-packages, so it cannot notice a missing
    dependency; this reads the wheel's own Requires-Dist instead."""
    import importlib.metadata as md
    import re

    declared = _requirement_names(wheel, None)
    # what a declared dependency itself requires is installed with it (pydantic brings pydantic-core)
    reachable = set(declared)
    for dist in declared:
        for req in md.requires(dist) or []:
            if "extra ==" not in req:
                reachable.add(_normal(re.split(r"[\s<>=!~;\[(]", req)[0]))
    owners = md.packages_distributions()

    def dists(mod: str) -> set[str]:
        return {_normal(d) for d in owners.get(mod, [mod])}

    # The packages of the user-facing extras may be imported where they are needed (init --data
    # reads a file with pandas, the task of a non-scikit-learn estimator is asked of
    # scikit-learn, `mlgen run` starts a Dask LocalCluster for an engine = "dask" spec), inside a
    # function, where their absence becomes one line (tested below). The `test` extra is not one:
    # what the compiler needs must be installable by a user.
    extras = _extras(wheel)
    assert "runtime" in extras, "the wheel has no `runtime` extra"
    optional = set().union(*(_requirement_names(wheel, e) for e in extras if e != "test"))
    eager = _third_party_imports(ROOT / "compiler", module_level=True)
    missing = {mod: sorted(files) for mod, files in _third_party_imports(ROOT / "compiler").items()
               if not dists(mod) & reachable and not (dists(mod) & optional and mod not in eager)}
    assert not missing, f"imported by the compiler but not required by the wheel: {missing}"


# ------------------------------------------------------------------ `pip install mlgen`, no extras

# what the `runtime` extra brings (import names): none of it may be importable in the test's venv
RUNTIME_MODULES = ("numpy", "pandas", "scipy", "sklearn", "skops", "matplotlib", "pyarrow")


def _compiler_only_site(wheel: Path, dest: Path) -> list[str]:
    """A folder holding only the distributions `pip install mlgen` would bring: the wheel's
    requirements and theirs, recursively, linked from this interpreter's site-packages (no
    network in tests). Returns their names."""
    import importlib.metadata as md
    import re

    todo, seen = sorted(_requirement_names(wheel, None)), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            # a requirement under a marker this Python does not meet (typing-extensions on an old
            # Python, say) is not installed; a real gap shows below, when pip checks the wheel's deps
            continue
        seen.add(name)
        todo += [_normal(re.split(r"[\s<>=!~;\[(]", r)[0]) for r in dist.requires or [] if "extra ==" not in r]
        base = Path(str(dist.locate_file("")))
        for top in {f.parts[0] for f in dist.files or [] if f.parts[0] not in ("..", "__pycache__")}:
            if (base / top).exists() and not (dest / top).exists():
                (dest / top).symlink_to(base / top)
    return sorted(seen)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_wheel_without_extras_compiles_and_run_names_the_install_command(wheel: Path, tmp_path: Path) -> None:
    """The quick start: `pip install mlgen` (no extras) gives a working `mlgen compile`, and
    `mlgen run` refuses in one line that names the install command, never a traceback."""
    deps = tmp_path / "deps"
    deps.mkdir()
    names = _compiler_only_site(wheel, deps)
    assert "pydantic" in names and "scikit-learn" not in names, names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "_mlgen_compiler_deps.pth").write_text(f"{deps}\n")
    # no --no-deps: pip itself checks that the linked folder satisfies every requirement of the wheel
    res = subprocess.run([py, "-m", "pip", "install", "-q", "--no-index", str(wheel)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    found = subprocess.run([py, "-c", probe, *RUNTIME_MODULES], env=env, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", f"the venv must lack the runtime's packages: {found.stdout}"

    mlgen = str(venv / "bin" / "mlgen")
    work = tmp_path / "project"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([mlgen, *args], cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert "Traceback" not in res.stdout + res.stderr, (args, res.stdout, res.stderr)
        return res

    work.mkdir()
    assert cli("init").returncode == 0
    res = cli("compile")
    assert res.returncode == 0, res.stderr
    assert (work / ".mlgen/plan.json").is_file() and (work / ".mlgen/runtime/MANIFEST.json").is_file()
    for args in (["run"], ["run", "train"], ["run", "deploy-staging", "--approve", "production"], ["run", "--force"]):
        res = cli(*args)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert res.stdout == "", (args, res.stdout)  # nothing started: not even the starter's get-data
        (line,) = _lines(res.stderr)
        assert "pip install 'mlgen[runtime]'" in line and "scikit-learn" in line, line
    assert not (work / ".mlgen/out").exists() and not (work / "data").exists()
    # the shortest spec compiles too: its task comes from the estimator without scikit-learn
    short = tmp_path / "short"
    (short / "data").mkdir(parents=True)
    (short / "data/in.csv").write_text("x,y\n1,a\n2,b\n")
    (short / "mlproject.toml").write_text(
        '[project]\nname = "short"\n\n[data]\npath = "data/in.csv"\ntarget = "y"\n\n'
        '[train]\nestimator = "sklearn.linear_model.LogisticRegression"\n')
    work = short
    assert cli("compile").returncode == 0
    res = cli("run")
    assert res.returncode == 2 and "pip install 'mlgen[runtime]'" in res.stderr, res.stderr
    # init from one's own data reads the file with pandas: the same one line
    res = cli("init", "--data", "data/in.csv", "--target", "y", "fresh")
    assert res.returncode == 2, res.stdout + res.stderr
    (line,) = _lines(res.stderr)
    assert "pip install 'mlgen[runtime]'" in line, line
    work = tmp_path / "project"
    # the other commands, on their good and bad paths: an exit code and a message, no traceback
    assert cli("validate").returncode == 0
    assert cli("graph").returncode == 0 and cli("graph", "--mermaid").returncode == 0
    assert cli("schema").returncode == 0
    assert cli("registry", "list").returncode == 0
    for args in (["promote", "--env", "staging", "--version", "1"], ["rollback", "--env", "staging"]):
        res = cli("registry", *args)  # both load the model with skops first
        assert res.returncode == 2, res.stdout + res.stderr
        (line,) = _lines(res.stderr)
        assert "pip install 'mlgen[runtime]'" in line, line
    assert cli("run", "no-such-job").returncode == 2
    assert cli("--help").returncode == 0
    (work / "broken.toml").write_text("[project\n")
    for args in (["compile"], ["validate"], ["graph"], ["run"]):
        assert cli(*args, "--spec", "broken.toml").returncode == 2, args
