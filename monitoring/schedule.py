"""What is due next, and what is overdue, computed on read from a course's status row.

Never stored, so never stale: the inputs are the last time each check type was done (kept on
``CourseStatus`` by the write path), the current grades, any check recorded as not done, and
the intervals of the course's protocol version. No queries beyond the prefetched schedules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Case, DateTimeField, F, Q, When
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

from monitoring.models import CheckType, ProtocolVersion

DAY_MINUTES = 24 * 60
# "Never": far enough to be never due, near enough to convert to any local zone.
END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)
# Plain English strings once, not get_check_type_display() per schedule per course on a board;
# pages show them translated (Due.label), stored text (audit, escalation) keeps them English.
with translation.override("en"):
    CHECK_LABELS = {value: str(label) for value, label in CheckType.choices}


# "With fever" for a protocol schedule (CheckSchedule.febrile_interval_minutes; reference §6.1:
# vital signs every 2 h "with fever and tachycardia"). After the infusion ASTCT grades CRS only
# from fever ≥ 38.0 °C, now or earlier in the episode and masked by therapy (reference
# §1.2.1–2), so a course whose current CRS grade is 1 or more is febrile. The status row that
# due times are computed from holds grades, not heart rates: the febrile tier applies to fever
# alone, a superset of "fever and tachycardia" (docs/clinical-rules.md says why).
FEBRILE_FROM_CRS_GRADE = 1


def is_febrile(crs_grade) -> bool:
    """Fever now, or masked fever in the current CRS episode: any CRS grade."""
    return (crs_grade or 0) >= FEBRILE_FROM_CRS_GRADE


@dataclass(frozen=True)
class Due:
    check_type: str
    name: str  # the check type's English label, for text that is stored (audit, escalation)
    last_done: datetime | None
    next_due: datetime
    interval: timedelta
    overdue_by: timedelta | None  # None when not yet due
    # Why the last attempt was not done, if it was not: the English label kept on the status row.
    deferred_why: str = ""

    @property
    def is_overdue(self) -> bool:
        return self.overdue_by is not None

    @property
    def label(self) -> str:
        """The check type as shown, in the reader's language."""
        return gettext(self.name)

    @property
    def overdue_words(self) -> str:
        """ "Vital signs overdue 2 h 05 min", in the reader's language."""
        return gettext("%(check)s overdue %(by)s") % {
            "check": self.label,
            "by": duration_words(self.overdue_by),
        }

    @property
    def deferred_reason(self) -> str:
        """Why the last attempt was not done, as shown, in the reader's language (the English
        label stored is the catalogue's msgid; a reason stored otherwise is shown as it is)."""
        return gettext(self.deferred_why) if self.deferred_why else ""


def add_interval(start: datetime, interval: timedelta, tz=None) -> datetime:
    """``start`` plus ``interval``; whole days keep the local wall-clock time across DST.

    "Daily labs at 06:00" must stay at 06:00 local when the clocks change, so day-multiples
    are added in the configured zone; shorter intervals are elapsed time (4 h is 4 real hours,
    even across a DST change). Aware datetimes are converted back to UTC for storage/compare.
    """
    minutes = int(interval.total_seconds() // 60)
    try:
        if minutes and minutes % DAY_MINUTES == 0:
            tz = tz or timezone.get_current_timezone()
            naive = start.astimezone(tz).replace(tzinfo=None) + interval
            return timezone.make_aware(naive, tz).astimezone(UTC)
        # Python adds timedeltas to an aware datetime in wall-clock time of its own zone; in
        # UTC, wall-clock time is elapsed time.
        return start.astimezone(UTC) + interval
    except OverflowError:
        # Only an absurd stored date (day 0 in year 9999, from before the database refused
        # them) gets here: its checks are never due, and the unit's pages still open.
        return END_OF_TIME


def due_checks(course, status, *, now: datetime | None = None) -> list[Due]:
    """Every scheduled check type of the course, with its next due time, most overdue first.

    ``course.protocol_version.schedules`` should be prefetched by list pages.
    """
    version = course.protocol_version
    if version is None or status is None:
        return []
    now = now or timezone.now()
    tz = timezone.get_current_timezone()  # once: boards call this for every course
    window = dose_window(status, now)
    if getattr(status, "dosed", False):
        if window is None:
            return []  # a dosed course outside every dose's monitoring window: none due
    elif now >= monitoring_ends_at(course, tz):
        return []  # the protocol's monitoring window is over
    items = []
    for schedule in version.schedules.all():
        interval = schedule.interval(
            crs_grade=status.crs_grade,
            icans_grade=status.icans_grade,
            neuro_changed=status.neuro_changed,
            febrile=is_febrile(status.crs_grade),
        )
        last = getattr(status, f"last_{schedule.check_type}_at", None)
        # Never done: due from the infusion (day 0) on; in a dose's window, from the dose on.
        start = window[0] if window else course.infused_at
        next_due = add_interval(last, interval, tz) if last and last >= start else start
        if window and next_due >= window[1]:
            continue  # next due after the window closes: not due at all
        reason = ""
        deferral = (status.deferrals or {}).get(schedule.check_type)
        if deferral:
            attempted = parse_datetime(deferral["at"])
            retry = deferral.get("retry_minutes")
            retry_delta = timedelta(minutes=retry) if retry else interval
            next_due = max(next_due, add_interval(attempted, retry_delta, tz))
            reason = deferral.get("reason", "")
        overdue_by = now - next_due if now > next_due else None
        items.append(
            Due(
                schedule.check_type,
                CHECK_LABELS[schedule.check_type],
                last,
                next_due,
                interval,
                overdue_by,
                reason,
            )
        )
    return sorted(items, key=lambda due: due.next_due)


def dose_window(status, now: datetime):
    """(start, end) of the monitoring window after the dose last given, when ``now`` is inside
    it (monitoring.dosing keeps both on the status row); None otherwise."""
    start = getattr(status, "dose_window_start", None)
    end = getattr(status, "dose_window_end", None)
    if start is None or end is None or not start <= now < end:
        return None
    return start, end


def monitoring_ends_at(course, tz=None) -> datetime | None:
    """The end of the protocol's monitoring window (day 0 + window days, local wall clock),
    or when monitoring was ended (services.end_monitoring) if that came first."""
    version = course.protocol_version
    if version is None:
        return None
    window_end = add_interval(course.infused_at, timedelta(days=version.monitoring_window_days), tz)
    ended_at = getattr(course, "monitoring_ended_at", None)
    return min(window_end, ended_at) if ended_at else window_end


def due_marks(course, status) -> dict:
    """What CourseStatus keeps so boards can find overdue courses with one indexed query:
    the earliest next due time of any check, and the end of the monitoring window.

    Both change only when a write changes their inputs (a check, a check not done, a grade, a
    protocol move), and every such write refreshes them; whether a check is overdue is still
    decided on read, by comparing them with the clock.
    """
    if getattr(status, "dosed", False):
        # A dosed course is monitored only inside the window after the dose last given.
        start, end = status.dose_window_start, status.dose_window_end
        if start is None or end is None or course.protocol_version is None:
            return {"next_due_at": None, "monitoring_ends_at": None}
        items = due_checks(course, status, now=start)
        return {
            "next_due_at": min((due.next_due for due in items), default=None),
            "monitoring_ends_at": end,
        }
    ends_at = monitoring_ends_at(course)
    if ends_at is None:
        return {"next_due_at": None, "monitoring_ends_at": None}
    # As due_checks computes them, at the start of the window so none is dropped.
    items = due_checks(course, status, now=course.infused_at)
    return {
        "next_due_at": min((due.next_due for due in items), default=None),
        "monitoring_ends_at": ends_at,
    }


def end_of_day(now: datetime, tz=None) -> datetime:
    """Midnight after ``now`` in the local zone (UTC), a DST day being 23 or 25 hours."""
    tz = tz or timezone.get_current_timezone()
    local = now.astimezone(tz)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time())
    return timezone.make_aware(midnight, tz).astimezone(UTC)


