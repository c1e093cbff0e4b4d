"""Build the Faust application: topics, agents and the clients they share.

``create_app(settings)`` is the only place agents are attached to an app, so tests and the
worker build the very same graph. Building connects nothing; clients connect when the
worker starts.
"""

from __future__ import annotations

from collections.abc import Callable

import faust
from redis.asyncio import Redis

from stream.agents import count_dojo
from stream.agents.count_forms import count_forms
from stream.agents.count_traffic import count_traffic
from stream.agents.keep_history import keep_history
from stream.agents.learn_online import learn_online
from stream.agents.learn_online_catalogue import follow_catalogue
from stream.agents.map_heatmaps import map_heatmaps
from stream.agents.map_journeys import map_journeys
from stream.agents.measure_vitals import measure_vitals
from stream.agents.show_activity import show_activity
from stream.agents.track_experiments import track_experiments
from stream.agents.track_funnels import track_funnels
from stream.agents.validate_events import Validator
from stream.experiments.definition import FollowedDesigns
from stream.experiments.design import Catalogue
from stream.ingest.bundles import Decoded
from stream.ingest.contract import Limits
from stream.ingest.dedupe import RedisClaims
from stream.ingest.reclaim import AcceptedFromKafka
from stream.metrics.pipeline import PipelineStats
from stream.models.keys import Keys
from stream.runtime.aggregate import Metric, aggregate
from stream.runtime.crew import Crew
from stream.runtime.holder import Held
from stream.runtime.minutes_out import TOPIC as MINUTES_TOPIC
from stream.settings import Settings
from stream.sinks.publish import SnapshotPublisher

LEARNER = "learn_online"


def metrics(settings: Settings, designs: Catalogue | None = None) -> tuple[Metric, ...]:
    """The mergeable metrics, one agent each: name, live channel, state factory and loader."""
    agents = (count_traffic, count_forms, measure_vitals, track_funnels, map_journeys, map_heatmaps)
    # Experiments are analysed with their published designs (``designs``, followed).
    experiments = track_experiments(settings, designs)
    return (*(agent(settings) for agent in agents), experiments)


def folding_agents(settings: Settings) -> list[str]:
    """The agents that fold ``dojo.events`` into state (their progress is in Redis)."""
    names = [m.agent for m in metrics(settings) if settings.agent_enabled(m.channel)]
    names += ["count_dojo"] if settings.agent_enabled("dojo") else []
    return names + ([LEARNER] if settings.agent_enabled("learning") else [])


def events_topic(app: faust.App, settings: Settings) -> faust.TopicT:
    """The clean events topic the agents read (bytes in: they decode bundles with orjson)."""
    return app.topic(
        settings.topic_events,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )


def streams_enabled(settings: Settings) -> bool:
    """Whether any Faust agent runs (the validate stage alone needs no Faust app)."""
    names = [metric.channel for metric in metrics(settings)] + [
        "learning",
        "activity",
        "history",
        "dojo",
    ]
    return any(settings.agent_enabled(name) for name in names)


def validator(
    settings: Settings, redis: Redis, holds: Callable[[], bool] = lambda: False
) -> Validator:
    """The validate stage with its Redis-backed claims and counters (``holds``: whether
    this worker holds the learners, so that it takes fewer raw partitions)."""
    limits = Limits(
        max_age_ms=settings.max_event_age_h * 3_600_000,
        max_skew_ms=settings.max_clock_skew_s * 1000,
    )
    keys = Keys.of(settings)
    publisher = SnapshotPublisher(redis, keys)
    stats = PipelineStats(redis, keys, publisher, max_hz=settings.live_max_hz)
    claims = RedisClaims(redis, keys, settings.dedupe_hours * 3600, AcceptedFromKafka(settings))
    return Validator(settings, claims, stats, limits, holds=holds)


def follow_designs(app: faust.App, settings: Settings, designs: Catalogue) -> None:
    """Keep ``designs`` from ``dojo.content`` (published at once, no store polling)."""

    async def follow() -> None:
        await follow_catalogue(settings, FollowedDesigns(designs))

    app.task(follow)


def create_app(settings: Settings) -> faust.App:
    """The worker's Faust app with every agent registered."""
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka}",
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        web_port=settings.worker_web_port,
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        producer_max_request_size=16 * 1024 * 1024,  # room for a busy partition's checkpoint
        # A worker that dies without leaving its group holds its partitions this long.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        datadir=str(settings.data_dir / "worker"),
        # Agents acknowledge a message only once a checkpoint holds it, and after a restart
        # or a rebalance a state skips what its checkpoint holds: the streams are idempotent.
        # Waiting for every folded message to be acknowledged made a stopping worker wait
        # for ever (its checkpoint timers stop first).
        stream_wait_empty=False,
    )
    events = events_topic(app, settings)
    decoded = Decoded()  # every agent reads every bundle: decode each once
    redis = Redis.from_url(settings.redis_url)
    publisher = SnapshotPublisher(redis, Keys.of(settings))
    crew = Crew(app, events)  # the folding agents' shared budget and rewinder
    history = app.topic(settings.topic(MINUTES_TOPIC), key_serializer="raw", value_serializer="raw")
    held = Held()  # whether this worker holds the learners now
    if settings.agent_enabled("validate"):
        validator(settings, redis, held).attach(app)
    designs = Catalogue()
    for metric in metrics(settings, designs):
        if settings.agent_enabled(metric.channel):
            out = app.topic(
                settings.topic(f"metrics.{metric.channel}"),
                key_serializer="raw",
                value_serializer="raw",
            )
            aggregate(
                app, metric, events, out, publisher, redis, crew=crew,
                partitions=settings.partitions, max_hz=settings.live_max_hz, decoded=decoded,
                history=history,
            )  # fmt: skip
    if settings.agent_enabled("experiments"):
        follow_designs(app, settings, designs)
    if settings.agent_enabled("dojo"):
        count_dojo.attach(
            app, settings, events, publisher, redis, crew=crew, decoded=decoded, history=history
        )
    if settings.agent_enabled("learning"):
        learn_online(app, settings, redis, held)  # one worker holds it; the others stand by
    if settings.agent_enabled("activity"):
        show_activity(app, events, publisher, max_hz=settings.live_max_hz, decoded=decoded)
    if settings.agent_enabled("history"):
        keep_history(app, settings, redis)  # one worker holds it; the others stand by
    # The learner, the historian and the validate stage read Kafka through consumers of
    # their own; without a Faust agent there is nothing for Faust's consumer to subscribe
    # to, and its conductor crashes on the empty subscription. Faust's "producer only"
    # mode runs the app's tasks, timers and producer without that consumer.
    app.producer_only = not app.agents
    return app
