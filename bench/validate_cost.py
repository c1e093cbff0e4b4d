"""CPU cost of validation without Kafka: decode + contract + sanitise, then batching, per event.

Run: ``.venv/bin/python -m bench.validate_cost [--events N] [--seed S]``. The data is the
benchmark's own simulated raw messages (``bench.load``), so the event mix, URLs and titles
are the site's. Prints microseconds per event for ``screen`` (decode, judge, scrub) and for
``assemble`` + ``pack`` (session batches into per-partition bundles), best of ``--repeat``;
then the worker's CPU per event for the dedupe claims of each take, one script call per
take as the validate stage makes them (against the Redis of ``DOJO_REDIS_URL``; the keys
expire after a minute).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import click
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bench.load import build
from stream.agents.validate_events import TAKE_MAX
from stream.ingest.bundles import pack
from stream.ingest.contract import Limits
from stream.ingest.dedupe import Accepted, RedisClaims
from stream.ingest.screen import Position, Screened, assemble, screen
from stream.models.keys import Keys
from stream.settings import Settings


def _screen_all(messages: list[tuple[bytes, bytes]], limits: Limits) -> list[Screened]:
    return [screen(value, Position("raw", 0, n), limits) for n, (_, value) in enumerate(messages)]


def _bundle_all(screened: list[Screened], partitions: int) -> int:
    batches = []
    for one in screened:
        clean, _ = assemble(one, [True] * len(one.accepted))
        batches += clean
    return len(pack(batches, partitions))


@click.command()
@click.option("--events", default=30_000, show_default=True, help="Events in the data set.")
@click.option("--seed", default=7, show_default=True)
@click.option("--repeat", default=3, show_default=True, help="Runs; the best is reported.")
@click.option("--partitions", default=4, show_default=True)
def main(events: int, seed: int, repeat: int, partitions: int) -> None:
    """Print µs per event of screening and of bundling the benchmark's raw messages."""
    data = build(events, seed=seed)
    # Event times lie in the ten minutes before now: accept them whatever the run's length.
    limits = Limits(max_age_ms=7 * 86_400_000, max_skew_ms=86_400_000)
    best_screen = best_bundle = float("inf")
    bundles = 0
    for _ in range(repeat):
        began = time.perf_counter()
        screened = _screen_all(data.messages, limits)
        best_screen = min(best_screen, time.perf_counter() - began)
        began = time.perf_counter()
        bundles = _bundle_all(screened, partitions)
        best_bundle = min(best_bundle, time.perf_counter() - began)
    click.echo(f"{data.events:,} events in {len(data.messages):,} raw messages (seed {seed})")
    click.echo(
        f"screen (decode, contract, sanitise)  {best_screen / data.events * 1e6:6.2f} µs/event"
    )
    click.echo(
        f"assemble + pack into {bundles} bundles   {best_bundle / data.events * 1e6:6.2f} µs/event"
    )
    screened = _screen_all(data.messages, limits)
    accepted = sum(len(one.accepted) for one in screened)
    cpu = asyncio.run(_claim_cpu(screened, Settings.from_env(), repeat))
    click.echo(f"claims, one call per take (worker CPU)  {cpu / accepted * 1e6:6.2f} µs/event")


class NothingAccepted:
    """The bench's claims have no accepted events to restore: a fresh ledger is just sealed."""

    async def chunks(self) -> AsyncIterator[list[Accepted]]:
        return
        yield


async def _claim_cpu(screened: list[Screened], settings: Settings, repeat: int) -> float:
    """Best process CPU seconds to claim every take's accepted event ids."""
    redis = Redis.from_url(settings.redis_url)
    claims = RedisClaims(redis, Keys.of(settings), ttl_s=60, accepted=NothingAccepted())
    takes = [
        [c for one in screened[n : n + TAKE_MAX] for c in one.claims()]
        for n in range(0, len(screened), TAKE_MAX)
    ]
    best = float("inf")
    try:
        await redis.ping()
        for _ in range(repeat):
            began = time.process_time()
            for take in takes:
                await claims.claim(take)
            best = min(best, time.process_time() - began)
    except (RedisError, OSError) as exc:
        message = f"no Redis at {settings.redis_url}: start it with `make infra-up`"
        raise click.ClickException(message) from exc
    finally:
        await redis.aclose()
    return best


if __name__ == "__main__":
    main()
