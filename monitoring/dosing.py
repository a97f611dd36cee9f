"""Step-up dosing write paths: plan, re-plan, hold, give, restart — each atomic and audited.

The rules are the protocol version's dose steps (models.DoseStep) checked by the pure
``dose_gates``; this module assembles their inputs from the course, renders their problems
for pages (the reader's language) and for the audit log (English), and keeps the status row's
dosing marks (the window after the dose last given, the next dose) that the schedule of checks
and the worklist read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext, gettext_noop

from monitoring import dose_gates, schedule
from monitoring.models import (
    AuditEvent,
    CourseDose,
    CourseStatus,
    DoseStep,
    GradeSnapshot,
    Treatment,
    TreatmentCourse,
)
from monitoring.services import _in_english, _lock_status, _when, audit, correct_infusion_time

Status = CourseDose.Status
# dose_gates' English problems with a step's restart rules, for the catalogue: pages show them
# through gettext.
RESTART_RULE_PROBLEMS = [
    gettext_noop("Restart rules must be a list."),
    gettext_noop("Each restart rule needs after_days and restart_at."),
    gettext_noop("A restart delay must be 1-365 days."),
    gettext_noop("A restart must name one of the steps."),
]
OUTSTANDING = (Status.PLANNED, Status.HELD)


class GateNotMet(ValidationError):
    """A dose was to be given while a gate before it is not met; ``problems`` say which."""

    def __init__(self, problems: list[dose_gates.Problem]):
        super().__init__([problem_text(p) for p in problems])
        self.problems = problems


# ---------------------------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------------------------


def steps_of(course: TreatmentCourse) -> list[DoseStep]:
    """The course's protocol version's dose steps, in order (empty: not a dosed course)."""
    if course.protocol_version_id is None:
        return []
    return list(DoseStep.objects.filter(version_id=course.protocol_version_id).order_by("sequence"))


def grade_points(course: TreatmentCourse) -> list[dose_gates.GradePoint]:
    """Every graded moment of the course with its effective grades (confirmed where given)."""
    rows = GradeSnapshot.objects.filter(course=course).values_list(
        "observed_at", "crs_grade", "crs_confirmed_grade", "icans_grade", "icans_confirmed_grade"
    )
    return [
        dose_gates.GradePoint(
            at,
            crs if crs_confirmed is None else crs_confirmed,
            icans if icans_c is None else icans_c,
        )
        for at, crs, crs_confirmed, icans, icans_c in rows
    ]


def next_dose(doses: list[CourseDose]) -> CourseDose | None:
    """The first dose still to give (planned or held), in plan order."""
    waiting = [d for d in doses if d.status in OUTSTANDING]
    return min(waiting, key=lambda d: (d.attempt, d.step.sequence), default=None)


def last_given(doses: list[CourseDose]) -> CourseDose | None:
    given = [d for d in doses if d.status == Status.GIVEN]
    return max(given, key=lambda d: d.given_at, default=None)


def problems_for(course, dose: CourseDose, at: datetime, *, doses=None, points=None) -> list:
    """The gates before ``dose`` that are not met at ``at``."""
    doses = doses if doses is not None else list(_doses(course))
    points = points if points is not None else grade_points(course)
    previous = last_given([d for d in doses if d.pk != dose.pk and (d.given_at or at) <= at])
    return dose_gates.gate_problems(
        at=timezone.localtime(at),
        points=points,
        crs_clear_hours=dose.step.crs_clear_hours,
        icans_clear_hours=dose.step.icans_clear_hours,
        restart_rules=dose.step.restart_rules,
        previous_at=timezone.localtime(previous.given_at) if previous else None,
        gap_days=dose.step.day_offset - previous.step.day_offset if previous else None,
    )


@dataclass
class Gate:
    """What the page shows before the next dose: the problems now, and when the last one that
    time alone resolves will be met (None: not by time alone)."""

    problems: list
    until: datetime | None
    restart_step: DoseStep | None


def gate_now(course, dose: CourseDose, *, doses, points, steps, now=None) -> Gate:
    now = now or timezone.now()
    problems = problems_for(course, dose, now, doses=doses, points=points)
    timed = [p.until for p in problems if p.until is not None]
    untimed = [p for p in problems if p.until is None]
    restart = next((p for p in problems if p.code == "restart"), None)
    restart_step = None
    if restart:
        restart_step = next((s for s in steps if s.sequence == restart.params["restart_at"]), None)
    return Gate(problems, None if untimed or not timed else max(timed), restart_step)


def premedications(course, doses: list[CourseDose]) -> dict:
    """{dose pk: [Treatment…]}: current treatments recorded in the hours before each dose
    (the step's premedication window), one query for all."""
    if not doses:
        return {}
    spans = {
        d.pk: (d.moment - timedelta(hours=d.step.premed_lookback_hours), d.moment) for d in doses
    }
    earliest = min(start for start, _ in spans.values())
    latest = max(end for _, end in spans.values())
    treatments = list(
        Treatment.objects.current()
        .filter(
            check_entry__course=course,
            check_entry__observed_at__gte=earliest,
            check_entry__observed_at__lte=latest,
        )
        .select_related("check_entry")
        .order_by("check_entry__observed_at")
    )
    return {
        pk: [t for t in treatments if start <= t.check_entry.observed_at <= end]
        for pk, (start, end) in spans.items()
    }


def _doses(course):
    return CourseDose.objects.filter(course=course).select_related("step", "given_by")


def _shown_when(at: datetime) -> str:
    return formats.date_format(timezone.localtime(at), "SHORT_DATETIME_FORMAT")


def problem_text(problem: dose_gates.Problem, steps=None) -> str:
    """A gate not met, in the reader's language (in English inside ``_in_english``)."""
    p = problem.params
    if problem.code in ("crs_active", "icans_active"):
        name = "CRS" if problem.code == "crs_active" else "ICANS"
        return gettext(
            "%(name)s grade %(grade)s now: the next dose waits until %(name)s has resolved"
            " (for %(hours)s h)."
        ) % {"name": name, "grade": p["grade"], "hours": p["hours"]}
    if problem.code in ("crs_recent", "icans_recent"):
        name = "CRS" if problem.code == "crs_recent" else "ICANS"
        return gettext(
            "%(name)s resolved at %(since)s, less than %(hours)s h ago: the next dose may be "
            "given from %(until)s."
        ) % {
            "name": name,
            "since": _shown_when(p["since"]),
            "hours": p["hours"],
            "until": _shown_when(problem.until),
        }
    if problem.code == "restart":
        return gettext(
            "%(days)s days since the previous dose (more than %(limit)s): the step-up must "
            "restart at step %(step)s. Re-plan the step-up."
        ) % {"days": p["days"], "limit": p["limit"], "step": p["restart_at"]}
    if problem.code == "too_soon":
        return gettext(
            "The previous dose was given at %(previous)s: by the schedule this dose is %(days)s "
            "days later, not before %(earliest)s."
        ) % {
            "previous": _shown_when(p["previous"]),
            "days": p["days"],
            "earliest": formats.date_format(p["earliest"], "SHORT_DATE_FORMAT"),
        }
    raise ValueError(problem.code)


def _english_problems(problems) -> list[str]:
    with _in_english():
        return [problem_text(p) for p in problems]


# ---------------------------------------------------------------------------------------------
# The status row's dosing marks
# ---------------------------------------------------------------------------------------------


def refresh_dosing(course: TreatmentCourse, *, steps=None) -> CourseStatus:
    """Recompute the status row's dosing marks and due marks and save them: dosed (its
    version has dose steps), the window after the dose last given, the next dose. Read again
    under the lock: a day-0 move before it has just regraded and saved the row."""
    status = _lock_status(course)
    steps = steps if steps is not None else steps_of(course)
    doses = list(_doses(course))
    status.dosed = bool(steps)
    given = last_given(doses)
    if given is not None:
        status.dose_window_start = given.given_at
        status.dose_window_end = given.given_at + timedelta(hours=given.step.window_hours)
        status.dose_window_label = given.step.label
    else:
        status.dose_window_start = status.dose_window_end = None
        status.dose_window_label = ""
    upcoming = next_dose(doses)
    status.next_dose_at = upcoming.planned_at if upcoming else None
    status.next_dose_label = upcoming.step.label if upcoming else ""
    for name, value in schedule.due_marks(course, status).items():
        setattr(status, name, value)
    status.updated_at = timezone.now()
    status.save()
    return status


def window_words(status, now: datetime) -> str:
    """ "In monitoring window after step-up dose 2 until 14:00 tomorrow", or the next planned
    dose, for a dosed course's status row; "" for other courses."""
    if not getattr(status, "dosed", False):
        return ""
    window = schedule.dose_window(status, now)
    if window:
        return gettext("In monitoring window after %(dose)s until %(when)s") % {
            "dose": _label(status.dose_window_label).lower(),
            "when": moment_words(window[1], now),
        }
    if status.next_dose_at:
        return gettext("Outside a monitoring window; next: %(dose)s %(when)s") % {
            "dose": _label(status.next_dose_label).lower(),
            "when": moment_words(status.next_dose_at, now),
        }
    return gettext("Outside a monitoring window; no dose planned")


def _label(label: str) -> str:
    from monitoring.models.dosing import STEP_LABELS

    return gettext(label) if label in STEP_LABELS else label


def moment_words(at: datetime, now: datetime) -> str:
    """ "14:00 today", "14:00 tomorrow", else "14:00 on 12 Mar", in the unit's zone."""
    local, today = timezone.localtime(at), timezone.localdate(now)
    time = formats.time_format(local, "TIME_FORMAT")
    days = (local.date() - today).days
    if days == 0:
        return gettext("%(time)s today") % {"time": time}
    if days == 1:
        return gettext("%(time)s tomorrow") % {"time": time}
    if days == -1:
        return gettext("%(time)s yesterday") % {"time": time}
    return gettext("%(time)s on %(date)s") % {
        "time": time,
        "date": formats.date_format(local, "SHORT_DATE_FORMAT"),
    }


# ---------------------------------------------------------------------------------------------
# Write paths
# ---------------------------------------------------------------------------------------------


def _check_open(course: TreatmentCourse) -> None:
    if not TreatmentCourse.objects.filter(pk=course.pk, status="monitoring").exists():
        raise ValidationError(
            gettext("Monitoring of this course has ended: doses stay as they are.")
        )


def _aware(at, field: str) -> datetime:
    if at is None or timezone.is_naive(at):
        raise ValidationError({field: gettext("Give a date and time.")})
    return at


def _planned_time(first_at: datetime, step: DoseStep, base_offset: int = 0) -> datetime:
    """The step's planned time: whole days after the first dose, same local wall-clock time."""
    return schedule.add_interval(first_at, timedelta(days=step.day_offset - base_offset))


def _set_day_zero(course, at: datetime, *, why: str, by) -> None:
    """Day 0 of an engager course is its first dose (issue 14): move infused_at to it."""
    current = TreatmentCourse.objects.values_list("infused_at", flat=True).get(pk=course.pk)
    if current != at:
        correct_infusion_time(course=course, infused_at=at, reason=why, by=by)


@transaction.atomic
def plan_doses(*, course: TreatmentCourse, first_dose_at: datetime, by) -> list[CourseDose]:
    """Plan every dose step of the course's protocol from the first dose's time; day 0 (the
    course's infused_at) becomes the first dose's time."""
    if not by.can_plan_doses:
        raise PermissionDenied(gettext("Only the care team plans doses."))
    _lock_status(course)
    _check_open(course)
    first_dose_at = _aware(first_dose_at, "first_dose_at")
    steps = steps_of(course)
    if not steps:
        raise ValidationError(
            gettext("The course's protocol version has no dose steps: nothing to plan.")
        )
    if CourseDose.objects.filter(course=course).active().exists():
        raise ValidationError(
            gettext("Doses are already planned: re-plan a dose or restart the step-up instead.")
        )
    _set_day_zero(course, first_dose_at, why="Day 0 is the first dose (step-up planned)", by=by)
    doses = [
        CourseDose(
            course=course, step=step, planned_at=_planned_time(first_dose_at, step), created_by=by
        )
        for step in steps
    ]
    for dose in doses:
        dose.full_clean()
        dose.save()
    refresh_dosing(course, steps=steps)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.DOSES_PLANNED,
            course=course,
            summary="Step-up planned: "
            + "; ".join(f"{d.step.label} {_when(d.planned_at)}" for d in doses),
            details={"doses": [str(d.public_id) for d in doses]},
        )
    return doses


