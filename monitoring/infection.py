"""Infection prevention's write paths (issue 14 §3): prophylaxis started and stopped,
immunoglobulin replacement planned and given, infections recorded and resolved, corrections of
any of them, and keeping the course's infection flags in step.

Each service validates, saves, audits (in English, old → new) and re-decides the flags in one
transaction, holding the course's status row as every writer of a course's flags does. A
correction is an amendment (a new row that supersedes the old, with why); nothing is overwritten.
Facts that come later (a stop date, a dose given, an infection resolved) fill an empty field.

Flags: ``sync_flags`` raises, updates or resolves the prophylaxis (due or lapsed) and IgG
(replacement not planned) flags from the records and the course's protocol version
(``infection_rules``, ``flag_rules``). Writes here call it, so does a lab draw
(``services.record_check``), and ``sweep`` (the job worker) catches what time alone changes: a
start day reached. Neutropenic fever is a check's flag (``engine.CourseEngine``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from monitoring import flag_rules, infection_rules, services
from monitoring.engine import FlagBook
from monitoring.models import (
    AuditEvent,
    Flag,
    ImmunoglobulinDose,
    Infection,
    LabResult,
    ProphylaxisCourse,
    TreatmentCourse,
)
from monitoring.models.courses import day_label
from monitoring.services import (
    _in_english,
    _lock_status,
    _name,
    audit,
    refresh_status,
    resolve_from_book,
    save_flag_book,
)

RECORD_MODELS = {
    "prophylaxis": ProphylaxisCourse,
    "igdose": ImmunoglobulinDose,
    "infection": Infection,
}
# Dates a record may carry, relative to day 0 and today: from the earliest checklist start
# (bridging, conditioning) on; never in the future, but a replacement may be planned ahead.
EARLIEST_DAY = infection_rules.DAY_RANGE[0]
PLAN_AHEAD = timedelta(days=180)


def checklist(course: TreatmentCourse) -> list[dict]:
    """The prophylaxis checklist of the course's protocol version (the default without one)."""
    version = course.protocol_version
    return version.prophylaxis if version is not None else infection_rules.default_prophylaxis()


def _item(course: TreatmentCourse, code: str) -> dict:
    for item in checklist(course):
        if item["code"] == code:
            return item
    raise ValidationError({"item": gettext("Choose a prophylaxis from the protocol's checklist.")})


def _check_date(course, name: str, value: date | None, *, ahead: timedelta = timedelta(0)):
    if value is None:
        return
    today = timezone.localdate()
    earliest = course.infusion_date + timedelta(days=EARLIEST_DAY)
    if value > today + ahead:
        raise ValidationError(
            {name: gettext("The date cannot be after %(latest)s.") % {"latest": today + ahead}}
        )
    if value < earliest:
        raise ValidationError(
            {
                name: gettext("The date cannot be before %(earliest)s (day %(day)s).")
                % {"earliest": earliest, "day": EARLIEST_DAY}
            }
        )


def _check_open(course: TreatmentCourse) -> None:
    if not course.is_under_monitoring:
        raise ValidationError(
            gettext("Monitoring of this course has ended: nothing new can be recorded on it.")
        )


def _save(record) -> None:
    # With the constraints checked in Python: their messages say what is wrong (a stop before
    # the start) where the database would only refuse.
    services._save_record(record, constraints=True)


def _audit(by, course, summary: str, **details) -> None:
    with _in_english():
        audit(by, AuditEvent.Action.INFECTION_CARE, course=course, summary=summary, details=details)


def _locked(record):
    """The record under the course's lock, still current."""
    return services._lock_current(record, record.course)[1]


def _finish(course: TreatmentCourse, by) -> None:
    """Re-decide the infection flags and the status row after a write."""
    status = _lock_status(course)
    book = FlagBook(course, Flag.objects.unresolved().filter(course=course))
    sync_flags(course, book=book, now=timezone.now(), by=by)
    save_flag_book(book)
    refresh_status(status)


# --- Prophylaxis ------------------------------------------------------------------------------


