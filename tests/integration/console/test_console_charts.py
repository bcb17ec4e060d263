"""Charts: server-rendered SVG whose bars and points follow the numbers, with labels escaped."""

from __future__ import annotations

import re

from lxml import etree

from node.console.charts import Series, bar_chart, hbar_chart, line_chart


def _svg(markup: str) -> etree._Element:
    return etree.fromstring(str(markup).encode())


def test_bar_heights_are_proportional_to_the_values_and_failures_are_stacked():
    svg = _svg(bar_chart("t", ["a", "b", "c"], [1, 2, 0], failed=[0, 2, 0]))
    bars = [float(r.get("height")) for r in svg.iter("rect") if r.get("class") == "bar"]
    bad = [float(r.get("height")) for r in svg.iter("rect") if r.get("class") == "bar-bad"]
    assert bars[1] == 2 * bars[0] and bars[2] == 0
    assert bad == [bars[1]]


def test_a_line_breaks_where_there_is_no_data():
    svg = _svg(line_chart("lat", ["h1", "h2", "h3", "h4"], [Series("s", (1.0, 2.0, None, 3.0))]))
    assert len(list(svg.iter("polyline"))) == 1  # h1-h2; h4 alone is a dot
    assert len(list(svg.iter("circle"))) == 3


def test_labels_are_escaped():
    markup = str(hbar_chart("f", [("<b>x</b>", 3.0)]))
    assert "<b>" not in markup and "&lt;b&gt;" in markup
    _svg(markup)


def test_an_empty_chart_still_renders():
    assert "no failures" in str(hbar_chart("f", []))
    assert re.search(r"<svg[^>]*viewBox", str(bar_chart("t", [], [])))
