"""The treatment journey's write paths and reads: register a patient for therapy (a planned
course, before day 0), move its planned day 0, record its phases and pre-infusion baseline,
start monitoring at the infusion, record follow-up visits done or missed, end the journey.

Every write validates, saves and audits old → new in one transaction (monitoring.services'
``audit`` in English). Nothing recorded is overwritten: a correction is a new row that supersedes
the old one, with who, when and why (models/journey.py). The rules and defaults are
``journey_rules``'s; docs/clinical-rules.md ("Treatment journey") says where each comes from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from monitoring import journey_rules, services
from monitoring.models import (
    LAB_RANGES,
    AuditEvent,
    BaselineItem,
    CoursePhase,
    FollowUpVisit,
    LabResult,
    Patient,
    Phase,
    RecordStatus,
    TreatmentCourse,
)
from monitoring.models.courses import CLOCK_SKEW
from monitoring.services import _in_english, _when, audit

PLANNED = TreatmentCourse.Status.PLANNED
MONITORING = TreatmentCourse.Status.MONITORING
COMPLETED = TreatmentCourse.Status.COMPLETED
# How a planned course ends before day 0 (no infusion): the end_monitoring outcomes but
# "completed", with its reason.
PLANNED_OUTCOMES = [
    TreatmentCourse.Status.DISCONTINUED,
    TreatmentCourse.Status.TRANSFERRED_OUT,
    TreatmentCourse.Status.DIED,
]
PAST_LIMIT = timedelta(days=365)  # a phase or referral is documented within a year


def _day(value: date | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "—"


def _lock_course(course: TreatmentCourse) -> TreatmentCourse:
    """The course row, locked, as it is now (status and day 0 may have changed meanwhile)."""
    return TreatmentCourse.objects.select_for_update().select_related("patient").get(pk=course.pk)


# ---------------------------------------------------------------------------------------------
# Registration at referral, and the start of monitoring at the infusion
# ---------------------------------------------------------------------------------------------


def check_planned_infusion(planned_at: datetime, *, now: datetime | None = None) -> None:
    """A planned day 0 from now to PLANNED_AHEAD_DAYS ahead; refused with the allowed range."""
    if planned_at is None or timezone.is_naive(planned_at):
        raise ValidationError({"infused_at": gettext("Give the planned infusion date and time.")})
    now = now or timezone.now()
    latest = now + timedelta(days=journey_rules.PLANNED_AHEAD_DAYS)
    if not (now.year - 1 <= planned_at.year <= latest.year and now <= planned_at <= latest):
        raise ValidationError(
            {
                "infused_at": gettext(
                    "The planned infusion (day 0) must be between now and %(days)s days ahead: "
                    "between %(earliest)s and %(latest)s (got %(got)s)."
                )
                % {
                    "days": journey_rules.PLANNED_AHEAD_DAYS,
                    "earliest": _when(now),
                    "latest": _when(latest),
                    "got": f"{planned_at:%Y-%m-%d %H:%M}",
                }
            },
            code="out_of_range",
        )


def check_past_date(name: str, value: date | None, *, label: str, required: bool = True) -> None:
    """A documented date within the last year and not in the future."""
    if value is None:
        if required:
            raise ValidationError({name: gettext("Give the date (%(what)s).") % {"what": label}})
        return
    today = timezone.localdate()
    earliest = today - PAST_LIMIT
    if not earliest <= value <= today:
        raise ValidationError(
            {
                name: gettext(
                    "%(what)s must be within the last year and not in the future: between "
                    "%(earliest)s and %(latest)s (got %(got)s)."
                )
                % {"what": label, "earliest": earliest, "latest": today, "got": value}
            },
            code="out_of_range",
        )


@transaction.atomic
def register_course(*, course: TreatmentCourse, referred_on: date, by) -> TreatmentCourse:
    """Register a patient for therapy at referral: a planned course whose ``infused_at`` is the
    planned day 0, on the protocol version for its product, with its referral phase. It is
    on the program page, not on the worklist or the board, until monitoring starts."""
    course.patient = Patient.objects.select_for_update().get(pk=course.patient_id)
    check_planned_infusion(course.infused_at)
    check_past_date("referred_on", referred_on, label=gettext("referral date"))
    services._check_born_before(course.patient, course.infused_at)
    services.check_one_active_course(course.patient)
    course.status = PLANNED
    if course.protocol_version_id is None:
        course.protocol_version = services.protocol_version_for(course.product_id)
    course.full_clean()
    course.save()
    services._lock_status(course)  # an empty status row: pages read it as for any course
    CoursePhase.objects.create(
        course=course, phase=Phase.REFERRAL, started_on=referred_on, recorded_by=by
    )
    with _in_english():
        audit(
            by,
            AuditEvent.Action.COURSE_REGISTERED,
            course=course,
            summary=f"Registered for therapy: {course.product_label} on "
            f"{course.protocol_version or 'no protocol'}, referred {referred_on:%Y-%m-%d}, "
            f"planned day 0 {_when(course.infused_at)}, {course.unit}",
            details={
                "planned_day0": course.infused_at.isoformat(),
                "referred_on": referred_on.isoformat(),
                "unit": course.unit_id,
            },
        )
    return course


@transaction.atomic
def start_monitoring(*, course: TreatmentCourse, infused_at: datetime, by) -> TreatmentCourse:
    """The infusion was given: the planned course is under monitoring from now on, day 0 is
    the actual moment (its checks are due from it), and the missing baseline items are said
    in the audit log."""
    status = services._lock_status(course)
    current = _lock_course(course)
    if current.status != PLANNED:
        raise ValidationError(
            gettext("Only a planned course starts monitoring at its infusion (this one: %(s)s).")
            % {"s": current.get_status_display()}
        )
    services.check_infusion_time(infused_at)
    if infused_at > timezone.now() + CLOCK_SKEW:
        raise ValidationError(
            {"infused_at": gettext("The infusion is recorded once given: not in the future.")}
        )
    services._check_born_before(current.patient, infused_at)
    planned = current.infused_at
    course.status, course.infused_at = MONITORING, infused_at
    course.save(update_fields=["status", "infused_at"])
    services.refresh_status(status)  # nothing done yet: everything due from day 0
    missing = [
        row.label
        for row in baseline_checklist(course, today=timezone.localdate(infused_at))
        if row.state != "done"
    ]
    with _in_english():
        missing_text = ", ".join(str(m) for m in missing) or "none"
        audit(
            by,
            AuditEvent.Action.MONITORING_STARTED,
            course=course,
            summary=f"Infused {_when(infused_at)} (planned day 0 {_when(planned)}): planned → "
            f"under monitoring; baseline missing or stale: {missing_text}",
            details={
                "status": [PLANNED, MONITORING],
                "infused_at": [planned.isoformat(), infused_at.isoformat()],
                "baseline_missing": [str(m) for m in missing],
            },
        )
    return course


@dataclass(frozen=True)
class DateMove:
    """A date a planned journey counts from its day 0 (the planned conditioning, a follow-up
    visit), before and after day 0 moved."""

    key: str  # a phase ("conditioning") or a visit ("D+14")
    old: tuple[date, date | None]
    new: tuple[date, date | None]

    @property
    def label(self) -> str:
        if self.key in journey_rules.PHASES:
            return str(Phase(self.key).label)
        return gettext("Follow-up visit %(day)s") % {"day": self.key}

    @staticmethod
    def text(dates: tuple[date, date | None]) -> str:
        start, end = dates
        return f"{_day(start)} to {_day(end)}" if end else _day(start)


@dataclass
class PlannedMove:
    """What moving a planned day 0 did (journey.move_planned_infusion)."""

    course: TreatmentCourse
    old: datetime
    new: datetime
    moved: list[DateMove]
    kept: list  # PhaseRow: phases recorded, which keep their dates
    stale: list  # BaselineRow: items that no longer count (more than a week before day 0)

    @property
    def shift_days(self) -> int:
        return (timezone.localdate(self.new) - timezone.localdate(self.old)).days


def counted_from_day0(found: Journey) -> dict[str, tuple[date, date | None]]:
    """What a planned journey dates from its planned day 0: a phase of DAY0_PHASES not yet
    recorded (the planned conditioning) and each follow-up visit."""
    dates = {
        row.phase: (row.started_on, row.ended_on)
        for row in found.phases
        if row.planned and row.phase in journey_rules.DAY0_PHASES
    }
    dates.update({visit.label: (visit.due_on, None) for visit in found.visits})
    return dates


def kept_as_recorded(found: Journey) -> list:
    """The phases of DAY0_PHASES already recorded: they keep their dates when day 0 moves."""
    return [
        row
        for row in found.phases
        if row.record is not None and row.phase in journey_rules.DAY0_PHASES
    ]


@transaction.atomic
def move_planned_infusion(
    *, course: TreatmentCourse, infused_at: datetime, reason: str, by
) -> PlannedMove:
    """Move a planned course's day 0 (manufacturing slipped, the slot moved): within the
    planning range, with a reason. The planned conditioning and the follow-up visits counted
    from it move with it; a phase already recorded keeps its dates; a baseline more than a
    week before the new day 0 no longer counts. Audited old → new, with what moved. Once
    monitoring has started, day 0 is corrected by services.correct_infusion_time instead."""
    services._lock_status(course)  # the order start_monitoring locks in
    current = _lock_course(course)
    if current.status == MONITORING:
        raise ValidationError(
            gettext(
                "Monitoring has started: day 0 is the infusion given. Correct it with "
                "Correct infusion time (the course is regraded)."
            )
        )
    if current.status != PLANNED:
        raise ValidationError(
            gettext("This course is not planned any more (%(status)s).")
            % {"status": current.get_status_display()}
        )
    reason = services._required(
        "reason", reason, gettext("Say why the planned infusion moves (e.g. manufacturing late).")
    )
    check_planned_infusion(infused_at)
    old = current.infused_at
    if infused_at == old:
        raise ValidationError(
            {"infused_at": gettext("The planned day 0 is already %(when)s.") % {"when": _when(old)}}
        )
    services._check_born_before(current.patient, infused_at)
    today = timezone.localdate()
    phases = list(CoursePhase.objects.current().filter(course=current))
    items = list(BaselineItem.objects.current().filter(course=current))
    before = journey(current, today=today, phases=phases, items=items, done=[])
    course.infused_at = current.infused_at = infused_at
    course.save(update_fields=["infused_at"])
    after = journey(current, today=today, phases=phases, items=items, done=[])
    old_dates, new_dates = counted_from_day0(before), counted_from_day0(after)
    moved = [DateMove(key, old_dates[key], new_dates[key]) for key in old_dates]
    counted = {row.key: row.state for row in before.baseline}
    stale = [
        row for row in after.baseline if row.state == "stale" and counted.get(row.key) == "done"
    ]
    result = PlannedMove(course, old, infused_at, moved, kept_as_recorded(after), stale)
    with _in_english():
        parts = [
            f"Planned day 0 moved {_when(old)} → {_when(infused_at)} ({reason})",
            f"dates counted from it move by {result.shift_days:+d} day(s)",
        ]
        parts += [f"{m.label} {m.text(m.old)} → {m.text(m.new)}" for m in moved]
        if result.kept:
            parts.append(
                "kept as recorded: "
                + ", ".join(
                    f"{Phase(row.phase).label} from {_day(row.started_on)}" for row in result.kept
                )
            )
        if stale:
            parts.append(
                "baseline to repeat (more than 7 days before day 0): "
                + ", ".join(_baseline_label(row.key) for row in stale)
            )
        audit(
            by,
            AuditEvent.Action.PLANNED_DAY0_MOVED,
            course=course,
            summary="; ".join(parts),
            details={
                "infused_at": [old.isoformat(), infused_at.isoformat()],
                "moved": {
                    m.key: [[str(d) for d in m.old if d], [str(d) for d in m.new if d]]
                    for m in moved
                },
                "kept": [row.phase for row in result.kept],
                "baseline_stale": [row.key for row in stale],
            },
        )
    return result


@transaction.atomic
def end_journey(
    *, course: TreatmentCourse, outcome: str, ended_on: date, reason: str, by
) -> TreatmentCourse:
    """End the journey: a planned course that will not be infused (discontinued, transferred
    out, died; like end_monitoring, with its reason), or the follow-up of a course whose
    monitoring was completed (an ``ended`` phase with the reason). A course under monitoring
    ends its monitoring first (services.end_monitoring)."""
    current = _lock_course(course)
    reason = services._required("reason", reason, gettext("Say why the journey ends."))
    check_past_date("ended_on", ended_on, label=gettext("end date"))
    if current.status == PLANNED:
        if outcome not in PLANNED_OUTCOMES:
            raise ValidationError({"outcome": gettext("Choose how the planned course ended.")})
        ended_at = timezone.make_aware(datetime.combine(ended_on, datetime.min.time()))
        course.status, course.monitoring_ended_at = outcome, min(ended_at, timezone.now())
        course.end_reason, course.ended_by = reason, by
        course.save(update_fields=["status", "monitoring_ended_at", "end_reason", "ended_by"])
        with _in_english():
            label = services._english(TreatmentCourse.Status(outcome).label).lower()
            audit(
                by,
                AuditEvent.Action.JOURNEY_ENDED,
                course=course,
                summary=f"Planned course ended before day 0 on {ended_on:%Y-%m-%d}: planned → "
                f"{label} ({reason})",
                details={"status": [PLANNED, outcome], "ended_on": ended_on.isoformat()},
            )
        return course
    if current.status == MONITORING:
        raise ValidationError(
            gettext("The course is under monitoring: end its monitoring first (End monitoring).")
        )
    if current.status != COMPLETED:
        raise ValidationError(
            gettext("This journey already ended (%(status)s).")
            % {"status": current.get_status_display()}
        )
    if CoursePhase.objects.current().filter(course=course, phase=Phase.ENDED).exists():
        raise ValidationError(gettext("The follow-up of this course already ended."))
    if ended_on < timezone.localdate(current.infused_at):
        raise ValidationError({"ended_on": gettext("The follow-up cannot end before day 0.")})
    CoursePhase.objects.create(
        course=course, phase=Phase.ENDED, started_on=ended_on, note=reason, recorded_by=by
    )
    with _in_english():
        audit(
            by,
            AuditEvent.Action.JOURNEY_ENDED,
            course=course,
            summary=f"Follow-up ended on {ended_on:%Y-%m-%d}: follow-up → ended ({reason})",
            details={"phase": ["follow_up", "ended"], "ended_on": ended_on.isoformat()},
        )
    return course


# ---------------------------------------------------------------------------------------------
# Phases before day 0
# ---------------------------------------------------------------------------------------------


def _supersede(old, new, *, reason: str) -> None:
    """Save ``new`` as the correction of ``old`` (kept, marked amended).

    Not ``services.amend``: a journey row is recorded again whole (not a record copied with a
    few values changed), completing it needs no reason (the amendable records' database rule
    demands one), it has no "entered in error", and its audit line is the phase's, baseline's
    or visit's own (models/records.py)."""
    old.status = RecordStatus.AMENDED
    old.save(update_fields=["status"])
    new.supersedes, new.reason = old, reason
    new.full_clean()
    new.save()


