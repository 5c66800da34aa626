"""Public data sets, end to end, with the shortest spec, through the real `mlgen run`.

EXPECT is the one source of truth for what each data set should do with the defaults: the tests
hold every run to it, and docs/real-data.md shows it as a table (a test checks that the table is
exactly `render_table()`). A sound data set must deploy to the automatic environment (warnings
allowed; the expected ones asserted, and no others); a data set with a genuine problem
(datasets.py: a leaking feature, a missing target) must be refused, or warned about, with the
column named where the user reads it (the console or the reports).

The runs themselves happen once per session, two at a time (conftest.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.realdata.conftest import ENVIRONMENT, Run, Session
from tests.realdata.datasets import BASE, LEAKING, RealDataset, by_name

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "real-data.md"


@dataclass(frozen=True)
class Expect:
    refused_by: str | None  # None: the run deploys to the environment; else the job that refuses it
    did: str  # what the defaults did, in a few words (the table's column)
    warns: tuple[str, ...] = ()  # validate checks that warn (exactly these)
    # A known defect: what the run does instead, with the exact message. The test is then an
    # expected failure (strict: it fails as soon as the defect is fixed, to update this) and the
    # table says so; the expectation itself stays what the data set deserves.
    defect: str | None = None


# Checks that warn: duplicates (repeated rows, kept on one side of the split), nulls (missing
# feature values, imputed), target (rows with a missing target, dropped), features (id-like,
# free-text or date columns left out or turned into numbers).
EXPECT: dict[str, Expect] = {
    "iris": Expect(None, "1 repeated row kept on one side of the split", ("duplicates",)),
    "wine": Expect(None, "nothing to do"),
    "breast_cancer": Expect(None, "nothing to do"),
    "diabetes": Expect(None, "nothing to do"),
    "digits": Expect(None, "64 pixel columns, some constant, used as they are"),
    "fair": Expect(None, "16 % repeated rows (survey answers) kept on one side of the split", ("duplicates",)),
    "fair_any": Expect(None, "19 % repeated rows (survey answers) kept on one side of the split", ("duplicates",)),
    "anes96": Expect(None, "1 repeated row kept on one side of the split", ("duplicates",)),
    "grunfeld": Expect(None, "firm names one-hot encoded, the year used as a number"),
    "randhie": Expect(None, "55 % repeated rows kept on one side of the split", ("duplicates",)),
    "spector": Expect(None, "32 rows: trained, evaluated and scanned as they are"),
    "ccard": Expect(None, "72 rows: trained, evaluated and scanned as they are"),
    "penguins": Expect(None, "missing measurements and `sex` imputed", ("nulls",)),
    "penguins_sex": Expect(None, "11 rows without `sex` left out and counted; missing measurements imputed",
                           ("nulls", "target")),
    "titanic_survival": Expect(None, "passenger names (`rownames`) left out as free text; 20 % missing ages imputed",
                               ("features", "nulls")),
    "titanic_counts": Expect(None, "98 % repeated rows (one row per passenger, 4 discrete columns) kept on one "
                             "side of the split", ("duplicates",)),
    "hitters": Expect(None, "59 rows without `Salary` left out and counted; player names (`rownames`) left out "
                      "as an id", ("features", "target")),
    "airquality": Expect(None, "37 rows without `Ozone` left out and counted; missing `Solar.R` imputed",
                         ("nulls", "target")),
    "diamonds": Expect(None, "0.3 % repeated rows kept on one side of the split", ("duplicates",)),
    "carseats": Expect(None, "nothing to do"),
    "credit_data": Expect(None, "missing values in 6 columns imputed; 2 repeated rows kept on one side of the split",
                          ("duplicates", "nulls")),
    "default": Expect(None, "nothing to do"),
    "wage": Expect("scan", "the scan's leakage detector: `logwage` alone predicts the target", ("duplicates",)),
    "creditcard": Expect(None, "the scan warns (minor leakage): `expenditure` and `share` (spending / income) "
                         "each reach ROC AUC 0.990 alone, a hair under the 0.99 that blocks"),
    "cars": Expect(None, "8 rows without `Miles_per_Gallon` left out and counted; missing `Horsepower` imputed; "
                   "the date used as a number", ("nulls", "target")),
    "seattle_weather": Expect(None, "the date used as a number"),
}
# Each sound set's twin with a feature that encodes the target (datasets.leaking_variant): the
# scan must block every one. Two of them run here, one per task (each run costs about ten
# seconds of CPU); the scan's own calibration measures all of them in process
# (benchmarks/scan_false_positives.py).
LEAK_TWINS = ("penguins_leak", "carseats_leak")
EXPECT["penguins_leak"] = Expect("scan", "the scan's leakage detector: `review_score` alone predicts the target",
                                 ("nulls",))
EXPECT["carseats_leak"] = Expect("scan", "the scan's leakage detector: `review_score` alone predicts the target")

RUN = tuple(EXPECT)


def _param(name: str) -> object:
    defect = EXPECT[name].defect
    return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=f"defect: {defect}")) if defect else name


# --------------------------------------------------------------------------- what a run shows


def warned(run: Run) -> dict[str, str]:
    """validate's checks that warned: name -> message."""
    return {name: c["message"] for name, c in run.checks().items() if c.get("status") == "warn"}


def scan_findings(run: Run, detector: str) -> list[dict[str, object]]:
    """The scan's findings of one detector (scan.json), minor and major."""
    result = run.json(".mlgen/out/scan/scan.json") or {}
    return [f for f in result.get("findings", []) if f.get("detector") == detector]


def failed_jobs(run: Run) -> list[str]:
    return [job for job, status in run.statuses().items() if status == "failed"]


