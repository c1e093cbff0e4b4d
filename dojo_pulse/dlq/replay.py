"""``dlq replay``: send dead letters back through the validate stage, each at most once.

Order of writes, so that a crash anywhere replays nothing twice: first every chosen letter is
recorded on ``dojo.events.dlq.replayed`` (raw position -1), then the raw messages are sent,
then the records are written again with the raw positions they landed at (the topic is
compacted: the newest record per letter stays). A crash between the first and last step
leaves letters recorded but perhaps not sent: at most once, never twice.

Then, unless told not to wait, it watches the validate stage's committed offsets pass the
replayed messages and reads what came back to the dead-letter topic from them.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from tqdm import tqdm

from dojo_pulse.dlq.letters import Position, read_letter
from dojo_pulse.dlq.plan import Plan, Replay, record
from dojo_pulse.dlq.scan import DlqError, Seen, end_offsets, kafka_errors, scan
from dojo_pulse.dlq.summary import moment
from stream.settings import Settings
from stream.topics import TopicError, ensure_topics, replayed_topic

LISTED: Final = 20  # letters a dry run lists one by one
POLL_S: Final = 0.5

Echo = Callable[[str], None]


@dataclass
class Outcome:
    """What a replay did and, when it waited, how the validate stage judged it."""

    plan: Plan
    sent: list[Position] = field(default_factory=list)  # raw messages written
    judged: bool = False
    again: Counter[str] = field(default_factory=Counter)  # reason -> events dead-lettered again


async def replayed_keys(settings: Settings) -> set[str]:
    """Positions (``topic/partition/offset``) of every dead letter replayed before."""
    keys: set[str] = set()

    def visit(seen: Seen) -> None:
        if seen.key is not None:
            keys.add(seen.key.decode("utf-8", errors="replace"))

    await scan(settings, replayed_topic(settings), visit, progress=False)
    return keys


async def make_plan(
    settings: Settings, reason: str, since_ms: int | None, progress: bool = True
) -> Plan:
    """Read the dead-letter topic once and plan the replay of ``reason``."""
    replayed = await replayed_keys(settings)
    out = Plan()

    def visit(seen: Seen) -> None:
        letter = read_letter(seen.at, seen.value)
        if letter is None or letter.reason != reason:
            return
        if since_ms is None or letter.received_at >= since_ms:
            out.add(letter, replayed)

    found = await scan(settings, settings.topic_dlq, visit, since_ms=since_ms, progress=progress)
    if found is None:
        raise DlqError(f"no topic {settings.topic_dlq}: run dojo-pulse topics (or a worker)")
    return out


def dry_run_lines(plan: Plan, reason: str) -> list[str]:
    """What a dry run prints: what it would replay; nothing is written."""
    sources = {letter.source for letter, _event in plan.letters}
    lines = [
        f"would replay {len(plan.letters)} ({reason}) in {len(sources)} raw messages, "
        f"skip {plan.already} already replayed, {plan.unfit} cannot be replayed"
    ]
    for letter, _event in plan.letters[:LISTED]:
        lines.append(f"  {letter.at}  received {moment(letter.received_at)}")
    if len(plan.letters) > LISTED:
        lines.append(f"  and {len(plan.letters) - LISTED} more")
    return lines


async def send(settings: Settings, plan: Plan) -> list[Position]:
    """Record, send and record again (see the module's docstring); the raw positions sent."""
    try:
        await ensure_topics(settings)  # the replay record topic, on a deployment made before it
    except TopicError as exc:
        raise DlqError(str(exc)) from None
    replays = plan.replays(settings.site_id)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka, acks="all", enable_idempotence=True
    )
    try:
        with kafka_errors(settings):
            await producer.start()
            now = int(time.time() * 1000)
            await _records(producer, settings, [(r, None) for r in replays], now)
            landed = await asyncio.gather(
                *[await producer.send(settings.topic_raw, r.value, key=r.key) for r in replays]
            )
            sent = [Position(settings.topic_raw, m.partition, m.offset) for m in landed]
            await _records(producer, settings, list(zip(replays, sent, strict=True)), now)
            return sent
    finally:
        await producer.stop()


