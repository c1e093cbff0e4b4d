"""Trusted proxies: X-Forwarded-For believed only from them, read from the right."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from starlette.testclient import TestClient

from collector.app import create_app
from collector.proxies import forwarded_client, parse_address, trusted_networks
from stream.settings import Settings, SettingsError
from tests.collector.conftest import NOON, Clock, MemorySink, event

PROXY = "10.0.0.5"
NETWORKS = trusted_networks(("10.0.0.0/24", "2001:db8:ffff::/48"))


def test_no_trusted_proxies_means_the_peer() -> None:
    assert forwarded_client("203.0.113.9", ["198.51.100.1"], ()) == "203.0.113.9"


def test_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    assert forwarded_client("203.0.113.9", ["198.51.100.1"], NETWORKS) == "203.0.113.9"


def test_the_right_most_untrusted_entry_is_the_client() -> None:
    assert forwarded_client(PROXY, ["198.51.100.1"], NETWORKS) == "198.51.100.1"
    # The client wrote the left entries itself; the proxy appended the real one.
    spoofed = ["1.1.1.1, 8.8.8.8, 198.51.100.1"]
    assert forwarded_client(PROXY, spoofed, NETWORKS) == "198.51.100.1"
    # A chain of trusted proxies is walked through to the first address they did not own.
    chain = ["6.6.6.6, 198.51.100.1, 10.0.0.7", "2001:db8:ffff::1"]
    assert forwarded_client(PROXY, chain, NETWORKS) == "198.51.100.1"


def test_a_spoofed_trusted_address_on_the_left_does_not_help() -> None:
    # Claiming to be a proxy further left changes nothing: the walk stops at the client.
    assert forwarded_client(PROXY, ["10.0.0.9, 198.51.100.1"], NETWORKS) == "198.51.100.1"


@pytest.mark.parametrize(
    "header",
    [
        "",
        " , ",
        "not-an-address",
        "198.51.100.1, <script>",
        "999.1.1.1",
        "198.51.100.1\x00",
        "unknown",
        "_hidden",
        "," * 10_000,
    ],
)
def test_garbage_from_a_trusted_proxy_stops_at_that_proxy(header: str) -> None:
    assert forwarded_client(PROXY, [header], NETWORKS) == PROXY


def test_when_every_hop_is_trusted_the_left_most_is_the_client() -> None:
    assert forwarded_client(PROXY, ["10.0.0.1, 10.0.0.2"], NETWORKS) == "10.0.0.1"


def test_ports_brackets_and_mapped_addresses_are_normalised() -> None:
    assert parse_address("198.51.100.1:5555") is not None
    assert str(parse_address("198.51.100.1:5555")) == "198.51.100.1"
    assert str(parse_address("[2001:DB8::1]:443")) == "2001:db8::1"
    assert str(parse_address("::ffff:198.51.100.1")) == "198.51.100.1"
    assert parse_address("[::1") is None
    assert forwarded_client("::ffff:10.0.0.5", ["198.51.100.1"], NETWORKS) == "198.51.100.1"
    assert forwarded_client("2001:DB8::0:1", [], ()) == "2001:db8::1"


def test_settings_refuse_what_is_not_an_address() -> None:
    with pytest.raises(SettingsError, match="DOJO_TRUSTED_PROXIES"):
        Settings.from_env({"DOJO_TRUSTED_PROXIES": "10.0.0.0/8, proxy.example"})
    assert Settings.from_env({"DOJO_TRUSTED_PROXIES": "10.0.0.1, ::1/128"}).trusted_proxies == (
        "10.0.0.1",
        "::1/128",
    )
    assert Settings().trusted_proxies == ()


def visitor_ids(settings: Settings, peer: str, forwarded: list[str | None]) -> list[str]:
    sink = MemorySink()
    with TestClient(create_app(settings, sink=sink, clock=Clock(NOON)), client=(peer, 1)) as c:
        for i, xff in enumerate(forwarded):
            headers = {"user-agent": "Same Browser/1.0"}
            if xff is not None:
                headers["x-forwarded-for"] = xff
            assert (
                c.post("/collect", json={"events": [event(i)]}, headers=headers).status_code == 202
            )
    return [orjson.loads(value)["visitor_id"] for _key, value in sink.messages]


def test_behind_a_trusted_proxy_clients_are_told_apart(collector_settings: Settings) -> None:
    settings = dataclasses.replace(collector_settings, trusted_proxies=(PROXY,))
    ids = visitor_ids(settings, PROXY, ["198.51.100.1", "198.51.100.2", "6.6.6.6, 198.51.100.1"])
    assert ids[0] != ids[1]
    assert ids[2] == ids[0]  # a spoofed left entry does not make a new visitor


def test_an_untrusted_peer_cannot_pose_as_many_clients(collector_settings: Settings) -> None:
    settings = dataclasses.replace(collector_settings, trusted_proxies=(PROXY,))
    ids = visitor_ids(settings, "203.0.113.9", ["198.51.100.1", "198.51.100.2", None])
    assert len(set(ids)) == 1


def test_an_untrusted_peer_cannot_escape_the_rate_limit(collector_settings: Settings) -> None:
    settings = dataclasses.replace(
        collector_settings, trusted_proxies=(PROXY,), rate_limit_per_minute=2
    )
    app = create_app(settings, sink=MemorySink(), clock=Clock(NOON))
    with TestClient(app, client=("203.0.113.9", 1)) as c:
        statuses = [
            c.post(
                "/collect",
                json={"events": [event(i)]},
                headers={"x-forwarded-for": f"198.51.100.{i}"},
            ).status_code
            for i in range(4)
        ]
    assert statuses == [202, 202, 429, 429]
