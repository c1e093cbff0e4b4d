"""Quality of the online learners on simulated site traffic, each against its baseline.

Feeds simulator traffic, batched as the validate agent batches it (one request's valid
events of one session; visitor id = a hash of the user agent), through engagement,
recommendations and segments in prequential order, then measures the anomaly detector's
false-alert rate on a long steady run and its delay on an injected spike and drop.
Writes bench/results/model_quality.json and .md.

Run: .venv/bin/python bench/model_quality.py [--seed 1] [--rate 10] [--hours 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dojo_pulse.simulation import Request, generate, site
from stream.learning.anomaly import Anomalies
from stream.learning.engagement import Engagement
from stream.learning.items import item_of
from stream.learning.recommend import Recommender
from stream.learning.segments import Segments
from stream.sketches.windows import MINUTE_MS

START_MS = 1_764_547_200_000  # Monday 2025-12-01 00:00 UTC
RESULTS = Path(__file__).parent / "results"


def batches(requests: list[Request], start_ms: int) -> Iterator[tuple[dict[str, Any], int]]:
    """Valid human batches as ``dojo.events`` carries them, with their receive time."""
    for request in requests:
        events = [e for e, tag in zip(request.body["events"], request.expect, strict=True)
                  if tag == ""]  # fmt: skip
        if request.bot or not events:
            continue
        now = start_ms + int(request.at_s * 1000)
        visitor = hashlib.blake2b(request.user_agent.encode(), digest_size=8).hexdigest()
        yield {"session_id": request.session_id, "visitor_id": visitor, "device": request.device,
               "received_at": now, "events": events}, now  # fmt: skip


def catalog() -> dict[str, dict[str, Any]]:
    """What the site knows: past dojo events ended before the run, upcoming ones are open."""
    items: dict[str, dict[str, Any]] = {}
    for page in site.EVENT_PAGES:
        items[item_of(page.url)] = {"kind": "event", "until_ms": START_MS if page.past else None}
    return items


def learners(seed: int, rate: float, hours: float) -> dict[str, Any]:
    began = time.perf_counter()
    requests, _ = generate(seed, rate=rate, duration_s=hours * 3600, start_ms=START_MS)
    engagement, recommender, segments = Engagement(), Recommender(), Segments()
    recommender.set_catalog(catalog(), START_MS)
    n = 0
    visitors: dict[str, None] = {}
    for batch, now in batches(requests, START_MS):
        visitors[batch["visitor_id"]] = None
        engagement.apply(batch, now)
        recommender.apply(batch, now)
        segments.apply(batch, now)
        n += 1
    end = START_MS + int(hours * 3600 * 1000) + 31 * MINUTE_MS
    engagement.expire(end)
    segments.expire(end)
    reco = recommender.snapshot(end)
    past = {item_of(p.url) for p in site.PAST}
    shown = {r["item"] for v in list(visitors)[-500:] for r in recommender.recommend(v, 5, end)}
    return {
        "traffic": {"seed": seed, "rate": rate, "hours": hours, "batches": n},
        "engagement": engagement.quality(),
        "recommendations": {
            k: reco[k] for k in ("hit_rate_at_5", "baseline_hit_rate_at_5", "n", "items")
        }
        | {"past_events_recommended": len(shown & past)},
        "segments": [
            {"id": s["id"], "label": s["label"], "sessions": s["sessions"]}
            for s in segments.snapshot(end)["segments"]
        ],
        "seconds": round(time.perf_counter() - began, 1),
    }


def minutes(requests: list[Request], start_ms: int) -> list[tuple[int, dict[str, float]]]:
    """Per-minute health features of the traffic, as the anomaly agent would compute them."""
    rows: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"views": 0, "sessions": set(), "items": 0, "dead": 0, "lcp": [], "errors": 0}
    )
    for request in requests:
        minute = start_ms + int(request.at_s * 1000) // MINUTE_MS * MINUTE_MS
        row = rows[minute]
        for event, tag in zip(request.body["events"], request.expect, strict=True):
            if tag == "bot":  # crawlers come in routine bursts; the share leaves them out
                continue
            row["items"] += 1
            if tag:
                row["dead"] += 1
                continue
            row["sessions"].add(request.session_id)
            kind, props = event["type"], event["props"]
            row["views"] += kind == "page_view"
            row["errors"] += kind == "form_field" and props.get("action") == "error"
            if kind == "web_vital" and props.get("name") == "LCP":
                row["lcp"].append(props["value"])
    out = []
    for minute in sorted(rows):
        row = rows[minute]
        lcp = row["lcp"]
        p75 = statistics.quantiles(lcp, n=4)[2] if len(lcp) > 1 else (lcp[0] if lcp else 0.0)
        out.append((minute, {"views": row["views"], "sessions": len(row["sessions"]),
                             "dlq_share": row["dead"] / max(row["items"], 1), "vitals_p75": p75,
                             "errors": row["errors"]}))  # fmt: skip
    return out


def anomalies(seed: int, rate: float, hours: float) -> dict[str, Any]:
    began = time.perf_counter()
    requests, _ = generate(seed + 100, rate=rate, duration_s=hours * 3600, start_ms=START_MS,
                           invalid_ratio=0.02)  # fmt: skip
    series = minutes(requests, START_MS)[1:-1]  # first and last minutes are partial
    steady = Anomalies()
    false_alerts = [a for at, x in series for a in steady.observe(x, at)]
    # The same traffic with a 6x spike and an outage-like drop injected late in the run.
    injected = Anomalies()
    spike_at, drop_at = series[-60][0], series[-30][0]
    delays: dict[str, int | None] = {"spike": None, "drop": None}
    for at, features in series:
        x = features
        if at == spike_at:
            x = {**features, "views": features["views"] * 6}
        if at == drop_at:
            x = {
                **features,
                "views": features["views"] // 20,
                "sessions": features["sessions"] // 20,
            }
        for alert in injected.observe(x, at):
            for kind, when in (("spike", spike_at), ("drop", drop_at)):
                traffic = alert["metric"] in ("views", "sessions")
                if alert["kind"] == kind and traffic and alert["minute"] >= when:
                    delays[kind] = delays[kind] if delays[kind] is not None else (
                        (alert["minute"] - when) // MINUTE_MS)  # fmt: skip
    return {
        "minutes": steady.minutes,
        "false_alerts": len(false_alerts),
        "false_alert_rate": round(steady.alert_rate, 5),
        "false_alert_examples": [a["reason"] for a in false_alerts[:5]],
        "detection_delay_minutes": delays,
        "seconds": round(time.perf_counter() - began, 1),
    }


def markdown(result: dict[str, Any]) -> str:
    e, r, a = result["engagement"], result["recommendations"], result["anomalies"]
    t = result["traffic"]
    lines = [
        "# Model quality on simulated traffic",
        "",
        f"Simulator seed {t['seed']}, {t['rate']} events/s for {t['hours']} h "
        f"({t['batches']} batches); anomalies: {a['minutes']} steady minutes.",
        "",
        "| model | metric | model | baseline |",
        "|---|---|---|---|",
        f"| engagement P(convert) | rolling ROC AUC | {e['auc']} | {e['baseline_auc']} |",
        f"| engagement P(convert) | rolling log loss | {e['logloss']} | {e['baseline_logloss']} |",
        f"| recommendations | hit rate@5 | {r['hit_rate_at_5']} | {r['baseline_hit_rate_at_5']} |",
        f"| anomalies | false-alert rate (minutes) | {a['false_alert_rate']} | - |",
        "",
        f"Engagement sessions labelled: {e['n']}; recommendation checks: {r['n']}; "
        f"past dojo events recommended: {r['past_events_recommended']}.",
        f"Injected spike / drop detected after {a['detection_delay_minutes']['spike']} / "
        f"{a['detection_delay_minutes']['drop']} minutes.",
        "",
        "| segment | label | sessions |",
        "|---|---|---|",
        *(f"| {s['id']} | {s['label']} | {s['sessions']} |" for s in result["segments"]),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--anomaly-hours", type=float, default=12.0)
    parser.add_argument("--anomaly-rate", type=float, default=5.0)
    args = parser.parse_args()
    result = learners(args.seed, args.rate, args.hours)
    result["anomalies"] = anomalies(args.seed, args.anomaly_rate, args.anomaly_hours)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "model_quality.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (RESULTS / "model_quality.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
