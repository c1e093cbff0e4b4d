"""The six metric states filled from one deterministic simulator run, for codec tests.

``tests/unit/checkpoints/*.v1`` hold the checkpoints these states had in the format before
the shared codec (zlib + JSON with an unread ``"v": 1``), written by that code from the
same run, and ``checkpoints/snapshots.json`` the snapshots that code gave: a restored legacy
checkpoint must give them again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dojo_pulse.simulation import generate
from stream.metrics.forms import FormsState
from stream.metrics.funnel_config import load_funnels
from stream.metrics.funnels import FunnelsState
from stream.metrics.heatmaps import HeatmapsState
from stream.metrics.journeys import JourneysState
from stream.metrics.traffic import TrafficState
from stream.metrics.vitals import VitalsState
from stream.sketches.uniques import EXACT_LIMIT

START = 1_764_072_000_000  # noon UTC: the whole run falls on one day
DURATION_S = 300
NOW = START + DURATION_S * 1000
LEGACY = Path(__file__).parent / "checkpoints"
FUNNELS = load_funnels()


def _batches() -> list[dict[str, Any]]:
    requests, _ = generate(7, rate=20, duration_s=DURATION_S, start_ms=START)
    out = []
    for r in requests:
        events = [e for e, reason in zip(r.body["events"], r.expect, strict=True) if not reason]
        if r.bot or not events:
            continue
        out.append({"session_id": r.session_id, "visitor_id": r.visitor_id, "device": r.device,
                    "received_at": START + int(r.at_s * 1000), "events": events})  # fmt: skip
    return out


def _crowd() -> list[dict[str, Any]]:
    # More visitors in one day than the exact limit, so traffic holds HLL sketches too.
    ts = START + 60_000
    return [{"session_id": f"crowd-{n}", "visitor_id": f"crowd-visitor-{n}", "device": "mobile",
             "received_at": ts, "events": [{"event_id": f"crowd-{n}", "type": "page_view",
             "ts": ts, "session_id": f"crowd-{n}", "url": "/", "props": {}, "referrer": ""}]}
            for n in range(EXACT_LIMIT + 500)]  # fmt: skip


def states() -> dict[str, Any]:
    """Kind -> a state that has folded the run (traffic also the crowd)."""
    out: dict[str, Any] = {
        "traffic": TrafficState(["www.dojo.example"]),
        "forms": FormsState(),
        "vitals": VitalsState(),
        "funnels": FunnelsState(FUNNELS),
        "journeys": JourneysState(),
        "heatmaps": HeatmapsState(),
    }
    batches = _batches()
    for batch in batches:
        for state in out.values():
            state.apply(batch, batch["received_at"])
    for batch in _crowd():
        out["traffic"].apply(batch, batch["received_at"])
    return out
