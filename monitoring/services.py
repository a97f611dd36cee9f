"""Every clinical write path: validate, save, grade, flag, update the course status — atomically."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from monitoring import flag_rules, grading, schedule
from monitoring.models import (
    AuditEvent,
    BedsideCheck,
    CheckNotDone,
    CheckSchedule,
    CourseStatus,
    Flag,
    FlagAcknowledgement,
    GradeConfirmation,
    GradeSnapshot,
    HandoverNote,
    LabResult,
    NeuroAssessment,
    ProtocolVersion,
    RecordStatus,
    SymptomCheck,
    Treatment,
    TreatmentCourse,
    VitalSigns,
)
from monitoring.timeline import Timeline

# Records may be entered late (a paper chart typed up after a busy night) but not too early:
# baseline checks the week before infusion are the earliest that belong to a course.
EARLIEST_BEFORE_INFUSION = timedelta(days=7)
SNAPSHOT_FIELDS = [
    "crs_grade",
    "crs_reasons",
    "crs_needs_review",
    "icans_grade",
    "icans_reasons",
    "icans_needs_review",
    "review_reasons",
    "news2_total",
    "news2_risk",
    "inputs",
    "rule_version",
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
    accepted_warnings=(),
) -> BedsideCheck:
    """Save one bedside check (any of its sections), grade the course at that moment and flag.

    A tocilizumab dose beyond the usual limits is held (``DoseWarningsPending``) until the
    clinician has seen each warning: ``accepted_warnings`` are the messages they chose to give
    it despite (see ``_hold_for_dose_warnings``).
    """
    status = _lock_status(course)
    _validate_time(course, observed_at)
    _hold_for_dose_warnings(
        course=course, treatment_values=treatment, at=observed_at, accepted=accepted_warnings, by=by
    )
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
            record.recorded_by = by
            _save_record(record)
            records[key] = record

    snapshot = _grade_course(course, since=observed_at, check=check, records=records)
    refresh_status(status)
    audit(
        by,
        AuditEvent.Action.CHECK_RECORDED,
        course=course,
        summary=f"Check at {timezone.localtime(observed_at):%Y-%m-%d %H:%M}: "
        + ", ".join(records)
        + " → "
        + grades_text(snapshot),
        details={"check": str(check.public_id), "sections": list(records)},
    )
    if "treatment" in records:
        audit(
            by,
            AuditEvent.Action.TREATMENT_RECORDED,
            course=course,
            summary=str(records["treatment"]),
            details={"check": str(check.public_id)},
        )
    return check


def grades_text(snapshot: GradeSnapshot) -> str:
    """ "CRS 2, ICANS —": the grades summaries use (confirmed where a clinician confirmed)."""
    return f"CRS {_dash(snapshot.crs_effective)}, ICANS {_dash(snapshot.icans_effective)}"


def _dash(value) -> str:
    return "—" if value is None else str(value)


def _grade_course(course, *, since: datetime, check=None, records=None) -> GradeSnapshot | None:
    """Grade ``check`` (if new) and regrade every snapshot at or after ``since``; raise flags.

    Record flags (symptoms, vital signs, markers) come only from the new check's records; grade
    flags from the new snapshot and from the latest one if a regrade changed it.
    """
    version = course.protocol_version
    sbp = version.sbp_low_mmhg if version else None
    timeline = load_timeline(course)
    flags = FlagBook(course, Flag.objects.unresolved().filter(course=course))
    snapshot = None
    if check is not None:
        moment = timeline.grade_at(check.observed_at, sbp_threshold=sbp)
        snapshot = GradeSnapshot.objects.create(
            check_entry=check,
            course=course,
            observed_at=check.observed_at,
            **moment.snapshot_fields(),
        )
        for spec in flag_rules.grade_flags(moment):
            flags.raise_flag(spec, snapshot=snapshot)
        for spec in flag_rules.record_flags(
            age_years=timeline.age_at(check.observed_at),
            vitals=records.get("vitals"),
            symptoms=records.get("symptoms"),
            labs=records.get("labs"),
            previous_markers=_previous_markers(course, check.observed_at),
            thresholds=version.thresholds() if version else None,
            rise_factor=(
                float(version.marker_rise_factor) if version else grading.DEFAULT_RISE_FACTOR
            ),
        ):
            flags.raise_flag(spec, snapshot=snapshot)

    affected = list(
        GradeSnapshot.objects.filter(course=course, observed_at__gte=since)
        .exclude(pk=snapshot.pk if snapshot else None)
        .order_by("observed_at", "pk")
    )
    changed = []
    for old in affected:
        fields = timeline.grade_at(old.observed_at, sbp_threshold=sbp).snapshot_fields()
        for spec in _confirmation_overtaken(old, fields):
            flags.raise_flag(spec, snapshot=old)
        if any(getattr(old, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(old, name, value)
            old.computed_at = timezone.now()
            changed.append(old)
    if changed:
        GradeSnapshot.objects.bulk_update(changed, [*SNAPSHOT_FIELDS, "computed_at"])
        latest = affected[-1]
        for spec in flag_rules.grade_flags(
            timeline.grade_at(latest.observed_at, sbp_threshold=sbp)
        ):
            flags.raise_flag(spec, snapshot=latest)
    flags.save()
    return snapshot


def _confirmation_overtaken(snapshot: GradeSnapshot, fields: dict) -> list:
    """A clinician confirmed a grade, and a late entry has since changed the computed one:
    the confirmation stands (it is theirs), but they must look again."""
    specs = []
    for domain in ("crs", "icans"):
        confirmed = getattr(snapshot, f"{domain}_confirmed_grade")
        before, after = getattr(snapshot, f"{domain}_grade"), fields[f"{domain}_grade"]
        if confirmed is not None and before != after:
            specs.append(
                flag_rules.FlagSpec(
                    "needs_review",
                    flag_rules.WARNING,
                    f"{domain.upper()} at {timezone.localtime(snapshot.observed_at):%Y-%m-%d %H:%M}"
                    f": computed grade changed {_dash(before)} → {_dash(after)} after a late "
                    f"entry; the confirmed grade {confirmed} needs a clinician's second look",
                )
            )
    return specs


def _lock_status(course: TreatmentCourse) -> CourseStatus:
    """Serialise writers of one course: grades computed from a consistent set of records."""
    CourseStatus.objects.get_or_create(course=course)
    status = CourseStatus.objects.select_for_update().get(course=course)
    course.status_row = status  # callers reading course.status_row see what refresh_status writes
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
    ice_items = [
        record.ice_orientation,
        record.ice_naming,
        record.ice_commands,
        record.ice_writing,
        record.ice_attention,
    ]
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
    timeline = Timeline(
        age_at=lambda at: patient.age_on(timezone.localdate(at)), infused_at=course.infused_at
    )
    for series, model in (
        (timeline.vitals, VitalSigns),
        (timeline.neuro, NeuroAssessment),
        (timeline.treatments, Treatment),
        (timeline.symptoms, SymptomCheck),
    ):
        rows = model.objects.current().filter(check_entry__course=course)
        rows = rows.select_related("check_entry")
        for row in rows.order_by("check_entry__observed_at", "pk"):
            series.add(row.check_entry.observed_at, row)
    return timeline


def _previous_markers(course, at: datetime) -> dict:
    """The latest CRP and ferritin of the course before ``at``, with their times."""
    previous = {}
    earlier = (
        LabResult.objects.current()
        .filter(check_entry__course=course, check_entry__observed_at__lt=at)
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
        self.touched: dict[int, tuple[Flag, set[str]]] = {}  # flag -> fields changed

    def raise_flag(self, spec: flag_rules.FlagSpec, *, snapshot, now=None) -> Flag:
        now = now or timezone.now()
        flag = self.open.get(spec.kind)
        if flag is None:
            flag = Flag(
                course=self.course,
                kind=spec.kind,
                severity=spec.severity,
                message=spec.message,
                raised_at=now,
            )
            self.open[spec.kind] = flag
        fields = self.touched.setdefault(id(flag), (flag, set()))[1]
        if spec.severity > flag.severity:
            flag.severity, flag.message, flag.status = spec.severity, spec.message, Flag.Status.OPEN
            fields |= {"severity", "message", "status"}
        elif spec.severity == flag.severity:
            flag.message = spec.message
            fields.add("message")
        flag.snapshot, flag.updated_at = snapshot, now
        fields |= {"snapshot", "updated_at"}
        return flag

    def save(self) -> None:
        """Write new flags, and only the fields this book changed on existing ones."""
        for flag, fields in self.touched.values():
            if flag.pk is None:
                flag.save()
            else:
                flag.save(update_fields=sorted(fields))
        self.touched.clear()


def status_values(
    *, latest, max_crs, max_icans, open_severities, last_done: dict, neuro_changed: bool
) -> dict:
    """The denormalised status of a course, from its latest snapshot, unresolved flags and the
    last time each check type was done. Grades are the confirmed ones where a clinician gave one.
    """
    return {
        "latest_snapshot": latest,
        "crs_grade": latest.crs_effective if latest else None,
        "icans_grade": latest.icans_effective if latest else None,
        "needs_review": bool(latest and latest.needs_review),
        "max_crs_grade": max_crs,
        "max_icans_grade": max_icans,
        "last_check_at": latest.observed_at if latest else None,
        "open_flag_count": len(open_severities),
        "worst_open_severity": max(open_severities, default=0),
        **{f"last_{kind}_at": last_done.get(kind) for kind in CHECK_RECORD_MODELS},
        "neuro_changed": neuro_changed,
    }


# The record model that counts as "done" for each check type of a protocol schedule.
CHECK_RECORD_MODELS = {
    "vitals": VitalSigns,
    "neuro": NeuroAssessment,
    "labs": LabResult,
    "symptoms": SymptomCheck,
}


def refresh_status(status: CourseStatus) -> CourseStatus:
    """Recompute the denormalised row from the course's snapshots, records and flags."""
    course_id = status.course_id
    snapshots = GradeSnapshot.objects.filter(course_id=course_id)
    maxima = snapshots.aggregate(
        crs=Max(Coalesce("crs_confirmed_grade", "crs_grade")),
        icans=Max(Coalesce("icans_confirmed_grade", "icans_grade")),
    )
    severities = Flag.objects.unresolved().filter(course_id=course_id)
    last_done = {
        kind: model.objects.current()
        .filter(check_entry__course_id=course_id)
        .aggregate(at=Max("check_entry__observed_at"))["at"]
        for kind, model in CHECK_RECORD_MODELS.items()
    }
    latest_neuro = (
        NeuroAssessment.objects.current()
        .filter(check_entry__course_id=course_id)
        .order_by("-check_entry__observed_at", "-pk")
        .first()
    )
    for name, value in status_values(
        latest=snapshots.order_by("-observed_at", "-pk").first(),
        max_crs=maxima["crs"],
        max_icans=maxima["icans"],
        open_severities=list(severities.values_list("severity", flat=True)),
        last_done=last_done,
        neuro_changed=neuro_changed(latest_neuro),
    ).items():
        setattr(status, name, value)
    status.deferrals = _deferrals(course_id, last_done)
    for name, value in schedule.due_marks(status.course, status).items():
        setattr(status, name, value)
    status.updated_at = timezone.now()
    status.save()
    return status


