"""Post a step's Markdown report to Bitbucket Code Insights (a report and its annotations).

mlgen's Bitbucket backend writes this file to `.mlgen/bitbucket/insights.py`; the review step's
`after-script` runs `python .mlgen/bitbucket/insights.py REPORT MODE STEP` (standard library
only: it runs before or after any install). MODE `always` posts every time, `failed` only when the
step's script failed (`BITBUCKET_EXIT_CODE`), as the other providers post their PR comment.

Auth: with a secured repository variable MLGEN_BITBUCKET_TOKEN (a repository access token) it
calls https://api.bitbucket.org with `Authorization: Bearer`; without it, it goes through the
pipeline's authentication proxy (http://localhost:29418, plain-http URL, no credentials), which
Bitbucket Cloud provides to every step for the Code Insights API. MLGEN_BITBUCKET_API overrides the
API base URL (an API gateway, or a test server). A failed post is reported, never fatal: the
report stays in the step log and its artifacts.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.request

REPORT_ID = "mlgen-review"
PROXY = "http://localhost:29418"
DETAILS_MAX = 2000  # Code Insights: report `details` and annotation `details` limits
SUMMARY_MAX = 450
ANNOTATIONS_MAX = 100  # per request


def sections(markdown: str) -> list[tuple[str, str]]:
    """(heading, body) per `## ` section of the report; the text before the first one is `Summary`."""
    out: list[tuple[str, str]] = []
    title, body = "Summary", []
    for line in markdown.splitlines():
        m = re.match(r"#{1,3} (.+)", line)
        if m:
            if any(b.strip() for b in body):
                out.append((title, "\n".join(body).strip()))
            title, body = m.group(1).strip(), []
        else:
            body.append(line)
    if any(b.strip() for b in body):
        out.append((title, "\n".join(body).strip()))
    return out


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payloads(markdown: str, step: str, failed: bool) -> tuple[dict[str, object], list[dict[str, object]]]:
    """The report and its annotations, within the API's size limits."""
    result = "FAILED" if failed else "PASSED"
    report = {
        "title": "mlgen review",
        "details": clip(markdown, DETAILS_MAX),
        "report_type": "TEST",
        "reporter": "mlgen",
        "result": result,
        "data": [{"title": "Step", "type": "TEXT", "value": step}],
    }
    notes = [
        {
            "external_id": f"{REPORT_ID}-{i}",
            "annotation_type": "CODE_SMELL",
            "summary": clip(heading, SUMMARY_MAX),
            "details": clip(body, DETAILS_MAX),
            "result": result,
        }
        for i, (heading, body) in enumerate(sections(markdown)[:ANNOTATIONS_MAX], start=1)
    ]
    return report, notes


def send(opener: urllib.request.OpenerDirector, method: str, url: str, body: object, headers: dict[str, str]) -> None:
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **headers})
    with opener.open(req, timeout=30) as resp:
        resp.read()


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[2] not in ("always", "failed"):
        print("usage: insights.py REPORT always|failed STEP", file=sys.stderr)
        return 2
    path, mode, step = argv[1], argv[2], argv[3]
    failed = os.environ.get("BITBUCKET_EXIT_CODE", "0") != "0"
    if mode == "failed" and not failed:
        return 0
    if not os.path.isfile(path):
        print(f"insights: no report at {path}; nothing posted")
        return 0
    repo, commit = os.environ.get("BITBUCKET_REPO_FULL_NAME"), os.environ.get("BITBUCKET_COMMIT")
    if not repo or not commit:
        print("insights: BITBUCKET_REPO_FULL_NAME / BITBUCKET_COMMIT unset (not a Bitbucket step); nothing posted")
        return 0
    with open(path, encoding="utf-8") as f:
        report, notes = payloads(f.read(), step, failed)
    token = os.environ.get("MLGEN_BITBUCKET_TOKEN", "")
    base = os.environ.get("MLGEN_BITBUCKET_API", "")
    headers: dict[str, str] = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
        opener = urllib.request.build_opener()
        base = base or "https://api.bitbucket.org/2.0"
    elif base:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    else:  # the proxy authenticates the request; it takes plain-http URLs only
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": PROXY}))
        base = "http://api.bitbucket.org/2.0"
    url = f"{base.rstrip('/')}/repositories/{repo}/commit/{commit}/reports/{REPORT_ID}"
    try:
        send(opener, "PUT", url, report, headers)
        if notes:
            send(opener, "POST", url + "/annotations", notes, headers)
    except (urllib.error.URLError, OSError) as exc:
        print(f"insights: could not post the report ({exc}); it is in this log and the step's artifacts")
        return 0
    print(f"insights: report {REPORT_ID} posted to commit {commit} ({len(notes)} annotations)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
