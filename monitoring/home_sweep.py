"""Home check-ins that fall due (issue 15 §2): where each course stands (``home_schedule``), the
reminder e-mailed to the patient or caregiver at the due time, and the flag that tells the team
once the protocol's grace has passed with no check-in.

- **When** (``state_of``): from the course's open home accesses (the earliest consent), day 0,
  the last home check-in (a ``BedsideCheck`` with setting home, saved by
  ``services.record_check``) and the protocol version's interval and grace; no check-in is due
  after the stay-near-the-centre countdown's last day (when the protocol sets one) nor on a
  course no longer under monitoring.
- **The sweep** (``sweep``, run by the job worker's beat): for each course whose latest due time
  has come, one ``HomeCheckInDue`` row and one reminder job per open access with an e-mail
  address; for each course whose latest due time is past its grace, the "Home check-in missed"
  flag (urgent: it climbs the escalation ladder like any flag). The row's unique key and the
  course's lock make it idempotent: run twice, or by two workers, it reminds and flags once.
- **Resolution** (``resolve_on_checkin``): a home check-in saved after the missed due time
  resolves the flag, with who and when (``services.record_check`` calls it).

The reminder e-mail says only that a check-in is due and where to open cartmonitor: no name,
no patient, no value (issue 15 §1). Every step is audited, in English.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django_tasks import task

from monitoring import flag_rules, home_schedule
from monitoring.engine import FlagBook
from monitoring.models import (
    AuditEvent,
    BedsideCheck,
    CheckSetting,
    Flag,
    HomeAccess,
    HomeCheckIn,
    HomeCheckInDue,
    TreatmentCourse,
    VitalSigns,
)
from monitoring.services import (
    _in_english,
    _lock_status,
    _name,
    audit,
    moment_label,
    refresh_status,
    resolve_from_book,
    save_flag_book,
)

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Where a course stands
# ---------------------------------------------------------------------------------------------


def home_checks():
    """Check-ins from home: checks with setting home, but for the antipyretic a check-in records
    at the time it was taken (``HomeCheckIn.fever_medicine_check``), which is no check-in."""
    return BedsideCheck.objects.filter(setting=CheckSetting.HOME, home_medicine_of__isnull=True)


def window_end(course: TreatmentCourse) -> datetime | None:
    """The end of the stay-near-the-centre countdown's last day (local midnight after day 0 +
    the protocol's days), after which no home check-in falls due; None: no countdown."""
    version = course.protocol_version
    if version is None or not version.stay_near_days:
        return None
    last_day = course.infusion_date + timedelta(days=version.stay_near_days)
    midnight = datetime.combine(last_day + timedelta(days=1), datetime.min.time())
    return timezone.make_aware(midnight)


def schedule_of(course: TreatmentCourse) -> tuple[timedelta | None, timedelta]:
    """The protocol version's interval (None: no home schedule) and grace."""
    version = course.protocol_version
    if version is None:
        return None, timedelta(minutes=home_schedule.DEFAULT_GRACE_MINUTES)
    return version.home_checkin_interval(), timedelta(minutes=version.home_checkin_grace_minutes)


def state_of(
    course: TreatmentCourse,
    *,
    started_at: datetime | None,
    last_checkin: datetime | None,
    now: datetime,
) -> home_schedule.HomeDue:
    """The course's home check-in state. ``started_at``: the earliest consent among its open
    accesses (None: none open); reads ``protocol_version``."""
    if not course.is_under_monitoring:
        return home_schedule.NOT_DUE
    interval, grace = schedule_of(course)
    return home_schedule.home_due(
        started_at=started_at,
        day0=course.infused_at,
        last_checkin=last_checkin,
        interval=interval,
        grace=grace,
        now=now,
        until=window_end(course),
    )


def home_checkins(course_ids) -> dict[int, list[datetime]]:
    """Each course's home check-in times, oldest first (one query)."""
    found: dict[int, list[datetime]] = {}
    rows = (
        home_checks()
        .filter(course_id__in=course_ids)
        .order_by("observed_at", "pk")
        .values_list("course_id", "observed_at")
    )
    for course_id, at in rows:
        found.setdefault(course_id, []).append(at)
    return found


def home_started(course_ids) -> dict[int, datetime]:
    """When home monitoring started on each course with an open access: its earliest consent
    (one query)."""
    started: dict[int, datetime] = {}
    rows = HomeAccess.objects.filter(course_id__in=course_ids, revoked_at__isnull=True)
    for course_id, consent_at in rows.values_list("course_id", "consent_at"):
        if course_id not in started or consent_at < started[course_id]:
            started[course_id] = consent_at
    return started