def neuro_changed(assessment) -> bool:
    """Any ICE point lost, or any CAPD point: protocols may check neuro more often."""
    if assessment is None:
        return False
    return (assessment.ice_total is not None and assessment.ice_total < 10) or bool(
        assessment.capd_total
    )


def _deferrals(course_id, last_done: dict) -> dict:
    """Checks not done since each type was last done: when, and how soon to retry."""
    deferrals, latest = {}, {}
    for not_done in CheckNotDone.objects.filter(course_id=course_id).order_by("observed_at"):
        latest[not_done.check_type] = not_done
    for kind in CHECK_RECORD_MODELS:
        not_done = latest.get(kind)
        if not_done and (last_done[kind] is None or not_done.observed_at > last_done[kind]):
            deferrals[kind] = {
                "at": not_done.observed_at.isoformat(),
                "retry_minutes": CheckNotDone.RETRY_MINUTES[not_done.reason],
                "reason": not_done.get_reason_display(),
            }
    return deferrals


def audit(user, action: str, *, summary: str, course=None, patient=None, details=None):
    """Write one line of the audit log (same transaction as the action it records)."""
    return AuditEvent.objects.create(
        user=user,
        action=action,
        course=course,
        patient=patient or (course.patient if course is not None else None),
        summary=summary[:500],
        details=details or {},
    )


