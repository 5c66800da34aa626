"""The runtime bundle: `mlgen compile` copies the stage runtime into `.mlgen/runtime/`, like a
build-tool wrapper, so the generated pipelines need no unpublished package.

Each file gets mlgen's generated-file header; MANIFEST.json lists the sha256 of every bundled
file, and the runtime checks it before any stage runs (an edited bundle fails the job)."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

from mlgen_runtime.contract import DO_NOT_EDIT, GENERATED_MARKER, MANIFEST, RUNTIME_DIR, RUNTIME_MODULE
HEADER = f"{GENERATED_MARKER} (bundled stage runtime) - {DO_NOT_EDIT}; `mlgen compile` rewrites it."


def _sources() -> dict[str, str]:
    """Package-relative name -> text of every runtime file that is bundled."""
    pkg = resources.files(RUNTIME_MODULE)
    out = {}
    for item in pkg.iterdir():
        if item.is_file() and (item.name.endswith(".py") or item.name == "requirements.txt"):
            out[item.name] = item.read_text(encoding="utf-8")
    return dict(sorted(out.items()))


def bundle_files() -> dict[str, str]:
    """{path relative to the output dir: text} for the whole bundle, manifest included."""
    files: dict[str, str] = {}
    for name, text in _sources().items():
        if name == "requirements.txt":
            rel = "requirements.txt"
        else:
            rel = f"{RUNTIME_MODULE}/{name}"
        files[rel] = f"# {HEADER}\n{text}"
    manifest = {
        "_generated": f"{GENERATED_MARKER} - {DO_NOT_EDIT}",
        "module": RUNTIME_MODULE,
        "runtime_version": _version(files[f"{RUNTIME_MODULE}/__init__.py"]),
        "files": {rel: hashlib.sha256(text.encode("utf-8")).hexdigest() for rel, text in sorted(files.items())},
    }
    files[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return {f"{RUNTIME_DIR}/{rel}": text for rel, text in sorted(files.items())}


def _version(init_text: str) -> str:
    for line in init_text.splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"
