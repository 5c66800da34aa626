"""Data text in reports is inert, and a report fits one PR/MR comment (issue 13, item 14).

The oracle is a CommonMark renderer (markdown-it-py, with GFM tables; raw HTML on as GitHub
allows it): any string through `escape` renders as exactly its text, with no tag at all (no
link, image, emphasis, code or HTML), and that text holds nothing GitHub or GitLab would turn
into a link, mention or reference. In a table, any cell stays one cell of one row.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from mlgen_runtime import report_md as md

RENDER = MarkdownIt("commonmark", {"html": True}).enable("table")
JOIN = "\u2060"

# what the forges link, mention or reference in rendered text
FORGE = re.compile(
    r"https?://|www\.|[\w.+-]@[\w-]|(^|[^\w])[@#!~%$&][\w\"'(\[{]|(?i:gh)-\d|:\w|\[[a-z_]+:"
    r"|\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,}\b",
)

tricky = st.sampled_from([
    "https://evil.example/x", "http://a.b", "www.evil.example", "WWW.X.COM", "a@b.co", "@user", "@org/team",
    "#123", "GH-12", "owner/repo#4", "!12", "~label", '~"two words"', "%v1.0", "$12", "&12", "[vulnerability:1]",
    ":smile:", "deadbeef1234567", "<img src=x onerror=alert(1)>", "<!-- x -->", "[x](https://y)", "![i](y)",
    "**b**", "_e_", "`c`", "~~s~~", "|", "\\|", "&lt;", "&#60;", "# h", "- item", "1. item", "> quote", "\n", "\t",
    "\r\n", "<https://x.y>", "javascript:alert(1)", "mailto:a@b.c", "\\", "***", "---", "==", "[^1]", "$$x$$",
])
text = st.lists(st.one_of(tricky, st.text(max_size=8)), max_size=6).map("".join)


def _one_line(s: str) -> str:
    s = s.replace("\x00", "\ufffd")  # CommonMark renders NUL as U+FFFD
    return " ".join(s.split()) if any(c in s for c in "\r\n\t") else s


@settings(max_examples=400, deadline=None)
@given(value=text)
def test_any_string_renders_as_its_own_inert_text(value: str) -> None:
    rendered = RENDER.renderInline(md.escape(value))
    assert "<" not in rendered, rendered  # no tag of any kind: links, images, emphasis, code, raw HTML
    shown = html.unescape(rendered)
    assert shown.replace(JOIN, "").strip() == _one_line(value).replace(JOIN, "").strip()
    assert not FORGE.search(shown), shown


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(text, min_size=1, max_size=4))
def test_any_cell_stays_one_cell_of_one_row(cells: list[str]) -> None:
    page = md.table([f"h{i}" for i in range(len(cells))], [cells])
    tokens = RENDER.parse(page)
    rows = [t for t in tokens if t.type == "tr_open"]
    data = [tokens[i + 1] for i, t in enumerate(tokens) if t.type == "td_open"]
    assert len(rows) == 2 and len(data) == len(cells)
    for token, cell in zip(data, cells):
        shown = html.unescape(RENDER.renderInline(token.content))
        assert "<" not in RENDER.renderInline(token.content)
        assert shown.replace(JOIN, "").strip() == _one_line(cell).replace(JOIN, "").strip()


@settings(max_examples=100, deadline=None)
@given(value=text)
def test_code_spans_and_inline_text_render_no_links_or_html(value: str) -> None:
    for out in (md.code(value, cell=False), md.inline(f"column `{value.replace('`', '')}` {value}")):
        rendered = RENDER.renderInline(out)
        assert not re.search(r"<(?!/?code>)", rendered), rendered


# ------------------------------------------------------------------------------- the bound

@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300), max_size=400),
       limit=st.integers(400, 20_000))
def test_a_bounded_report_fits_and_says_where_the_rest_is(lines: list[str], limit: int) -> None:
    text = "\n".join(lines) + "\n"
    out = md.bounded(text, "report-full.md", limit)
    assert len(out.encode("utf-8")) <= limit
    if len(text.encode("utf-8")) <= limit:
        assert out == text
    else:
        head, _, note = out.partition("\n\n---\n\n")
        assert "`report-full.md`" in note and text.startswith(head)


def test_a_report_over_the_comment_limit_is_cut_with_the_whole_one_beside_it(tmp_path: Path) -> None:
    rows = [[f"column_{i}", "x" * 80] for i in range(2000)]
    text = "# report\n\n" + md.table(["column", "value"], rows)
    assert len(text) > 65_536
    md.write_report(tmp_path, text)
    shown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert len(shown.encode("utf-8")) <= md.COMMENT_LIMIT < 65_536 - 100  # room for the comment marker
    assert (tmp_path / "report-full.md").read_text(encoding="utf-8") == text
    assert all(line.endswith(" |") for line in shown.split("\n\n---")[0].splitlines()[2:])  # whole rows only
    md.write_report(tmp_path, "# short\n")
    assert not (tmp_path / "report-full.md").exists()  # no stale whole report