# ---------------------------------------------------------------------------------------------
# Corrections: amendments and records entered in error (never an edit in place)
# ---------------------------------------------------------------------------------------------

AMENDABLE = {
    "vitals": VitalSigns,
    "symptoms": SymptomCheck,
    "neuro": NeuroAssessment,
    "labs": LabResult,
    "treatment": Treatment,
}


@transaction.atomic
def amend_record(*, record, values: dict, reason: str, by, accepted_warnings=()):
    """Correct a record: a new record supersedes it; both stay, and the course is regraded.

    A corrected tocilizumab dose is checked like a new one (``accepted_warnings`` as in
    ``record_check``).
    """
    course = record.check_entry.course
    status = _lock_status(course)
    record = type(record).objects.select_for_update().get(pk=record.pk)
    if not record.is_current:
        raise ValidationError(
            "Only a current record can be amended; this one was already "
            f"{record.get_status_display().lower()}."
        )
    if not reason.strip():
        raise ValidationError({"amendment_reason": "Say why the record is corrected."})
    if isinstance(record, Treatment):
        _hold_for_dose_warnings(
            course=course,
            treatment_values=values,
            at=record.check_entry.observed_at,
            accepted=accepted_warnings,
            by=by,
            exclude=record,
        )
    model = type(record)
    kept = {
        f.name: getattr(record, f.name)
        for f in model._meta.concrete_fields
        if f.name not in _RECORD_META_FIELDS
    }
    amendment = model(
        **{**kept, **values},
        check_entry=record.check_entry,
        amends=record,
        amendment_reason=reason.strip(),
        recorded_by=by,
    )
    if model is NeuroAssessment:
        amendment.ice_total = amendment.capd_total = None
        _score_neuro(amendment, course, record.check_entry.observed_at)
    _save_record(amendment)
    record.status = RecordStatus.AMENDED
    record.status_changed_at, record.status_changed_by = timezone.now(), by
    record.status_reason = reason.strip()
    record.save(update_fields=["status", "status_changed_at", "status_changed_by", "status_reason"])
    _grade_course(course, since=record.check_entry.observed_at)
    refresh_status(status)
    changes = {
        name: [_plain(getattr(record, name)), _plain(getattr(amendment, name))]
        for name in values
        if getattr(record, name) != getattr(amendment, name)
    }
    audit(
        by,
        AuditEvent.Action.RECORD_AMENDED,
        course=course,
        summary=f"{model._meta.verbose_name.capitalize()} amended: "
        + "; ".join(f"{name} {old} → {new}" for name, (old, new) in changes.items())
        + f" ({reason})",
        details={
            "model": model._meta.model_name,
            "original": record.pk,
            "amendment": amendment.pk,
            "changes": changes,
        },
    )
    return amendment


