"""`scan`: look for hidden vulnerabilities of the candidate model before it ships.

Runs between evaluate and deploy. Reads .mlgen/out/model (train/select) and .mlgen/out/evaluate;
splits the data exactly as every stage does, scans at most `scan.max_rows` held-out rows (a
sample seeded by project.seed) with the enabled detectors:

- slices (runtime/scan_slices.py): performance bias on category values, numeric quantile bins
  and their pairs;
- robustness (runtime/scan_robustness.py): predictions that change under tiny perturbations;
- overconfidence (runtime/scan_overconfidence.py): wrong predictions made with high probability;
- leakage (runtime/scan_leakage.py): a feature that alone predicts the target; rows shared by
  train and test.

Writes .mlgen/out/scan:
- scan.json: model_sha256, task, rows, detectors [{name, title, status, summary, block, blocking,
  findings, major, details}], findings [{detector, severity, title, text, details}], passed,
  blocked_by [detector names]
- report.md: evaluate's report.md followed by a `## Scan` section
- junit.xml: one test case per detector and per finding

Exit 1 when a major finding comes from a detector whose `block` is true; 2 on bad input.
`scan_verdict(ctx)` is what deploy calls to refuse a model the scan blocked.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mlgen_runtime import data, metrics, pipeline
from mlgen_runtime.context import Context
from mlgen_runtime.errors import BadInput, CheckFailed
from mlgen_runtime.fsutil import read_json, write_json
from mlgen_runtime.junit import write_junit
from mlgen_runtime.scan_result import MAJOR, SKIPPED, TITLES, DetectorResult, skipped

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DETECTORS = ("slices", "robustness", "overconfidence", "leakage")
RESULT_FILE = "scan.json"


def sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most `max_rows` rows, drawn without replacement with the seed, in their original order."""
    import numpy as np

    if len(frame) <= max_rows:
        return frame
    idx = np.sort(np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[idx]


def run(ctx: Context, args: argparse.Namespace) -> int:
    settings = ctx.settings
    cfg = settings.get("scan")
    if not cfg:
        raise BadInput("the spec has no [scan] section; add `[scan]` to mlproject.toml and run `mlgen compile`")
    task = settings["data"]["task"]
    from mlgen_runtime.evaluate import candidate

    model, meta = candidate(ctx)  # BadInput when missing, tampered or untrusted
    evaluate_report = _evaluate_report(ctx, meta["sha256"])

    frame = data.training_frame(settings, ctx.root)
    train, test = data.split(frame, settings)
    expected = ((meta.get("data") or {}).get("test") or {}).get("hash")
    if expected and expected != data.frame_hash(test):
        raise BadInput("the held-out split differs from the one the model was trained with "
                       "(the data or the seed changed since train); rerun train")
    from mlgen_runtime.evaluate import model_columns

    scanned, results = scan_split(model, frame, train, test, settings, cfg, ctx.seed, model_columns(meta, frame, settings))

    findings = [f for r in results for f in r.findings]
    blocked_by = [r.name for r in results if r.blocking]
    result: dict[str, Any] = {
        "model_sha256": meta["sha256"],  # deploy refuses a model other than the one scanned
        "task": task,
        "rows": {"test": len(test), "scanned": len(scanned), "max_rows": int(cfg["max_rows"]), "train": len(train)},
        "detectors": [r.as_dict() for r in results],
        "findings": [f.as_dict() for f in findings],
        "passed": not blocked_by,
        "blocked_by": blocked_by,
    }
    from mlgen_runtime import report_md, scan_report

    out = ctx.out("scan")
    write_json(out / RESULT_FILE, result)
    # bounded like evaluate's: this report is the one the PR/MR comment shows when a scan ran
    report_md.write_report(out, scan_report.report(evaluate_report, result, results))
    write_junit(out / "junit.xml", "mlgen.scan", scan_report.junit_cases(results))
    _print_summary(results, len(scanned), len(test))
    if blocked_by:
        majors = [f for f in findings if f.severity == MAJOR and f.detector in blocked_by]
        raise CheckFailed(f"{len(majors)} major finding(s) block deployment: "
                          + "; ".join(f"{f.detector}: {f.title}" for f in majors[:5])
                          + (" ..." if len(majors) > 5 else ""))
    return 0


def scan_split(model: Any, frame: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame, settings: dict[str, Any],
               cfg: dict[str, Any], seed: int, cols: pipeline.Columns | None = None,
               ) -> tuple[pd.DataFrame, list[DetectorResult]]:
    """Every enabled detector on the shared split of `frame`: (the scanned test rows, the
    results). `cols`: the model's columns (default: sorted on the whole data, as train does).
    `run` and benchmarks/scan_false_positives.py call this, so the benchmark measures the
    shipped scan."""
    task = settings["data"]["task"]
    contract = settings["data"].get("columns") or {}
    X_all, _ = data.features(test, settings)
    cols = cols if cols is not None else pipeline.columns_for(frame, settings)
    slice_columns = _slice_columns(cfg["slices"], cols, list(X_all.columns), settings["data"]["path"])
    features = [*cols.numeric, *cols.categorical]
    numeric = frozenset(cols.numeric)

    max_rows = int(cfg["max_rows"])
    scanned = sample(test, max_rows, seed)
    X, y = data.features(scanned, settings)
    X = pipeline.prepare(X, cols)
    preds = metrics.predict(model, X, task)

    results: list[DetectorResult] = []
    for name in DETECTORS:
        dcfg = cfg[name]
        if not dcfg.get("enabled", True):
            results.append(skipped(name, f"disabled (scan.{name}.enabled = false)", bool(dcfg.get("block", True))))
            continue
        if name == "slices":
            from mlgen_runtime import scan_slices

            results.append(scan_slices.detect(X[features], numeric, y, preds, task, dcfg, slice_columns))
        elif name == "robustness":
            from mlgen_runtime import scan_robustness

            # the training rows define each feature's type, range and observed values
            X_train, _ = data.features(sample(train, max_rows, seed), settings)
            profiles = scan_robustness.profiles(pipeline.prepare(X_train, cols), cols.numeric, cols.categorical,
                                                contract)
            results.append(scan_robustness.detect(model, X, list(cols.numeric), list(cols.categorical), y, task, dcfg,
                                                  seed, preds.y_pred, profiles))
        elif name == "overconfidence":
            from mlgen_runtime import scan_overconfidence

            results.append(scan_overconfidence.detect(y, preds, task, dcfg))
        else:
            results.append(_leakage(train, test, scanned, cols, settings, dcfg, max_rows, seed, preds))
    return scanned, results


def _evaluate_report(ctx: Context, model_sha256: str) -> str | None:
    """evaluate's report.md, when evaluate ran on this very model (else it would describe another)."""
    folder = ctx.out("evaluate")
    metrics_file = folder / "metrics.json"
    if metrics_file.is_file():
        try:
            judged = read_json(metrics_file).get("model_sha256")
        except (OSError, ValueError, AttributeError):
            judged = None
        if judged and judged != model_sha256:
            raise BadInput(f"{metrics_file.relative_to(ctx.root).as_posix()} is about another model "
                           f"(sha256 {str(judged)[:12]}, the model is {model_sha256[:12]}); rerun evaluate")
    path = folder / "report-full.md"  # the whole report, when evaluate had to cut report.md
    if not path.is_file():
        path = folder / "report.md"
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path.relative_to(ctx.root).as_posix()}: unreadable ({exc}); rerun evaluate") from None


