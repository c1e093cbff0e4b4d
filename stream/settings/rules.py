"""The rules a configuration must satisfy, checked once when settings are built."""

from __future__ import annotations

import ipaddress
from datetime import date
from typing import Any

from stream.settings.table import AGENT_OF, AGENTS, ENV, PORTS, SettingsError


def check(s: Any) -> None:
    """Raise ``SettingsError`` for values of ``s`` (a ``Settings``) that would fail later."""
    host, sep, port = s.kafka.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()):
        raise SettingsError(f"DOJO_KAFKA must be host:port, got {s.kafka!r}")
    if not s.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("DOJO_REDIS_URL must start with redis://, rediss:// or unix://")
    if s.partitions < 1:
        raise SettingsError("DOJO_PARTITIONS must be at least 1")
    if s.history_minutes_days < 1:
        raise SettingsError("DOJO_HISTORY_MINUTES_DAYS must be at least 1")
    if not 1 <= s.collector_processes <= 64:
        raise SettingsError("DOJO_COLLECTOR_PROCESSES must be between 1 and 64")
    # Both name the deployment in topics and Redis keys (stream.models.keys): no ":".
    for name in ("topic_prefix", "app_id"):
        value = getattr(s, name)
        if not value or not all((c.isascii() and c.isalnum()) or c in "._-" for c in value):
            raise SettingsError(f"{ENV[name]} must be letters, digits, '.', '_' or '-'")
    if not 6 <= s.learn_session_timeout_s <= 1800:  # the broker's default bounds
        raise SettingsError("DOJO_LEARN_SESSION_TIMEOUT_S must be from 6 to 1800")
    if s.content_keep_revisions < 0:
        raise SettingsError("DOJO_CONTENT_KEEP_REVISIONS must be 0 (keep all) or more")
    if not 0 <= s.experiment_holdout_pct <= 100:  # NaN fails too
        raise SettingsError("DOJO_EXPERIMENT_HOLDOUT_PCT must be a percentage from 0 to 100")
    if s.live_max_hz <= 0:
        raise SettingsError("DOJO_LIVE_MAX_HZ must be positive")
    for name in PORTS:
        port = getattr(s, name)
        if not 0 < port < 65536:
            raise SettingsError(f"{ENV[name]} must be a port from 1 to 65535, got {port}")
    unknown = [a for a in s.agents if a != "all" and a not in AGENT_OF]
    if unknown or not s.agents:
        wrong = f"unknown agent {unknown[0]!r}" if unknown else "empty"
        raise SettingsError(
            f"DOJO_AGENTS: {wrong}; choose from all, {', '.join(AGENTS)} "
            f"(or {', '.join(AGENTS.values())})"
        )
    if s.originless not in ("accept", "refuse"):
        raise SettingsError("DOJO_ORIGINLESS must be accept or refuse")
    try:  # the panel's "this term": both dates, start first, or neither (the UK default)
        term_ok = date.fromisoformat(s.term_start) < date.fromisoformat(s.term_end)
    except ValueError:
        term_ok = not (s.term_start or s.term_end)
    if not term_ok:
        raise SettingsError("DOJO_TERM_START and DOJO_TERM_END: two ISO dates, start first")
    if len(s.backup_keep) != 3 or not all(n.isascii() and n.isdigit() for n in s.backup_keep):
        raise SettingsError("DOJO_BACKUP_KEEP: daily,weekly,monthly counts, e.g. 7,4,6")
    if not set(s.reports) <= {"daily", "weekly", "monthly", "alerts"}:
        raise SettingsError("DOJO_REPORTS: any of daily, weekly, monthly, alerts (or empty)")
    if not 0 <= s.reports_hour <= 23:
        raise SettingsError("DOJO_REPORTS_HOUR must be an hour from 0 to 23 (UTC)")
    if s.rate_limit_fail not in ("open", "closed"):
        raise SettingsError("DOJO_RATE_LIMIT_FAIL must be open or closed")
    for entry in s.trusted_proxies:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise SettingsError(
                f"DOJO_TRUSTED_PROXIES entries must be addresses or CIDRs, got {entry!r}"
            ) from None
