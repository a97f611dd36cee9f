"""Every clinical write path: validate, save, grade, flag, update the course status — atomically."""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Min, Q
from django.utils import formats, timezone, translation
from django.utils.translation import gettext, gettext_lazy

from monitoring import alert_rule_messages, alert_rules, escalation, grading
from monitoring.access import units_for
from monitoring.display import dash
from monitoring.engine import (
    SCHEDULED_KINDS,
    CourseEngine,
    Revision,
    Rules,
    apply_status,
    carry_confirmations,
    flag_leads,
    status_values,
)
from monitoring.engine import shown as engine_shown
from monitoring.models import (
    AuditEvent,
    BedsideCheck,
    BoardVisit,
    CareSetting,
    CheckNotDone,
    CheckSchedule,
    CheckSetting,
    CourseStatus,
    Flag,
    FlagAcknowledgement,
    GradeConfirmation,
    GradeSnapshot,
    HandoverNote,
    LabResult,
    NeuroAssessment,
    OnCallShift,
    Patient,
    ProtocolVersion,
    RecordStatus,
    SymptomCheck,
    Treatment,
    TreatmentCourse,
    Unit,
    VitalSigns,
)
from monitoring.models.alerts import TIER_LABELS
from monitoring.models.audit import changes_text
from monitoring.models.constraints import EARLIEST_DATE, LATEST_DATE
from monitoring.models.courses import CLOCK_SKEW, REMOTE_CHECKS
from monitoring.models.people import WEIGHT_KG_RANGE

# Records may be entered late (a paper chart typed up after a busy night) but not too early:
# baseline checks the week before infusion are the earliest that belong to a course.
EARLIEST_BEFORE_INFUSION = timedelta(days=7)
RECORD_MODELS = {
    "vitals": VitalSigns,
    "symptoms": SymptomCheck,
    "neuro": NeuroAssessment,
    "labs": LabResult,
    "treatment": Treatment,
}


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
    setting: str | None = None,
    flags=(),
) -> BedsideCheck:
    """Save one bedside check (any of its sections), grade the course at that moment and flag.

    ``setting`` is where it was done (ward, clinic visit, phone; default from the course's care
    setting); a phone check records only what a phone call can give (``check_setting_values``).

    A check entered late (its ``observed_at`` before the course's latest moment) regrades the
    moments after it; each changed grade keeps its earlier version (see ``_regrade``).
    A tocilizumab dose beyond the usual limits is held (``DoseWarningsPending``) until the
    clinician has seen each warning: ``accepted_warnings`` are the messages they chose to give
    it despite (see ``_hold_for_dose_warnings``).
    ``flags`` are further flags (``FlagSpec``) the check raises beside the engine's, such as a
    home check-in's confusion reported for review (``home_rules.home_neuro_flag``).
    """
    status = _lock_status(course)
    _validate_time(course, observed_at)
    _hold_for_dose_warnings(
        course=course, treatment_values=treatment, at=observed_at, accepted=accepted_warnings, by=by
    )
    sections = {
        "vitals": vitals,
        "symptoms": symptoms,
        "neuro": neuro,
        "labs": labs,
        "treatment": treatment,
    }
    if not any(sections.values()):
        raise ValidationError(gettext("Nothing to save: fill in at least one section."))
    setting = course.default_check_setting if setting is None else setting
    check_setting_values(setting, sections)

    check = BedsideCheck(course=course, observed_at=observed_at, recorded_by=by, setting=setting)
    check.save()
    records = {}
    for key, values in sections.items():
        if values:
            record = RECORD_MODELS[key](check_entry=check, **values)
            if key == "neuro":
                _score_neuro(record, course, observed_at)
            if key == "vitals":
                _check_support(record)
            record.recorded_by = by
            _save_record(record)
            records[key] = record

    engine, snapshots = load_engine(course)
    now = timezone.now()
    moment = engine.grade(observed_at)
    snapshot = GradeSnapshot(
        check_entry=check,
        course=course,
        observed_at=observed_at,
        computed_at=now,
        **moment.snapshot_fields(),
    )
    ordered = sorted([*snapshots, snapshot], key=lambda s: (s.observed_at, s.pk or 0))
    # The new moment first takes any confirmation that carries to it, then is saved, so the
    # flags it raises can point at it; later moments (a late entry) are regraded after.
    carry_confirmations(ordered[: ordered.index(snapshot) + 1], engine.label)
    snapshot.save()
    engine.raise_flags(
        [*engine.check_flags(observed_at, moment, records, snapshot), *flags],
        snapshot=snapshot,
        now=now,
    )
    if ordered[-1] is not snapshot:
        why = (
            f"late {', '.join(records)} at {engine.label(observed_at)} entered "
            f"{timezone.localtime(now):%H:%M} by {_name(by)}"
        )
        _regrade(
            engine, ordered, since=observed_at, why=why, by=by, course=course, now=now, new=snapshot
        )
    if "labs" in records and records["labs"].igg_mg_dl is not None:
        _sync_infection_flags(course, engine, now=now, by=by)
    if setting == CheckSetting.HOME:
        from monitoring import home_sweep  # it builds on this module (audit, flags)

        home_sweep.resolve_on_checkin(
            course, book=engine.book, observed_at=observed_at, by=by, now=now
        )
    _save_flags(engine)
    refresh_status(status, engine=engine, snapshots=ordered)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.CHECK_RECORDED,
            course=course,
            summary=f"Check at {timezone.localtime(observed_at):%Y-%m-%d %H:%M}: "
            + ", ".join(records)
            + " → "
            + grades_text(snapshot)
            + f" ({check.get_setting_display().lower()})",
            details={
                "check": str(check.public_id),
                "sections": list(records),
                "setting": setting,
            },
        )
    if "treatment" in records:
        with _in_english():
            audit(
                by,
                AuditEvent.Action.TREATMENT_RECORDED,
                course=course,
                summary=str(records["treatment"]),
                details={"check": str(check.public_id)},
            )
    check.snapshot = snapshot
    return check


def grades_text(snapshot: GradeSnapshot) -> str:
    """ "CRS 2, ICANS —": the grades summaries use (confirmed where a clinician confirmed)."""
    return _grades_words(snapshot.crs_effective, snapshot.icans_effective)


def _grades_words(crs, icans) -> str:
    return f"CRS {dash(crs)}, ICANS {dash(icans)}"


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "the system"


def moment_label(course: TreatmentCourse):
    """How a time reads in reasons and audit lines: "D+3 14:00" (local time, day 0 the
    infusion date)."""

    def label(at: datetime) -> str:
        return f"{course.day_label(at)} {timezone.localtime(at):%H:%M}"

    return label


def load_engine(course: TreatmentCourse) -> tuple[CourseEngine, list[GradeSnapshot]]:
    """A course's engine with every current record and unresolved flag, and its snapshots in
    clinical order (seven queries, whatever the course's length)."""
    patient = course.patient
    engine = CourseEngine(
        course=course,
        age_at=lambda at: patient.age_on(timezone.localdate(at)),
        rules=Rules.for_version(course.protocol_version),
        label=moment_label(course),
        unresolved=Flag.objects.unresolved().filter(course=course),
    )
    for kind, model in RECORD_MODELS.items():
        rows = model.objects.current().filter(check_entry__course=course)
        for row in rows.select_related("check_entry").order_by("check_entry__observed_at", "pk"):
            engine.add(row.check_entry.observed_at, kind, row)
    snapshots = list(GradeSnapshot.objects.filter(course=course).order_by("observed_at", "pk"))
    return engine, snapshots


def load_timeline(course: TreatmentCourse):
    """A course's records, ordered by clinical time (for reads that need the state)."""
    return load_engine(course)[0].timeline


def regrade_course(*, course: TreatmentCourse, since: datetime | None, why: str, by):
    """Regrade every moment of a course at or after ``since`` (all when None), keeping each
    changed grade's earlier version; for corrections that change what the grades rest on."""
    status = _lock_status(course)
    engine, snapshots = load_engine(course)
    now = timezone.now()
    _regrade(engine, snapshots, since=since, why=why, by=by, course=course, now=now)
    _save_flags(engine)
    refresh_status(status, engine=engine, snapshots=snapshots)
    return status