def _changes(old, new, names) -> dict:
    return {
        n: [str(getattr(old, n)), str(getattr(new, n))]
        for n in names
        if getattr(old, n) != getattr(new, n)
    }


def _only_fills_blanks(changes: dict) -> bool:
    return all(old in ("", "None") for old, _ in changes.values())


@transaction.atomic
def record_phase(
    *,
    course: TreatmentCourse,
    phase: str,
    started_on: date,
    ended_on: date | None = None,
    regimen: str = "",
    note: str = "",
    reason: str = "",
    by,
) -> CoursePhase:
    """Record a phase before day 0 with its dates (conditioning with its regimen). Recording it
    again supersedes the earlier record: completing it (its end, a regimen left blank) needs
    no reason; changing a date or text recorded before is a correction and needs one."""
    current = _lock_course(course)
    if phase not in journey_rules.RECORDED_PHASES:
        raise ValidationError({"phase": gettext("Choose a phase before the infusion.")})
    label = str(Phase(phase).label)
    check_past_date("started_on", started_on, label=gettext("start date"))
    check_past_date("ended_on", ended_on, label=gettext("end date"), required=False)
    if ended_on is not None and ended_on < started_on:
        raise ValidationError({"ended_on": gettext("A phase cannot end before it started.")})
    day0 = timezone.localdate(current.infused_at)
    if current.status != PLANNED and max(started_on, ended_on or started_on) > day0:
        raise ValidationError(
            {
                "started_on": gettext(
                    "%(phase)s comes before the infusion: its dates must be on or before day 0 "
                    "(%(day0)s)."
                )
                % {"phase": label, "day0": day0}
            }
        )
    regimen, note = (regimen or "").strip(), (note or "").strip()
    if phase == Phase.CONDITIONING and not regimen:
        raise ValidationError({"regimen": gettext("Name the conditioning regimen.")})
    new = CoursePhase(
        course=course,
        phase=phase,
        started_on=started_on,
        ended_on=ended_on,
        regimen=regimen,
        note=note,
        recorded_by=by,
    )
    old = CoursePhase.objects.current().select_for_update().filter(course=course, phase=phase)
    old = old.first()
    names = ["started_on", "ended_on", "regimen", "note"]
    if old is None:
        new.full_clean()
        new.save()
        changes = {n: ["—", str(getattr(new, n) or "—")] for n in names if getattr(new, n)}
    else:
        changes = _changes(old, new, names)
        if not changes:
            raise ValidationError(
                gettext("%(phase)s is already recorded with these dates.") % {"phase": label}
            )
        reason = (reason or "").strip()
        if not reason and not _only_fills_blanks(changes):
            raise ValidationError(
                {
                    "reason": gettext(
                        "%(phase)s is already recorded: say why it is corrected (old and new "
                        "are both kept)."
                    )
                    % {"phase": label}
                }
            )
        _supersede(old, new, reason=reason)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.PHASE_RECORDED,
            course=course,
            summary=f"{Phase(phase).label} "
            + ("recorded" if old is None else "corrected" if new.reason else "completed")
            + ": "
            + "; ".join(f"{n.replace('_', ' ')} {a} → {b}" for n, (a, b) in changes.items())
            + (f" ({new.reason})" if new.reason else ""),
            details={"phase": phase, "changes": changes, "record": new.pk},
        )
    return new