def job_text(run: Run, job: str) -> str:
    """What the user reads about one job: its section of the console output and its reports."""
    out = run.output
    section = re.search(rf"^{re.escape(job)} ─+$(.*?)(?=^\S+ ─+$|^mlgen run\b|\Z)", out, re.M | re.S)
    reports = [text for rel, text in run.reports.items() if f"/{job}/" in rel]
    return "\n".join([section.group(1) if section else "", *reports])


def named(column: str, text: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(column)}(?![\w.])", text) is not None


# --------------------------------------------------------------------------- the end-to-end tests


@pytest.mark.parametrize("dataset", [_param(n) for n in RUN])
def test_dataset_end_to_end(dataset: str, realdata_runs: Session) -> None:
    run = realdata_runs.runs[dataset]
    expect = EXPECT[dataset]
    ds = run.dataset
    code, statuses, failed, why = run.code, run.statuses(), failed_jobs(run), run.describe()
    assert "Traceback" not in run.output, why
    assert code != -1, why  # timed out
    if expect.refused_by is None:
        assert code == 0 and statuses.get(f"deploy-{ENVIRONMENT}") == "ran", why
        aliases = run.folder / "models" / "aliases.json"
        assert aliases.is_file() and ENVIRONMENT in aliases.read_text(encoding="utf-8"), why
    else:
        assert code != 0 and failed == [expect.refused_by], why
        assert statuses.get(f"deploy-{ENVIRONMENT}") == "blocked", why
    if expect.refused_by != "validate":
        warnings = sorted(warned(run))
        assert warnings == sorted(expect.warns), why
    if ds.problem_column is not None:
        column = ds.problem_column
        if expect.refused_by is not None:
            where = job_text(run, expect.refused_by)
            assert named(column, where), f"{expect.refused_by} refused {dataset} without naming `{column}`:\n{where}"
        elif ds.problem_kind == "leak":  # deployed: the scan must have warned, naming the column
            leaks = scan_findings(run, "leakage")
            assert any(f.get("details", {}).get("feature") == column for f in leaks), (leaks, why)  # type: ignore[union-attr]
            assert named(column, run.reports.get(".mlgen/out/scan/report.md", "")), why
        else:
            messages = " ".join(warned(run).values())
            assert named(column, messages), f"no warning names `{column}`: {warned(run)}"


def test_missing_targets_are_dropped_and_counted(realdata_runs: Session) -> None:
    """A missing target is warned about with the count of rows left out, and the model is trained
    without them."""
    checked = 0
    for name, run in realdata_runs.runs.items():
        ds = run.dataset
        if ds.problem_kind != "missing_target" or EXPECT[name].refused_by is not None:
            continue
        missing = int(ds.frame()[ds.target].isna().sum())
        message = warned(run).get("target", "")
        assert re.search(rf"\b{missing}\b", message) and named(ds.target, message), (name, message)
        # training rows + held-out rows = the rows that have a target
        fitted = re.search(r"^fitting \S+ on ([\d,]+) rows", run.stdout, re.M)
        held_out = re.search(r"^scan: [\d,]+ of ([\d,]+) held-out rows", run.stdout, re.M)
        assert fitted and held_out, run.describe()
        used = int(fitted.group(1).replace(",", "")) + int(held_out.group(1).replace(",", ""))
        assert used == ds.rows - missing, (name, used, ds.rows, missing)
        checked += 1
    if not checked:
        pytest.skip("no data set with a missing target was selected")


# --------------------------------------------------------------------------- the documentation


def outcome(name: str) -> str:
    expect, ds = EXPECT[name], by_name(name)
    if expect.defect:
        return f"**defect**: {expect.defect}"
    if expect.refused_by is not None:
        return f"refused by {expect.refused_by}" + (f" (`{ds.problem_column}`)" if ds.problem_column else "")
    if ds.problem_column is not None:
        by = "scan" if ds.problem_kind == "leak" else "validate"
        return f"deployed, {by} warns (`{ds.problem_column}`)"
    return "deployed" + (", with warnings" if expect.warns else "")


def render_table() -> str:
    """docs/real-data.md's table, from EXPECT and the data set registry."""
    lines = ["| data set | package | task | rows | what the defaults did | warns | outcome |",
             "| --- | --- | --- | ---: | --- | --- | --- |"]
    for name in RUN:
        ds, expect = by_name(name), EXPECT[name]
        warns = ", ".join(f"`{w}`" for w in expect.warns) or "-"
        lines.append(f"| `{name}` | {ds.source} | {ds.task} | {ds.rows:,} | {expect.did} | {warns} | {outcome(name)} |")
    return "\n".join(lines)


BEGIN, END = "<!-- realdata table: begin -->", "<!-- realdata table: end -->"


def test_docs_table_is_the_expectations() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"docs/real-data.md lost its table markers {BEGIN} / {END}"
    found = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert found == render_table(), f"docs/real-data.md's table is stale; it should read:\n{render_table()}"


def test_the_suite_covers_both_tasks_and_every_problem() -> None:
    """At least 12 data sets of both tasks, every data set of the registry with a genuine problem,
    and every expectation about a data set the registry has."""
    base = [by_name(n) for n in RUN if by_name(n).leak_of is None]
    assert len(base) >= 12
    assert {d.task for d in base} == {"classification", "regression"}
    assert {d.name for d in BASE if d.problem} <= set(RUN)
    assert set(LEAK_TWINS) <= {d.name for d in LEAKING}
    for name in LEAK_TWINS:  # a deliberate, near-perfect leak is refused, not only warned about
        assert EXPECT[name].refused_by == "scan", name