def _locked_dose(dose: CourseDose) -> CourseDose:
    _lock_status(dose.course)
    return CourseDose.objects.select_related("step", "course__patient").get(pk=dose.pk)


@transaction.atomic
def replan_dose(*, dose: CourseDose, planned_at: datetime, reason: str, by) -> CourseDose:
    """Move a dose still to give to another time; old → new and why are audited."""
    if not by.can_plan_doses:
        raise PermissionDenied(gettext("Only the care team re-plans doses."))
    dose = _locked_dose(dose)
    _check_open(dose.course)
    planned_at = _aware(planned_at, "planned_at")
    if dose.status not in OUTSTANDING:
        raise ValidationError(gettext("Only a dose still to give can be re-planned."))
    if not reason.strip():
        raise ValidationError({"reason": gettext("Say why the dose is re-planned.")})
    if planned_at == dose.planned_at:
        raise ValidationError({"planned_at": gettext("The dose is already planned then.")})
    old = dose.planned_at
    dose.planned_at = planned_at
    dose.status = Status.PLANNED
    dose.note = reason.strip()[:500]
    dose.full_clean()
    dose.save()
    none_given = not CourseDose.objects.filter(course=dose.course, status=Status.GIVEN).exists()
    if none_given and dose == next_dose(list(_doses(dose.course))):
        _set_day_zero(dose.course, planned_at, why=f"First dose re-planned: {reason}", by=by)
    refresh_dosing(dose.course)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.DOSE_REPLANNED,
            course=dose.course,
            summary=f"{dose.step.label} re-planned {_when(old)} → {_when(planned_at)}: {reason}",
            details={
                "dose": str(dose.public_id),
                "planned_at": [old.isoformat(), planned_at.isoformat()],
            },
        )
    return dose