# ---------------------------------------------------------------------------------------------
# The pre-infusion baseline
# ---------------------------------------------------------------------------------------------


def lab_label(name: str) -> str:
    return str(LabResult._meta.get_field(name).verbose_name)


def baseline_labs(course: TreatmentCourse) -> list[str]:
    version = course.protocol_version
    labs = version.baseline_labs if version else journey_rules.default_baseline_labs()
    return [lab for lab in labs if lab in LAB_RANGES]


@transaction.atomic
def record_baseline(
    *,
    course: TreatmentCourse,
    item: str,
    taken_at: datetime,
    lab: str = "",
    ice_score: int | None = None,
    weight_kg=None,
    result: str = "",
    note: str = "",
    reason: str = "",
    by,
) -> BaselineItem:
    """Record a pre-infusion baseline item of a planned course: the ICE score (0–10), that a
    handwriting sample was taken, the weight (it becomes the patient's weight on file, audited,
    as tocilizumab is dosed by it) or a lab the protocol asks for. Recording an item again
    replaces it, with a reason; the earlier record is kept."""
    current = _lock_course(course)
    if current.status != PLANNED:
        raise ValidationError(
            gettext("The baseline is recorded before the infusion, while the course is planned.")
        )
    if item not in BaselineItem.Item.values:
        raise ValidationError({"item": gettext("Choose a baseline item.")})
    if taken_at is None or timezone.is_naive(taken_at):
        raise ValidationError({"taken_at": gettext("Give when it was taken.")})
    now = timezone.now()
    if not now - PAST_LIMIT <= taken_at <= now + CLOCK_SKEW:
        raise ValidationError(
            {"taken_at": gettext("When it was taken must be within the last year, not later.")}
        )
    values = {"lab": "", "ice_score": None, "weight_kg": None, "result": ""}
    if item == BaselineItem.Item.ICE:
        if ice_score is None or not 0 <= int(ice_score) <= 10:
            raise ValidationError(
                {"ice_score": gettext("The ICE score is 0–10 (got %(got)s).") % {"got": ice_score}}
            )
        values["ice_score"] = int(ice_score)
    elif item == BaselineItem.Item.WEIGHT:
        services.check_weight(weight_kg)
        values["weight_kg"] = services._kg(weight_kg)
    elif item == BaselineItem.Item.LAB:
        wanted = baseline_labs(current)
        if lab not in wanted:
            raise ValidationError(
                {
                    "lab": gettext("Choose one of the protocol's pre-infusion labs: %(labs)s.")
                    % {"labs": ", ".join(lab_label(n) for n in wanted) or "—"}
                }
            )
        result = (result or "").strip()
        if not result:
            raise ValidationError({"result": gettext("Give the result, with its unit.")})
        values.update(lab=lab, result=result[:100])
    new = BaselineItem(
        course=course,
        item=item,
        taken_at=taken_at,
        note=(note or "").strip(),
        recorded_by=by,
        **values,
    )
    old = (
        BaselineItem.objects.current()
        .select_for_update()
        .filter(course=course, item=item, lab=values["lab"])
        .first()
    )
    if old is None:
        new.full_clean()
        new.save()
    else:
        reason = services._required(
            "reason",
            reason,
            gettext("Already recorded: say why it is recorded again (the earlier one is kept)."),
        )
        _supersede(old, new, reason=reason)
    if item == BaselineItem.Item.WEIGHT and values["weight_kg"] != current.patient.weight_kg:
        services.correct_patient_details(
            patient=current.patient,
            weight_kg=values["weight_kg"],
            reason="Pre-infusion baseline weight",
            by=by,
        )
    with _in_english():
        what = lab_label(values["lab"]) if values["lab"] else new.get_item_display()
        value = {
            BaselineItem.Item.ICE: f"ICE {values['ice_score']}/10",
            BaselineItem.Item.WEIGHT: f"{values['weight_kg']} kg",
            BaselineItem.Item.LAB: values["result"],
            BaselineItem.Item.HANDWRITING: "taken",
        }[item]
        audit(
            by,
            AuditEvent.Action.BASELINE_RECORDED,
            course=course,
            summary=f"Baseline {what}: {value} at {_when(taken_at)}"
            + (f" (replaces {_when(old.taken_at)}: {reason})" if old else ""),
            details={"item": item, "lab": values["lab"], "record": new.pk},
        )
    return new


