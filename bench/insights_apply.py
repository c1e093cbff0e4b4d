"""Throughput of the funnel, journey and heatmap states' ``apply``, events per second.

Run: ``.venv/bin/python bench/insights_apply.py [--sessions N]``. Batches look like
``dojo.events``: one session per batch, a few events each, with page views along the
registration funnel, clicks, scrolls, page leaves and form events mixed in. A bare loop over
the same events is printed alongside as the ceiling.
"""

from __future__ import annotations

import random
import time
from typing import Any

import click

from stream.metrics.funnel_config import load_funnels
from stream.metrics.funnels import FunnelsState
from stream.metrics.heatmaps import HeatmapsState
from stream.metrics.journeys import JourneysState

T0 = 1_764_072_000_000  # noon UTC
URLS = ["/", "/events", "/blog", "/resources", *(f"/events/e{i}" for i in range(8))]
URLS += [f"/blog/post-{i}" for i in range(40)] + [f"/resources/r{i}" for i in range(60)]
KINDS = ["page_view"] * 3 + ["click"] * 3 + ["scroll", "page_leave", "web_vital", "form"]
FORM_KINDS = ["form_start", "form_field", "form_submit"]


def _event(rng: random.Random, sid: str, n: int, ts: int, url: str) -> dict[str, Any]:
    kind = rng.choice(KINDS)
    props: dict[str, Any] = {}
    if kind == "click":
        props = {
            "x": rng.random(),
            "y": rng.random(),
            "viewport_w": rng.choice([390, 1024, 1440]),
            "viewport_h": 800,
        }
    elif kind == "scroll":
        props = {"depth": rng.choice([0.25, 0.5, 0.75, 1.0])}
    elif kind == "page_leave":
        props = {"dwell_ms": 5000, "scroll_depth": rng.random()}
    elif kind == "web_vital":
        props = {"name": "LCP", "value": rng.uniform(0, 3000)}
    elif kind == "form":
        kind = rng.choice(FORM_KINDS)
        props = {"form_id": "registration"}
        if kind == "form_field":
            props |= {"field": "email", "action": "change"}
    return {
        "event_id": f"{sid}-{n}",
        "type": kind,
        "ts": ts,
        "session_id": sid,
        "url": url,
        "props": props,
        "referrer": "",
    }


def make_batches(sessions: int, seed: int = 1) -> list[dict[str, Any]]:
    """Session-keyed batches of 1..10 events spread over one hour."""
    rng = random.Random(seed)
    out = []
    for s in range(sessions):
        sid = f"session-{s:08d}"
        ts = T0 + rng.randrange(3_600_000)
        path = iter(["/", "/events", f"/events/e{rng.randrange(8)}"])
        url = "/"
        n = 0
        for _ in range(rng.randint(1, 3)):
            events = []
            for _ in range(rng.randint(1, 10)):
                event = _event(rng, sid, n, ts, url)
                if event["type"] == "page_view":
                    url = event["url"] = next(path, None) or rng.choice(URLS)
                events.append(event)
                ts += rng.randrange(50, 20_000)
                n += 1
            device = rng.choice(["mobile", "desktop", "tablet"])
            out.append(
                {
                    "session_id": sid,
                    "visitor_id": "v",
                    "device": device,
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
    funnels = load_funnels()
    factories = {
        "FunnelsState": lambda: FunnelsState(funnels),
        "JourneysState": JourneysState,
        "HeatmapsState": HeatmapsState,
    }
    now = T0 + 3_600_000
    for name, factory in factories.items():
        states: list[Any] = []

        def run(
            bs: list[dict[str, Any]], factory: Any = factory, states: list[Any] = states
        ) -> None:
            state = factory()
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
            f"{name:<22}{rate:>14,.0f} events/s   to_bytes {len(blob) / 1024:,.0f} KiB "
            f"in {dump_ms:.1f} ms   display merge+snapshot {merge_ms:.1f} ms"
        )


if __name__ == "__main__":
    main()