async def _records(
    producer: AIOKafkaProducer,
    settings: Settings,
    replays: list[tuple[Replay, Position | None]],
    now: int,
) -> None:
    pending = []
    for replay, raw in replays:
        for letter in replay.letters:
            key, value = record(letter, now, raw)
            pending.append(await producer.send(replayed_topic(settings), value, key=key))
    await asyncio.gather(*pending)


async def wait_judged(
    settings: Settings, sent: list[Position], wait_s: float, progress: bool = True
) -> bool:
    """Wait until the validate stage has committed past every message in ``sent``."""
    highest: dict[int, int] = {}
    for at in sent:
        highest[at.partition] = max(highest.get(at.partition, -1), at.offset)
    tps = [TopicPartition(settings.topic_raw, p) for p in sorted(highest)]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=10_000)
    deadline = time.monotonic() + wait_s
    bar = tqdm(
        total=len(sent), unit="msg", desc="judged by the validate stage", file=sys.stderr,
        leave=False, disable=None if progress else True,
    )  # fmt: skip
    try:
        with kafka_errors(settings), bar:
            await admin.start()
            while True:
                found = await admin.list_consumer_group_offsets(
                    settings.validate_group, partitions=tps
                )
                committed = {tp.partition: meta.offset for tp, meta in found.items()}
                passed = sum(1 for at in sent if at.offset < committed.get(at.partition, -1))
                bar.update(passed - bar.n)
                if passed == len(sent):
                    return True
                if time.monotonic() > deadline:
                    return False
                await asyncio.sleep(POLL_S)
    finally:
        await admin.close()


async def rejected_again(
    settings: Settings, sent: list[Position], dlq_from: dict[int, int]
) -> Counter[str]:
    """Dead letters written since ``dlq_from`` for the events in ``sent``, by reason."""
    ours = set(sent)
    seen: dict[tuple[Position, int], str] = {}  # a take sent twice after a crash counts once

    def visit(message: Seen) -> None:
        letter = read_letter(message.at, message.value)
        if letter is not None and letter.source in ours:
            seen[letter.source, letter.index] = letter.reason

    await scan(settings, settings.topic_dlq, visit, starts=dlq_from, progress=False)
    return Counter(seen.values())


async def replay(
    settings: Settings,
    reason: str,
    since_ms: int | None,
    *,
    wait_s: float,
    progress: bool = True,
) -> Outcome:
    """Replay the letters of ``reason`` since ``since_ms``; wait ``wait_s`` for the verdict."""
    outcome = Outcome(await make_plan(settings, reason, since_ms, progress))
    if not outcome.plan.letters:
        return outcome
    dlq_from = await end_offsets(settings, settings.topic_dlq)
    outcome.sent = await send(settings, outcome.plan)
    if wait_s > 0:
        outcome.judged = await wait_judged(settings, outcome.sent, wait_s, progress)
        if outcome.judged:
            outcome.again = await rejected_again(settings, outcome.sent, dlq_from)
    return outcome


def summary_lines(outcome: Outcome) -> list[str]:
    """``replayed N, skipped M already replayed``, then the verdict when there is one."""
    plan = outcome.plan
    lines = [f"replayed {len(plan.letters)}, skipped {plan.already} already replayed"]
    if plan.unfit:
        lines.append(f"{plan.unfit} cannot be replayed (malformed, whole message or cut)")
    if outcome.judged:
        again = sum(outcome.again.values())
        reasons = ", ".join(f"{r} {n}" for r, n in outcome.again.most_common())
        lines.append(
            f"judged again: {len(plan.letters) - again} accepted, {again} dead-lettered again"
            + (f" ({reasons})" if reasons else "")
        )
    return lines