@dataclass
class BaselineRow:
    key: str
    label: str
    state: str  # done, stale, missing
    record: BaselineItem | None = None

    @property
    def item(self) -> str:
        return self.key.split(":")[0]


def _baseline_label(key: str) -> str:
    """A checklist row's label from its key ("ice:", "lab:crp_mg_l"), in the active language."""
    item, lab = key.split(":")
    return lab_label(lab) if lab else str(BaselineItem.Item(item).label)


def baseline_checklist(
    course: TreatmentCourse, *, today: date, items: list[BaselineItem] | None = None
) -> list[BaselineRow]:
    """What the protocol asks before infusion, each done, stale (more than a week before
    day 0) or missing. ``items``: the course's current baseline items, when already loaded."""
    if items is None:
        items = list(BaselineItem.objects.current().filter(course=course))
    found = {(i.item, i.lab): i for i in items}
    day0 = timezone.localdate(course.infused_at)
    wanted = [("ice", ""), ("weight", "")]
    version = course.protocol_version
    if version is not None and version.baseline_handwriting:
        wanted.append(("handwriting", ""))
    wanted += [("lab", lab) for lab in baseline_labs(course)]
    rows = []
    for item, lab in wanted:
        record = found.get((item, lab))
        taken = timezone.localdate(record.taken_at) if record else None
        label = _baseline_label(f"{item}:{lab}")
        state = journey_rules.baseline_state(taken, day0)
        rows.append(BaselineRow(f"{item}:{lab}", label, state, record))
    return rows


