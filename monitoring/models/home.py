"""Home monitoring (issue 15 §1 and §4): who may sign in from home for a course, the invitation
that brought them, their one-time sign-in codes, and the sign-in attempts that the rate limits
count.

Nothing secret is stored: invitation links and codes, and sign-in codes, are kept only as keyed
hashes (``monitoring.home.secret_hash``), so a copy of the database opens no account. The write
paths and every rule (limits, expiry, rate limits) are ``monitoring/home.py``'s; the database
holds what it can check without a clock.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitoring.models.courses import TreatmentCourse


class HomeKind(models.TextChoices):
    PATIENT = "patient", _("Patient")
    CAREGIVER = "caregiver", _("Caregiver")


# Accounts per course that may be open at once (issue 15 §1: a patient and up to two
# caregivers). Each open access holds one numbered slot, so the database refuses a second
# patient or a third caregiver even if two acceptances race (HomeAccess's constraints).
HOME_SLOTS = {HomeKind.PATIENT: 1, HomeKind.CAREGIVER: 2}


def _slot_rule() -> Q:
    rule = Q()
    for kind, slots in HOME_SLOTS.items():
        rule |= Q(kind=kind.value, slot__gte=1, slot__lte=slots)
    return rule


class HomeInvitation(models.Model):
    """A single-use invitation to home monitoring for one person on one course: a link and a
    printed code, shown once to the care team who made it, valid until ``expires_at``."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be accepted")
        USED = "used", _("Accepted")
        EXPIRED = "expired", _("Expired")
        REVOKED = "revoked", _("Withdrawn")

    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="home_invitations")
    kind = models.CharField(_("who"), max_length=16, choices=HomeKind.choices)
    display_name = models.CharField(
        _("name the team knows them by"),
        max_length=100,
        help_text=_(
            'For example "Maria (daughter)". Shown to the team and on their own pages, '
            "never in e-mails."
        ),
    )
    email = models.EmailField(
        _("e-mail for sign-in codes"),
        blank=True,
        help_text=_("Optional. Without one, the team gives each sign-in code in person."),
    )
    # HMAC-SHA256 (keyed with SECRET_KEY) of the link's token and of the printed code.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=list(HomeKind.values)), name="home_invitation_kind_known"
            ),
            # Accepted or withdrawn, never both: an accepted invitation's access is what is
            # revoked afterwards.
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(revoked_at__isnull=True),
                name="home_invitation_used_or_revoked",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | ~Q(revoke_reason=""),
                name="home_invitation_revoke_explained",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="home_invitation_expires_after_creation",
            ),
        ]
        indexes = [
            # The home-access page: a course's invitations, newest first.
            models.Index(fields=["course", "created_at"], name="home_invite_course_idx"),
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.display_name} ({self.get_kind_display()})"

    def status_at(self, now) -> str:
        if self.used_at is not None:
            return self.Status.USED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if now >= self.expires_at:
            return self.Status.EXPIRED
        return self.Status.PENDING

    def is_pending_at(self, now) -> bool:
        return self.status_at(now) == self.Status.PENDING


