"""mlgen against the tools its users would otherwise use, measured side by side in one run.

    python benchmarks/run.py [--size full|small] [--no-peers] [--mlgen-venv DIR] [--only NAME,...]

Installs the peers (dvc, pandera, evidently) into benchmarks/.venv-peers once, generates the
data (numpy seed) in a temporary folder, runs every measure with interleaved repetitions and
prints a Markdown table; at full size the table is also written to benchmarks/RESULTS.md.
Standard library only: the numeric work runs in worker processes of the two venvs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import m_cache  # noqa: E402
import m_compile  # noqa: E402
import m_dask  # noqa: E402
import m_drift  # noqa: E402
import m_fullrun  # noqa: E402
import m_install  # noqa: E402
import m_optuna  # noqa: E402
import m_scan  # noqa: E402
import m_serve  # noqa: E402
import m_skops  # noqa: E402
import m_validate  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
from common import BENCH, REPO, SIZES, Row, Size, Tools, log  # noqa: E402


def _one(fn: Callable[[Tools, Size, Path], Row]) -> Callable[[Tools, Size, Path], list[Row]]:
    return lambda tools, size, work: [fn(tools, size, work)]


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MEASURES: dict[str, Callable[[Tools, Size, Path], list[Row]]] = {
    "compile": _one(m_compile.measure_compile),
    "scaling": _one(m_compile.measure_scaling),
    "cache": m_cache.measure,
    "fullrun": m_fullrun.measure,
    "validate": m_validate.measure,
    "drift": m_drift.measure,
    "skops": m_skops.measure,
    "scan": m_scan.measure,
    "serve": m_serve.measure,
    "install": m_install.measure,
    "optuna": m_optuna.measure,
    "dask": m_dask.measure,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=list(SIZES), default="full")
    p.add_argument("--no-peers", action="store_true", help="skip installing the peers and their columns (no network)")
    p.add_argument("--mlgen-venv", type=Path, default=REPO / ".venv", help="venv with mlgen[runtime] (default: ./.venv)")
    p.add_argument("--only", help=f"comma-separated measures: {', '.join(MEASURES)}")
    p.add_argument("--output", type=Path, help="also write the table here (default at full size: benchmarks/RESULTS.md)")
    p.add_argument("--threads", type=int, default=1,
                   help="OpenMP/BLAS threads of every command, both contenders alike (default 1; 0: library "
                   "defaults). On a shared 2-core machine OpenMP's spin-waiting barriers collapse whenever a "
                   "neighbour takes a core, which would drown the ratios in noise")
    p.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    a = p.parse_args(argv)

    size = SIZES[a.size]
    if not (a.mlgen_venv / "bin" / "mlgen").exists():
        p.error(f"{a.mlgen_venv}/bin/mlgen not found: install mlgen[runtime] there (./scripts/test.sh does)")
    if a.threads:  # inherited by every command of every contender alike
        os.environ.update(dict.fromkeys(THREAD_VARS, str(a.threads)))
    load_before = os.getloadavg()
    peers_venv = None if a.no_peers else peers.ensure()
    tools = Tools(a.mlgen_venv.resolve(), peers_venv)
    chosen = a.only.split(",") if a.only else list(MEASURES)
    unknown = sorted(set(chosen) - set(MEASURES))
    if unknown:
        p.error(f"unknown measure(s): {', '.join(unknown)}")

    work = Path(tempfile.mkdtemp(prefix="mlgen-bench-"))
    rows: list[Row] = []
    failed = False
    try:
        for name in chosen:
            log(f"{name} ({size.name})")
            t0 = time.perf_counter()
            try:
                got = MEASURES[name](tools, size, work)
                rows += got
                log(f"{name}: {time.perf_counter() - t0:.1f} s")
                for r in got:  # as soon as known: a run stopped later still leaves these in the log
                    log(f"  {report.line(r)}")
            except Exception as exc:  # one broken measure must not hide the others
                failed = True
                traceback.print_exc()
                rows.append(Row(f"{name}: FAILED", f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"))
    finally:
        if a.keep:
            log(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    facts = report.machine(tools, peers.versions(peers_venv) if peers_venv else None, load_before)
    text = report.render(size, facts, rows)
    sys.stdout.write(text)
    output = a.output or (BENCH / "RESULTS.md" if size.name == "full" and not a.only else None)
    if output:
        output.write_text(text, encoding="utf-8")
        log(f"wrote {output}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