# ---------------------------------------------------------------------------------------------
# Follow-up visits
# ---------------------------------------------------------------------------------------------


def visit_plan(course: TreatmentCourse) -> list[dict]:
    """The protocol version's follow-up visits (the defaults without a version), by day."""
    version = course.protocol_version
    visits = version.follow_up_visits if version else journey_rules.default_visits()
    return sorted(visits, key=lambda v: v["day"])


@dataclass
class VisitRow:
    course: TreatmentCourse
    day: int
    due_on: date
    window_days: int
    asks: str
    state: str  # planned, upcoming, due, overdue, missed, done
    record: FollowUpVisit | None = None

    @property
    def label(self) -> str:
        return f"D+{self.day}"

    @property
    def late(self) -> bool:
        """Done after its window closed."""
        return (
            self.state == "done"
            and self.record is not None
            and journey_rules.done_late(
                self.due_on, self.window_days, timezone.localdate(self.record.done_at)
            )
        )

    @property
    def can_be_missed(self) -> bool:
        """Due or overdue, nothing recorded (journey_rules.window_opened)."""
        return self.state in ("due", "overdue")


def visits(
    course: TreatmentCourse, *, today: date, done: list[FollowUpVisit] | None = None
) -> list[VisitRow]:
    """The course's follow-up visits from its protocol's visit days, each upcoming, due,
    overdue, missed or done; a planned course's are "planned", dated from its planned day 0
    (they move with it, and none is due before the infusion). None after a course ended
    before follow-up. ``done``: the course's current visit records (done or missed)."""
    if done is None:
        done = (
            []
            if course.status == PLANNED
            else list(FollowUpVisit.objects.current().filter(course=course).select_related())
        )
    by_day = {v.day: v for v in done}
    day0 = timezone.localdate(course.infused_at)
    ended = course.status not in (PLANNED, MONITORING, COMPLETED)
    rows = []
    for visit in visit_plan(course):
        record = by_day.get(visit["day"])
        due_on = day0 + timedelta(days=visit["day"])
        ended_before = (
            ended
            and course.monitoring_ended_at
            and timezone.localdate(course.monitoring_ended_at) < due_on
        )
        if ended_before and record is None:
            continue  # no follow-up after a course ended (died, transferred out)
        if course.status == PLANNED:
            state = "planned"
        else:
            state = journey_rules.visit_state(
                due_on,
                visit["window_days"],
                today,
                done=record is not None and not record.is_missed,
                missed=record is not None and record.is_missed,
            )
        window, asks = visit["window_days"], visit["asks"]
        rows.append(VisitRow(course, visit["day"], due_on, window, asks, state, record))
    return rows


