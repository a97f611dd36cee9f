"""The board's read model: one row per patient (course) with an unresolved flag or an overdue
check, the patient who most needs someone first, in a constant number of queries.

Rendered by ``views/care_team.flag_board`` (the care team's and nurses' board) and
``views/wall.wall_display`` (a shared screen, without identifiers); like ``course_page`` and
``handover`` it reads and never writes.

Order: patients with an unacknowledged (open) flag first; then the severity of their leading
flag; then how long that flag has waited (since raised, or since it last got worse). The leading
flag is the one the old one-row-per-flag board listed first for the patient: the worst open
flag, or the worst acknowledged one when none is open. Patients with only an overdue check come
last, the longest overdue first. The database sorts every listed course on columns of its status
row (the leading open and acknowledged flags, kept by every write of the course's flags:
``engine.flag_leads``), ids only, and the page's rows are then read whole; overdue checks are
computed on read (``schedule.due_checks``) for the page's rows only.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from django.db.models import (
    Case,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.template.defaultfilters import date as date_words
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring import alert_rules, journey, worker
from monitoring.models import (
    BoardVisit,
    CourseStatus,
    Delivery,
    DeliveryAttempt,
    EscalationStep,
    Flag,
    GradeSnapshot,
    OnCallShift,
    TreatmentCourse,
    Unit,
)
from monitoring.schedule import Due, due_checks, duration_words
from monitoring.services import open_flags_token

PAGE_SIZE = 50
# Raised, or last got worse (Flag.waiting_since, in SQL).
WAITING_SINCE = Coalesce("worsened_at", "raised_at")
# Open (never acknowledged, or re-opened by an escalation) before acknowledged.
OPEN_FIRST = Case(When(status=Flag.Status.OPEN, then=Value(0)), default=Value(1))
FLAG_ORDER = (OPEN_FIRST, "-severity", WAITING_SINCE, "pk")
# A board row's links (row_links), each with the patient's public id.
ROW_LINKS = {
    "course": "monitoring:patient-course",
    "acknowledge": "monitoring:care-patient-acknowledge",
    "flags": "monitoring:care-patient-flags",
}
SOME_ID = uuid.UUID(int=0)
# What a board row shows of each unresolved flag (the leading one in full, the others in a
# line); a page of rows reads only these columns (a patient has half a dozen flags), a row
# shown with its flags expanded (``rows(detail=True)``) reads them whole.
ROW_FLAG_FIELDS = (
    "course",
    "kind",
    "severity",
    "status",
    "message",
    "message_data",
    "raised_at",
    "worsened_at",
    "acknowledged_at",
    "ladder_tier",
    "acknowledged_by__first_name",
    "acknowledged_by__last_name",
    "acknowledged_by__username",
)
# When a course's checks are due: the status row's earliest next due time, or from day 0.
DUE_AT = Coalesce("status_row__next_due_at", "infused_at")
# How a failed delivery reads on a row: "Page to Dr X failed at 14:02 — retrying".
CHANNEL_WORDS = {
    Delivery.Channel.EMAIL: _("E-mail"),
    Delivery.Channel.PUSH: _("Push notification"),
    Delivery.Channel.WEBHOOK: _("Page"),
}


def board_courses(courses: QuerySet[TreatmentCourse], *, now: datetime, min_severity=None):
    """The ids of the courses the board lists, in its order; ``page_of`` reads a slice of them
    ready for ``rows``.

    A course is listed with an unresolved flag, or under monitoring with a check overdue by
    the status row's earliest due time (``CourseStatus.next_due_at``; a course with no status
    row yet is due from day 0). A severity filter lists only patients with a flag of that
    severity or worse.

    Only ids: the database sorts every listed course of the hospital, and sorts small rows;
    the page's rows are read whole by ``page_of``.
    """
    open_lead, acked_lead = _leads(min_severity)
    overdue = (
        Q(status=TreatmentCourse.Status.MONITORING, protocol_version__isnull=False)
        & Q(due_at__lt=now)
        & (Q(status_row__isnull=True) | Q(status_row__monitoring_ends_at__gt=now))
    )
    has_flag = open_lead | acked_lead
    listed = has_flag if min_severity is not None else has_flag | overdue
    return (
        courses.annotate(due_at=DUE_AT)
        .filter(listed)
        .order_by(*_board_order(min_severity))
        .values_list("pk", flat=True)
    )


def page_of(ids: QuerySet, *, min_severity=None) -> QuerySet[TreatmentCourse]:
    """A slice of ``board_courses`` as courses ready for ``rows``, in the board's order: one
    query, the slice its subquery."""
    return _with_row_data(
        TreatmentCourse.objects.filter(pk__in=ids)
        .annotate(due_at=DUE_AT)
        .order_by(*_board_order(min_severity))
    )


def _leads(min_severity) -> tuple[Q, Q]:
    """Whether the course's leading open flag, and its leading acknowledged one, are at the
    severity asked for or worse (the status row keeps both: engine.flag_leads)."""
    least = min_severity or Flag.Severity.INFO
    return (
        Q(status_row__open_lead_severity__gte=least),
        Q(status_row__acked_lead_severity__gte=least),
    )


def _board_order(min_severity) -> tuple:
    """Patients with an open flag first, then by their leading flag's severity and how long it
    has waited, then those with only an overdue check, the longest overdue first.

    The leading flag is the leading open one when it is severe enough, else the leading
    acknowledged one: within each status the most severe leads, so when the leading one of a
    status is below the filter, so are all of that status's flags.
    """
    open_lead, acked_lead = _leads(min_severity)
    severity = Case(
        When(open_lead, then="status_row__open_lead_severity"),
        When(acked_lead, then="status_row__acked_lead_severity"),
    )
    since = Case(
        When(open_lead, then="status_row__open_lead_since"),
        When(acked_lead, then="status_row__acked_lead_since"),
    )
    return (
        Case(When(open_lead, then=Value(0)), default=Value(1)),
        severity.desc(nulls_last=True),
        Coalesce(since, "due_at"),
        "pk",
    )


def one_course(course: TreatmentCourse) -> QuerySet[TreatmentCourse]:
    """One course ready for ``rows``, whether or not the board lists it (a row re-drawn after an
    action on it: its last flag may just have been resolved)."""
    return _with_row_data(TreatmentCourse.objects.filter(pk=course.pk))


def _with_row_data(courses: QuerySet[TreatmentCourse]) -> QuerySet[TreatmentCourse]:
    return (
        courses.select_related("patient", "unit", "status_row")
        # A page's courses share a few protocol versions and products: each read once (a
        # query each), not built again from a join for every row.
        .prefetch_related("protocol_version__schedules", "product")
        # How old the current grades are: the moment they were graded at (a subquery, which
        # the paginator's count leaves out, where a join would stay in it).
        .annotate(
            graded_at=Subquery(
                GradeSnapshot.objects.filter(pk=OuterRef("status_row__latest_snapshot_id")).values(
                    "observed_at"
                )[:1]
            )
        )
    )


@dataclass
class BoardRow:
    """One patient on the board."""

    course: TreatmentCourse
    flags: list[Flag]  # unresolved, the leading one first
    lead: Flag | None
    overdue: list[Due]  # longest overdue first
    others: list[Flag] = field(default_factory=list)
    new: bool = False
    failure: str = ""
    grade_age: str = ""  # how old the current grades are ("2 h 05 min")
    links: dict[str, str] = field(default_factory=dict)  # ROW_LINKS, for this patient
    now: datetime | None = None  # when the board was read (its day numbers and waits)

    # The row's sentences, written here in the reader's language rather than by a
    # {% blocktranslate %} each in the row's template: a page has 50 rows, and those tags were
    # a quarter of its rendering. Plain text (the template escapes it and owns the markup);
    # the msgids are the ones the template used, so the catalogue is unchanged.

    @property
    def place_words(self) -> str:
        """ "MRN 123 · Ward A · bed 4 · D+3 · Acute monitoring"."""
        course = self.course
        parts = [f"MRN {course.patient.mrn}", str(course.unit)]
        if course.bed:
            parts.append(gettext("bed %(bed)s") % {"bed": course.bed})
        parts += [course.day_label(self.now), journey.phase_label(course)]
        return " · ".join(parts)

    @property
    def lead_words(self) -> str:
        """How long the leading flag has waited, or who acknowledged it when."""
        lead = self.lead
        if lead.status == Flag.Status.OPEN:
            return gettext("waiting %(waiting)s") % {"waiting": lead.waiting}
        return gettext("acknowledged by %(who)s at %(when)s") % {
            "who": lead.acknowledged_by,
            "when": date_words(lead.acknowledged_at, "H:i"),
        }

    @property
    def tier_words(self) -> str:
        """Who the leading flag's ladder told last ("told: Charge nurse"); "" when nobody."""
        tier = self.lead.tier_label
        return gettext("told: %(tier)s") % {"tier": tier} if tier else ""

    @property
    def reopened_words(self) -> str:
        lead = self.lead
        return gettext("Worse since %(who)s acknowledged it at %(when)s: re-opened.") % {
            "who": lead.acknowledged_by,
            "when": date_words(lead.acknowledged_at, "SHORT_DATETIME_FORMAT"),
        }

    @property
    def others_count_words(self) -> str:
        count = len(self.others)
        if self.lead:
            return gettext("+ %(count)s more") % {"count": count}
        return gettext("%(count)s below the severity shown") % {"count": count}

    @property
    def graded_words(self) -> str:
        if self.grade_age:
            return gettext("graded %(age)s ago") % {"age": self.grade_age}
        return gettext("not graded yet")

    @property
    def others_words(self) -> str:
        """The other flags in a line: "CRS (critical); NEWS2 (urgent, acknowledged by Dr X)".

        Written here rather than looped over in the row's template: a patient has half a
        dozen unresolved flags on a busy board, and each took a dozen template nodes.
        """
        acknowledged_by = gettext("acknowledged by %(who)s")
        words = []
        for flag in self.others:
            severity = escape(flag.get_severity_display().lower())
            if flag.status == Flag.Status.ACKNOWLEDGED:
                severity += ", " + acknowledged_by % {"who": escape(flag.acknowledged_by)}
            words.append(f"{escape(flag.get_kind_display())} ({severity})")
        return mark_safe("; ".join(words))  # each part escaped above

    @property
    def status(self) -> CourseStatus | None:
        return getattr(self.course, "status_row", None)

    @cached_property  # the row's template asks four times
    def open_flags(self) -> list[Flag]:
        return [flag for flag in self.flags if flag.status == Flag.Status.OPEN]

    @property
    def seen_token(self) -> str:
        """What "Acknowledge all" was shown (``services.acknowledge_course_flags``)."""
        return open_flags_token(self.flags)

    @property
    def escalation_notes(self) -> list[tuple[Flag, str]]:
        """Flags whose latest escalation step has a note ("nobody on call as Charge nurse")."""
        return [(flag, flag.step_note) for flag in self.flags if flag.step_note]