@transaction.atomic
def mark_entered_in_error(*, record, reason: str, by):
    """A record made by mistake stays on file, marked entered in error; grades follow."""
    course = record.check_entry.course
    status = _lock_status(course)
    record = type(record).objects.select_for_update().get(pk=record.pk)
    if not record.is_current:
        raise ValidationError("This record is no longer current.")
    if not reason.strip():
        raise ValidationError({"status_reason": "Say why the record was entered in error."})
    record.status = RecordStatus.ENTERED_IN_ERROR
    record.status_changed_at, record.status_changed_by = timezone.now(), by
    record.status_reason = reason.strip()
    record.save(update_fields=["status", "status_changed_at", "status_changed_by", "status_reason"])
    _grade_course(course, since=record.check_entry.observed_at)
    refresh_status(status)
    audit(
        by,
        AuditEvent.Action.ENTERED_IN_ERROR,
        course=course,
        summary=f"{record._meta.verbose_name.capitalize()} of "
        f"{timezone.localtime(record.check_entry.observed_at):%Y-%m-%d %H:%M} "
        f"marked entered in error ({reason})",
        details={"model": record._meta.model_name, "record": record.pk},
    )
    return record


_RECORD_META_FIELDS = {
    "id",
    "check_entry",
    "status",
    "amends",
    "amendment_reason",
    "recorded_at",
    "recorded_by",
    "status_changed_at",
    "status_changed_by",
    "status_reason",
}