def with_home_times(courses):
    """Annotate ``home_started_at`` (the earliest consent among the open accesses) and
    ``last_home_checkin_at`` on a course queryset: one query for any number of courses."""
    started = (
        HomeAccess.objects.filter(course=OuterRef("pk"), revoked_at__isnull=True)
        .order_by("consent_at")
        .values("consent_at")[:1]
    )
    last = (
        home_checks()
        .filter(course=OuterRef("pk"))
        .order_by("-observed_at")
        .values("observed_at")[:1]
    )
    return courses.annotate(home_started_at=Subquery(started), last_home_checkin_at=Subquery(last))


def course_state(course: TreatmentCourse, *, now: datetime | None = None) -> home_schedule.HomeDue:
    """One course's state, read from the database in one query (the home page's)."""
    now = now or timezone.now()
    started, last = (
        with_home_times(TreatmentCourse.objects.filter(pk=course.pk))
        .values_list("home_started_at", "last_home_checkin_at")
        .get()
    )
    return state_of(course, started_at=started, last_checkin=last, now=now)


# ---------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------


def open_home_access() -> Exists:
    """A course filter: it has an open (not revoked) home access. Not a join on the relation:
    ``home_accesses__revoked_at__isnull`` would also match a course with no access at all."""
    return Exists(HomeAccess.objects.filter(course=OuterRef("pk"), revoked_at__isnull=True))


def scheduled_courses():
    """Courses under monitoring with an open home access and a home schedule."""
    return (
        TreatmentCourse.objects.under_monitoring()
        .filter(open_home_access(), protocol_version__home_checkin_interval_hours__isnull=False)
        .select_related("protocol_version", "patient", "unit")
    )


# Courses read per batch of a sweep (four queries a batch): every course is swept, in batches.
SWEEP_BATCH = 2000


def sweep(*, now: datetime | None = None) -> dict:
    """The job worker's pass: remind for each check-in that came due, flag each missed one.
    Four queries per ``SWEEP_BATCH`` courses, and a write only where something is owed."""
    now = now or timezone.now()
    totals = {"home_reminded": 0, "home_flagged": 0}
    after = 0
    while batch := list(scheduled_courses().filter(pk__gt=after).order_by("pk")[:SWEEP_BATCH]):
        for key, count in _sweep_batch(batch, now=now).items():
            totals[key] += count
        after = batch[-1].pk
    return totals


def _sweep_batch(courses: list[TreatmentCourse], *, now: datetime) -> dict:
    ids = [course.pk for course in courses]
    started = home_started(ids)
    checkins = home_checkins(ids)
    done = {
        (course_id, due_at): (reminded_at, flagged_at)
        for course_id, due_at, reminded_at, flagged_at in HomeCheckInDue.objects.filter(
            course_id__in=ids, due_at__gte=now - timedelta(days=60)
        ).values_list("course_id", "due_at", "reminded_at", "flagged_at")
    }
    reminded = flagged = 0
    for course in courses:
        times = checkins.get(course.pk, [])
        state = state_of(
            course,
            started_at=started.get(course.pk),
            last_checkin=times[-1] if times else None,
            now=now,
        )
        due = state.latest_due
        if due is not None and done.get((course.pk, due), (None, None))[0] is None:
            reminded += remind(course, due_at=due, now=now)
        missed = state.latest_missed
        if missed is not None and done.get((course.pk, missed), (None, None))[1] is None:
            flagged += flag_missed(course, state, now=now)
    return {"home_reminded": reminded, "home_flagged": flagged}


def _due_row(course: TreatmentCourse, due_at: datetime) -> HomeCheckInDue:
    HomeCheckInDue.objects.get_or_create(course=course, due_at=due_at)
    return HomeCheckInDue.objects.select_for_update().get(course=course, due_at=due_at)


