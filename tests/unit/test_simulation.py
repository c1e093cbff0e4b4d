"""The traffic simulator: determinism, contract-true events, faithful ground truth, delivery."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import uvicorn
from crawlerdetect import CrawlerDetect
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from dojo_pulse.simulation import Request, SimulationError, Truth, generate, run
from infra.process import free_port
from stream.ingest.contract import Rejection, validate_event
from stream.settings import Settings

START_MS = 1_764_111_111_000


def _dump(requests: list[Request]) -> bytes:
    return orjson.dumps([(r.at_s, r.user_agent, r.body, r.bot, r.expect) for r in requests])


@pytest.fixture(scope="module")
def traffic() -> tuple[list[Request], Truth]:
    return generate(11, rate=150, duration_s=300, start_ms=START_MS, invalid_ratio=0.1)


@pytest.fixture(scope="module")
def clean() -> tuple[list[Request], Truth]:
    return generate(5, rate=100, duration_s=600, start_ms=START_MS)


def _items(requests: list[Request]) -> Iterator[tuple[Request, Any, str]]:
    for request in requests:
        for item, tag in zip(request.body["events"], request.expect, strict=True):
            yield request, item, tag


def test_same_seed_gives_identical_bytes_and_truth() -> None:
    a, truth_a = generate(7, rate=50, duration_s=120, start_ms=START_MS, invalid_ratio=0.05)
    b, truth_b = generate(7, rate=50, duration_s=120, start_ms=START_MS, invalid_ratio=0.05)
    assert _dump(a) == _dump(b)
    assert orjson.dumps(truth_a.to_dict()) == orjson.dumps(truth_b.to_dict())


def test_different_seed_or_start_gives_different_traffic() -> None:
    a, _ = generate(7, rate=50, duration_s=120, start_ms=START_MS)
    b, _ = generate(8, rate=50, duration_s=120, start_ms=START_MS)
    c, _ = generate(7, rate=50, duration_s=120, start_ms=START_MS + 1)
    assert _dump(a) != _dump(b)
    ids_a = {e["event_id"] for _, e, _ in _items(a)}
    ids_c = {e["event_id"] for _, e, _ in _items(c)}
    assert not ids_a & ids_c  # a rerun later is not swallowed by the dedupe window


@pytest.mark.parametrize(("rate", "duration"), [(20.0, 60.0), (100.0, 300.0), (400.0, 30.0)])
def test_event_count_follows_rate_and_duration(rate: float, duration: float) -> None:
    requests, truth = generate(3, rate=rate, duration_s=duration, start_ms=START_MS,
                               invalid_ratio=0.05)  # fmt: skip
    items = sum(len(r.body["events"]) for r in requests)
    assert abs(items - rate * duration) <= 0.1 * rate * duration
    assert truth.to_dict()["totals"]["events"] == items
    assert all(0 <= r.at_s <= duration for r in requests)
    assert [r.at_s for r in requests] == sorted(r.at_s for r in requests)


@pytest.mark.parametrize("lag_s", [0.0, 900.0])
def test_every_item_gets_the_verdict_it_is_tagged_with(
    traffic: tuple[list[Request], Truth], lag_s: float
) -> None:
    # lag 0: paced in real time; 900 s: received a quarter hour late (fast mode, slow sink).
    requests, _ = traffic
    seen: set[str] = set()
    detector = CrawlerDetect()
    verdicts: Counter[str] = Counter()
    for request, item, tag in _items(requests):
        received = START_MS + int((request.at_s + lag_s) * 1000)
        verdict = validate_event(item, received)
        if tag in ("", "duplicate", "bot"):
            assert not isinstance(verdict, Rejection), (item, verdict)
            assert detector.isCrawler(request.user_agent) == (tag == "bot")
            assert (item["event_id"] in seen) == (tag == "duplicate"), item
            seen.add(item["event_id"])
        else:
            assert isinstance(verdict, Rejection) and verdict.reason == tag, (item, verdict, tag)
        verdicts[tag or "valid"] += 1
    assert set(verdicts) == {"valid", "schema", "type", "size", "too_old", "too_new",
                             "duplicate", "malformed", "bot"}  # fmt: skip


def test_valid_events_follow_the_v1_rules_beyond_the_validator(
    clean: tuple[list[Request], Truth],
) -> None:
    requests, truth = clean
    end_ms = START_MS + 600_000
    for request, item, _ in _items(requests):
        assert START_MS <= item["ts"] <= end_ms
        assert item["url"].startswith("/") and "#" not in item["url"]
        assert item["session_id"] == request.session_id
        assert len(request.body["events"]) <= 100
        assert len(orjson.dumps(request.body)) <= 64 * 1024
        if item["type"] == "click":
            assert 0 <= item["props"]["x"] <= 1 and 0 <= item["props"]["y"] <= 1
    assert "DojoSim/" in requests[0].user_agent
    assert truth.pii_scrubbed > 0


def test_truth_totals_add_up(traffic: tuple[list[Request], Truth]) -> None:
    requests, truth = traffic
    t = truth.to_dict()
    totals = t["totals"]
    tags = Counter(tag for _, _, tag in _items(requests) if tag)
    assert totals["dead_lettered_by_reason"] == dict(sorted(tags.items()))
    assert sum(totals["by_type"].values()) == totals["valid"]
    assert totals["valid"] + sum(tags.values()) == totals["events"]
    assert totals["requests"] == len(requests)
    injected = sum(n for reason, n in tags.items() if reason != "bot")
    assert abs(injected - 0.1 * totals["events"]) <= 0.02 * totals["events"]
    assert t["sessions"] >= t["visitors"] > t["returning_visitors"] > 0
    assert sum(t["devices"].values()) == t["sessions"]
    assert sum(t["entry_pages"].values()) == t["sessions"]
    assert sum(t["page_views_by_url"].values()) == totals["by_type"]["page_view"]
    assert sum(t["transitions"].values()) == totals["by_type"]["page_view"] - t["sessions"]
    assert sum(t["clicks"].values()) == totals["by_type"]["click"]
    assert sum(t["downloads"].values()) == totals["by_type"]["resource_download"]
    assert sum(v["count"] for v in t["vitals"].values()) == totals["by_type"]["web_vital"]
    assert t["registrations"] == totals["by_type"]["registration"]
    funnel = [step["sessions"] for step in t["funnel"]]
    assert funnel == sorted(funnel, reverse=True) and funnel[-1] > 0
    registration = t["forms"]["registration"]
    assert registration["starts"] == registration["submits"] + registration["abandons"]
    assert sum(registration["dropoff_fields"].values()) == registration["abandons"]


def test_truth_is_what_the_valid_events_say(traffic: tuple[list[Request], Truth]) -> None:
    # Recount a few figures straight from the accepted items in sending order.
    requests, truth = traffic
    t = truth.to_dict()
    views: Counter[str] = Counter()
    sessions: dict[str, list[dict[str, Any]]] = {}
    for request, item, tag in _items(requests):
        if tag == "":
            sessions.setdefault(request.session_id, []).append(item)
            if item["type"] == "page_view":
                views[item["url"]] += 1
    assert dict(sorted(views.items())) == t["page_views_by_url"]
    passive = {"page_view", "page_leave", "web_vital", "scroll"}
    bounces = sum(
        1 for evs in sessions.values()
        if sum(e["type"] == "page_view" for e in evs) == 1 and {e["type"] for e in evs} <= passive
    )  # fmt: skip
    assert bounces == t["bounces"]
    assert len(sessions) == t["sessions"]
    dropoff: Counter[str] = Counter()
    for evs in sessions.values():
        last = ""
        for e in evs:
            if e["type"] == "form_field" and e["props"]["form_id"] == "registration":
                last = e["props"]["field"]
            elif e["type"] == "form_abandon" and e["props"]["form_id"] == "registration":
                dropoff[last] += 1
    assert dict(sorted(dropoff.items())) == t["forms"]["registration"]["dropoff_fields"]
    ts = [e["ts"] for evs in sessions.values() for e in evs]
    assert t["time_span"] == {"first_ts": min(ts), "last_ts": max(ts)}


def test_traffic_looks_like_the_site(clean: tuple[list[Request], Truth]) -> None:
    _, truth = clean
    t = truth.to_dict()
    sessions = t["sessions"]
    assert 0.2 <= t["bounces"] / sessions <= 0.6
    assert 0.38 <= t["devices"]["mobile"] / sessions <= 0.52
    assert 0.38 <= t["devices"]["desktop"] / sessions <= 0.52
    assert 0.05 <= t["devices"]["tablet"] / sessions <= 0.15
    assert t["totals"]["dead_lettered_by_reason"]["bot"] > 0
    assert {"registration", "contact", "volunteer"} <= set(t["forms"])
    assert set(t["vitals"]) == {"LCP", "FCP", "TTFB", "CLS", "INP"}
    assert set(t["experiments"]["cta_colour"]) == {"blue", "orange"}
    assert t["attendance"] and t["downloads"] and t["conversions"]["newsletter"] > 0


def test_mobile_paints_slower_than_desktop(clean: tuple[list[Request], Truth]) -> None:
    requests, _ = clean
    lcp: dict[str, list[float]] = {"mobile": [], "desktop": []}
    for request, item, tag in _items(requests):
        if tag == "" and item["type"] == "web_vital" and item["props"]["name"] == "LCP":
            lcp.setdefault(request.device, []).append(item["props"]["value"])
    median = {d: sorted(v)[len(v) // 2] for d, v in lcp.items() if d in ("mobile", "desktop")}
    assert median["mobile"] > 1.3 * median["desktop"]


def test_generation_rejects_nonsense_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        generate(1, rate=0, duration_s=10, start_ms=START_MS)
    with pytest.raises(ValueError, match="invalid_ratio"):
        generate(1, rate=10, duration_s=10, start_ms=START_MS, invalid_ratio=1.5)


class _Collector:
    """A tiny real collector: answers 503, then 429, then 400 once each, then 202."""

    def __init__(self) -> None:
        self.calls = 0
        self.accepted: list[dict[str, Any]] = []
        self.agents: set[str] = set()

    async def collect(self, request: HttpRequest) -> JSONResponse:
        self.calls += 1
        call = self.calls  # before any await: requests arrive concurrently
        body = orjson.loads(await request.body())
        self.agents.add(request.headers["user-agent"])
        if call == 1:
            return JSONResponse({"error": "busy"}, 503, headers={"Retry-After": "0"})
        if call == 2:
            return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": "0"})
        if call == 3:
            return JSONResponse({"error": "bad"}, 400)
        self.accepted.append(body)
        return JSONResponse({"accepted": len(body["events"])}, 202)


@pytest.fixture
def collector() -> Iterator[tuple[_Collector, str]]:
    state = _Collector()
    app = Starlette(routes=[Route("/collect", state.collect, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "collector did not start"
        time.sleep(0.02)
    yield state, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_run_over_http_retries_and_counts(collector: tuple[_Collector, str], tmp_path: Any) -> None:
    state, url = collector
    path = tmp_path / "truth.json"
    truth = run(Settings(), rate=100, duration_s=20, seed=4, invalid_ratio=0.05, via="http",
                truth_path=path, fast=True, progress=False, collector_url=url)  # fmt: skip
    t = truth.to_dict()
    assert t["delivery"]["retries"] == 2
    assert t["delivery"]["http_4xx"] == 1
    assert t["delivery"]["requests_sent"] == t["totals"]["requests"] + 2
    received = sum(len(body["events"]) for body in state.accepted)
    assert received < t["totals"]["events"]  # exactly one request was refused with 400
    assert len(state.accepted) == t["totals"]["requests"] - 1
    assert all("DojoSim/" in ua or "bot" in ua for ua in state.agents)
    assert orjson.loads(path.read_bytes())["totals"] == t["totals"]


def test_run_without_a_collector_says_so() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SimulationError, match="Cannot reach the collector"):
        run(Settings(), rate=10, duration_s=5, seed=1, fast=True, progress=False, collector_url=url)


def test_run_without_kafka_says_so() -> None:
    settings = Settings(kafka=f"127.0.0.1:{free_port()}")
    with pytest.raises(SimulationError, match="Cannot reach Kafka"):
        run(settings, rate=10, duration_s=5, seed=1, via="kafka", fast=True, progress=False)


def test_paced_run_stops_at_the_first_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    began = time.monotonic()
    with pytest.raises(SimulationError, match="Cannot reach the collector"):
        run(Settings(), rate=20, duration_s=120, seed=2, progress=False, collector_url=url)
    assert time.monotonic() - began < 30  # not after the whole two minutes
