"""Every clinical write path: validate, save, grade, flag, update the course status — atomically."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from monitoring import flag_rules, grading
from monitoring.course_state import Moment, Timeline
from monitoring.grading.markers import DEFAULT_RISE_FACTOR
from monitoring.grading.thresholds import VitalThresholds, vital_sign_breaches
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
    open_flags = {f.kind: f for f in Flag.objects.unresolved().filter(course=course)}
    snapshot = _regrade_from(course, timeline, check, records, open_flags)
    _raise_record_flags(course, snapshot, records, timeline, open_flags)
    refresh_status(status)
    return check


def _lock_status(course: TreatmentCourse) -> CourseStatus:
    """Serialise writers of one course: grades computed from a consistent set of records."""
    CourseStatus.objects.get_or_create(course=course)
    return CourseStatus.objects.select_for_update().get(course=course)


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
    """All records that grading reads for one course (three queries)."""
    patient = course.patient
    timeline = Timeline(age_at=lambda at: patient.age_on(timezone.localdate(at)))
    for series, model in (
        (timeline.vitals, VitalSigns),
        (timeline.neuro, NeuroAssessment),
        (timeline.treatments, Treatment),
    ):
        rows = model.objects.filter(check_entry__course=course).select_related("check_entry")
        for row in rows.order_by("check_entry__observed_at", "pk"):
            series.add(row.check_entry.observed_at, row)
    return timeline


def _regrade_from(
    course, timeline: Timeline, check: BedsideCheck, records: dict, open_flags: dict
) -> GradeSnapshot:
    """Grade the new check, then every later snapshot whose state the new records change."""
    new_confusion = bool(records.get("symptoms") and records["symptoms"].confusion)
    moment = timeline.grade_at(check.observed_at, new_confusion=new_confusion)
    snapshot = GradeSnapshot.objects.create(
        check_entry=check, course=course, observed_at=check.observed_at,
        **moment.snapshot_fields(),
    )
    _apply_grade_flags(course, snapshot, moment, open_flags)

    later = list(GradeSnapshot.objects.filter(course=course, observed_at__gt=check.observed_at))
    changed = []
    for old in later:
        fields = timeline.grade_at(old.observed_at).snapshot_fields()
        if any(getattr(old, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(old, name, value)
            old.computed_at = timezone.now()
            changed.append(old)
    if changed:
        GradeSnapshot.objects.bulk_update(changed, [*SNAPSHOT_FIELDS, "computed_at"])
        latest = max(later, key=lambda s: s.observed_at)
        _apply_grade_flags(course, latest, timeline.grade_at(latest.observed_at), open_flags)
    return snapshot


def _apply_grade_flags(course, snapshot: GradeSnapshot, moment: Moment, open_flags) -> None:
    for spec in flag_rules.grade_flags(moment):
        raise_flag(course=course, spec=spec, snapshot=snapshot, open_flags=open_flags)


def _raise_record_flags(
    course, snapshot: GradeSnapshot, records: dict, timeline, open_flags: dict
) -> None:
    age = timeline.age_at(snapshot.observed_at)
    specs = []
    if symptoms := records.get("symptoms"):
        specs += flag_rules.symptom_flags(
            crs_symptoms=symptoms.crs_symptoms,
            neuro_symptoms=symptoms.neuro_symptoms,
            neuro_symptom_names=[n for n in SymptomCheck.NEURO_SYMPTOMS if getattr(symptoms, n)],
        )
    if vitals := records.get("vitals"):
        specs += flag_rules.vital_flags(vital_sign_breaches(
            thresholds=VitalThresholds(), age_years=age,
            heart_rate=vitals.heart_rate_bpm, resp_rate=vitals.resp_rate_per_min,
            spo2_pct=vitals.spo2_pct, systolic_bp=vitals.sbp_mmhg,
            temperature_c=float(vitals.temp_c) if vitals.temp_c is not None else None,
        ))
    if labs := records.get("labs"):
        specs += flag_rules.marker_flags(
            current={k: float(v) for k, v in _markers(labs).items()},
            current_at=snapshot.observed_at,
            previous=_previous_markers(course, labs, snapshot.observed_at),
            rise_factor=DEFAULT_RISE_FACTOR,
        )
    for spec in specs:
        raise_flag(course=course, spec=spec, snapshot=snapshot, open_flags=open_flags)


def _markers(labs: LabResult) -> dict:
    names = ("crp_mg_l", "ferritin_ng_ml", "fibrinogen_mg_dl")
    return {n: getattr(labs, n) for n in names if getattr(labs, n) is not None}


def _previous_markers(course, labs: LabResult, at: datetime) -> dict:
    """The latest earlier CRP and ferritin of the course, with their times."""
    previous = {}
    earlier = (
        LabResult.objects.filter(check_entry__course=course, check_entry__observed_at__lt=at)
        .exclude(pk=labs.pk)
        .select_related("check_entry")
        .order_by("-check_entry__observed_at")
    )
    for marker in ("crp_mg_l", "ferritin_ng_ml"):
        row = earlier.filter(**{f"{marker}__isnull": False}).first()
        if row is not None:
            previous[marker] = (float(getattr(row, marker)), row.check_entry.observed_at)
    return previous


def raise_flag(
    *, course, spec: flag_rules.FlagSpec, snapshot: GradeSnapshot | None, open_flags: dict
) -> Flag:
    """Open a flag, or update the open one of the same kind; a worse severity escalates it.

    ``open_flags`` maps kind -> the course's unresolved flag, loaded once per write.
    """
    now = timezone.now()
    flag = open_flags.get(spec.kind)
    if flag is None:
        flag = Flag.objects.create(course=course, kind=spec.kind, severity=spec.severity,
                                   message=spec.message, snapshot=snapshot,
                                   raised_at=now, updated_at=now)
        open_flags[spec.kind] = flag
        return flag
    flag.message, flag.snapshot, flag.updated_at = spec.message, snapshot, now
    if spec.severity > flag.severity:
        # Worse than what was acknowledged: it needs fresh eyes.
        flag.severity, flag.status = spec.severity, Flag.Status.OPEN
    flag.save(update_fields=["message", "snapshot", "updated_at", "severity", "status"])
    return flag


def refresh_status(status: CourseStatus) -> CourseStatus:
    """Recompute the denormalised row from the course's snapshots and flags."""
    course_id = status.course_id
    latest = GradeSnapshot.objects.filter(course_id=course_id).order_by("-observed_at").first()
    maxima = GradeSnapshot.objects.filter(course_id=course_id).aggregate(
        crs=Max("crs_grade"), icans=Max("icans_grade")
    )
    flags = list(Flag.objects.unresolved().filter(course_id=course_id).values_list("severity",
                                                                                    flat=True))
    status.latest_snapshot = latest
    status.crs_grade = latest.crs_grade if latest else None
    status.icans_grade = latest.icans_grade if latest else None
    status.needs_review = bool(latest and latest.needs_review)
    status.max_crs_grade, status.max_icans_grade = maxima["crs"], maxima["icans"]
    status.last_check_at = latest.observed_at if latest else None
    status.open_flag_count = len(flags)
    status.worst_open_severity = max(flags, default=0)
    status.updated_at = timezone.now()
    status.save()
    return status
