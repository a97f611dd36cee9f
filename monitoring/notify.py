"""Notifications: one per person told, stored, shown in their notification centre and sent on
the channels they chose (``monitoring.delivery`` sends them in a job worker).

Called inside the transaction of what causes it (an escalation step, an overdue-check alert):
the notifications, their deliveries and the delivery jobs are rows of that transaction, so a
rolled-back step tells no one and a committed one always does. Keys make it idempotent: a job
retried after its worker died finds the notification already there and tells nobody twice.
"""

from __future__ import annotations

from django.conf import settings

from monitoring import delivery as delivery_jobs
from monitoring.models import Delivery, Flag, Notification, TreatmentCourse


def where(course: TreatmentCourse) -> str:
    """ "Ward 7, bed 3": where the patient is, without saying who (minimum necessary)."""
    return f"{course.unit.name}, bed {course.bed}" if course.bed else course.unit.name


def flag_headline(severity: int, *, escalated: bool) -> str:
    """ "critical flag" / "critical flag not acknowledged"."""
    words = f"{Flag.Severity(severity).label.lower()} flag"
    return f"{words} not acknowledged" if escalated else words


def title(course: TreatmentCourse, headline: str) -> str:
    """The text that leaves the building (e-mail subject, push, pager): no patient name unless
    the course's protocol allows it — "cartmonitor: critical flag, Ward 7, bed 3"."""
    text = f"cartmonitor: {headline}, {where(course)}"
    if course.protocol_version and course.protocol_version.notify_patient_names:
        text += f" — {course.patient.full_name}"
    return text[:200]


def channels_for(user) -> list[str]:
    """The channels a person chose, besides the in-app centre that everyone has."""
    chosen = [
        (user.notify_by_email, Delivery.Channel.EMAIL),
        (user.notify_by_push, Delivery.Channel.PUSH),
        (user.notify_by_webhook, Delivery.Channel.WEBHOOK),
    ]
    return [channel for wanted, channel in chosen if wanted]


def notify(
    recipients,
    *,
    key: str,
    course: TreatmentCourse | None,
    severity: int,
    reason: str,
    title: str,
    body: str,
    flag: Flag | None = None,
    tier: str = "",
    now=None,
) -> list[Notification]:
    """Tell each recipient once (``key`` plus their id), queue a delivery per chosen channel,
    and return the notifications created now (those that existed already are not sent again).
    ``course`` is None only for a test notification (``Notification.Reason.TEST``).
    """
    created = []
    for user in recipients:
        notification, is_new = Notification.objects.get_or_create(
            key=f"{key}:u{user.pk}",
            defaults={
                "recipient": user,
                "course": course,
                "flag": flag,
                "reason": reason,
                "tier": tier,
                "severity": severity,
                "title": title,
                "body": body[:1000],
                **({"created_at": now} if now else {}),
            },
        )
        if not is_new:
            continue
        created.append(notification)
        for channel in channels_for(user):
            delivery = Delivery.objects.create(notification=notification, channel=channel)
            delivery_jobs.queue(delivery)
    return created


def course_link(course: TreatmentCourse) -> str:
    return settings.SITE_URL + course.get_absolute_url()
