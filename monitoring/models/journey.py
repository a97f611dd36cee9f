"""A course's journey before and after day 0 (monitoring/journey.py writes these rows).

Each row is append-only: a correction is a new row that supersedes the old one (``supersedes``,
with who, when and why); the old row stays, marked ``amended``. Only ``current`` rows count.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from monitoring import journey_rules
from monitoring.models.constraints import (
    EARLIEST_DATE,
    EARLIEST_MOMENT,
    LATEST_DATE,
    LATEST_MOMENT,
    between,
)
from monitoring.models.courses import TreatmentCourse
from monitoring.models.records import CurrentRecord


class Phase(models.TextChoices):
    REFERRAL = "referral", _("Referral and evaluation")
    COLLECTION = "collection", _("Collection (leukapheresis)")
    MANUFACTURING = "manufacturing", _("Manufacturing")
    BRIDGING = "bridging", _("Bridging therapy")
    CONDITIONING = "conditioning", _("Conditioning")
    INFUSION = "infusion", _("Infusion (day 0)")
    ACUTE_MONITORING = "acute_monitoring", _("Acute monitoring")
    FOLLOW_UP = "follow_up", _("Follow-up")
    ENDED = "ended", _("Ended")


assert tuple(Phase.values) == journey_rules.PHASES  # one order, owned by journey_rules


class JourneyRecord(CurrentRecord):
    """What every journey row carries: its course, who recorded it and when, and whether a
    correction has superseded it (the correction's ``reason`` says why)."""

    supersedes = models.OneToOneField(
        "self", models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    reason = models.CharField(_("why corrected"), max_length=500, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")

    class Meta(CurrentRecord.Meta):
        abstract = True


class CoursePhase(JourneyRecord):
    """A phase before day 0 with its dates: referral, collection, manufacturing, bridging,
    conditioning (with its regimen); or the end of follow-up (``ended``, with why)."""

    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="phases")
    phase = models.CharField(max_length=20, choices=Phase.choices)
    started_on = models.DateField(_("started on"))
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    regimen = models.CharField(_("regimen"), max_length=200, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["course", "started_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "phase"],
                condition=Q(status="current"),
                name="one_current_phase_row",
            ),
            models.CheckConstraint(
                condition=between("started_on", EARLIEST_DATE, LATEST_DATE)
                & between("ended_on", EARLIEST_DATE, LATEST_DATE),
                name="phase_dates_plausible",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="phase_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["course", "status"], name="phase_course_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_phase_display()} from {self.started_on:%Y-%m-%d}"


class BaselineItem(JourneyRecord):
    """One pre-infusion baseline item taken: the ICE score, a handwriting sample (taken or
    not), the weight, or one of the labs the protocol asks for."""

    class Item(models.TextChoices):
        ICE = "ice", _("Baseline ICE score")
        HANDWRITING = "handwriting", _("Handwriting sample")
        WEIGHT = "weight", _("Weight")
        LAB = "lab", _("Pre-infusion lab")

    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="baseline_items")
    item = models.CharField(max_length=16, choices=Item.choices)
    lab = models.CharField(max_length=32, blank=True)  # a LAB_RANGES field name
    taken_at = models.DateTimeField(_("taken at"))
    ice_score = models.PositiveSmallIntegerField(_("ICE score (0–10)"), null=True, blank=True)
    weight_kg = models.DecimalField(
        _("weight (kg)"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    result = models.CharField(_("result"), max_length=100, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["course", "item", "lab"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "item", "lab"],
                condition=Q(status="current"),
                name="one_current_baseline_item",
            ),
            models.CheckConstraint(
                condition=between("taken_at", EARLIEST_MOMENT, LATEST_MOMENT),
                name="baseline_taken_plausible",
            ),
            models.CheckConstraint(
                condition=between("ice_score", 0, 10), name="baseline_ice_plausible"
            ),
            models.CheckConstraint(
                condition=between("weight_kg", 1, 350), name="baseline_weight_plausible"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_item_display()} {self.lab} at {self.taken_at:%Y-%m-%d %H:%M}"


class FollowUpVisit(JourneyRecord):
    """A follow-up visit done, or missed (the patient did not come, or the visit was not
    possible) with why; the protocol's visit days say which are due (journey.visits). A missed
    visit done later is a new row that supersedes the missed one (journey.record_visit)."""

    class Outcome(models.TextChoices):
        DONE = "done", _("done")
        MISSED = "missed", _("missed")

    course = models.ForeignKey(TreatmentCourse, models.PROTECT, related_name="follow_up_visits")
    day = models.PositiveSmallIntegerField(_("visit day (D+n)"))
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.DONE)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)  # done only
    missed_reason = models.CharField(_("why missed"), max_length=500, blank=True)  # missed only
    notes = models.CharField(_("notes"), max_length=1000, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["course", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "day"],
                condition=Q(status="current"),
                name="one_current_visit_per_day",
            ),
            models.CheckConstraint(
                condition=between("done_at", EARLIEST_MOMENT, LATEST_MOMENT),
                name="visit_done_plausible",
            ),
            models.CheckConstraint(
                condition=between("day", *journey_rules.VISIT_DAY_RANGE),
                name="visit_day_plausible",
            ),
            # A visit done says when; a missed one says why (and was not done).
            models.CheckConstraint(
                condition=Q(outcome="done", done_at__isnull=False)
                | (Q(outcome="missed", done_at__isnull=True) & ~Q(missed_reason="")),
                name="visit_done_when_or_missed_why",
            ),
        ]
        indexes = [models.Index(fields=["course", "status"], name="visit_course_status_idx")]

    def __str__(self) -> str:
        if self.outcome == self.Outcome.MISSED:
            return f"D+{self.day} visit missed: {self.missed_reason}"
        return f"D+{self.day} visit done {self.done_at:%Y-%m-%d}"

    @property
    def is_missed(self) -> bool:
        return self.outcome == self.Outcome.MISSED
