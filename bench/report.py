"""Result rows (median and spread of repeated runs) and the Markdown/JSON they are written to."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

RESULTS = Path(__file__).parent / "results"
WARM_UP = "; each pipeline agent set first makes one warm-up run that is not counted"


@dataclass
class Row:
    """One measured figure: what ran, its repeated values, and the target it is read against."""

    section: str
    what: str
    unit: str
    values: list[float] = field(default_factory=list)
    seconds: float = 0.0  # wall time of all runs of this row
    target: str = ""
    note: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["median"] = self.median
        out["min"] = min(self.values) if self.values else None
        out["max"] = max(self.values) if self.values else None
        out["runs"] = len(self.values)
        return out


def fmt(value: float | None) -> str:
    """A figure with precision that suits its size."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def width(values: list[float]) -> float | None:
    """The spread of ``values`` as a share of their median: (max - min) / median."""
    if len(values) < 2:
        return None
    middle = statistics.median(values)
    return (max(values) - min(values)) / abs(middle) if middle else None


def spread(row: Row) -> str:
    """``min .. max`` of a row's runs (and that width as a share of the median), ``-`` if none."""
    if not row.values:
        return "-"
    text = f"{fmt(min(row.values))} .. {fmt(max(row.values))}"
    share = width(row.values)
    return text if share is None else f"{text} ({share:.0%})"


def ratios(over: list[float], under: list[float]) -> list[float]:
    """Run-by-run ratios of two interleaved series; a pair with a 0 (a run that failed) is
    left out."""
    return [a / b for a, b in zip(over, under, strict=False) if a and b]


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    """The results table, with the run's settings above it."""
    head = [
        "# Dojo Pulse benchmark results",
        "",
        f"Run {meta['started']} on {meta['machine']}; {meta['events']:,} events "
        f"({meta['messages']:,} raw messages, seed {meta['seed']}), {meta['runs']} runs per row"
        f"{' (quick)' if meta.get('quick') else ''}. Median and spread (min-max, and its width "
        f"as a share of the median) of the runs{WARM_UP if meta.get('warmup') else ''}.",
        "",
        "| section | what ran | median | spread (min-max) | unit | runs | time (s) | target "
        "| note |",
        "|---|---|---:|---|---|---:|---:|---|---|",
    ]
    body = [
        f"| {r.section} | {r.what} | {fmt(r.median)} | {spread(r)} | {r.unit} | "
        f"{len(r.values)} | {r.seconds:.1f} | {r.target} | {r.note} |"
        for r in rows
    ]
    frames = meta.get("hot_frames") or []
    if frames:
        body += [
            "",
            "Worker profile (py-spy, one extra run of the first agent set): top functions by",
            "self time, share of all samples.",
            "",
            "| function | self | total |",
            "|---|---:|---:|",
        ]
        body += [f"| `{f}` | {own:.1%} | {total:.1%} |" for f, own, total in frames]
    plan = meta.get("capacity") or []
    if plan:
        body += ["", *plan]
    return "\n".join(head + body) + "\n"


def machine() -> str:
    cpus = len(__import__("os").sched_getaffinity(0))
    return (
        f"{platform.node()} ({platform.machine()}, {cpus} CPUs, Python {platform.python_version()})"
    )


def write(
    rows: list[Row],
    meta: dict[str, Any],
    directory: Path = RESULTS,
    *,
    name: str = "latest",
    render: Callable[[list[Row], dict[str, Any]], str] = markdown,
) -> Path:
    """Write ``<name>.md`` (made by ``render``) and ``<name>.json``; return the Markdown path."""
    directory.mkdir(parents=True, exist_ok=True)
    md = directory / f"{name}.md"
    md.write_text(render(rows, meta))
    payload = {"meta": meta, "rows": [r.to_dict() for r in rows]}
    (directory / f"{name}.json").write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    return md


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
