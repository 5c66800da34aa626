"""The benchmark entry command runs at its small size without the peers (no network) and prints
the whole table. Structure only: timings are never asserted (a shared machine makes them noise)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"

# one row per measure of issue 5's table as issue 14 restated it (and the skops cost), in the
# order printed; with --no-peers there is no row of DVC's overhead over plain scripts
ROWS = [
    "`mlgen compile`, full example spec",
    "`mlgen compile` scaling, chained custom stages",
    "no-op `mlgen run` (",
    "one changed stage reruns only that stage",
    "full `mlgen run`, 5,000 × 20",
    "peak memory of the full run",
    "validation, 20,000 × 20, same checks [",
    "validation, 20,000 × 20, same checks, vs direct numpy",
    "drift, 5,000 vs 5,000 × 20, PSI > 0.2",
    "drift, 5,000 vs 5,000 × 20, KS / chi² p < 0.05",
    "skops vs joblib",
    "scan stage, 5,000 held-out rows",
    "serve, 1-row requests",  # mlgen serve vs mlflow models serve
    "serve, 100-row requests",
    "search, 4 trials on 500 x 20",  # grid vs Optuna, best score per trial count
    "search of 4 trials on 2,000 × 20: Dask cluster (2 workers) vs local processes",
]


@pytest.mark.slow
def test_small_run_prints_every_row(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--size", "small", "--no-peers", "--mlgen-venv", sys.prefix, "--output", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    text = proc.stdout
    assert out.read_text(encoding="utf-8") == text

    assert "| Machine | |" in text and "| uname -a |" in text and "| peers | not installed (--no-peers)" in text
    header = "| Measure | mlgen | Compared with (same run) | Ratio (mlgen ÷ other) | Goal | Met |"
    assert header in text
    table = text.split(header, 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]  # after the --- line
    measures = [line.split(" | ")[0] for line in table]
    assert len(table) == len(ROWS), "\n".join(table)
    for expected, got in zip(ROWS, measures):
        assert expected in got, f"expected a row for {expected!r}, got {got!r}"
    for line in table:
        assert line.startswith("| ") and line.endswith(" |") and line.count(" | ") == 5, line
        assert "FAILED" not in line
    # the peer columns are skipped, not faked
    assert "dvc: skipped (--no-peers)" in text and "pandera: skipped" in text and "Evidently: skipped" in text
    assert "Goals missed:" in text
    # issue 14: one process per job, the jobs that ran named; compile's peer is dvc's start-up
    fullrun = next(line for line in table if "full `mlgen run`" in line)
    assert "(validate, train, evaluate, deploy-staging)" in fullrun and "≤ 1.15×" in fullrun
    # the full run is one process per job (no worker processes of its own); the Dask measure's
    # workers are the point of that row
    assert "one process per job" in text and "worker" not in fullrun
    assert "≤ `dvc --version` start-up" in table[0]


def test_fullrun_reads_the_run_summary_and_declares_the_plan_jobs_to_dvc(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import m_fullrun

    log = tmp_path / "mlgen.log"
    log.write_text("noise\n┃ job ┃ status ┃ seconds ┃ note ┃\n│ validate │ ran    │     3.6 │      │\n"
                   "│ deploy-staging │ ran │ 9.5 │ │\n", encoding="utf-8")
    assert m_fullrun._jobs_ran(log) == {"validate": 3.6, "deploy-staging": 9.5}
    log.write_text("│ train │ cached │ 0.1 │ inputs unchanged │\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="train cached"):
        m_fullrun._jobs_ran(log)
    jobs = [
        {"name": "train", "kind": "train", "needs": [], "cache_inputs": ["data/t.csv"], "commands": ["python -m x train"],
         "produces": {"name": "train", "paths": [".mlgen/out/model"]}},
        {"name": "deploy-staging", "kind": "deploy", "needs": ["train"], "cache_inputs": [], "produces": None,
         "commands": ["python -m x deploy --env staging"]},
    ]
    assert m_fullrun.dvc_yaml(jobs) == (
        'stages:\n  train:\n    cmd: "python -m x train"\n    deps: ["data/t.csv"]\n    outs: [".mlgen/out/model"]\n'
        '  deploy-staging:\n    cmd: "python -m x deploy --env staging"\n    deps: [".mlgen/plan.json", ".mlgen/out/model"]\n'
        '    outs: ["models"]\n')