def _slice_columns(cfg: dict[str, Any], cols: pipeline.Columns, present: list[str], source: str) -> list[str]:
    wanted = list(cfg.get("columns") or [])
    features = [*cols.numeric, *cols.categorical]
    if not wanted:
        return features
    for c in wanted:
        if c not in present:
            raise BadInput(f"scan.slices.columns: column `{c}` is not a feature of {source}; features: "
                           + ", ".join(present[:20]) + (" ..." if len(present) > 20 else ""))
        if c not in features:
            raise BadInput(f"scan.slices.columns: column `{c}` is not used by the model (datetime or unsupported type)")
    return wanted


def _leakage(train: pd.DataFrame, test: pd.DataFrame, scanned: pd.DataFrame, cols: pipeline.Columns,
             settings: dict[str, Any], cfg: dict[str, Any], max_rows: int, seed: int,
             preds: metrics.Predictions) -> DetectorResult:
    from mlgen_runtime import scan_leakage

    features = [*cols.numeric, *cols.categorical]
    target = settings["data"]["target"]
    # whole rows (features and target) of the whole splits: hashing is cheap
    overlap = scan_leakage.overlap_share(train[[*features, target]], test[[*features, target]])
    train_rows = sample(train, max_rows, seed)
    Xa, ya = data.features(train_rows, settings)
    Xb, yb = data.features(scanned, settings)
    classes: np.ndarray | None = preds.classes
    return scan_leakage.detect(pipeline.prepare(Xa, cols)[features], ya, pipeline.prepare(Xb, cols)[features], yb,
                               frozenset(cols.numeric), settings["data"]["task"], cfg, overlap, classes, seed)


def _print_summary(results: list[DetectorResult], scanned: int, test: int) -> None:
    from mlgen_runtime.scan_report import headline

    print(f"scan: {scanned:,} of {test:,} held-out rows; {headline(results)}", flush=True)
    for r in results:
        state = "SKIP" if r.status == SKIPPED else ("FAIL" if r.blocking else "WARN" if r.findings else "PASS")
        print(f"{state} {TITLES.get(r.name, r.name)}: {r.summary}", flush=True)
        for f in r.findings:
            print(f"  {f.severity}: {f.title}", flush=True)


def scan_verdict(ctx: Context, model_sha256: str | None = None) -> None:
    """For deploy: raise CheckFailed when the scan blocked this model, or when the plan has a scan
    job but its scan.json is missing or unreadable (a model must not ship unscanned). With
    `model_sha256`, the scan must also be about that very model."""
    path = ctx.out("scan") / RESULT_FILE
    rel = path.relative_to(ctx.root).as_posix()
    has_job = ctx.job("scan") is not None
    if not path.is_file():
        if has_job:
            raise CheckFailed(f"{rel} not found: the scan did not run on this model; run the scan job first")
        return
    try:
        result = read_json(path)
    except (OSError, ValueError) as exc:
        raise CheckFailed(f"{rel}: unreadable ({exc}); rerun the scan") from None
    if not isinstance(result, dict) or not isinstance(result.get("passed"), bool):
        raise CheckFailed(f"{rel}: not a scan.json written by mlgen scan; rerun the scan")
    if model_sha256 is not None and result.get("model_sha256") != model_sha256:
        raise CheckFailed(f"{rel} is about another model (sha256 {str(result.get('model_sha256'))[:12]}, deploying "
                          f"{model_sha256[:12]}); rerun the scan")
    if not result["passed"]:
        blocked = ", ".join(map(str, result.get("blocked_by") or [])) or "unknown detector"
        raise CheckFailed(f"the scan blocked this model: major finding(s) from {blocked} (see {rel} and the report)")
