"""Configuration in one place: typed, read once from the environment, local defaults.

Every process of Dojo Pulse (worker, collector, live feed, simulator, infra) builds one
``Settings`` with :meth:`Settings.from_env` at start-up and passes it down. Nothing
reads ``os.environ`` anywhere else. The admin token is held in a ``Secret`` so that
printing or logging the settings never reveals it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path

# Re-exported (mypy's explicit form): ``from stream.settings import Secret`` is the usual spelling.
from stream.secret import Secret as Secret  # noqa: PLC0414


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


def _default_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "dojo-pulse"


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dojo-pulse"


# The worker's agents (README's agent table) -> the short name ``DOJO_AGENTS`` also takes
# (the live channel most of them feed). Either names one agent; ``all`` names every one.
AGENTS: dict[str, str] = {
    "validate_events": "validate",
    "count_traffic": "traffic",
    "count_forms": "forms",
    "measure_vitals": "vitals",
    "track_funnels": "funnels",
    "map_journeys": "journeys",
    "map_heatmaps": "heatmaps",
    "learn_online": "learning",
    "show_activity": "activity",
    "keep_history": "history",
}
_AGENT_OF = {short: agent for agent, short in AGENTS.items()} | {a: a for a in AGENTS}
PORTS = ("kafka_controller_port", "collector_port", "live_port", "worker_web_port")


@dataclass(frozen=True)
class Settings:
    """Every knob of the product; see ``ENV`` for the variable that sets each one."""

    kafka: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    kafka_version: str = "4.4.0"
    redis_url: str = "redis://127.0.0.1:6379/0"
    admin_token: Secret = field(default_factory=lambda: Secret("dojo-admin"))
    # Empty: /metrics of the live feed is open; set: it needs "Authorization: Bearer <it>".
    metrics_token: Secret = field(default_factory=lambda: Secret(""))
    site_origins: tuple[str, ...] = ("http://localhost:8000", "http://127.0.0.1:8000")
    # Requests with neither Origin nor Referer: browsers always send Origin on a POST, so
    # only non-browser clients omit both, and those could forge either header anyway.
    originless: str = "accept"  # accept | refuse
    trusted_proxies: tuple[str, ...] = ()  # addresses/CIDRs whose X-Forwarded-For is believed
    site_id: str = "dd-coder-dojo"
    topic_prefix: str = "dojo"
    partitions: int = 4
    retention_hours: int = 168
    dlq_retention_hours: int = 720
    history_minutes_days: int = 14  # minute rows of history: the store and history.minutes
    app_id: str = "dojo-pulse"
    data_dir: Path = field(default_factory=_default_home)
    cache_dir: Path = field(default_factory=_default_cache)
    collector_host: str = "127.0.0.1"
    collector_port: int = 8000
    live_host: str = "127.0.0.1"
    live_port: int = 8100
    rate_limit_per_minute: int = 600
    rate_limit_fail: str = "closed"  # when Redis cannot judge: closed = 503, open = let through
    max_body_bytes: int = 64 * 1024
    max_events: int = 100
    dedupe_hours: int = 25
    max_clock_skew_s: int = 300
    max_event_age_h: int = 48
    live_max_hz: float = 10.0
    # A learner holder that dies unannounced (SIGKILL, lost host) is replaced after this long.
    learn_session_timeout_s: float = 10.0
    worker_web_host: str = "127.0.0.1"  # where the worker serves /metrics
    worker_web_port: int = 6066
    agents: tuple[str, ...] = ("all",)
    funnels_path: str = ""  # empty: the funnels shipped in stream/metrics/funnels.yaml
    # Query parameters kept on page URLs and referrers (utm_* always); all others dropped.
    query_allow: tuple[str, ...] = ()
    # Site paths that may be recommended (`*` one path segment, `**` any rest).
    item_paths: tuple[str, ...] = (
        "/", "/events", "/events/*", "/resources", "/resources/*", "/blog", "/blog/*",
        "/about", "/contact", "/volunteer",
    )  # fmt: skip
    database_url: Secret = field(default_factory=lambda: Secret(""))  # empty: SQLite in data_dir
    history_hours_days: int = 396  # 13 months: a term beside the same term a year ago
    history_days_days: int = 0  # 0: kept
    term_start: str = ""  # the panel's "this term" (ISO dates); empty: the UK term around today
    term_end: str = ""
    # Revisions kept per content item, newest first (0: all); live and scheduled ones stay.
    content_keep_revisions: int = 50

    def topic(self, name: str) -> str:
        """Full topic name: ``topic("events.raw")`` is ``dojo.events.raw`` by default."""
        return f"{self.topic_prefix}.{name}"

    @property
    def validate_group(self) -> str:
        """Consumer group of the validate stage (the metric agents use ``app_id``)."""
        return f"{self.app_id}.validate"

    @property
    def learn_group(self) -> str:
        """Consumer group of learn_online: one member holds every partition (fail-over)."""
        return f"{self.app_id}.learn"

    @property
    def history_group(self) -> str:
        """Consumer group of keep_history: one member holds ``history.minutes`` (fail-over)."""
        return f"{self.app_id}.history"

    @property
    def topic_learn_checkpoints(self) -> str:
        return self.topic("learn.checkpoints")

    @property
    def topic_raw(self) -> str:
        return self.topic("events.raw")

    @property
    def topic_events(self) -> str:
        return self.topic("events")

    @property
    def topic_dlq(self) -> str:
        return self.topic("events.dlq")

    @property
    def kafka_port(self) -> int:
        return int(self.kafka.rsplit(":", 1)[1])

    @property
    def kafka_host(self) -> str:
        return self.kafka.rsplit(":", 1)[0]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); unknown values raise."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            name = ENV.get(f.name)
            if name is None or name not in env:
                continue
            values[f.name] = _parse(f.name, name, env[name], cls.__dataclass_fields__[f.name].type)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def agent_enabled(self, name: str) -> bool:
        """Whether the worker runs agent ``name`` (its name in ``AGENTS`` or its short name)."""
        return "all" in self.agents or _AGENT_OF[name] in {_AGENT_OF[a] for a in self.agents}

    def to_env(self) -> dict[str, str]:
        """The environment that rebuilds these settings in a child process."""
        env: dict[str, str] = {}
        for name, var in ENV.items():
            value = getattr(self, name)
            if isinstance(value, Secret):
                env[var] = value.reveal()
            elif isinstance(value, tuple):
                env[var] = ",".join(value)
            else:
                env[var] = str(value)
        return env

    def check(self) -> None:
        """Raise ``SettingsError`` for values that would only fail later and obscurely."""
        host, sep, port = self.kafka.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise SettingsError(f"DOJO_KAFKA must be host:port, got {self.kafka!r}")
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("DOJO_REDIS_URL must start with redis://, rediss:// or unix://")
        if self.partitions < 1:
            raise SettingsError("DOJO_PARTITIONS must be at least 1")
        if self.history_minutes_days < 1:
            raise SettingsError("DOJO_HISTORY_MINUTES_DAYS must be at least 1")
        # Both name the deployment in topics and Redis keys (stream.models.keys): no ":".
        for name in ("topic_prefix", "app_id"):
            value = getattr(self, name)
            if not value or not all(c.isalnum() or c in "._-" for c in value):
                raise SettingsError(f"{ENV[name]} must be letters, digits, '.', '_' or '-'")
        if not 6 <= self.learn_session_timeout_s <= 1800:  # the broker's default bounds
            raise SettingsError("DOJO_LEARN_SESSION_TIMEOUT_S must be from 6 to 1800")
        if self.content_keep_revisions < 0:
            raise SettingsError("DOJO_CONTENT_KEEP_REVISIONS must be 0 (keep all) or more")
        if self.live_max_hz <= 0:
            raise SettingsError("DOJO_LIVE_MAX_HZ must be positive")
        for name in PORTS:
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise SettingsError(f"{ENV[name]} must be a port from 1 to 65535, got {port}")
        unknown = [a for a in self.agents if a != "all" and a not in _AGENT_OF]
        if unknown or not self.agents:
            wrong = f"unknown agent {unknown[0]!r}" if unknown else "empty"
            raise SettingsError(
                f"DOJO_AGENTS: {wrong}; choose from all, {', '.join(AGENTS)} "
                f"(or {', '.join(AGENTS.values())})"
            )
        if self.originless not in ("accept", "refuse"):
            raise SettingsError("DOJO_ORIGINLESS must be accept or refuse")
        try:  # the panel's "this term": both dates, start first, or neither (the UK default)
            term_ok = date.fromisoformat(self.term_start) < date.fromisoformat(self.term_end)
        except ValueError:
            term_ok = not (self.term_start or self.term_end)
        if not term_ok:
            raise SettingsError("DOJO_TERM_START and DOJO_TERM_END: two ISO dates, start first")
        if self.rate_limit_fail not in ("open", "closed"):
            raise SettingsError("DOJO_RATE_LIMIT_FAIL must be open or closed")
        for entry in self.trusted_proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise SettingsError(
                    f"DOJO_TRUSTED_PROXIES entries must be addresses or CIDRs, got {entry!r}"
                ) from None


# Field name -> environment variable. Kept explicit so `grep DOJO_` finds every knob.
ENV: dict[str, str] = {
    "kafka": "DOJO_KAFKA",
    "kafka_controller_port": "DOJO_KAFKA_CONTROLLER_PORT",
    "kafka_version": "DOJO_KAFKA_VERSION",
    "redis_url": "DOJO_REDIS_URL",
    "admin_token": "DOJO_ADMIN_TOKEN",
    "metrics_token": "DOJO_METRICS_TOKEN",
    "site_origins": "DOJO_SITE_ORIGINS",
    "originless": "DOJO_ORIGINLESS",
    "trusted_proxies": "DOJO_TRUSTED_PROXIES",
    "site_id": "DOJO_SITE_ID",
    "topic_prefix": "DOJO_TOPIC_PREFIX",
    "partitions": "DOJO_PARTITIONS",
    "retention_hours": "DOJO_RETENTION_HOURS",
    "dlq_retention_hours": "DOJO_DLQ_RETENTION_HOURS",
    "history_minutes_days": "DOJO_HISTORY_MINUTES_DAYS",
    "app_id": "DOJO_APP_ID",
    "data_dir": "DOJO_DATA_DIR",
    "cache_dir": "DOJO_CACHE_DIR",
    "collector_host": "DOJO_COLLECTOR_HOST",
    "collector_port": "DOJO_COLLECTOR_PORT",
    "live_host": "DOJO_LIVE_HOST",
    "live_port": "DOJO_LIVE_PORT",
    "rate_limit_per_minute": "DOJO_RATE_LIMIT_PER_MINUTE",
    "rate_limit_fail": "DOJO_RATE_LIMIT_FAIL",
    "max_body_bytes": "DOJO_MAX_BODY_BYTES",
    "max_events": "DOJO_MAX_EVENTS",
    "dedupe_hours": "DOJO_DEDUPE_HOURS",
    "max_clock_skew_s": "DOJO_MAX_CLOCK_SKEW_S",
    "max_event_age_h": "DOJO_MAX_EVENT_AGE_H",
    "live_max_hz": "DOJO_LIVE_MAX_HZ",
    "learn_session_timeout_s": "DOJO_LEARN_SESSION_TIMEOUT_S",
    "worker_web_host": "DOJO_WORKER_WEB_HOST",
    "worker_web_port": "DOJO_WORKER_WEB_PORT",
    "agents": "DOJO_AGENTS",
    "funnels_path": "DOJO_FUNNELS",
    "query_allow": "DOJO_QUERY_ALLOW",
    "item_paths": "DOJO_ITEM_PATHS",
    "database_url": "DOJO_DATABASE_URL",
    "history_hours_days": "DOJO_HISTORY_HOURS_DAYS",
    "history_days_days": "DOJO_HISTORY_DAYS_DAYS",
    "term_start": "DOJO_TERM_START",
    "term_end": "DOJO_TERM_END",
    "content_keep_revisions": "DOJO_CONTENT_KEEP_REVISIONS",
}


def _parse(field_name: str, var: str, raw: str, annotation: object) -> object:
    kind = str(annotation)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw).expanduser()
        if kind == "Secret":
            return Secret(raw)
        if kind.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError:
        shown = "<hidden>" if kind == "Secret" else repr(raw)
        raise SettingsError(f"{var} ({field_name}) cannot be read as {kind}: {shown}") from None
