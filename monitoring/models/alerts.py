"""Alerts that reach a person: the on-call rota, escalation steps, notifications and their
delivery attempts, overdue-check alerts, and the job workers' heartbeats.

Written by ``monitoring.escalation`` (the ladder), ``monitoring.notify`` (notifications and
their deliveries) and ``monitoring.delivery`` (sending), never by a view or a signal.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitoring import alert_rules
from monitoring.models.courses import TreatmentCourse
from monitoring.models.grades import Flag
from monitoring.models.people import Unit

# The tiers of alert_rules.TIERS (pure, English) in the reader's language.
TIER_CHOICES = [
    (alert_rules.BEDSIDE_NURSE, _("Bedside nurse")),
    (alert_rules.CHARGE_NURSE, _("Charge nurse")),
    (alert_rules.APP_FELLOW, _("CAR-T APP / fellow")),
    (alert_rules.ATTENDING, _("Attending physician")),
]
assert [code for code, _label in TIER_CHOICES] == [code for code, _label in alert_rules.TIERS]
TIER_LABELS = dict(TIER_CHOICES)


class OnCallShiftQuerySet(models.QuerySet):
    def at(self, moment):
        """Shifts held at ``moment``: started, and not yet ended."""
        return self.filter(starts_at__lte=moment).filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=moment)
        )


class OnCallShift(models.Model):
    """Who holds a tier of a unit's escalation ladder, from when until when (open-ended while
    ``ends_at`` is blank). Several people may hold one tier at once; all of them are told."""

    unit = models.ForeignKey(Unit, models.PROTECT, related_name="on_call")
    tier = models.CharField(max_length=16, choices=TIER_CHOICES)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="on_call")
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = OnCallShiftQuerySet.as_manager()

    class Meta:
        ordering = ["unit", "tier", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="on_call_ends_after_start",
                violation_error_message=_("A shift must end after it starts."),
            ),
        ]
        indexes = [models.Index(fields=["unit", "tier", "starts_at"], name="on_call_idx")]

    def __str__(self) -> str:
        return f"{self.unit}: {self.get_tier_display()} — {self.user}"


class EscalationStep(models.Model):
    """One rung of a flag's ladder: the tier told, when, and how many people held it."""

    flag = models.ForeignKey(Flag, models.PROTECT, related_name="escalation_steps")
    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="+")
    ladder_round = models.PositiveIntegerField()
    step = models.PositiveSmallIntegerField()
    tier = models.CharField(max_length=16, choices=TIER_CHOICES)
    severity = models.PositiveSmallIntegerField(choices=Flag.Severity.choices)
    at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveSmallIntegerField(default=0)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["flag", "ladder_round", "step", "tier"], name="one_escalation_step"
            )
        ]

    def __str__(self) -> str:
        return f"{self.flag_id} round {self.ladder_round} step {self.step}: {self.tier}"


class OverdueAlert(models.Model):
    """An overdue check past the protocol's grace that was reported to the nurse in charge:
    once per course and due time (the unique key keeps two workers from telling twice)."""

    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="overdue_alerts")
    check_type = models.CharField(max_length=16)
    due_at = models.DateTimeField()
    alerted_at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-alerted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "check_type", "due_at"], name="one_overdue_alert"
            )
        ]

    def __str__(self) -> str:
        return f"{self.course_id} {self.check_type} due {self.due_at:%Y-%m-%d %H:%M}"


class Notification(models.Model):
    """A message to one person, shown in their notification centre and sent on the channels
    they chose. ``key`` makes creating it idempotent: a retried job never tells twice."""

    class Reason(models.TextChoices):
        FLAG = "flag", _("Flag")
        ESCALATION = "escalation", _("Escalation")
        OVERDUE = "overdue", _("Overdue check")
        # Asked for from the profile page, to check one's channels: about no patient.
        TEST = "test", _("Test")

    key = models.CharField(max_length=160, unique=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="notifications"
    )
    # Blank only for a test notification (Reason.TEST), which is about no patient.
    course = models.ForeignKey(
        TreatmentCourse, models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    flag = models.ForeignKey(
        Flag, models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    tier = models.CharField(max_length=16, choices=TIER_CHOICES, blank=True)
    severity = models.PositiveSmallIntegerField(choices=Flag.Severity.choices)
    # Minimum necessary (no patient name unless the protocol allows it): e-mail subjects,
    # push text and webhooks carry only this.
    title = models.CharField(max_length=200)
    # In-app only (behind a login): may name the patient.
    body = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_unread_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(course__isnull=False) | Q(reason="test"),
                name="notification_about_a_course",
                violation_error_message=_("Only a test notification is about no patient."),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Delivery(models.Model):
    """A notification sent on one channel: tried, retried with back-off, and its outcome."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        PUSH = "push", _("Web Push")
        WEBHOOK = "webhook", _("Pager gateway (webhook)")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        RETRYING = "retrying", _("Failed — retrying")
        FAILED = "failed", _("Failed")

    notification = models.ForeignKey(Notification, models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="one_delivery")
        ]
        indexes = [models.Index(fields=["status"], name="delivery_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} — {self.get_status_display()}"

    @property
    def key(self) -> str:
        """The idempotency key a receiver uses to drop a repeat (webhook header, Message-ID)."""
        return f"{self.notification.key}:{self.channel}"


class DeliveryAttempt(models.Model):
    """One try at sending: when, by which worker, and what came back."""

    delivery = models.ForeignKey(Delivery, models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    worker = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["attempted_at", "pk"]

    def __str__(self) -> str:
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {'sent' if self.ok else self.error}"


class PushSubscription(models.Model):
    """A browser a user subscribed for Web Push (from their profile page)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user}: {self.endpoint[:40]}…"


class BoardVisit(models.Model):
    """When a user last looked at the board: what is newer is marked "new" for them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, primary_key=True, related_name="board_visit"
    )
    seen_at = models.DateTimeField()
    previous_seen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id} looked at {self.seen_at:%Y-%m-%d %H:%M}"


class WorkerHeartbeat(models.Model):
    """A job worker says it is alive every few seconds; the board and /healthz read this, and
    a worker that stopped beating has its claimed job put back on the queue."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid} ({self.worker_id})"
