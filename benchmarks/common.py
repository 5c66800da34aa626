"""What every measure shares: sizes, the tools under test, timing, and the result row.

Standard library only: run.py may be started by any Python >= 3.11; the numeric work happens
in worker processes of the mlgen venv or of the peers' venv.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORKERS = BENCH / "workers"


@dataclass(frozen=True)
class Size:
    """How big each measure is. `full` is what RESULTS.md reports; `small` is for CI."""

    name: str
    compile_reps: int
    scaling_stages: tuple[int, int, int]
    scaling_reps: int
    scaling_inproc_reps: int
    cache_csv_mb: float
    cache_reps: int
    fullrun_rows: int
    fullrun_reps: int
    validate_rows: int
    validate_reps: int
    drift_rows: int
    drift_reps: int
    skops_rows: int
    skops_reps: int


SIZES = {
    "full": Size("full", compile_reps=9, scaling_stages=(10, 100, 1000), scaling_reps=3, scaling_inproc_reps=15, cache_csv_mb=80,
                 cache_reps=7, fullrun_rows=200_000, fullrun_reps=5, validate_rows=1_000_000, validate_reps=5,
                 drift_rows=100_000, drift_reps=3, skops_rows=200_000, skops_reps=7),
    "small": Size("small", compile_reps=2, scaling_stages=(10, 30, 100), scaling_reps=1, scaling_inproc_reps=2, cache_csv_mb=2,
                  cache_reps=1, fullrun_rows=5_000, fullrun_reps=1, validate_rows=20_000, validate_reps=2,
                  drift_rows=5_000, drift_reps=1, skops_rows=5_000, skops_reps=1),
}


@dataclass(frozen=True)
class Tools:
    """The interpreters and commands under test."""

    mlgen_venv: Path
    peers_venv: Path | None  # None: --no-peers

    @property
    def python(self) -> Path:
        return self.mlgen_venv / "bin" / "python"

    @property
    def mlgen(self) -> Path:
        return self.mlgen_venv / "bin" / "mlgen"

    @property
    def peer_python(self) -> Path | None:
        return self.peers_venv / "bin" / "python" if self.peers_venv else None

    @property
    def dvc(self) -> Path | None:
        return self.peers_venv / "bin" / "dvc" if self.peers_venv else None


@dataclass
class Row:
    """One line of the results table. Ratios are mlgen / the other, so smaller is better."""

    measure: str
    mlgen: str
    other: str = "—"
    ratio: float | None = None
    goal: str = "reported"
    met: bool | None = None  # None: no goal, or the comparison was skipped
    notes: list[str] = field(default_factory=list)


class BenchError(RuntimeError):
    """A command under test failed: the benchmark is void, so stop with its output."""


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every timed command.

    This machine sets PYTHONDONTWRITEBYTECODE, so mlgen's editable sources and the runtime
    bundled into each project would be recompiled by every process; installed users have
    .pyc files, so bytecode is written as usual (into gitignored __pycache__ folders).
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def run(cmd: Sequence[str | Path], cwd: Path, env: Mapping[str, str], log: Path | None = None) -> float:
    """Run a command to completion; return its wall time. Any failure voids the benchmark."""
    log = log or cwd / "bench-last.log"
    with log.open("wb") as out:
        t0 = time.perf_counter()
        rc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT).returncode
        seconds = time.perf_counter() - t0
    if rc != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchError(f"`{' '.join(map(str, cmd))}` (in {cwd}) exited {rc}:\n{tail}")
    return seconds


def worker(python: Path, script: str, args: Sequence[str | Path], cwd: Path, env: Mapping[str, str]) -> Any:
    """Run benchmarks/workers/<script> with `python`; it prints one JSON document last."""
    log = cwd / f"{Path(script).stem}.log"
    run([python, WORKERS / script, *args], cwd, env, log)
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("{")]
    if not lines:
        raise BenchError(f"{script} printed no result; see {log}")
    return json.loads(lines[-1])


def interleave(contenders: Mapping[str, Callable[[], float]], reps: int) -> dict[str, list[float]]:
    """A, B, A, B, ...: each contender sees the same machine state on average."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(reps):
        for name, fn in contenders.items():
            times[name].append(fn())
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def seconds(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def megabytes(kb: float) -> str:
    return f"{kb / 1024:.0f} MB"


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def log(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)
