"""When the scheduler backs up, drills and raises its alert: pure functions of the clock."""

from __future__ import annotations

from stream.backup.clockwork import (
    FIRST_AFTER_S,
    RETRY_AFTER_S,
    Clockwork,
    alert,
    backup_due,
    drill_due,
    next_due,
    overdue,
    status,
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


def test_the_alert_says_why_and_stays_the_same_while_the_state_lasts() -> None:
    failed = Clockwork(
        started=T0, last_success=T0, last_attempt=T0 + 50, failure="KafkaError: gone"
    )
    raised = alert(failed, T0 + 60, 24)
    assert raised is not None
    assert raised["reason"] == "backup failed: KafkaError: gone"
    assert raised["metric"] == "backup" and raised["minute"] == int((T0 + 50) * 1000)
    assert alert(failed, T0 + 9 * H, 24) == raised  # not news again 15 s later
    late = Clockwork(started=T0, last_success=T0)
    raised = alert(late, T0 + 40 * H, 24)
    assert raised is not None
    assert raised["reason"] == "backup overdue: none verified since 2027-01-15 08:00 UTC"
    assert raised["minute"] == int((T0 + 36 * H) * 1000)
    assert alert(late, T0 + 41 * H, 24) == raised
    never = alert(Clockwork(started=T0), T0 + 99 * H, 24)
    assert never is not None
    assert never["reason"] == "backup overdue: none verified since the scheduler started"
    assert alert(Clockwork(started=T0, last_success=T0), T0 + H, 24) is None


def test_a_failed_drill_raises_an_alert_until_a_drill_passes() -> None:
    c = Clockwork(started=T0, last_success=T0, last_drill=T0 + H, drill_id="b-1",
                  drill_passed=False, drill_detail="views differ: 120 != 118")  # fmt: skip
    raised = alert(c, T0 + 2 * H, 24)
    assert raised is not None
    assert raised["reason"] == "restore drill failed for b-1: views differ: 120 != 118"
    assert raised["minute"] == int((T0 + H) * 1000)
    assert alert(c, T0 + 3 * H, 24) == raised  # the same while the state lasts
    c.failure = "OSError: disk full"  # a failed backup says more and comes first
    failed = alert(c, T0 + 3 * H, 24)
    assert failed is not None and failed["reason"].startswith("backup failed")
    c.failure, c.drill_passed = "", True
    assert alert(c, T0 + 3 * H, 24) is None


def test_next_due_is_the_first_moment_a_backup_is_due() -> None:
    for c in (
        Clockwork(started=T0),
        Clockwork(started=T0, last_success=T0 + 100),
        Clockwork(started=T0, last_success=T0 + 100, last_attempt=T0 + 24 * H + 200, failure="x"),
    ):
        due = next_due(c, 24)
        assert due is not None
        assert backup_due(c, due, 24) and not backup_due(c, due - 1, 24)
    assert next_due(Clockwork(started=T0), 0) is None


def test_the_status_names_the_last_backup_what_is_due_and_the_drill() -> None:
    c = Clockwork(started=T0, last_success=T0 + 100, last_id="20270115T080140Z-ab12",
                  last_size=5000, last_records=51, verified=True, last_drill=T0 + 200,
                  drill_passed=False, drill_detail="dojo.events/0: 3 records, manifest 4",
                  drill_id="20270115T080140Z-ab12")  # fmt: skip
    assert status(c, T0 + 300, 24) == {
        "last_id": "20270115T080140Z-ab12",
        "last_success_ms": int((T0 + 100) * 1000),
        "size_bytes": 5000,
        "records": 51,
        "verified": True,
        "next_due_ms": int((T0 + 100 + 24 * H) * 1000),
        "failure": "",
        "overdue": False,
        "drill": {
            "backup_id": "20270115T080140Z-ab12",
            "at_ms": int((T0 + 200) * 1000),
            "passed": False,
            "detail": "dojo.events/0: 3 records, manifest 4",
        },
    }
    assert status(c, T0 + 37 * H, 24)["overdue"] is True
    assert status(c, T0, 0)["next_due_ms"] is None


def test_drills_follow_their_own_interval_once_a_backup_exists() -> None:
    assert not drill_due(Clockwork(started=T0), T0 + 10 * H, 1)
    c = Clockwork(started=T0, last_success=T0, last_drill=T0)
    assert not drill_due(c, T0 + 6 * H, 7) and drill_due(c, T0 + 7 * H, 7)
    assert not drill_due(c, T0 + 99 * H, 0)