@transaction.atomic
def hold_dose(*, dose: CourseDose, reason: str, by) -> CourseDose:
    """Hold (delay) a dose still to give, with why; it stays to give until re-planned."""
    if not by.can_plan_doses:
        raise PermissionDenied(gettext("Only the care team holds doses."))
    dose = _locked_dose(dose)
    _check_open(dose.course)
    if dose.status != Status.PLANNED:
        raise ValidationError(gettext("Only a planned dose can be held."))
    if not reason.strip():
        raise ValidationError({"reason": gettext("Say why the dose is held.")})
    dose.status = Status.HELD
    dose.note = reason.strip()[:500]
    dose.save()
    refresh_dosing(dose.course)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.DOSE_HELD,
            course=dose.course,
            summary=f"{dose.step.label} (planned {_when(dose.planned_at)}) held: {reason}",
            details={"dose": str(dose.public_id)},
        )
    return dose


@transaction.atomic
def record_dose_given(
    *, dose: CourseDose, given_at: datetime, by, override_reason: str = ""
) -> CourseDose:
    """Record the next dose as given. Refused (``GateNotMet``) while a gate before it is not
    met, unless a physician of the care team overrides with a reason (audited with the gates
    it overrode). The first dose given is day 0 of the course."""
    if not by.can_record_doses:
        raise PermissionDenied(gettext("Your role cannot record doses."))
    dose = _locked_dose(dose)
    course = dose.course
    _check_open(course)
    given_at = _aware(given_at, "given_at")
    if given_at > timezone.now() + timedelta(minutes=2):
        raise ValidationError(
            {"given_at": gettext("A dose cannot be recorded as given in the future.")}
        )
    doses = list(_doses(course))
    if dose.status not in OUTSTANDING:
        raise ValidationError(gettext("This dose is not waiting to be given."))
    if next_dose(doses) != dose:
        raise ValidationError(gettext("Give the doses in order: an earlier dose is still to give."))
    previous = last_given(doses)
    if previous and given_at <= previous.given_at:
        raise ValidationError(
            {
                "given_at": gettext("A dose cannot be given before the previous dose (%(when)s).")
                % {"when": _shown_when(previous.given_at)}
            }
        )
    problems = problems_for(course, dose, given_at, doses=doses)
    override_reason = override_reason.strip()
    if problems:
        if not override_reason:
            raise GateNotMet(problems)
        if not by.can_override_dose_gates:
            raise PermissionDenied(
                gettext("A gate is not met: only a physician of the care team may override it.")
            )
        dose.override_by = by
        dose.override_reason = override_reason[:500]
        dose.overridden_gates = _english_problems(problems)
    dose.status = Status.GIVEN
    dose.given_at = given_at
    dose.given_by = by
    dose.full_clean()
    dose.save()
    if previous is None:
        _set_day_zero(
            course, given_at, why=f"Day 0 is the first dose ({dose.step.label} given)", by=by
        )
    refresh_dosing(course)
    with _in_english():
        summary = f"{dose.step.label} given {_when(given_at)}"
        if problems:
            summary += f"; gate overridden ({override_reason}): " + " ".join(dose.overridden_gates)
        audit(
            by,
            AuditEvent.Action.DOSE_GIVEN,
            course=course,
            summary=summary,
            details={
                "dose": str(dose.public_id),
                "given_at": given_at.isoformat(),
                "overridden": dose.overridden_gates,
                "override_reason": dose.override_reason,
            },
        )
    return dose