@transaction.atomic
def start_prophylaxis(
    *, course: TreatmentCourse, item: str, drug: str, started_on: date, by
) -> ProphylaxisCourse:
    """A checklist item started (restarted after a lapse is a new record)."""
    _lock_status(course)
    _check_open(course)
    entry = _item(course, item)
    _check_date(course, "started_on", started_on)
    record = ProphylaxisCourse(
        course=course, item=item, drug=drug.strip(), started_on=started_on, recorded_by=by
    )
    _save(record)
    _audit(
        by,
        course,
        f"Prophylaxis started: {entry['label']}, {record.drug} from {started_on:%Y-%m-%d}",
        model="prophylaxiscourse",
        record=record.pk,
    )
    _finish(course, by)
    return record


@transaction.atomic
def stop_prophylaxis(*, record: ProphylaxisCourse, stopped_on: date, reason: str = "", by):
    """The date a prophylaxis stopped, and why if before its planned end (none: lapsed)."""
    record = _locked(record)
    if record.stopped_on is not None:
        raise ValidationError(
            gettext("It is already recorded as stopped: correct that record instead.")
        )
    _check_date(record.course, "stopped_on", stopped_on)
    if stopped_on < record.started_on:
        raise ValidationError(
            {"stopped_on": gettext("A prophylaxis cannot stop before it started.")}
        )
    record.stopped_on, record.stop_reason = stopped_on, reason.strip()
    _save(record)
    _audit(
        by,
        record.course,
        f"Prophylaxis stopped: {record.item}, stopped on — → {stopped_on:%Y-%m-%d}"
        + (f" ({record.stop_reason})" if record.stop_reason else " (no reason given)"),
        model="prophylaxiscourse",
        record=record.pk,
        changes={"stopped_on": [None, str(stopped_on)], "stop_reason": ["", record.stop_reason]},
    )
    _finish(record.course, by)
    return record


# --- Immunoglobulin replacement ---------------------------------------------------------------


@transaction.atomic
def plan_immunoglobulin(
    *,
    course: TreatmentCourse,
    product: str,
    dose_g,
    planned_for: date,
    given_on: date | None = None,
    note: str = "",
    by,
) -> ImmunoglobulinDose:
    """A replacement dose planned (or recorded as given): it answers a low IgG."""
    _lock_status(course)
    _check_open(course)
    _check_date(course, "planned_for", planned_for, ahead=PLAN_AHEAD)
    _check_date(course, "given_on", given_on)
    dose = ImmunoglobulinDose(
        course=course,
        product=product,
        dose_g=dose_g,
        planned_for=planned_for,
        given_on=given_on,
        note=note.strip(),
        recorded_by=by,
    )
    _save(dose)
    with _in_english():
        text = str(dose)
    _audit(
        by,
        course,
        f"Immunoglobulin replacement {'recorded' if given_on else 'planned'}: {text} for "
        f"{planned_for:%Y-%m-%d}",
        model="immunoglobulindose",
        record=dose.pk,
    )
    _finish(course, by)
    return dose


@transaction.atomic
def give_immunoglobulin(*, dose: ImmunoglobulinDose, given_on: date, by) -> ImmunoglobulinDose:
    """A planned dose given."""
    dose = _locked(dose)
    if dose.given_on is not None:
        raise ValidationError(gettext("This dose is already recorded as given."))
    _check_date(dose.course, "given_on", given_on)
    dose.given_on = given_on
    _save(dose)
    _audit(
        by,
        dose.course,
        f"Immunoglobulin replacement given: given on — → {given_on:%Y-%m-%d}",
        model="immunoglobulindose",
        record=dose.pk,
        changes={"given_on": [None, str(given_on)]},
    )
    _finish(dose.course, by)
    return dose


# --- Infections -------------------------------------------------------------------------------


@transaction.atomic
def record_infection(
    *,
    course: TreatmentCourse,
    site: str,
    organism_type: str,
    severity: int,
    onset_on: date,
    site_other: str = "",
    organism: str = "",
    resolved_on: date | None = None,
    by,
) -> Infection:
    """An infection: where, which organism, how severe, since (and until) when."""
    _lock_status(course)
    _check_open(course)
    _check_date(course, "onset_on", onset_on)
    _check_date(course, "resolved_on", resolved_on)
    infection = Infection(
        course=course,
        site=site,
        site_other=site_other.strip(),
        organism_type=organism_type,
        organism=organism.strip(),
        severity=severity,
        onset_on=onset_on,
        resolved_on=resolved_on,
        recorded_by=by,
    )
    if infection.site != Infection.Site.OTHER and infection.site_other:
        raise ValidationError({"site_other": gettext("Name another site only with 'Other'.")})
    _save(infection)
    with _in_english():
        text = f"{infection}, {infection.get_severity_display()}"
    _audit(by, course, f"Infection recorded: {text}", model="infection", record=infection.pk)
    _finish(course, by)
    return infection