def _visit_day(course: TreatmentCourse, day: int) -> dict:
    """The protocol's visit on ``day``; refused with the visit days when it has none."""
    plan = visit_plan(course)
    for visit in plan:
        if visit["day"] == day:
            return visit
    raise ValidationError(
        {
            "day": gettext("Choose one of the protocol's visit days: %(days)s.")
            % {"days": ", ".join(f"D+{v['day']}" for v in plan)}
        }
    )


@transaction.atomic
def record_visit(
    *, course: TreatmentCourse, day: int, done_at: datetime, notes: str = "", reason: str = "", by
) -> FollowUpVisit:
    """A follow-up visit done (who, when, notes), on one of the protocol's visit days. Recording
    it again is a correction with a reason; the earlier record is kept. A visit recorded missed
    and done later (a late visit) needs no reason: the done record supersedes the missed one."""
    current = _lock_course(course)
    if current.status == PLANNED:
        raise ValidationError(gettext("Follow-up visits start after the infusion (day 0)."))
    _visit_day(current, day)
    if done_at is None or timezone.is_naive(done_at):
        raise ValidationError({"done_at": gettext("Give when the visit was done.")})
    if done_at < current.infused_at or done_at > timezone.now() + CLOCK_SKEW:
        raise ValidationError(
            {
                "done_at": gettext(
                    "The visit must be after the infusion (%(day0)s) and not in the future."
                )
                % {"day0": _when(current.infused_at)}
            }
        )
    new = FollowUpVisit(
        course=course, day=day, done_at=done_at, notes=(notes or "").strip(), recorded_by=by
    )
    old = FollowUpVisit.objects.current().select_for_update().filter(course=course, day=day)
    old = old.first()
    if old is None:
        new.full_clean()
        new.save()
    elif old.is_missed:
        # Not a correction: the missed record was true when made; it is kept, superseded.
        _supersede(old, new, reason=(reason or "").strip())
    else:
        reason = services._required(
            "reason", reason, gettext("This visit is already recorded: say why it is corrected.")
        )
        _supersede(old, new, reason=reason)
    with _in_english():
        if old is None:
            was = ""
        elif old.is_missed:
            was = f" (was missed: {old.missed_reason})"
        else:
            was = f" (corrects {_when(old.done_at)}: {reason})"
        audit(
            by,
            AuditEvent.Action.VISIT_RECORDED,
            course=course,
            summary=f"Follow-up visit D+{day} done {_when(done_at)}{was}",
            details={
                "day": day,
                "record": new.pk,
                "outcome": [old.outcome if old else "—", FollowUpVisit.Outcome.DONE],
            },
        )
    return new


@transaction.atomic
def record_missed_visit(*, course: TreatmentCourse, day: int, reason: str, by) -> FollowUpVisit:
    """A follow-up visit missed: the patient did not come or the visit was not possible, with
    why. Once its window has opened and nothing is recorded for it; it is then no longer
    overdue. Seen later, it is recorded done (record_visit), which supersedes this record."""
    current = _lock_course(course)
    if current.status == PLANNED:
        raise ValidationError(gettext("Follow-up visits start after the infusion (day 0)."))
    visit = _visit_day(current, day)
    reason = services._required(
        "reason", reason, gettext("Say why the visit was missed (kept in the audit log).")
    )
    old = FollowUpVisit.objects.current().select_for_update().filter(course=course, day=day).first()
    if old is not None:
        raise ValidationError(
            gettext("D+%(day)s is already recorded missed: %(why)s.")
            % {"day": day, "why": old.missed_reason}
            if old.is_missed
            else gettext(
                "D+%(day)s is recorded done (%(when)s): a visit done is not missed. Correct the "
                "visit instead."
            )
            % {"day": day, "when": _when(old.done_at)}
        )
    due_on = timezone.localdate(current.infused_at) + timedelta(days=day)
    opens = due_on - timedelta(days=visit["window_days"])
    if not journey_rules.window_opened(due_on, visit["window_days"], timezone.localdate()):
        raise ValidationError(
            gettext(
                "D+%(day)s is not due yet: a visit can be recorded missed once its window opens "
                "(%(opens)s)."
            )
            % {"day": day, "opens": opens}
        )
    new = FollowUpVisit(
        course=course,
        day=day,
        outcome=FollowUpVisit.Outcome.MISSED,
        missed_reason=reason[:500],
        recorded_by=by,
    )
    new.full_clean()
    new.save()
    with _in_english():
        audit(
            by,
            AuditEvent.Action.VISIT_MISSED,
            course=course,
            summary=f"Follow-up visit D+{day} (due {due_on:%Y-%m-%d}) missed: {new.missed_reason}",
            details={"day": day, "record": new.pk, "outcome": ["—", FollowUpVisit.Outcome.MISSED]},
        )
    return new


# ---------------------------------------------------------------------------------------------
# Reads: a course's journey, for the course page and the program page
# ---------------------------------------------------------------------------------------------


