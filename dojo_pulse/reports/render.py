"""A report as an email: the HTML (Jinja2, autoescaped, inline SVG bars), the text part.

Charts are inline SVG bars drawn from the period's rows (one bar per day or hour), sized in
the template so a client that shows no SVG still shows every number in the tables.
"""

from __future__ import annotations

from datetime import UTC, datetime

from jinja2 import Environment, PackageLoader, select_autoescape

from dojo_pulse.reports.figures import Figure, Report

CHART_W, CHART_H = 560, 120


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("dojo_pulse.reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["value"] = value
    env.filters["change"] = change
    return env


def value(number: float | None, unit: str = "count") -> str:
    """A figure as a reader says it: ``1,204``, ``2,350 ms``, ``0.08``, ``42 %``; ``—`` for none."""
    if number is None:
        return "—"
    if unit == "ms":
        return f"{round(number):,} ms"
    if unit == "share":
        return f"{round(number * 100)} %"
    if unit == "ratio":
        return f"{number:.2f}"
    return f"{round(number):,}"


def change(figure: Figure) -> str:
    """``+18 %`` / ``-4 %``; ``new`` where the previous period had none."""
    if figure.change is None:
        return "—" if not figure.value else "new"
    sign = "+" if figure.change >= 0 else "-"
    return f"{sign}{abs(round(figure.change * 100))} %"


def bars(points: list[tuple[int, float]]) -> list[dict[str, float | str]]:
    """SVG rectangles of ``points`` scaled to the chart, with a label each."""
    if not points:
        return []
    top = max(v for _, v in points) or 1.0
    width = CHART_W / len(points)
    out: list[dict[str, float | str]] = []
    for i, (start, v) in enumerate(points):
        height = (CHART_H - 14) * v / top
        day = datetime.fromtimestamp(start / 1000, UTC).strftime("%d %b %H:%M")
        x, w = round(i * width + 1, 1), round(max(width - 2, 1), 1)
        out.append({"x": x, "y": round(CHART_H - height, 1), "w": w, "h": round(height, 1),
                    "title": f"{day}: {v:g}"})  # fmt: skip
    return out


def render(report: Report) -> tuple[str, str, str]:
    """(subject, text, html) of ``report``."""
    env = _env()
    sections: dict[str, list[Figure]] = {}
    for figure in report.figures:
        sections.setdefault(figure.section, []).append(figure)
    charts = [(title, bars(points)) for title, points in report.series.items()]
    context = {"report": report, "sections": sections, "charts": charts, "w": CHART_W,
               "h": CHART_H, "days": (report.end - report.start) // 86_400_000}  # fmt: skip
    subject = report.title if not report.reason else f"{report.title}: {report.reason}"
    text = env.get_template("report.txt.j2").render(context)
    html = env.get_template("report.html.j2").render(context)
    return subject, text, html