def rows(
    courses,
    *,
    now: datetime,
    min_severity: int | None = None,
    new_after: datetime | None = None,
    failures: bool = True,
    detail: bool = False,
) -> list[BoardRow]:
    """The board's rows for these courses (from ``board_courses`` or ``one_course``): their
    unresolved flags with the note of each flag's latest escalation step (one query), the latest
    failed delivery for each patient's flags (one query), and the overdue checks (on read).

    ``new_after``: rows whose leading flag was raised or got worse after it are marked new.
    ``detail``: each flag read whole, for a row shown with its flags (``_patient_flags.html``).
    """
    courses = list(courses)
    by_course = defaultdict(list)
    latest_note = EscalationStep.objects.filter(flag=OuterRef("pk")).order_by("-at", "-pk")
    flags = (
        Flag.objects.unresolved()
        .filter(course__in=[course.pk for course in courses])
        .select_related("acknowledged_by")
        .annotate(
            step_note=Subquery(latest_note.values("note")[:1]),
            # Raised (last) by a check-in at home: by the patient or a caregiver (issue 15 §3).
            home_by=F("snapshot__check_entry__home_checkin__entered_by_kind"),
        )
        .order_by(*FLAG_ORDER)
    )
    if not detail:
        flags = flags.only(*ROW_FLAG_FIELDS)
    for flag in flags:
        by_course[flag.course_id].append(with_wait(flag, now))
    failed = _latest_failures([course.pk for course in courses]) if failures and courses else {}
    links = row_links()
    result = []
    for course in courses:
        course_flags = by_course[course.pk]
        for flag in course_flags:
            flag.course = course  # the templates read flag.course; no query per flag
        shown = [f for f in course_flags if min_severity is None or f.severity >= min_severity]
        lead = shown[0] if shown else None
        status = getattr(course, "status_row", None) or CourseStatus(course=course)
        overdue = [due for due in due_checks(course, status, now=now) if due.is_overdue]
        graded_at = getattr(course, "graded_at", None)
        result.append(
            BoardRow(
                course=course,
                flags=course_flags,
                lead=lead,
                others=[flag for flag in course_flags if flag is not lead],
                overdue=sorted(overdue, key=lambda due: -due.overdue_by),
                new=bool(lead and new_after and lead.waiting_since > new_after),
                failure=failed.get(course.pk, ""),
                grade_age=duration_words(max(now - graded_at, timedelta(0))) if graded_at else "",
                links=links(course.patient.public_id),
                now=now,
            )
        )
    return result


