"""`evaluate`: the candidate (and the deployed champion) on the held-out split, gates, slices,
plots, report.md for a PR/MR comment and JUnit XML. Exit 1 when a gate fails.

Reads .mlgen/out/model (from train or select); writes .mlgen/out/evaluate:
- metrics.json: metrics (+ notes for undefined ones), champion {version, environment, sha256,
  metrics, error} or null, gates [{name, metric, kind, limit, bound, value, champion, delta,
  passed, note}], passed, slices [{column, value, rows, skipped, metrics, note}], plots
- report.md (PR/MR comment, cut to fit one: report-full.md then holds all of it), junit.xml (one test case per gate bound), plots/*.png
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgen_runtime import data, gates, metrics, modelio, pipeline, plots, report_charts
from mlgen_runtime import report_md as md
from mlgen_runtime.context import Context
from mlgen_runtime.errors import BadInput, CheckFailed
from mlgen_runtime.fsutil import read_json, write_json
from mlgen_runtime.junit import Case, write_junit

if TYPE_CHECKING:
    import pandas as pd

MIN_SLICE_ROWS = 20
MAX_SLICE_VALUES = 50  # slices are for category columns; a float column would flood the report
MISSING = "(missing)"


@dataclass(frozen=True)
class Champion:
    """The deployed model: the registry alias of the LAST deploy environment."""

    version: int
    environment: str
    model: Any
    metadata: dict[str, Any]


def champion(ctx: Context, candidate_sha: str | None = None) -> Champion | None:
    """The model currently deployed to the last environment, or None (no deploy section, empty
    registry, alias not set yet, or the deployed version IS the candidate: `candidate_sha`).
    The registry verifies the sha256 before loading. With an MLflow registry this is
    `models:/<project>@<last environment>` (registry_mlflow.py); an unreachable registry is an
    error, never "no champion" (that would let every max_drop gate pass).

    Why a champion equal to the candidate counts as none: the candidate against itself scores
    the same on the same rows, so every delta is 0 and every max_drop gate passes, exactly as
    with no champion; the verdict is the same evaluation. Counting it as none keeps the
    outputs (and the stage key, stagekey.py) of the run before a deploy and the run after it
    equal, so a rerun with nothing changed skips evaluate instead of re-scoring M against M."""
    envs = (ctx.settings.get("deploy") or {}).get("environments") or []
    if not envs:
        return None
    from mlgen_runtime.registry import Registry

    reg = Registry.open(ctx)
    if reg is None:
        return None
    env = envs[-1]["name"]
    version = reg.alias(env)
    if version is None:
        return None
    if candidate_sha is not None and any(
            r.get("version") == version and r.get("model_sha256") == candidate_sha for r in reg.versions()):
        print(f"champion: v{version} ({env}) is this candidate (same sha256): compared with none", flush=True)
        return None
    model, meta = reg.load(version, modelio.estimator_package(ctx.settings))
    return Champion(int(version), env, model, meta)


def candidate(ctx: Context) -> tuple[Any, dict[str, Any]]:
    """The model train/select wrote, after checking its sha256 and the types it contains."""
    folder = ctx.out("model")
    meta_path = folder / modelio.META_FILE
    rel = meta_path.relative_to(ctx.root).as_posix()
    if not meta_path.is_file():
        raise BadInput(f"{rel} not found: run train (or select) first")
    try:
        meta = read_json(meta_path)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{rel}: unreadable ({exc}); rerun train") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str) or "estimator" not in meta:
        raise BadInput(f"{rel}: not a model.json written by mlgen train; rerun train")
    model = modelio.load_model(folder / modelio.MODEL_FILE, meta["sha256"], modelio.estimator_package(ctx.settings))
    return model, meta


def run(ctx: Context, args: argparse.Namespace) -> int:
    settings = ctx.settings
    task = settings["data"]["task"]
    names = list(settings["evaluate"]["metrics"])
    model, meta = candidate(ctx)

    loaded = data.load_training(settings, ctx.root)
    _, test = data.split(loaded.frame, settings)
    test_hash = data.frame_hash(test)
    _same_split(meta, test_hash)
    X, y = data.features(test, settings)
    X = pipeline.prepare(X, model_columns(meta, loaded.frame, settings))

    preds = metrics.predict(model, X, task)
    values, notes = metrics.compute(names, task, y, preds)
    champ = champion(ctx, meta["sha256"])
    champ_block, champ_values, champ_error = _score_champion(champ, X, y, names, task)

    verdicts = gates.check(settings["evaluate"]["gates"], values, champ_values, champion_error=champ_error, notes=notes)
    slices = _slices(settings, X, y, preds, names, task)
    out = ctx.out("evaluate")
    plot_names = plots.write(out / "plots", task, y, preds)

    result = {
        "task": task,
        "model_sha256": meta["sha256"],  # deploy refuses a model that was not the one judged here
        "model": {"sha256": meta["sha256"], "estimator": meta["estimator"], "params": meta.get("params", {})},
        "data": {"rows": len(test), "hash": test_hash, "missing_target_rows": loaded.dropped,
                 "missing_target_note": loaded.note(settings["data"]["target"])},
        "metrics": values,
        "metric_notes": notes,
        "champion": champ_block,
        "gates": [v.as_dict() for v in verdicts],
        "passed": all(v.passed for v in verdicts),
        "slices": slices,
        "plots": [f"plots/{n}" for n in plot_names],
    }
    write_json(out / "metrics.json", result)
    charts = report_charts.section(task, y, preds)  # the plots as a table and Mermaid: PNG links are dead in comments
    md.write_report(out, report(settings["project"]["name"], result, verdicts, charts))  # bounded for a PR/MR comment
    write_junit(out / "junit.xml", "mlgen.evaluate", junit_cases(verdicts))
    _print_summary(values, champ_block, verdicts)

    failed = [v for v in verdicts if not v.passed]
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(verdicts)} gate(s) failed: "
                          + "; ".join(f"{v.name} ({gates.describe(v)})" for v in failed))
    return 0


def model_columns(meta: dict[str, Any], frame: pd.DataFrame, settings: dict[str, Any]) -> pipeline.Columns:
    """The columns the model was trained on, as its model.json lists them (sorting the held-out
    rows alone could judge a column differently: unique in 100 rows, not in 1,000)."""
    features = meta.get("features")
    if isinstance(features, dict) and "numeric" in features:
        return pipeline.Columns.from_dict(features)
    return pipeline.columns_for(frame, settings)


def _same_split(meta: dict[str, Any], test_hash: str) -> None:
    """The held-out rows must be the ones the model never saw: same data, same split."""
    expected = ((meta.get("data") or {}).get("test") or {}).get("hash")
    if expected and expected != test_hash:
        raise BadInput("the held-out split differs from the one the model was trained with "
                       "(the data or the seed changed since train); rerun train")


def _score_champion(champ: Champion | None, X: Any, y: Any, names: list[str], task: str
                    ) -> tuple[dict[str, Any] | None, dict[str, float | None] | None, str | None]:
    """(metrics.json block, champion metric values, why it could not be scored)."""
    if champ is None:
        return None, None, None
    block: dict[str, Any] = {"version": champ.version, "environment": champ.environment,
                             "sha256": champ.metadata.get("sha256"), "estimator": champ.metadata.get("estimator")}
    try:
        values, notes = metrics.compute(names, task, y, metrics.predict(champ.model, X, task))
    except Exception as exc:  # noqa: BLE001 - e.g. trained on other columns; the change gates fail with this reason
        error = f"{type(exc).__name__}: {exc}"
        return {**block, "metrics": None, "metric_notes": {}, "error": error}, None, error
    return {**block, "metrics": values, "metric_notes": notes, "error": None}, values, None


def _slices(settings: dict[str, Any], X: pd.DataFrame, y: Any, preds: metrics.Predictions, names: list[str],
            task: str) -> list[dict[str, Any]]:
    """Metrics per value of each slice column; values with fewer than 20 rows are noted and skipped."""
    import numpy as np

    out: list[dict[str, Any]] = []
    y_arr = np.asarray(y)
    for col in settings["evaluate"].get("slices") or []:
        if col not in X.columns:
            raise BadInput(f"evaluate.slices: column `{col}` is not in {settings['data']['path']}")
        keys = X[col].astype(object).where(X[col].notna(), MISSING).astype(str).to_numpy()
        if len(set(keys)) > MAX_SLICE_VALUES:
            raise BadInput(f"evaluate.slices: column `{col}` has {len(set(keys))} distinct values in the held-out "
                           f"split (at most {MAX_SLICE_VALUES}); slices are for category columns")
        for value in sorted(set(keys)):
            mask = keys == value
            n = int(mask.sum())
            entry: dict[str, Any] = {"column": col, "value": value, "rows": n}
            if n < MIN_SLICE_ROWS:
                out.append({**entry, "skipped": True, "metrics": None, "metric_notes": {},
                            "note": f"{n} rows (< {MIN_SLICE_ROWS}): skipped"})
                continue
            values, notes = metrics.compute(names, task, y_arr[mask], metrics.subset(preds, mask))
            out.append({**entry, "skipped": False, "metrics": values, "metric_notes": notes, "note": ""})
    return out


def junit_cases(verdicts: list[gates.Verdict]) -> list[Case]:
    return [Case(name=v.name, classname="mlgen.evaluate.gates", passed=v.passed, message=gates.describe(v))
            for v in verdicts]


def _print_summary(values: dict[str, float | None], champ: dict[str, Any] | None, verdicts: list[gates.Verdict]) -> None:
    for name, v in values.items():
        print(f"{name}: {_num(v)}", flush=True)
    if champ is None:
        print("champion: none (no deployed model yet)", flush=True)
    else:
        print(f"champion: v{champ['version']} ({champ['environment']})"
              + (f", could not be scored: {champ['error']}" if champ["error"] else ""), flush=True)
    for v in verdicts:
        print(f"{'PASS' if v.passed else 'FAIL'} {v.name}: {gates.describe(v)}", flush=True)


# --- report.md --------------------------------------------------------------------------


def report(project: str, result: dict[str, Any], verdicts: list[gates.Verdict], charts: str = "") -> str:
    """Markdown for a PR/MR comment: verdict, metrics vs champion, gates, slices, then `charts`
    (report_charts.section) and the PNG names as text: a relative link is dead where reviewers read."""
    failed = sum(1 for v in verdicts if not v.passed)
    if not verdicts:
        headline = "no gates configured"
    elif failed:
        headline = f"❌ {failed} of {len(verdicts)} gates failed"
    else:
        headline = f"✅ all gates passed ({len(verdicts)} of {len(verdicts)})"
    champ = result["champion"]
    model = result["model"]
    if champ is None:
        against = "no deployed model yet."
    elif champ["error"]:
        against = f"champion v{champ['version']} ({md.escape(champ['environment'])}) could not be scored: {md.escape(champ['error'])}."
    else:
        against = f"champion v{champ['version']} ({md.escape(champ['environment'])}) scored on the same rows."
    lines = [
        f"## mlgen evaluate: {md.escape(project)} — {headline}",
        "",
        f"Candidate {md.code(model['estimator'].rsplit('.', 1)[-1])} (sha256 {md.code(model['sha256'][:12])}) "
        f"on {result['data']['rows']} held-out rows; {against}",
        "",
        *([md.inline(result["data"]["missing_target_note"]) + ".", ""] if result["data"].get("missing_target_note") else []),
        "### Metrics",
        "",
        _metrics_table(result["metrics"], champ),
    ]
    lines += [f"{md.code(name)} could not be computed: {md.escape(note)}\n" for name, note in result["metric_notes"].items()]
    lines += ["### Gates", ""]
    if verdicts:
        lines.append(md.table(["", "gate", "required", "value", "note"], [
            [md.Md("✅" if v.passed else "❌"), v.name, md.Md(_required(v)), md.Md(_num(v.value)), v.note] for v in verdicts
        ], align="llrrl"))
    else:
        lines += ["No gates in evaluate.gates.", ""]
    if result["slices"]:
        names = list(result["metrics"])
        lines += ["### Slices", "", md.table(["column", "value", "rows", *names], [
            [s["column"], s["value"], md.Md(str(s["rows"])),
             *(md.Md("—" if s["skipped"] else _num((s["metrics"] or {}).get(n))) for n in names)]
            for s in result["slices"]
        ], align="llr" + "r" * len(names))]
        if any(s["skipped"] for s in result["slices"]):
            lines += [f"Slices under {MIN_SLICE_ROWS} rows are skipped (—).", ""]
    if charts or result["plots"]:
        lines += ["### Plots", ""]
    if charts:
        lines += [charts.rstrip("\n"), ""]
    if result["plots"]:
        lines += ["PNG files in this job's artifacts (evaluate folder): "
                  + ", ".join(f"{md.code(p)} ({plots.TITLES.get(p.rsplit('/', 1)[-1], p)})" for p in result["plots"]) + "."]
    return "\n".join(lines).rstrip("\n") + "\n"


def _metrics_table(values: dict[str, float | None], champ: dict[str, Any] | None) -> str:
    other = (champ or {}).get("metrics")
    rows = []
    for name, value in values.items():
        label = md.Md(md.escape(name) + (" (lower is better)" if name in metrics.LOWER_IS_BETTER else ""))
        row: list[Any] = [label, md.Md(_num(value))]
        if other is not None:
            theirs = other.get(name)
            delta = value - theirs if value is not None and theirs is not None else None
            row += [md.Md(_num(theirs)), md.Md(_num(delta, signed=True))]
        rows.append(row)
    if other is None:
        return md.table(["metric", "candidate"], rows, align="lr")
    return md.table(["metric", "candidate", f"champion v{champ['version']}", "Δ"], rows, align="lrrr")  # type: ignore[index]


def _required(v: gates.Verdict) -> str:
    if v.bound is None:
        return "—"
    op = {"min": "≥", "max": "≤"}.get(v.kind) or ("≤" if v.metric in metrics.LOWER_IS_BETTER else "≥")
    return f"{op} {v.bound:.4f}"


def _num(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "n/a"
    return f"{v:+.4f}" if signed else f"{v:.4f}"
