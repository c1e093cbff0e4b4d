"""Settings: read once from the environment, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.settings import ENV, Secret, Settings, SettingsError


def test_defaults_are_local() -> None:
    settings = Settings.from_env({})
    assert settings.kafka == "127.0.0.1:9092"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.topic_raw == "dojo.events.raw"
    assert settings.topic_dlq == "dojo.events.dlq"


def test_environment_overrides_and_round_trips() -> None:
    env = {
        "DOJO_KAFKA": "broker:29092",
        "DOJO_PARTITIONS": "8",
        "DOJO_SITE_ORIGINS": "https://a.example, https://b.example",
        "DOJO_ADMIN_TOKEN": "s3cret-token",
        "DOJO_DATA_DIR": "/tmp/dojo-x",
        "DOJO_TOPIC_PREFIX": "test1",
        "DOJO_LIVE_MAX_HZ": "2.5",
    }
    settings = Settings.from_env(env)
    assert settings.kafka_host == "broker"
    assert settings.kafka_port == 29092
    assert settings.partitions == 8
    assert settings.site_origins == ("https://a.example", "https://b.example")
    assert settings.admin_token.reveal() == "s3cret-token"
    assert settings.data_dir == Path("/tmp/dojo-x")
    assert settings.topic_events == "test1.events"
    assert Settings.from_env(settings.to_env()) == settings


def test_every_field_has_a_variable() -> None:
    assert set(ENV) == set(Settings.__dataclass_fields__)
    assert all(var.startswith("DOJO_") for var in ENV.values())


def test_secret_never_shows_in_repr() -> None:
    settings = Settings(admin_token=Secret("hunter2-hunter2"))
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.admin_token)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOJO_PARTITIONS": "many"}, "DOJO_PARTITIONS"),
        ({"DOJO_PARTITIONS": "0"}, "at least 1"),
        ({"DOJO_KAFKA": "localhost"}, "host:port"),
        ({"DOJO_REDIS_URL": "http://x"}, "redis://"),
        ({"DOJO_TOPIC_PREFIX": "a b"}, "DOJO_TOPIC_PREFIX"),
        ({"DOJO_LIVE_MAX_HZ": "-1"}, "positive"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