def _save_record(record) -> None:
    # Field checks here; the range and consistency constraints are enforced by the database
    # itself (checking them in Python costs one query each). The foreign keys are set here by
    # the service, so re-reading them to prove they exist would be another query each.
    record.full_clean(
        exclude=["check_entry", "amends", "recorded_by", "status_changed_by"],
        validate_constraints=False,
    )
    try:
        record.save()
    except IntegrityError as error:  # the whole transaction rolls back
        raise ValidationError(
            f"{record._meta.verbose_name}: refused by a database rule ({error})."
        ) from error


def _plain(value):
    return str(value) if value is not None else None


# ---------------------------------------------------------------------------------------------
# Checks not done
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def record_check_not_done(
    *, course, check_type: str, reason: str, note: str = "", observed_at: datetime | None = None, by
) -> CheckNotDone:
    """Keep a due check that could not be done, with why; the next due time moves."""
    status = _lock_status(course)
    observed_at = observed_at or timezone.now()
    _validate_time(course, observed_at)
    not_done = CheckNotDone(
        course=course,
        check_type=check_type,
        reason=reason,
        note=note.strip(),
        observed_at=observed_at,
        recorded_by=by,
    )
    not_done.full_clean()
    not_done.save()
    refresh_status(status)
    audit(
        by,
        AuditEvent.Action.CHECK_NOT_DONE,
        course=course,
        summary=f"{not_done.get_check_type_display()} not done: "
        f"{not_done.get_reason_display()}" + (f" — {note}" if note else ""),
    )
    return not_done


# ---------------------------------------------------------------------------------------------
# Care team: grade confirmation, flags
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def confirm_grade(
    *, snapshot: GradeSnapshot, domain: str, grade: int, reason: str, by, confirm_lower=False
):
    """A clinician confirms or overrides a computed grade; both stay visible, audited.

    A grade lower than the computed one takes an explicit second confirmation
    (``confirm_lower=True``) besides the reason: lowering a grade lowers what the nurse is told
    to do, so it is never the result of a slip in a select box.
    """
    course = snapshot.course
    status = _lock_status(course)
    snapshot = GradeSnapshot.objects.select_for_update().get(pk=snapshot.pk)
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for the confirmation or override."})
    computed = snapshot.crs_grade if domain == "crs" else snapshot.icans_grade
    if is_lower_grade(grade, computed) and not confirm_lower:
        raise ValidationError({"confirm_lower": lower_grade_message(grade, computed)})
    confirmation = GradeConfirmation(
        snapshot=snapshot,
        domain=domain,
        computed_grade=computed,
        confirmed_grade=grade,
        reason=reason.strip(),
        confirmed_by=by,
    )
    confirmation.full_clean()
    confirmation.save()
    setattr(snapshot, f"{domain}_confirmed_grade", grade)
    snapshot.save(update_fields=[f"{domain}_confirmed_grade"])
    # The clinician's confirmation answers a "confirm the grade" flag raised by this moment.
    review = (
        Flag.objects.unresolved()
        .filter(course=course, kind=Flag.Kind.NEEDS_REVIEW, snapshot=snapshot)
        .first()
    )
    if review is not None and not snapshot.needs_review:
        review.status = Flag.Status.RESOLVED
        review.resolved_at, review.resolved_by = timezone.now(), by
        review.resolve_reason = f"Grade confirmed: {reason.strip()}"
        review.save(update_fields=["status", "resolved_at", "resolved_by", "resolve_reason"])
    refresh_status(status)
    verb = "confirmed" if grade == computed else f"overridden (computed {_dash(computed)})"
    audit(
        by,
        AuditEvent.Action.GRADE_CONFIRMED,
        course=course,
        summary=f"{domain.upper()} grade {grade} {verb} for "
        f"{timezone.localtime(snapshot.observed_at):%Y-%m-%d %H:%M}: {reason}",
        details={
            "snapshot": snapshot.pk,
            "domain": domain,
            "computed": computed,
            "confirmed": grade,
        },
    )
    return confirmation


