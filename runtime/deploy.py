"""The registry stages: `deploy --env E`, `promote --env E --version N`, `rollback --env E [--to N]`
and `registry list`. The registry itself (layout, locking, atomicity) is in registry.py (a folder)
or registry_mlflow.py (`deploy.registry = "mlflow+..."`); `Registry.open` picks one.

deploy refuses unless evaluate wrote `.mlgen/out/evaluate/metrics.json` and every gate in it
passed (and, when the plan has a scan job, its scan.json passed for this very model); it registers
`.mlgen/out/model` (the same model twice is the same version), checks that
the version loads (hashes + trusted types), points E at it and writes `.mlgen/out/deploy-E.json`.
Approval for manual environments is given by the CI provider before the job starts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from mlgen_runtime.context import Context
from mlgen_runtime.errors import BadInput, CheckFailed
from mlgen_runtime.fsutil import read_json, sha256_file, write_json
from mlgen_runtime.lock import reason
from mlgen_runtime.modelio import META_FILE, MODEL_FILE, estimator_package, load_model
from mlgen_runtime.registry import ModelRegistry, Registry, check_model_dir, deployed_stack, rollback_target

HISTORY_SHOWN = 10


def run(ctx: Context, args: argparse.Namespace) -> int:
    registry = Registry.open(ctx)
    if registry is None:
        raise BadInput("the spec has no [deploy] section; add one with a registry and environments")
    handlers = {"deploy": deploy, "promote": promote, "rollback": rollback, "registry": list_registry}
    return handlers[args.stage](ctx, registry, args)


# -- stages --------------------------------------------------------------------------------------


def deploy(ctx: Context, registry: ModelRegistry, args: argparse.Namespace) -> int:
    env = environment(ctx, args.env)["name"]
    evaluation = passed_gates(ctx)
    model_dir = ctx.out("model")
    from mlgen_runtime.scan import scan_verdict  # the scan module's imports are light

    current = registry.alias(env)
    quick = hashed_sha(model_dir)
    if quick is not None and current is not None and version_sha(registry, current) == quick:
        # a no-op decided from hashes, before importing skops or loading the model: the registry
        # verified this version's files when it registered them and verifies them before every
        # load; the gates and the scan verdict are still checked for this very model
        check_same_model(evaluation, quick)
        scan_verdict(ctx, quick)
        print(f"deploy {env}: model sha256 {quick[:12]} is registry version {current} (decided from hashes)")
        report_move("deploy", env, current, current, False)
        return write_record(ctx, registry, env, current, current, False, quick)
    sha = check_model_dir(model_dir)
    check_same_model(evaluation, sha)
    scan_verdict(ctx, sha)  # a plan with a scan job never ships an unscanned or blocked model
    # hashes and trusted types checked before the model enters the registry
    load_model(model_dir / MODEL_FILE, sha, trusted_extra(ctx))
    scores = evaluation.get("metrics")
    version = registry.register(model_dir, scores if isinstance(scores, dict) else None)
    print(f"deploy {env}: model sha256 {sha[:12]} is registry version {version}")
    before = registry.alias(env)
    changed = registry.promote(env, version, reason=f"deploy --env {env}")
    report_move("deploy", env, before, version, changed)
    return write_record(ctx, registry, env, version, before, changed, sha)


def hashed_sha(model_dir: Path) -> str | None:
    """model.json's sha256 when model.skops hashes to it (standard library only); else None."""
    try:
        meta = read_json(model_dir / META_FILE)
        sha = meta.get("sha256") if isinstance(meta, dict) else None
        return sha if isinstance(sha, str) and sha256_file(model_dir / MODEL_FILE) == sha else None
    except (OSError, ValueError):
        return None


def version_sha(registry: ModelRegistry, version: int) -> str | None:
    """The model sha256 the registry records for `version` (None when it has no such record)."""
    return next((r.get("model_sha256") for r in registry.versions() if r.get("version") == version), None)


def write_record(ctx: Context, registry: ModelRegistry, env: str, version: int, before: int | None,
                 changed: bool, sha: str) -> int:
    record = ctx.out(f"deploy-{env}.json")
    try:
        write_json(record, {
            "environment": env,
            "version": version,
            "previous": before,
            "changed": changed,
            "model_sha256": sha,
            "registry": registry.label(ctx.root),
            **registry.deploy_fields(env, version),
        })
    except OSError as exc:
        raise BadInput(
            f"deploy {env}: {env} now points at version {version}, but {relative(record, ctx.root)} "
            f"could not be written: {exc.filename or record}: {reason(exc)}"
        ) from None
    return 0


def promote(ctx: Context, registry: ModelRegistry, args: argparse.Namespace) -> int:
    env = environment(ctx, args.env)["name"]
    verify_loads(ctx, registry, args.version)
    before = registry.alias(env)
    changed = registry.promote(env, args.version, reason=f"promote --env {env} --version {args.version}")
    report_move("promote", env, before, args.version, changed)
    return 0


