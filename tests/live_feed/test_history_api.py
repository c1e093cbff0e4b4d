"""GET /api/history and /api/history/{channel} on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis
from starlette.testclient import TestClient

from infra.process import free_port
from live_feed import create_app
from stream.settings import Secret, Settings
from stream.sketches.tally import Tally
from stream.sketches.uniques import Uniques, fingerprint
from stream.store import open_store
from stream.store.history import MinuteRow, read, totals, write_minutes
from tests.live_feed.conftest import FixedOffsets
from tests.store.conftest import postgres_server, store_url  # noqa: F401 (fixtures)

H = 3_600_000
DAY = 24 * H
T0 = 1_796_342_400_000  # 2026-12-04T00:00Z, near the machine's clock
NOW = T0 + 5 * H


def traffic(views: int, *visitors: str) -> Tally:
    tally = Tally(counts={"views": float(views)})
    tally.uniques["visitors"] = Uniques()
    for visitor in visitors:
        tally.uniques["visitors"].add(fingerprint(visitor))
    return tally


@pytest.fixture
def client(
    settings: Settings,
    store_url: str,  # noqa: F811 (the fixture imported above)
    rdb: redis.Redis,
    offsets: FixedOffsets,
) -> Iterator[TestClient]:
    """The live feed on a store seeded through ``write_minutes``."""
    settings = replace(settings, database_url=Secret(store_url))
    engine = open_store(settings)
    rows = [
        MinuteRow("traffic", T0 - 2 * H, 0, traffic(2, "a", "b")),
        MinuteRow("traffic", T0, 0, traffic(3, "a", "b")),
        MinuteRow("traffic", T0 + 60_000, 1, traffic(1, "c")),
        MinuteRow("traffic", T0 + H, 0, traffic(5, "a")),
        MinuteRow("forms", T0, 0, Tally(counts={"=cmd.starts": 2, "signup.submits": 1})),
    ]
    write_minutes(engine, rows, now_ms=NOW)
    engine.dispose()
    with TestClient(create_app(settings, offsets=offsets)) as test_client:
        yield test_client


def get(client: TestClient, path: str, auth: dict[str, str], **headers: str):  # type: ignore[no-untyped-def]
    return client.get(path, headers={**auth, **headers})


def test_both_routes_need_the_admin_token(client: TestClient) -> None:
    for path in ("/api/history", "/api/history/traffic", "/api/history/traffic?format=csv"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
        joiner = "&" if "?" in path else "?"
        assert client.get(f"{path}{joiner}token=test-admin-token-0123456789").status_code == 401


def test_the_channels_with_data_are_listed(client: TestClient, auth: dict[str, str]) -> None:
    response = get(client, "/api/history", auth)
    assert response.status_code == 200
    assert response.json() == {"channels": ["forms", "traffic"]}


def test_a_range_with_its_previous_period(client: TestClient, auth: dict[str, str]) -> None:
    url = f"/api/history/traffic?from={T0}&to={T0 + 2 * H}&interval=hour&compare=previous"
    body = get(client, url, auth).json()
    assert (body["channel"], body["interval"], body["from"], body["to"]) == (
        "traffic", "hour", T0, T0 + 2 * H,
    )  # fmt: skip
    assert body["rows"] == [
        {"start": T0, "end": T0 + H, "views": 4, "visitors": 3},
        {"start": T0 + H, "end": T0 + 2 * H, "views": 5, "visitors": 1},
    ]
    assert body["total"] == {"views": 9, "visitors": 3}  # visitors a union: a, b, c
    assert body["previous"] == {
        "from": T0 - 2 * H, "to": T0, "total": {"views": 2, "visitors": 2},
        "rows": [{"start": T0 - 2 * H, "end": T0 - H, "views": 2, "visitors": 2}],
    }  # fmt: skip
    assert body["change"] == {"views": 3.5, "visitors": 0.5}


def test_iso_days_and_minutes(client: TestClient, auth: dict[str, str]) -> None:
    days = get(client, "/api/history/traffic?from=2026-12-02&to=2026-12-05&interval=day", auth)
    assert [(r["start"], r["views"], r["visitors"]) for r in days.json()["rows"]] == [
        (T0 - DAY, 2, 2), (T0, 9, 3),
    ]  # fmt: skip
    minutes = get(client, f"/api/history/traffic?from={T0}&to={T0 + 2 * 60_000}", auth).json()
    assert minutes["interval"] == "minute"
    assert [row["views"] for row in minutes["rows"]] == [3, 1]


def test_csv_by_format_and_by_accept(client: TestClient, auth: dict[str, str]) -> None:
    url = f"/api/history/traffic?from={T0}&to={T0 + 2 * H}&interval=hour"
    by_format = get(client, url + "&format=csv", auth)
    by_accept = get(client, url, auth, Accept="text/csv")
    assert by_format.content == by_accept.content
    assert by_format.headers["content-type"] == "text/csv; charset=utf-8"
    assert by_format.headers["content-disposition"] == (
        'attachment; filename="traffic-hour-20261204T0000Z-20261204T0200Z.csv"'
    )
    assert list(csv.reader(io.StringIO(by_format.text))) == [
        ["start", "end", "views", "visitors"],
        ["2026-12-04T00:00:00Z", "2026-12-04T01:00:00Z", "4", "3"],
        ["2026-12-04T01:00:00Z", "2026-12-04T02:00:00Z", "5", "1"],
    ]
    assert get(client, url + "&format=json", auth, Accept="text/csv").json()["total"]["views"] == 9


def test_csv_headers_from_the_site_never_run_as_formulas(
    client: TestClient, auth: dict[str, str]
) -> None:
    text = get(client, f"/api/history/forms?from={T0}&to={T0 + H}&format=csv", auth).text
    assert text.splitlines()[0] == "start,end,'=cmd.starts,signup.submits"


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=yesterday", "from"), ("to=" + "9" * 10_000, "to"), ("from=%00", "from"),
     ("from=2026-12-02&to=2026-12-01", "to"), ("interval=week", "interval"),
     ("compare=next", "compare"), ("format=xml", "format"), ("format=csv&format=json", "format"),
     ("from=%F0%9F%99%82", "from"), ("from=1970-01-01&to=9999-01-01", "from"),
     ("from=2026-01-01&to=2026-12-01&interval=minute", "interval"),
     ("from=1970-01-01&to=1970-01-02&compare=previous", "compare")],
)  # fmt: skip
def test_each_mistake_is_one_400_naming_its_field(
    client: TestClient, auth: dict[str, str], query: str, field: str
) -> None:
    response = get(client, f"/api/history/traffic?{query}", auth)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field and set(body) == {"error", "field"}
    assert "9999999999" not in body["error"]


def test_the_window_cap_names_a_coarser_interval(client: TestClient, auth: dict[str, str]) -> None:
    body = get(client, "/api/history/traffic?from=2026-01-01&to=2026-12-01&interval=minute", auth)
    assert body.json()["error"] == (
        "480960 minute windows are more than 5000: use interval=day or a shorter range"
    )


@pytest.mark.parametrize("channel", ["nope", "Traffic", "%00", "x" * 10_000, "%F0%9F%99%82"])
def test_unknown_and_hostile_channels(
    client: TestClient, auth: dict[str, str], channel: str
) -> None:
    response = get(client, f"/api/history/{channel}", auth)
    assert response.status_code == 400
    assert response.json()["field"] == "channel"


def test_a_channel_of_the_agents_without_data_yet_is_empty(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = get(client, "/api/history/learning", auth).json()
    assert (body["rows"], body["total"]) == ([], {})


def test_a_store_that_cannot_be_reached_is_a_503_without_its_password(
    settings: Settings, rdb: redis.Redis, offsets: FixedOffsets, auth: dict[str, str]
) -> None:
    url = f"postgresql://dojo:s3cret-pw@127.0.0.1:{free_port()}/pulse"
    away = replace(settings, database_url=Secret(url))
    with TestClient(create_app(away, offsets=offsets)) as client:
        for path in ("/api/history", "/api/history/traffic"):
            response = client.get(path, headers=auth)
            assert response.status_code == 503
            assert "s3cret-pw" not in response.text and "cannot open the store" in response.text


def test_a_long_range_answers_what_merging_every_window_gives(
    settings: Settings,
    store_url: str,  # noqa: F811 (the fixture imported above)
    rdb: redis.Redis,
    offsets: FixedOffsets,
    auth: dict[str, str],
) -> None:
    # Days of hours answer from summaries and day rows: the same numbers as every window's
    # tally decoded and merged, for a range with hours at both edges and whole days inside.
    settings = replace(settings, database_url=Secret(store_url))
    engine = open_store(settings)
    rng = random.Random(4)
    first = T0 - 4 * DAY
    rows = [
        MinuteRow("traffic", first + h * H + (h % 7) * 60_000, h % 3,
                  traffic(h % 5 + 1, *(f"v{rng.randrange(400)}" for _ in range(20))))
        for h in range(4 * 24)
    ]  # fmt: skip
    write_minutes(engine, rows, now_ms=NOW)
    start, end = first + 5 * H, T0 - 2 * H
    windows = read(engine, "traffic", "hour", start, end)
    before = read(engine, "traffic", "hour", 2 * start - end, start)
    engine.dispose()
    with TestClient(create_app(settings, offsets=offsets)) as client:
        url = f"/api/history/traffic?from={start}&to={end}&interval=hour&compare=previous"
        body = get(client, url, auth).json()
    assert len(body["rows"]) == len(windows) == 4 * 24 - 7
    assert body["rows"] == [{"start": s, "end": s + H, **tally.summary()} for s, tally in windows]
    assert body["total"] == totals(windows).summary()
    assert 300 < body["total"]["visitors"] <= 400  # a union of the pool, not a sum
    assert [row["start"] for row in body["previous"]["rows"]] == [s for s, _ in before]
    assert len(before) == 5 and body["previous"]["total"] == totals(before).summary()