@transaction.atomic
def resolve_infection(*, infection: Infection, resolved_on: date, by) -> Infection:
    infection = _locked(infection)
    if infection.resolved_on is not None:
        raise ValidationError(gettext("This infection is already recorded as resolved."))
    _check_date(infection.course, "resolved_on", resolved_on)
    if resolved_on < infection.onset_on:
        raise ValidationError(
            {"resolved_on": gettext("An infection cannot resolve before its onset.")}
        )
    infection.resolved_on = resolved_on
    _save(infection)
    _audit(
        by,
        infection.course,
        f"Infection resolved: resolved on — → {resolved_on:%Y-%m-%d}",
        model="infection",
        record=infection.pk,
        changes={"resolved_on": [None, str(resolved_on)]},
    )
    _finish(infection.course, by)
    return infection


# --- Corrections ------------------------------------------------------------------------------


@transaction.atomic
def amend(*, record, values: dict, reason: str, by):
    """Correct an infection record (``services.amend``): a new record supersedes it (both
    stay), with why; the flags follow."""
    course = record.course

    def check(record, amendment) -> None:
        for name in ("started_on", "stopped_on", "given_on", "onset_on", "resolved_on"):
            if name in values:
                _check_date(course, name, values[name])
        if "planned_for" in values:
            _check_date(course, "planned_for", values["planned_for"], ahead=PLAN_AHEAD)
        if isinstance(record, ProphylaxisCourse) and "item" in values:
            _item(course, values["item"])

    return services.amend(
        record=record,
        values=values,
        reason=reason,
        by=by,
        course=course,
        check=check,
        then=lambda status, record: _finish(course, by),
        constraints=True,
    )


@transaction.atomic
def mark_entered_in_error(*, record, reason: str, by):
    """A record made by mistake stays on file, marked entered in error; the flags follow."""
    course = record.course
    return services.enter_in_error(
        record=record,
        reason=reason,
        by=by,
        course=course,
        then=lambda status, record: _finish(course, by),
    )


# --- Flags ------------------------------------------------------------------------------------


def _given(rows) -> dict[str, list[infection_rules.Given]]:
    given = defaultdict(list)
    for row in rows:
        given[row.item].append(
            infection_rules.Given(row.started_on, row.stopped_on, row.stop_reason, row.drug)
        )
    return given


def _latest_igg(course, labs=None) -> tuple[float, date] | None:
    """The latest current IgG (value, local draw date): from a loaded series, else a query."""
    if labs is not None:
        at, record = labs.latest(
            timezone.now() + timedelta(days=1), lambda r: r.igg_mg_dl is not None
        )
        return (float(record.igg_mg_dl), timezone.localdate(at)) if record is not None else None
    row = (
        LabResult.objects.current()
        .filter(check_entry__course=course, igg_mg_dl__isnull=False)
        .order_by("-check_entry__observed_at", "-pk")
        .values_list("igg_mg_dl", "check_entry__observed_at")
        .first()
    )
    return (float(row[0]), timezone.localdate(row[1])) if row else None


def wanted_flags(
    course: TreatmentCourse, *, prophylaxis, doses, latest_igg, today: date
) -> dict[str, flag_rules.FlagSpec]:
    """The infection flags the course's records call for today, by kind (English messages)."""
    version = course.protocol_version

    def label(on: date) -> str:
        return day_label((on - course.infusion_date).days)

    statuses = infection_rules.checklist_status(
        checklist(course), _given(prophylaxis), day0=course.infusion_date, today=today
    )
    need = infection_rules.igg_replacement_need(
        latest_igg=latest_igg,
        threshold=version.igg_replace_below_mg_dl if version else None,
        product=course.product_id,
        products=list(version.igg_replace_products) if version else [],
        replacement_dates=[dose.covers_from for dose in doses],
        day0=course.infusion_date,
    )
    with _in_english():
        specs = [
            *flag_rules.prophylaxis_flags(statuses, label),
            *flag_rules.igg_flags(need, label, str(course.product_label)),
        ]
    return {spec.kind: spec for spec in specs}