@transaction.atomic
def restart_step_up(
    *, course: TreatmentCourse, from_sequence: int, first_dose_at: datetime, reason: str, by
) -> list[CourseDose]:
    """Restart the step-up at a step after a delay: every dose still to give is cancelled (kept,
    with why) and the steps from ``from_sequence`` on are planned again from ``first_dose_at``."""
    if not by.can_plan_doses:
        raise PermissionDenied(gettext("Only the care team re-plans the step-up."))
    _lock_status(course)
    _check_open(course)
    first_dose_at = _aware(first_dose_at, "first_dose_at")
    if not reason.strip():
        raise ValidationError({"reason": gettext("Say why the step-up restarts.")})
    steps = steps_of(course)
    start = next((s for s in steps if s.sequence == from_sequence), None)
    if start is None:
        raise ValidationError(gettext("Choose one of the protocol's steps to restart at."))
    doses = list(_doses(course))
    previous = last_given(doses)
    if previous and first_dose_at <= previous.given_at:
        raise ValidationError(
            {"first_dose_at": gettext("The restart must come after the last dose given.")}
        )
    attempt = max((d.attempt for d in doses), default=0) + 1
    cancelled = []
    for dose in doses:
        if dose.status in OUTSTANDING:
            dose.status = Status.CANCELLED
            dose.note = f"Step-up restarted: {reason.strip()}"[:500]
            dose.save()
            cancelled.append(dose)
    new = []
    for step in steps:
        if step.sequence < from_sequence:
            continue
        dose = CourseDose(
            course=course,
            step=step,
            attempt=attempt,
            planned_at=_planned_time(first_dose_at, step, start.day_offset),
            created_by=by,
        )
        dose.full_clean()
        dose.save()
        new.append(dose)
    if previous is None:
        _set_day_zero(course, first_dose_at, why=f"Step-up restarted: {reason}", by=by)
    refresh_dosing(course, steps=steps)
    with _in_english():
        audit(
            by,
            AuditEvent.Action.STEP_UP_RESTARTED,
            course=course,
            summary=f"Step-up restarted at {start.label} from {_when(first_dose_at)} ({reason}); "
            f"cancelled: {', '.join(d.step.label for d in cancelled) or 'none'}",
            details={
                "cancelled": [str(d.public_id) for d in cancelled],
                "planned": [str(d.public_id) for d in new],
            },
        )
    return new


