"""Latency of the site's public API (``GET /api/recommendations``, ``GET /api/personalize``).

Starts a real collector process on a free port against the local Redis, leaves
recommendations and segments for many visitors there (as the learning agent does), then
asks for them one request at a time over a kept-alive connection and reports p50 / p99.

    python bench/api_latency.py [--visitors 1000] [--requests 3000]

Figures go to bench/results/api_latency.md and .json. Needs `dojo-pulse infra up`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
from redis.asyncio import Redis

from infra.process import free_port
from stream.learning.serving import store_for_visitors
from stream.models.keys import Keys
from stream.settings import Settings

RESULTS = Path(__file__).parent / "results"


async def seed(settings: Settings, visitors: list[str]) -> None:
    redis = Redis.from_url(settings.redis_url)
    items = [
        {"item": f"/events/dojo-{i}", "score": 1 - i / 20, "reason": "people like you"}
        for i in range(10)
    ]
    segment = {"segment": 1, "label": "event seeker", "blocks": ["upcoming-dojos"]}
    await store_for_visitors(
        redis,
        Keys.of(settings),
        {v: items for v in visitors},
        {v: segment for v in visitors},
        items,
    )
    await redis.aclose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    settings = replace(Settings.from_env(), collector_port=free_port())
    visitors = [f"{n:012x}" for n in range(args.visitors)]
    asyncio.run(seed(settings, visitors))
    env = {**os.environ, **settings.to_env()}
    proc = subprocess.Popen([sys.executable, "-m", "dojo_pulse.cli", "collector"], env=env)
    base = f"http://{settings.collector_host}:{settings.collector_port}"
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=base, timeout=5) as client:
            while True:
                try:
                    if client.get("/healthz").status_code in (200, 503):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit("the collector did not start")
                time.sleep(0.1)
            rows = {}
            for path in ("/api/recommendations", "/api/personalize"):
                timings = []
                for i in range(args.requests):
                    began = time.perf_counter()
                    reply = client.get(
                        path, params={"visitor": visitors[i % len(visitors)], "n": 5}
                    )
                    timings.append((time.perf_counter() - began) * 1000)
                    if reply.status_code != 200:
                        sys.exit(f"{path} answered {reply.status_code}: {reply.text}")
                rows[path] = {
                    "p50_ms": round(statistics.median(timings), 2),
                    "p99_ms": round(percentile(timings, 0.99), 2),
                    "requests": len(timings),
                }
                print(
                    f"{path}: p50 {rows[path]['p50_ms']} ms, p99 {rows[path]['p99_ms']} ms",
                    flush=True,
                )
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api_latency.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["| endpoint | p50 (ms) | p99 (ms) | requests | target |", "|---|---:|---:|---:|---|"]
    lines += [
        f"| `{p}` | {r['p50_ms']} | {r['p99_ms']} | {r['requests']} | p99 < 20 ms |"
        for p, r in rows.items()
    ]
    (RESULTS / "api_latency.md").write_text(
        "# Site API latency\n\n`python bench/api_latency.py` — one client, kept-alive connection, "
        f"{args.visitors} visitors in Redis.\n\n" + "\n".join(lines) + "\n"
    )


if __name__ == "__main__":
    main()
