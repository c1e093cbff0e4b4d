"""Settings: read once from the environment, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.app import LEARNER, metrics
from stream.settings import AGENTS, ENV, Secret, Settings, SettingsError

README = Path(__file__).resolve().parents[2] / "README.md"


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
        ({"DOJO_COLLECTOR_PORT": "99999"}, "DOJO_COLLECTOR_PORT must be a port from 1 to 65535"),
        ({"DOJO_LIVE_PORT": "0"}, "DOJO_LIVE_PORT must be a port"),
        ({"DOJO_WORKER_WEB_PORT": "-80"}, "DOJO_WORKER_WEB_PORT must be a port"),
        ({"DOJO_KAFKA_CONTROLLER_PORT": "65536"}, "DOJO_KAFKA_CONTROLLER_PORT must be a port"),
        ({"DOJO_EXPERIMENT_HOLDOUT_PCT": "101"}, "HOLDOUT_PCT must be a percentage"),
        ({"DOJO_EXPERIMENT_HOLDOUT_PCT": "-0.5"}, "HOLDOUT_PCT must be a percentage"),
        ({"DOJO_EXPERIMENT_HOLDOUT_PCT": "nan"}, "HOLDOUT_PCT .* cannot be read as float"),
        ({"DOJO_LIVE_MAX_HZ": "inf"}, "DOJO_LIVE_MAX_HZ .* cannot be read as float"),
        # int() and float() read any script's digits; a setting takes 0-9 only.
        ({"DOJO_PARTITIONS": "\u0664"}, "DOJO_PARTITIONS .* cannot be read as int"),
        ({"DOJO_LIVE_PORT": "\uff18\uff10\uff18\uff10"}, "DOJO_LIVE_PORT .* cannot be read"),
        ({"DOJO_LIVE_MAX_HZ": "\u0662.5"}, "DOJO_LIVE_MAX_HZ .* cannot be read as float"),
        ({"DOJO_KAFKA": "localhost:\u00b9\u00b2"}, "host:port"),
        ({"DOJO_KAFKA": "localhost:\u0669\u0660\u0669\u0662"}, "host:port"),
        ({"DOJO_TOPIC_PREFIX": "d\u00f6jo"}, "DOJO_TOPIC_PREFIX"),
        ({"DOJO_APP_ID": "\u0434\u043e\u0434\u0437\u0451"}, "DOJO_APP_ID"),
        ({"DOJO_EXPERIMENT_HOLDOUT_PCT": "ten"}, "DOJO_EXPERIMENT_HOLDOUT_PCT"),
        ({"DOJO_REPORTS": "daily,hourly"}, "DOJO_REPORTS: any of"),
        ({"DOJO_REPORTS_HOUR": "24"}, "DOJO_REPORTS_HOUR must be an hour"),
        ({"DOJO_REPORTS_HOUR": "six"}, "DOJO_REPORTS_HOUR"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize(
    "agents",
    ["learn_online", "validate_events,count_traffic", "learning", "validate,traffic", "all",
     " map_heatmaps , show_activity "],
)  # fmt: skip
def test_agents_are_named_as_in_readme_or_by_their_short_names(agents: str) -> None:
    settings = Settings.from_env({"DOJO_AGENTS": agents})
    assert settings.agents  # parsed, and check() let it through


@pytest.mark.parametrize(
    "agents",
    ["learn_onlin", "validate,bogus", "Traffic", "all;traffic", "../etc", "validate events", ","],
)
def test_an_unknown_agent_is_refused_naming_every_choice(agents: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"DOJO_AGENTS": agents})
    message = str(refused.value)
    assert message.startswith("DOJO_AGENTS: ")
    assert "\n" not in message
    assert all(agent in message and short in message for agent, short in AGENTS.items())


def test_an_agent_is_enabled_by_either_of_its_names() -> None:
    by_long = Settings.from_env({"DOJO_AGENTS": "learn_online,validate_events"})
    by_short = Settings.from_env({"DOJO_AGENTS": "learning,validate"})
    for settings in (by_long, by_short):
        assert settings.agent_enabled("learning") and settings.agent_enabled("learn_online")
        assert settings.agent_enabled("validate") and settings.agent_enabled("validate_events")
        assert not settings.agent_enabled("traffic")
        assert not settings.agent_enabled("count_traffic")
    assert all(Settings().agent_enabled(agent) for agent in AGENTS)


def test_agent_names_match_the_worker_and_readme() -> None:
    worker = {m.agent: m.channel for m in metrics(Settings())}
    assert worker.items() <= AGENTS.items()  # each metric agent is enabled by its channel
    assert LEARNER in AGENTS
    # One file per agent, named by its verb, where the worker finds its definition.
    agents_dir = README.parent / "stream" / "agents"
    assert all((agents_dir / f"{name}.py").is_file() for name in AGENTS)
    table = README.read_text().split("## What the agents compute", 1)[1].split("\n\n", 2)[1]
    documented = [row.split("`")[1] for row in table.splitlines()[2:]]
    assert documented == list(AGENTS)