def is_lower_grade(grade, computed) -> bool:
    """A confirmed grade below the computed one (which then needs a second confirmation)."""
    return computed is not None and grade is not None and int(grade) < computed


def lower_grade_message(grade, computed) -> str:
    """What the form and the service say when the second confirmation is missing."""
    return (
        f"Grade {grade} is lower than the computed grade {computed}: tick "
        "“I confirm the lower grade” and give the reason."
    )


@transaction.atomic
def acknowledge_flag(*, flag: Flag, by, note: str = "") -> Flag:
    """Someone has seen the flag and owns it; it stays on the board until resolved.

    Each acknowledgement is kept (``FlagAcknowledgement``, append-only): the flag shows the
    latest, and a flag that got worse and was acknowledged again keeps the earlier ones.
    """
    # Lock the course's status row first, as every writer of its flags does (record_check
    # holds it while it re-raises flags): an acknowledgement never races a check's save.
    _lock_status(flag.course)
    flag = Flag.objects.select_for_update().get(pk=flag.pk)
    if flag.status == Flag.Status.RESOLVED:
        raise ValidationError("This flag is already resolved.")
    if flag.acknowledged_at is not None and not flag.acknowledgements.exists():
        # Acknowledged before each acknowledgement was kept (an older release, the demo
        # seeder): keep that one before the flag's own fields show the new one.
        FlagAcknowledgement.objects.create(
            flag=flag,
            acknowledged_at=flag.acknowledged_at,
            acknowledged_by=flag.acknowledged_by,
            note=flag.acknowledge_note,
            severity=flag.severity,
            message=flag.message,
        )
    flag.status = Flag.Status.ACKNOWLEDGED
    flag.acknowledged_at, flag.acknowledged_by = timezone.now(), by
    flag.acknowledge_note = note.strip()
    acknowledgement = FlagAcknowledgement(
        flag=flag,
        acknowledged_at=flag.acknowledged_at,
        acknowledged_by=by,
        note=flag.acknowledge_note,
        severity=flag.severity,
        message=flag.message,
    )
    acknowledgement.full_clean(exclude=["flag", "acknowledged_by"])
    flag.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "acknowledge_note"])
    acknowledgement.save()
    audit(
        by,
        AuditEvent.Action.FLAG_ACKNOWLEDGED,
        course=flag.course,
        summary=f"Acknowledged: {flag.message}" + (f" — {note}" if note else ""),
        details={"flag": flag.pk},
    )
    return flag


@transaction.atomic
def resolve_flag(*, flag: Flag, by, reason: str) -> Flag:
    """Close a flag with a reason; the same condition later raises a new flag."""
    status = _lock_status(flag.course)
    flag = Flag.objects.select_for_update().get(pk=flag.pk)
    if flag.status == Flag.Status.RESOLVED:
        raise ValidationError("This flag is already resolved.")
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason the flag is resolved."})
    flag.status = Flag.Status.RESOLVED
    flag.resolved_at, flag.resolved_by = timezone.now(), by
    flag.resolve_reason = reason.strip()
    flag.save(update_fields=["status", "resolved_at", "resolved_by", "resolve_reason"])
    refresh_status(status)
    audit(
        by,
        AuditEvent.Action.FLAG_RESOLVED,
        course=flag.course,
        summary=f"Resolved: {flag.message} — {reason}",
        details={"flag": flag.pk},
    )
    return flag


# ---------------------------------------------------------------------------------------------
# Protocols and courses
# ---------------------------------------------------------------------------------------------


def protocol_version_for(product: str) -> ProtocolVersion | None:
    """The newest active protocol version that applies to a product."""
    versions = ProtocolVersion.objects.select_related("protocol").for_product(product)
    return versions[0] if versions else None


@transaction.atomic
def start_course(*, course: TreatmentCourse, by) -> TreatmentCourse:
    """Save a new course on the protocol version that applies to its product."""
    if course.protocol_version_id is None:
        course.protocol_version = protocol_version_for(course.product)
    course.full_clean()
    course.save()
    refresh_status(_lock_status(course))  # nothing done yet: everything due from day 0
    audit(
        by,
        AuditEvent.Action.COURSE_STARTED,
        course=course,
        summary=f"{course.product_label} course started on "
        f"{course.protocol_version or 'no protocol'}",
    )
    return course