def _regrade(engine, ordered, *, since, why: str, by, course, now, new=None) -> list:
    """Recompute the moments of ``ordered`` (a course's snapshots in clinical order) at or
    after ``since`` and carry confirmations again.

    Nothing a nurse was shown is erased: each changed snapshot is saved with a history row
    (``GradeSnapshot.history``, with ``why`` as its reason), marked revised when its grades or
    reasons changed, and one audit line says what changed and why ("late vitals at D+2 06:00
    entered 09:12 by …: CRS at D+2 08:00 3 → 2").
    """
    affected = [s for s in ordered if s is not new and (since is None or s.observed_at >= since)]
    before = {id(s): engine_shown(s) for s in affected}
    recomputed = {id(s) for s in engine.regrade(affected, now=now)}
    carried = {id(s) for s in carry_confirmations(ordered, engine.label)}
    revisions = []
    for snapshot in affected:
        if id(snapshot) not in recomputed | carried:
            continue
        after = engine_shown(snapshot)
        if after != before[id(snapshot)]:
            revisions.append(Revision(snapshot, before[id(snapshot)], after))
            snapshot.revised_at = now
            snapshot.revision_note = (
                f"Revised {timezone.localtime(now):%Y-%m-%d %H:%M}: {why}; was "
                + _grades_words(
                    before[id(snapshot)]["crs_effective"], before[id(snapshot)]["icans_effective"]
                )
            )[:500]
        snapshot._change_reason = why[:100]
        snapshot.save()
    if revisions:
        with _in_english():
            audit(
                by,
                AuditEvent.Action.GRADES_REVISED,
                course=course,
                summary=f"{why}: " + "; ".join(r.summary(engine.label) for r in revisions),
                details={
                    "why": why,
                    "changes": [
                        {
                            "snapshot": r.snapshot.pk,
                            "at": r.snapshot.observed_at.isoformat(),
                            "before": r.before,
                            "after": r.after,
                        }
                        for r in revisions
                    ],
                },
            )
    return revisions


def _lock_status(course: TreatmentCourse) -> CourseStatus:
    """Serialise writers of one course: grades computed from a consistent set of records."""
    locked = CourseStatus.objects.select_for_update()
    status = locked.filter(course=course).first()  # one query once the course has its row
    if status is None:  # its first write: create the row (or meet a concurrent one), then lock
        CourseStatus.objects.get_or_create(course=course)
        status = locked.get(course=course)
    course.status_row = status  # callers reading course.status_row see what refresh_status writes
    return status


def _validate_time(course: TreatmentCourse, observed_at: datetime) -> None:
    if timezone.is_naive(observed_at):
        raise ValidationError({"observed_at": gettext("Observation time must carry a time zone.")})
    if observed_at > timezone.now() + CLOCK_SKEW:
        raise ValidationError({"observed_at": gettext("Observation time cannot be in the future.")})
    if observed_at < course.infused_at - EARLIEST_BEFORE_INFUSION:
        raise ValidationError(
            {
                "observed_at": gettext(
                    "Observation time is more than 7 days before the infusion (day 0)."
                )
            }
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
        raise ValidationError(gettext("Record either the ICE screen or the CAPD, not both."))
    uses_capd = course.patient.uses_capd_on(timezone.localdate(observed_at))
    if has_ice and uses_capd:
        raise ValidationError(
            gettext("This patient is under 12: use the CAPD, not the ICE screen.")
        )
    if has_capd and not uses_capd:
        raise ValidationError(
            gettext("This patient is 12 or older: use the ICE screen, not the CAPD.")
        )
    if (has_ice or has_capd) and record.unable_to_assess_reason:
        raise ValidationError(
            gettext("A score was entered, so the patient was not 'unable to assess'.")
        )
    try:
        if has_ice:
            record.ice_total = grading.ice_total(*ice_items)
        if has_capd:
            record.capd_total = grading.capd_total(capd_items)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            gettext("Incomplete neuro assessment: %(problem)s") % {"problem": exc}
        ) from exc
    if record.consciousness == "unarousable" and (record.ice_total or record.capd_total):
        raise ValidationError(
            gettext("An unarousable patient cannot score on the ICE/CAPD screen.")
        )
    _check_attribution(record, scored=has_ice or has_capd)


def _check_attribution(record: NeuroAssessment, *, scored: bool) -> None:
    """Depressed consciousness with another cause is not ICANS (reference §2.2 †): then the
    ICE/CAPD is not assessable, and the record says why."""
    record.consciousness_other_cause = record.consciousness_other_cause.strip()
    cause = record.consciousness_attributable_to
    other = NeuroAssessment.ConsciousnessCause.OTHER
    if cause == other and not record.consciousness_other_cause:
        raise ValidationError(gettext("Name the other cause of the depressed consciousness."))
    if cause != other and record.consciousness_other_cause:
        raise ValidationError(
            gettext("An other cause is given only with 'Other cause (say which)'.")
        )
    if not cause:
        return
    if record.consciousness == NeuroAssessment.Consciousness.ALERT:
        raise ValidationError(
            gettext("An alert patient has no depressed consciousness to attribute.")
        )
    if scored:
        raise ValidationError(
            gettext(
                "Depressed consciousness attributed to another cause: the ICE/CAPD is not "
                "assessable, so give no score (or clear the cause)."
            )
        )
    if not record.unable_to_assess_reason.strip():
        reason = f"depressed consciousness attributed to {record.attributed_cause}"
        limit = NeuroAssessment._meta.get_field("unable_to_assess_reason").max_length
        record.unable_to_assess_reason = reason[:limit]


def _check_support(record: VitalSigns) -> None:
    if (
        record.oxygen_for_airway_protection
        and record.oxygen_support not in VitalSigns.POSITIVE_PRESSURE
    ):
        raise ValidationError(
            gettext(
                "Airway protection only applies to CPAP, BiPAP or mechanical ventilation: choose "
                "the device, or clear 'for airway protection only'."
            )
        )


def _save_flags(engine: CourseEngine) -> None:
    """Write new flags, and only the fields the engine's flag book changed on existing ones."""
    save_flag_book(engine.book)


def save_flag_book(book) -> None:
    """Write a FlagBook's new flags and the fields it changed (also monitoring.infection's)."""
    for flag, fields in book.touched.values():
        if flag.pk is None:
            flag.save()
        else:
            flag.save(update_fields=sorted(fields))
        if "ladder_round" in fields or any(flag is new for new in book.created):
            escalation.queue(flag)  # raised or got worse: the ladder's first step, at once
    book.touched.clear()


def _sync_infection_flags(course, engine: CourseEngine, *, now: datetime, by) -> None:
    """An IgG result moves the IgG replacement flag (monitoring.infection); the prophylaxis
    flag follows the prophylaxis records and the calendar (infection.sweep), not a check."""
    from monitoring import infection  # it builds on this module (audit, flags)

    infection.sync_flags(
        course, book=engine.book, now=now, by=by, labs=engine.timeline.labs, kinds=("igg_low",)
    )


def refresh_status(status: CourseStatus, *, engine=None, snapshots=None) -> CourseStatus:
    """Recompute the course's denormalised status row (engine.status_values) and save it."""
    if engine is None:
        engine, snapshots = load_engine(status.course)
    values = status_values(
        snapshots=snapshots,
        unresolved=engine.book.unresolved(),
        timeline=engine.timeline,
    )
    apply_status(status, values, deferrals=_deferrals(status.course_id, values))
    status.updated_at = timezone.now()
    status.save()
    return status


def refresh_flag_leads(status: CourseStatus) -> None:
    """Keep the board's order keys on the status row after flags changed status without the
    rest of the row changing (an acknowledgement): two queries, not a reload of the course."""
    leads = flag_leads(Flag.objects.unresolved().filter(course_id=status.course_id))
    for name, value in leads.items():
        setattr(status, name, value)
    status.save(update_fields=list(leads))


def _deferrals(course_id, values: dict) -> dict:
    """Checks not done since each type was last done: when, and how soon to retry."""
    deferrals, latest = {}, {}
    for not_done in CheckNotDone.objects.filter(course_id=course_id).order_by("observed_at"):
        latest[not_done.check_type] = not_done
    for kind in SCHEDULED_KINDS:
        not_done, last_done = latest.get(kind), values[f"last_{kind}_at"]
        if not_done and (last_done is None or not_done.observed_at > last_done):
            deferrals[kind] = {
                "at": not_done.observed_at.isoformat(),
                "retry_minutes": CheckNotDone.RETRY_MINUTES[not_done.reason],
                # English whatever the writer's language; pages translate it (Due).
                "reason": _english(CheckNotDone.Reason(not_done.reason).label),
            }
    return deferrals


def _english(text) -> str:
    """A (lazy) label as the English text that is stored."""
    with _in_english():
        return str(text)


def _in_english():
    """The audit log is kept in English whatever the writer's language (docs/translations.md):
    the labels of choices and fields its summaries quote are read in English inside this."""
    return translation.override("en")


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


def _lock_current(record, course: TreatmentCourse, *, amending: bool = False):
    """The course's status row, locked, and the record as it is under that lock: refused when a
    correction or an error mark got to it first."""
    status = _lock_status(course)
    record = type(record).objects.select_for_update().get(pk=record.pk)
    if not record.is_current:
        if amending:
            raise ValidationError(
                gettext("Only a current record can be amended; this one was already %(status)s.")
                % {"status": record.get_status_display().lower()}
            )
        raise ValidationError(gettext("This record is no longer current."))
    return status, record


