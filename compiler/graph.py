"""`mlgen graph`: the plan's job DAG as plain text or a Mermaid flowchart."""

from __future__ import annotations

from mlgen_runtime.contract import Plan


def as_text(plan: Plan) -> str:
    lines = []
    for job in plan.jobs:
        extra = []
        if job.shards > 1:
            extra.append(f"x{job.shards} shards")
        if job.environment:
            extra.append(f"env {job.environment.name}, {job.environment.approval} approval")
        if job.on_drift:
            extra.append("retrains on drift")
        if job.events != ("manual", "pull_request", "push"):
            extra.append("on " + "/".join(job.events))
        needs = f" <- {', '.join(job.needs)}" if job.needs else ""
        note = f"  [{'; '.join(extra)}]" if extra else ""
        lines.append(f"{job.name}{needs}{note}")
    return "\n".join(lines) + "\n"


def _node_id(name: str) -> str:
    return "j_" + name.replace("-", "_")


def as_mermaid(plan: Plan) -> str:
    lines = ["flowchart TD"]
    for job in plan.jobs:
        label = job.name + (f" x{job.shards}" if job.shards > 1 else "")
        shape = ("{{", "}}") if job.environment else ("[", "]")
        lines.append(f'  {_node_id(job.name)}{shape[0]}"{label}"{shape[1]}')
    for job in plan.jobs:
        for dep in job.needs:
            lines.append(f"  {_node_id(dep)} --> {_node_id(job.name)}")
    return "\n".join(lines) + "\n"
