"""The job graph implied by a spec: which jobs exist and what each must wait for.

Shared by the semantic checks (unknown targets, cycles) and by lowering (the plan), so both
see the same graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgen.spec.model import Spec

DEPLOY_ALIAS = "deploy"  # `before = "deploy"` / `needs = ["deploy"]` mean the deploy jobs


def deploy_job(env: str) -> str:
    return f"deploy-{env}"


def sharded(spec: Spec) -> bool:
    return spec.train.search is not None and spec.train.search.shards > 1


def model_job(spec: Spec) -> str:
    """The job whose artifact holds the trained model."""
    return "select" if sharded(spec) else "train"


def builtin_edges(spec: Spec) -> dict[str, set[str]]:
    """Built-in jobs -> the jobs they need."""
    g: dict[str, set[str]] = {"validate": set(), "train": {"validate"}}
    if sharded(spec):
        g["select"] = {"train"}
    g["evaluate"] = {model_job(spec)}
    prev = "evaluate"
    if spec.scan is not None:  # the vulnerability scan sits between evaluate and the deploys
        g["scan"] = {"evaluate"}
        prev = "scan"
    for env in spec.deploy.environments if spec.deploy else []:
        if deploy_job(env.name) in g:  # a duplicate environment (reported by the checks)
            continue
        g[deploy_job(env.name)] = {prev}
        prev = deploy_job(env.name)
    if spec.monitor:
        g["monitor"] = set()
    return g


def resolve(target: str, builtin: dict[str, set[str]], *, first: bool) -> list[str]:
    """Job names a `before`/`needs` target refers to ([] if unknown)."""
    if target == DEPLOY_ALIAS:
        deploys = [j for j in builtin if j.startswith("deploy-")]
        return deploys[:1] if first else deploys[-1:]
    return [target]


def produces(outs: list[str], path: str) -> bool:
    """Does a stage with `outs` produce `path` (the file itself or a folder holding it)?"""
    return any(path == o or path.startswith(o.rstrip("/") + "/") for o in outs)


def edges(spec: Spec) -> dict[str, set[str]]:
    """All jobs (built-in and custom stages) -> the jobs they need. Unknown targets are dropped
    (the semantic checks report them)."""
    g = builtin_edges(spec)
    builtin = dict(g)
    outs = writers(spec)
    for st in spec.stages:
        g[st.name] = set()
    for st in spec.stages:
        for target in st.needs:
            g[st.name].update(j for j in resolve(target, builtin, first=False) if j in g)
        for dep in st.deps:
            g[st.name].update(w for w in producers(outs, dep) if w != st.name)
        if st.before:
            for j in resolve(st.before, builtin, first=True):
                if j in g:
                    g[j].add(st.name)
    # DVC-style wiring: a built-in job waits for the stages that write the data it reads
    for job, files in data_reads(spec).items():
        if job in g:
            g[job].update(w for f in files for w in producers(outs, f))
    return g


def writers(spec: Spec) -> dict[str, set[str]]:
    """out path -> the stages that declare it (a map, so wiring is not quadratic in stages)."""
    by_out: dict[str, set[str]] = {}
    for st in spec.stages:
        for out in st.outs:
            by_out.setdefault(out.rstrip("/"), set()).add(st.name)
    return by_out


def producers(writers: dict[str, set[str]], path: str) -> set[str]:
    """Stages whose outs are `path` itself or a folder above it (same rule as `produces`)."""
    found: set[str] = set()
    parts = path.split("/")
    for i in range(len(parts), 0, -1):
        found |= writers.get("/".join(parts[:i]), set())
    return found


def data_reads(spec: Spec) -> dict[str, list[str]]:
    """Built-in job -> the data files it reads."""
    ref = [spec.data.reference] if spec.data.reference else []
    train = [spec.data.path]
    reads = {"validate": train + ref, "train": train, "select": train, "evaluate": train}
    if spec.scan is not None:
        reads["scan"] = train
    if spec.monitor:
        reads["monitor"] = [spec.monitor.data] + (ref or train)
    return reads


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """A cycle as [a, b, ..., a] (each needs the next... reversed to read as run order), or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in sorted(g.get(n, ())):
            if state.get(d) == 1:
                cyc = stack[stack.index(d):] + [d]
                return list(reversed(cyc))  # run order: d -> ... -> n -> d
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(g):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def topological(g: dict[str, set[str]]) -> list[str]:
    """Kahn's algorithm, ties broken by name, so the order is deterministic."""
    import heapq

    indeg = {n: len(d) for n, d in g.items()}
    users: dict[str, list[str]] = {n: [] for n in g}
    for n, deps in g.items():
        for d in deps:
            users[d].append(n)
    ready = [n for n, k in indeg.items() if k == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        n = heapq.heappop(ready)
        order.append(n)
        for u in users[n]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(ready, u)
    return order


def ancestors(g: dict[str, set[str]], n: str) -> set[str]:
    seen: set[str] = set()
    todo = list(g[n])
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(g[d])
    return seen