PROTOCOL_VERSION_FIELDS = [
    "is_active",
    "is_template",
    "products",
    "monitoring_window_days",
    "sbp_low_mmhg",
    "heart_rate_high",
    "heart_rate_low",
    "resp_rate_high",
    "resp_rate_low",
    "spo2_low_pct",
    "temperature_high_c",
    "marker_rise_factor",
    "escalation",
]
SCHEDULE_FIELDS = [
    "interval_minutes",
    "tightened_interval_minutes",
    "tighten_at_crs_grade",
    "tighten_at_icans_grade",
    "tighten_on_neuro_change",
    "febrile_interval_minutes",
]


@transaction.atomic
def revise_protocol(
    *, version: ProtocolVersion, changes: dict, schedules: dict, note: str, by
) -> ProtocolVersion:
    """Apply an admin's edit: in place while no course uses the version, else as a new version.

    ``schedules`` maps check type -> {field: value}. Courses keep the version they started on;
    the new version is what new courses get.
    """
    version = ProtocolVersion.objects.select_for_update().get(pk=version.pk)
    if not note.strip():
        raise ValidationError({"change_note": "Say what changed and why."})
    in_use = version.courses.exists()
    if in_use:
        latest = version.protocol.versions.order_by("-number").first()
        target = ProtocolVersion(
            protocol=version.protocol,
            number=latest.number + 1,
            created_by=by,
            **{name: getattr(version, name) for name in PROTOCOL_VERSION_FIELDS},
        )
    else:
        target = version
    for name, value in changes.items():
        setattr(target, name, value)
    target.change_note = note.strip()
    target.full_clean(exclude=["protocol"])
    target.save()
    current = {s.check_type: s for s in version.schedules.all()}
    for check_type, values in schedules.items():
        schedule = current.get(check_type)
        if in_use or schedule is None:
            base = {name: getattr(schedule, name) for name in SCHEDULE_FIELDS} if schedule else {}
            schedule = CheckSchedule(version=target, check_type=check_type, **base)
        for name, value in values.items():
            setattr(schedule, name, value)
        schedule.full_clean(exclude=["version"])
        schedule.save()
    if in_use:
        for check_type, schedule in current.items():  # carry the untouched ones over
            if check_type not in schedules:
                CheckSchedule.objects.create(
                    version=target,
                    check_type=check_type,
                    **{name: getattr(schedule, name) for name in SCHEDULE_FIELDS},
                )
        if version.is_active and target.is_active:
            version.is_active = False  # new courses get the new version
            version.save(update_fields=["is_active"])
    audit(
        by,
        AuditEvent.Action.PROTOCOL_CHANGED,
        summary=f"{target} {'created from' if in_use else 'edited, was'} v{version.number}: {note}",
        details={
            "protocol": version.protocol_id,
            "from_version": version.pk,
            "to_version": target.pk,
            "changes": {k: _plain(v) for k, v in changes.items()},
            "schedules": {
                k: {f: _plain(v) for f, v in vals.items()} for k, vals in schedules.items()
            },
        },
    )
    return target


@transaction.atomic
def move_course_to_version(*, course, version: ProtocolVersion, reason: str, by):
    """Move a course to another protocol version, on purpose and on the record."""
    status = _lock_status(course)
    if not reason.strip():
        raise ValidationError({"reason": "Say why the course changes protocol version."})
    previous = course.protocol_version
    course.protocol_version = version
    course.save(update_fields=["protocol_version"])
    refresh_status(status)
    audit(
        by,
        AuditEvent.Action.COURSE_PROTOCOL_MOVED,
        course=course,
        summary=f"Moved from {previous or 'no protocol'} to {version}: {reason}",
        details={"from": previous.pk if previous else None, "to": version.pk},
    )
    return course