@transaction.atomic
def remind(course: TreatmentCourse, *, due_at: datetime, now: datetime) -> int:
    """Queue the reminder e-mails for a due time, once. Returns 1 if reminded now."""
    _lock_status(course)  # one writer per course: the sweep's rows and the check-ins
    if course_state(course, now=now).latest_due != due_at:
        return 0  # a check-in came since the sweep read the course
    due = _due_row(course, due_at)
    if due.reminded_at is not None:
        return 0
    accesses = list(
        HomeAccess.objects.filter(course=course, revoked_at__isnull=True)
        .exclude(user__email="")
        .order_by("pk")
    )
    due.reminded_at = now
    due.save(update_fields=["reminded_at"])
    for access in accesses:
        send_reminder.enqueue(due.pk, access.pk)
    label = moment_label(course)
    with _in_english():
        audit(
            None,
            AuditEvent.Action.HOME_REMINDED,
            course=course,
            summary=f"Home check-in due {label(due_at)}: reminder e-mailed to "
            f"{len(accesses)} home account(s)",
            details={"due_at": due_at.isoformat(), "accesses": [a.pk for a in accesses]},
        )
    return 1


@transaction.atomic
def flag_missed(course: TreatmentCourse, state: home_schedule.HomeDue, *, now: datetime) -> int:
    """Raise (or update) the missed check-in flag for the latest missed due time, once."""
    status = _lock_status(course)
    fresh = course_state(course, now=now)
    if fresh.latest_missed is None or fresh.latest_missed != state.latest_missed:
        return 0  # a check-in came since the sweep read the course
    state = fresh
    due = _due_row(course, state.latest_missed)
    if due.flagged_at is not None:
        return 0
    label = moment_label(course)
    _interval, grace = schedule_of(course)
    book = FlagBook(course, Flag.objects.unresolved().filter(course=course))
    with _in_english():
        (spec,) = flag_rules.home_missed_flags(
            state.missed,
            label(state.next_due or state.latest_missed),
            label(state.latest_missed),
            int(grace.total_seconds() // 60),
        )
    open_flag = book.open.get(spec.kind)
    flag = book.raise_flag(spec, snapshot=open_flag.snapshot if open_flag else None, now=now)
    save_flag_book(book)
    refresh_status(status)
    due.flagged_at, due.flag = now, flag
    due.save(update_fields=["flagged_at", "flag"])
    with _in_english():
        audit(
            None,
            AuditEvent.Action.HOME_MISSED,
            course=course,
            summary=f"Home check-in due {label(state.latest_missed)} not done within "
            f"{int(grace.total_seconds() // 60)} min: flagged ({spec.message})",
            details={"due_at": state.latest_missed.isoformat(), "flag": flag.pk},
        )
    return 1


def resolve_on_checkin(course: TreatmentCourse, *, book: FlagBook, observed_at, by, now) -> None:
    """A home check-in came: resolve the missed check-in flag if it answers the latest missed
    due time (one saved for an earlier time does not). The caller holds the course's lock and
    saves the book (services.record_check)."""
    flag = book.open.get(Flag.Kind.HOME_MISSED)
    if flag is None or flag.pk is None:
        return
    due = HomeCheckInDue.objects.filter(flag=flag).order_by("-due_at").first()
    if due is not None and observed_at < due.due_at:
        return
    label = moment_label(course)
    reason = f"Home check-in recorded at {label(observed_at)} by {_name(by)}"
    resolve_from_book(book, Flag.Kind.HOME_MISSED, flag, by=by, reason=reason, now=now)


# ---------------------------------------------------------------------------------------------
# The reminder e-mail
# ---------------------------------------------------------------------------------------------


def reminder_email() -> tuple[str, str]:
    """The reminder's subject and text: that a check-in is due, and where to open cartmonitor.
    Nothing else — no name, no patient, no value (issue 15 §1)."""
    url = settings.SITE_URL + reverse("monitoring:home-start")
    subject = gettext("cartmonitor: you have a check-in due")
    body = gettext(
        "You have a check-in due. Open cartmonitor at %(url)s\n\n"
        "If you feel unwell, do not wait: call your care team."
    ) % {"url": url}
    return subject, body


@task()
def send_reminder(due_id: int, access_id: int) -> str:
    """The job: e-mail one person the reminder, once, unless a check-in came meanwhile or their
    access closed; in their language."""
    from monitoring.delivery import not_configured  # delivery's channels, loaded with the app

    with transaction.atomic():
        due = HomeCheckInDue.objects.select_for_update().filter(pk=due_id).first()
        access = HomeAccess.objects.select_related("user", "course").filter(pk=access_id).first()
        if due is None or access is None or access.course_id != due.course_id:
            return "nothing to send"
        if access_id in due.emailed or not access.is_open or not access.user.email:
            return "nothing to send"
        answered = (
            home_checks().filter(course_id=due.course_id, observed_at__gte=due.due_at).exists()
        )
        if answered:
            return "checked in already"
        if why := not_configured("email"):
            logger.warning("Home check-in reminder %s not e-mailed: %s", due_id, why)
            return f"not sent: {why}"
        due.emailed = [*due.emailed, access_id]
        due.save(update_fields=["emailed"])
    user = access.user
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject, body = reminder_email()
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    except Exception:  # noqa: BLE001 — the next due time reminds again; the team is flagged
        logger.exception("The check-in reminder to home user %s could not be sent", user.pk)
        return "failed"
    return "sent"


# ---------------------------------------------------------------------------------------------
# The remote patients page
# ---------------------------------------------------------------------------------------------

# The most courses the page reads (sorted, then paged in memory): far above any unit's count of
# patients at home, and a bound on the page's cost.
REMOTE_LIMIT = 500


@dataclass(frozen=True)
class RemoteRow:
    """One course with an open home access, as the remote patients page shows it."""

    course: TreatmentCourse
    accesses: list  # the open HomeAccess rows: who signs in (patient, caregivers)
    last_checkin_at: datetime | None
    last_temp_c: Decimal | None  # the last home check-in's temperature, if it took one
    # What the last check-in from the home page told the person (home_rules: "call_neuro",
    # "call_now", "no_action"); None for a home entry without one (a medicine alone).
    last_instruction: str | None
    state: home_schedule.HomeDue
    missed_total: int  # every check-in missed since home monitoring started
    missed_flag: Flag | None  # the unresolved missed check-in flag

    @property
    def has_schedule(self) -> bool:
        return self.course.protocol_version_id is not None and bool(
            self.course.protocol_version.home_checkin_interval_hours
        )


def remote_rows(courses, *, now: datetime) -> list[RemoteRow]:
    """The courses with an open home access among ``courses``, most urgent first (an open
    missed flag, then overdue, then the next due soonest): six queries whatever their number
    (courses, accesses, home check-ins, their temperatures and instructions, missed flags)."""
    courses = list(
        courses.active()
        .filter(open_home_access())
        .select_related("patient", "unit", "protocol_version")
        .order_by("patient__family_name", "pk")[:REMOTE_LIMIT]
    )
    ids = [course.pk for course in courses]
    accesses: dict[int, list] = {}
    for access in HomeAccess.objects.filter(course_id__in=ids, revoked_at__isnull=True).order_by(
        "kind", "slot"
    ):
        accesses.setdefault(access.course_id, []).append(access)
    checks: dict[int, list[tuple[datetime, int]]] = {}
    rows = (
        home_checks()
        .filter(course_id__in=ids)
        .order_by("observed_at", "pk")
        .values_list("course_id", "observed_at", "pk")
    )
    for course_id, at, pk in rows:
        checks.setdefault(course_id, []).append((at, pk))
    last_ids = [found[-1][1] for found in checks.values()]
    temps = dict(
        VitalSigns.objects.current()
        .filter(check_entry_id__in=last_ids, temp_c__isnull=False)
        .values_list("check_entry_id", "temp_c")
    )
    told = dict(
        HomeCheckIn.objects.filter(check_entry_id__in=last_ids).values_list(
            "check_entry_id", "instruction"
        )
    )
    flags = {
        flag.course_id: flag
        for flag in Flag.objects.unresolved().filter(course_id__in=ids, kind=Flag.Kind.HOME_MISSED)
    }
    found = []
    for course in courses:
        mine = accesses.get(course.pk, [])
        started = min((a.consent_at for a in mine), default=None)
        times = [at for at, _pk in checks.get(course.pk, [])]
        last = checks[course.pk][-1] if course.pk in checks else None
        interval, grace = schedule_of(course)
        state = state_of(
            course, started_at=started, last_checkin=last[0] if last else None, now=now
        )
        missed = home_schedule.missed_between(
            times,
            started_at=started,
            day0=course.infused_at,
            interval=interval if course.is_under_monitoring else None,
            grace=grace,
            now=now,
            until=window_end(course),
        )
        found.append(
            RemoteRow(
                course=course,
                accesses=mine,
                last_checkin_at=last[0] if last else None,
                last_temp_c=temps.get(last[1]) if last else None,
                last_instruction=told.get(last[1]) if last else None,
                state=state,
                missed_total=missed,
                missed_flag=flags.get(course.pk),
            )
        )
    far = now + timedelta(days=3650)
    found.sort(
        key=lambda row: (
            row.missed_flag is None,
            not row.state.is_overdue,
            row.state.next_due or far,
        )
    )
    return found
