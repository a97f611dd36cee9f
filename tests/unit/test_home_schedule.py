"""When a home check-in is due and when it is missed (monitoring/home_schedule.py, issue 15 §2).

Source: the defaults are the issue's example (temperature every 8 hours) and the protocol's
"8-hourly check + 1 h grace" reading of reference §6.1; the reference is silent on a home grace
(docs/clinical-rules.md, "Home check-ins"). Times below are hours after day 0 (D0 08:00 UTC).
"""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.home_schedule import NOT_DUE, home_due, missed_between

DAY0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
EIGHT_HOURS = timedelta(hours=8)
HOUR = timedelta(hours=1)


def at(hours: float) -> datetime:
    return DAY0 + timedelta(hours=hours)


def state(*, now, last=None, started=0, interval=EIGHT_HOURS, grace=HOUR, until=None):
    return home_due(
        started_at=None if started is None else at(started),
        day0=DAY0,
        last_checkin=None if last is None else at(last),
        interval=interval,
        grace=grace,
        now=at(now),
        until=None if until is None else at(until),
    )


@pytest.mark.parametrize(
    ("case", "kwargs", "next_due", "latest_due", "missed", "latest_missed"),
    [
        # Consent at day 0, no check-in: due 8 h later; overdue at 8 h; missed from 9 h.
        ("before the first due time", {"now": 7.9}, 8, None, 0, None),
        ("at the due time: overdue", {"now": 8}, 8, 8, 0, None),
        ("inside the grace", {"now": 8.99}, 8, 8, 0, None),
        ("grace over: missed", {"now": 9}, 8, 8, 1, 8),
        ("the next due time reached", {"now": 16.5}, 8, 16, 1, 8),
        ("two missed in a row", {"now": 17}, 8, 16, 2, 16),
        # A check-in re-anchors the schedule.
        ("checked in at 10 h", {"now": 17.9, "last": 10}, 18, None, 0, None),
        ("late check-in then missed again", {"now": 19, "last": 10}, 18, 18, 1, 18),
        # Home monitoring started after day 0 (consent at 30 h) counts from the consent.
        ("consent after day 0", {"now": 37, "started": 30}, 38, None, 0, None),
        # Consent before day 0 (a planned course): nothing is due before the treatment.
        ("consent before day 0", {"now": 7, "started": -48}, 8, None, 0, None),
        # A zero grace flags at the due time itself.
        ("no grace", {"now": 8, "grace": timedelta(0)}, 8, 8, 1, 8),
    ],
)
def test_the_schedule(case, kwargs, next_due, latest_due, missed, latest_missed):
    result = state(**kwargs)

    assert result.next_due == (at(next_due) if next_due is not None else None), case
    assert result.latest_due == (at(latest_due) if latest_due is not None else None), case
    assert result.missed == missed, case
    assert result.latest_missed == (at(latest_missed) if latest_missed is not None else None)
    assert result.is_overdue == (latest_due is not None)
    assert result.is_missed == (missed > 0)


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("no open access", {"now": 20, "started": None}),
        ("no home schedule on the protocol", {"now": 20, "interval": None}),
        ("the first due time is after the window", {"now": 20, "until": 7}),
    ],
)
def test_nothing_is_due(case, kwargs):
    assert state(**kwargs) == NOT_DUE, case


def test_after_the_stay_near_window_nothing_more_is_expected_but_misses_stay_counted():
    # Window ends at 20 h: the 8 h check-in was missed, the 16 h one too; 24 h is never due.
    result = state(now=40, until=20)

    assert (result.next_due, result.latest_due) == (None, None)
    assert (result.missed, result.latest_missed) == (2, at(16))


def test_a_due_time_inside_the_window_whose_grace_ends_after_it_still_counts():
    result = state(now=16.5, until=16.2)  # due 16 h, window over at 16.2 h, grace over 17 h

    assert result.missed == 1  # only the 8 h one so far
    assert state(now=17, until=16.2).missed == 2


@pytest.mark.parametrize(
    ("case", "checkins", "now", "missed"),
    [
        ("on time every time", [7.5, 15, 23], 30, 0),
        ("one gap of two missed, then back", [7.5, 26], 30, 2),  # due 15.5 and 23.5 missed
        ("late but inside the grace", [8.5, 16], 20, 0),
        ("nothing since consent", [], 25.5, 3),  # due 8, 16, 24 (grace over at 25)
        ("a check-in before day 0 does not count", [-5], 9, 1),
    ],
)
def test_missed_between_check_ins(case, checkins, now, missed):
    count = missed_between(
        [at(h) for h in checkins],
        started_at=at(-24),
        day0=DAY0,
        interval=EIGHT_HOURS,
        grace=HOUR,
        now=at(now),
    )

    assert count == missed, case
