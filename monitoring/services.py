"""Every clinical write path: validate, save, grade, flag, update the course status — atomically."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from monitoring import flag_rules, grading
from monitoring.course_state import Timeline
from monitoring.models import (
    BedsideCheck,
    CourseStatus,
    Flag,
    GradeSnapshot,
    LabResult,
    NeuroAssessment,
    SymptomCheck,
    Treatment,
    TreatmentCourse,
    VitalSigns,
)

# Records may be entered late (a paper chart typed up after a busy night) but not too early:
# baseline checks the week before infusion are the earliest that belong to a course.
EARLIEST_BEFORE_INFUSION = timedelta(days=7)
SNAPSHOT_FIELDS = [
    "crs_grade", "crs_reasons", "crs_needs_review", "icans_grade", "icans_reasons",
    "icans_needs_review", "review_reasons", "news2_total", "news2_risk", "inputs", "rule_version",
]
# A tablet's clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=2)


@transaction.atomic
def record_check(
    *,
    course: TreatmentCourse,
    by,
    observed_at: datetime,
    vitals: dict | None = None,
    symptoms: dict | None = None,
    neuro: dict | None = None,
    labs: dict | None = None,
    treatment: dict | None = None,
) -> BedsideCheck:
    """Save one bedside check (any of its sections), grade the course at that moment and flag."""
    status = _lock_status(course)
    _validate_time(course, observed_at)
    if not any((vitals, symptoms, neuro, labs, treatment)):
        raise ValidationError("Nothing to save: fill in at least one section.")

    check = BedsideCheck(course=course, observed_at=observed_at, recorded_by=by)
    check.save()
    records = {}
    for key, model, values in (
        ("vitals", VitalSigns, vitals),
        ("symptoms", SymptomCheck, symptoms),
        ("neuro", NeuroAssessment, neuro),
        ("labs", LabResult, labs),
        ("treatment", Treatment, treatment),
    ):
        if values:
            record = model(check_entry=check, **values)
            if model is NeuroAssessment:
                _score_neuro(record, course, observed_at)
            # Field checks here; the range and consistency constraints are enforced by the
            # database itself (checking them in Python costs one query each).
            record.full_clean(exclude=["check_entry"], validate_constraints=False)
            try:
                record.save()
            except IntegrityError as error:  # the whole check rolls back
                raise ValidationError(f"{model._meta.verbose_name}: refused by a database "
                                      f"rule ({error}).") from error
            records[key] = record

    timeline = load_timeline(course)
    flags = FlagBook(course, Flag.objects.unresolved().filter(course=course))
    snapshot = _regrade_from(course, timeline, check, flags)
    for spec in flag_rules.record_flags(
        age_years=timeline.age_at(observed_at),
        vitals=records.get("vitals"), symptoms=records.get("symptoms"),
        labs=records.get("labs"), previous_markers=_previous_markers(course, observed_at),
    ):
        flags.raise_flag(spec, snapshot=snapshot)
    flags.save()
    refresh_status(status)
    return check


def _lock_status(course: TreatmentCourse) -> CourseStatus:
    """Serialise writers of one course: grades computed from a consistent set of records."""
    CourseStatus.objects.get_or_create(course=course)
    status = CourseStatus.objects.select_for_update().get(course=course)
    course.current = status  # callers reading course.current see what refresh_status writes
    return status


def _validate_time(course: TreatmentCourse, observed_at: datetime) -> None:
    if timezone.is_naive(observed_at):
        raise ValidationError({"observed_at": "Observation time must carry a time zone."})
    if observed_at > timezone.now() + CLOCK_SKEW:
        raise ValidationError({"observed_at": "Observation time cannot be in the future."})
    if observed_at < course.infused_at - EARLIEST_BEFORE_INFUSION:
        raise ValidationError(
            {"observed_at": "Observation time is more than 7 days before the infusion (day 0)."}
        )


def _score_neuro(record: NeuroAssessment, course: TreatmentCourse, observed_at: datetime) -> None:
    """Totals come from the items (never typed); ICE or CAPD follows the patient's age."""
    ice_items = [record.ice_orientation, record.ice_naming, record.ice_commands,
                 record.ice_writing, record.ice_attention]
    capd_items = [getattr(record, f"capd_item_{n}") for n in range(1, 9)]
    has_ice = any(v is not None for v in ice_items)
    has_capd = any(v is not None for v in capd_items)
    if has_ice and has_capd:
        raise ValidationError("Record either the ICE screen or the CAPD, not both.")
    uses_capd = course.patient.uses_capd_on(timezone.localdate(observed_at))
    if has_ice and uses_capd:
        raise ValidationError("This patient is under 12: use the CAPD, not the ICE screen.")
    if has_capd and not uses_capd:
        raise ValidationError("This patient is 12 or older: use the ICE screen, not the CAPD.")
    if (has_ice or has_capd) and record.unable_to_assess_reason:
        raise ValidationError("A score was entered, so the patient was not 'unable to assess'.")
    try:
        if has_ice:
            record.ice_total = grading.ice_total(*ice_items)
        if has_capd:
            record.capd_total = grading.capd_total(capd_items)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"Incomplete neuro assessment: {exc}") from exc
    if record.consciousness == "unarousable" and (record.ice_total or record.capd_total):
        raise ValidationError("An unarousable patient cannot score on the ICE/CAPD screen.")