def row_links():
    """A function giving a patient's ROW_LINKS, reversed once for all the rows: a reverse()
    costs as much as a dozen template variables, and a row has three links."""
    placeholder = str(SOME_ID)
    shapes = {key: reverse(name, args=[SOME_ID]) for key, name in ROW_LINKS.items()}
    return lambda public_id: {
        key: shape.replace(placeholder, str(public_id)) for key, shape in shapes.items()
    }


def with_wait(flag: Flag, now: datetime) -> Flag:
    """The flag with ``waiting`` (how long it has waited for someone) and ``reopened``."""
    flag.reopened = flag.status == Flag.Status.OPEN and flag.acknowledged_at is not None
    # The wait counts from when the flag was raised or last got worse (an escalation re-opens
    # an acknowledged flag and records when: engine.FlagBook); flags from before that was
    # recorded count from the acknowledgement, which overstates the wait rather than hides it.
    since = flag.waiting_since
    if flag.reopened and flag.worsened_at is None:
        since = flag.acknowledged_at
    flag.waiting = duration_words(max(now - since, timedelta(0)))
    flag.tier_label = alert_rules.TIER_LABELS.get(flag.ladder_tier, "")
    return flag


def _latest_failures(course_ids: list[int]) -> dict[int, str]:
    """Per course, its latest failed try at delivering a notification about one of its
    unresolved flags, still failing (retrying or given up) — one query."""
    latest = (
        DeliveryAttempt.objects.filter(
            ok=False,
            delivery__status__in=[Delivery.Status.RETRYING, Delivery.Status.FAILED],
            delivery__notification__course=OuterRef("pk"),
            delivery__notification__flag__status__in=[Flag.Status.OPEN, Flag.Status.ACKNOWLEDGED],
        )
        .order_by("-attempted_at", "-pk")
        .values("pk")[:1]
    )
    attempts = DeliveryAttempt.objects.filter(
        pk__in=TreatmentCourse.objects.filter(pk__in=course_ids)
        .annotate(attempt=Subquery(latest))
        .values("attempt")
    ).select_related("delivery__notification__recipient")
    return {attempt.delivery.notification.course_id: failure_text(attempt) for attempt in attempts}


