"""Configuration in one place: typed, read once from the environment, local defaults.

Every process of Dojo Pulse (worker, collector, live feed, simulator, infra) builds one
``Settings`` with :meth:`Settings.from_env` at start-up and passes it down. Nothing
reads ``os.environ`` anywhere else. The admin token is held in a ``Secret`` so that
printing or logging the settings never reveals it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

# Re-exported (mypy's explicit form): ``from stream.settings import Secret`` is the usual spelling.
from stream.secret import Secret as Secret
from stream.settings import rules
from stream.settings.table import AGENT_OF, parse_value
from stream.settings.table import AGENTS as AGENTS
from stream.settings.table import ENV as ENV
from stream.settings.table import PORTS as PORTS
from stream.settings.table import SettingsError as SettingsError


def _default_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "dojo-pulse"


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dojo-pulse"


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
    collector_processes: int = 1  # serving processes on one port (the kernel shares the accepts)
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
    smtp_url: Secret = field(default_factory=lambda: Secret(""))  # smtps://u:p@host/?to=a@b&from=
    # Reports that `dojo-pulse run` sends by itself: daily, weekly (Mondays), monthly (the 1st),
    # at reports_hour UTC; alerts: a daily report per threshold alert (``dojo_pulse.reports``).
    reports: tuple[str, ...] = ("daily", "weekly")
    reports_hour: int = 6
    checkin_token: Secret = field(default_factory=lambda: Secret(""))  # empty: no check-in page
    backup_dir: str = ""  # empty: <data_dir>/backups (``stream.backup``)
    backup_key: Secret = field(default_factory=lambda: Secret(""))  # empty: not encrypted
    backup_every_hours: float = 24.0  # 0: no scheduled backups
    backup_drill_every_hours: float = 0.0  # 0: drills by hand only
    backup_keep: tuple[str, ...] = ("7", "4", "6")  # daily, weekly, monthly backups kept
    backup_web_port: int = 6067  # the backup scheduler's /metrics
    # Revisions kept per content item, newest first (0: all); live and scheduled ones stay.
    content_keep_revisions: int = 50
    # Share of units (in %) that sees no experiment at all: a stable baseline for the sum of
    # every experiment's effect (``stream.experiments.assignment``). 0: no holdout.
    experiment_holdout_pct: float = 0.0

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
            values[f.name] = parse_value(
                f.name, name, env[name], cls.__dataclass_fields__[f.name].type
            )
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def agent_enabled(self, name: str) -> bool:
        """Whether the worker runs agent ``name`` (its name in ``AGENTS`` or its short name)."""
        return "all" in self.agents or AGENT_OF[name] in {AGENT_OF[a] for a in self.agents}

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
        rules.check(self)
