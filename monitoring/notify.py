"""Notifications: one per person told, stored, shown in their notification centre and sent on
the channels they chose (``monitoring.delivery`` sends them in a job worker).

Called inside the transaction of what causes it (an escalation step, an overdue-check alert):
the notifications, their deliveries and the delivery jobs are rows of that transaction, so a
rolled-back step tells no one and a committed one always does. Keys make it idempotent: a job
retried after its worker died finds the notification already there and tells nobody twice.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.functional import lazy
from django.utils.translation import gettext, pgettext

from monitoring import delivery as delivery_jobs
from monitoring.models import CheckType, Delivery, Flag, Notification, TreatmentCourse

# Titles and bodies are lazy: ``notify`` renders them once per recipient, in that person's
# language (``User.language``, else settings.LANGUAGE_CODE), and stores them as rendered.


def _where(course: TreatmentCourse) -> str:
    if not course.bed:
        return course.unit.name
    return gettext("%(unit)s, bed %(bed)s") % {"unit": course.unit.name, "bed": course.bed}


def _flag_headline(severity: int, escalated: bool) -> str:
    severity_word = str(Flag.Severity(severity).label).lower()
    if escalated:
        return gettext("%(severity)s flag not acknowledged") % {"severity": severity_word}
    return gettext("%(severity)s flag") % {"severity": severity_word}


def _overdue_headline(check_type: str) -> str:
    words = {
        CheckType.VITALS: pgettext("overdue", "vital signs"),
        CheckType.NEURO: pgettext("overdue", "neuro check"),
        CheckType.LABS: pgettext("overdue", "labs"),
        CheckType.SYMPTOMS: pgettext("overdue", "symptom review"),
    }
    return gettext("%(check)s overdue") % {"check": words.get(check_type, gettext("check"))}


def _title(course: TreatmentCourse, headline) -> str:
    text = gettext("cartmonitor: %(headline)s, %(where)s") % {
        "headline": headline,
        "where": _where(course),
    }
    if course.protocol_version and course.protocol_version.notify_patient_names:
        text += f" — {course.patient.full_name}"
    return text[:200]


def _flag_body(course: TreatmentCourse, message: str, waited: str) -> str:
    text = f"{course.patient.full_name} ({_where(course)}): {message}"
    if waited:
        text += gettext(" — unacknowledged for %(waited)s") % {"waited": waited}
    return text


def _overdue_body(course: TreatmentCourse, check_type: str, due_at, overdue_by: str) -> str:
    return f"{course.patient.full_name} ({_where(course)}): " + gettext(
        "%(check)s due %(when)s, overdue by %(by)s"
    ) % {
        "check": CheckType(check_type).label,
        "when": formats.date_format(timezone.localtime(due_at), "d M H:i"),
        "by": overdue_by,
    }


# "Ward 7, bed 3": where the patient is, without saying who (minimum necessary).
where = lazy(_where, str)
# "critical flag" / "critical flag not acknowledged".
flag_headline_text = lazy(_flag_headline, str)
# "vital signs overdue".
overdue_headline = lazy(_overdue_headline, str)
# The text that leaves the building (e-mail subject, push, pager): no patient name unless
# the course's protocol allows it — "cartmonitor: critical flag, Ward 7, bed 3".
title = lazy(_title, str)
# In-app only (behind a login): "Ann Lee (Ward 7, bed 3): … — unacknowledged for 20 min".
flag_body = lazy(_flag_body, str)
# "Ann Lee (Ward 7, bed 3): Vital signs due 03 Dec 14:00, overdue by 2 h 05 min".
overdue_body = lazy(_overdue_body, str)


def flag_headline(severity: int, *, escalated: bool):
    """ "critical flag" / "critical flag not acknowledged" (lazy)."""
    return flag_headline_text(severity, escalated)


def language_of(user) -> str:
    """The language a person's notifications are written in."""
    return getattr(user, "language", "") or settings.LANGUAGE_CODE


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
        with translation.override(language_of(user)):
            title_text, body_text = str(title), str(body)
        notification, is_new = Notification.objects.get_or_create(
            key=f"{key}:u{user.pk}",
            defaults={
                "recipient": user,
                "course": course,
                "flag": flag,
                "reason": reason,
                "tier": tier,
                "severity": severity,
                "title": title_text[:200],
                "body": body_text[:1000],
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
