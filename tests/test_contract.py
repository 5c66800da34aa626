"""The plan as the one typed contract (mlgen_runtime/contract.py): the runtime imports nothing
from the compiler, the compiler declares no plan constant of its own, plan.json reads back to
the same Plan, and `mlgen run`'s skip key is the runtime's stage-cache key."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import mlgen_runtime.contract as contract
from mlgen.cli import main
from tests.support import golden

REPO = Path(__file__).resolve().parent.parent
CONSTANTS = ("PLAN_PATH", "RUNTIME_DIR", "CACHE_DIR", "OUT_DIR", "MONITOR_RESULT", "MONITOR_JOB", "MANIFEST",
             "SHARD_INDEX_VAR", "SHARD_TOTAL_VAR", "GENERATED_MARKER", "DO_NOT_EDIT")


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def test_the_runtime_imports_nothing_from_the_compiler() -> None:
    bad = [(p.name, m) for p in sorted((REPO / "runtime").glob("*.py")) for m in _imports(p)
           if m == "mlgen" or m.startswith("mlgen.")]
    assert not bad, bad


def test_compiler_modules_take_plan_constants_from_the_contract() -> None:
    """No compiler module assigns a literal equal to a contract constant: they import it."""
    values = {getattr(contract, n): n for n in CONSTANTS}
    bad = []
    for path in sorted((REPO / "compiler").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value in values:
                bad.append(f"{path.relative_to(REPO)}:{node.lineno} = {values[node.value.value]}")
    assert not bad, bad


def _compiled(case: str, work: Path) -> Path:
    spec = golden.copy_inputs(case, work)
    assert main(["compile", "-q", "--spec", str(spec), "--out", str(work)]) == 0
    return work


@pytest.mark.parametrize("case", golden.all_specs())
def test_plan_json_reads_back_to_the_same_plan(case: str, tmp_path: Path) -> None:
    text = golden.outputs(case, tmp_path)[contract.PLAN_PATH].decode()
    plan = contract.plan_from_dict(json.loads(text))
    assert contract.to_json(plan) == text
    assert all(isinstance(j, contract.Job) for j in plan.jobs) and isinstance(plan.triggers, contract.Triggers)


def test_an_unknown_plan_format_or_field_is_refused(tmp_path: Path) -> None:
    text = golden.outputs("minimal", tmp_path / "minimal")[contract.PLAN_PATH].decode()
    (tmp_path / "p.json").write_text(text.replace('"format_version": 1', '"format_version": 2'))
    with pytest.raises(contract.PlanError, match="plan format 2 is not 1"):
        contract.read_plan(tmp_path / "p.json")
    (tmp_path / "p.json").write_text(text.replace('"cacheable":', '"cachable":', 1))
    with pytest.raises(contract.PlanError, match="unknown field 'cachable'"):
        contract.read_plan(tmp_path / "p.json")


@pytest.mark.parametrize("case", ["full", "custom-stages", "search-shards", "local-estimator"])
def test_local_skip_key_is_the_runtime_stage_cache_key(case: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """One key: for every job of the plan, `mlgen run`'s run.json key (through its stat cache)
    equals the runtime's stage-cache key (per shard: derived from it), run from the bundle."""
    from mlgen import localrun
    from mlgen_runtime import stagecache, stagekey
    from mlgen_runtime.context import load_context

    root = _compiled(case, tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.delenv("MLGEN_NO_CACHE", raising=False)
    monkeypatch.delenv("MLGEN_REGISTRY", raising=False)
    # the runtime hashes the manifest of the bundle it runs from: the one `mlgen compile` wrote
    monkeypatch.setattr(stagecache, "bundle_root", lambda: root / contract.RUNTIME_DIR)
    for rel in {r for j in contract.read_plan(root / contract.PLAN_PATH).jobs for r in j.reads}:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"data of {rel}\n")  # inputs that exist, so their hashes count
    ctx = load_context(root / contract.PLAN_PATH, root)
    plan = ctx.plan
    stats = localrun.StatCache()
    compared = 0
    for job in plan.jobs:
        local = localrun.cache_key(root, plan, job, stats) if job.cacheable else None
        if job.cacheable:
            assert local is not None, job.name
            assert local == stagekey.job_key(plan, root, job, manifest=root / contract.RUNTIME_DIR / contract.MANIFEST,
                                             ask_registry=True), job.name
        if job.cache is None:
            assert stagecache.for_stage(ctx, job.name, None) is None, job.name
            continue
        assert job.cacheable
        if job.shards > 1:
            for i in range(1, job.shards + 1):
                shard = stagecache.for_stage(ctx, job.name, (i, job.shards))
                assert shard is not None and shard.key == stagekey.shard_key(local, i, job.shards), job.name
        else:
            cache = stagecache.for_stage(ctx, job.name, None)
            assert cache is not None and cache.key == local, job.name
        compared += 1
    assert compared >= 3
