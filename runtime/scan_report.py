"""The scan's Markdown section (appended to evaluate's report.md) and its JUnit test cases.

Finding titles and texts name user columns and values: everything goes through report_md's
escaping (`inline` turns the `backticked` column names into code spans and escapes the rest),
so a column called `<img src=x>` or `a|b` stays inert text in a PR/MR comment.
"""

from __future__ import annotations

from typing import Any

from mlgen_runtime import report_md as md
from mlgen_runtime.junit import Case
from mlgen_runtime.scan_result import MAJOR, SKIPPED, TITLES, DetectorResult, pct

HEADING = "## Scan"


def headline(results: list[DetectorResult]) -> str:
    findings = [f for r in results for f in r.findings]
    blocking = [r for r in results if r.blocking]
    majors = sum(f.severity == MAJOR for f in findings)
    if blocking:
        names = ", ".join(TITLES.get(r.name, r.name) for r in blocking)
        return f"❌ major findings block deployment ({names}); {len(findings)} finding(s), {majors} major"
    if majors:
        return f"⚠️ {len(findings)} finding(s), {majors} major (from detectors that do not block)"
    if findings:
        return f"⚠️ {len(findings)} minor finding(s); none blocks deployment"
    return "✅ no finding"


def section(result: dict[str, Any], results: list[DetectorResult]) -> str:
    rows = result["rows"]
    lines = [HEADING, "", f"**{md.escape(headline(results))}** — {rows['scanned']:,} of {rows['test']:,} held-out "
             "rows scanned" + (f" (a seeded sample; scan.max_rows = {rows['max_rows']:,})" if rows["scanned"] < rows["test"] else "")
             + ".", "", "### Detectors", ""]
    lines.append(md.table(["", "detector", "result", "blocks"], [
        [md.Md(_icon(r)), TITLES.get(r.name, r.name), md.inline(r.summary), md.Md("yes" if r.block else "no")]
        for r in results
    ], align="llll"))
    findings = [f for r in results for f in r.findings]
    if findings:
        lines += ["### Findings", ""]
        lines.append(md.table(["severity", "detector", "finding"], [
            [md.Md("🔴 major" if f.severity == MAJOR else "🟡 minor"), TITLES.get(f.detector, f.detector), md.inline(f.title)]
            for f in findings
        ], align="lll"))
        lines += [f"- **{'major' if f.severity == MAJOR else 'minor'}**, {md.escape(TITLES.get(f.detector, f.detector))}: "
                  f"{md.inline(f.text)}" for f in findings]
        lines.append("")
    slices = next((r for r in results if r.name == "slices" and r.status != SKIPPED), None)
    worst = (slices.details.get("worst") or []) if slices else []
    if worst:
        metric = slices.details["metric"]  # type: ignore[union-attr]
        arrow = " (lower is better)" if slices.details.get("lower_is_better") else ""  # type: ignore[union-attr]
        lines += ["### Worst slices", "",
                  f"{md.code(metric, cell=False)}{md.escape(arrow)} on the whole scanned set: "
                  f"{md.number(slices.details['whole'])}.", ""]  # type: ignore[union-attr]
        has_q = any(s.get("q") is not None for s in worst)
        head = ["slice", "rows", md.Md(md.code(metric)), "worse", *(["BH q"] if has_q else []), "flagged"]
        lines.append(md.table(head, [
            [md.inline(s["slice"]), md.Md(f"{s['rows']:,}"), md.Md(md.number(s["value"])), md.Md(pct(s["worse"])),
             *([md.Md(md.number(s.get("q"), 2))] if has_q else []), md.Md(s["severity"] or "—")]
            for s in worst
        ], align="lrrr" + ("r" if has_q else "") + "l"))
    return "\n".join(lines).rstrip("\n") + "\n"


def _icon(r: DetectorResult) -> str:
    if r.status == SKIPPED:
        return "⏭️"
    if r.blocking:
        return "❌"
    if r.findings:
        return "⚠️"
    return "✅"


def report(evaluate_report: str | None, result: dict[str, Any], results: list[DetectorResult]) -> str:
    """evaluate's report.md (when there is one) followed by the scan section."""
    head = (evaluate_report or "").rstrip("\n")
    return (head + "\n\n" if head else "") + section(result, results)


def junit_cases(results: list[DetectorResult]) -> list[Case]:
    """One case per detector (fails when it blocks) and one per finding (fails when major and its
    detector blocks; minor and non-blocking findings pass with their text as output)."""
    cases: list[Case] = []
    for r in results:
        title = TITLES.get(r.name, r.name)
        cases.append(Case(name=f"scan: {title}", classname="mlgen.scan", passed=not r.blocking,
                          message=r.summary, skipped=r.status == SKIPPED))
        for f in r.findings:
            cases.append(Case(name=f"{r.name} ({f.severity}): {f.title}", classname=f"mlgen.scan.{r.name}",
                              passed=not (r.block and f.severity == MAJOR), message=f"{f.severity}: {f.text}"))
    return cases
