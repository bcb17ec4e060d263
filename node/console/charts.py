"""Charts as server-rendered SVG (no script, no CDN): bars, lines and horizontal bars with their axes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Series", "bar_chart", "hbar_chart", "line_chart"]

_W, _H = 640, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 14, 28


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a line chart: a value per label (None where there is no data)."""

    name: str
    values: tuple[float | None, ...]
    css_class: str = "line"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _frame(title: str, labels: Sequence[str], top: float, unit: str) -> list[str]:
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    ]
    for i in range(5):
        y = _TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        label = _fmt(top * i / 4) + (unit if i == 4 else "")
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_TOP + plot_h}"/>')
    parts.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_TOP + plot_h}" y2="{_TOP + plot_h}"/>'
    )
    n = max(len(labels), 1)
    every = max(1, n // 8)
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = _LEFT + plot_w * (i + 0.5) / n
        parts.append(f'<text x="{x:.1f}" y="{_H - 10}" text-anchor="middle">{escape(label)}</text>')
    return parts


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    unit: str = "",
    failed: Sequence[float] | None = None,
) -> Markup:
    """Vertical bars, one per label; `failed` (same length) is stacked on top in the failure colour."""
    totals = [v + (failed[i] if failed else 0) for i, v in enumerate(values)]
    top = _nice_max(max(totals, default=0))
    parts = _frame(title, labels, top, unit)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    n = max(len(labels), 1)
    bw = plot_w / n * 0.7
    for i, value in enumerate(values):
        x = _LEFT + plot_w * (i + 0.15) / n
        h = plot_h * value / top
        y = _TOP + plot_h - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}">'
            f"<title>{escape(labels[i])}: {_fmt(value)}</title></rect>"
        )
        if failed and failed[i]:
            fh = plot_h * failed[i] / top
            parts.append(
                f'<rect class="bar-bad" x="{x:.1f}" y="{y - fh:.1f}" width="{bw:.1f}" height="{fh:.1f}">'
                f"<title>{escape(labels[i])}: {_fmt(failed[i])} failed</title></rect>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str = "") -> Markup:
    """Lines over the labels; a None value breaks the line (no data that hour)."""
    top = _nice_max(max((v for s in series for v in s.values if v is not None), default=0))
    parts = _frame(title, labels, top, unit)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    n = max(len(labels), 1)
    for s in series:
        segments: list[list[str]] = [[]]
        for i, value in enumerate(s.values):
            if value is None:
                segments.append([])
                continue
            x = _LEFT + plot_w * (i + 0.5) / n
            y = _TOP + plot_h - plot_h * value / top
            segments[-1].append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{escape(s.name)} {escape(labels[i])}: {_fmt(value)}{escape(unit)}</title></circle>"
            )
        for points in segments:
            if len(points) > 1:
                parts.append(f'<polyline class="{escape(s.css_class)}" points="{" ".join(points)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def hbar_chart(title: str, items: Sequence[tuple[str, float]]) -> Markup:
    """Horizontal bars, one per (label, value), largest first as given."""
    row = 24
    height = max(len(items), 1) * row + 20
    left = 150
    top = _nice_max(max((v for _, v in items), default=0))
    parts = [
        f'<svg class="chart" viewBox="0 0 {_W} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    ]
    if not items:
        parts.append(f'<text x="{_W / 2}" y="24" text-anchor="middle">no failures</text>')
    for i, (label, value) in enumerate(items):
        y = 10 + i * row
        w = (_W - left - 60) * value / top
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect class="bar-bad" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}"/>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 15}">{_fmt(value)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
