"""Real local infrastructure without Docker: one Kafka broker (KRaft) and one Redis.

Contract:
- ``up_all(settings)`` makes both answer at the addresses in ``settings`` and returns what
  it found or did per service: ``"started"``, ``"already running"`` (ours) or
  ``"running (not ours)"`` (someone else's server answers there; it is left alone).
  It is idempotent, waits for real readiness (a Kafka metadata round trip, a Redis PING)
  with a deadline, and is safe to call concurrently (a file lock per service).
- ``down_all(settings)`` stops only servers this package started for ``settings.data_dir``
  (pidfiles under it) and returns, per service, whether one was stopped.
- ``status_all(settings)`` describes each service without changing anything.
- Servers run detached (they outlive the caller); their output goes to log files under
  ``settings.data_dir``. Broker jars are fetched once from Maven Central into
  ``settings.cache_dir``.
- Every failure the operator can fix raises ``InfraError`` with a plain message.
- Importing this package starts nothing.
"""

from __future__ import annotations

from infra import kafka, redis
from infra.daemon import Echo
from infra.errors import InfraError
from stream.settings import Settings

__all__ = ["InfraError", "down_all", "status_all", "up_all"]


def up_all(settings: Settings, echo: Echo = print) -> dict[str, str]:
    """Start Redis and Kafka if needed; return each one's outcome."""
    return {"redis": redis.up(settings, echo=echo), "kafka": kafka.up(settings, echo=echo)}


def down_all(settings: Settings, echo: Echo = print) -> dict[str, bool]:
    """Stop the Kafka and Redis we started; return whether each was stopped."""
    return {"kafka": kafka.down(settings, echo=echo), "redis": redis.down(settings, echo=echo)}


def status_all(settings: Settings) -> list[dict[str, object]]:
    """The status of Kafka and Redis."""
    return [kafka.status(settings), redis.status(settings)]
