"""The names of the settings: environment variables, agents, ports, and how values parse."""

from __future__ import annotations

import math
from pathlib import Path

from stream.secret import Secret


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


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
    "track_experiments": "experiments",
    "learn_online": "learning",
    "show_activity": "activity",
    "keep_history": "history",
    "count_dojo": "dojo",
}
AGENT_OF = {short: agent for agent, short in AGENTS.items()} | {a: a for a in AGENTS}
PORTS = ("kafka_controller_port", "collector_port", "live_port", "worker_web_port")

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
    "collector_processes": "DOJO_COLLECTOR_PROCESSES",
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
    "smtp_url": "DOJO_SMTP_URL",
    "reports": "DOJO_REPORTS",
    "reports_hour": "DOJO_REPORTS_HOUR",
    "checkin_token": "DOJO_CHECKIN_TOKEN",
    "backup_dir": "DOJO_BACKUP_DIR",
    "backup_key": "DOJO_BACKUP_KEY",
    "backup_every_hours": "DOJO_BACKUP_EVERY_HOURS",
    "backup_drill_every_hours": "DOJO_BACKUP_DRILL_EVERY_HOURS",
    "backup_keep": "DOJO_BACKUP_KEEP",
    "backup_web_port": "DOJO_BACKUP_WEB_PORT",
    "content_keep_revisions": "DOJO_CONTENT_KEEP_REVISIONS",
    "experiment_holdout_pct": "DOJO_EXPERIMENT_HOLDOUT_PCT",
}


def parse_value(field_name: str, var: str, raw: str, annotation: object) -> object:
    kind = str(annotation)
    try:
        if kind in ("int", "float") and not raw.strip().isascii():
            raise ValueError("digits other than 0-9")  # int() also reads e.g. Arabic-Indic
        if kind == "int":
            return int(raw)
        if kind == "float":
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError("not a finite number")
            return value
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