@transaction.atomic
def write_handover_note(*, course, text: str, by) -> HandoverNote:
    """Keep the nurse's "watch for" note for the next shift (the newest is shown)."""
    note = HandoverNote(course=course, text=text.strip(), written_by=by)
    note.full_clean(exclude=["course", "written_by"])
    note.save()
    audit(by, AuditEvent.Action.HANDOVER_NOTE, course=course, summary=f"Watch for: {note.text}")
    return note


# ---------------------------------------------------------------------------------------------
# Care team: treatments given, with tocilizumab decision support (views/care_team.py)
# ---------------------------------------------------------------------------------------------


class DoseWarningsPending(Exception):
    """A dose beyond the usual limits needs the clinician's explicit decision before saving."""

    def __init__(self, warnings: list[grading.DoseWarning]):
        super().__init__("; ".join(w.message for w in warnings))
        self.warnings = warnings


def tocilizumab_warnings(
    *,
    course,
    dose,
    dose_unit: str,
    at: datetime,
    exclude=None,
) -> list[grading.DoseWarning]:
    """Reference §7.1 limits for one more tocilizumab dose at ``at`` (one query).

    ``exclude``: a dose being corrected, which is not another dose besides the corrected one.
    """
    previous = Treatment.objects.current().filter(
        check_entry__course=course, drug=Treatment.Drug.TOCILIZUMAB
    )
    if exclude is not None:
        previous = previous.exclude(pk=exclude.pk)
    return [
        *grading.dose_limit_warnings(
            list(previous.values_list("check_entry__observed_at", flat=True)), at
        ),
        *grading.dose_size_warnings(float(dose), dose_unit, float(course.patient.weight_kg)),
    ]


# What a dose decision rests on: a correction that changes none of these (the route, the name
# of another drug) leaves the clinician's earlier decision about the dose standing.
DOSE_FIELDS = ("drug", "dose", "dose_unit")


def _hold_for_dose_warnings(
    *, course, treatment_values: dict | None, at: datetime, accepted, by, exclude=None
) -> list[grading.DoseWarning]:
    """The same tocilizumab checks at every door (reference §7.1): a dose recorded with a
    check, on the treatments page or by a correction (``exclude``: the record corrected, whose
    values the correction starts from) is held until the clinician has seen each warning and
    chose to give it anyway; that decision is audited. Call with the course's status row locked,
    so that the dose count cannot change between the warning and the save.
    """
    if not treatment_values:
        return []
    values = dict(treatment_values)
    if exclude is not None:
        before = {name: getattr(exclude, name) for name in DOSE_FIELDS}
        if all(values.get(name, before[name]) == before[name] for name in DOSE_FIELDS):
            return []
        values = {**before, **values}
    if values.get("drug") != Treatment.Drug.TOCILIZUMAB:
        return []
    try:
        dose = float(values.get("dose"))
    except (TypeError, ValueError):
        return []  # the record's own validation refuses it, with its message
    if not math.isfinite(dose) or dose <= 0:
        return []
    unit = values.get("dose_unit") or Treatment.DoseUnit.MG
    warnings = tocilizumab_warnings(
        course=course, dose=dose, dose_unit=unit, at=at, exclude=exclude
    )
    if any(w.message not in accepted for w in warnings):
        raise DoseWarningsPending(warnings)
    if warnings:
        verb = "Corrected" if exclude is not None else "Given"
        audit(
            by,
            AuditEvent.Action.TREATMENT_RECORDED,
            course=course,
            summary=f"{verb} despite dose warnings (clinician's decision): "
            + " ".join(w.message for w in warnings),
            details={
                "warnings": [w.code for w in warnings],
                "at": at.isoformat(),
                "dose": f"{values['dose']}",
                "dose_unit": unit,
                **({"record": exclude.pk} if exclude is not None else {}),
            },
        )
    return warnings


@transaction.atomic
def record_treatment(
    *, course: TreatmentCourse, by, observed_at: datetime, treatment: dict, accepted_warnings=()
) -> BedsideCheck:
    """Record a treatment given, on its own (the treatments page); a tocilizumab dose beyond the
    usual limits is saved only when the clinician has seen each of its warnings and chose to
    give it (audited) — as through any other door (``record_check``)."""
    return record_check(
        course=course,
        by=by,
        observed_at=observed_at,
        treatment=treatment,
        accepted_warnings=accepted_warnings,
    )
