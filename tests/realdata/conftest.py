"""Run public data sets end to end through the real `mlgen` command, as a newcomer would.

Each data set gets a project folder of its own: its CSV under `data/` and the shortest spec
(`short_spec`). `mlgen run` runs there as a subprocess of the installed console script (every
job its own process, as in CI). The runs are the expensive
part, so one session fixture (`realdata_runs`) does them all at once, two at a time (the machine
has two cores; each process is held to one BLAS/OpenMP thread so the two do not fight), and only
for the data sets whose tests were selected. The tests then read the results.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.realdata.datasets import RealDataset, by_name

MLGEN = Path(sys.executable).with_name("mlgen")
PARALLEL = 2  # concurrent `mlgen run` processes
RUN_TIMEOUT = 900  # seconds; a hung run fails its test instead of the session
ENVIRONMENT = "staging"  # the one automatic deploy environment of the short spec

# A newcomer's first estimator, one per task.
ESTIMATORS = {
    "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
    "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
}


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def short_spec(dataset: RealDataset, csv: str) -> str:
    """The spec a newcomer writes: a name, the data and its target, an estimator, the scan and
    one automatic environment. The task comes from the estimator; metrics are the defaults."""
    return "\n".join([
        "[project]",
        f"name = {_toml_str(dataset.name.replace('_', '-'))}",
        "",
        "[data]",
        f"path = {_toml_str(csv)}",
        f"target = {_toml_str(dataset.target)}",
        "",
        "[train]",
        f"estimator = {_toml_str(ESTIMATORS[dataset.task])}",
        "",
        "[scan]",
        "",
        "[[deploy.environments]]",
        f"name = {_toml_str(ENVIRONMENT)}",
        'approval = "auto"',
        "",
    ])


@dataclass
class Run:
    """What one `mlgen run` of a data set left: exit code, output, reports."""

    dataset: RealDataset
    folder: Path
    code: int
    stdout: str
    stderr: str
    seconds: float
    reports: dict[str, str] = field(default_factory=dict)  # relative path -> text

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def text(self) -> str:
        """Everything a user reads: the console output and every report."""
        return "\n".join([self.output, *self.reports.values()])

    def json(self, rel: str) -> Any:
        text = self.reports.get(rel)
        return None if text is None else json.loads(text)

    def statuses(self) -> dict[str, str]:
        """Job -> status from the summary table `mlgen run` prints last."""
        found: dict[str, str] = {}
        for line in self.stdout.splitlines():
            cells = [c.strip() for c in re.split(r"[│|]", line)]
            if len(cells) >= 4 and cells[1] and cells[2] in ("ran", "cached", "failed", "blocked", "waiting",
                                                              "skipped"):
                found[cells[1]] = cells[2]
        return found

    def deployed(self) -> bool:
        """The run registered a model and pointed the environment's alias at it."""
        return self.statuses().get(f"deploy-{ENVIRONMENT}") == "ran" and self.code == 0

    def checks(self) -> dict[str, dict[str, Any]]:
        """validate's checks by name (validation.json)."""
        result = self.json(".mlgen/out/validate/validation.json") or {}
        return {c["name"]: c for c in result.get("checks", [])}

    def describe(self) -> str:
        """For assertion messages: the code, the job statuses and the tail of the output."""
        tail = "\n".join(self.output.splitlines()[-60:])
        return f"{self.dataset.name}: exit {self.code}, jobs {self.statuses()}\n{tail}"


REPORTS = (
    ".mlgen/out/validate/validation.json",
    ".mlgen/out/validate/report.md",
    ".mlgen/out/evaluate/metrics.json",
    ".mlgen/out/evaluate/report.md",
    ".mlgen/out/scan/scan.json",
    ".mlgen/out/scan/report.md",
)


def run_dataset(dataset: RealDataset, folder: Path) -> Run:
    """Write the project (CSV + short spec) into `folder` and run `mlgen run` there."""
    folder.mkdir(parents=True, exist_ok=True)
    csv = dataset.write_csv(folder / "data")
    (folder / "mlproject.toml").write_text(short_spec(dataset, csv.relative_to(folder).as_posix()),
                                           encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLGEN_REGISTRY")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200",
                "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    env["PATH"] = f"{MLGEN.parent}{os.pathsep}{env.get('PATH', '')}"
    t0 = time.perf_counter()
    try:
        res = subprocess.run([str(MLGEN), "run"], cwd=folder, env=env, capture_output=True, text=True,
                             timeout=RUN_TIMEOUT)
        code, out, err = res.returncode, res.stdout, res.stderr
    except subprocess.TimeoutExpired as exc:
        code = -1
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = f"timed out after {RUN_TIMEOUT} s"
    seconds = time.perf_counter() - t0
    reports = {rel: (folder / rel).read_text(encoding="utf-8") for rel in REPORTS if (folder / rel).is_file()}
    return Run(dataset, folder, code, out, err, seconds, reports)


def run_all(names: Iterable[str], root: Path, parallel: int = PARALLEL) -> dict[str, Run]:
    """Every named data set run, `parallel` at a time; the biggest first so that the tail of the
    session is short."""
    datasets = sorted((by_name(n) for n in dict.fromkeys(names)), key=lambda d: -d.rows)
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        runs = pool.map(lambda d: run_dataset(d, root / d.name), datasets)
        return {r.dataset.name: r for r in runs}


@dataclass
class Session:
    runs: dict[str, Run]
    seconds: float


@pytest.fixture(scope="session")
def realdata_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """The runs of every data set a selected test asks for (parametrized by `dataset`)."""
    if not MLGEN.is_file():
        pytest.fail(f"{MLGEN} not found: install mlgen into this interpreter's environment (pip install -e .)")
    wanted = [item.callspec.params["dataset"] for item in request.session.items
              if hasattr(item, "callspec") and "dataset" in item.callspec.params]
    t0, cpu0 = time.perf_counter(), _children_cpu()
    runs = run_all(wanted, tmp_path_factory.mktemp("realdata"))
    session = Session(runs, time.perf_counter() - t0)
    if runs:
        slowest = sorted(runs.values(), key=lambda r: -r.seconds)[:3]
        SUMMARY.append(
            f"realdata: {len(runs)} data sets in {session.seconds:.1f} s wall, {_children_cpu() - cpu0:.0f} s CPU "
            f"({PARALLEL} runs at a time); slowest: " + ", ".join(f"{r.dataset.name} {r.seconds:.1f} s" for r in slowest))
    return session


SUMMARY: list[str] = []  # printed at the end of the session (the fixture's own output is captured)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in SUMMARY:
        terminalreporter.write_line(line)


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