def failure_text(attempt: DeliveryAttempt) -> str:
    """ "Page to Dr X failed at 14:02 — retrying"."""
    delivery = attempt.delivery
    outcome = (
        gettext("retrying") if delivery.status == Delivery.Status.RETRYING else gettext("given up")
    )
    return gettext("%(channel)s to %(recipient)s failed at %(at)s — %(outcome)s") % {
        "channel": CHANNEL_WORDS.get(delivery.channel, delivery.get_channel_display()),
        "recipient": delivery.notification.recipient,
        "at": f"{timezone.localtime(attempt.attempted_at):%H:%M}",
        "outcome": outcome,
    }


def seen_before(user) -> datetime | None:
    """When the user looked at the board before their last full look (the refresh's marks)."""
    return BoardVisit.objects.filter(user=user).values_list("previous_seen_at", flat=True).first()


def on_call_units(user, now: datetime) -> list[Unit]:
    """The units where the user holds a tier of the escalation ladder now ("mine")."""
    return list(
        Unit.objects.filter(
            pk__in=OnCallShift.objects.at(now).filter(user=user).values("unit")
        ).order_by("name")
    )


def worker_delay_text(now: datetime | None = None) -> str:
    """The board's banner when no job worker beats: escalations are not going out."""
    delay = worker.delay(now=now)
    if delay is None:
        return ""
    if delay == timedelta.max:
        return gettext("Escalations delayed: no worker has run.")
    return gettext("Escalations delayed: no worker seen for %(duration)s.") % {
        "duration": duration_words(delay)
    }


def patients_with_unacknowledged_flags(courses: QuerySet[TreatmentCourse]) -> int:
    """How many of these patients have a flag nobody has acknowledged (one query).

    Read from the status row's leading open flag (``engine.flag_leads``, kept by every write of
    a course's flags), the column the board lists and orders by: the count in the menu and the
    board's unacknowledged rows agree by construction, and on every page of a care-team user
    the count is a join on each course's one status row rather than a probe of its flags (8 ms
    against 4 at 10,000 patients on PostgreSQL)."""
    return courses.filter(status_row__open_lead_severity__isnull=False).count()
