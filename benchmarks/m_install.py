"""Setup seconds per job: what a generated job spends installing before it runs anything.

pip installing the runtime's ranges (runtime/requirements.txt, what unlocked jobs do) against uv
installing the same packages from a hash-checked lock (`uv pip compile --generate-hashes`, what
locked jobs do: bootstrap uv with pip from its pinned hashes, then `uv pip install
--require-hashes`). Each install goes into a fresh venv from the package index, cold (empty
download cache, as a job's first run) and warm (the cache a provider restores). Needs the
package index, so it runs only with the peers (not under --no-peers).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from common import REPO, Row, Size, Tools, bench_env, fresh_dir, interleave, median, run, seconds

REQUIREMENTS = REPO / "runtime" / "requirements.txt"
WARM_GOAL = 10.0  # seconds of setup per job, warm (issue 15)


def _venv(work: Path, name: str) -> Path:
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    return folder / "bin" / "python"


def _lock(tools: Tools, work: Path) -> tuple[Path, Path]:
    """The runtime's requirements and uv itself, locked with hashes for this machine's Python."""
    lock, uv_lock = work / "runtime.lock", work / "uv.lock"
    uv_version = subprocess.run([str(tools.python), "-c", "import importlib.metadata as m; print(m.version('uv'))"],
                                capture_output=True, text=True, check=True).stdout.strip()
    (work / "uv.in").write_text(f"uv=={uv_version}\n")
    for src, dst in ((REQUIREMENTS, lock), (work / "uv.in", uv_lock)):
        subprocess.run([str(tools.python), "-m", "uv", "pip", "compile", "--quiet", "--generate-hashes",
                        "--no-header", str(src), "-o", str(dst)], check=True, cwd=work)
    return lock, uv_lock


def measure(tools: Tools, size: Size, work: Path) -> list[Row]:
    if tools.peers_venv is None:  # --no-peers: no package index
        return []
    root = fresh_dir(work / "install")
    lock, uv_lock = _lock(tools, root)
    pip_cache, uv_cache = root / "pip-cache", root / "uv-cache"
    reps = 3 if size.name == "full" else 1

    def pip(cold: bool) -> float:
        py = _venv(root, "venv-pip")
        if cold:
            shutil.rmtree(pip_cache, ignore_errors=True)
        env = bench_env({"PIP_CACHE_DIR": str(pip_cache), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        return run([py, "-m", "pip", "install", "-q", "-r", REQUIREMENTS], root, env)

    def uv(cold: bool) -> float:
        py = _venv(root, "venv-uv")
        if cold:
            shutil.rmtree(uv_cache, ignore_errors=True)
            shutil.rmtree(pip_cache, ignore_errors=True)
        env = bench_env({"UV_CACHE_DIR": str(uv_cache), "PIP_CACHE_DIR": str(pip_cache),
                         "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        t = run([py, "-m", "pip", "install", "-q", "--no-deps", "--require-hashes", "-r", uv_lock], root, env)
        return t + run([py, "-m", "uv", "pip", "install", "-q", "--python", py, "--require-hashes", "-r", lock], root, env)

    cold = interleave({"pip": lambda: pip(True), "uv": lambda: uv(True)}, reps)
    warm = interleave({"pip": lambda: pip(False), "uv": lambda: uv(False)}, reps)
    c = {k: median(v) for k, v in cold.items()}
    w = {k: median(v) for k, v in warm.items()}
    note = [f"{reps} interleaved runs each, medians; a fresh venv per install (venv creation not timed); the "
            "runtime's packages (numpy, pandas, pyarrow, scikit-learn, scipy, skops, matplotlib) from the package "
            "index; uv = pip installing uv from its pinned hashes, then `uv pip install --require-hashes` from the "
            "lock; warm = download caches kept from the previous install (what the CI cache restores)"]
    return [
        Row("setup per job, cold (empty download cache)", f"uv from the lock {seconds(c['uv'])}",
            f"pip, ranges {seconds(c['pip'])}", c["uv"] / c["pip"], "reported", None, note),
        Row("setup per job, warm (download cache restored)", f"uv from the lock {seconds(w['uv'])}",
            f"pip, ranges {seconds(w['pip'])}", w["uv"] / w["pip"], f"≤ {WARM_GOAL:.0f} s per job warm",
            w["uv"] <= WARM_GOAL, []),
    ]