def rollback(ctx: Context, registry: ModelRegistry, args: argparse.Namespace) -> int:
    env = environment(ctx, args.env)["name"]
    if args.to is None and os.environ.get("MLGEN_ROLLBACK_TO", "").strip():
        # CI entry points pass the optional target version through this variable
        raw = os.environ["MLGEN_ROLLBACK_TO"].strip()
        if not raw.isdigit():
            raise BadInput(f"MLGEN_ROLLBACK_TO must be a version number, got {raw!r}")
        args.to = int(raw)
    stack = deployed_stack(registry.history(), env)
    if not stack:
        raise BadInput(f"environment {env!r} was never promoted; nothing to roll back")
    # check the target before it goes live; the registry re-checks under its lock
    target = rollback_target(env, stack, args.to)
    verify_loads(ctx, registry, target)
    before = registry.alias(env)
    now = registry.rollback(env, target, reason=f"rollback --env {env}" + (f" --to {args.to}" if args.to else ""))
    report_move("rollback", env, before, now, before != now)
    return 0


def list_registry(ctx: Context, registry: ModelRegistry, args: argparse.Namespace) -> int:
    print("\n".join(listing(registry, registry.label(ctx.root))))
    return 0


# -- checks --------------------------------------------------------------------------------------


def environment(ctx: Context, name: str) -> dict[str, Any]:
    envs = ctx.settings["deploy"].get("environments") or []
    for env in envs:
        if env["name"] == name:
            return env
    known = ", ".join(e["name"] for e in envs) or "none are configured"
    raise BadInput(f"--env {name}: not an environment of [deploy] (known: {known})")


def passed_gates(ctx: Context) -> dict[str, Any]:
    """evaluate's metrics.json, when every gate in it passed; CheckFailed otherwise."""
    path = ctx.out("evaluate") / "metrics.json"
    if not path.is_file():
        raise BadInput(f"{relative(path, ctx.root)}: not found; run the evaluate stage first (its gates decide the deploy)")
    try:
        data = read_json(path)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{relative(path, ctx.root)}: unreadable ({exc})") from None
    gates = data.get("gates") if isinstance(data, dict) else None
    if not isinstance(gates, list) or not all(isinstance(g, dict) and isinstance(g.get("passed"), bool) for g in gates):
        raise BadInput(f"{relative(path, ctx.root)}: expected {{\"gates\": [{{\"metric\": ..., \"passed\": true|false}}]}}")
    failed = [str(g.get("metric", "?")) for g in gates if not g["passed"]]
    if failed:
        raise CheckFailed(f"gates failed; not deploying ({', '.join(failed)})")
    return data


def check_same_model(evaluation: dict[str, Any], sha: str) -> None:
    """When evaluate recorded which model it judged, it must be the one being deployed."""
    judged = evaluation.get("model_sha256")
    if judged and judged != sha:
        raise BadInput(
            f"evaluate judged model {str(judged)[:12]} but .mlgen/out/model is {sha[:12]}; "
            "run evaluate on this model first"
        )


def verify_loads(ctx: Context, registry: ModelRegistry, version: int) -> None:
    """Hashes and trusted types of a version, checked before anyone points at it."""
    registry.load(version, trusted_extra(ctx))


def trusted_extra(ctx: Context) -> tuple[str, ...]:
    """The configured estimator class (train.estimator), trusted exactly besides modelio's
    allow-list (never its whole package)."""
    train = ctx.settings.get("train") or {}
    return estimator_package(ctx.settings) if train.get("estimator") else ()


# -- output --------------------------------------------------------------------------------------


def report_move(stage: str, env: str, before: int | None, after: int, changed: bool) -> None:
    if changed:
        print(f"{stage} {env}: {env} {before if before is not None else '(none)'} -> {after}")
    else:
        print(f"{stage} {env}: {env} already at version {after}; nothing to do")


def listing(registry: ModelRegistry, name: str) -> list[str]:
    versions, aliases, history = registry.versions(), registry.aliases(), registry.history()
    lines = [f"registry {name}: {len(versions)} version(s)"]
    by_version: dict[int, list[str]] = {}
    for env, version in sorted(aliases.items()):
        by_version.setdefault(version, []).append(env)
    rows = [["version", "sha256", "estimator", "metrics", "environments"]]
    for record in versions:
        rows.append([
            str(record["version"]),
            str(record.get("model_sha256", ""))[:12],
            str(record.get("estimator") or "-"),
            format_metrics(record.get("metrics")),
            ", ".join(by_version.get(record["version"], [])) or "-",
        ])
    lines += table(rows) if versions else ["  (no versions)"]
    lines.append("aliases: " + (", ".join(f"{e} -> {v}" for e, v in sorted(aliases.items())) or "(none)"))
    shown = history[-HISTORY_SHOWN:]
    lines.append(f"history (last {len(shown)} of {len(history)}):" if history else "history: (empty)")
    lines += ["  " + format_history(entry) for entry in shown]
    return lines


def table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def format_metrics(metrics: Any) -> str:
    if not isinstance(metrics, dict) or not metrics:
        return "-"
    parts = [f"{k}={v:.4g}" for k, v in sorted(metrics.items()) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return " ".join(parts) or "-"


def format_history(entry: dict[str, Any]) -> str:
    old = entry.get("from")
    text = f"#{entry.get('seq', '?')} {entry.get('action', '?')} {entry['env']}: {old if old is not None else '(none)'} -> {entry['to']}"
    extras = [
        f"commit {str(entry['commit'])[:12]}" if entry.get("commit") else "",
        f"by {entry['actor']}" if entry.get("actor") else "",
        str(entry.get("time") or ""),
        f"({entry['reason']})" if entry.get("reason") else "",
    ]
    return "  ".join([text, *(e for e in extras if e)])


def relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
