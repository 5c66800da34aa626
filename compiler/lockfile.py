"""`mlgen lock` and what `mlgen compile` derives from the lock.

The lock (mlgen.lock, next to the spec) is `uv pip compile --generate-hashes` output for the
spec's Python on Linux, of the union of what any job installs: the runtime's requirements, the
tools lowering adds (dvc, the registry's client), the project's requirements files and uv itself.
Its header records the target and `lockcheck.inputs_sha256` of the inputs, so a stale lock is
found by compile, `compile --check` and the first step of every CI job alike. Each job's
`.mlgen/install/<job>.txt` is the closure of that job's roots within the lock (the `# via` lines
are the edges), with the lock's exact pins and hashes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlgen.errors import UsageError
from mlgen_runtime.contract import GENERATED_MARKER, INSTALL_DIR, RUNTIME_DIR
from mlgen_runtime.lockcheck import INPUTS_PATH, LOCK_NAME, inputs_sha256, recorded_sha256

if TYPE_CHECKING:
    from mlgen.spec.model import Spec
    from mlgen_runtime.contract import Plan

PLATFORM = "x86_64-manylinux_2_28"  # GitHub's ubuntu runners, python:3.x images (glibc >= 2.28)
ROOTS_LABEL = "mlgen-roots.in"  # how `# via` lines name the runtime's and tools' requirements
RUNTIME_REQUIREMENTS = Path(__file__).resolve().parent.parent / "runtime" / "requirements.txt"
INSTALL_HEADER = f"# {GENERATED_MARKER} from {LOCK_NAME} - do not edit; `mlgen compile` rewrites it\n"
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_lines() -> list[str]:
    from mlgen.bundle import bundle_files  # the bundled copy is what CI installs

    text = bundle_files()[f"{RUNTIME_DIR}/requirements.txt"]
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def runtime_ranges() -> dict[str, str]:
    """{normalized name: requirement line} of the bundled runtime's requirements."""
    return {normalize(_NAME.match(ln).group(1)): ln for ln in _runtime_lines()}  # type: ignore[union-attr]


def roots(spec: Spec) -> list[str]:
    """The lock's root requirements besides the project's files: runtime ranges, tools (the
    server's packages when the spec has a container), uv."""
    from mlgen.container import lock_roots
    from mlgen.plan.lower import tools

    return sorted({*_runtime_lines(), *tools(spec), *lock_roots(spec), "uv"})


def current_sha256(spec: Spec, spec_dir: Path) -> str:
    try:
        files = {r: (spec_dir / r).read_bytes() for r in spec.project.requirements}
    except OSError as exc:
        raise UsageError(f"cannot read a project.requirements file: {exc}") from None
    return inputs_sha256(spec.project.python, PLATFORM, roots(spec), files)


def header(spec: Spec, spec_dir: Path) -> str:
    return (
        f"# {LOCK_NAME}: written by `mlgen lock` - do not edit; `mlgen lock --upgrade` bumps the pins\n"
        f"# python: {spec.project.python}\n"
        f"# platform: {PLATFORM}\n"
        f"# inputs-sha256: {current_sha256(spec, spec_dir)}\n"
    )


def _uv() -> str:
    try:
        import uv
        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        raise UsageError("uv is not installed (pip install uv); `mlgen lock` resolves with it") from None