@dataclass
class PhaseRow:
    phase: str
    label: str
    started_on: date | None
    ended_on: date | None
    detail: str = ""
    planned: bool = False  # dates from the plan (protocol defaults), not yet recorded
    expected: tuple[int, int] | None = None
    overrun: bool = False  # longer than the protocol expects
    record: CoursePhase | None = None


@dataclass
class Journey:
    course: TreatmentCourse
    phase: str
    phases: list[PhaseRow] = field(default_factory=list)
    baseline: list[BaselineRow] = field(default_factory=list)
    visits: list[VisitRow] = field(default_factory=list)

    @property
    def phase_label(self) -> str:
        return str(Phase(self.phase).label)

    @property
    def planned_conditioning(self) -> tuple[date, date] | None:
        for row in self.phases:
            if row.phase == Phase.CONDITIONING:
                return (row.started_on, row.ended_on) if row.planned else None
        return None

    @property
    def baseline_missing(self) -> int:
        return sum(1 for row in self.baseline if row.state != "done")


def phase_of(course: TreatmentCourse, phases: list[CoursePhase] | None = None) -> str:
    """The phase a course is in (journey_rules.current_phase). Without ``phases`` only a
    course under monitoring is answered without a query (worklist and board rows)."""
    if course.status == MONITORING:
        return Phase.ACUTE_MONITORING
    if phases is None:
        phases = list(CoursePhase.objects.current().filter(course=course))
    return journey_rules.current_phase(
        course.status,
        [p.phase for p in phases],
        follow_up_ended=any(p.phase == Phase.ENDED for p in phases),
    )


def phase_label(course: TreatmentCourse) -> str:
    """The label of the phase a course is in (``phase_of``), for rows of the worklist and board."""
    return str(Phase(phase_of(course)).label)


def reached_day0(course: TreatmentCourse) -> bool:
    """Whether day 0 happened: not while planned, and not for a planned course ended before its
    infusion (end_journey: its end is before the planned day 0, which it keeps)."""
    if course.status == PLANNED:
        return False
    ended = course.monitoring_ended_at
    return ended is None or ended >= course.infused_at


def phase_history(course: TreatmentCourse, phases: list[CoursePhase]) -> list[PhaseRow]:
    """The phases the course has been through, in the journey's order, with their dates: the
    phases recorded before day 0 (``phases``: the course's current rows, so a corrected phase
    has its corrected dates), then the infusion, acute monitoring, follow-up and the end as the
    course itself says. Nothing planned: what the exports send (registry, FHIR); ``journey``
    adds the plan and the protocol's expectations for the pages. The end's ``detail`` is why it
    ended."""
    recorded = {p.phase: p for p in phases}
    rows = [
        PhaseRow(
            phase,
            str(Phase(phase).label),
            record.started_on,
            record.ended_on,
            detail=record.regimen or record.note,
            record=record,
        )
        for phase in journey_rules.RECORDED_PHASES
        if (record := recorded.get(phase)) is not None
    ]
    ended_at = course.monitoring_ended_at
    ended_on = timezone.localdate(ended_at) if ended_at else None
    if reached_day0(course):
        day0 = timezone.localdate(course.infused_at)
        rows.append(PhaseRow(Phase.INFUSION, str(Phase.INFUSION.label), day0, None))
        rows.append(
            PhaseRow(Phase.ACUTE_MONITORING, str(Phase.ACUTE_MONITORING.label), day0, ended_on)
        )
        ended_row = recorded.get(Phase.ENDED)
        if course.status == COMPLETED:
            rows.append(
                PhaseRow(
                    Phase.FOLLOW_UP,
                    str(Phase.FOLLOW_UP.label),
                    ended_on,
                    ended_row.started_on if ended_row else None,
                )
            )
        if ended_row is not None:
            rows.append(
                PhaseRow(
                    Phase.ENDED,
                    str(Phase.ENDED.label),
                    ended_row.started_on,
                    None,
                    ended_row.note,
                    record=ended_row,
                )
            )
    if course.status not in (PLANNED, MONITORING, COMPLETED):
        rows.append(
            PhaseRow(Phase.ENDED, str(Phase.ENDED.label), ended_on, None, course.end_reason)
        )
    return rows


def journey(
    course: TreatmentCourse,
    *,
    today: date,
    phases: list[CoursePhase] | None = None,
    items: list[BaselineItem] | None = None,
    done: list[FollowUpVisit] | None = None,
) -> Journey:
    """A course's journey: its phases with dates (``phase_history``, and while planned the
    conditioning the protocol plans and day 0), each recorded phase against the protocol's
    expected days, the phase it is in, its baseline checklist while planned, its visits."""
    if phases is None:
        phases = list(CoursePhase.objects.current().filter(course=course))
    version = course.protocol_version
    settings = version.phase_days if version else {}
    planned = course.status == PLANNED
    rows = phase_history(course, phases)
    for row in rows:
        if row.phase in journey_rules.RECORDED_PHASES:
            row.expected = journey_rules.phase_days(settings, row.phase)
            end = row.ended_on or (today if planned else None)
            length = (end - row.started_on).days if end else None
            row.overrun = bool(row.expected and length is not None and length > row.expected[1])
        elif row.phase == Phase.ENDED and row.record is None:
            row.detail = f"{course.get_status_display()}: {row.detail}"
    if planned:
        day0 = timezone.localdate(course.infused_at)
        plan = []
        if not any(row.phase == Phase.CONDITIONING for row in rows):
            start = version.conditioning_start_day if version else -5
            end = version.conditioning_end_day if version else -3
            regimen = (
                version.conditioning_regimen
                if version
                else journey_rules.DEFAULT_CONDITIONING_REGIMEN
            )
            plan.append(
                PhaseRow(
                    Phase.CONDITIONING,
                    str(Phase.CONDITIONING.label),
                    day0 + timedelta(days=start),
                    day0 + timedelta(days=end),
                    detail=f"{regimen} D{start} to D{end}",
                    planned=True,
                )
            )
        plan.append(PhaseRow(Phase.INFUSION, str(Phase.INFUSION.label), day0, None, planned=True))
        rows += plan  # a planned course's rows are all recorded phases before day 0
    result = Journey(course, phase_of(course, phases), rows)
    if planned:
        result.baseline = baseline_checklist(course, today=today, items=items)
    result.visits = visits(course, today=today, done=done)
    return result


