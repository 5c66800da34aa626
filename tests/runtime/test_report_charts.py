"""report_charts: arbitrary class names never break the confusion table or the Mermaid chart syntax.

The Mermaid check is a small grammar (regexes per xychart-beta statement) written here: neither
@mermaid-js/parser (no xychart grammar) nor mermaid's own parse (needs a DOM) was set up offline.
"""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from mlgen_runtime import report_charts as rc
from mlgen_runtime.metrics import Predictions

RENDER = MarkdownIt("commonmark", {"html": True}).enable("table")
_STR = r'"[^"\n`]*"'
_NUMS = r"\[-?[\d.]+(, -?[\d.]+)*\]"
STATEMENT = re.compile(rf"(xychart-beta|    title {_STR}|    x-axis {_STR} (-?[\d.]+ --> -?[\d.]+|\[{_STR}(, {_STR})*\])"
                       rf"|    y-axis {_STR}( -?[\d.]+ --> -?[\d.]+)?|    (line|bar) {_NUMS})")


def mermaid_blocks(text: str) -> list[list[str]]:
    return [b.strip("\n").split("\n") for b in re.findall(r"```mermaid\n(.*?)```", text, re.S)]


def check_grammar(text: str) -> int:
    blocks = mermaid_blocks(text)
    for lines in blocks:
        assert lines[0] == "xychart-beta"
        for line in lines:
            assert STATEMENT.fullmatch(line), line
        assert text.count("```") % 2 == 0
    return len(blocks)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=3, max_size=4, unique=True))
def test_arbitrary_class_names(names: list[str]) -> None:
    rng = np.random.default_rng(0)
    classes = np.array(names, dtype=object)
    y = np.array([names[i % len(names)] for i in range(40)], dtype=object)
    proba = rng.dirichlet(np.ones(len(names)), size=len(y))
    pred = classes[proba.argmax(1)]
    text = rc.section("classification", y, Predictions(y_pred=pred, proba=proba, decision=None, classes=classes))
    assert check_grammar(text) == 2 * len(names)
    table = [line for line in text.split("\n") if line.startswith("|")]
    tokens = RENDER.parse("\n".join(table))
    rows = [t for t in tokens if t.type == "tr_open"]
    cells = [t for t in tokens if t.type in ("td_open", "th_open")]
    assert len(rows) == len(names) + 1 and len(cells) == (len(names) + 1) ** 2


def test_binary_and_regression_charts() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    proba = np.column_stack([1 - y * 0.6 - rng.random(200) * 0.3, y * 0.6 + rng.random(200) * 0.3])
    text = rc.section("classification", y, Predictions(y_pred=proba.argmax(1), proba=proba, decision=None, classes=np.array([0, 1])))
    assert check_grammar(text) == 2 and "AUC" in text
    roc = [line for line in text.split("\n") if line.startswith("    line")][0]
    values = [float(v) for v in roc[10:-1].split(", ")]
    assert len(values) == rc.GRID and values == sorted(values) and values[-1] == 1.0
    reg = rc.section("regression", rng.normal(size=500), Predictions(y_pred=np.zeros(500), proba=None, decision=None, classes=None))
    assert check_grammar(reg) == 1 and len(reg) < 2000
