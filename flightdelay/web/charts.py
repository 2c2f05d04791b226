"""Small SVG charts drawn on the server, for the /ops page: no script, no CDN, nothing to load.

``line_chart`` draws one line per series over the same x labels (a missing value breaks the
line); ``bar_chart`` draws grouped bars. Both return markup that is safe to embed (every text
is escaped) and scale with the page (viewBox).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Mapping, Sequence

from markupsafe import Markup

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 36, 40
COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#0a7d8c", "#bf3989")


@dataclass(frozen=True)
class Reference:
    """A horizontal line across the chart, e.g. a threshold."""

    value: float
    label: str


def _nice_max(value: float) -> float:
    """A round upper bound for the y axis (1, 2, 2.5, 5 or 10 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if value <= step * power)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _frame(title: str, y_max: float, unit: str) -> list[str]:
    inner_h = HEIGHT - TOP - BOTTOM
    heading = f"{title} ({unit})" if unit else title
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(heading)}">',
        f"<title>{escape(heading)}</title>",
        f'<text class="heading" x="4" y="16">{escape(heading)}</text>',
    ]
    for i in range(5):
        value = y_max * i / 4
        y = TOP + inner_h * (1 - i / 4)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(_tick(LEFT - 6, y + 4, _number(value), "end"))
    return parts


def _tick(x: float, y: float, text: str, anchor: str = "middle") -> str:
    return f'<text class="tick" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>'


def _legend(names: Sequence[str]) -> list[str]:
    parts, x = [], LEFT
    for i, name in enumerate(names):
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text class="legend" x="{x + 14}" y="{HEIGHT - 5}">{escape(name)}</text>')
        x += 22 + 7 * len(name)
    return parts


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    unit: str = "",
    reference: Reference | None = None,
) -> Markup:
    values = [v for points in series.values() for v in points if v is not None]
    y_max = _nice_max(max([*values, reference.value if reference else 0.0], default=0.0))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(len(labels) - 1, 1)

    def point(i: int, v: float) -> str:
        return f"{LEFT + i * step:.1f},{TOP + inner_h * (1 - v / y_max):.1f}"

    parts = _frame(title, y_max, unit)
    if reference is not None:
        y = TOP + inner_h * (1 - reference.value / y_max)
        parts.append(f'<line class="reference" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(_tick(WIDTH - RIGHT, y - 4, reference.label, "end"))
    for n, (name, points) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        run: list[str] = []
        for i, v in enumerate([*points, None]):
            if v is not None:
                run.append(point(i, v))
                continue
            if len(run) > 1:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>')
            parts += [f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3" fill="{colour}"/>' for p in run]
            run = []
    for i in {0, len(labels) - 1} if labels else ():
        anchor = "start" if i == 0 else "end"
        x = LEFT + i * step
        parts.append(_tick(x, HEIGHT - 24, labels[i], anchor))
    parts += _legend(list(series))
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(title: str, categories: Sequence[str], series: Mapping[str, Sequence[float]], unit: str = "") -> Markup:
    values = [v for bars in series.values() for v in bars]
    y_max = _nice_max(max(values, default=0.0))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group = inner_w / max(len(categories), 1)
    bar = group * 0.8 / max(len(series), 1)
    parts = _frame(title, y_max, unit)
    for n, (name, bars) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        for i, v in enumerate(bars):
            height = inner_h * v / y_max
            x = LEFT + i * group + group * 0.1 + n * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{TOP + inner_h - height:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{colour}"><title>{escape(name)}: {_number(v)}</title></rect>'
            )
    for i, category in enumerate(categories):
        x = LEFT + i * group + group / 2
        parts.append(_tick(x, HEIGHT - 24, category))
    parts += _legend(list(series))
    parts.append("</svg>")
    return Markup("".join(parts))
