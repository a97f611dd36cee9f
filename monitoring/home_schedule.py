"""When a home check-in is due, and when one counts as missed (issue 15 §2): plain values in,
a frozen answer out (no Django).

A course with an open home access expects a check-in every ``interval`` from the later of the
start of home monitoring (the first open access's consent), day 0, and the last home check-in:
due at that anchor + interval, then every interval after it while none comes. A check-in that
has not come ``grace`` after its due time is missed: the job worker reminds the patient or
caregiver at the due time and flags the team once the grace has passed (home_sweep.sweep).
No check-in falls due after ``until`` (the end of the stay-near-the-centre countdown, when the
protocol sets one) or once the course has ended (the caller passes no schedule then).

Source. The engager labels ask that patients be counselled to seek medical attention at signs
of CRS and stay near a healthcare facility after step-up doses (e.g. TECVAYLI: "within
proximity … monitored daily for 48 hours"); they give no home temperature interval. The default
interval, 8 h, is the issue's own example ("temperature every 8 hours during the window") and
the 8-hourly neuro check of reference §6.1 (ASH-SAP); the 60-minute grace mirrors the
protocol's "8-hourly check + 1 h grace" for the neuro assessment. The reference is silent on a
home grace period: every centre sets both (docs/clinical-rules.md, "Home check-ins").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_INTERVAL_HOURS = 8
DEFAULT_GRACE_MINUTES = 60
INTERVAL_HOURS_RANGE = (1, 24)
GRACE_MINUTES_RANGE = (0, 12 * 60)
# The most due times one answer counts (a course left weeks without a check-in still costs
# a bounded loop): past this, "missed" says "at least".
MAX_COUNTED = 500


@dataclass(frozen=True)
class HomeDue:
    """Where a course stands against its home check-in schedule at ``now``."""

    next_due: datetime | None  # the check-in expected now (past: overdue); None: none due
    latest_due: datetime | None  # the most recent due time reached (what a reminder is for)
    missed: int  # due times since the anchor passed their grace with no check-in
    latest_missed: datetime | None  # the most recent of those due times

    @property
    def is_overdue(self) -> bool:
        return self.latest_due is not None

    @property
    def is_missed(self) -> bool:
        return self.missed > 0


NOT_DUE = HomeDue(None, None, 0, None)


def anchor(*, started_at: datetime, day0: datetime, last_checkin: datetime | None) -> datetime:
    """What the schedule counts from: the latest of home monitoring's start, day 0 and the last
    home check-in (nothing is due at home before the treatment)."""
    return max(t for t in (started_at, day0, last_checkin) if t is not None)


def home_due(
    *,
    started_at: datetime | None,
    day0: datetime,
    last_checkin: datetime | None,
    interval: timedelta | None,
    grace: timedelta,
    now: datetime,
    until: datetime | None = None,
) -> HomeDue:
    """The course's home check-in state at ``now``. ``started_at`` None (no open access) or
    ``interval`` None (the protocol has no home schedule): nothing is due."""
    if started_at is None or not interval or interval <= timedelta(0):
        return NOT_DUE
    start = anchor(started_at=started_at, day0=day0, last_checkin=last_checkin)
    first = start + interval
    if until is not None and first > until:
        return NOT_DUE
    if now < first:
        return HomeDue(first, None, 0, None)
    missed = _due_times(start, interval, now - grace if until is None else min(now - grace, until))
    latest_missed = start + missed * interval if missed else None
    if until is not None and now > until:  # the window is over: nothing more is expected
        return HomeDue(None, None, missed, latest_missed)
    reached = _due_times(start, interval, now)
    return HomeDue(first, start + reached * interval, missed, latest_missed)


def _due_times(start: datetime, interval: timedelta, end: datetime) -> int:
    """How many due times (start + k × interval, k ≥ 1) fall at or before ``end``."""
    if end <= start:
        return 0
    return min(int((end - start) / interval), MAX_COUNTED)


def missed_between(
    checkins: list[datetime],
    *,
    started_at: datetime | None,
    day0: datetime,
    interval: timedelta | None,
    grace: timedelta,
    now: datetime,
    until: datetime | None = None,
) -> int:
    """Every check-in missed since home monitoring started: in each gap between check-ins (and
    since the last), the due times that passed their grace before the next check-in came."""
    if started_at is None or not interval or interval <= timedelta(0):
        return 0
    begin = max(started_at, day0)
    times = sorted(t for t in checkins if t > begin)
    total, last = 0, None
    for moment in [*times, None]:
        state = home_due(
            started_at=started_at,
            day0=day0,
            last_checkin=last,
            interval=interval,
            grace=grace,
            now=moment if moment is not None else now,
            until=until,
        )
        total += state.missed
        last = moment
    return min(total, MAX_COUNTED)