def write_lock(spec: Spec, spec_dir: Path, upgrade: bool) -> Path:
    """Resolve and write spec_dir/mlgen.lock atomically; UsageError (one line) on any failure,
    leaving the old lock untouched."""
    from mlgen.writer import write_atomic

    lock = spec_dir / LOCK_NAME
    with tempfile.TemporaryDirectory(prefix="mlgen-lock-") as tmp:
        src = Path(tmp) / ROOTS_LABEL
        src.write_text("\n".join(roots(spec)) + "\n", encoding="utf-8")
        out = Path(tmp) / LOCK_NAME
        if lock.exists() and not upgrade:  # uv keeps the output file's pins as preferences
            out.write_bytes(lock.read_bytes())
        cmd = [_uv(), "pip", "compile", "--quiet", "--no-header", "--generate-hashes",
               "--python-version", spec.project.python, "--python-platform", PLATFORM,
               "--no-config", "--output-file", str(out), str(src), *spec.project.requirements]
        if upgrade:
            cmd.append("--upgrade")
        env = {**os.environ, "UV_NO_PROGRESS": "1"}
        proc = subprocess.run(cmd, cwd=spec_dir, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
            why = " ".join(lines[:3])[:400] or f"uv exited with {proc.returncode}"
            raise UsageError(f"cannot resolve the lock: {why}")
        body = out.read_text(encoding="utf-8").replace(str(src), ROOTS_LABEL)
    body = "\n".join(ln for ln in body.splitlines() if not ln.startswith("#")) .lstrip("\n")
    try:
        write_atomic(lock, header(spec, spec_dir) + body.rstrip("\n") + "\n", durable=True)
    except OSError as exc:
        raise UsageError(f"cannot write {lock}: {exc.strerror or exc}") from None
    return lock


@dataclass(frozen=True)
class Entry:
    name: str  # normalized
    text: str  # the requirement line, its hashes and its `# via` lines
    via: tuple[str, ...]  # normalized package names, or "-r <file>"


def parse(lock_text: str) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    block: list[str] = []

    def flush() -> None:
        if not block:
            return
        via: list[str] = []
        for ln in block[1:]:
            s = ln.strip()
            if s.startswith("# via"):
                rest = s[len("# via"):].strip()
                if rest:
                    via.append(rest)
            elif s.startswith("#"):
                via.append(s[1:].strip())
        m = _NAME.match(block[0])
        if m is not None:  # an option line (--index-url ...) names no package
            name = normalize(m.group(1))
            entries[name] = Entry(name, "\n".join(block) + "\n",
                                  tuple(v if v.startswith("-r ") else normalize(v) for v in via if v))
        block.clear()

    for ln in lock_text.splitlines():
        if not ln.strip() or (ln.startswith("#") and not block):
            continue
        if not ln[0].isspace() and not ln.startswith("#"):
            flush()
        if block or not ln[0].isspace():
            block.append(ln)
    flush()
    return entries


def closure(entries: dict[str, Entry], start: set[str]) -> list[str]:
    """`start` and everything they (transitively) depend on within the lock, sorted."""
    children: dict[str, set[str]] = {}
    for e in entries.values():
        for v in e.via:
            children.setdefault(v, set()).add(e.name)
    seen: set[str] = set()
    todo = [n for n in start if n in entries]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(children.get(n, ()))
    return sorted(seen)


def project_roots(entries: dict[str, Entry], spec: Spec) -> set[str]:
    files = {f"-r {r}" for r in spec.project.requirements}
    return {e.name for e in entries.values() if files & set(e.via)}


def install_files(spec: Spec, plan: Plan, lock_text: str | None) -> dict[str, str]:
    """{path: text} of .mlgen/install/: per job its set (locked: pins and hashes; unlocked: the
    runtime's ranges), and with a lock uv.txt and the lock check's inputs.json."""
    from mlgen.plan.lower import install_file, install_set

    ranges = runtime_ranges()
    files: dict[str, str] = {}
    if lock_text is None:
        for job in plan.jobs:
            lines = [ranges.get(n, n) for n in install_set(spec, job)]
            files[install_file(job.name)] = INSTALL_HEADER.replace(f"from {LOCK_NAME}", "(no lock: ranges)") + "\n".join(lines) + "\n"
        return files
    entries = parse(lock_text)
    extra = project_roots(entries, spec)
    for job in plan.jobs:
        names = closure(entries, {normalize(n) for n in install_set(spec, job)} | extra)
        files[install_file(job.name)] = INSTALL_HEADER + "".join(entries[n].text for n in names)
    if "uv" in entries:
        files[f"{INSTALL_DIR}/uv.txt"] = INSTALL_HEADER + entries["uv"].text
    files[INPUTS_PATH] = json.dumps({
        "lock": LOCK_NAME, "python": spec.project.python, "platform": PLATFORM,
        "roots": roots(spec), "requirements": list(spec.project.requirements),
    }, indent=2, sort_keys=True) + "\n"
    return files


def stale(spec: Spec, spec_dir: Path, lock_text: str) -> bool:
    return recorded_sha256(lock_text) != current_sha256(spec, spec_dir)


def lock_warnings(spec: Spec, spec_dir: Path, plan: Plan) -> list[str]:
    """compile advice: no lock, or a stale one."""
    lock = spec_dir / LOCK_NAME
    if not lock.exists():
        return [f"no {LOCK_NAME}: installs are not pinned; run `mlgen lock`"]
    if stale(spec, spec_dir, lock.read_text(encoding="utf-8")):
        return [f"{LOCK_NAME} is stale (its inputs changed); run `mlgen lock`"]
    return []


def lock_cmd(spec_file: Path, upgrade: bool) -> int:
    from mlgen.compile import shown_path
    from mlgen.spec.load import load_spec

    loaded = load_spec(spec_file, display=shown_path(spec_file))
    lock = write_lock(loaded.spec, spec_file.parent, upgrade)
    n = len(parse(lock.read_text(encoding="utf-8")))
    print(f"mlgen: wrote {shown_path(lock)} ({n} packages, python {loaded.spec.project.python}, {PLATFORM})", file=sys.stdout)
    return 0


def locked_versions(lock_text: str) -> dict[str, str]:
    """{normalized name: exact version} of every package in the lock."""
    out: dict[str, str] = {}
    for name, entry in parse(lock_text).items():
        first = entry.text.split("\n", 1)[0]
        if "==" in first:
            out[name] = first.split("==", 1)[1].split()[0].rstrip("\\").split(";")[0].strip()
    return out