def _retire(record, status: str, *, reason: str, by) -> None:
    """Mark a record superseded or entered in error, with who, when and why (it stays)."""
    record.status = status
    record.status_changed_at, record.status_changed_by = timezone.now(), by
    record.status_reason = reason
    record.save(update_fields=["status", "status_changed_at", "status_changed_by", "status_reason"])


def amend(
    *, record, values: dict, reason: str, by, course, check=None, then=None, constraints=False
):
    """Correct an amendable record (``models.records.AmendableRecord``: a bedside record, an
    infection record): a new record with ``values`` supersedes it; both stay, and the audit log
    says what changed, old → new, and why. The one way either kind is corrected.

    ``check(record, amendment)`` refuses a correction its kind does not allow, before anything
    is saved; ``then(status, record)`` re-decides what rests on the record (grades, flags) with
    the course's status row locked. ``constraints``: validate the database constraints in Python
    too (their own messages; a query each). Run inside the caller's transaction.
    """
    status, record = _lock_current(record, course, amending=True)
    reason = _required("amendment_reason", reason, gettext("Say why the record is corrected."))
    amendment = record.correction(values, reason=reason, by=by)
    if check is not None:
        check(record, amendment)
    changes = {
        name: [_plain(getattr(record, name)), _plain(getattr(amendment, name))]
        for name in values
        if getattr(record, name) != getattr(amendment, name)
    }
    if not changes:
        raise ValidationError(gettext("Nothing changed: edit a value, or cancel."))
    _save_record(amendment, constraints=constraints)
    _retire(record, RecordStatus.AMENDED, reason=reason, by=by)
    if then is not None:
        then(status, record)
    model = type(record)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.RECORD_AMENDED,
            course=course,
            summary=f"{model._meta.verbose_name.capitalize()} amended: "
            + changes_text(model._meta.model_name, changes)
            + f" ({reason})",
            details={
                "model": model._meta.model_name,
                "original": record.pk,
                "amendment": amendment.pk,
                "changes": changes,
            },
        )
    return amendment


def enter_in_error(*, record, reason: str, by, course, then=None):
    """Mark an amendable record entered in error: it stays on file, struck through, with who,
    when and why; ``then(status, record)`` as for ``amend``. Run inside the caller's
    transaction."""
    status, record = _lock_current(record, course)
    reason = _required("status_reason", reason, gettext("Say why the record was entered in error."))
    _retire(record, RecordStatus.ENTERED_IN_ERROR, reason=reason, by=by)
    if then is not None:
        then(status, record)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.ENTERED_IN_ERROR,
            course=course,
            summary=f"{record.audit_label()} marked entered in error ({reason})",
            details={"model": record._meta.model_name, "record": record.pk},
        )
    return record


@transaction.atomic
def amend_record(*, record, values: dict, reason: str, by, accepted_warnings=()):
    """Correct a bedside record (``amend``); the course is regraded from it.

    A corrected tocilizumab dose is checked like a new one (``accepted_warnings`` as in
    ``record_check``).
    """
    course = record.check_entry.course

    def check(record, amendment) -> None:
        if isinstance(record, Treatment):
            _hold_for_dose_warnings(
                course=course,
                treatment_values=values,
                at=record.check_entry.observed_at,
                accepted=accepted_warnings,
                by=by,
                exclude=record,
            )
        if isinstance(amendment, NeuroAssessment):
            amendment.ice_total = amendment.capd_total = None
            _score_neuro(amendment, course, record.check_entry.observed_at)
        if isinstance(amendment, VitalSigns):
            _check_support(amendment)

    def regrade(status, record) -> None:
        why = f"amended by {_name(by)} ({reason.strip()})"
        _regrade_after_correction(course, status, record, why, by)

    return amend(
        record=record, values=values, reason=reason, by=by, course=course, check=check, then=regrade
    )


@transaction.atomic
def mark_entered_in_error(*, record, reason: str, by):
    """A bedside record made by mistake stays on file, marked entered in error; grades follow."""
    course = record.check_entry.course

    def regrade(status, record) -> None:
        why = f"marked entered in error by {_name(by)} ({reason.strip()})"
        _regrade_after_correction(course, status, record, why, by)

    return enter_in_error(record=record, reason=reason, by=by, course=course, then=regrade)


def _save_record(record, *, constraints: bool = False) -> None:
    # Field checks here; the range and consistency constraints are enforced by the database
    # itself (checking them in Python costs one query each) unless ``constraints`` asks for
    # their messages. The foreign keys are set by the service, so re-reading them to prove
    # they exist would be another query each.
    record.full_clean(
        exclude=[f.name for f in record._meta.concrete_fields if f.is_relation],
        validate_constraints=constraints,
    )
    try:
        record.save()
    except IntegrityError as error:  # the whole transaction rolls back
        raise ValidationError(
            gettext("%(record)s: refused by a database rule (%(error)s).")
            % {"record": record._meta.verbose_name, "error": error}
        ) from error


def _regrade_after_correction(course, status, record, what: str, by) -> None:
    engine, snapshots = load_engine(course)
    label = engine.label(record.check_entry.observed_at)
    why = f"{record._meta.verbose_name} at {label} {what}"
    _regrade(
        engine,
        snapshots,
        since=record.check_entry.observed_at,
        why=why,
        by=by,
        course=course,
        now=timezone.now(),
    )
    if isinstance(record, LabResult):
        _sync_infection_flags(course, engine, now=timezone.now(), by=by)
    _save_flags(engine)
    refresh_status(status, engine=engine, snapshots=snapshots)


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
    with _in_english():
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
        raise ValidationError(
            {"reason": gettext("Give the reason for the confirmation or override.")}
        )
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
    snapshot.confirmation_carried = {
        k: v for k, v in snapshot.confirmation_carried.items() if k != domain
    }
    snapshot._change_reason = f"{domain.upper()} grade confirmed by {_name(by)}"
    snapshot.save(update_fields=[f"{domain}_confirmed_grade", "confirmation_carried"])
    # The confirmation carries to later moments that rest on the same findings (engine).
    engine, snapshots = load_engine(course)
    for carried in carry_confirmations(snapshots, engine.label):
        carried._change_reason = f"{domain.upper()} confirmation carried forward"
        carried.save(
            update_fields=["crs_confirmed_grade", "icans_confirmed_grade", "confirmation_carried"]
        )
    # The clinician's confirmation answers a "confirm the grade" flag raised by a moment it
    # now covers.
    confirmed = {s.pk: s for s in snapshots}
    review = engine.book.open.get(Flag.Kind.NEEDS_REVIEW)
    covered = review is not None and review.snapshot_id in confirmed
    if covered and not confirmed[review.snapshot_id].needs_review:
        _close_flag(review, by=by, reason=f"Grade confirmed: {reason.strip()}", at=timezone.now())
    refresh_status(status, engine=engine, snapshots=snapshots)
    verb = "confirmed" if grade == computed else f"overridden (computed {dash(computed)})"
    with _in_english():
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
    return gettext(
        "Grade %(grade)s is lower than the computed grade %(computed)s: tick "
        "“I confirm the lower grade” and give the reason."
    ) % {"grade": grade, "computed": computed}


@transaction.atomic
def acknowledge_flag(*, flag: Flag, by, note: str = "") -> Flag:
    """Someone has seen the flag and owns it; it stays on the board until resolved.

    Each acknowledgement is kept (``FlagAcknowledgement``, append-only): the flag shows the
    latest, and a flag that got worse and was acknowledged again keeps the earlier ones.
    """
    # Lock the course's status row first, as every writer of its flags does (record_check
    # holds it while it re-raises flags): an acknowledgement never races a check's save.
    status = _lock_status(flag.course)
    flag = Flag.objects.select_for_update().get(pk=flag.pk)
    if flag.status == Flag.Status.RESOLVED:
        raise ValidationError(gettext("This flag is already resolved."))
    flag = _acknowledge(flag, by=by, note=note.strip(), at=timezone.now())
    refresh_flag_leads(status)
    return flag


@transaction.atomic
def acknowledge_course_flags(*, course: TreatmentCourse, by, note: str = "", seen: str = ""):
    """Acknowledge every unacknowledged (open) flag of the patient's course at once, with one
    note: each is acknowledged as ``acknowledge_flag`` would (kept, its ladder stopped), and
    audited on its own line, so a flag's trail reads the same however it was acknowledged.

    ``seen`` is the ``open_flags_token`` of the flags the clinician was shown: if they have
    changed since (a new flag, or one got worse), nothing is acknowledged. Returns the flags.
    """
    status = _lock_status(course)
    flags = list(
        Flag.objects.select_for_update()
        .filter(course=course, status=Flag.Status.OPEN)
        .order_by("-severity", "raised_at", "pk")
    )
    for flag in flags:
        flag.course = course  # locked above through its status row; not a query per flag
    if not flags:
        raise ValidationError(gettext("This patient has no unacknowledged flag."), code="none")
    if seen and seen != open_flags_token(flags):
        raise ValidationError(
            gettext(
                "This patient's flags changed since you saw them: a flag was raised or got "
                "worse. Nothing was acknowledged; read them again and confirm if you still mean to."
            ),
            code="changed",
        )
    now = timezone.now()
    acknowledged = [
        _acknowledge(flag, by=by, note=note.strip(), at=now, together=len(flags)) for flag in flags
    ]
    refresh_flag_leads(status)
    return acknowledged


