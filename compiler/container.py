"""`[serve] container = true`: the `Dockerfile` that `mlgen compile` writes for `mlgen serve`.

The image holds only what serving needs: the bundled runtime (`.mlgen/runtime/`), the plan, the
spec (the runtime checks the plan against it) and the packages of `.mlgen/install/serve.txt`,
the closure of the serving set within mlgen.lock, installed with every hash checked (uv
`--require-hashes`, uv itself bootstrapped from the lock by pip `--require-hashes`, as in the CI
jobs). The entry point is the runtime's server (runtime/image_entry.py: what `mlgen serve`
runs, from plan.json alone, no compiler in the image), bound to 0.0.0.0 (inside a container the
loopback default would be unreachable: the one documented exception) on `serve.port`; the
process runs as a non-root user; HEALTHCHECK asks /health. The registry is not copied: the
server follows its alias, so a folder registry is mounted (see docs/serve.md).

Deterministic: the text depends on the spec and on whether a lock exists, nothing else. The base
image is a full version tag for the spec's Python by default; `serve.base_image` takes a
digest-pinned `name@sha256:...` (mlgen cannot check a digest offline: it is written as given).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mlgen_runtime.contract import GENERATED_MARKER, DO_NOT_EDIT, INSTALL_DIR, PLAN_PATH, RUNTIME_DIR, RUNTIME_MODULE

if TYPE_CHECKING:
    from mlgen.spec.model import Spec

DOCKERFILE = "Dockerfile"
SERVE_INSTALL = f"{INSTALL_DIR}/serve.txt"
APP_DIR = "/app"
UID = 10001  # numeric: Kubernetes' runAsNonRoot can check it (a name it cannot)
# The `serve` extra of pyproject.toml (what the server imports besides the runtime's requirements):
# the lock's roots when a spec has a container, and the ranges of an unlocked serve.txt.
SERVE_PACKAGES = {"prometheus-client": "prometheus-client>=0.20", "starlette": "starlette>=1.0",
                  "uvicorn": "uvicorn>=0.30"}
# A full version tag per Python the spec may name (python:<X.Y>-slim floats between patch
# releases; these do not). Debian bookworm: glibc 2.36, which runs the lock's manylinux_2_28 wheels.
BASE_IMAGES = {"3.9": "python:3.9.21-slim-bookworm", "3.10": "python:3.10.16-slim-bookworm",
               "3.11": "python:3.11.11-slim-bookworm", "3.12": "python:3.12.8-slim-bookworm",
               "3.13": "python:3.13.1-slim-bookworm"}


def wanted(spec: Spec) -> bool:
    serve = getattr(spec, "serve", None)
    return bool(serve is not None and serve.container)


def lock_roots(spec: Spec) -> tuple[str, ...]:
    """What mlgen.lock must also hold for the image: the server's packages."""
    return tuple(SERVE_PACKAGES.values()) if wanted(spec) else ()


def base_image(spec: Spec) -> str:
    given = spec.serve.base_image  # type: ignore[union-attr]
    if given:
        return given
    return BASE_IMAGES.get(spec.project.python, f"python:{spec.project.python}-slim-bookworm")


def environment(spec: Spec) -> str | None:
    """The environment served: serve.environment, else the last of [[deploy.environments]]."""
    env = spec.serve.environment  # type: ignore[union-attr]
    if env:
        return env
    envs = spec.deploy.environments if spec.deploy is not None else []
    return envs[-1].name if envs else None


def log_dir(spec: Spec) -> str | None:
    serve = spec.serve  # type: ignore[union-attr]
    env = environment(spec)
    return serve.log_dir or (f"predictions/{env}" if env else None)


def install_set(spec: Spec) -> tuple[str, ...]:
    """The serving packages besides the project's requirements files: the core runtime without
    matplotlib, pyarrow (the prediction log), the registry's client and the server."""
    from mlgen.plan.lower import CORE, registry_tools

    return tuple(sorted({*CORE, "pyarrow", *registry_tools(spec), *SERVE_PACKAGES}))


def _json(words: list[str]) -> str:
    """A Dockerfile exec-form array (JSON, the one form with no shell in between)."""
    return json.dumps(words, ensure_ascii=False)


def _copy(src: str, dest: str) -> str:
    # the JSON form keeps blanks; `$` would still be expanded by the builder: escaped
    return "COPY " + _json([src.replace("$", "\\$"), dest.replace("$", "\\$")])


