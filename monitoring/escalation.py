"""Escalation until someone answers: a flag climbs its protocol's ladder of on-call tiers
while nobody acknowledges it, and an overdue check past the protocol's grace tells the unit's
nurse in charge. This is time-based work: it runs in job workers, never in a web request.

The ladder (engine.start_ladder starts a round when a flag is raised or gets worse):
- step 0, at once: the lowest tier on call is told;
- each further step, when the protocol's limit for the flag's severity has passed with nobody
  acknowledging: the next tier is told; past the top, the top tier is told again, every limit,
  until someone answers;
- a tier nobody holds now is skipped (recorded on the flag, shown on the board); when nobody
  at all holds a tier at or above it, every care-team member of the unit is told instead;
- acknowledging stops the ladder (services.acknowledge_flag clears ``escalate_at``); a flag
  that gets worse starts a new round, and the jobs of the old round find nothing to do.

Each step is due at the previous step's due time plus the limit, so a flag escalates at exactly
the limit after it was raised (or got worse), and a worker that was down catches up, one step
after another, telling each tier it owed. Jobs carry the round they were queued for; a step
locks the flag and does nothing unless the round, the state and the due time still match, so a
job run twice, late, or for an old round tells nobody twice (and notify's keys back that up).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from monitoring import alert_rules, notify, schedule
from monitoring.models import (
    AuditEvent,
    EscalationStep,
    Flag,
    Notification,
    OnCallShift,
    OverdueAlert,
    TreatmentCourse,
    User,
)

logger = logging.getLogger(__name__)


def queue(flag: Flag) -> None:
    """Enqueue the flag's next step for its due time (a row of the caller's transaction)."""
    if flag.escalate_at is not None and flag.status == Flag.Status.OPEN:
        escalate.using(run_after=flag.escalate_at).enqueue(flag.pk, flag.ladder_round)


@task()
def escalate(flag_id: int, ladder_round: int) -> str:
    """The job queued for a flag's next step."""
    return step(flag_id, ladder_round)


def holders(unit, tier: str, now: datetime) -> list[User]:
    """Who holds a tier of the unit's rota now (active accounts only)."""
    shifts = OnCallShift.objects.at(now).filter(unit=unit, tier=tier, user__is_active=True)
    return [shift.user for shift in shifts.select_related("user").order_by("user_id")]


def care_team_of(unit) -> list[User]:
    """The fallback when nobody is on call: every active care-team member of the unit."""
    return list(
        User.objects.filter(units=unit, role=User.Role.CARE_TEAM, is_active=True).order_by("pk")
    )


def step(flag_id: int, ladder_round: int, *, now: datetime | None = None) -> str:
    """Take the flag's next step if it is due; say what happened (the job's result)."""
    now = now or timezone.now()
    with transaction.atomic():
        flag = (
            Flag.objects.select_for_update(of=("self",))
            .select_related("course__unit", "course__patient", "course__protocol_version")
            .filter(pk=flag_id)
            .first()
        )
        if (
            flag is None
            or flag.status != Flag.Status.OPEN
            or flag.ladder_round != ladder_round
            or flag.escalate_at is None
        ):
            return "stopped"
        if flag.escalate_at > now:
            return "not due"
        return _climb(flag, now)


def _climb(flag: Flag, now: datetime) -> str:
    course = flag.course
    version = course.protocol_version
    # A course without a protocol version (started outside the services) uses the defaults.
    ladder = version.ladder() if version else list(alert_rules.DEFAULT_LADDER)
    limit = alert_rules.ack_limit(flag.severity, version.ack_minutes if version else {})
    # Steps owed: one when on time; more when no worker ran for a while, and then the flag
    # goes straight to the tier it would have reached by now (one message, not a burst).
    owed = 1
    if limit:
        owed += int((now - flag.escalate_at) / limit)
    # The tier after the one told last (plus any steps missed); past the top, the top again.
    start = ladder.index(flag.ladder_tier) + owed if flag.ladder_tier in ladder else owed - 1
    start = min(start, len(ladder) - 1)
    tier, recipients, skipped = ladder[start], [], []
    for candidate in ladder[start:]:
        recipients = holders(course.unit, candidate, now)
        tier = candidate
        if recipients:
            break
        skipped.append(candidate)
    note = ""
    if skipped:
        note = "nobody on call as " + ", ".join(alert_rules.TIER_LABELS[t] for t in skipped)
    if not recipients:
        tier = ladder[start]
        recipients = care_team_of(course.unit)
        note += f": told the care team of {course.unit.name}" if recipients else ": nobody told"
    escalated = flag.ladder_step > 0
    reason = Notification.Reason.ESCALATION if escalated else Notification.Reason.FLAG
    waited = notify_wait(flag, now)
    told = notify.notify(
        recipients,
        key=f"flag{flag.pk}:r{flag.ladder_round}:s{flag.ladder_step}",
        course=course,
        flag=flag,
        severity=flag.severity,
        reason=reason,
        tier=tier,
        title=notify.title(course, notify.flag_headline(flag.severity, escalated=escalated)),
        body=notify.flag_body(course, flag.message, waited if flag.ladder_step else ""),
        now=now,
    )
    EscalationStep.objects.get_or_create(
        flag=flag,
        ladder_round=flag.ladder_round,
        step=flag.ladder_step,
        tier=tier,
        defaults={
            "course": course,
            "severity": flag.severity,
            "at": now,
            "recipients": len(told),
            "note": note[:300],
        },
    )
    if flag.ladder_step:
        _audit(
            AuditEvent.Action.FLAG_ESCALATED,
            course,
            now,
            f"Escalated to {alert_rules.TIER_LABELS[tier]} after {waited} unacknowledged: "
            f"{flag.message}",
            {"flag": flag.pk, "tier": tier, "recipients": len(told), "note": note},
        )
    flag.ladder_step += owed
    flag.ladder_tier = tier
    flag.escalate_at = flag.escalate_at + owed * limit if limit else None
    flag.save(update_fields=["ladder_step", "ladder_tier", "escalate_at"])
    queue(flag)
    return f"told {len(told)} ({tier})"