def open_flags_token(flags) -> str:
    """What a clinician saw of a patient's unacknowledged flags (which ones, how severe, what
    they said), short enough for a hidden form field: ``acknowledge_course_flags`` compares it."""
    seen = sorted(
        f"{flag.pk}:{flag.severity}:{flag.message}"
        for flag in flags
        if flag.status == Flag.Status.OPEN
    )
    return hashlib.sha256("\n".join(seen).encode()).hexdigest()[:20]


def _acknowledge(flag: Flag, *, by, note: str, at: datetime, together: int = 0) -> Flag:
    """Acknowledge a flag the caller has locked (with its course's status row): keep the
    acknowledgement, stop the ladder, audit it."""
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
    flag.acknowledged_at, flag.acknowledged_by = at, by
    flag.acknowledge_note = note
    stopped = escalation.stop(flag)
    acknowledgement = FlagAcknowledgement(
        flag=flag,
        acknowledged_at=flag.acknowledged_at,
        acknowledged_by=by,
        note=flag.acknowledge_note,
        severity=flag.severity,
        message=flag.message,
    )
    acknowledgement.full_clean(exclude=["flag", "acknowledged_by"])
    flag.save(
        update_fields=["status", "acknowledged_at", "acknowledged_by", "acknowledge_note", *stopped]
    )
    acknowledgement.save()
    summary = f"Acknowledged: {flag.message}" + (f" — {note}" if note else "")
    if together > 1:
        summary += f" (with the patient's {together} unacknowledged flags)"
    with _in_english():
        audit(
            by,
            AuditEvent.Action.FLAG_ACKNOWLEDGED,
            course=flag.course,
            summary=summary,
            details={"flag": flag.pk, **({"together": together} if together else {})},
        )
    return flag


@transaction.atomic
def resolve_flag(*, flag: Flag, by, reason: str) -> Flag:
    """Close a flag with a reason; the same condition later raises a new flag."""
    status = _lock_status(flag.course)
    flag = Flag.objects.select_for_update().get(pk=flag.pk)
    if flag.status == Flag.Status.RESOLVED:
        raise ValidationError(gettext("This flag is already resolved."))
    if not reason.strip():
        raise ValidationError({"reason": gettext("Give the reason the flag is resolved.")})
    _close_flag(flag, by=by, reason=reason.strip(), at=timezone.now())
    refresh_status(status)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.FLAG_RESOLVED,
            course=flag.course,
            summary=f"Resolved: {flag.message} — {reason}",
            details={"flag": flag.pk},
        )
    return flag


def _close_flag(flag: Flag, *, by, reason: str, at: datetime) -> None:
    """Resolve a flag (the caller holds its lock): who, when, why; its ladder stops."""
    flag.status = Flag.Status.RESOLVED
    flag.resolved_at, flag.resolved_by, flag.resolve_reason = at, by, reason[:500]
    stopped = escalation.stop(flag)
    flag.save(update_fields=["status", "resolved_at", "resolved_by", "resolve_reason", *stopped])


def resolve_from_book(book, kind: str, flag: Flag, *, by, reason: str, now: datetime) -> None:
    """Resolve an open flag the engine's ``book`` holds for ``kind`` (a record cleared it): the
    flag closes with why, leaves the book so the save does not reopen it, and one audit line."""
    _close_flag(flag, by=by, reason=reason, at=now)
    book.open.pop(kind)
    book.touched.pop(id(flag), None)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.FLAG_RESOLVED,
            course=flag.course,
            summary=f"Resolved: {flag.message} — {reason}",
            details={"flag": flag.pk},
        )


def note_board_visit(user, *, now: datetime | None = None) -> datetime | None:
    """The user opened the board: what is newer than this visit is "new" for them next time.

    Returns when they looked before (None: never), which the board marks from until the next
    full load; its 30-second refresh reads ``BoardVisit.previous_seen_at`` and moves nothing.
    Not audited: it records what a person looked at, not a clinical act.
    """
    now = now or timezone.now()
    visits = BoardVisit.objects.filter(user=user)
    previous = visits.values_list("seen_at", flat=True).first()
    if previous is None:  # the first look (two at once: one row, either time will do)
        BoardVisit.objects.bulk_create([BoardVisit(user=user, seen_at=now)], ignore_conflicts=True)
    else:
        visits.update(previous_seen_at=F("seen_at"), seen_at=now)
    return previous


# ---------------------------------------------------------------------------------------------
# Protocols and courses
# ---------------------------------------------------------------------------------------------


def protocol_version_for(product: str) -> ProtocolVersion | None:
    """The newest active protocol version that applies to a product."""
    versions = ProtocolVersion.objects.select_related("protocol").for_product(product)
    return versions[0] if versions else None


PROTOCOL_VERSION_FIELDS = [
    "is_active",
    "is_template",
    "products",
    "monitoring_window_days",
    # Home monitoring's countdowns (monitoring/home.py)
    "stay_near_days",
    "no_driving_days",
    # What a check-in at home tells the person (monitoring/home_rules.py)
    "home_call_temperature_c",
    # Home check-ins (monitoring/home_sweep.py)
    "home_checkin_interval_hours",
    "home_checkin_grace_minutes",
    "sbp_low_mmhg",
    "heart_rate_high",
    "heart_rate_low",
    "resp_rate_high",
    "resp_rate_low",
    "spo2_low_pct",
    "temperature_high_c",
    "marker_rise_factor",
    "point_valid_minutes",
    "support_confirm_minutes",
    "neuro_valid_minutes",
    "masked_fever_window_hours",
    "deterioration_severity",
    "escalation",
    "ack_minutes",
    "escalation_ladder",
    "overdue_grace_minutes",
    "notify_patient_names",
    # Infection prevention (monitoring.infection_rules).
    "prophylaxis",
    "igg_replace_below_mg_dl",
    "igg_replace_products",
    "neutropenia_anc_10e9_l",
    "anc_valid_hours",
    # The treatment journey (monitoring/journey.py)
    "phase_days",
    "conditioning_regimen",
    "conditioning_start_day",
    "conditioning_end_day",
    "follow_up_visits",
    "baseline_handwriting",
    "baseline_labs",
]


def check_alert_settings(version: ProtocolVersion) -> None:
    """A version's escalation settings (alert_rules): minutes by severity in range and never
    longer for a more severe flag, a ladder of known tiers each once (empty: the default
    ladder), an overdue grace in range. Refused with a message per field."""
    errors: dict[str, list[str]] = {}
    for name, problems in (
        ("ack_minutes", alert_rules.ack_minutes_problems(version.ack_minutes)),
        (
            "escalation_ladder",
            alert_rules.ladder_problems(version.escalation_ladder)
            if version.escalation_ladder != []
            else [],
        ),
    ):
        if problems:
            errors[name] = [alert_rule_messages.render(message) for _, message in problems]
    low, high = alert_rules.OVERDUE_GRACE_RANGE
    grace = version.overdue_grace_minutes
    if type(grace) is not int or not low <= grace <= high:
        errors["overdue_grace_minutes"] = [
            gettext(
                "The overdue-check grace must be between %(low)s and %(high)s min (got %(got)s)."
            )
            % {"low": low, "high": high, "got": grace}
        ]
    if not isinstance(version.notify_patient_names, bool):
        errors["notify_patient_names"] = [gettext("Say yes or no to patient names in messages.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def revise_protocol(
    *,
    version: ProtocolVersion,
    changes: dict,
    schedules: dict,
    note: str,
    by,
    dose_steps: list[dict] | None = None,
) -> ProtocolVersion:
    """Apply an admin's edit: in place while no course uses the version, else as a new version.

    ``schedules`` maps check type -> {field: value}. ``dose_steps`` (step-up dosing, a list of
    DoseStep settings in order) replaces the version's steps; None keeps them (copied to a new
    version). Courses keep the version they started on; the new version is what new courses get.
    """
    version = ProtocolVersion.objects.select_for_update().get(pk=version.pk)
    if not note.strip():
        raise ValidationError({"change_note": gettext("Say what changed and why.")})
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
    check_alert_settings(target)
    from monitoring import journey  # journey's services build on these ones

    journey.check_protocol(target)
    target.full_clean(exclude=["protocol"])
    target.save()
    current = {s.check_type: s for s in version.schedules.all()}
    for check_type, values in schedules.items():
        schedule = current.get(check_type)
        if in_use or schedule is None:
            base = schedule.settings() if schedule else {}
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
                    **schedule.settings(),
                )
        from monitoring.dosing import copy_dose_steps  # dosing builds on this module

        copy_dose_steps(version, target)
        if version.is_active and target.is_active:
            version.is_active = False  # new courses get the new version
            version.save(update_fields=["is_active"])
    if dose_steps is not None:
        from monitoring.dosing import replace_dose_steps

        replace_dose_steps(target, dose_steps)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.PROTOCOL_CHANGED,
            summary=f"{target} {'created from' if in_use else 'edited, was'} "
            f"v{version.number}: {note}",
            details={
                "protocol": version.protocol_id,
                "from_version": version.pk,
                "to_version": target.pk,
                "changes": {k: _plain(v) for k, v in changes.items()},
                "schedules": {
                    k: {f: _plain(v) for f, v in vals.items()} for k, vals in schedules.items()
                },
                **({"dose_steps": dose_steps} if dose_steps is not None else {}),
            },
        )
    return target