def copy_dose_steps(source, target) -> None:
    """A new protocol version takes its predecessor's dose steps (services.revise_protocol)."""
    for step in source.dose_steps.all():
        DoseStep.objects.create(version=target, **step.settings())


def check_dose_steps(values: list[dict]) -> list[DoseStep]:
    """Unsaved steps from settings in order, each validated: ranges (the model's), restart
    rules naming a real step, planned days never going back. Refused with a message per step."""
    steps, errors = [], []
    for index, settings in enumerate(values, start=1):
        step = DoseStep(**{**settings, "sequence": index})
        problems = []
        try:
            step.full_clean(exclude=["version"], validate_unique=False)
        except ValidationError as error:
            problems.extend(error.messages)
        for problem in dose_gates.restart_rules_problems(step.restart_rules, len(values)):
            problems.append(gettext(problem))
        if steps and step.day_offset < steps[-1].day_offset:
            problems.append(gettext("A step cannot be planned before the step above it."))
        if problems:
            errors.append(
                gettext("Dose step %(number)s: %(problems)s")
                % {"number": index, "problems": " ".join(problems)}
            )
        steps.append(step)
    if errors:
        raise ValidationError({"dose_steps": errors})
    return steps


def replace_dose_steps(version, values: list[dict]) -> None:
    """Set a version's dose steps (revise_protocol: a version no course uses yet, or the new
    version it has just created)."""
    steps = check_dose_steps(values)
    version.dose_steps.all().delete()
    for step in steps:
        step.version = version
        step.save()


def mark_dosed(course: TreatmentCourse) -> None:
    """After a course starts or moves version: whether it is dosed, and its marks."""
    refresh_dosing(course)
