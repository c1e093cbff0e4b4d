"""The online learners of one worker as one checkpointable state.

Engagement, recommendations and segments learn from the same batches in prequential order
(each predicts or scores first, then learns). They are kept together so one checkpoint, with
the offsets it covers, restores all three at the same point after a restart. Unlike the
metric states these models do not merge, so ONE learning state reads every partition, in
one worker at a time (``stream.runtime.holder``), however many workers run.

Besides its snapshot, each ``apply`` leaves outputs for the agent to send: engagement score
records (for ``dojo.scores.engagement``) and the visitors whose recommendations or segment
changed (for the site's API, through ``stream.learning.serving``). Model quality is counted
per minute of the learner's event clock for history (``stream.learning.quality_minutes``).
The published catalogue (``stream.learning.catalogue``) is handed in, shared with whoever
follows ``dojo.content``, and never checkpointed: the compacted topic restores it.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Mapping
from typing import Any

from stream.learning.anomaly import Anomalies
from stream.learning.catalogue import Catalogue
from stream.learning.engagement import Engagement
from stream.learning.items import SITE_ITEMS, ItemPaths
from stream.learning.learners import unpickle
from stream.learning.minute_features import MinuteFeatures
from stream.learning.quality_minutes import QualityMinutes
from stream.learning.recommend import Recommender
from stream.learning.segments import Segments

# A checkpoint is zlib-compressed behind this mark (pickles start with b"\x80", so one written
# before compression never does): live sessions make the pickle grow with the day (about 34
# bytes per event of the benchmark's ten-minute day), and a million-event day outgrew one Kafka
# message (``MAX_CHECKPOINT_BYTES``); compressed it is under a third (bench/learning_apply.py).
COMPRESSED = b"DJLZ"
LEVEL = 1  # written about once a second: speed over the last few percent of size
SERVED = 10  # recommendations kept per visitor for the API (it asks for up to 20, shows ~5)
POPULAR = 20
RECENT_ALERTS = 50


class LearningState:
    """Engagement, recommender, segments and anomalies, fed and checkpointed together."""

    def __init__(
        self, site_items: ItemPaths = SITE_ITEMS, catalogue: Catalogue | None = None
    ) -> None:
        self.engagement = Engagement()
        self.recommender = Recommender(site_items=site_items)
        self.recommender.catalogue = catalogue
        self.segments = Segments()
        self.anomalies = Anomalies()
        self.minutes = MinuteFeatures()
        self.quality = QualityMinutes()
        self.recent_alerts: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.touched: set[str] = set()
        self.served_catalogue = -1  # the catalogue version the last ``serve`` ranked with

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Predict, then learn, from one ``dojo.events`` batch."""
        data = dict(batch)
        self.scores += self.engagement.apply(data, now_ms)
        self.recommender.apply(data, now_ms)
        self.segments.apply(data, now_ms)
        self.minutes.add(data)
        self.touched.add(data["visitor_id"])
        if data["events"]:
            self.quality.observe(data["events"][-1]["ts"], data["received_at"], self.totals())

    def totals(self) -> dict[str, int]:
        """The learners' running quality counts (names of the ``learning`` history channel)."""
        rec, eng = self.recommender, self.engagement
        return {"shown": rec.checks, "hits": rec.hits, "baseline_hits": rec.baseline_hits,
                "labelled": eng.labelled, "conversions": eng.conversions}  # fmt: skip

    def watch(self, now_ms: int, dlq_shares: Mapping[int, float]) -> list[dict[str, Any]]:
        """Judge every newly closed minute; the alerts raised (also kept for the snapshot).

        ``dlq_shares`` maps a minute's start to the share of its items dead-lettered
        (crawlers left out), from the ingest counters.
        """
        alerts: list[dict[str, Any]] = []
        for start, features in self.minutes.close(now_ms):
            features["dlq_share"] = dlq_shares.get(start, 0.0)
            alerts += self.anomalies.observe(features, start)
        self.recent_alerts = (alerts[::-1] + self.recent_alerts)[:RECENT_ALERTS]
        return alerts

    def drain_scores(self) -> list[dict[str, Any]]:
        """Each session's newest engagement score record since the last call.

        A newer score supersedes the older ones, so those are not worth a Kafka message.
        """
        scores, self.scores = self.scores, []
        return list({record["session_id"]: record for record in scores}.values())

    def stale(self) -> bool:
        """Whether ``serve`` has news: visitors seen, or a catalogue changed since the last call.

        A publish or unpublish changes what popular items may be served even when nobody visits.
        """
        catalogue = self.recommender.catalogue
        version = catalogue.version if catalogue is not None else -1
        return bool(self.touched) or version != self.served_catalogue

    def serve(self, now_ms: int) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
        """Recommendations and segments of visitors seen since the last call; popular items."""
        touched, self.touched = self.touched, set()
        catalogue = self.recommender.catalogue
        self.served_catalogue = catalogue.version if catalogue is not None else -1
        recs = self.recommender.recommend_many(sorted(touched), SERVED, now_ms)
        segs = {v: self.segments.personalize(v) for v in touched}
        return recs, segs, self.recommender.popular(POPULAR, now_ms)

    def merge(self, other: LearningState, *, sessions: bool = True) -> LearningState:
        """Models do not merge; a worker holds one learning state (shared mode)."""
        raise TypeError("learning states are shared per worker and never merged")

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """One payload per live channel: ``engagement``, ``recommendations``, ``segments``."""
        return {
            "engagement": self.engagement.snapshot(now_ms),
            "recommendations": self.recommender.snapshot(now_ms),
            "segments": self.segments.snapshot(now_ms),
            "alerts": {"alerts": self.recent_alerts, "false_alert_rate": None},
        }

    def expire(self, now_ms: int) -> None:
        """Close idle sessions (learning their labels) and forget stale items."""
        self.engagement.expire(now_ms)
        self.segments.expire(now_ms)
        self.recommender.forget(now_ms)

    def to_bytes(self) -> bytes:
        """All three models, pending outputs excluded (they are re-derived after a restart)."""
        parts = (
            self.engagement.to_bytes(),
            self.recommender.to_bytes(),
            self.segments.to_bytes(),
            self.anomalies.to_bytes(),
            pickle.dumps((self.minutes, self.recent_alerts, self.quality)),
        )
        return COMPRESSED + zlib.compress(
            pickle.dumps(parts, protocol=pickle.HIGHEST_PROTOCOL), LEVEL
        )

    @classmethod
    def from_bytes(
        cls, data: bytes, site_items: ItemPaths = SITE_ITEMS, catalogue: Catalogue | None = None
    ) -> LearningState:
        """Restore a checkpoint written by ``to_bytes``; recommend only ``site_items``."""
        if data.startswith(COMPRESSED):
            data = zlib.decompress(data[len(COMPRESSED) :])
        engagement, recommender, segments, anomalies, rest = unpickle(data)
        out = cls()
        out.engagement = Engagement.from_bytes(engagement)
        out.recommender = Recommender.from_bytes(recommender)
        out.recommender.use_items(site_items)
        out.recommender.catalogue = catalogue
        out.segments = Segments.from_bytes(segments)
        out.anomalies = Anomalies.from_bytes(anomalies)
        # Checkpoints from before quality minutes hold two items here.
        out.minutes, out.recent_alerts, *quality = unpickle(rest)
        out.quality = quality[0] if quality else QualityMinutes()
        return out