def move_refusal(course, version: ProtocolVersion) -> str | None:
    """Why ``move_course_to_version`` refuses to move this course to ``version``, or None.
    Pages ask beforehand to say which courses cannot move; the service asks again under lock."""
    if not course.is_under_monitoring:
        return gettext("Monitoring of this course has ended: its protocol version stays.")
    if course.protocol_version_id == version.pk:
        return gettext("The course already follows %(version)s.") % {"version": version}
    if not version.applies_to(course.product_id):
        return gettext("%(version)s does not apply to %(product)s courses.") % {
            "version": version,
            "product": course.product_label,
        }
    return None


@transaction.atomic
def move_course_to_version(*, course, version: ProtocolVersion, reason: str, by):
    """Move a course to another protocol version, on purpose and on the record; only while the
    course is under monitoring (an ended course keeps the version it was monitored by) and to
    a version that applies to its product."""
    status = _lock_status(course)
    # Read again under the lock: monitoring may have ended (or another move happened) since
    # the caller loaded the course.
    course.status, course.protocol_version_id = TreatmentCourse.objects.values_list(
        "status", "protocol_version"
    ).get(pk=course.pk)
    refusal = move_refusal(course, version)
    if refusal:
        raise ValidationError(refusal)
    if not reason.strip():
        raise ValidationError({"reason": gettext("Say why the course changes protocol version.")})
    previous = course.protocol_version
    course.protocol_version = version
    course.save(update_fields=["protocol_version"])
    refresh_status(status)
    from monitoring import dosing  # dosing builds on this module

    dosing.mark_dosed(course)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.COURSE_PROTOCOL_MOVED,
            course=course,
            summary=f"Moved from {previous or 'no protocol'} to {version}: {reason}",
            details={"from": previous.pk if previous else None, "to": version.pk},
        )
    return course


class MovesRefused(ValidationError):
    """Some courses of a move of several cannot move; none moved. ``refused`` pairs each such
    course with why (the single move's reason)."""

    def __init__(self, refused: list[tuple[TreatmentCourse, str]]):
        super().__init__([f"{course.patient}: {why}" for course, why in refused])
        self.refused = refused


@transaction.atomic
def move_courses_to_version(*, courses, version: ProtocolVersion, reason: str, by) -> list:
    """Move several courses to a version at once: all of them or none (``MovesRefused`` names
    each course that cannot move), each one moved and audited as a single move is."""
    courses = list(courses)
    if not courses:
        raise ValidationError({"courses": gettext("Choose at least one course to move.")})
    if not reason.strip():
        raise ValidationError({"reason": gettext("Say why the courses change protocol version.")})
    refused = []
    for course in courses:
        try:
            move_course_to_version(course=course, version=version, reason=reason, by=by)
        except ValidationError as error:
            refused.append((course, " ".join(error.messages)))
    if refused:
        raise MovesRefused(refused)  # leaving the transaction undoes the moves made above
    return courses


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
        with _in_english():
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


# ---------------------------------------------------------------------------------------------
# A course's life: admission, start, transfer, end of monitoring, and corrections of day 0 and
# of the patient's date of birth and weight (views/courses.py). Each regrades what it changes
# and keeps the old value beside the new one in the audit log.
# ---------------------------------------------------------------------------------------------

# Plausible ranges, with the database's absolute bounds (models/constraints.py) behind them.
INFUSION_PAST = timedelta(days=365)  # a course is started (or day 0 corrected) within a year
INFUSION_AHEAD = timedelta(days=7)  # a course may be set up before a planned infusion
MAX_AGE_YEARS = 120


def _when(at: datetime) -> str:
    return f"{timezone.localtime(at):%Y-%m-%d %H:%M}"


def check_infusion_time(infused_at: datetime, *, now: datetime | None = None) -> None:
    """Day 0 within the last year and at most a week ahead; refused with the allowed range."""
    if infused_at is None or timezone.is_naive(infused_at):
        raise ValidationError({"infused_at": gettext("Give the infusion date and time.")})
    now = now or timezone.now()
    earliest, latest = now - INFUSION_PAST, now + INFUSION_AHEAD
    # The year first: comparing a moment in year 1 or 9999 across time zones can overflow.
    if not (earliest.year <= infused_at.year <= latest.year and earliest <= infused_at <= latest):
        raise ValidationError(
            {
                "infused_at": gettext(
                    "The infusion (day 0) must be within the last year and at most a week "
                    "ahead: between %(earliest)s and %(latest)s (got %(got)s)."
                )
                % {
                    "earliest": _when(earliest),
                    "latest": _when(latest),
                    "got": f"{infused_at:%Y-%m-%d %H:%M}",
                }
            },
            code="out_of_range",
        )


def check_date_of_birth(date_of_birth: date, *, today: date | None = None) -> None:
    """An age of 0-120 years today; refused with the allowed range."""
    today = today or timezone.localdate()
    try:
        earliest = today.replace(year=today.year - MAX_AGE_YEARS)
    except ValueError:  # today is 29 February
        earliest = today.replace(year=today.year - MAX_AGE_YEARS, day=28)
    earliest = max(earliest, EARLIEST_DATE)
    if date_of_birth is None or not earliest <= date_of_birth <= min(today, LATEST_DATE):
        raise ValidationError(
            {
                "date_of_birth": (
                    gettext(
                        "The date of birth must give an age of 0-%(max)s years: between "
                        "%(earliest)s and %(latest)s (got %(got)s)."
                    )
                    if date_of_birth
                    else gettext(
                        "The date of birth must give an age of 0-%(max)s years: between "
                        "%(earliest)s and %(latest)s."
                    )
                )
                % {
                    "max": MAX_AGE_YEARS,
                    "earliest": f"{earliest:%Y-%m-%d}",
                    "latest": f"{today:%Y-%m-%d}",
                    "got": f"{date_of_birth:%Y-%m-%d}" if date_of_birth else "",
                }
            },
            code="out_of_range",
        )


def check_weight(weight_kg) -> None:
    """1-350 kg (tocilizumab is dosed by it); refused with the allowed range."""
    low, high = WEIGHT_KG_RANGE
    if not low <= _kg(weight_kg) <= high:
        raise ValidationError(
            {
                "weight_kg": gettext(
                    "The weight must be between %(low)s and %(high)s kg (got %(got)s)."
                )
                % {"low": low, "high": high, "got": weight_kg}
            },
            code="out_of_range",
        )


def _kg(weight_kg) -> Decimal:
    """A weight as a Decimal; anything not a finite number as 0 (below every plausible one)."""
    try:
        value = Decimal(str(weight_kg))
    except ArithmeticError:  # "heavy", None
        return Decimal(0)
    return value if value.is_finite() else Decimal(0)


def _check_born_before(patient: Patient, infused_at: datetime) -> None:
    if patient.date_of_birth > timezone.localdate(infused_at):
        raise ValidationError(
            {
                "infused_at": gettext(
                    "The infusion (%(infused)s) cannot be before the patient's date of birth "
                    "(%(born)s)."
                )
                % {"infused": _when(infused_at), "born": f"{patient.date_of_birth:%Y-%m-%d}"}
            }
        )


def _required(field: str, text: str, message: str) -> str:
    if not (text or "").strip():
        raise ValidationError({field: message})
    return text.strip()


