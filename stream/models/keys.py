"""Every name two processes must agree on in Redis: keys and pub/sub channels, in one place.

Writer and reader build a name from the same ``Keys`` so they cannot drift apart. Every
name starts with the deployment's namespace ``<topic prefix>:<app id>:`` (``dojo:dojo-pulse:``
by default). The topic prefix tells apart deployments that share a broker, the app id
(the worker's consumer group) those that share topics; two deployments equal in both would
read the same topics in the same group, so they are one. Both are restricted to letters,
digits, ``.``, ``_`` and ``-`` (``Settings.check``): with no ``:`` inside, the first two
segments of a name say whose it is, so two namespaces never share a name, and the live
pattern needs no glob escaping.

What lives under the namespace, by writer -> reader:

- ``snapshot:<channel>`` / ``live:<channel>``: metric agents -> live feed (and the
  collector's salt check reads ``snapshot:traffic``).
- ``parts:<channel>``: the keyed sources of a snapshot several processes write (``alerts``:
  the learner and the backup scheduler) -> each other's publishes.
- ``checkpoints:<agent>``: each metric agent -> the other workers' merges.
- ``stats:folded``, ``stats:folded_at``, ``stats:seen_at``: agents -> live feed health.
- ``stats:pipeline``, ``stats:events_processed``, ``stats:m:<minute ms>``: validate stage ->
  live feed, bench and the anomaly learner.
- ``reco:v:<visitor>``, ``reco:popular``, ``segment:v:<visitor>``: learner -> site API.
- ``dedupe:<event id>``, ``ledger:dedupe``: the validate stages of every worker.
- ``salt:<day>``, ``salt-reset:<day>``, ``rl:<window>:<client>``: collector replicas.
- ``session:<sha256 of id>``: live feed replicas (admin sessions).
- ``dojo-notice:<event id>``: the claim of a capacity notice, by the workers running count_dojo.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream.settings import Settings


@dataclass(frozen=True)
class Keys:
    """The Redis names of one deployment; build it with :meth:`Keys.of`."""

    namespace: str  # ends with ":"

    @classmethod
    def of(cls, settings: Settings) -> Keys:
        """The names of the deployment ``settings`` describe."""
        return cls(f"{settings.topic_prefix}:{settings.app_id}:")

    # Metric snapshots: the contract between the agents and the live feed.
    def snapshot(self, channel: str) -> str:
        """The key holding the latest snapshot of ``channel``."""
        return f"{self.namespace}snapshot:{channel}"

    def live(self, channel: str) -> str:
        """The pub/sub channel every new snapshot of ``channel`` is published on."""
        return f"{self.namespace}live:{channel}"

    @property
    def live_pattern(self) -> str:
        """The pattern subscription matching every ``live`` channel."""
        return self.live("*")

    def snapshot_parts(self, channel: str) -> str:
        """The hash of each source's part of ``channel``'s snapshot (merged when published)."""
        return f"{self.namespace}parts:{channel}"

    def channel_of(self, pubsub_channel: str) -> str | None:
        """The snapshot channel a ``live`` pub/sub channel carries (None if not one of ours)."""
        prefix = self.live("")
        return pubsub_channel[len(prefix) :] if pubsub_channel.startswith(prefix) else None

    # Worker state shared between workers.
    def checkpoints(self, agent: str) -> str:
        """The hash of ``agent``'s latest checkpoint per partition, for other workers' merges."""
        return f"{self.namespace}checkpoints:{agent}"

    # Progress and health of the agents (hashes keyed by agent name).
    @property
    def folded(self) -> str:
        return f"{self.namespace}stats:folded"

    @property
    def folded_at(self) -> str:
        return f"{self.namespace}stats:folded_at"

    @property
    def seen_at(self) -> str:
        return f"{self.namespace}stats:seen_at"

    # Ingest counters of the validate stage.
    @property
    def pipeline(self) -> str:
        return f"{self.namespace}stats:pipeline"

    @property
    def events_processed(self) -> str:
        return f"{self.namespace}stats:events_processed"

    def ingest_minute(self, start_ms: int) -> str:
        """The hash of one received minute's ingest counts (valid, dead)."""
        return f"{self.namespace}stats:m:{start_ms}"

    # What the learner leaves for the site's API.
    def recommendations(self, visitor: str) -> str:
        return f"{self.namespace}reco:v:{visitor}"

    @property
    def popular(self) -> str:
        return f"{self.namespace}reco:popular"

    def segment(self, visitor: str) -> str:
        return f"{self.namespace}segment:v:{visitor}"

    # Duplicate detection (the claim scripts append the event id to the prefix themselves).
    @property
    def dedupe_prefix(self) -> str:
        return f"{self.namespace}dedupe:"

    def dedupe(self, event_id: str) -> str:
        """The claim of one event id."""
        return self.dedupe_prefix + event_id

    @property
    def dedupe_ledger(self) -> str:
        # Outside the claims' prefix, so no event id can name it and a scan of them skips it.
        return f"{self.namespace}ledger:dedupe"

    # The collector's shared state.
    def salt(self, day: str) -> str:
        """The visitor salt of UTC day ``day`` (``YYYY-MM-DD``)."""
        return f"{self.namespace}salt:{day}"

    def salt_reset(self, day: str) -> str:
        """The flag of a day whose salt was made again mid-day."""
        return f"{self.namespace}salt-reset:{day}"

    def rate_limit(self, window: int, client: str) -> str:
        """The request count of ``client`` (a keyed hash) in one limit window."""
        return f"{self.namespace}rl:{window}:{client}"

    # The live feed's admin sessions.
    def session(self, digest: str) -> str:
        """One open admin session, by the hash of its id."""
        return f"{self.namespace}session:{digest}"

    # The dojo agent's notices, each sent once by whichever worker claims it first.
    def dojo_notice(self, event_id: str) -> str:
        """The claim of the capacity notice of one dojo event."""
        return f"{self.namespace}dojo-notice:{event_id}"
