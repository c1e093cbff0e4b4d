"""CPU cost of the online learners: their fold, per event, and serving, per visitor.

Run: ``.venv/bin/python -m bench.learning_apply [--events N] [--seed S]``. The batches are
the benchmark's simulated raw messages, validated as the validate stage does, so the mix of
page views, downloads, forms and registrations is the site's. Serving is what the agent
refreshes for the site's API about once a second: recommendations and segments of every
visitor touched since the last refresh. Best of ``--repeat`` runs, each from a fresh state.
Last, the final state's snapshot and checkpoint: their cost, and the checkpoint's size against one
Kafka message.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from typing import Any

import click

from bench.load import build
from stream.ingest.contract import Limits
from stream.ingest.screen import Position, assemble, screen
from stream.learning.state import COMPRESSED, LearningState
from stream.topics import MAX_CHECKPOINT_BYTES


def clean_batches(events: int, seed: int) -> list[dict[str, Any]]:
    """Validated session batches of the benchmark data set."""
    data = build(events, seed=seed)
    limits = Limits(max_age_ms=7 * 86_400_000, max_skew_ms=86_400_000)
    batches: list[dict[str, Any]] = []
    for n, (_, value) in enumerate(data.messages):
        screened = screen(value, Position("raw", 0, n), limits)
        batches += assemble(screened, [True] * len(screened.accepted))[0]
    return batches


def _seconds(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


@click.command()
@click.option("--events", default=30_000, show_default=True, help="Events in the data set.")
@click.option("--seed", default=7, show_default=True)
@click.option("--repeat", default=3, show_default=True, help="Runs; the best is reported.")
def main(events: int, seed: int, repeat: int) -> None:
    """Print µs per event of the learners' fold over the benchmark's traffic."""
    batches = clean_batches(events, seed)
    count = sum(len(b["events"]) for b in batches)
    best = serve = float("inf")
    visitors = 0
    for _ in range(repeat):
        state = LearningState()
        began = time.perf_counter()
        for batch in batches:
            state.apply(batch, batch["received_at"])
        best = min(best, time.perf_counter() - began)
        # What the agent refreshes for the site's API: every visitor touched since last time.
        visitors = len(state.touched)
        began = time.perf_counter()
        state.serve(batches[-1]["received_at"])
        serve = min(serve, time.perf_counter() - began)
    click.echo(f"{count:,} events in {len(batches):,} session batches (seed {seed})")
    click.echo(f"LearningState.apply  {best / count * 1e6:6.1f} µs/event")
    click.echo(f"LearningState.serve  {serve / max(visitors, 1) * 1e6:6.1f} µs/visitor "
               f"({visitors:,} visitors)")  # fmt: skip
    # The checkpoint grows with the live sessions; it must fit one Kafka message.
    dump = load = float("inf")
    blob = b""
    for _ in range(repeat):
        began = time.perf_counter()
        blob = state.to_bytes()
        dump = min(dump, time.perf_counter() - began)
        began = time.perf_counter()
        LearningState.from_bytes(blob)
        load = min(load, time.perf_counter() - began)
    now = batches[-1]["received_at"]
    shown = min(_seconds(lambda: state.snapshot(now)) for _ in range(repeat))
    click.echo(f"LearningState.snapshot {shown * 1e3:.1f} ms (published about once a second)")
    plain = len(zlib.decompress(blob[len(COMPRESSED) :]))
    limit = MAX_CHECKPOINT_BYTES
    click.echo(f"LearningState.to_bytes {len(blob) / 1e6:5.2f} MB in {dump * 1e3:.0f} ms "
               f"(pickle {plain / 1e6:.2f} MB; one message holds {limit / 1e6:.1f} MB); "
               f"from_bytes {load * 1e3:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