@transaction.atomic
def admit_patient(
    *, mrn: str, given_name: str, family_name: str, date_of_birth: date, sex: str, weight_kg, by
) -> Patient:
    """Register a new patient by MRN, or return the patient already registered with it.

    An MRN on file is taken only when the name and date of birth match it too: a typo in the
    MRN must not attach a course to someone else (and does not reveal who that is). A new
    weight for a known patient is recorded as a correction, old and new audited.
    """
    mrn = _required("mrn", mrn, gettext("Give the patient's MRN."))
    check_date_of_birth(date_of_birth)
    check_weight(weight_kg)
    patient = Patient.objects.select_for_update().filter(mrn=mrn).first()
    if patient is not None:
        same = (
            patient.given_name.strip().casefold() == given_name.strip().casefold()
            and patient.family_name.strip().casefold() == family_name.strip().casefold()
            and patient.date_of_birth == date_of_birth
        )
        if not same:
            raise ValidationError(
                {
                    "mrn": gettext(
                        "MRN %(mrn)s is already registered with another name or date of birth. "
                        "Check the MRN; if the details on file are wrong, correct them on the "
                        "patient's course page."
                    )
                    % {"mrn": mrn}
                }
            )
        if _kg(weight_kg) != patient.weight_kg:
            correct_patient_details(
                patient=patient, weight_kg=weight_kg, reason="Weight at admission", by=by
            )
        return patient
    patient = Patient(
        mrn=mrn,
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        date_of_birth=date_of_birth,
        sex=sex,
        weight_kg=weight_kg,
    )
    patient.full_clean()
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError as error:  # registered by someone else a moment ago
        raise ValidationError(
            {"mrn": gettext("MRN %(mrn)s was just registered: try again.") % {"mrn": mrn}}
        ) from error
    with _in_english():
        audit(
            by,
            AuditEvent.Action.PATIENT_ADMITTED,
            patient=patient,
            summary=f"Patient admitted: {patient}, born {date_of_birth:%Y-%m-%d}, "
            f"{patient.get_sex_display().lower()}, {weight_kg} kg",
        )
    return patient


def check_new_course(course: TreatmentCourse) -> None:
    """What start_course refuses, for forms that must say so before saving (the admin's)."""
    check_infusion_time(course.infused_at)
    if course.product_id is not None and not course.product.is_active:
        raise ValidationError(
            {
                "product": gettext("%(product)s is retired: choose an active product.")
                % {"product": course.product.label}
            }
        )
    if course.patient_id is None:
        return
    _check_born_before(course.patient, course.infused_at)
    check_one_active_course(course.patient)


def check_one_active_course(patient: Patient) -> None:
    """A patient has one planned or monitored course at a time (the nurse's check page and the
    program page resolve "the" course of a patient)."""
    active = TreatmentCourse.objects.active().filter(patient=patient)
    if active.filter(status=TreatmentCourse.Status.PLANNED).exists():
        raise ValidationError(
            gettext(
                "%(patient)s already has a planned course (registered for therapy): start its "
                "monitoring at the infusion, or end it, before starting another."
            )
            % {"patient": patient.full_name}
        )
    if active.exists():
        raise ValidationError(
            gettext(
                "%(patient)s is already under monitoring: end that course's monitoring before "
                "starting another."
            )
            % {"patient": patient.full_name}
        )


@transaction.atomic
def start_course(*, course: TreatmentCourse, by) -> TreatmentCourse:
    """Save a new course on the protocol version that applies to its product."""
    # One start per patient at a time: the check below and the save see the same courses.
    course.patient = Patient.objects.select_for_update().get(pk=course.patient_id)
    check_new_course(course)
    course.status = TreatmentCourse.Status.MONITORING
    if course.protocol_version_id is None:
        course.protocol_version = protocol_version_for(course.product_id)
    course.full_clean()
    course.save()
    refresh_status(_lock_status(course))  # nothing done yet: everything due from day 0
    from monitoring import dosing  # dosing builds on this module

    dosing.mark_dosed(course)  # an engager's checks wait for its first dose's window
    with _in_english():
        audit(
            by,
            AuditEvent.Action.COURSE_STARTED,
            course=course,
            summary=f"{course.product_label} course started on "
            f"{course.protocol_version or 'no protocol'}: day 0 {_when(course.infused_at)}, "
            f"{course.unit}, {course.get_care_setting_display().lower()}",
            details={
                "infused_at": course.infused_at.isoformat(),
                "unit": course.unit_id,
                "care_setting": course.care_setting,
            },
        )
    return course


def _regrade_whole_course(
    course: TreatmentCourse, status: CourseStatus, *, by, reason: str
) -> list[str]:
    """Regrade every moment of the course after a correction (the engine, via ``_regrade``:
    each changed grade keeps its earlier version and is audited) and refresh its status row;
    say which grades changed ("at D+2 08:00: CRS 1 → —")."""
    engine, snapshots = load_engine(course)
    revisions = _regrade(
        engine, snapshots, since=None, why=reason, by=by, course=course, now=timezone.now()
    )
    _save_flags(engine)
    refresh_status(status, engine=engine, snapshots=snapshots)
    return [revision.summary(engine.label) for revision in revisions]


def _regrade_text(changes: list[str]) -> str:
    if not changes:
        return "no grade changed"
    shown = "; ".join(changes[:10])
    return f"regraded {shown}" + (f" and {len(changes) - 10} more" if len(changes) > 10 else "")


def _first_record_at(course: TreatmentCourse) -> datetime | None:
    """The earliest check or check-not-done of the course."""
    checks = BedsideCheck.objects.filter(course=course).aggregate(at=Min("observed_at"))["at"]
    not_done = CheckNotDone.objects.filter(course=course).aggregate(at=Min("observed_at"))["at"]
    return min((at for at in (checks, not_done) if at is not None), default=None)


@transaction.atomic
def correct_infusion_time(
    *, course: TreatmentCourse, infused_at: datetime, reason: str, by
) -> TreatmentCourse:
    """Move day 0: every D+n moves with it, and the whole course is regraded (moments before
    day 0 become an ungraded baseline; the schedule and the end of monitoring follow)."""
    status = _lock_status(course)
    reason = _required("reason", reason, gettext("Say why the infusion time is corrected."))
    old, state = TreatmentCourse.objects.values_list("infused_at", "status").get(pk=course.pk)
    if state == TreatmentCourse.Status.PLANNED:  # journey.move_planned_infusion moves it
        raise ValidationError(
            gettext(
                "This course is planned: its day 0 is the planned infusion. Move it with "
                "Move planned day 0 on the course page."
            )
        )
    check_infusion_time(infused_at)
    if infused_at == old:
        raise ValidationError(
            {"infused_at": gettext("Day 0 is already %(when)s.") % {"when": _when(old)}}
        )
    _check_born_before(course.patient, infused_at)
    first = _first_record_at(course)
    if first is not None and first < infused_at - EARLIEST_BEFORE_INFUSION:
        raise ValidationError(
            {
                "infused_at": gettext(
                    "The first check of this course (%(when)s) would be more than 7 days before "
                    "day 0: a course's checks start at most a week before the infusion. Is this "
                    "the right patient's course?"
                )
                % {"when": _when(first)}
            }
        )
    course.infused_at = infused_at
    course.save(update_fields=["infused_at"])
    changes = _regrade_whole_course(course, status, by=by, reason=reason)
    shift = (timezone.localdate(infused_at) - timezone.localdate(old)).days
    with _in_english():
        audit(
            by,
            AuditEvent.Action.INFUSION_CORRECTED,
            course=course,
            summary=f"Infusion (day 0) corrected {_when(old)} → {_when(infused_at)} ({reason}); "
            f"every D+n moves by {-shift:+d} day(s); {_regrade_text(changes)}",
            details={
                "infused_at": [old.isoformat(), infused_at.isoformat()],
                "regraded": changes,
            },
        )
    return course


@transaction.atomic
def transfer_course(*, course: TreatmentCourse, unit: Unit, bed: str = "", reason: str = "", by):
    """Move a course under monitoring to another unit (and bed): its team sees it from now on,
    and that unit's rota is told of its flags."""
    _lock_status(course)
    current = TreatmentCourse.objects.select_related("unit").get(pk=course.pk)
    if current.status != TreatmentCourse.Status.MONITORING:
        raise ValidationError(gettext("Monitoring of this course has ended: it stays on its unit."))
    if unit.pk == current.unit_id:
        raise ValidationError(
            {"unit": gettext("The course is already on %(unit)s.") % {"unit": unit}}
        )
    course.unit, course.bed = unit, (bed or "").strip()[:16]
    course.save(update_fields=["unit", "bed"])
    reason = (reason or "").strip()
    where = f"{unit}, bed {course.bed}" if course.bed else str(unit)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.COURSE_TRANSFERRED,
            course=course,
            summary=f"Transferred {current.unit} → {where}" + (f" ({reason})" if reason else ""),
            details={"unit": [current.unit_id, unit.pk], "bed": [current.bed, course.bed]},
        )
    return course