CLEARED = {
    "prophylaxis": "Prophylaxis no longer due or lapsed (recorded by {who})",
    "igg_low": "Immunoglobulin replacement planned or given, or IgG no longer low "
    "(recorded by {who})",
}


def sync_flags(
    course,
    *,
    book: FlagBook,
    now: datetime,
    by=None,
    labs=None,
    rows=None,
    kinds=flag_rules.INFECTION_FLAG_KINDS,
) -> bool:
    """Bring the course's prophylaxis and IgG flags in step with its records: raise or update
    what is wanted, resolve (with why) what no longer is. The caller holds the course's lock
    and saves the book. ``rows`` = (prophylaxis, doses) when already loaded. Returns whether
    anything changed. Courses no longer monitored are left as they are; ``kinds`` limits which
    flags are decided (a lab draw decides only the IgG one)."""
    if not course.is_under_monitoring:
        return False
    if rows is None:
        rows = (
            list(ProphylaxisCourse.objects.current().filter(course=course)),
            list(ImmunoglobulinDose.objects.current().filter(course=course)),
        )
    prophylaxis, doses = rows
    wanted = wanted_flags(
        course,
        prophylaxis=prophylaxis,
        doses=doses,
        latest_igg=_latest_igg(course, labs),
        today=timezone.localdate(now),
    )
    changed = False
    for kind in kinds:
        spec, flag = wanted.get(kind), book.open.get(kind)
        if spec is not None and (flag is None or flag.message != spec.message):
            book.raise_flag(spec, snapshot=flag.snapshot if flag else None, now=now)
            changed = True
        elif spec is None and flag is not None:
            reason = CLEARED[kind].format(who=_name(by))
            resolve_from_book(book, kind, flag, by=by, reason=reason, now=now)
            changed = True
    return changed


def sweep(*, now: datetime | None = None) -> int:
    """The job worker's pass over monitored courses for what time alone changes (a start day
    reached, a planned end passed): a handful of queries for the whole hospital, and a write
    only for a course whose flags must change. Returns how many courses changed."""
    now = now or timezone.now()
    courses = list(
        TreatmentCourse.objects.under_monitoring().select_related("protocol_version", "patient")
    )
    ids = [course.pk for course in courses]
    prophylaxis, doses, flags = defaultdict(list), defaultdict(list), defaultdict(dict)
    for row in ProphylaxisCourse.objects.current().filter(course_id__in=ids):
        prophylaxis[row.course_id].append(row)
    for row in ImmunoglobulinDose.objects.current().filter(course_id__in=ids):
        doses[row.course_id].append(row)
    unresolved = Flag.objects.unresolved().filter(
        course_id__in=ids, kind__in=flag_rules.INFECTION_FLAG_KINDS
    )
    for flag in unresolved:
        flags[flag.course_id][flag.kind] = flag.message
    latest_igg = {}
    igg_rows = (
        LabResult.objects.current()
        .filter(check_entry__course_id__in=ids, igg_mg_dl__isnull=False)
        .order_by("check_entry__observed_at", "pk")
        .values_list("check_entry__course_id", "igg_mg_dl", "check_entry__observed_at")
    )
    for course_id, value, at in igg_rows:  # oldest first: the latest wins
        latest_igg[course_id] = (float(value), timezone.localdate(at))
    changed = 0
    for course in courses:
        wanted = wanted_flags(
            course,
            prophylaxis=prophylaxis[course.pk],
            doses=doses[course.pk],
            latest_igg=latest_igg.get(course.pk),
            today=timezone.localdate(now),
        )
        if {kind: spec.message for kind, spec in wanted.items()} == flags[course.pk]:
            continue
        with transaction.atomic():
            status = _lock_status(course)
            book = FlagBook(course, Flag.objects.unresolved().filter(course=course))
            if sync_flags(course, book=book, now=now):
                save_flag_book(book)
                refresh_status(status)
                changed += 1
    return changed