def notify_wait(flag: Flag, now: datetime) -> str:
    return schedule.human_duration(max(now - flag.waiting_since, timedelta(0)))


def sweep(*, now: datetime | None = None) -> dict:
    """The workers' safety net, every few seconds: take every due step whose job was lost
    (or predates this release) and report overdue checks. Idempotent; any number of workers
    may run it at once."""
    now = now or timezone.now()
    due = Flag.objects.filter(status=Flag.Status.OPEN, escalate_at__lte=now)
    steps = 0
    for flag_id, ladder_round in due.values_list("pk", "ladder_round")[:200]:
        if step(flag_id, ladder_round, now=now) not in ("stopped", "not due"):
            steps += 1
    return {"steps": steps, "overdue": alert_overdue(now=now)}


def alert_overdue(*, now: datetime | None = None) -> int:
    """Tell the unit's nurse in charge of each check overdue past its protocol's grace, once
    per course and due time. Returns how many alerts were raised."""
    now = now or timezone.now()
    courses = (
        TreatmentCourse.objects.under_monitoring()
        .filter(status_row__next_due_at__lt=now, status_row__monitoring_ends_at__gt=now)
        .select_related("unit", "patient", "status_row", "protocol_version")
        .prefetch_related("protocol_version__schedules")
        .order_by("status_row__next_due_at")[:500]
    )
    alerted = 0
    for course in courses:
        version = course.protocol_version
        grace = (
            version.overdue_grace_minutes if version else alert_rules.DEFAULT_OVERDUE_GRACE_MINUTES
        )
        for due in schedule.due_checks(course, course.status_row, now=now):
            if not due.is_overdue or due.overdue_by.total_seconds() < grace * 60:
                continue
            if _alert_overdue(course, due, now):
                alerted += 1
    return alerted


def _alert_overdue(course: TreatmentCourse, due: schedule.Due, now: datetime) -> bool:
    with transaction.atomic():
        alert, created = OverdueAlert.objects.get_or_create(
            course=course, check_type=due.check_type, due_at=due.next_due
        )
        if not created:
            return False
        recipients = holders(course.unit, alert_rules.OVERDUE_TIER, now) or care_team_of(
            course.unit
        )
        told = notify.notify(
            recipients,
            key=f"overdue{alert.pk}",
            course=course,
            severity=Flag.Severity.WARNING,
            reason=Notification.Reason.OVERDUE,
            tier=alert_rules.OVERDUE_TIER,
            title=notify.title(course, notify.overdue_headline(due.check_type)),
            body=notify.overdue_body(
                course,
                due.check_type,
                due.next_due,
                schedule.human_duration(due.overdue_by),
            ),
            now=now,
        )
        alert.recipients = len(told)
        alert.alerted_at = now
        alert.save(update_fields=["recipients", "alerted_at"])
        _audit(
            AuditEvent.Action.OVERDUE_ALERTED,
            course,
            now,
            f"{due.name} overdue by {schedule.human_duration(due.overdue_by)}: told {len(told)}",
            {"check_type": due.check_type, "due_at": due.next_due.isoformat()},
        )
    return True


def _audit(action: str, course, now: datetime, summary: str, details: dict) -> None:
    """An audit line written by a worker: no user (the system acted), the course's patient,
    as services.audit writes them for people (which this layer sits below)."""
    AuditEvent.objects.create(
        action=action,
        course=course,
        patient=course.patient,
        at=now,
        summary=summary[:500],
        details=details,
    )


def stop(flag: Flag) -> set[str]:
    """Acknowledged or resolved: the ladder stops. Returns the fields changed."""
    flag.escalate_at = None
    return {"escalate_at"}