@transaction.atomic
def correct_patient_details(
    *, patient: Patient, date_of_birth: date | None = None, weight_kg=None, reason: str, by
) -> Patient:
    """Correct the date of birth or the weight, old and new audited.

    Age decides ICE or CAPD, a child's blood pressure limits and whether NEWS2 applies, so a
    new date of birth regrades every course of the patient. No grade uses the weight: the
    tocilizumab dose advice reads it when it is shown, so it follows at once.
    """
    reason = _required("reason", reason, gettext("Say why the details are corrected."))
    courses = list(TreatmentCourse.objects.filter(patient=patient).order_by("pk"))
    statuses = [_lock_status(course) for course in courses]  # in one order: no deadlock
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    changes = {}
    if date_of_birth is not None and date_of_birth != patient.date_of_birth:
        check_date_of_birth(date_of_birth)
        first_day = min((timezone.localdate(c.infused_at) for c in courses), default=None)
        if first_day is not None and date_of_birth > first_day:
            raise ValidationError(
                {
                    "date_of_birth": gettext(
                        "The date of birth cannot be after the infusion on %(day)s."
                    )
                    % {"day": f"{first_day:%Y-%m-%d}"}
                }
            )
        changes["date_of_birth"] = (patient.date_of_birth, date_of_birth)
    if weight_kg is not None and _kg(weight_kg) != patient.weight_kg:
        check_weight(weight_kg)
        changes["weight_kg"] = (patient.weight_kg, _kg(weight_kg))
    if not changes:
        raise ValidationError(gettext("Nothing to correct: the values are those on file."))
    for name, (_, new) in changes.items():
        setattr(patient, name, new)
    patient.full_clean(validate_unique=False, validate_constraints=False)
    patient.save(update_fields=list(changes))
    regraded = []
    if "date_of_birth" in changes:
        for course, status in zip(courses, statuses, strict=True):
            course.patient = patient  # the timeline reads the age from the new date of birth
            regraded += _regrade_whole_course(course, status, by=by, reason=reason)
    words = {"date_of_birth": "date of birth", "weight_kg": "weight (kg)"}
    with _in_english():
        audit(
            by,
            AuditEvent.Action.PATIENT_CORRECTED,
            patient=patient,
            course=courses[-1] if courses else None,
            summary="; ".join(f"{words[n]} {old} → {new}" for n, (old, new) in changes.items())
            + f" ({reason})"
            + (f"; {_regrade_text(regraded)}" if "date_of_birth" in changes else ""),
            details={
                "changes": {n: [str(old), str(new)] for n, (old, new) in changes.items()},
                "regraded": regraded,
            },
        )
    return patient


ENDED_STATUSES = [
    status
    for status in TreatmentCourse.Status
    if status not in (TreatmentCourse.Status.MONITORING, TreatmentCourse.Status.PLANNED)
]


@transaction.atomic
def end_monitoring(
    *, course: TreatmentCourse, outcome: str, ended_at: datetime, reason: str, by
) -> TreatmentCourse:
    """End a course's monitoring (completed, discontinued, transferred out, died): it leaves
    the worklist and the due checks, and its open flags are closed with the same reason."""
    status = _lock_status(course)
    current = TreatmentCourse.objects.get(pk=course.pk)
    if current.status != TreatmentCourse.Status.MONITORING:
        raise ValidationError(
            gettext("Monitoring of this course already ended (%(status)s).")
            % {"status": current.get_status_display()}
        )
    if outcome not in ENDED_STATUSES:
        raise ValidationError({"outcome": gettext("Choose how monitoring ended.")})
    reason = _required("reason", reason, gettext("Say why monitoring ends."))
    if ended_at is None or timezone.is_naive(ended_at):
        raise ValidationError({"ended_at": gettext("Give the date and time monitoring ended.")})
    now = timezone.now()
    earliest = max(current.infused_at - EARLIEST_BEFORE_INFUSION, now - INFUSION_PAST)
    last_check = BedsideCheck.objects.filter(course=course).aggregate(at=Max("observed_at"))["at"]
    if last_check is not None:
        earliest = max(earliest, last_check)
    if not (earliest.year <= ended_at.year <= now.year and earliest <= ended_at):
        raise ValidationError(
            {
                "ended_at": (
                    gettext(
                        "Monitoring cannot end before %(earliest)s (the last check recorded) "
                        "(got %(got)s)."
                    )
                    if earliest == last_check
                    else gettext("Monitoring cannot end before %(earliest)s (got %(got)s).")
                )
                % {"earliest": _when(earliest), "got": f"{ended_at:%Y-%m-%d %H:%M}"}
            }
        )
    if ended_at > now + CLOCK_SKEW:
        raise ValidationError({"ended_at": gettext("Monitoring cannot end in the future.")})
    label = _english(TreatmentCourse.Status(outcome).label)  # it goes into stored text
    course.status, course.monitoring_ended_at = outcome, ended_at
    course.end_reason, course.ended_by = reason, by
    course.save(update_fields=["status", "monitoring_ended_at", "end_reason", "ended_by"])
    closed = []
    for flag in Flag.objects.unresolved().filter(course=course).select_for_update():
        _close_flag(flag, by=by, reason=f"Monitoring ended ({label.lower()}): {reason}", at=now)
        closed.append(flag.pk)
    refresh_status(status)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.MONITORING_ENDED,
            course=course,
            summary=f"Monitoring ended at {_when(ended_at)}: under monitoring → {label.lower()} "
            f"({reason}); {len(closed)} open flag{'s' if len(closed) != 1 else ''} closed",
            details={
                "status": [TreatmentCourse.Status.MONITORING, outcome],
                "ended_at": ended_at.isoformat(),
                "closed_flags": closed,
            },
        )
    return course


# ---------------------------------------------------------------------------------------------
# The on-call rota (views/rota.py): who holds each tier of a unit's escalation ladder
# ---------------------------------------------------------------------------------------------

SHIFT_MAX_LENGTH = timedelta(days=7)
SHIFT_MAX_AHEAD = timedelta(days=30)  # how far ahead a shift may be put on the rota
SHIFT_MAX_LATE = timedelta(hours=1)  # a shift may be entered up to an hour after it began


def shift_when(at: datetime | None) -> str:
    """ "Thu 03 Dec 08:00" in local time; "until ended" for an open-ended shift's end."""
    return f"{timezone.localtime(at):%a %d %b %H:%M}" if at else "until ended"


def _shown_when(at: datetime | None) -> str:
    """ "Thu 03 Dec 08:00" in the reader's language (``shift_when`` is the audit log's English)."""
    if at is None:
        return gettext("until ended")
    return formats.date_format(timezone.localtime(at), "D d M H:i")


def check_on_call_shift(
    *, unit: Unit, tier: str, user, starts_at, ends_at, by, now: datetime | None = None
) -> None:
    """What the rota refuses, with a message per field: another unit than the editor's, an
    unknown tier, a person who is not an active member of the unit (or a wall screen), a start
    more than an hour past or 30 days ahead, an end not after the start, not in the future or
    more than 7 days after the start, and the same person already on call for that tier then."""
    now = now or timezone.now()
    errors: dict[str, str] = {}
    if not units_for(by).filter(pk=unit.pk).exists():
        errors["unit"] = gettext("You can edit the rota of your own units only.")
    if tier not in alert_rules.TIER_LABELS:
        errors["tier"] = gettext("Choose a tier of the escalation ladder.")
    name = _name(user)
    if not user.is_active:
        errors["user"] = gettext("%(name)s's account is inactive: they cannot be on call.") % {
            "name": name
        }
    elif not user.can_receive_notifications:
        errors["user"] = gettext("%(name)s is a wall-display login: it cannot be on call.") % {
            "name": name
        }
    elif not user.units.filter(pk=unit.pk).exists():
        errors["user"] = gettext(
            "%(name)s is not a member of %(unit)s: only its staff can be on call."
        ) % {"name": name, "unit": unit.name}
    earliest, latest = now - SHIFT_MAX_LATE, now + SHIFT_MAX_AHEAD
    if starts_at is None or timezone.is_naive(starts_at):
        errors["starts_at"] = gettext("Give the date and time the shift starts.")
    elif not (earliest.year <= starts_at.year <= latest.year and earliest <= starts_at <= latest):
        errors["starts_at"] = gettext(
            "A shift starts at most an hour ago and at most 30 days ahead: between "
            "%(earliest)s and %(latest)s (got %(got)s)."
        ) % {
            "earliest": _when(earliest),
            "latest": _when(latest),
            "got": f"{starts_at:%Y-%m-%d %H:%M}",
        }
    elif ends_at is not None:
        if timezone.is_naive(ends_at):
            errors["ends_at"] = gettext("Give the end as a date and time, or leave it blank.")
        elif ends_at <= starts_at:
            errors["ends_at"] = gettext("The shift must end after it starts (%(when)s).") % {
                "when": _when(starts_at)
            }
        elif ends_at <= now:
            errors["ends_at"] = gettext("The shift must end in the future.")
        elif ends_at - starts_at > SHIFT_MAX_LENGTH:
            errors["ends_at"] = gettext(
                "A shift lasts at most 7 days: end it by %(latest)s (got %(got)s)."
            ) % {"latest": _when(starts_at + SHIFT_MAX_LENGTH), "got": f"{ends_at:%Y-%m-%d %H:%M}"}
    if not errors:
        overlapping = OnCallShift.objects.filter(unit=unit, tier=tier, user=user).filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=starts_at)
        )
        if ends_at is not None:
            overlapping = overlapping.filter(starts_at__lt=ends_at)
        clash = overlapping.order_by("starts_at").first()
        if clash is not None:
            shown = {
                "name": name,
                "tier": TIER_LABELS[tier],
                "unit": unit.name,
                "start": _shown_when(clash.starts_at),
                "end": _shown_when(clash.ends_at),
            }
            if clash.ends_at:
                message = gettext(
                    "%(name)s is already on call as %(tier)s on %(unit)s from %(start)s to %(end)s."
                )
            else:
                message = gettext(
                    "%(name)s is already on call as %(tier)s on %(unit)s from %(start)s "
                    "until ended."
                )
            errors["user"] = message % shown
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def add_on_call_shift(
    *, unit: Unit, tier: str, user, starts_at=None, ends_at=None, by, now=None
) -> OnCallShift:
    """Put someone on call for a tier of a unit's ladder (open-ended without ``ends_at``)."""
    now = now or timezone.now()
    unit = Unit.objects.select_for_update().get(pk=unit.pk)  # one rota writer per unit at once
    starts_at = starts_at or now
    check_on_call_shift(
        unit=unit, tier=tier, user=user, starts_at=starts_at, ends_at=ends_at, by=by, now=now
    )
    shift = OnCallShift.objects.create(
        unit=unit,
        tier=tier,
        user=user,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=by,
        created_at=now,
    )
    with _in_english():
        audit(
            by,
            AuditEvent.Action.ROTA_CHANGED,
            summary=shift_text(shift),
            details=_shift_details(shift),
        )
    return shift