def load_timeline(course: TreatmentCourse) -> Timeline:
    """All records that grading reads for one course (four queries)."""
    patient = course.patient
    timeline = Timeline(age_at=lambda at: patient.age_on(timezone.localdate(at)))
    for series, model in (
        (timeline.vitals, VitalSigns),
        (timeline.neuro, NeuroAssessment),
        (timeline.treatments, Treatment),
        (timeline.symptoms, SymptomCheck),
    ):
        rows = model.objects.filter(check_entry__course=course).select_related("check_entry")
        for row in rows.order_by("check_entry__observed_at", "pk"):
            series.add(row.check_entry.observed_at, row)
    return timeline


def _regrade_from(course, timeline: Timeline, check: BedsideCheck, flags) -> GradeSnapshot:
    """Grade the new check, then every other snapshot whose state the new records change."""
    moment = timeline.grade_at(check.observed_at)
    snapshot = GradeSnapshot.objects.create(
        check_entry=check, course=course, observed_at=check.observed_at,
        **moment.snapshot_fields(),
    )
    for spec in flag_rules.grade_flags(moment):
        flags.raise_flag(spec, snapshot=snapshot)

    # A late entry changes the state of every moment at or after its time.
    affected = list(
        GradeSnapshot.objects.filter(course=course, observed_at__gte=check.observed_at)
        .exclude(pk=snapshot.pk).order_by("observed_at", "pk")
    )
    changed = []
    for old in affected:
        fields = timeline.grade_at(old.observed_at).snapshot_fields()
        if any(getattr(old, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(old, name, value)
            old.computed_at = timezone.now()
            changed.append(old)
    if changed:
        GradeSnapshot.objects.bulk_update(changed, [*SNAPSHOT_FIELDS, "computed_at"])
        latest = affected[-1]
        for spec in flag_rules.grade_flags(timeline.grade_at(latest.observed_at)):
            flags.raise_flag(spec, snapshot=latest)
    return snapshot


def _previous_markers(course, at: datetime) -> dict:
    """The latest CRP and ferritin of the course before ``at``, with their times."""
    previous = {}
    earlier = (
        LabResult.objects.filter(check_entry__course=course, check_entry__observed_at__lt=at)
        .select_related("check_entry")
        .order_by("-check_entry__observed_at")
    )
    for marker in flag_rules.RISING_MARKERS:
        row = earlier.filter(**{f"{marker}__isnull": False}).first()
        if row is not None:
            previous[marker] = (float(getattr(row, marker)), row.check_entry.observed_at)
    return previous


class FlagBook:
    """A course's unresolved flags by kind: where "one flag per condition" is enforced.

    The same condition updates its flag instead of raising a duplicate; a worse severity
    escalates it and re-opens it if it had been acknowledged; a milder one keeps the worst
    message, so the flag still says what happened until a clinician resolves it.
    Used by ``record_check`` and, in memory, by the demo seeder.
    """

    def __init__(self, course, unresolved=()):
        self.course = course
        self.open = {flag.kind: flag for flag in unresolved}
        self.touched: dict[int, Flag] = {}

    def raise_flag(self, spec: flag_rules.FlagSpec, *, snapshot, now=None) -> Flag:
        now = now or timezone.now()
        flag = self.open.get(spec.kind)
        if flag is None:
            flag = Flag(course=self.course, kind=spec.kind, severity=spec.severity,
                        message=spec.message, raised_at=now)
            self.open[spec.kind] = flag
        elif spec.severity > flag.severity:
            flag.severity, flag.message, flag.status = spec.severity, spec.message, Flag.Status.OPEN
        elif spec.severity == flag.severity:
            flag.message = spec.message
        flag.snapshot, flag.updated_at = snapshot, now
        self.touched[id(flag)] = flag
        return flag

    def save(self) -> None:
        for flag in self.touched.values():
            flag.save()
        self.touched.clear()


def status_values(*, latest, max_crs, max_icans, open_severities) -> dict:
    """The denormalised status of a course from its latest snapshot and unresolved flags."""
    return {
        "latest_snapshot": latest,
        "crs_grade": latest.crs_grade if latest else None,
        "icans_grade": latest.icans_grade if latest else None,
        "needs_review": bool(latest and latest.needs_review),
        "max_crs_grade": max_crs,
        "max_icans_grade": max_icans,
        "last_check_at": latest.observed_at if latest else None,
        "open_flag_count": len(open_severities),
        "worst_open_severity": max(open_severities, default=0),
    }


def refresh_status(status: CourseStatus) -> CourseStatus:
    """Recompute the denormalised row from the course's snapshots and flags."""
    snapshots = GradeSnapshot.objects.filter(course_id=status.course_id)
    maxima = snapshots.aggregate(crs=Max("crs_grade"), icans=Max("icans_grade"))
    severities = Flag.objects.unresolved().filter(course_id=status.course_id)
    for name, value in status_values(
        latest=snapshots.order_by("-observed_at", "-pk").first(),
        max_crs=maxima["crs"], max_icans=maxima["icans"],
        open_severities=list(severities.values_list("severity", flat=True)),
    ).items():
        setattr(status, name, value)
    status.updated_at = timezone.now()
    status.save()
    return status
