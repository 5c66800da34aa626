"""Every trial of a search, for people: `trials.json` and the train report's table.

Written beside the model (.mlgen/out/model) by the job that picks the best trial (train, or
select after sharded training), for every strategy: one row per trial with its params, CV
scores (mean, std, per fold) and mean fit/score seconds per fold. Times vary from run to run;
they are in these files only, never in model.json (which has no timestamps).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgen_runtime import report_md as md
from mlgen_runtime.fsutil import write_json
from mlgen_runtime.search import TrialResult

TRIALS_FILE = "trials.json"
FORMAT = 1


def document(summary: dict[str, Any], results: list[TrialResult], study: str | None = None) -> dict[str, Any]:
    return {
        "format_version": FORMAT,
        "strategy": summary["strategy"],
        "scoring": summary["scoring"],
        "greater_is_better": summary["greater_is_better"],
        "cv": summary["cv"],
        "shards": summary["shards"],
        "study": study,
        "best": summary["best"]["index"],
        "trials": [row(r) for r in sorted(results, key=lambda r: r.index)],
    }


def row(r: TrialResult) -> dict[str, Any]:
    return {"index": r.index, "params": r.params, "mean": r.mean, "std": r.std, "fold_scores": r.fold_scores,
            "fit_time": r.fit_time, "score_time": r.score_time, "error": r.error}


def write(folder: Path, doc: dict[str, Any]) -> None:
    write_json(folder / TRIALS_FILE, doc)
    md.write_report(folder, markdown(doc))


def markdown(doc: dict[str, Any]) -> str:
    trials = doc["trials"]
    keys = sorted({k for t in trials for k in t["params"]})
    better = "higher" if doc["greater_is_better"] else "lower"
    failed = sum(1 for t in trials if t["mean"] is None)
    head = (f"## Search: {len(trials)} trials ({doc['strategy']}), {doc['cv']}-fold CV, "
            f"{md.code(doc['scoring'], cell=False)} ({better} is better)\n\n")
    lines = [f"Best: trial {doc['best']} (bold)." + (f" {failed} trial(s) failed." if failed else "")]
    if doc.get("study"):
        lines.append(f"Optuna study {md.code(doc['study'], cell=False)}.")
    headers = ["trial", *keys, "mean", "std", "folds", "fit s", "score s", "note"]
    rows = []
    for t in trials:
        mark = (lambda v: md.bold(v)) if t["index"] == doc["best"] else (lambda v: md.escape(v))
        rows.append([mark(t["index"]), *(md.code(t["params"].get(k, "")) for k in keys), mark(md.number(t["mean"])),
                     md.number(t["std"]), ", ".join(md.number(s) for s in t["fold_scores"]),
                     md.number(t["fit_time"], 3), md.number(t["score_time"], 3), md.escape(t["error"] or "")])
    align = "r" + "l" * len(keys) + "rrlrrl"
    return head + " ".join(lines) + "\n\n" + md.table(headers, rows, align)
