"""False positives and true leaks of the model scan on real public data (issue 12, item 3).

For every data set of tests/realdata (shipped inside PyPI wheels, no download) and two sensible
estimators per task (a HistGradientBoosting model and a linear one), this runs exactly what the
runtime runs: a short spec compiled by mlgen's own loader (the spec's defaults, a bare `[scan]`),
the shared split (`mlgen_runtime.data.split`), the training pipeline (`mlgen_runtime.pipeline`)
and the shipped scan (`mlgen_runtime.scan.scan_split`). It prints one Markdown table row per
(data set, estimator): rows, findings per detector as `major/minor`, and whether the scan blocks.

- Sound data sets (and those whose only problem is a missing target, which the runtime drops):
  a blocking finding is a false positive.
- Leaking data sets (the genuine leaks, `wage` and `creditcard`, and the deliberately leaking
  twin of every sound set): the leak is detected when the leakage detector reports a major
  finding on the leaking column, which blocks.

    .venv/bin/python benchmarks/scan_false_positives.py                  # everything (about a minute)
    .venv/bin/python benchmarks/scan_false_positives.py --only iris,fair --estimators default
    .venv/bin/python benchmarks/scan_false_positives.py --json out.json  # also the raw results

One thread per library (OMP/BLAS): the numbers do not depend on it, and the machine is shared.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.realdata.datasets import DATASETS, RealDataset  # noqa: E402

ESTIMATORS = {
    "default": {"classification": ("sklearn.ensemble.HistGradientBoostingClassifier", {}),
                "regression": ("sklearn.ensemble.HistGradientBoostingRegressor", {})},
    "linear": {"classification": ("sklearn.linear_model.LogisticRegression", {"max_iter": 2000}),
               "regression": ("sklearn.linear_model.Ridge", {})},
}
METRICS = {"classification": ["accuracy"], "regression": ["r2"]}
DETECTORS = ("slices", "robustness", "overconfidence", "leakage")


@dataclass
class Outcome:
    dataset: str
    estimator: str
    rows: int
    scanned: int
    expect: str  # "sound" | "leak"
    findings: dict[str, list[int]]  # detector -> [major, minor]
    blocking: list[str]
    leak_found: bool | None  # leaking sets: a major leakage finding on the leaking column (blocks)
    leak_warned: bool | None  # leaking sets: at least a minor leakage finding on the leaking column
    seconds: float
    error: str | None = None
    majors: list[str] | None = None  # titles of the major findings (--verbose)
    seed: int = 42


def spec_text(ds: RealDataset, estimator: str, params: dict[str, Any], seed: int = 42) -> str:
    inline = "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in params.items()) + " }"
    return (f'[project]\nname = "fp"\nseed = {seed}\n\n[data]\npath = "data/{ds.name}.csv"\n'
            f'target = "{ds.target}"\ntask = "{ds.task}"\nallow_extra = true\n\n'
            f'[train]\nestimator = "{estimator}"\nparams = {inline}\n\n'
            f'[evaluate]\nmetrics = {json.dumps(METRICS[ds.task])}\n\n[scan]\n')


def settings_for(folder: Path, ds: RealDataset, estimator: str, params: dict[str, Any], seed: int = 42) -> dict[str, Any]:
    from mlgen.spec.load import load_spec

    path = folder / "mlproject.toml"
    path.write_text(spec_text(ds, estimator, params, seed), encoding="utf-8")
    return load_spec(path).settings


def run_one(ds: RealDataset, family: str, folder: Path, seed: int = 42) -> Outcome:
    """Train and scan one data set with one estimator family, on one thread (also when called from
    the tests, where the environment variables above come too late for OpenMP)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _run_one(ds, family, folder, seed)


def _run_one(ds: RealDataset, family: str, folder: Path, seed: int) -> Outcome:
    from mlgen_runtime import data, pipeline
    from mlgen_runtime.scan import scan_split

    start = time.perf_counter()
    estimator, params = ESTIMATORS[family][ds.task]
    expect = "leak" if ds.problem_kind == "leak" else "sound"
    ds.write_csv(folder / "data")
    settings = settings_for(folder, ds, estimator, params, seed)
    frame = data.training_frame(settings, folder)  # rows with a missing target left out (the default)
    train, test = data.split(frame, settings)
    X, y = data.features(train, settings)
    cols = pipeline.columns_for(frame, settings)  # as train sorts them: on the whole data
    model = pipeline.fit(pipeline.build(settings, cols), pipeline.prepare(X, cols), y)
    scanned, results = scan_split(model, frame, train, test, settings, settings["scan"], int(settings["project"]["seed"]),
                                  cols)
    findings = {r.name: [sum(f.severity == "major" for f in r.findings), sum(f.severity == "minor" for f in r.findings)]
                for r in results}
    leak_found = leak_warned = None
    if expect == "leak":
        leakage = next(r for r in results if r.name == "leakage")
        on_column = [f for f in leakage.findings if f.details.get("feature") == ds.problem_column]
        leak_found = any(f.severity == "major" for f in on_column) and leakage.blocking
        leak_warned = bool(on_column)
    majors = [f"{f.detector}: {f.title}" for r in results for f in r.findings if f.severity == "major"]
    return Outcome(ds.name, family, len(frame), len(scanned), expect, findings,
                   [r.name for r in results if r.blocking], leak_found, leak_warned, time.perf_counter() - start, None,
                   majors, seed)