# ---------------------------------------------------------------------------------------------
# Protocol data: what a version says about the journey (checked by services.revise_protocol)
# ---------------------------------------------------------------------------------------------

VISIT_LINE = re.compile(r"\s*D\+?\s*(\d{1,4})\s*(?:±\s*(\d{1,3}))?\s*:?\s*(.*)$", re.IGNORECASE)


def visits_text(visits: list[dict]) -> str:
    """Visits as the protocol form shows them: "D+14 ±2: what is asked", one per line."""
    return "\n".join(f"D+{v['day']} ±{v['window_days']}: {v['asks']}" for v in visits)


def parse_visits(text: str) -> list[dict]:
    """The form's lines back into visits; a line that does not read is refused by number."""
    visits = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = VISIT_LINE.match(line)
        if not match:
            raise ValidationError(
                gettext('Line %(n)s does not read as "D+14 ±2: what is asked".') % {"n": number}
            )
        day, window, asks = match.groups()
        visits.append({"day": int(day), "window_days": int(window or 0), "asks": asks.strip()})
    return visits


def protocol_problems(version) -> dict[str, list[str]]:
    """What is wrong with a version's journey settings, by field (empty: nothing)."""
    errors: dict[str, list[str]] = {}
    low, high = journey_rules.PHASE_DAYS_RANGE
    days = version.phase_days
    if not isinstance(days, dict):
        errors["phase_days"] = [gettext("Expected days per phase must be a mapping.")]
    else:
        for phase, value in days.items():
            ok = (
                phase in journey_rules.RECORDED_PHASES
                and isinstance(value, list | tuple)
                and len(value) == 2
                and all(type(v) is int and low <= v <= high for v in value)
                and value[0] <= value[1]
            )
            if not ok:
                errors.setdefault("phase_days", []).append(
                    gettext(
                        "%(phase)s: give expected days from and to, %(low)s–%(high)s, the first "
                        "not above the second (got %(got)s)."
                    )
                    % {"phase": phase, "low": low, "high": high, "got": value}
                )
    visits = version.follow_up_visits
    d_low, d_high = journey_rules.VISIT_DAY_RANGE
    w_low, w_high = journey_rules.VISIT_WINDOW_RANGE
    seen = set()
    if not isinstance(visits, list):
        visits = [None]
    for visit in visits:
        ok = (
            isinstance(visit, dict)
            and set(visit) == {"day", "window_days", "asks"}
            and type(visit["day"]) is int
            and d_low <= visit["day"] <= d_high
            and type(visit["window_days"]) is int
            and w_low <= visit["window_days"] <= w_high
            and isinstance(visit["asks"], str)
            and len(visit["asks"]) <= journey_rules.VISIT_ASKS_MAX
        )
        if not ok:
            errors.setdefault("follow_up_visits", []).append(
                gettext(
                    "Each visit: day %(d_low)s–%(d_high)s, window %(w_low)s–%(w_high)s days, "
                    "what is asked in at most %(max)s characters (got %(got)s)."
                )
                % {
                    "d_low": d_low,
                    "d_high": d_high,
                    "w_low": w_low,
                    "w_high": w_high,
                    "max": journey_rules.VISIT_ASKS_MAX,
                    "got": visit,
                }
            )
        elif visit["day"] in seen:
            errors.setdefault("follow_up_visits", []).append(
                gettext("D+%(day)s is listed twice.") % {"day": visit["day"]}
            )
        else:
            seen.add(visit["day"])
    labs = version.baseline_labs
    if not isinstance(labs, list) or any(lab not in LAB_RANGES for lab in labs):
        errors["baseline_labs"] = [
            gettext("Pre-infusion labs must be among: %(labs)s.") % {"labs": ", ".join(LAB_RANGES)}
        ]
    if not isinstance(version.baseline_handwriting, bool):
        errors["baseline_handwriting"] = [gettext("Say yes or no to a handwriting sample.")]
    c_low, c_high = journey_rules.CONDITIONING_DAY_RANGE
    start, end = version.conditioning_start_day, version.conditioning_end_day
    if not (type(start) is int and type(end) is int and c_low <= start <= end <= c_high):
        errors["conditioning_start_day"] = [
            gettext(
                "Conditioning days must be between D%(low)s and D%(high)s, the first day not "
                "after the last (got D%(start)s to D%(end)s)."
            )
            % {"low": c_low, "high": c_high, "start": start, "end": end}
        ]
    return errors


def check_protocol(version) -> None:
    errors = protocol_problems(version)
    if errors:
        raise ValidationError(errors)
