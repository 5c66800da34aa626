"""What every scan detector returns: findings (minor/major, with a text a reviewer can act on)
and the detector's own verdict. Pure data; shared by runtime/scan*.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MINOR = "minor"
MAJOR = "major"
SEVERITIES = (MINOR, MAJOR)

PASSED = "passed"  # ran, nothing found
FLAGGED = "flagged"  # ran, at least one finding
SKIPPED = "skipped"  # disabled, or not applicable (no predict_proba, too few wrong predictions...)

TITLES = {
    "slices": "performance bias on slices",
    "robustness": "robustness to small perturbations",
    "overconfidence": "overconfidence",
    "leakage": "leakage",
}


@dataclass(frozen=True)
class Finding:
    detector: str
    severity: str  # "minor" | "major"
    title: str  # one line: what and where
    text: str  # how bad and what to do; `backticks` name columns (rendered as code)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"detector": self.detector, "severity": self.severity, "title": self.title, "text": self.text,
                "details": self.details}


@dataclass(frozen=True)
class DetectorResult:
    name: str
    status: str  # PASSED | FLAGGED | SKIPPED
    summary: str  # one line for the report, the log and the JUnit case
    findings: tuple[Finding, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    block: bool = True  # does a major finding of this detector fail the scan?

    @property
    def major(self) -> bool:
        return any(f.severity == MAJOR for f in self.findings)

    @property
    def blocking(self) -> bool:
        return self.block and self.major

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": TITLES.get(self.name, self.name), "status": self.status,
                "summary": self.summary, "block": self.block, "blocking": self.blocking,
                "findings": len(self.findings), "major": sum(f.severity == MAJOR for f in self.findings),
                "details": self.details}


def skipped(name: str, why: str, block: bool = True, **details: Any) -> DetectorResult:
    return DetectorResult(name, SKIPPED, why, (), dict(details), block)


def severity(score: float, minor: float, major: float) -> str | None:
    """`score` beyond `major` -> major, beyond `minor` -> minor (strictly more than), else None."""
    if score > major:
        return MAJOR
    if score > minor:
        return MINOR
    return None


def at_least(score: float, minor: float, major: float) -> str | None:
    """Like `severity` for scores compared with `>=` (leakage: a score reaching the threshold)."""
    if score >= major:
        return MAJOR
    if score >= minor:
        return MINOR
    return None


# Shares of a few rows (changed answers, confident mistakes) are judged by their one-sided lower
# confidence bound at this level: on 44 scanned rows one row is 2.3 %, and 6 of 44 is noise.
CONFIDENCE = 0.95


def lower_bound(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson lower confidence bound of a share of k in n."""
    from scipy import stats

    if n == 0 or k == 0:
        return 0.0
    return float(stats.beta.ppf(1 - confidence, k, n - k + 1))


def pct(fraction: float) -> str:
    """12.3% / 0.41% / 0%: readable shares for finding texts."""
    x = fraction * 100
    if abs(x - round(x)) < 1e-9:
        return f"{round(x):.0f}%"
    if abs(x) >= 10:
        return f"{x:.1f}%"
    return f"{x:.2g}%"


def num(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.4g}"
