"""Step-up dosing of T-cell engagers: the protocol's dose steps and a course's doses.

A protocol version's dose steps (sequence, planned day from the first dose, dose, monitoring
window, the gates before the dose) are protocol data, versioned like the schedules: a course
whose version has dose steps is "dosed", and its checks are due only inside the monitoring
window after a dose given (schedule.due_checks). The rules that read these values are
``monitoring.dose_gates`` (pure) and the write paths ``monitoring.dosing``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from monitoring.models.constraints import EARLIEST_MOMENT, LATEST_MOMENT, between, range_constraint
from monitoring.models.courses import TreatmentCourse
from monitoring.models.protocols import ProtocolVersion

# The usual step labels, as msgids: a label an admin types that matches one is shown
# translated (DoseStep.shown_label); any other label is shown as typed.
STEP_LABELS = [
    gettext_noop("Step-up dose 1"),
    gettext_noop("Step-up dose 2"),
    gettext_noop("Step-up dose 3"),
    gettext_noop("First treatment dose"),
    gettext_noop("First full dose"),
    gettext_noop("Second treatment dose"),
]
# Plausible ranges an admin may set (forms, services and the database say the same).
STEP_RANGES = {
    "sequence": (1, 20),
    "day_offset": (0, 365),
    "window_hours": (0, 14 * 24),
    "premed_lookback_hours": (0, 24),
    "crs_clear_hours": (0, 14 * 24),
    "icans_clear_hours": (0, 14 * 24),
}
RESTART_DAYS_RANGE = (1, 365)


class DoseStep(models.Model):
    """One dose of a protocol's step-up schedule and the gates before it."""

    version = models.ForeignKey(ProtocolVersion, models.CASCADE, related_name="dose_steps")
    sequence = models.PositiveSmallIntegerField(_("order"))
    label = models.CharField(_("label"), max_length=100)
    is_step_up = models.BooleanField(_("step-up dose"), default=True)
    day_offset = models.PositiveSmallIntegerField(
        _("planned day after the first dose"),
        help_text=_("0 for the first dose; the label's 'Day 4' is 3 days after day 1."),
    )
    dose_text = models.CharField(_("dose"), max_length=200)
    window_hours = models.PositiveSmallIntegerField(
        _("monitoring window after the dose (h)"),
        help_text=_(
            "Vital signs and neuro checks are due at the protocol's intervals only "
            "inside this window."
        ),
    )
    premed_lookback_hours = models.PositiveSmallIntegerField(
        _("premedication shown from (h before the dose)"), default=3
    )
    crs_clear_hours = models.PositiveSmallIntegerField(
        _("CRS resolved for at least (h) before this dose"),
        null=True,
        blank=True,
        help_text=_("Blank: no CRS gate. 0: CRS must have resolved (no grade ≥ 1 now)."),
    )
    icans_clear_hours = models.PositiveSmallIntegerField(
        _("ICANS resolved for at least (h) before this dose"), null=True, blank=True
    )
    # [{"after_days": 7, "restart_at": 1}, ...]: if this dose comes more than after_days after
    # the previous dose given, the step-up restarts at step restart_at (the longest delay that
    # is exceeded decides). dose_gates.restart_problem reads it.
    restart_rules = models.JSONField(_("restart after a delay"), default=list, blank=True)
    source = models.CharField(_("source"), max_length=300, blank=True)
    history = HistoricalRecords()

    # What an admin sets on a step (the protocol form, services.revise_protocol's copies).
    SETTINGS = [
        "sequence",
        "label",
        "is_step_up",
        "day_offset",
        "dose_text",
        "window_hours",
        "premed_lookback_hours",
        "crs_clear_hours",
        "icans_clear_hours",
        "restart_rules",
        "source",
    ]

    class Meta:
        ordering = ["version", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["version", "sequence"], name="dose_step_unique"),
            *[
                range_constraint("dose_step", name, low, high)
                for name, (low, high) in STEP_RANGES.items()
            ],
        ]

    def __str__(self) -> str:
        return f"{self.label} (day +{self.day_offset}, {self.dose_text})"

    @property
    def shown_label(self) -> str:
        """The label in the reader's language when it is one of the usual ones."""
        return gettext(self.label) if self.label in STEP_LABELS else self.label

    def settings(self) -> dict:
        return {name: getattr(self, name) for name in self.SETTINGS}


class CourseDoseQuerySet(models.QuerySet):
    def active(self):
        """Doses that count: planned, held (still to give) and given; never cancelled ones."""
        return self.exclude(status=CourseDose.Status.CANCELLED)


class CourseDose(models.Model):
    """One planned dose of a course, and what happened to it. Never deleted or edited in
    silence: a re-plan, a hold, a dose given and a restart are services (monitoring.dosing),
    each audited old → new; simple-history keeps every earlier state."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        HELD = "held", _("Held / delayed")
        GIVEN = "given", _("Given")
        CANCELLED = "cancelled", _("Cancelled (re-planned)")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="doses")
    step = models.ForeignKey(DoseStep, models.PROTECT, related_name="+")
    # 1 for the first plan; each restart of the step-up plans its doses again with the next.
    attempt = models.PositiveSmallIntegerField(default=1)
    planned_at = models.DateTimeField(_("planned at"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    given_at = models.DateTimeField(_("given at"), null=True, blank=True)
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    # A dose given while a gate was not met: the physician who overrode, why, and what the
    # gates said then (English messages, as stored text is).
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    override_reason = models.CharField(_("override reason"), max_length=500, blank=True)
    overridden_gates = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    history = HistoricalRecords()

    objects = CourseDoseQuerySet.as_manager()

    class Meta:
        ordering = ["course", "attempt", "planned_at"]
        constraints = [
            models.CheckConstraint(
                condition=between("planned_at", EARLIEST_MOMENT, LATEST_MOMENT),
                name="dose_planned_at_plausible",
            ),
            models.CheckConstraint(
                condition=between("given_at", EARLIEST_MOMENT, LATEST_MOMENT),
                name="dose_given_at_plausible",
            ),
            # Given exactly when it has a time and a giver.
            models.CheckConstraint(
                condition=(
                    models.Q(status="given", given_at__isnull=False, given_by__isnull=False)
                    | (~models.Q(status="given") & models.Q(given_at__isnull=True))
                ),
                name="dose_given_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(override_by__isnull=True) | ~models.Q(override_reason=""),
                name="dose_override_explained",
            ),
        ]
        indexes = [
            # The dosing page and the status row: a course's doses in order.
            models.Index(fields=["course", "status"], name="dose_course_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.step.label} {self.get_status_display()} ({self.planned_at:%Y-%m-%d %H:%M})"

    @property
    def moment(self):
        """When the dose was given, or else when it is planned."""
        return self.given_at or self.planned_at
