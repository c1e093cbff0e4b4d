"""Throughput of the metric states' ``apply`` (the agents' hot path), events per second.

Run: ``.venv/bin/python bench/metrics_apply.py [--sessions N]``. Batches look like
``dojo.events``: one session per batch, a few events each, page views and form and vital
events mixed in. A bare loop over the same events is printed alongside as the ceiling.
"""

from __future__ import annotations

import random
import time
from typing import Any

import click

from stream.metrics.forms import FormsState
from stream.metrics.traffic import TrafficState
from stream.metrics.vitals import VitalsState

T0 = 1_764_072_000_000  # noon UTC
URLS = [f"/page/{i}" for i in range(300)]
KINDS = ["page_view"] * 4 + ["scroll", "click", "page_leave", "web_vital", "form_field"]


def make_batches(sessions: int, seed: int = 1) -> list[dict[str, Any]]:
    """Session-keyed batches of 1..10 events spread over one hour."""
    rng = random.Random(seed)
    out = []
    for n in range(sessions):
        sid = f"session-{n:08d}"
        visitor = f"visitor-{rng.randrange(sessions // 2 + 1):08d}"
        ts = T0 + rng.randrange(3_600_000)
        for _ in range(rng.randint(1, 3)):
            events = []
            for _ in range(rng.randint(1, 10)):
                kind = rng.choice(KINDS)
                props: dict[str, Any] = {}
                if kind == "web_vital":
                    props = {
                        "name": rng.choice(["LCP", "INP", "CLS", "TTFB", "FCP"]),
                        "value": rng.uniform(0, 3000),
                    }
                elif kind == "form_field":
                    props = {
                        "form_id": "register",
                        "field": rng.choice(["name", "age"]),
                        "action": "change",
                    }
                events.append(
                    {
                        "event_id": f"{sid}-{ts}",
                        "type": kind,
                        "ts": ts,
                        "session_id": sid,
                        "url": rng.choice(URLS),
                        "props": props,
                        "referrer": "https://www.google.com/" if not events else "",
                    }
                )
                ts += rng.randrange(50, 20_000)
            out.append(
                {
                    "session_id": sid,
                    "visitor_id": visitor,
                    "device": "mobile",
                    "received_at": ts,
                    "events": events,
                }
            )
    out.sort(key=lambda b: b["received_at"])
    return out


def _bare(batches: list[dict[str, Any]]) -> None:
    views = 0
    for b in batches:
        for e in b["events"]:
            if e["type"] == "page_view":
                views += 1


def _time(fn: Any, batches: list[dict[str, Any]], events: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn(batches)
        best = min(best, time.perf_counter() - started)
    return events / best


@click.command()
@click.option("--sessions", default=20_000, show_default=True)
@click.option("--repeat", default=3, show_default=True)
def main(sessions: int, repeat: int) -> None:
    """Print events/s per state class and checkpoint/snapshot costs."""
    batches = make_batches(sessions)
    events = sum(len(b["events"]) for b in batches)
    click.echo(f"{len(batches)} batches, {events} events")
    click.echo(
        f"{'bare loop (ceiling)':<22}{_time(_bare, batches, events, repeat):>14,.0f} events/s"
    )
    now = T0 + 3_600_000
    for cls in (TrafficState, FormsState, VitalsState):
        states: list[Any] = []

        def run(bs: list[dict[str, Any]], cls: Any = cls, states: list[Any] = states) -> None:
            state = cls()
            for b in bs:
                state.apply(b, b["received_at"])
            states.append(state)

        rate = _time(run, batches, events, repeat)
        state = states[-1]
        started = time.perf_counter()
        blob = state.to_bytes()
        dump_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        state.merge(state, sessions=False).snapshot(now)
        merge_ms = (time.perf_counter() - started) * 1000
        click.echo(
            f"{cls.__name__:<22}{rate:>14,.0f} events/s   to_bytes {len(blob) / 1024:,.0f} KiB "
            f"in {dump_ms:.1f} ms   display merge+snapshot {merge_ms:.1f} ms"
        )


if __name__ == "__main__":
    main()