def cell(counts: list[int]) -> str:
    major, minor = counts
    return "-" if not major and not minor else f"{major}/{minor}"


def table(outcomes: list[Outcome]) -> str:
    lines = ["| data set | estimator | seed | rows | scanned | " + " | ".join(DETECTORS) + " | blocks | verdict |",
             "| --- | --- | ---: | ---: | ---: | " + " | ".join("---" for _ in DETECTORS) + " | --- | --- |"]
    for o in outcomes:
        if o.error:
            lines.append(f"| {o.dataset} | {o.estimator} | {o.seed} | {o.rows} | - | " + " | ".join("" for _ in DETECTORS)
                         + f" | error | {o.error} |")
            continue
        if o.expect == "sound":
            verdict = "false positive" if o.blocking else "ok"
        else:
            verdict = "leak blocked" if o.leak_found else "leak warned (minor)" if o.leak_warned else "LEAK MISSED"
        lines.append(f"| {o.dataset} | {o.estimator} | {o.seed} | {o.rows:,} | {o.scanned:,} | "
                     + " | ".join(cell(o.findings.get(d, [0, 0])) for d in DETECTORS)
                     + f" | {', '.join(o.blocking) or 'no'} | {verdict} |")
    return "\n".join(lines)


def summary(outcomes: list[Outcome]) -> str:
    ok = [o for o in outcomes if not o.error]
    sound = [o for o in ok if o.expect == "sound"]
    leaks = [o for o in ok if o.expect == "leak"]
    sound_sets = sorted({o.dataset for o in sound})
    fp_sets = sorted({o.dataset for o in sound if o.blocking})
    per_detector = {d: sum(1 for o in sound if d in o.blocking) for d in DETECTORS}
    caught = [o for o in leaks if o.leak_found]
    warned = [o for o in leaks if o.leak_warned and not o.leak_found]
    other_blocks = sum(1 for o in leaks if set(o.blocking) - {"leakage"})
    return "\n".join([
        f"sound runs: {len(sound)} ({len(sound_sets)} data sets x estimators x seeds); blocked (false positives): "
        f"{sum(1 for o in sound if o.blocking)}/{len(sound)} runs, {len(fp_sets)}/{len(sound_sets)} data sets"
        + (f" ({', '.join(fp_sets)})" if fp_sets else ""),
        "false positives per detector (runs): " + ", ".join(f"{d} {k}" for d, k in per_detector.items()),
        f"leaking runs: {len(leaks)}; leak blocked by a major leakage finding on the leaking column: "
        f"{len(caught)}/{len(leaks)}; only warned (minor finding on the column): {len(warned)}"
        + (f" ({', '.join(sorted({o.dataset for o in warned}))})" if warned else "")
        + f"; missed: {len(leaks) - len(caught) - len(warned)}; leaking runs also blocked by another detector: "
        f"{other_blocks}",
        f"errors: {sum(1 for o in outcomes if o.error)}",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated data set names (default: all)")
    ap.add_argument("--estimators", default="default,linear", help="default, linear or both")
    ap.add_argument("--seeds", default="42", help="comma-separated project seeds (the split, the sample, the "
                    "perturbations; default 42)")
    ap.add_argument("--json", type=Path, help="also write the raw outcomes here")
    ap.add_argument("--verbose", action="store_true", help="print the major findings' titles (to stderr)")
    args = ap.parse_args(argv)
    wanted = [n for n in args.only.split(",") if n]
    sets = [d for d in DATASETS if not wanted or d.name in wanted]
    families = [f for f in args.estimators.split(",") if f]
    seeds = [int(x) for x in args.seeds.split(",") if x]
    outcomes: list[Outcome] = []
    for ds, family, seed in ((d, f, x) for d in sets for f in families for x in seeds):
        with tempfile.TemporaryDirectory(prefix="mlgen-fp-") as tmp:
            try:
                o = run_one(ds, family, Path(tmp), seed)
            except Exception as exc:  # one broken data set must not hide the others' numbers
                o = Outcome(ds.name, family, ds.rows, 0, "leak" if ds.problem_kind == "leak" else "sound",
                            {}, [], None, None, 0.0, f"{type(exc).__name__}: {exc}"[:200], seed=seed)
        outcomes.append(o)
        print(f"{o.dataset:24s} {o.estimator:8s} seed {seed} {o.seconds:6.1f}s blocks={o.blocking} "
              f"{o.findings if not o.error else o.error}", file=sys.stderr, flush=True)
        for title in (o.majors or []) if args.verbose else []:
            print(f"    {title}", file=sys.stderr, flush=True)
    print(table(outcomes))
    print()
    print(summary(outcomes))
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
