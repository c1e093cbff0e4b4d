"""When the scheduler backs up, drills and raises its alert: pure functions of the clock."""

from __future__ import annotations

from stream.backup.schedule import (
    FIRST_AFTER_S,
    RETRY_AFTER_S,
    Clockwork,
    alert,
    backup_due,
    drill_due,
    overdue,
)

H = 3600.0
T0 = 1_800_000_000.0


def test_a_fresh_stack_waits_for_its_first_events_then_backs_up() -> None:
    c = Clockwork(started=T0)
    assert not backup_due(c, T0 + FIRST_AFTER_S - 1, 24)
    assert backup_due(c, T0 + FIRST_AFTER_S, 24)


def test_the_next_backup_is_due_one_interval_after_the_last_success() -> None:
    c = Clockwork(started=T0, last_success=T0 + 100)
    assert not backup_due(c, T0 + 100 + 24 * H - 1, 24)
    assert backup_due(c, T0 + 100 + 24 * H, 24)
    assert not backup_due(c, T0 + 100 + 99 * H, 0)  # 0: scheduled backups are off


def test_a_failure_is_retried_later_not_at_once() -> None:
    c = Clockwork(started=T0, last_attempt=T0 + 500, failure="KafkaError: gone")
    assert not backup_due(c, T0 + 500 + RETRY_AFTER_S - 1, 24)
    assert backup_due(c, T0 + 500 + RETRY_AFTER_S, 24)


def test_overdue_after_one_and_a_half_intervals_without_success() -> None:
    c = Clockwork(started=T0, last_success=T0)
    assert not overdue(c, T0 + 36 * H, 24)
    assert overdue(c, T0 + 36 * H + 1, 24)
    never = Clockwork(started=T0)
    assert overdue(never, T0 + FIRST_AFTER_S + 36 * H + 1, 24)
    assert not overdue(never, T0 + 10**9, 0)


def test_the_alert_says_why_and_is_gone_when_all_is_well() -> None:
    failed = Clockwork(started=T0, last_success=T0, failure="KafkaError: gone")
    raised = alert(failed, T0 + 60, 24)
    assert raised is not None
    assert raised["reason"] == "backup failed: KafkaError: gone"
    assert raised["metric"] == "backup" and raised["minute"] == int((T0 + 60) * 1000)
    late = alert(Clockwork(started=T0, last_success=T0), T0 + 40 * H, 24)
    assert late is not None and late["reason"] == "backup overdue: none verified for 40.0 h"
    assert alert(Clockwork(started=T0, last_success=T0), T0 + H, 24) is None


def test_drills_follow_their_own_interval_once_a_backup_exists() -> None:
    assert not drill_due(Clockwork(started=T0), T0 + 10 * H, 1)
    c = Clockwork(started=T0, last_success=T0, last_drill=T0)
    assert not drill_due(c, T0 + 6 * H, 7) and drill_due(c, T0 + 7 * H, 7)
    assert not drill_due(c, T0 + 99 * H, 0)