class HomeAccess(models.Model):
    """One person's home sign-in for one course: made when they accept an invitation and
    consent (never before), ended at once by revocation or by the end of the course."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="home_access"
    )
    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="home_accesses")
    kind = models.CharField(_("who"), max_length=16, choices=HomeKind.choices)
    slot = models.PositiveSmallIntegerField(editable=False)
    display_name = models.CharField(_("name the team knows them by"), max_length=100)
    invitation = models.OneToOneField(
        HomeInvitation, models.PROTECT, related_name="access", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Consent to home monitoring (issue 15 §4), given before the account existed: when, which
    # text (monitoring.home.CONSENT_VERSION) and in which language it was read.
    consent_at = models.DateTimeField()
    consent_version = models.CharField(max_length=32)
    consent_language = models.CharField(max_length=8)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["course", "kind", "slot", "-created_at"]
        verbose_name_plural = "home accesses"
        constraints = [
            models.CheckConstraint(condition=_slot_rule(), name="home_access_slot_in_range"),
            # At most one open access per slot: one patient and two caregivers per course.
            models.UniqueConstraint(
                fields=["course", "kind", "slot"],
                condition=Q(revoked_at__isnull=True),
                name="home_access_one_per_slot",
                violation_error_message=_(
                    "This course already has as many home accounts of this kind as allowed."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(consent_version=""), name="home_access_consent_recorded"
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | ~Q(revoke_reason=""),
                name="home_access_revoke_explained",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.get_kind_display()}) for course {self.course_id}"

    @property
    def is_open(self) -> bool:
        """Not revoked, and the course is planned or under monitoring (reads ``course``)."""
        return self.revoked_at is None and self.course.status in TreatmentCourse.ACTIVE_STATUSES


class HomeLoginCode(models.Model):
    """A one-time sign-in code: e-mailed (6 digits, typed with the e-mail it was sent to) or
    given in person by the care team (10 characters, enough on its own). Single use, short-lived,
    and dead after too many wrong tries."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mailed")
        IN_PERSON = "in_person", _("Given by the care team")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="home_codes")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    code_hash = models.CharField(max_length=64, db_index=True, editable=False)
    # An e-mailed code is derived from this (HMAC keyed with SECRET_KEY, monitoring.home), so
    # the job that sends it needs no copy of the code: nothing holds it in clear.
    nonce = models.CharField(max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)  # e-mailed (by the job worker)
    used_at = models.DateTimeField(null=True, blank=True)
    # Replaced by a newer code, the access revoked, or too many wrong tries.
    voided_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=["email", "in_person"]), name="home_code_channel_known"
            ),
        ]
        indexes = [
            # A person's live code, and how many were e-mailed to them in the last hour.
            models.Index(fields=["user", "created_at"], name="home_code_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} sign-in code for user {self.user_id}"

    def is_live_at(self, now) -> bool:
        return self.used_at is None and self.voided_at is None and now < self.expires_at


class HomeSignInAttempt(models.Model):
    """One try at an invitation, a sign-in code or a code request, from one client address: what
    the per-address rate limit counts (monitoring.home). The audit log keeps the story; these
    rows are pruned after a day."""

    class Kind(models.TextChoices):
        INVITATION = "invitation", _("Invitation link or code")
        EMAIL_REQUEST = "email_request", _("Sign-in code requested by e-mail")
        EMAIL_CODE = "email_code", _("E-mailed sign-in code")
        IN_PERSON_CODE = "in_person_code", _("Sign-in code from the care team")

    at = models.DateTimeField(default=timezone.now)
    ip = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at"]
        indexes = [
            # The rate limit: one address's tries in the last minutes.
            models.Index(fields=["ip", "at"], name="home_attempt_ip_at_idx"),
            # The daily prune.
            models.Index(fields=["at"], name="home_attempt_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.ip} at {self.at:%Y-%m-%d %H:%M}"


class HomeCheckInDue(models.Model):
    """A home check-in that fell due with none done (issue 15 §2): the reminder e-mailed for it
    at its due time and, once the protocol's grace passed, the missed check-in flag it raised.
    One row per course and due time, so a sweep run twice, or by two workers at once, reminds
    and flags once (monitoring/home_sweep.py writes these, never a view)."""

    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="home_dues")
    due_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    # The home accesses whose reminder e-mail was handed to the mail server (ids): the e-mail
    # job marks each before sending, so a job run twice sends once.
    emailed = models.JSONField(default=list, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    flag = models.ForeignKey(
        "monitoring.Flag", models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-due_at"]
        constraints = [
            models.UniqueConstraint(fields=["course", "due_at"], name="one_home_due_per_time"),
        ]

    def __str__(self) -> str:
        return f"Home check-in due {self.due_at:%Y-%m-%d %H:%M} for course {self.course_id}"