def shift_text(shift: OnCallShift) -> str:
    """ "Ward 7: Dr X on call as Attending physician from Thu 03 Dec 08:00 to … 20:00"."""
    ends = f"to {shift_when(shift.ends_at)}" if shift.ends_at else "until ended"
    return (
        f"{shift.unit.name}: {_name(shift.user)} on call as "
        f"{alert_rules.TIER_LABELS[shift.tier]} from {shift_when(shift.starts_at)} {ends}"
    )


@transaction.atomic
def end_on_call_shift(*, shift: OnCallShift, by, now=None) -> OnCallShift:
    """End a shift now (it is never deleted: the rota's history stays)."""
    now = now or timezone.now()
    shift = OnCallShift.objects.select_for_update().select_related("unit", "user").get(pk=shift.pk)
    if not units_for(by).filter(pk=shift.unit_id).exists():
        raise ValidationError(gettext("You can edit the rota of your own units only."))
    if shift.ends_at is not None and shift.ends_at <= now:
        raise ValidationError(
            gettext("This shift has already ended (%(when)s).")
            % {"when": _shown_when(shift.ends_at)}
        )
    if shift.starts_at >= now:
        raise ValidationError(
            gettext("This shift has not started yet (%(when)s): it can be ended once it has begun.")
            % {"when": _shown_when(shift.starts_at)}
        )
    planned = shift.ends_at
    shift.ends_at = now
    shift.save(update_fields=["ends_at"])
    with _in_english():
        audit(
            by,
            AuditEvent.Action.ROTA_CHANGED,
            summary=f"{shift.unit.name}: {_name(shift.user)}'s shift as "
            f"{alert_rules.TIER_LABELS[shift.tier]} (from {shift_when(shift.starts_at)}, "
            f"{'planned to ' + shift_when(planned) if planned else 'open-ended'}) ended early by "
            f"{_name(by)}",
            details={
                **_shift_details(shift),
                "planned_end": planned.isoformat() if planned else None,
            },
        )
    return shift


def _shift_details(shift: OnCallShift) -> dict:
    return {
        "shift": shift.pk,
        "unit": shift.unit_id,
        "tier": shift.tier,
        "user": shift.user_id,
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat() if shift.ends_at else None,
    }


# ---------------------------------------------------------------------------------------------
# Outpatients: the course's care setting and each check's setting (issue 14)
# ---------------------------------------------------------------------------------------------


def _choices_text(choices) -> str:
    return ", ".join(f"{label} ({value})" for value, label in choices)


def check_setting_values(setting: str, sections: dict) -> None:
    """Refuse an unknown setting, and what its setting cannot measure (``REMOTE_CHECKS``: by
    phone, symptoms, a temperature taken at home and medicines taken — no other vital sign, no
    neuro screen, no lab), each message on the section it names."""
    if setting not in CheckSetting.values:
        raise ValidationError(
            {
                "setting": gettext("Unknown check setting %(value)s: choose one of %(choices)s.")
                % {"value": setting, "choices": _choices_text(CheckSetting.choices)}
            }
        )
    if setting not in REMOTE_CHECKS:
        return
    allowed_sections, allowed_vitals = REMOTE_CHECKS[setting]
    where = CheckSetting(setting).label
    errors: dict[str, list[str]] = {}
    for name, values in sections.items():
        if not values:
            continue
        if name not in allowed_sections:
            errors[name] = [
                gettext(
                    "A %(setting)s check cannot record %(section)s: record it at a ward or clinic "
                    "check. By %(setting)s: %(allowed)s."
                )
                % {
                    "setting": str(where).lower(),
                    "section": str(SECTION_NAMES[name]),
                    "allowed": remote_allowed_text(setting),
                }
            ]
    measured = [
        field
        for field, value in (sections.get("vitals") or {}).items()
        if field not in allowed_vitals and value not in (None, "", 0, False)
    ]
    if measured:
        errors.setdefault("vitals", []).append(
            gettext(
                "A %(setting)s check cannot measure %(values)s: only %(allowed)s. Clear them, or "
                "record them at a ward or clinic check."
            )
            % {
                "setting": str(where).lower(),
                "values": _vital_names(measured),
                "allowed": _home_vitals_text(allowed_vitals),
            }
        )
    if errors:
        raise ValidationError(errors)


# Section names for messages, in the reader's language.
SECTION_NAMES = {
    "vitals": gettext_lazy("vital signs"),
    "symptoms": gettext_lazy("symptoms"),
    "neuro": gettext_lazy("a neurological assessment (ICE/CAPD)"),
    "labs": gettext_lazy("lab results"),
    "treatment": gettext_lazy("treatments"),
}


def _vital_names(fields) -> str:
    return ", ".join(str(VitalSigns._meta.get_field(field).verbose_name) for field in fields)


def _home_vitals_text(vitals) -> str:
    """ "temperature taken at home (no other vital sign)", or the list when there are more."""
    if set(vitals) == {"temp_c"}:
        return gettext("temperature taken at home (no other vital sign)")
    ordered = [f.name for f in VitalSigns._meta.get_fields() if f.name in vitals]
    return gettext("%(values)s taken at home (no other vital sign)") % {
        "values": _vital_names(ordered)
    }


def remote_allowed_text(setting: str) -> str:
    """What a check in ``setting`` records, for the page and its messages."""
    sections, vitals = REMOTE_CHECKS.get(setting, (SECTION_NAMES.keys(), ()))
    parts = [str(SECTION_NAMES[name]) for name in SECTION_NAMES if name in sections]
    if "vitals" in sections and vitals:
        parts[parts.index(str(SECTION_NAMES["vitals"]))] = _home_vitals_text(vitals)
    return ", ".join(parts)


@transaction.atomic
def change_care_setting(*, course: TreatmentCourse, care_setting: str, reason: str, by):
    """Admit an outpatient to the ward (e.g. for CRS) or discharge an inpatient to outpatient
    follow-up: old → new with why, in the audit log. Records and grades are unchanged."""
    _lock_status(course)
    current = TreatmentCourse.objects.get(pk=course.pk)
    if current.status != TreatmentCourse.Status.MONITORING:
        raise ValidationError(
            gettext("Monitoring of this course has ended: its care setting stays as it was.")
        )
    if care_setting not in CareSetting.values:
        raise ValidationError(
            {
                "care_setting": gettext(
                    "Unknown care setting %(value)s: choose one of %(choices)s."
                )
                % {"value": care_setting, "choices": _choices_text(CareSetting.choices)}
            }
        )
    if care_setting == current.care_setting:
        raise ValidationError(
            {
                "care_setting": gettext("The course is already %(setting)s.")
                % {"setting": str(CareSetting(care_setting).label).lower()}
            }
        )
    reason = _required(
        "reason", reason, gettext("Say why the care setting changes (kept in the audit log).")
    )
    course.care_setting = care_setting
    details = {"care_setting": [current.care_setting, care_setting], "reason": reason}
    freed = ""
    if care_setting == CareSetting.OUTPATIENT and current.bed:
        # A discharged patient no longer holds a bed: the board and the wall would show one.
        course.bed = ""
        details["bed"] = [current.bed, ""]
        freed = f"; bed {current.bed} freed"
    course.save(update_fields=["care_setting", "bed"])
    with _in_english():
        old, new = CareSetting(current.care_setting).label, CareSetting(care_setting).label
        audit(
            by,
            AuditEvent.Action.CARE_SETTING_CHANGED,
            course=course,
            summary=f"Care setting {str(old).lower()} → {str(new).lower()}{freed} ({reason})",
            details=details,
        )
    return course