def due_today(due: list[Due], *, now: datetime, tz=None) -> bool:
    """A check overdue, or due before midnight (local): the course is on today's clinic list."""
    end = end_of_day(now, tz)
    return any(item.next_due < end for item in due)


def most_overdue(course, status, *, now: datetime | None = None) -> Due | None:
    """The check that has waited longest past its due time, or None."""
    overdue = [due for due in due_checks(course, status, now=now) if due.is_overdue]
    return overdue[0] if overdue else None


def human_duration(delta: timedelta) -> str:
    """ "2 h 05 min", "3 d 4 h": how long a check has waited, for busy eyes. English, for text
    that is stored (audit, worker logs); pages show ``duration_words``."""
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, DAY_MINUTES)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def duration_words(delta: timedelta) -> str:
    """``human_duration`` in the reader's language, for pages."""
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, DAY_MINUTES)
    hours, minutes = divmod(minutes, 60)
    if days:
        return gettext("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return gettext("%(hours)s h %(minutes)s min") % {
            "hours": hours,
            "minutes": f"{minutes:02d}",
        }
    return gettext("%(minutes)s min") % {"minutes": minutes}


def with_earliest_due(courses, *, now: datetime):
    """The courses annotated with ``due_at``: SQL for each one's earliest next due check (NULL
    when none is due), from its status row. Compare it with ``now``: earlier is overdue.

    The database's twin of ``min(due.next_due for due in due_checks(course, status, now))``,
    so that lists over a whole hospital rank and page in the database and load only the
    page's courses. ``CourseStatus.next_due_at`` is that minimum, kept by every write that
    changes its inputs (``due_marks``; a due time does not depend on the clock, only whether
    it has passed does); a check is due only inside the monitoring window — the protocol's,
    or, for a dosed course, the one after the dose last given — as ``due_checks`` decides. A
    course without a status row has done nothing yet: due from day 0 until its protocol's
    window ends (one query for the window of each protocol version in use).
    """
    in_window = Q(status_row__monitoring_ends_at__gt=now) & (
        Q(status_row__dosed=False) | Q(status_row__dose_window_start__lte=now)
    )
    # Day 0 + window days > now, as monitoring_ends_at adds whole days (local wall clock).
    windows = (
        ProtocolVersion.objects.filter(pk__in=courses.values("protocol_version_id"))
        .values_list("pk", "monitoring_window_days")
        .order_by()
    )
    never_checked = [
        When(
            status_row__isnull=True,
            protocol_version_id=pk,
            infused_at__gt=add_interval(now, -timedelta(days=days)),
            then=F("infused_at"),
        )
        for pk, days in windows
    ]
    return courses.annotate(
        due_at=Case(
            *never_checked,
            When(
                Q(status_row__isnull=False, protocol_version__isnull=False) & in_window,
                then=F("status_row__next_due_at"),
            ),
            default=None,
            output_field=DateTimeField(),
        )
    )
