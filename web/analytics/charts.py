"""The Auswertung's charts, drawn on the server as SVG with pygal.

Each chart is its own small SVG document, served as an image: it needs no
JavaScript (pygal's tooltip script is switched off) and the page keeps its
strict Content-Security-Policy; only the image response allows the inline
style pygal writes. The numbers beside each chart are a table on the page,
so nothing depends on reading a bar.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pygal
from pygal.style import Style

from tenderdesk.analytics import InsurerFigures
from tenderdesk.formats import decimal, percent

_SCRIPT = re.compile(rb"<script\b.*?</script>", re.DOTALL)
STYLE = Style(
    background="#ffffff", plot_background="#ffffff", foreground="#1f2933", foreground_strong="#1f2933",
    foreground_subtle="#d5dbe1", colors=("#1d4f91",), font_family="DejaVu Sans, Arial, sans-serif",
    label_font_size=14, major_label_font_size=14, value_font_size=13, title_font_size=17,
)


@dataclass(frozen=True)
class Metric:
    """One chart: the i18n key of its title, the figure it shows and how a value reads."""

    title_key: str
    value: Callable[[InsurerFigures], float | None]
    label: Callable[[float, str], str]
    scale_max: float | None = None


METRICS: dict[str, Metric] = {
    "antwortquote": Metric("analytics.chart.answer_rate", lambda f: f.answer_rate,
                           lambda v, loc: percent(v, loc), 1.0),
    "angebotszeit": Metric("analytics.chart.days_to_offer",
                           lambda f: None if f.median_hours_to_offer is None else f.median_hours_to_offer / 24,
                           lambda v, loc: decimal(v, loc)),
    "trefferquote": Metric("analytics.chart.hit_rate", lambda f: f.hit_rate, lambda v, loc: percent(v, loc), 1.0),
    "praemienabstand": Metric("analytics.chart.spread",
                              lambda f: None if f.median_spread is None else f.median_spread / 100,
                              lambda v, loc: percent(v, loc)),
}


def render_chart(metric: Metric, title: str, rows: list[tuple[str, InsurerFigures]], locale: str,
                 empty_text: str) -> bytes:
    """A horizontal bar per insurer that has a value, best first as listed."""
    chart = pygal.HorizontalBar(
        style=STYLE, js=[], show_legend=False, title=title, width=640,
        height=max(180, 70 + 34 * len(rows)), print_values=True, range=(0, metric.scale_max or None),
        value_formatter=lambda v: metric.label(v, locale), no_data_text=empty_text,
        show_y_guides=False, margin=12, truncate_label=32, show_x_labels=False,
    )
    values = [(name, metric.value(f)) for name, f in rows]
    values = [(name, v) for name, v in values if v is not None]
    # pygal draws the first value at the bottom; reverse so the list reads top-down.
    chart.x_labels = [name for name, _ in reversed(values)]
    chart.add(title, [v for _, v in reversed(values)])
    # pygal still writes its config as an inline script (for the tooltips
    # ``js=[]`` switched off); an image never runs it, and none is sent.
    return _SCRIPT.sub(b"", bytes(chart.render(is_unicode=False)))


__all__ = ["METRICS", "Metric", "render_chart"]