def dockerfile(spec: Spec, spec_path: str, locked: bool) -> str:
    """The Dockerfile text (`spec_path`: the spec relative to the build context, the output folder)."""
    serve = spec.serve  # type: ignore[union-attr]
    port = int(serve.port)
    logs = log_dir(spec)
    image = base_image(spec)
    registry = _folder_registry(spec)
    lines = [
        f"# {GENERATED_MARKER} from {spec_path} - {DO_NOT_EDIT}; `mlgen compile` rewrites it",
        "# `mlgen serve` as an image; build it from this folder: docker build -t NAME .",
        f"# run it: docker run -p {port}:{port}" + (f" -v \"$PWD/{registry}:{APP_DIR}/{registry}:ro\"" if registry else "")
        + " NAME" + ("  (the folder registry is mounted: the server follows its alias)" if registry else ""),
        *([f"# the prediction log is written to {APP_DIR}/{logs}: mount a volume there to keep it"] if logs else []),
        "# base image: " + ("serve.base_image as written (pin it by digest, name@sha256:...; mlgen cannot check a "
                            "digest offline)" if serve.base_image else
                            "a full version tag for project.python; pin it by digest with serve.base_image"),
        f"FROM {image}",
        "ENV PYTHONDONTWRITEBYTECODE=1 \\",
        "    PYTHONUNBUFFERED=1 \\",
        "    PIP_NO_CACHE_DIR=1 \\",
        "    PIP_DISABLE_PIP_VERSION_CHECK=1 \\",
        f"    PYTHONPATH={APP_DIR}/{RUNTIME_DIR}",
        f"WORKDIR {APP_DIR}",
        f"RUN groupadd --system --gid {UID} mlgen \\",
        f" && useradd --system --uid {UID} --gid {UID} --no-create-home --home-dir {APP_DIR} --shell /usr/sbin/nologin mlgen",
    ]
    if locked:  # the lock's pins and hashes: uv bootstrapped by pip, then every package checked
        lines += [
            f"COPY {INSTALL_DIR}/uv.txt {SERVE_INSTALL} {INSTALL_DIR}/",
            f"RUN python -m pip install --no-deps --require-hashes -r {INSTALL_DIR}/uv.txt \\",
            f" && python -m uv pip install --system --no-cache --require-hashes -r {SERVE_INSTALL}",
        ]
    else:  # no mlgen.lock (compile warns): ranges, not hash-checked
        reqs = list(spec.project.requirements)
        lines += [f"COPY {SERVE_INSTALL} {INSTALL_DIR}/"]
        lines += [_copy(r, f"./{r}") for r in reqs]
        lines += ["RUN python -m pip install -r " + " -r ".join([SERVE_INSTALL, *(_shell(r) for r in reqs)])]
    lines += [
        _copy(spec_path, f"./{spec_path}"),
        f"COPY {PLAN_PATH} {PLAN_PATH}",
        f"COPY {RUNTIME_DIR}/ {RUNTIME_DIR}/",
    ]
    if logs:  # the one folder the server writes
        lines += [f"RUN mkdir -p {_shell(logs)} && chown {UID}:{UID} {_shell(logs)}"]
    lines += [
        f"USER {UID}:{UID}",
        f"EXPOSE {port}",
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \\",
        "  CMD " + _json(["python", "-c", f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health', timeout=4)"]),
        "ENTRYPOINT " + _json(entry_point(spec)),
    ]
    return "\n".join(lines) + "\n"


def entry_point(spec: Spec) -> list[str]:
    """The server command: 0.0.0.0 inside the container (the documented exception)."""
    serve = spec.serve  # type: ignore[union-attr]
    env = environment(spec)
    return ["python", "-m", f"{RUNTIME_MODULE}.image_entry", "--plan", PLAN_PATH, "--env", env or "",
            "--host", "0.0.0.0", "--port", str(serve.port)]


def _shell(path: str) -> str:
    import shlex  # RUN lines go to /bin/sh as written: the builder expands no `$` there

    return shlex.quote(path)


def _folder_registry(spec: Spec) -> str | None:
    from mlgen.spec.rules import is_mlflow, is_object_store

    reg = spec.deploy.registry if spec.deploy is not None else None
    return reg if reg is not None and not is_mlflow(reg) and not is_object_store(reg) else None


def install_text(spec: Spec, lock_text: str | None) -> str:
    """.mlgen/install/serve.txt: the serving set's closure in the lock (pins and hashes), or,
    without a lock, the runtime's ranges and the server's."""
    from mlgen.lockfile import INSTALL_HEADER, LOCK_NAME, closure, normalize, parse, project_roots, runtime_ranges

    names = install_set(spec)
    if lock_text is None:
        ranges = {**runtime_ranges(), **SERVE_PACKAGES}
        return (INSTALL_HEADER.replace(f"from {LOCK_NAME}", "(no lock: ranges)")
                + "\n".join(ranges.get(n, n) for n in names) + "\n")
    entries = parse(lock_text)
    missing = sorted(n for n in SERVE_PACKAGES if n not in entries)
    if missing:
        from mlgen.errors import UsageError

        raise UsageError(f"{LOCK_NAME} has no {', '.join(missing)} (serve.container needs the server's packages); "
                         "run `mlgen lock`")
    keep = closure(entries, {normalize(n) for n in names} | project_roots(entries, spec))
    return INSTALL_HEADER + "".join(entries[n].text for n in keep)


def files(spec: Spec, spec_path: str, lock_text: str | None) -> dict[str, str]:
    """{path: text} compile adds for a container: the Dockerfile and its install file."""
    if not wanted(spec):
        return {}
    if spec_path.startswith("../"):
        from mlgen.errors import UsageError

        raise UsageError(f"serve.container: the spec ({spec_path}) is outside the output folder, which is the "
                         "image's build context; compile with --out at or above the spec's folder")
    return {DOCKERFILE: dockerfile(spec, spec_path, lock_text is not None), SERVE_INSTALL: install_text(spec, lock_text)}
