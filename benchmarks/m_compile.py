"""`mlgen compile`: the full example spec against the start-up of `dvc --version` (users run
compile as a pre-commit hook, where a peer's start-up is what "instant" means to them), and how
compile time grows with the number of custom stages."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from common import REPO, Row, Size, Tools, bench_env, fresh_dir, interleave, median, run, seconds, worker

FULL_SPEC = REPO / "tests" / "golden" / "full"
GOAL = "≤ `dvc --version` start-up (≤ 1.0×)"
MAX_SECONDS_1000 = 2.0
MAX_MARGINAL_GROWTH = 1.5  # per-stage cost may grow this much from the small span to the large one


def measure_compile(tools: Tools, size: Size, work: Path) -> Row:
    project = fresh_dir(work / "compile")
    for name in ("mlproject.toml", "requirements.txt"):
        shutil.copy(FULL_SPEC / name, project / name)
    env = bench_env({"DVC_NO_ANALYTICS": "1"})
    n = 0

    def compile_fresh() -> float:
        # a new output folder each time: every file is rendered, compared and written
        nonlocal n
        n += 1
        return run([tools.mlgen, "compile", "-q", "--out", project / f"out-{n}"], project, env)

    contenders: dict[str, Callable[[], float]] = {"mlgen": compile_fresh}
    if tools.dvc:
        dvc = tools.dvc
        contenders["dvc"] = lambda: run([dvc, "--version"], project, env)
    interleave(contenders, 1)  # warm-up: bytecode, page cache
    t = interleave(contenders, size.compile_reps)
    a = median(t["mlgen"])
    label = "`mlgen compile`, full example spec (3 providers)"
    notes = [f"{size.compile_reps} interleaved runs each, medians; fresh output folder per compile; "
             "`dvc --version` from the peers' venv (its whole start-up: interpreter, imports, CLI)"]
    if "dvc" not in t:
        return Row(label, seconds(a), "dvc: skipped (--no-peers)", None, GOAL, None, notes)
    b = median(t["dvc"])
    return Row(label, seconds(a), f"`dvc --version` {seconds(b)}", a / b, GOAL, a / b <= 1.0, notes)


def scaling_spec(stages: int) -> str:
    """A chain of custom stages wired DVC-style: each reads the file the previous one writes."""
    head = ['[project]\nname = "scaling"\n',
            '[data]\npath = "data/train.csv"\ntarget = "y"\ntask = "classification"\nallow_extra = true\n',
            '[train]\nestimator = "sklearn.linear_model.LogisticRegression"\n',
            '[evaluate]\nmetrics = ["accuracy"]\n']
    body = []
    for i in range(stages):
        dep = f'"build/s{i - 1}.csv", ' if i else ""
        body.append(f'[[stages]]\nname = "s{i:04d}"\ncmd = "python step.py {i}"\n'
                    f'deps = [{dep}"step.py"]\nouts = ["build/s{i}.csv"]\n')
    return "\n".join(head + body)


def measure_scaling(tools: Tools, size: Size, work: Path) -> Row:
    root = fresh_dir(work / "scaling")
    env = bench_env()
    counts = size.scaling_stages
    for n in counts:
        fresh_dir(root / str(n)).joinpath("mlproject.toml").write_text(scaling_spec(n))

    def compile_n(n: int) -> Callable[[], float]:
        return lambda: run([tools.mlgen, "compile", "-q", "--spec", root / str(n) / "mlproject.toml"], root / str(n), env)

    t = interleave({str(n): compile_n(n) for n in counts}, size.scaling_reps)
    med = {n: median(t[str(n)]) for n in counts}
    lo, mid, hi = counts
    # Linearity from in-process times: a process's start-up noise (±10 ms here) is as large as
    # the whole 10 -> 100 stage difference, so the command's times cannot tell the shape apart.
    specs = [root / str(n) / "mlproject.toml" for n in counts]
    inproc = worker(tools.python, "compile_worker.py", ["--reps", str(size.scaling_inproc_reps), *specs], root, env)["times"]
    cost = {n: median(inproc[str(spec)]) for n, spec in zip(counts, specs)}
    # per-stage (marginal) cost over the small span and the large span: equal when linear
    small_span = max((cost[mid] - cost[lo]) / (mid - lo), 1e-9)
    large_span = (cost[hi] - cost[mid]) / (hi - mid)
    growth = large_span / small_span
    linear = growth <= MAX_MARGINAL_GROWTH
    fast = med[hi] < MAX_SECONDS_1000 if hi >= 1000 else True
    cells = " · ".join(f"{n}: {seconds(med[n])}" for n in counts)
    notes = [f"`mlgen compile` commands, {size.scaling_reps} interleaved runs each, medians; linearity from "
             f"in-process compiles (load, check, lower, render; {size.scaling_inproc_reps} interleaved runs, medians): "
             + " · ".join(f"{n}: {cost[n] * 1000:.1f} ms" for n in counts)
             + f"; per-stage cost {small_span * 1000:.2f} ms ({lo}→{mid} stages) vs {large_span * 1000:.2f} ms "
             f"({mid}→{hi}); ratio = their quotient (1.0 = linear)"]
    if hi < 1000:
        notes.append("the 2 s bound applies to 1,000 stages (full size only)")
    return Row("`mlgen compile` scaling, chained custom stages", cells, "itself", growth,
               f"linear (≤ {MAX_MARGINAL_GROWTH}×); 1,000 stages < 2 s", linear and fast, notes)
