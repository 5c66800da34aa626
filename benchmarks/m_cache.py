"""The inner loop: `mlgen run` against `dvc repro` on the same three-stage pipeline.

Both tools get a copy of the same project: an ~80 MB CSV and three scripts (prepare -> fit ->
score) declared with the same deps and outs, as `[[stages]]` in mlproject.toml and as stages
in dvc.yaml. Both run the scripts with the same interpreter. Two measures:
- no-op: nothing changed since the last run; both must decide that every stage is up to date;
- one changed stage: score.py is edited; both must rerun score only (checked by mtimes).
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from common import BENCH, Row, Size, Tools, bench_env, fresh_dir, interleave, median, run, seconds, worker

SCRIPTS = BENCH / "projects" / "cache"
# name, deps, outs: the one pipeline both tools describe
STAGES = (
    ("prepare", ["prepare.py", "data/data.csv"], ["build/features.npz"]),
    ("fit", ["fit.py", "build/features.npz"], ["build/model.joblib"]),
    ("score", ["score.py", "build/features.npz", "build/model.joblib"], ["build/metrics.json"]),
)
UPSTREAM = ("build/features.npz", "build/model.joblib")


def _list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def mlgen_spec() -> str:
    lines = ['[project]\nname = "cache-bench"\n',
             '[data]\npath = "data/data.csv"\ntarget = "churned"\ntask = "classification"\nallow_extra = true\n',
             '[train]\nestimator = "sklearn.linear_model.LogisticRegression"\n',
             '[evaluate]\nmetrics = ["accuracy"]\n']
    for name, deps, outs in STAGES:
        lines.append(f'[[stages]]\nname = "{name}"\ncmd = "python {name}.py"\ndeps = {_list(deps)}\nouts = {_list(outs)}\n')
    return "\n".join(lines)


def dvc_yaml() -> str:
    lines = ["stages:"]
    for name, deps, outs in STAGES:
        lines += [f"  {name}:", f"    cmd: python {name}.py", f"    deps: {_list(deps)}", f"    outs: {_list(outs)}"]
    return "\n".join(lines) + "\n"


def _project(root: Path, csv: Path) -> Path:
    fresh_dir(root / "data")
    try:  # both projects read the same bytes; a hard link saves copying 80 MB
        os.link(csv, root / "data" / "data.csv")
    except OSError:
        shutil.copy(csv, root / "data" / "data.csv")
    for name, _, _ in STAGES:
        shutil.copy(SCRIPTS / f"{name}.py", root / f"{name}.py")
    return root


def _mtimes(root: Path) -> dict[str, int]:
    return {p: (root / p).stat().st_mtime_ns for p in (*UPSTREAM, "build/metrics.json")}


def _check(root: Path, before: dict[str, int], score_reran: bool, tool: str) -> None:
    """The tool did what it claims: upstream untouched; score rerun only when it changed."""
    after = _mtimes(root)
    for p in UPSTREAM:
        if after[p] != before[p]:
            raise AssertionError(f"{tool}: {p} was rewritten although its inputs did not change")
    if (after["build/metrics.json"] != before["build/metrics.json"]) != score_reran:
        raise AssertionError(f"{tool}: score {'did not rerun' if score_reran else 'reran'} (expected the opposite)")


def measure(tools: Tools, size: Size, work: Path) -> list[Row]:
    base = fresh_dir(work / "cache")
    csv = base / "data.csv"
    info = worker(tools.python, "make_data.py", [csv, "--mb", str(size.cache_csv_mb), "--seed", "3"], base, bench_env())
    mb = info["bytes"] / 1e6
    # `python` in the stage commands is the mlgen venv's interpreter for both tools
    env = bench_env({"PATH": f"{tools.mlgen_venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                     "DVC_NO_ANALYTICS": "1"})

    m_root = _project(fresh_dir(base / "mlgen"), csv)
    (m_root / "mlproject.toml").write_text(mlgen_spec())
    mlgen_cmd = [tools.mlgen, "run", "score"]
    contenders = {"mlgen": lambda: run(mlgen_cmd, m_root, env)}
    run(mlgen_cmd, m_root, env)  # the first, full run (untimed)

    d_root = None
    if tools.dvc:
        d_root = _project(fresh_dir(base / "dvc"), csv)
        (d_root / "dvc.yaml").write_text(dvc_yaml())
        run([tools.dvc, "init", "--no-scm", "-q"], d_root, env)
        run([tools.dvc, "config", "core.analytics", "false"], d_root, env)
        run([tools.dvc, "repro"], d_root, env)
        contenders["dvc"] = lambda: run([tools.dvc, "repro"], d_root, env)
    roots = {"mlgen": m_root, "dvc": d_root}

    # no-op: nothing changed
    before = {k: _mtimes(r) for k, r in roots.items() if r}
    interleave(contenders, 1)  # warm-up
    noop = interleave(contenders, size.cache_reps)
    for k, r in roots.items():
        if r:
            _check(r, before[k], False, k)

    # one changed stage: edit score.py (a comment) before each timed run
    edits = itertools.count(1)

    def changed(tool: str) -> Callable[[], float]:
        def go() -> float:
            root = roots[tool]
            with (root / "score.py").open("a") as fh:
                fh.write(f"# edit {next(edits)}\n")
            mt = _mtimes(root)
            t = contenders[tool]()
            _check(root, mt, True, tool)
            return t
        return go

    edited = interleave({k: changed(k) for k in contenders}, size.cache_reps)

    rows = []
    what = f"{mb:.0f} MB CSV, 3 stages"
    for label, t, goal, bound, extra in (
        (f"no-op `mlgen run` ({what})", noop, "≤ 0.25×", 0.25, "nothing changed: every stage up to date"),
        ("one changed stage reruns only that stage", edited, "≤ 1.0×", 1.0,
         "score.py edited before each run; both rerun score only (checked by mtimes)"),
    ):
        a = median(t["mlgen"])
        notes = [f"{size.cache_reps} interleaved runs each, medians; {extra}",
                 "`mlgen run score` (compiles first unless the plan is current: same spec, same mlgen; each job its own "
                 "process, as in CI) vs `dvc repro`, same dvc.yaml stages, same interpreter"]
        if "dvc" in t:
            b = median(t["dvc"])
            rows.append(Row(label, seconds(a), f"`dvc repro` {seconds(b)}", a / b, goal, a / b <= bound, notes))
        else:
            rows.append(Row(label, seconds(a), "dvc: skipped (--no-peers)", None, goal, None, notes))
    return rows
